//! Writing objects: metadata and standard headers, ETags, Content-MD5, 100-continue,
//! overwrites, conditional and interrupted writes, unknown methods.

use crate::common::raw::{obj_path, Auth};
use crate::common::{
    etag_of, md5_bytes, now_secs, test_data, xml_child_texts, xml_text, TestServer,
};

use super::multipart::{complete_xml, create_upload, upload_part};
use super::{b64, setup};

pub(super) fn metadata_and_standard_headers_are_stored(s: &TestServer) {
    let b = setup(s, "metadata");
    let c = s.raw();
    c.put(&obj_path(&b, "m"))
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "identity")
        .header("Content-Disposition", "inline; filename=m.json")
        .header("Content-Language", "de")
        .header("Cache-Control", "max-age=60")
        .header("Expires", "Wed, 21 Oct 2037 07:28:00 GMT")
        .header("x-amz-meta-color", "blue")
        .header("X-Amz-Meta-Mixed-Case", "Value With Spaces")
        .body("{}")
        .send()
        .ok();
    for method in ["GET", "HEAD"] {
        let r = c.req(method, &obj_path(&b, "m")).send().ok();
        assert_eq!(
            r.header("content-type"),
            Some("application/json"),
            "{method}"
        );
        assert_eq!(r.header("content-encoding"), Some("identity"), "{method}");
        assert_eq!(
            r.header("content-disposition"),
            Some("inline; filename=m.json"),
            "{method}"
        );
        assert_eq!(r.header("content-language"), Some("de"), "{method}");
        assert_eq!(r.header("cache-control"), Some("max-age=60"), "{method}");
        assert_eq!(
            r.header("expires"),
            Some("Wed, 21 Oct 2037 07:28:00 GMT"),
            "{method}"
        );
        assert_eq!(r.header("x-amz-meta-color"), Some("blue"), "{method}");
        assert_eq!(
            r.header("x-amz-meta-mixed-case"),
            Some("Value With Spaces"),
            "{method}"
        );
        assert_eq!(r.header("content-length"), Some("2"), "{method}");
        let lm = r.header("last-modified").expect("Last-Modified");
        assert!(lm.ends_with(" GMT"), "Last-Modified {lm:?}");
    }
    // Last-Modified is real: within a few minutes of now.
    let text = c
        .get(&format!("/{b}"))
        .query("list-type", "2")
        .send()
        .ok()
        .text();
    let lm = xml_text(&text, "LastModified").expect("LastModified in listing");
    let year: i64 = lm[..4].parse().expect("year");
    let now_year = 1970 + now_secs() / 31_556_952;
    assert!(
        (now_year - 1..=now_year + 1).contains(&year),
        "LastModified {lm} is not now"
    );
}

pub(super) fn etag_is_quoted_md5_everywhere(s: &TestServer) {
    let b = setup(s, "etag");
    let c = s.raw();
    let data = test_data(70_000, 11);
    let want = etag_of(&data);
    let r = c.put_object(&b, "e", &data);
    assert_eq!(r.header("etag"), Some(want.as_str()), "PUT");
    let r = c.head(&obj_path(&b, "e")).send().ok();
    assert_eq!(r.header("etag"), Some(want.as_str()), "HEAD");
    let r = c.get(&obj_path(&b, "e")).send().ok();
    assert_eq!(r.header("etag"), Some(want.as_str()), "GET");
    let v1 = c.get(&format!("/{b}")).send().ok().text();
    assert_eq!(
        xml_child_texts(&v1, "Contents", "ETag"),
        vec![want.clone()],
        "ListObjects v1"
    );
    assert_eq!(
        xml_child_texts(&v1, "Contents", "Size"),
        vec!["70000".to_string()]
    );
    let v2 = c
        .get(&format!("/{b}"))
        .query("list-type", "2")
        .send()
        .ok()
        .text();
    assert_eq!(
        xml_child_texts(&v2, "Contents", "ETag"),
        vec![want.clone()],
        "ListObjectsV2"
    );
    // Empty object.
    let r = c.put_object(&b, "empty", b"");
    assert_eq!(
        r.header("etag"),
        Some("\"d41d8cd98f00b204e9800998ecf8427e\"")
    );
    // Conditional GET on the ETag.
    c.get(&obj_path(&b, "e"))
        .header("If-None-Match", &want)
        .send()
        .status(304);
    c.get(&obj_path(&b, "e"))
        .header("If-Match", "\"00000000000000000000000000000000\"")
        .send()
        .assert_error(412, "PreconditionFailed");
}

pub(super) fn unknown_methods_are_refused(s: &TestServer) {
    let b = setup(s, "methods");
    let c = s.raw();
    c.put_object(&b, "k", b"v");
    let r = c.req("PATCH", &obj_path(&b, "k")).body("x").send();
    match r.status {
        405 => r.assert_error(405, "MethodNotAllowed"),
        _ => r.assert_error(501, "NotImplemented"),
    }
    assert_eq!(c.get_object(&b, "k"), b"v");
}

pub(super) fn expect_100_continue(s: &TestServer) {
    let b = setup(s, "expect");
    let c = s.raw();
    let data = test_data(300_000, 16);
    // Good request: 100 Continue, then the body, then 200.
    let (continued, r) = c
        .put(&obj_path(&b, "k"))
        .header("Expect", "100-continue")
        .body(data.clone())
        .send_expect_continue(true);
    assert!(continued, "no 100 Continue before the body");
    let r = r.ok();
    assert_eq!(r.header("etag"), Some(etag_of(&data).as_str()));
    assert_eq!(c.get_object(&b, "k"), data);
    // A request refused on its head is answered without asking for the body: no
    // 100 Continue, whether authentication or authorisation refuses it (RFC 9110 10.1.1: a
    // server that refuses the request sends the final status instead; S3's PutObject
    // documentation: "If the request is rejected based on the headers, Amazon S3 does not
    // send the body").
    let (continued, r) = c
        .put(&obj_path(&b, "k2"))
        .header("Expect", "100-continue")
        .body(data.clone())
        .tamper(crate::common::raw::Tamper {
            signature: true,
            ..Default::default()
        })
        .send_expect_continue(false);
    r.assert_error(403, "SignatureDoesNotMatch");
    assert!(!continued, "100 Continue before a refused signature");
    let stranger = c.with_creds(crate::common::raw::Creds::new("no-such-key", "x"));
    let (continued, r) = stranger
        .put(&obj_path(&b, "k2"))
        .header("Expect", "100-continue")
        .body(data.clone())
        .send_expect_continue(false);
    r.assert_error(403, "InvalidAccessKeyId");
    assert!(!continued, "100 Continue before an unknown key was refused");
    let (continued, r) = c
        .put(&obj_path(&b, "k2"))
        .header("Expect", "100-continue")
        .auth(crate::common::raw::Auth::Anonymous)
        .body(data.clone())
        .send_expect_continue(false);
    r.assert_error(403, "AccessDenied");
    assert!(
        !continued,
        "100 Continue before an anonymous PUT was refused"
    );
    c.head(&obj_path(&b, "k2"))
        .send()
        .assert_error(404, "NoSuchKey");
}

pub(super) fn content_md5_is_verified(s: &TestServer) {
    let b = setup(s, "content-md5");
    let c = s.raw();
    let data = test_data(4096, 12);
    c.put(&obj_path(&b, "good"))
        .header("Content-MD5", &b64(&md5_bytes(&data)))
        .body(data.clone())
        .send()
        .ok();
    assert_eq!(c.get_object(&b, "good"), data);
    c.put(&obj_path(&b, "bad"))
        .header("Content-MD5", &b64(&md5_bytes(b"other")))
        .body(data.clone())
        .send()
        .assert_error(400, "BadDigest");
    c.head(&obj_path(&b, "bad"))
        .send()
        .assert_error(404, "NoSuchKey");
    for invalid in ["not base64!", "AAAA"] {
        c.put(&obj_path(&b, "invalid"))
            .header("Content-MD5", invalid)
            .body(data.clone())
            .send()
            .assert_error(400, "InvalidDigest");
    }
    c.head(&obj_path(&b, "invalid"))
        .send()
        .assert_error(404, "NoSuchKey");
    // SigV2 signs Content-MD5 too.
    c.put(&obj_path(&b, "v2"))
        .header("Content-MD5", &b64(&md5_bytes(&data)))
        .body(data.clone())
        .auth(Auth::V2)
        .send()
        .ok();
}

pub(super) fn overwrite_replaces_content_and_metadata(s: &TestServer) {
    let b = setup(s, "overwrite");
    let c = s.raw();
    c.put(&obj_path(&b, "o"))
        .header("x-amz-meta-v", "1")
        .body(test_data(50_000, 13))
        .send()
        .ok();
    let second = test_data(123, 14);
    c.put(&obj_path(&b, "o"))
        .header("x-amz-meta-v", "2")
        .body(second.clone())
        .send()
        .ok();
    let r = c.get(&obj_path(&b, "o")).send().ok();
    assert_eq!(r.body, second);
    assert_eq!(r.header("x-amz-meta-v"), Some("2"));
    assert_eq!(r.header("etag"), Some(etag_of(&second).as_str()));
    assert_eq!(c.list_keys(&b, ""), vec!["o".to_string()]);
}

/// `If-None-Match: *` and `If-Match` on PUT and on CompleteMultipartUpload.
pub(super) fn conditional_writes(s: &TestServer) {
    let b = setup(s, "cond-writes");
    let c = s.raw();
    let path = obj_path(&b, "k");
    let first = c
        .put(&path)
        .header("If-None-Match", "*")
        .body("first")
        .send()
        .ok();
    let etag = first.header("etag").expect("ETag").to_string();
    c.put(&path)
        .header("If-None-Match", "*")
        .body("second")
        .send()
        .assert_error(412, "PreconditionFailed");
    c.put(&path)
        .header("If-Match", "\"00000000000000000000000000000000\"")
        .body("third")
        .send()
        .assert_error(412, "PreconditionFailed");
    assert_eq!(c.get_object(&b, "k"), b"first");
    c.put(&path)
        .header("If-Match", &etag)
        .body("fourth")
        .send()
        .ok();
    assert_eq!(c.get_object(&b, "k"), b"fourth");
    // PutObject page: If-Match on a missing key is 404 NoSuchKey.
    c.put(&obj_path(&b, "absent"))
        .header("If-Match", &etag)
        .body("x")
        .send()
        .assert_error(404, "NoSuchKey");
    // CompleteMultipartUpload onto an existing key with If-None-Match: *.
    let id = create_upload(&c, &b, "k");
    let part = test_data(1000, 31);
    let e1 = upload_part(&c, &b, "k", &id, 1, &part);
    c.post(&path)
        .query("uploadId", &id)
        .header("If-None-Match", "*")
        .body(complete_xml(&[(1, &e1)]))
        .send()
        .assert_error(412, "PreconditionFailed");
    assert_eq!(c.get_object(&b, "k"), b"fourth");
    c.post(&obj_path(&b, "k"))
        .query("uploadId", &id)
        .body(complete_xml(&[(1, &e1)]))
        .send()
        .ok();
    assert_eq!(c.get_object(&b, "k"), part);
}

pub(super) fn interrupted_upload_leaves_nothing(s: &TestServer) {
    let b = setup(s, "interrupted");
    let c = s.raw();
    // Cut past the embedded store's first 4 MiB block, so one is on disk when the client goes.
    let data = test_data(9 * 1024 * 1024, 15);
    for (key, auth) in [
        ("plain", Auth::V4),
        ("unsigned", Auth::V4Unsigned),
        ("chunked", Auth::V4Chunked { chunk_size: 65_536 }),
    ] {
        c.put(&obj_path(&b, key))
            .body(data.clone())
            .auth(auth)
            .send_truncated(4 * 1024 * 1024 + 17);
    }
    // An object becomes visible only once complete, so whatever the server is
    // still doing with the dropped connections, none of them can be there.
    for key in ["plain", "unsigned", "chunked"] {
        c.head(&obj_path(&b, key))
            .send()
            .assert_error(404, "NoSuchKey");
    }
    assert!(c.list_keys(&b, "").is_empty());
    // The same keys can then be written normally.
    c.put_object(&b, "plain", &data);
    assert_eq!(c.get_object(&b, "plain"), data);
}
