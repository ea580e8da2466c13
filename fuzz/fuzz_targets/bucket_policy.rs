//! Bucket policies (src/s3/policy.rs): the JSON document, then anonymous decisions. Input:
//! the policy, then after a NUL byte an action line and a resource line.
//!
//! `wildcard_match`, which every anonymous request runs against every statement, is
//! compared with a plain dynamic-programming matcher written here.
#![no_main]

use libfuzzer_sys::fuzz_target;
use libres3::s3::policy::{wildcard_match, Policy};

fuzz_target!(|data: &[u8]| {
    let (document, rest) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let rest = String::from_utf8_lossy(rest);
    let mut lines = rest.lines();
    let action = lines.next().unwrap_or("s3:GetObject");
    let resource = lines.next().unwrap_or("arn:aws:s3:::bkt/key");
    if let Ok(document) = std::str::from_utf8(document) {
        if let Ok(policy) = Policy::parse(document, "bkt") {
            let _ = policy.decide_anonymous(action, resource);
            let _ = policy.decide_anonymous(action, &format!("arn:aws:s3:::bkt/{resource}"));
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
