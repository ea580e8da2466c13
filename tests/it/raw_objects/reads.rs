//! Reading objects: ranges, response header overrides, conditions on dates, missing objects.

use crate::common::raw::{obj_path, Auth};
use crate::common::{etag_of, now_secs, test_data, TestServer};

use super::setup;

pub(super) fn ranges(s: &TestServer) {
    let b = setup(s, "ranges");
    let c = s.raw();
    let data = test_data(1000, 10);
    c.put_object(&b, "r", &data);
    let path = obj_path(&b, "r");
    let cases: [(&str, std::ops::Range<usize>); 6] = [
        ("bytes=0-0", 0..1),
        ("bytes=5-", 5..1000),
        ("bytes=-3", 997..1000),
        ("bytes=10-19", 10..20),
        ("bytes=990-5000", 990..1000),
        ("bytes=999-999", 999..1000),
    ];
    for (range, want) in cases {
        let r = c.get(&path).header("Range", range).send().status(206);
        assert_eq!(r.body, &data[want.clone()], "{range}");
        assert_eq!(
            r.header("content-range").map(str::to_string),
            Some(format!("bytes {}-{}/1000", want.start, want.end - 1)),
            "{range}"
        );
        assert_eq!(
            r.header("content-length").map(str::to_string),
            Some(want.len().to_string()),
            "{range}"
        );
        assert_eq!(r.header("etag"), Some(etag_of(&data).as_str()));
    }
    for bad in ["bytes=1000-", "bytes=5000-6000"] {
        c.get(&path)
            .header("Range", bad)
            .send()
            .assert_error(416, "InvalidRange");
    }
    // A Range header that does not parse is ignored (RFC 9110): the whole object.
    for junk in ["bytes=abc", "lines=0-5", "bytes=5-1"] {
        let r = c.get(&path).header("Range", junk).send().status(200);
        assert_eq!(r.body, data, "{junk}");
    }
    // HEAD with a range describes the range.
    let r = c
        .head(&path)
        .header("Range", "bytes=0-9")
        .send()
        .status(206);
    assert_eq!(r.header("content-length"), Some("10"));
    assert!(r.body.is_empty());
    // A full GET advertises ranges.
    let r = c.get(&path).send().ok();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("1000"));
}

pub(super) fn response_header_overrides(s: &TestServer) {
    let b = setup(s, "overrides");
    let c = s.raw();
    c.put(&obj_path(&b, "o"))
        .header("Content-Type", "text/plain")
        .body("hello")
        .send()
        .ok();
    let r = c
        .get(&obj_path(&b, "o"))
        .query("response-content-type", "application/x-overridden")
        .query(
            "response-content-disposition",
            "attachment; filename=\"x y.txt\"",
        )
        .query("response-cache-control", "no-store")
        .query("response-content-language", "fr")
        .query("response-expires", "Thu, 01 Dec 1994 16:00:00 GMT")
        .query("response-content-encoding", "identity")
        .send()
        .ok();
    assert_eq!(r.body, b"hello");
    assert_eq!(r.header("content-type"), Some("application/x-overridden"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"x y.txt\"")
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("content-language"), Some("fr"));
    assert_eq!(r.header("expires"), Some("Thu, 01 Dec 1994 16:00:00 GMT"));
    // Overrides also work on presigned URLs, and do not change the object.
    let r = c
        .get(&obj_path(&b, "o"))
        .query("response-content-type", "image/png")
        .auth(Auth::V4Presigned { expires: 60 })
        .send()
        .ok();
    assert_eq!(r.header("content-type"), Some("image/png"));
    let r = c.get(&obj_path(&b, "o")).send().ok();
    assert_eq!(r.header("content-type"), Some("text/plain"));
}

pub(super) fn conditional_requests_on_dates(s: &TestServer) {
    let b = setup(s, "conditional");
    let c = s.raw();
    c.put_object(&b, "c", b"conditional");
    let r = c.head(&obj_path(&b, "c")).send().ok();
    let lm = r
        .header("last-modified")
        .expect("Last-Modified")
        .to_string();
    let past = crate::common::raw::http_date(now_secs() - 86_400);
    let future = crate::common::raw::http_date(now_secs() + 86_400);
    c.get(&obj_path(&b, "c"))
        .header("If-Modified-Since", &lm)
        .send()
        .status(304);
    c.get(&obj_path(&b, "c"))
        .header("If-Modified-Since", &future)
        .send()
        .status(304);
    let r = c
        .get(&obj_path(&b, "c"))
        .header("If-Modified-Since", &past)
        .send()
        .ok();
    assert_eq!(r.body, b"conditional");
    c.get(&obj_path(&b, "c"))
        .header("If-Unmodified-Since", &past)
        .send()
        .assert_error(412, "PreconditionFailed");
    c.get(&obj_path(&b, "c"))
        .header("If-Unmodified-Since", &future)
        .send()
        .ok();
    // If-Match wins over If-Unmodified-Since, If-None-Match over If-Modified-Since.
    let etag = r.header("etag").unwrap().to_string();
    c.get(&obj_path(&b, "c"))
        .header("If-Match", &etag)
        .header("If-Unmodified-Since", &past)
        .send()
        .ok();
    c.get(&obj_path(&b, "c"))
        .header("If-None-Match", "\"ffffffffffffffffffffffffffffffff\"")
        .header("If-Modified-Since", &future)
        .send()
        .ok();
}

pub(super) fn missing_objects_and_head_errors(s: &TestServer) {
    let b = setup(s, "missing");
    let c = s.raw();
    c.get(&obj_path(&b, "nope"))
        .send()
        .assert_error(404, "NoSuchKey");
    // HEAD errors carry no body (assert_error checks it).
    c.head(&obj_path(&b, "nope"))
        .send()
        .assert_error(404, "NoSuchKey");
    let r = c.head(&obj_path(&b, "nope")).send();
    assert!(r.header("x-amz-request-id").is_some());
    c.head("/no-such-bucket-libres3-it")
        .send()
        .assert_error(404, "NoSuchBucket");
    c.head(&obj_path("no-such-bucket-libres3-it", "k"))
        .send()
        .assert_error(404, "NoSuchBucket");
    c.get(&obj_path("no-such-bucket-libres3-it", "k"))
        .send()
        .assert_error(404, "NoSuchBucket");
    // Deleting a missing key is a success.
    c.delete(&obj_path(&b, "nope")).send().status(204);
}
