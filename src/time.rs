//! Date formats of HTTP and S3.
//!
//! Pure conversions between `SystemTime` and the text forms S3 clients send and expect,
//! written on the proleptic Gregorian calendar in UTC (no leap seconds, as in Unix time).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECONDS_PER_DAY: i64 = 86_400;
const SHORT_WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const LONG_WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 1123, the preferred HTTP form).
pub fn http_date(t: SystemTime) -> String {
    let c = Civil::from_system_time(t);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        SHORT_WEEKDAYS[c.weekday()],
        c.day,
        MONTHS[(c.month - 1) as usize],
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

/// Parses the three HTTP-date forms (RFC 1123, RFC 850, asctime). Besides `GMT`, the zone may
/// be `UTC`, `UT`, `Z` or numeric (`+0000`, `-0130`), which SigV2 clients send.
pub fn parse_http_date(s: &str) -> Option<SystemTime> {
    let tokens: Vec<&str> = s.split_ascii_whitespace().collect();
    let (civil, offset) = match tokens.as_slice() {
        // Sun, 06 Nov 1994 08:49:37 GMT
        [weekday, day, month, year, time, zone] => {
            parse_weekday(weekday.strip_suffix(',')?)?;
            let (hour, minute, second) = parse_clock(time)?;
            let civil = Civil::new(
                parse_year4(year)?,
                parse_month(month)?,
                parse_day(day)?,
                hour,
                minute,
                second,
            )?;
            (civil, parse_zone(zone)?)
        }
        // Sunday, 06-Nov-94 08:49:37 GMT
        [weekday, date, time, zone] => {
            parse_weekday(weekday.strip_suffix(',')?)?;
            let mut parts = date.split('-');
            let day = parse_day(parts.next()?)?;
            let month = parse_month(parts.next()?)?;
            let year = parts.next()?;
            if parts.next().is_some() {
                return None;
            }
            let year = match year.len() {
                // Two-digit years: 70-99 are 19xx, 00-69 are 20xx (a fixed pivot keeps this pure).
                2 => {
                    let yy = i64::from(parse_digits(year)?);
                    if yy >= 70 {
                        1900 + yy
                    } else {
                        2000 + yy
                    }
                }
                _ => parse_year4(year)?,
            };
            let (hour, minute, second) = parse_clock(time)?;
            let civil = Civil::new(year, month, day, hour, minute, second)?;
            (civil, parse_zone(zone)?)
        }
        // Sun Nov  6 08:49:37 1994
        [weekday, month, day, time, year] => {
            parse_weekday(weekday)?;
            let (hour, minute, second) = parse_clock(time)?;
            let civil = Civil::new(
                parse_year4(year)?,
                parse_month(month)?,
                parse_day(day)?,
                hour,
                minute,
                second,
            )?;
            (civil, 0)
        }
        _ => return None,
    };
    from_unix(civil.unix_seconds() - offset, 0)
}

/// `2009-10-12T17:50:30.000Z` (millisecond precision, as S3 XML documents carry it).
pub fn iso8601(t: SystemTime) -> String {
    let c = Civil::from_system_time(t);
    let (_, nanos) = to_unix(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        nanos / 1_000_000
    )
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z`.
pub fn parse_iso8601(s: &str) -> Option<SystemTime> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let (clock, fraction) = match time.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (time, None),
    };
    let mut date_parts = date.split('-');
    let year = parse_year4(date_parts.next()?)?;
    let month = parse_fixed_digits(date_parts.next()?, 2)?;
    let day = parse_fixed_digits(date_parts.next()?, 2)?;
    if date_parts.next().is_some() {
        return None;
    }
    let (hour, minute, second) = parse_clock(clock)?;
    let nanos = match fraction {
        None => 0,
        Some(f) if (1..=9).contains(&f.len()) => {
            let value = parse_digits(f)?;
            value * 10u32.pow(9 - f.len() as u32)
        }
        Some(_) => return None,
    };
    let civil = Civil::new(year, month, day, hour, minute, second)?;
    from_unix(civil.unix_seconds(), nanos)
}

/// `20130524T000000Z` (ISO 8601 basic format, as SigV4 uses it).
pub fn amz_date(t: SystemTime) -> String {
    let c = Civil::from_system_time(t);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// Parses `YYYYMMDDTHHMMSSZ` exactly.
pub fn parse_amz_date(s: &str) -> Option<SystemTime> {
    if s.len() != 16 || !s.is_ascii() || &s[8..9] != "T" || &s[15..] != "Z" {
        return None;
    }
    let civil = Civil::new(
        i64::from(parse_fixed_digits(&s[0..4], 4)?),
        parse_fixed_digits(&s[4..6], 2)?,
        parse_fixed_digits(&s[6..8], 2)?,
        parse_fixed_digits(&s[9..11], 2)?,
        parse_fixed_digits(&s[11..13], 2)?,
        parse_fixed_digits(&s[13..15], 2)?,
    )?;
    from_unix(civil.unix_seconds(), 0)
}

/// A validated calendar date and time of day in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl Civil {
    fn new(year: i64, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> Option<Civil> {
        let valid = (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && hour <= 23
            && minute <= 59
            && second <= 60; // a leap second is legal in HTTP dates; it counts as the next second
        valid.then_some(Civil {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
    }

    fn from_system_time(t: SystemTime) -> Civil {
        let (secs, _) = to_unix(t);
        let days = secs.div_euclid(SECONDS_PER_DAY);
        let in_day = secs.rem_euclid(SECONDS_PER_DAY) as u32;
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: in_day / 3600,
            minute: in_day / 60 % 60,
            second: in_day % 60,
        }
    }

    fn unix_seconds(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * SECONDS_PER_DAY
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// 0 = Sunday.
    fn weekday(&self) -> usize {
        // 1970-01-01 was a Thursday.
        (days_from_civil(self.year, self.month, self.day) + 4).rem_euclid(7) as usize
    }
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a Gregorian date. Counts in 400-year eras of 146097 days, with
/// years starting on March 1st so that the leap day falls at the end of a year.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719468 days separate 0000-03-01 (day 0 of era 0) from 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = ((month_from_march + 2) % 12 + 1) as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Seconds (floored) and nanoseconds since the Unix epoch; negative before 1970.
fn to_unix(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        Err(before) => {
            let d = before.duration();
            let secs = -i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            match d.subsec_nanos() {
                0 => (secs, 0),
                n => (secs - 1, 1_000_000_000 - n),
            }
        }
    }
}

fn from_unix(secs: i64, nanos: u32) -> Option<SystemTime> {
    let base = if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(secs.unsigned_abs()))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))
    }?;
    base.checked_add(Duration::from_nanos(u64::from(nanos)))
}

/// A non-empty run of ASCII digits (at most 9, so it fits).
fn parse_digits(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_fixed_digits(s: &str, len: usize) -> Option<u32> {
    if s.len() != len {
        return None;
    }
    parse_digits(s)
}

fn parse_year4(s: &str) -> Option<i64> {
    parse_fixed_digits(s, 4).map(i64::from)
}

/// One or two digits: asctime pads single-digit days with a space, not a zero.
fn parse_day(s: &str) -> Option<u32> {
    if s.len() > 2 {
        return None;
    }
    parse_digits(s)
}

fn parse_month(s: &str) -> Option<u32> {
    MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(s))
        .map(|i| i as u32 + 1)
}

fn parse_weekday(s: &str) -> Option<()> {
    let known = SHORT_WEEKDAYS
        .iter()
        .chain(LONG_WEEKDAYS.iter())
        .any(|w| w.eq_ignore_ascii_case(s));
    known.then_some(())
}

/// `HH:MM:SS`.
fn parse_clock(s: &str) -> Option<(u32, u32, u32)> {
    let mut parts = s.split(':');
    let hour = parse_fixed_digits(parts.next()?, 2)?;
    let minute = parse_fixed_digits(parts.next()?, 2)?;
    let second = parse_fixed_digits(parts.next()?, 2)?;
    if parts.next().is_some() {
        return None;
    }
    Some((hour, minute, second))
}

/// The zone's offset east of UTC, in seconds.
fn parse_zone(s: &str) -> Option<i64> {
    if ["GMT", "UTC", "UT", "Z"]
        .iter()
        .any(|z| z.eq_ignore_ascii_case(s))
    {
        return Some(0);
    }
    let (sign, digits) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let hhmm = parse_fixed_digits(digits, 4)?;
    let (hours, minutes) = (hhmm / 100, hhmm % 100);
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * i64::from(hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    // 1994-11-06T08:49:37Z, the example date of RFC 9110.
    const RFC_EXAMPLE: u64 = 784_111_777;

    #[test]
    fn formats_http_dates() {
        assert_eq!(http_date(at(RFC_EXAMPLE)), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            http_date(at(1_369_353_600)),
            "Fri, 24 May 2013 00:00:00 GMT"
        );
    }

    #[test]
    fn parses_the_three_http_date_forms() {
        let expected = Some(at(RFC_EXAMPLE));
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), expected);
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), expected);
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), expected);
        assert_eq!(parse_http_date("Sun Nov 6 08:49:37 1994"), expected);
    }

    #[test]
    fn parses_numeric_zones() {
        // The SigV2 examples of the S3 documentation.
        let t = parse_http_date("Tue, 27 Mar 2007 19:36:42 +0000");
        assert_eq!(t, parse_http_date("Tue, 27 Mar 2007 19:36:42 GMT"));
        assert_eq!(t.map(iso8601).as_deref(), Some("2007-03-27T19:36:42.000Z"));
        assert_eq!(
            parse_http_date("Tue, 27 Mar 2007 21:36:42 +0200"),
            parse_http_date("Tue, 27 Mar 2007 19:36:42 GMT")
        );
        assert_eq!(
            parse_http_date("Tue, 27 Mar 2007 18:06:42 -0130"),
            parse_http_date("Tue, 27 Mar 2007 19:36:42 GMT")
        );
    }

    #[test]
    fn rejects_bad_http_dates() {
        for bad in [
            "",
            "Sun, 06 Nov 1994 08:49:37",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 +24000",
            "Sunday, 06-Nov-94-1 08:49:37 GMT",
            "20130524T000000Z",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn two_digit_years_pivot_at_70() {
        let y2k = parse_http_date("Saturday, 01-Jan-00 00:00:00 GMT");
        assert_eq!(
            y2k.map(iso8601).as_deref(),
            Some("2000-01-01T00:00:00.000Z")
        );
        let old = parse_http_date("Thursday, 01-Jan-70 00:00:00 GMT");
        assert_eq!(old, Some(UNIX_EPOCH));
    }

    #[test]
    fn iso8601_round_trip() {
        let t = at(1_255_369_830) + Duration::from_millis(123);
        assert_eq!(iso8601(t), "2009-10-12T17:50:30.123Z");
        assert_eq!(parse_iso8601("2009-10-12T17:50:30.123Z"), Some(t));
        assert_eq!(
            parse_iso8601("2009-10-12T17:50:30Z"),
            Some(at(1_255_369_830))
        );
        assert_eq!(
            parse_iso8601("2009-10-12T17:50:30.000000001Z"),
            Some(at(1_255_369_830) + Duration::from_nanos(1))
        );
        assert_eq!(iso8601(at(1_255_369_830)), "2009-10-12T17:50:30.000Z");
        for bad in [
            "2009-10-12T17:50:30",
            "2009-10-12 17:50:30Z",
            "2009-13-12T17:50:30Z",
            "2009-10-12T17:50:30.Z",
            "2009-10-12T17:50:30.1234567890Z",
            "09-10-12T17:50:30Z",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn amz_date_round_trip() {
        let t = at(1_369_353_600);
        assert_eq!(amz_date(t), "20130524T000000Z");
        assert_eq!(parse_amz_date("20130524T000000Z"), Some(t));
        for bad in [
            "20130524T000000",
            "20130524 000000Z",
            "20130532T000000Z",
            "2013052T0000000Z",
            "20130524T006000Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn civil_days_round_trip_over_centuries() {
        // Every day from 1600 to 2400 crosses all the leap-year rules.
        let start = days_from_civil(1600, 1, 1);
        let end = days_from_civil(2400, 12, 31);
        let mut expected = (1600, 1, 1);
        for days in start..=end {
            assert_eq!(civil_from_days(days), expected);
            let (y, m, d) = expected;
            expected = if d < days_in_month(y, m) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn leap_days() {
        assert!(parse_amz_date("20000229T000000Z").is_some());
        assert!(parse_amz_date("19000229T000000Z").is_none());
        assert!(parse_amz_date("20240229T235959Z").is_some());
    }

    #[test]
    fn times_before_the_epoch() {
        let t = UNIX_EPOCH - Duration::from_millis(1500);
        assert_eq!(iso8601(t), "1969-12-31T23:59:58.500Z");
        assert_eq!(parse_iso8601("1969-12-31T23:59:58.500Z"), Some(t));
    }
}
