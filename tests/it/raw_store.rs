//! Store semantics seen through the API: concurrent writers and readers,
//! deduplicated content, operations we must not silently half-do.

use std::sync::Arc;
use std::thread;

use crate::common::raw::obj_path;
use crate::common::{
    etag_of, md5_hex, test_data, unique_bucket, xml_child_texts, xml_text, TestServer,
};

fn setup(test: &str) -> (&'static TestServer, String) {
    let s = TestServer::shared();
    let b = unique_bucket(test);
    s.raw().create_bucket(&b);
    (s, b)
}

#[test]
fn concurrent_writers_leave_one_whole_version() {
    let (s, b) = setup("writers");
    let versions: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..6)
            .map(|i| test_data(700_000 + i * 1000, 60 + i as u64))
            .collect(),
    );
    let handles: Vec<_> = (0..versions.len())
        .map(|i| {
            let c = s.raw();
            let b = b.clone();
            let versions = Arc::clone(&versions);
            thread::spawn(move || {
                for _ in 0..3 {
                    c.put_object(&b, "contended", &versions[i]);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("writer thread");
    }
    let r = s.raw().get(&obj_path(&b, "contended")).send().ok();
    let winner = versions
        .iter()
        .position(|v| *v == r.body)
        .unwrap_or_else(|| {
            panic!(
                "the object is none of the versions written ({} bytes, md5 {})",
                r.body.len(),
                md5_hex(&r.body)
            )
        });
    assert_eq!(r.header("etag"), Some(etag_of(&versions[winner]).as_str()));
    assert_eq!(s.raw().list_keys(&b, ""), vec!["contended"]);
}

#[test]
fn readers_see_old_or_new_never_a_mix() {
    let (s, b) = setup("readers");
    let old = Arc::new(test_data(1_500_000, 70));
    let new = Arc::new(test_data(1_200_000, 71));
    s.raw().put_object(&b, "flip", &old);
    let writer = {
        let c = s.raw();
        let (b, old, new) = (b.clone(), Arc::clone(&old), Arc::clone(&new));
        thread::spawn(move || {
            for i in 0..12 {
                c.put_object(&b, "flip", if i % 2 == 0 { &new } else { &old });
            }
        })
    };
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let c = s.raw();
            let (b, old, new) = (b.clone(), Arc::clone(&old), Arc::clone(&new));
            thread::spawn(move || {
                for _ in 0..15 {
                    let r = c.get(&obj_path(&b, "flip")).send().ok();
                    let etag = r.header("etag").unwrap_or("").to_string();
                    if r.body == *old {
                        assert_eq!(etag, etag_of(&old), "old body with another ETag");
                    } else if r.body == *new {
                        assert_eq!(etag, etag_of(&new), "new body with another ETag");
                    } else {
                        panic!(
                            "a reader saw a mix: {} bytes, md5 {}",
                            r.body.len(),
                            md5_hex(&r.body)
                        );
                    }
                }
            })
        })
        .collect();
    writer.join().expect("writer");
    for r in readers {
        r.join().expect("reader");
    }
    assert_eq!(s.raw().get_object(&b, "flip"), *old);
}

#[test]
fn identical_content_is_independent_per_key() {
    let (s, b) = setup("dedup");
    let c = s.raw();
    let data = test_data(2_000_000, 80);
    for k in ["one", "two", "three"] {
        c.put_object(&b, k, &data);
    }
    let other = unique_bucket("dedup-other");
    c.create_bucket(&other);
    c.put_object(&other, "four", &data);
    // Removing or overwriting some copies leaves the others whole.
    c.delete(&obj_path(&b, "one")).send().status(204);
    c.put_object(&b, "two", b"replaced");
    assert_eq!(c.get_object(&b, "three"), data);
    assert_eq!(c.get_object(&other, "four"), data);
    c.delete(&obj_path(&b, "three")).send().status(204);
    assert_eq!(c.get_object(&other, "four"), data);
    assert_eq!(c.get_object(&b, "two"), b"replaced");
    // A multipart object made of the same bytes shares them too.
    let text = c
        .post(&obj_path(&b, "mp"))
        .sub("uploads")
        .send()
        .ok()
        .text();
    let id = xml_text(&text, "UploadId").unwrap();
    let part = [&data[..], &data[..], &data[..]].concat();
    let r = c
        .put(&obj_path(&b, "mp"))
        .query("partNumber", "1")
        .query("uploadId", &id)
        .body(part.clone())
        .send()
        .ok();
    let e = r.header("etag").unwrap().to_string();
    c.post(&obj_path(&b, "mp"))
        .query("uploadId", &id)
        .body(format!(
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{e}</ETag></Part></CompleteMultipartUpload>"
        ))
        .send()
        .ok();
    c.delete(&obj_path(&other, "four")).send().status(204);
    assert_eq!(c.get_object(&b, "mp"), part);
}

#[test]
fn copy_source_is_copied_or_refused_never_ignored() {
    let (s, b) = setup("copy");
    let c = s.raw();
    let data = test_data(100_000, 90);
    c.put(&obj_path(&b, "src"))
        .header("x-amz-meta-origin", "src")
        .body(data.clone())
        .send()
        .ok();
    // CopyObject: either a real copy or NotImplemented; never an empty object.
    let r = c
        .put(&obj_path(&b, "dst"))
        .header("x-amz-copy-source", &format!("/{b}/src"))
        .send();
    if r.status == 501 {
        r.assert_error(501, "NotImplemented");
        c.head(&obj_path(&b, "dst"))
            .send()
            .assert_error(404, "NoSuchKey");
    } else {
        let text = r.ok().text();
        assert_eq!(xml_text(&text, "ETag"), Some(etag_of(&data)), "{text}");
        let got = c.get(&obj_path(&b, "dst")).send().ok();
        assert_eq!(got.body, data, "CopyObject stored other bytes");
        assert_eq!(got.header("x-amz-meta-origin"), Some("src"));
    }
    // UploadPartCopy: the original stored an empty part here.
    let text = c
        .post(&obj_path(&b, "mp"))
        .sub("uploads")
        .send()
        .ok()
        .text();
    let id = xml_text(&text, "UploadId").unwrap();
    let r = c
        .put(&obj_path(&b, "mp"))
        .query("partNumber", "1")
        .query("uploadId", &id)
        .header("x-amz-copy-source", &format!("/{b}/src"))
        .send();
    if r.status == 501 {
        r.assert_error(501, "NotImplemented");
    } else {
        let text = r.ok().text();
        assert_eq!(xml_text(&text, "ETag"), Some(etag_of(&data)), "{text}");
        let parts = c
            .get(&obj_path(&b, "mp"))
            .query("uploadId", &id)
            .send()
            .ok()
            .text();
        assert_eq!(
            xml_child_texts(&parts, "Part", "Size"),
            vec![data.len().to_string()],
            "UploadPartCopy stored a part of another size"
        );
    }
}

#[test]
fn list_parts_paging() {
    let (s, b) = setup("parts-paging");
    let c = s.raw();
    let text = c.post(&obj_path(&b, "k")).sub("uploads").send().ok().text();
    let id = xml_text(&text, "UploadId").unwrap();
    for n in 1..=5 {
        c.put(&obj_path(&b, "k"))
            .query("partNumber", &n.to_string())
            .query("uploadId", &id)
            .body(vec![n as u8; 10])
            .send()
            .ok();
    }
    let mut seen = Vec::new();
    let mut marker = "0".to_string();
    for _ in 0..10 {
        let t = c
            .get(&obj_path(&b, "k"))
            .query("uploadId", &id)
            .query("max-parts", "2")
            .query("part-number-marker", &marker)
            .send()
            .ok()
            .text();
        let page = xml_child_texts(&t, "Part", "PartNumber");
        assert!(page.len() <= 2, "{t}");
        seen.extend(page);
        if xml_text(&t, "IsTruncated").as_deref() == Some("true") {
            marker = xml_text(&t, "NextPartNumberMarker").expect("NextPartNumberMarker");
        } else {
            break;
        }
    }
    assert_eq!(seen, vec!["1", "2", "3", "4", "5"]);
}

/// Starts uploads for `keys`; returns their ids.
fn start_uploads(c: &crate::common::RawClient, b: &str, keys: &[&str]) -> Vec<String> {
    keys.iter()
        .map(|k| {
            let t = c.post(&obj_path(b, k)).sub("uploads").send().ok().text();
            xml_text(&t, "UploadId").unwrap()
        })
        .collect()
}

#[test]
fn list_uploads_prefix_and_paging() {
    let (s, b) = setup("uploads-paging");
    let c = s.raw();
    start_uploads(&c, &b, &["a/1", "a/2", "b", "k", "k"]);
    let t = c
        .get(&format!("/{b}"))
        .sub("uploads")
        .query("prefix", "a/")
        .send()
        .ok()
        .text();
    assert_eq!(xml_child_texts(&t, "Upload", "Key"), vec!["a/1", "a/2"]);
    let mut keys = Vec::new();
    let (mut key_marker, mut id_marker) = (String::new(), String::new());
    for _ in 0..10 {
        let t = c
            .get(&format!("/{b}"))
            .sub("uploads")
            .query("max-uploads", "1")
            .query("key-marker", &key_marker)
            .query("upload-id-marker", &id_marker)
            .send()
            .ok()
            .text();
        let page = xml_child_texts(&t, "Upload", "Key");
        assert!(page.len() <= 1, "{t}");
        keys.extend(page);
        if xml_text(&t, "IsTruncated").as_deref() == Some("true") {
            key_marker = xml_text(&t, "NextKeyMarker").expect("NextKeyMarker");
            id_marker = xml_text(&t, "NextUploadIdMarker").unwrap_or_default();
        } else {
            break;
        }
    }
    // Two uploads of the same key are both listed, once each.
    assert_eq!(keys, vec!["a/1", "a/2", "b", "k", "k"]);
}

#[test]
fn list_uploads_with_delimiter() {
    let (s, b) = setup("uploads-delimiter");
    let c = s.raw();
    start_uploads(&c, &b, &["a/1", "a/2", "b", "k"]);
    let t = c
        .get(&format!("/{b}"))
        .sub("uploads")
        .query("delimiter", "/")
        .send()
        .ok()
        .text();
    assert_eq!(xml_child_texts(&t, "Upload", "Key"), vec!["b", "k"], "{t}");
    assert_eq!(
        xml_child_texts(&t, "CommonPrefixes", "Prefix"),
        vec!["a/"],
        "{t}"
    );
    assert_eq!(xml_text(&t, "Delimiter").as_deref(), Some("/"), "{t}");
}

#[test]
fn complete_accepts_unquoted_etags_and_checks_part_md5() {
    let (s, b) = setup("complete-unquoted");
    let c = s.raw();
    let text = c.post(&obj_path(&b, "k")).sub("uploads").send().ok().text();
    let id = xml_text(&text, "UploadId").unwrap();
    let data = test_data(1000, 91);
    // A part whose Content-MD5 is wrong is refused.
    use base64::Engine as _;
    let wrong = base64::engine::general_purpose::STANDARD.encode(crate::common::md5_bytes(b"x"));
    c.put(&obj_path(&b, "k"))
        .query("partNumber", "1")
        .query("uploadId", &id)
        .header("Content-MD5", &wrong)
        .body(data.clone())
        .send()
        .assert_error(400, "BadDigest");
    c.put(&obj_path(&b, "k"))
        .query("partNumber", "1")
        .query("uploadId", &id)
        .body(data.clone())
        .send()
        .ok();
    let bare = md5_hex(&data);
    c.post(&obj_path(&b, "k"))
        .query("uploadId", &id)
        .body(format!(
            "<CompleteMultipartUpload><Part><ETag>{bare}</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>"
        ))
        .send()
        .ok();
    assert_eq!(c.get_object(&b, "k"), data);
}

#[test]
fn delete_objects_refuses_more_than_1000_keys() {
    let (s, b) = setup("delete-1001");
    let c = s.raw();
    c.put_object(&b, "k0", b"stays");
    let mut body = String::from("<Delete>");
    for i in 0..1001 {
        body.push_str(&format!("<Object><Key>k{i}</Key></Object>"));
    }
    body.push_str("</Delete>");
    use base64::Engine as _;
    let md5 =
        base64::engine::general_purpose::STANDARD.encode(crate::common::md5_bytes(body.as_bytes()));
    c.post(&format!("/{b}"))
        .sub("delete")
        .header("Content-MD5", &md5)
        .body(body)
        .send()
        .assert_error(400, "MalformedXML");
    assert_eq!(c.get_object(&b, "k0"), b"stays");
}

#[test]
fn list_v2_delimiter_paging() {
    let (s, b) = setup("v2-delim-paging");
    let c = s.raw();
    let keys = [
        "a/1", "a/2", "a/3", "b", "c/1", "d/1", "d/2", "e", "f/x/1", "g",
    ];
    for k in keys {
        c.put_object(&b, k, b"");
    }
    let want = vec!["a/", "b", "c/", "d/", "e", "f/", "g"];
    for max in 1..=4 {
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..20 {
            let mut r = c
                .get(&format!("/{b}"))
                .query("list-type", "2")
                .query("delimiter", "/")
                .query("max-keys", &max.to_string());
            if let Some(t) = &token {
                r = r.query("continuation-token", t);
            }
            let t = r.send().ok().text();
            let mut page = xml_child_texts(&t, "Contents", "Key");
            page.extend(xml_child_texts(&t, "CommonPrefixes", "Prefix"));
            assert!(page.len() <= max, "page over max-keys={max}: {t}");
            assert_eq!(
                xml_text(&t, "KeyCount"),
                Some(page.len().to_string()),
                "{t}"
            );
            seen.extend(page);
            if xml_text(&t, "IsTruncated").as_deref() == Some("true") {
                token = Some(xml_text(&t, "NextContinuationToken").expect("token"));
            } else {
                break;
            }
        }
        seen.sort();
        assert_eq!(seen, want, "max-keys={max}");
    }
}
