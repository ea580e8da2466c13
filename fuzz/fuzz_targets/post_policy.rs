//! The POST policy document (src/s3/post_policy.rs): JSON, then checked against form fields
//! and a size. Input: the policy JSON, then after a NUL byte `name=value` lines as fields
//! and the file size.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use libres3::s3::post_policy::PostPolicy;

fuzz_target!(|data: &[u8]| {
    let (json, rest) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(policy) = PostPolicy::parse(json) else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let fields: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
        .collect();
    let now = UNIX_EPOCH + Duration::from_secs(1_369_353_600);
    let _ = policy.check_fields(&fields, now);
    for size in [0, 1, rest.len() as u64, 5 << 30, u64::MAX] {
        let _ = policy.check_size(size);
    }
});
