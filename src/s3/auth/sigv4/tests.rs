//! SigV4 against the examples of the S3 API reference, and its error cases.

use std::time::{Duration, SystemTime};

use actix_web::http::header::HeaderMap;
use ring::hmac;

use super::payload::*;
use super::*;
use crate::encoding::hex;
use crate::s3::auth::test_support::*;
use crate::s3::auth::{self, header_str, Credentials};
use crate::s3::error::S3ErrorCode;
use std::time::UNIX_EPOCH;

/// 20130524T000000Z, the date of every SigV4 example in the S3 API reference.
fn example_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_369_353_600)
}

fn secret() -> SecretKey {
    SecretKey::new(SECRET.to_owned())
}

fn request<'a>(
    method: &'a str,
    path: &'a str,
    query: &'a str,
    headers: &'a HeaderMap,
) -> SignedRequest<'a> {
    SignedRequest {
        method,
        raw_path: path,
        raw_query: query,
        headers,
        virtual_bucket: None,
    }
}

fn authorization(signed_headers: &str, signature: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20130524/us-east-1/s3/aws4_request,\
         SignedHeaders={signed_headers},Signature={signature}"
    )
}

fn parse_and_verify(req: &SignedRequest) -> Result<PayloadCheck, S3Error> {
    let creds = auth::parse(req, example_time(), "us-east-1")?;
    assert_eq!(creds.access_key(), Some(ACCESS_KEY));
    auth::verify(&creds, req, &secret())
}

const EMPTY: &str = EMPTY_SHA256_HEX;

// S3 API reference, "Signature Calculations for the Authorization Header: Transferring
// Payload in a Single Chunk", example "GET Object".
#[test]
fn aws_example_get_object() {
    let auth = authorization(
        "host;range;x-amz-content-sha256;x-amz-date",
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    );
    let h = headers(&[
        ("host", "examplebucket.s3.amazonaws.com"),
        ("range", "bytes=0-9"),
        ("x-amz-content-sha256", EMPTY),
        ("x-amz-date", "20130524T000000Z"),
        ("authorization", &auth),
    ]);
    let req = request("GET", "/test.txt", "", &h);
    let signed: Vec<String> = ["host", "range", "x-amz-content-sha256", "x-amz-date"]
        .map(str::to_owned)
        .to_vec();
    let canonical = canonical_request("GET", "/test.txt", "", false, &h, &signed, EMPTY);
    assert_eq!(
        String::from_utf8_lossy(&canonical),
        "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n\
         x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
         x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        string_to_sign(
            "20130524T000000Z",
            "20130524/us-east-1/s3/aws4_request",
            &canonical
        ),
        "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
         7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
    );
    let check = parse_and_verify(&req).expect("the AWS example verifies");
    let empty = unhex_array(EMPTY).expect("hex");
    assert!(matches!(check, PayloadCheck::Sha256(h) if h == empty));
}

// Same section, example "PUT Object".
#[test]
fn aws_example_put_object() {
    let auth = authorization(
        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
    );
    let h = headers(&[
        ("host", "examplebucket.s3.amazonaws.com"),
        ("date", "Fri, 24 May 2013 00:00:00 GMT"),
        ("authorization", &auth),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        (
            "x-amz-content-sha256",
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        ),
    ]);
    // The key `test$file.text`, encoded as a client sends it.
    let req = request("PUT", "/test%24file.text", "", &h);
    assert_eq!(canonical_uri("/test%24file.text"), "/test%24file.text");
    assert_eq!(canonical_uri("/test$file.text"), "/test%24file.text");
    let check = parse_and_verify(&req).expect("the AWS example verifies");
    assert!(matches!(check, PayloadCheck::Sha256(_)));
}

// Same section, example "GET Bucket Lifecycle".
#[test]
fn aws_example_get_lifecycle() {
    let auth = authorization(
        "host;x-amz-content-sha256;x-amz-date",
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
    );
    let h = headers(&[
        ("host", "examplebucket.s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-content-sha256", EMPTY),
        ("authorization", &auth),
    ]);
    let req = request("GET", "/", "lifecycle", &h);
    assert_eq!(canonical_query("lifecycle", false), "lifecycle=");
    parse_and_verify(&req).expect("the AWS example verifies");
}

// Same section, example "Get Bucket (List Objects)".
#[test]
fn aws_example_list_objects() {
    let auth = authorization(
        "host;x-amz-content-sha256;x-amz-date",
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
    );
    let h = headers(&[
        ("host", "examplebucket.s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-content-sha256", EMPTY),
        ("authorization", &auth),
    ]);
    let req = request("GET", "/", "max-keys=2&prefix=J", &h);
    parse_and_verify(&req).expect("the AWS example verifies");
    // Order of the parameters as sent does not matter.
    let req = request("GET", "/", "prefix=J&max-keys=2", &h);
    parse_and_verify(&req).expect("the AWS example verifies");
}

// S3 API reference, "Authenticating Requests: Using Query Parameters".
const PRESIGNED_QUERY: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256\
    &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
    &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
    &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

#[test]
fn aws_example_presigned() {
    let h = headers(&[("host", "examplebucket.s3.amazonaws.com")]);
    let req = request("GET", "/test.txt", PRESIGNED_QUERY, &h);
    let check = parse_and_verify(&req).expect("the AWS example verifies");
    assert!(matches!(check, PayloadCheck::Unchecked));
    assert_eq!(
        canonical_query(PRESIGNED_QUERY, true),
        "X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
    );
}

#[test]
fn presigned_expiry_and_early_use() {
    let h = headers(&[("host", "examplebucket.s3.amazonaws.com")]);
    let req = request("GET", "/test.txt", PRESIGNED_QUERY, &h);
    let just_valid = example_time() + Duration::from_secs(86_400);
    assert!(auth::parse(&req, just_valid, "us-east-1").is_ok());

    let late = just_valid + Duration::from_secs(1);
    let err = auth::parse(&req, late, "us-east-1").unwrap_err();
    assert_eq!(err.code, S3ErrorCode::AccessDenied);
    assert_eq!(err.message, "Request has expired");
    assert!(err
        .details
        .iter()
        .any(|(n, v)| *n == "X-Amz-Expires" && v == "86400"));
    assert!(err
        .details
        .iter()
        .any(|(n, v)| *n == "Expires" && v == "2013-05-25T00:00:00.000Z"));
    assert!(err.details.iter().any(|(n, _)| *n == "ServerTime"));

    let early = example_time() - Duration::from_secs(16 * 60);
    let err = auth::parse(&req, early, "us-east-1").unwrap_err();
    assert_eq!(err.code, S3ErrorCode::RequestTimeTooSkewed);
    let slightly_early = example_time() - Duration::from_secs(14 * 60);
    assert!(auth::parse(&req, slightly_early, "us-east-1").is_ok());
}

#[test]
fn presigned_expires_bounds() {
    let h = headers(&[("host", "examplebucket.s3.amazonaws.com")]);
    for (expires, ok) in [
        ("0", false),
        ("1", true),
        ("604800", true),
        ("604801", false),
        ("x", false),
        ("-1", false),
    ] {
        let query =
            PRESIGNED_QUERY.replace("X-Amz-Expires=86400", &format!("X-Amz-Expires={expires}"));
        let req = request("GET", "/test.txt", &query, &h);
        let result = auth::parse(&req, example_time(), "us-east-1");
        match result {
            Ok(_) => assert!(ok, "{expires} accepted"),
            Err(e) => {
                assert!(!ok, "{expires} refused: {e}");
                assert_eq!(e.code, S3ErrorCode::AuthorizationQueryParametersError);
            }
        }
    }
}

#[test]
fn presigned_errors() {
    let h = headers(&[("host", "examplebucket.s3.amazonaws.com")]);
    let missing = PRESIGNED_QUERY.replace("&X-Amz-Expires=86400", "");
    let err = auth::parse(
        &request("GET", "/t", &missing, &h),
        example_time(),
        "us-east-1",
    )
    .unwrap_err();
    assert_eq!(err.code, S3ErrorCode::AuthorizationQueryParametersError);

    let err = auth::parse(
        &request("GET", "/t", PRESIGNED_QUERY, &h),
        example_time(),
        "eu-west-1",
    )
    .unwrap_err();
    assert_eq!(err.code, S3ErrorCode::AuthorizationQueryParametersError);
    assert!(err
        .message
        .contains("the region 'us-east-1' is wrong; expecting 'eu-west-1'"));
    assert_eq!(err.details, vec![("Region", "eu-west-1".to_owned())]);

    let tampered = PRESIGNED_QUERY.replace("X-Amz-Expires=86400", "X-Amz-Expires=86401");
    let req = request("GET", "/test.txt", &tampered, &h);
    let err = parse_and_verify(&req).unwrap_err();
    assert_eq!(err.code, S3ErrorCode::SignatureDoesNotMatch);

    // An x-amz-* header sent but not signed.
    let h = headers(&[
        ("host", "examplebucket.s3.amazonaws.com"),
        ("x-amz-acl", "public-read"),
    ]);
    let err = auth::parse(
        &request("GET", "/test.txt", PRESIGNED_QUERY, &h),
        example_time(),
        "us-east-1",
    )
    .unwrap_err();
    assert_eq!(err.code, S3ErrorCode::AccessDenied);
    assert_eq!(
        err.details,
        vec![("HeadersNotSigned", "x-amz-acl".to_owned())]
    );
}

fn get_object_headers(auth: &str, date: &str) -> HeaderMap {
    headers(&[
        ("host", "examplebucket.s3.amazonaws.com"),
        ("range", "bytes=0-9"),
        ("x-amz-content-sha256", EMPTY),
        ("x-amz-date", date),
        ("authorization", auth),
    ])
}

const GET_SIGNED: &str = "host;range;x-amz-content-sha256;x-amz-date";
const GET_SIGNATURE: &str = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";

#[test]
fn wrong_signature() {
    let auth = authorization(
        GET_SIGNED,
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb42",
    );
    let h = get_object_headers(&auth, "20130524T000000Z");
    let err = parse_and_verify(&request("GET", "/test.txt", "", &h)).unwrap_err();
    assert_eq!(err.code, S3ErrorCode::SignatureDoesNotMatch);
    assert!(err.details.iter().any(|(n, _)| *n == "StringToSign"));

    // Not hex at all.
    let auth = authorization(GET_SIGNED, "zz");
    let h = get_object_headers(&auth, "20130524T000000Z");
    let err = parse_and_verify(&request("GET", "/test.txt", "", &h)).unwrap_err();
    assert_eq!(err.code, S3ErrorCode::SignatureDoesNotMatch);

    // Right signature, wrong secret.
    let auth = authorization(GET_SIGNED, GET_SIGNATURE);
    let h = get_object_headers(&auth, "20130524T000000Z");
    let req = request("GET", "/test.txt", "", &h);
    let creds = auth::parse(&req, example_time(), "us-east-1").expect("parses");
    let err = auth::verify(&creds, &req, &SecretKey::new("other".to_owned())).unwrap_err();
    assert_eq!(err.code, S3ErrorCode::SignatureDoesNotMatch);

    // A different path.
    let err = parse_and_verify(&request("GET", "/test2.txt", "", &h)).unwrap_err();
    assert_eq!(err.code, S3ErrorCode::SignatureDoesNotMatch);
}

#[test]
fn clock_skew() {
    let auth = authorization(GET_SIGNED, GET_SIGNATURE);
    let h = get_object_headers(&auth, "20130524T000000Z");
    let req = request("GET", "/test.txt", "", &h);
    for (offset, ok) in [(14 * 60, true), (15 * 60, true), (15 * 60 + 1, false)] {
        for now in [
            example_time() + Duration::from_secs(offset),
            example_time() - Duration::from_secs(offset),
        ] {
            match auth::parse(&req, now, "us-east-1") {
                Ok(_) => assert!(ok, "offset {offset} accepted"),
                Err(e) => {
                    assert!(!ok, "offset {offset} refused: {e}");
                    assert_eq!(e.code, S3ErrorCode::RequestTimeTooSkewed);
                }
            }
        }
    }
}

#[test]
fn wrong_region() {
    let auth = authorization(GET_SIGNED, GET_SIGNATURE);
    let h = get_object_headers(&auth, "20130524T000000Z");
    let req = request("GET", "/test.txt", "", &h);
    let err = auth::parse(&req, example_time(), "eu-west-1").unwrap_err();
    assert_eq!(err.code, S3ErrorCode::AuthorizationHeaderMalformed);
    assert!(err
        .message
        .contains("the region 'us-east-1' is wrong; expecting 'eu-west-1'"));
    assert_eq!(err.details, vec![("Region", "eu-west-1".to_owned())]);
}

#[test]
fn malformed_headers() {
    for auth in [
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00, Foo=bar",
        "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AK/2013052/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=Host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AK/20130523/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
    ] {
        let h = get_object_headers(auth, "20130524T000000Z");
        let err = auth::parse(&request("GET", "/", "", &h), example_time(), "us-east-1")
            .unwrap_err();
        assert_eq!(err.code, S3ErrorCode::AuthorizationHeaderMalformed, "{auth}");
    }
    // Spaces after commas or none, in any order: all accepted.
    let auth = format!(
        "AWS4-HMAC-SHA256 Signature={GET_SIGNATURE}, SignedHeaders={GET_SIGNED}, \
         Credential={ACCESS_KEY}/20130524/us-east-1/s3/aws4_request"
    );
    let h = get_object_headers(&auth, "20130524T000000Z");
    parse_and_verify(&request("GET", "/test.txt", "", &h)).expect("verifies");
}

#[test]
fn dates_and_required_headers() {
    let auth = authorization(GET_SIGNED, GET_SIGNATURE);
    // No date at all.
    let h = headers(&[
        ("host", "examplebucket.s3.amazonaws.com"),
        ("x-amz-content-sha256", EMPTY),
        ("authorization", &auth),
    ]);
    let err = auth::parse(&request("GET", "/", "", &h), example_time(), "us-east-1").unwrap_err();
    assert_eq!(err.code, S3ErrorCode::AccessDenied);
    assert_eq!(
        err.message,
        "AWS authentication requires a valid Date or x-amz-date header"
    );

    // The Date header alone is enough.
    let auth2 = authorization("date;host;x-amz-content-sha256", "00");
    let h = headers(&[
        ("host", "examplebucket.s3.amazonaws.com"),
        ("date", "Fri, 24 May 2013 00:00:00 GMT"),
        ("x-amz-content-sha256", EMPTY),
        ("authorization", &auth2),
    ]);
    assert!(auth::parse(&request("GET", "/", "", &h), example_time(), "us-east-1").is_ok());

    // x-amz-content-sha256 missing.
    let h = headers(&[
        ("host", "examplebucket.s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("authorization", &authorization("host;x-amz-date", "00")),
    ]);
    let err = auth::parse(&request("GET", "/", "", &h), example_time(), "us-east-1").unwrap_err();
    assert_eq!(err.code, S3ErrorCode::InvalidRequest);
    assert_eq!(
        err.message,
        "Missing required header for this request: x-amz-content-sha256"
    );

    // A bad x-amz-content-sha256.
    let h = get_object_headers(&auth, "20130524T000000Z");
    let mut h = h.clone();
    h.insert(
        actix_web::http::header::HeaderName::from_static("x-amz-content-sha256"),
        actix_web::http::header::HeaderValue::from_static("abc"),
    );
    let err = auth::parse(&request("GET", "/", "", &h), example_time(), "us-east-1").unwrap_err();
    assert_eq!(err.code, S3ErrorCode::InvalidArgument);

    // An x-amz-* header not signed, and host not signed.
    let h = headers(&[
        ("host", "examplebucket.s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-content-sha256", EMPTY),
        ("x-amz-meta-a", "b"),
        (
            "authorization",
            &authorization("x-amz-content-sha256;x-amz-date", "00"),
        ),
    ]);
    let err = auth::parse(&request("GET", "/", "", &h), example_time(), "us-east-1").unwrap_err();
    assert_eq!(err.code, S3ErrorCode::AccessDenied);
    assert_eq!(
        err.details,
        vec![("HeadersNotSigned", "host, x-amz-meta-a".to_owned())]
    );
}

#[test]
fn streaming_requires_decoded_length() {
    let h = headers(&[
        ("host", "s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-content-sha256", STREAMING_SIGNED),
        (
            "authorization",
            &authorization("host;x-amz-content-sha256;x-amz-date", "00"),
        ),
    ]);
    let err =
        auth::parse(&request("PUT", "/b/k", "", &h), example_time(), "us-east-1").unwrap_err();
    assert_eq!(err.code, S3ErrorCode::MissingContentLength);
}

/// Signs a header-authenticated request with the pure functions above.
fn sign_with_header(method: &str, path: &str, pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = headers(pairs);
    let mut signed: Vec<String> = h.keys().map(|k| k.as_str().to_owned()).collect();
    signed.sort();
    let payload = header_str(&h, "x-amz-content-sha256")
        .unwrap_or(UNSIGNED_PAYLOAD)
        .to_owned();
    let canonical = canonical_request(method, path, "", false, &h, &signed, &payload);
    let to_sign = string_to_sign(
        "20130524T000000Z",
        "20130524/us-east-1/s3/aws4_request",
        &canonical,
    );
    let key = signing_key(&secret(), "20130524", "us-east-1");
    let signature = hex(hmac::sign(&key, to_sign.as_bytes()).as_ref());
    let auth = authorization(&signed.join(";"), &signature);
    h.insert(
        actix_web::http::header::AUTHORIZATION,
        actix_web::http::header::HeaderValue::from_str(&auth).expect("ascii"),
    );
    h
}

#[test]
fn streaming_variants_give_a_chunked_check() {
    for mode in [
        STREAMING_SIGNED,
        STREAMING_SIGNED_TRAILER,
        STREAMING_UNSIGNED_TRAILER,
    ] {
        let h = sign_with_header(
            "PUT",
            "/bucket/key",
            &[
                ("host", "s3.amazonaws.com"),
                ("x-amz-date", "20130524T000000Z"),
                ("x-amz-content-sha256", mode),
                ("x-amz-decoded-content-length", "11"),
                ("x-amz-trailer", "x-amz-checksum-crc32"),
            ],
        );
        let check = parse_and_verify(&request("PUT", "/bucket/key", "", &h))
            .unwrap_or_else(|e| panic!("{mode}: {e}"));
        assert_eq!(check.decoded_length(), Some(11), "{mode}");
        assert!(matches!(check, PayloadCheck::Chunked(_)), "{mode}");
    }
    let h = sign_with_header(
        "PUT",
        "/bucket/key",
        &[
            ("host", "s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-content-sha256", UNSIGNED_PAYLOAD),
        ],
    );
    let check = parse_and_verify(&request("PUT", "/bucket/key", "", &h)).expect("verifies");
    assert!(matches!(check, PayloadCheck::Unchecked));
    assert_eq!(check.decoded_length(), None);
}

#[test]
fn canonical_uri_encoding() {
    assert_eq!(canonical_uri(""), "/");
    assert_eq!(canonical_uri("/bucket/a%20b"), "/bucket/a%20b");
    assert_eq!(canonical_uri("/bucket/a+b"), "/bucket/a%2Bb");
    assert_eq!(canonical_uri("/bucket/%7euser"), "/bucket/~user");
    assert_eq!(canonical_uri("/bucket/%c3%a9"), "/bucket/%C3%A9");
    assert_eq!(canonical_uri("/bucket//a/./b/../c"), "/bucket//a/./b/../c");
    assert_eq!(canonical_uri("/bucket/a%2Fb"), "/bucket/a/b");
    assert_eq!(canonical_uri("/b/!*'()"), "/b/%21%2A%27%28%29");
}

#[test]
fn canonical_query_encoding() {
    assert_eq!(canonical_query("", false), "");
    assert_eq!(canonical_query("b=2&a=1&a=0", false), "a=0&a=1&b=2");
    assert_eq!(canonical_query("prefix=a+b", false), "prefix=a%2Bb");
    assert_eq!(
        canonical_query("prefix=a%20b&delimiter=%2F", false),
        "delimiter=%2F&prefix=a%20b"
    );
    assert_eq!(canonical_query("uploads&acl=", false), "acl=&uploads=");
    assert_eq!(canonical_query("x=%7e", false), "x=~");
    // A `%` that starts no escape is a literal `%`; escapes are decoded once, not twice.
    assert_eq!(
        canonical_query("p=100%&q=%zz%4&r=%252F", false),
        "p=100%25&q=%25zz%254&r=%252F"
    );
    assert_eq!(canonical_query("k=%c3%a9/%2f", false), "k=%C3%A9%2F%2F");
    // An escaped name is the same parameter: `X-Amz-%53ignature` is not signed either.
    assert_eq!(canonical_query("X-Amz-%53ignature=abc&a=1", true), "a=1");
    assert_eq!(canonical_query("X-Amz-Signature=abc&a=1", true), "a=1");
    assert_eq!(
        canonical_query("X-Amz-Signature=abc&a=1", false),
        "X-Amz-Signature=abc&a=1"
    );
}

#[test]
fn canonical_headers_fold_values() {
    let h = headers(&[
        ("host", "h"),
        ("x-amz-meta-list", " a   b "),
        ("x-amz-meta-list", "c"),
    ]);
    let signed = vec!["x-amz-meta-list".to_owned(), "host".to_owned()];
    let canonical = canonical_request("GET", "/", "", false, &h, &signed, UNSIGNED_PAYLOAD);
    assert_eq!(
        String::from_utf8_lossy(&canonical),
        "GET\n/\n\nhost:h\nx-amz-meta-list:a b,c\n\nx-amz-meta-list;host\nUNSIGNED-PAYLOAD"
    );
}

#[test]
fn payload_hash_values() {
    assert_eq!(
        PayloadHash::parse("UNSIGNED-PAYLOAD"),
        Some(PayloadHash::Unsigned)
    );
    assert_eq!(
        PayloadHash::parse(STREAMING_UNSIGNED_TRAILER),
        Some(PayloadHash::Streaming(StreamingMode::UnsignedWithTrailer))
    );
    assert!(matches!(
        PayloadHash::parse(EMPTY),
        Some(PayloadHash::Sha256(_))
    ));
    assert_eq!(
        PayloadHash::parse("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"),
        None
    );
    assert_eq!(PayloadHash::parse(&EMPTY[1..]), None);
}

#[test]
fn anonymous_verifies_unchecked() {
    let h = headers(&[]);
    let req = request("GET", "/", "", &h);
    let check = auth::verify(&Credentials::Anonymous, &req, &secret()).expect("anonymous");
    assert!(matches!(check, PayloadCheck::Unchecked));
}
