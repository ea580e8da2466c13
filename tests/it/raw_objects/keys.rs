//! Object keys: odd names round-trip exactly, the length limit, no escape from the store.

use crate::common::raw::obj_path;
use crate::common::{etag_of, unique_bucket, xml_child_texts, TestServer};

use super::setup;

pub(super) fn odd_keys_round_trip_exactly(s: &TestServer) {
    let b = setup(s, "odd-keys");
    let c = s.raw();
    let long = "k".repeat(1024);
    let keys: Vec<String> = [
        "../x",
        "a//b",
        "a/",
        " sp ace",
        "+plus",
        "%25",
        "100%",
        "ünï/cödé/☃/𝄞",
        "q?x=1&y=2#frag",
        "semi;colon,comma=eq",
        "tab\there",
        "./dot",
        "~tilde*star'quote\"(paren)",
        "<xml>&amp;",
        long.as_str(),
    ]
    .iter()
    .map(|k| k.to_string())
    .collect();
    for (i, k) in keys.iter().enumerate() {
        let data = format!("content of key #{i}: {k}").into_bytes();
        let r = c.put_object(&b, k, &data);
        assert_eq!(r.header("etag"), Some(etag_of(&data).as_str()), "key {k:?}");
    }
    for (i, k) in keys.iter().enumerate() {
        let data = format!("content of key #{i}: {k}").into_bytes();
        assert_eq!(c.get_object(&b, k), data, "GET of key {k:?}");
        c.head(&obj_path(&b, k)).send().ok();
    }
    let mut listed = c.list_keys(&b, "");
    listed.sort();
    let mut expected = keys.clone();
    expected.sort();
    assert_eq!(listed, expected, "ListObjectsV2 keys");

    // ListObjects v1 with encoding-type=url gives the same keys once decoded.
    let text = c
        .get(&format!("/{b}"))
        .query("encoding-type", "url")
        .send()
        .ok()
        .text();
    let mut decoded: Vec<String> = xml_child_texts(&text, "Contents", "Key")
        .iter()
        .map(|k| {
            String::from_utf8(crate::common::raw::percent_decode(&k.replace('+', "%20")))
                .expect("utf-8 key")
        })
        .collect();
    decoded.sort();
    assert_eq!(decoded, expected, "url-encoded listing");

    // Deleting keys by their odd names removes exactly them.
    for k in &keys {
        c.delete(&obj_path(&b, k)).send().status(204);
    }
    assert!(c.list_keys(&b, "").is_empty());
}

pub(super) fn key_length_limit(s: &TestServer) {
    let b = setup(s, "key-length");
    let c = s.raw();
    let ok = "é".repeat(512); // 1024 bytes of UTF-8
    assert_eq!(ok.len(), 1024);
    c.put_object(&b, &ok, b"max");
    assert_eq!(c.get_object(&b, &ok), b"max");
    let too_long = "x".repeat(1025);
    c.put(&obj_path(&b, &too_long))
        .body("no")
        .send()
        .assert_error(400, "KeyTooLongError");
    assert_eq!(c.list_keys(&b, ""), vec![ok]);
}

pub(super) fn keys_cannot_escape_the_store(s: &TestServer) {
    let b = setup(s, "escape");
    let c = s.raw();
    // Keys that look like paths out of a directory are just keys, and a
    // traversal does not reach another bucket.
    let other = unique_bucket("escape-other");
    c.create_bucket(&other);
    c.put_object(&other, "secret", b"other bucket's data");
    for k in ["../../etc/passwd", "../".repeat(12).as_str(), "/abs"] {
        c.put_object(&b, k, k.as_bytes());
        assert_eq!(c.get_object(&b, k), k.as_bytes());
    }
    let r = c.get(&obj_path(&b, &format!("../{other}/secret"))).send();
    assert_ne!(
        r.body, b"other bucket's data",
        "traversal reached another bucket"
    );
    r.assert_error(404, "NoSuchKey");
    assert_eq!(c.get_object(&other, "secret"), b"other bucket's data");
}
