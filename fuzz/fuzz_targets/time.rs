//! HTTP and S3 dates (src/time.rs): Date, x-amz-date, If-(Un)Modified-Since and the POST
//! policy expiration all reach these parsers from the network.
//!
//! Checks: what parses formats back and parses to the same time (the formats are each
//! other's inverse to the second; iso8601 to the millisecond).
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use libres3::time::{amz_date, http_date, iso8601, parse_amz_date, parse_http_date, parse_iso8601};

fn whole_seconds(t: SystemTime) -> SystemTime {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => UNIX_EPOCH + Duration::from_secs(d.as_secs()),
        Err(_) => t,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for parsed in [
        parse_http_date(text),
        parse_amz_date(text),
        parse_iso8601(text),
    ]
    .into_iter()
    .flatten()
    {
        if parsed < UNIX_EPOCH {
            continue; // the formats print years 0000-9999 only; before 1970 is not sent
        }
        let t = whole_seconds(parsed);
        let year_fits = http_date(t).split(' ').nth(3).is_some_and(|y| y.len() == 4);
        if !year_fits {
            continue;
        }
        assert_eq!(parse_http_date(&http_date(t)), Some(t), "{text:?}");
        assert_eq!(parse_amz_date(&amz_date(t)), Some(t), "{text:?}");
        assert_eq!(parse_iso8601(&iso8601(t)), Some(t), "{text:?}");
    }
});
