//! Listing: delimiters and pagination.

use crate::common::raw::percent_decode;
use crate::common::{xml_child_texts, xml_text, TestServer};

use super::setup;

pub(super) fn listing_delimiters_and_pagination(s: &TestServer) {
    let b = setup(s, "listing");
    let c = s.raw();
    let mut keys = vec![
        "a/1", "a/2", "a/b/3", "b", "c/1", "c/2", "d", "e::x::1", "e::x::2", "e::y",
    ];
    for k in &keys {
        c.put_object(&b, k, k.as_bytes());
    }
    keys.sort();
    let list = |q: &[(&str, &str)]| {
        let mut r = c.get(&format!("/{b}"));
        for (k, v) in q {
            r = r.query(k, v);
        }
        r.send().ok().text()
    };
    // v1, delimiter "/".
    let t = list(&[("delimiter", "/")]);
    assert_eq!(
        xml_child_texts(&t, "Contents", "Key"),
        vec!["b", "d", "e::x::1", "e::x::2", "e::y"]
    );
    assert_eq!(
        xml_child_texts(&t, "CommonPrefixes", "Prefix"),
        vec!["a/", "c/"]
    );
    // A delimiter longer than one character.
    let t = list(&[("delimiter", "::"), ("prefix", "e::")]);
    assert_eq!(xml_child_texts(&t, "Contents", "Key"), vec!["e::y"]);
    assert_eq!(
        xml_child_texts(&t, "CommonPrefixes", "Prefix"),
        vec!["e::x::"]
    );
    // Prefix and delimiter.
    let t = list(&[("prefix", "a/"), ("delimiter", "/")]);
    assert_eq!(xml_child_texts(&t, "Contents", "Key"), vec!["a/1", "a/2"]);
    assert_eq!(
        xml_child_texts(&t, "CommonPrefixes", "Prefix"),
        vec!["a/b/"]
    );

    // v1 paging with max-keys and NextMarker (given when a delimiter is used) / last key.
    for max in 1..=4 {
        let mut seen = Vec::new();
        let mut marker = String::new();
        for _ in 0..50 {
            let t = list(&[
                ("max-keys", &max.to_string()),
                ("marker", &marker),
                ("delimiter", "/"),
            ]);
            let page_keys = xml_child_texts(&t, "Contents", "Key");
            let page_prefixes = xml_child_texts(&t, "CommonPrefixes", "Prefix");
            assert!(
                page_keys.len() + page_prefixes.len() <= max,
                "page too big: {t}"
            );
            seen.extend(page_keys);
            seen.extend(page_prefixes);
            if xml_text(&t, "IsTruncated").as_deref() == Some("true") {
                marker = xml_text(&t, "NextMarker").expect("NextMarker with a delimiter");
            } else {
                break;
            }
        }
        seen.sort();
        assert_eq!(
            seen,
            vec!["a/", "b", "c/", "d", "e::x::1", "e::x::2", "e::y"],
            "max-keys={max}"
        );
    }
    // v2 paging with continuation tokens and start-after.
    for max in [1usize, 2, 3, 7, 10, 11] {
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..50 {
            let mut q = vec![
                ("list-type", "2".to_string()),
                ("max-keys", max.to_string()),
            ];
            if let Some(t) = &token {
                q.push(("continuation-token", t.clone()));
            }
            let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let t = list(&q);
            let page = xml_child_texts(&t, "Contents", "Key");
            assert!(page.len() <= max);
            assert_eq!(xml_text(&t, "KeyCount"), Some(page.len().to_string()));
            seen.extend(page);
            if xml_text(&t, "IsTruncated").as_deref() == Some("true") {
                token = Some(xml_text(&t, "NextContinuationToken").expect("token"));
            } else {
                break;
            }
        }
        let want: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        assert_eq!(seen, want, "v2 max-keys={max}");
    }
    let t = list(&[("list-type", "2"), ("start-after", "c/1")]);
    assert_eq!(
        xml_child_texts(&t, "Contents", "Key"),
        vec!["c/2", "d", "e::x::1", "e::x::2", "e::y"]
    );
    // max-keys over 1000 is clamped, not an error; 0 returns nothing.
    let t = list(&[("list-type", "2"), ("max-keys", "5000")]);
    assert_eq!(xml_child_texts(&t, "Contents", "Key").len(), keys.len());
    // v2 uses the v2 elements.
    assert!(
        xml_text(&t, "KeyCount").is_some(),
        "ListObjectsV2 answered as v1: {t}"
    );
    // encoding-type=url on a delimiter listing.
    let t = list(&[
        ("list-type", "2"),
        ("delimiter", "/"),
        ("encoding-type", "url"),
    ]);
    assert_eq!(xml_text(&t, "EncodingType").as_deref(), Some("url"));
    let decoded: Vec<String> = xml_child_texts(&t, "CommonPrefixes", "Prefix")
        .iter()
        .map(|p| String::from_utf8(percent_decode(p)).unwrap())
        .collect();
    assert_eq!(decoded, vec!["a/", "c/"]);
}
