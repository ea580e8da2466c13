//! When a rule expires an object: S3 adds the rule's days to the object's last-modified time
//! and rounds up to the next midnight UTC. With a shortened day (`lifecycle_day_seconds`, for
//! tests) "midnight" is the next multiple of the day length since the epoch, which for 86400
//! seconds is midnight UTC.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::config::{Expiration, Lifecycle, Rule};
use crate::s3::tagging::TagSet;

/// `t` rounded up to the next start of a day of length `day`; None when that is past what
/// the clock can represent.
pub fn round_up_to_day(t: SystemTime, day: Duration) -> Option<SystemTime> {
    let day = day.as_secs().max(1);
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let whole = since.as_secs();
    let exact = whole % day == 0 && since.subsec_nanos() == 0;
    let days = whole / day + u64::from(!exact);
    UNIX_EPOCH.checked_add(Duration::from_secs(days.checked_mul(day)?))
}

/// `days` days of length `day` after `start`, rounded up to the next start of a day; None
/// (never) when that is past what the clock can represent.
pub fn days_after(start: SystemTime, days: u32, day: Duration) -> Option<SystemTime> {
    let span = day.checked_mul(days)?;
    round_up_to_day(start.checked_add(span)?, day)
}

/// When `rule` (enabled or not) expires a current object last modified at `modified`.
fn rule_expiry(rule: &Rule, modified: SystemTime, day: Duration) -> Option<SystemTime> {
    match rule.expiration.as_ref()? {
        Expiration::Days(days) => days_after(modified, *days, day),
        Expiration::Date(date) => Some(*date),
        Expiration::ExpiredObjectDeleteMarker(_) => None,
    }
}

/// The earliest expiry the enabled rules give an object, and the rule that gives it.
pub fn object_expiry<'a>(
    lifecycle: &'a Lifecycle,
    key: &str,
    size: u64,
    tags: &TagSet,
    modified: SystemTime,
    day: Duration,
) -> Option<(SystemTime, &'a str)> {
    lifecycle
        .rules
        .iter()
        .filter(|rule| rule.enabled && rule.filter.matches(key, size, tags))
        .filter_map(|rule| Some((rule_expiry(rule, modified, day)?, rule.id.as_str())))
        .min_by_key(|(when, _)| *when)
}

/// The value of `x-amz-expiration`.
pub fn expiration_header(expiry: SystemTime, rule_id: &str) -> String {
    format!(
        "expiry-date=\"{}\", rule-id=\"{}\"",
        crate::time::http_date(expiry),
        rule_id.replace('\\', "\\\\").replace('"', "\\\"")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::lifecycle::config::parse_xml;

    const DAY: Duration = Duration::from_secs(86_400);

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn days_round_up_to_the_next_midnight() {
        // 2012-01-01T10:30:00Z + 3 days -> 2012-01-05T00:00:00Z.
        let modified = at(1_325_413_800);
        assert_eq!(days_after(modified, 3, DAY), Some(at(1_325_721_600)));
        // Exactly midnight stays.
        assert_eq!(
            days_after(at(1_325_376_000), 1, DAY),
            Some(at(1_325_462_400))
        );
        // A two-second day.
        assert_eq!(days_after(at(11), 1, Duration::from_secs(2)), Some(at(14)));
        // Past what the clock holds: never, not at once.
        let far = UNIX_EPOCH + Duration::from_secs(i64::MAX as u64 - 1000);
        assert_eq!(days_after(far, 1, DAY), None);
    }

    #[test]
    fn the_earliest_enabled_matching_rule_wins() {
        let lifecycle = parse_xml(
            b"<LifecycleConfiguration>\
              <Rule><ID>late</ID><Filter/><Status>Enabled</Status><Expiration><Days>10</Days></Expiration></Rule>\
              <Rule><ID>off</ID><Filter/><Status>Disabled</Status><Expiration><Days>1</Days></Expiration></Rule>\
              <Rule><ID>logs</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>2</Days></Expiration></Rule>\
              <Rule><ID>tagged</ID><Filter><Tag><Key>t</Key><Value>1</Value></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>\
              </LifecycleConfiguration>",
        )
        .unwrap();
        let expiry = |key: &str, tags: &TagSet| {
            object_expiry(&lifecycle, key, 5, tags, at(0), DAY).map(|(t, id)| (t, id.to_string()))
        };
        assert_eq!(expiry("a", &vec![]), Some((at(10 * 86_400), "late".into())));
        assert_eq!(
            expiry("logs/x", &vec![]),
            Some((at(2 * 86_400), "logs".into()))
        );
        let tags = vec![("t".to_string(), "1".to_string())];
        assert_eq!(expiry("logs/x", &tags), Some((at(86_400), "tagged".into())));
        assert_eq!(
            expiration_header(at(86_400), "a\"b"),
            "expiry-date=\"Fri, 02 Jan 1970 00:00:00 GMT\", rule-id=\"a\\\"b\""
        );
    }
}
