//! Authentication with the raw client: SigV4 header, presigned and chunked,
//! SigV2 header and query, and every way of getting them wrong.

use base64::Engine as _;

use crate::common::raw::{obj_path, send_raw, Auth, Creds, Tamper};
use crate::common::{etag_of, test_data, unique_bucket, TestServer};

fn setup(test: &str) -> (&'static TestServer, String) {
    let s = TestServer::shared();
    let b = unique_bucket(test);
    s.raw().create_bucket(&b);
    (s, b)
}

#[test]
fn sigv4_header_signed_and_unsigned_payload() {
    let (s, b) = setup("v4-payload");
    let c = s.raw();
    let data = test_data(10_000, 1);
    let r = c
        .put(&obj_path(&b, "signed"))
        .body(data.clone())
        .send()
        .ok();
    assert_eq!(r.header("etag"), Some(etag_of(&data).as_str()));
    c.put(&obj_path(&b, "unsigned"))
        .body(data.clone())
        .auth(Auth::V4Unsigned)
        .send()
        .ok();
    assert_eq!(c.get_object(&b, "signed"), data);
    assert_eq!(c.get_object(&b, "unsigned"), data);
}

#[test]
fn sigv4_wrong_signature_is_signature_does_not_match() {
    let (s, b) = setup("v4-badsig");
    let c = s.raw();
    c.put(&obj_path(&b, "k"))
        .body("x")
        .tamper(Tamper {
            signature: true,
            ..Tamper::default()
        })
        .send()
        .assert_error(403, "SignatureDoesNotMatch");
    c.get(&format!("/{b}"))
        .creds(Creds::new(&s.opts.access_key, "not-the-secret"))
        .send()
        .assert_error(403, "SignatureDoesNotMatch");
    // Nothing was written by the rejected PUT.
    c.get(&obj_path(&b, "k"))
        .send()
        .assert_error(404, "NoSuchKey");
}

#[test]
fn sigv4_unknown_access_key_is_invalid_access_key_id() {
    let (s, b) = setup("v4-unknown-key");
    let c = s.raw();
    let stranger = Creds::new("AKIANOSUCHUSER000000", "whatever");
    c.get(&format!("/{b}"))
        .creds(stranger.clone())
        .send()
        .assert_error(403, "InvalidAccessKeyId");
    c.get("/")
        .creds(stranger.clone())
        .auth(Auth::V2)
        .send()
        .assert_error(403, "InvalidAccessKeyId");
    c.get(&format!("/{b}"))
        .creds(stranger)
        .auth(Auth::V4Presigned { expires: 60 })
        .send()
        .assert_error(403, "InvalidAccessKeyId");
}

#[test]
fn sigv4_clock_skew() {
    let (s, b) = setup("v4-skew");
    let c = s.raw();
    let path = format!("/{b}");
    c.get(&path)
        .skew(16 * 60)
        .send()
        .assert_error(403, "RequestTimeTooSkewed");
    c.get(&path)
        .skew(-16 * 60)
        .send()
        .assert_error(403, "RequestTimeTooSkewed");
    c.get(&path)
        .skew(-24 * 3600)
        .send()
        .assert_error(403, "RequestTimeTooSkewed");
    // Within the 15 minutes allowed.
    c.get(&path).skew(10 * 60).send().ok();
    c.get(&path).skew(-10 * 60).send().ok();
}

#[test]
fn sigv4_malformed_authorization_header() {
    let (s, b) = setup("v4-malformed");
    let addr = s.addr();
    let r = send_raw(
        addr,
        "GET",
        &format!("/{b}"),
        &addr.to_string(),
        &[
            ("Authorization".into(), "AWS4-HMAC-SHA256 garbage".into()),
            (
                "x-amz-date".into(),
                crate::common::raw::amz_date(crate::common::now_secs()),
            ),
            (
                "x-amz-content-sha256".into(),
                crate::common::raw::sha256_hex(b""),
            ),
        ],
        b"",
    );
    r.assert_error(400, "AuthorizationHeaderMalformed");
}

#[test]
fn sigv4_scope_must_name_our_region() {
    let (s, b) = setup("v4-region");
    let c = s.raw();
    let wrong = Tamper {
        region: Some("eu-west-1"),
        ..Tamper::default()
    };
    c.get(&format!("/{b}"))
        .tamper(wrong.clone())
        .send()
        .assert_error(400, "AuthorizationHeaderMalformed");
    c.get(&format!("/{b}"))
        .auth(Auth::V4Presigned { expires: 60 })
        .tamper(wrong)
        .send()
        .assert_error(400, "AuthorizationQueryParametersError");
}

#[test]
fn sigv4_unsigned_amz_headers_are_refused() {
    let (s, b) = setup("v4-unsigned-header");
    let c = s.raw();
    // An x-amz-* header added to a signed request must not be accepted:
    // whoever replays the request could otherwise change its meaning.
    c.put(&obj_path(&b, "k"))
        .body("data")
        .tamper(Tamper {
            unsigned_header: Some(("x-amz-meta-injected", "evil")),
            ..Tamper::default()
        })
        .send()
        .assert_error(403, "AccessDenied");
    c.head(&obj_path(&b, "k"))
        .send()
        .assert_error(404, "NoSuchKey");
}

#[test]
fn anonymous_requests_are_access_denied() {
    let (s, b) = setup("anonymous");
    let c = s.raw();
    c.put_object(&b, "k", b"secret data");
    for r in [
        c.get(&obj_path(&b, "k")).auth(Auth::Anonymous).send(),
        c.get(&format!("/{b}")).auth(Auth::Anonymous).send(),
        c.get("/").auth(Auth::Anonymous).send(),
        c.put(&obj_path(&b, "anon"))
            .body("x")
            .auth(Auth::Anonymous)
            .send(),
    ] {
        r.assert_error(403, "AccessDenied");
    }
    c.get(&obj_path(&b, "anon"))
        .send()
        .assert_error(404, "NoSuchKey");
}

#[test]
fn presigned_get_put_and_expiry() {
    let (s, b) = setup("presigned");
    let c = s.raw();
    let data = test_data(3000, 2);
    // Presigned PUT, then presigned GET.
    c.put(&obj_path(&b, "dir/obj one"))
        .body(data.clone())
        .auth(Auth::V4Presigned { expires: 300 })
        .send()
        .ok();
    let r = c
        .get(&obj_path(&b, "dir/obj one"))
        .auth(Auth::V4Presigned { expires: 300 })
        .send()
        .ok();
    assert_eq!(r.body, data);
    assert_eq!(r.header("etag"), Some(etag_of(&data).as_str()));
    // Signed two hours ago, valid for one: expired.
    c.get(&obj_path(&b, "dir/obj one"))
        .auth(Auth::V4Presigned { expires: 3600 })
        .skew(-7200)
        .send()
        .assert_error(403, "AccessDenied");
    // Signed an hour ago, valid for two: still good (presigned URLs are not
    // subject to the 15-minute skew rule).
    c.get(&obj_path(&b, "dir/obj one"))
        .auth(Auth::V4Presigned { expires: 7200 })
        .skew(-3600)
        .send()
        .ok();
    // Seven days is the limit.
    c.get(&obj_path(&b, "dir/obj one"))
        .auth(Auth::V4Presigned { expires: 604_800 })
        .send()
        .ok();
    c.get(&obj_path(&b, "dir/obj one"))
        .auth(Auth::V4Presigned { expires: 604_801 })
        .send()
        .assert_error(400, "AuthorizationQueryParametersError");
    c.get(&obj_path(&b, "dir/obj one"))
        .auth(Auth::V4Presigned { expires: 300 })
        .tamper(Tamper {
            signature: true,
            ..Tamper::default()
        })
        .send()
        .assert_error(403, "SignatureDoesNotMatch");
}

#[test]
fn chunked_upload_succeeds() {
    let (s, b) = setup("chunked-ok");
    let c = s.raw();
    let data = test_data(200_000, 3);
    let r = c
        .put(&obj_path(&b, "chunked"))
        .header("Content-Type", "application/x-test")
        .body(data.clone())
        .auth(Auth::V4Chunked { chunk_size: 65_536 })
        .send()
        .ok();
    assert_eq!(r.header("etag"), Some(etag_of(&data).as_str()));
    let got = c.get(&obj_path(&b, "chunked")).send().ok();
    assert_eq!(got.body.len(), data.len());
    assert!(got.body == data, "chunked upload stored different bytes");
    assert_eq!(got.header("content-type"), Some("application/x-test"));
    // An exact multiple of the chunk size and an empty body also work.
    let even = test_data(131_072, 4);
    c.put(&obj_path(&b, "even"))
        .body(even.clone())
        .auth(Auth::V4Chunked { chunk_size: 65_536 })
        .send()
        .ok();
    assert_eq!(c.get_object(&b, "even"), even);
    c.put(&obj_path(&b, "empty"))
        .auth(Auth::V4Chunked { chunk_size: 65_536 })
        .send()
        .ok();
    assert_eq!(c.get_object(&b, "empty"), b"");
}

#[test]
fn chunked_upload_with_broken_chunk_signature_stores_nothing() {
    let (s, b) = setup("chunked-bad");
    let c = s.raw();
    let data = test_data(200_000, 5);
    for (name, tamper) in [
        (
            "bad-first-sig",
            Tamper {
                chunk_signature: Some(0),
                ..Tamper::default()
            },
        ),
        (
            "bad-middle-sig",
            Tamper {
                chunk_signature: Some(2),
                ..Tamper::default()
            },
        ),
        (
            "bad-final-sig",
            Tamper {
                chunk_signature: Some(4),
                ..Tamper::default()
            },
        ),
        (
            "bad-data",
            Tamper {
                chunk_data: Some(1),
                ..Tamper::default()
            },
        ),
    ] {
        c.put(&obj_path(&b, name))
            .body(data.clone())
            .auth(Auth::V4Chunked { chunk_size: 65_536 })
            .tamper(tamper)
            .send()
            .assert_error(403, "SignatureDoesNotMatch");
        c.head(&obj_path(&b, name))
            .send()
            .assert_error(404, "NoSuchKey");
    }
    // A failed overwrite leaves the old object untouched.
    let old = test_data(1000, 6);
    c.put_object(&b, "existing", &old);
    c.put(&obj_path(&b, "existing"))
        .body(data)
        .auth(Auth::V4Chunked { chunk_size: 65_536 })
        .tamper(Tamper {
            chunk_signature: Some(3),
            ..Tamper::default()
        })
        .send()
        .assert_error(403, "SignatureDoesNotMatch");
    assert_eq!(c.get_object(&b, "existing"), old);
    let keys = c.list_keys(&b, "");
    assert_eq!(keys, vec!["existing".to_string()]);
}

#[test]
fn unsigned_payload_trailer_upload() {
    let (s, b) = setup("trailer");
    let c = s.raw();
    let data = test_data(150_000, 9);
    c.put(&obj_path(&b, "t"))
        .body(data.clone())
        .auth(Auth::V4UnsignedTrailer { chunk_size: 65_536 })
        .send()
        .ok();
    let r = c.get(&obj_path(&b, "t")).send().ok();
    assert!(r.body == data, "trailer upload stored other bytes");
    assert_eq!(r.header("etag"), Some(etag_of(&data).as_str()));
}

#[test]
fn trailer_checksum_is_verified() {
    let (s, b) = setup("trailer-bad");
    let c = s.raw();
    let data = test_data(150_000, 11);
    // A wrong x-amz-checksum-crc32 header (botocore sends one on every PUT)
    // or trailer stores nothing, as a wrong Content-MD5.
    c.put(&obj_path(&b, "bad-header"))
        .header("x-amz-checksum-crc32", "AAAAAA==")
        .body(data.clone())
        .send()
        .assert_error(400, "BadDigest");
    c.head(&obj_path(&b, "bad-header"))
        .send()
        .assert_error(404, "NoSuchKey");
    let right = base64::engine::general_purpose::STANDARD
        .encode(crate::common::raw::crc32(&data).to_be_bytes());
    c.put(&obj_path(&b, "good-header"))
        .header("x-amz-checksum-crc32", &right)
        .body(data.clone())
        .send()
        .ok();
    c.put(&obj_path(&b, "bad"))
        .body(data)
        .auth(Auth::V4UnsignedTrailer { chunk_size: 65_536 })
        .tamper(Tamper {
            trailer_checksum: Some("AAAAAA=="),
            ..Tamper::default()
        })
        .send()
        .assert_error(400, "BadDigest");
    c.head(&obj_path(&b, "bad"))
        .send()
        .assert_error(404, "NoSuchKey");
}

#[test]
fn chunked_body_shorter_or_longer_than_declared_stores_nothing() {
    let (s, b) = setup("chunked-length");
    let c = s.raw();
    let data = test_data(100_000, 10);
    for (key, declared) in [("short", 150_000), ("long", 50_000)] {
        let r = c
            .put(&obj_path(&b, key))
            .body(data.clone())
            .auth(Auth::V4Chunked { chunk_size: 65_536 })
            .tamper(Tamper {
                decoded_length: Some(declared),
                ..Tamper::default()
            })
            .send();
        assert!(
            (400..500).contains(&r.status),
            "{key}: a body that disagrees with x-amz-decoded-content-length was answered {}:\n{}",
            r.status,
            r.text()
        );
        let code = r.error_code().unwrap_or_default();
        r.assert_error(r.status, &code);
        c.head(&obj_path(&b, key))
            .send()
            .assert_error(404, "NoSuchKey");
    }
}

#[test]
fn wrong_content_sha256_is_rejected_and_stores_nothing() {
    let (s, b) = setup("sha256-mismatch");
    let c = s.raw();
    let data = test_data(100_000, 7);
    let wrong = crate::common::raw::sha256_hex(b"something else");
    c.put(&obj_path(&b, "k"))
        .header("x-amz-content-sha256", &wrong)
        .body(data.clone())
        .send()
        .assert_error(400, "XAmzContentSHA256Mismatch");
    c.head(&obj_path(&b, "k"))
        .send()
        .assert_error(404, "NoSuchKey");
    // The right declared hash works.
    let right = crate::common::raw::sha256_hex(&data);
    c.put(&obj_path(&b, "k"))
        .header("x-amz-content-sha256", &right)
        .body(data.clone())
        .send()
        .ok();
    assert_eq!(c.get_object(&b, "k"), data);
}

#[test]
fn sigv2_header_and_query() {
    let (s, b) = setup("sigv2");
    let c = s.raw();
    let data = test_data(5000, 8);
    let r = c
        .put(&obj_path(&b, "v2 key+plus"))
        .header("Content-Type", "text/plain")
        .header("x-amz-meta-color", "blue")
        .body(data.clone())
        .auth(Auth::V2)
        .send()
        .ok();
    assert_eq!(r.header("etag"), Some(etag_of(&data).as_str()));
    let got = c
        .get(&obj_path(&b, "v2 key+plus"))
        .auth(Auth::V2)
        .send()
        .ok();
    assert_eq!(got.body, data);
    assert_eq!(got.header("x-amz-meta-color"), Some("blue"));
    // A sub-resource is part of the V2 string to sign.
    let loc = c
        .get(&format!("/{b}"))
        .sub("location")
        .auth(Auth::V2)
        .send()
        .ok();
    crate::common::parse_xml(&loc.text());
    // Listing with V2.
    let list = c.get(&format!("/{b}")).auth(Auth::V2).send().ok().text();
    assert_eq!(
        crate::common::xml_child_texts(&list, "Contents", "Key"),
        vec!["v2 key+plus".to_string()]
    );
    // Query authentication, valid and expired.
    let r = c
        .get(&obj_path(&b, "v2 key+plus"))
        .auth(Auth::V2Query { expires_in: 300 })
        .send()
        .ok();
    assert_eq!(r.body, data);
    c.get(&obj_path(&b, "v2 key+plus"))
        .auth(Auth::V2Query { expires_in: -10 })
        .send()
        .assert_error(403, "AccessDenied");
    // Bad signatures.
    let bad = Tamper {
        signature: true,
        ..Tamper::default()
    };
    c.get(&obj_path(&b, "v2 key+plus"))
        .auth(Auth::V2)
        .tamper(bad.clone())
        .send()
        .assert_error(403, "SignatureDoesNotMatch");
    c.get(&obj_path(&b, "v2 key+plus"))
        .auth(Auth::V2Query { expires_in: 300 })
        .tamper(bad)
        .send()
        .assert_error(403, "SignatureDoesNotMatch");
    // SigV2 header auth is subject to the clock-skew rule too.
    c.get(&obj_path(&b, "v2 key+plus"))
        .auth(Auth::V2)
        .skew(-3600)
        .send()
        .assert_error(403, "RequestTimeTooSkewed");
}
