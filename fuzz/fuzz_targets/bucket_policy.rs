//! Bucket policies (src/s3/policy/): the JSON document, then decisions for an anonymous and a
//! signed requester. Input: the policy, then after a NUL byte an action line, a resource
//! line, and `key=value` lines that become condition values (a few fixed ones are always set,
//! so that documents written with the usual keys reach the operators).
//!
//! `wildcard_match`, which every request runs against every statement, is compared with a
//! plain dynamic-programming matcher written here.
#![no_main]

use libfuzzer_sys::fuzz_target;
use libres3::s3::policy::{wildcard_match, ConditionValues, Policy, PolicyRequest, Requester};

fuzz_target!(|data: &[u8]| {
    let (document, rest) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let rest = String::from_utf8_lossy(rest);
    let mut lines = rest.lines();
    let action = lines.next().unwrap_or("s3:GetObject");
    let resource = lines.next().unwrap_or("arn:aws:s3:::bkt/key");
    let mut conditions = ConditionValues::default();
    for (key, value) in [
        ("aws:SourceIp", "192.0.2.7"),
        ("aws:SecureTransport", "false"),
        ("aws:CurrentTime", "2026-06-01T12:00:00Z"),
        ("s3:max-keys", "1000"),
        ("s3:RequestObjectTagKeys", "Owner"),
    ] {
        conditions.set(key, vec![value.to_string()]);
    }
    for line in lines {
        if let Some((key, value)) = line.split_once('=') {
            conditions.set(key, value.split(',').map(str::to_string).collect());
        }
    }
    if let Ok(document) = std::str::from_utf8(document) {
        if let Ok(policy) = Policy::parse(document, "bkt") {
            let _ = policy.is_public();
            let _ = policy.reads_key("s3:ExistingObjectTag");
            let user = Requester::User {
                name: "alice",
                canonical_id: "2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90",
            };
            let object = format!("arn:aws:s3:::bkt/{resource}");
            for requester in [Requester::Anonymous, user] {
                for resource in [resource, object.as_str()] {
                    let _ = policy.evaluate(&PolicyRequest {
                        requester,
                        action,
                        resource,
                        conditions: &conditions,
                    });
                }
            }
        }
    }
    assert_eq!(
        wildcard_match(action, resource),
        reference_match(action, resource),
        "{action:?} against {resource:?}"
    );
});

/// `*` any run, `?` any one character: the textbook table over characters.
fn reference_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // row[j]: pattern[..i] matches text[..j]
    let mut row = vec![false; t.len() + 1];
    row[0] = true;
    for &pc in &p {
        let mut next = vec![false; t.len() + 1];
        next[0] = row[0] && pc == '*';
        for j in 1..=t.len() {
            next[j] = match pc {
                '*' => row[j] || next[j - 1],
                '?' => row[j - 1],
                c => row[j - 1] && c == t[j - 1],
            };
        }
        row = next;
    }
    row[t.len()]
}
