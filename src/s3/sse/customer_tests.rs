//! Each case follows "Specifying server-side encryption with customer-provided keys (SSE-C)"
//! in the Amazon S3 User Guide and the error table of the API reference ("Error responses").

use std::collections::HashMap;

use super::*;

/// The bytes 0..32 and their MD5, both base64 (computed with Python's hashlib).
const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const KEY_MD5: &str = "tP/LI3N87DFaSk0aoqYgzg==";

fn key_bytes() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

/// Checks the headers `(suffix, value)` under `prefix`.
fn check(prefix: &str, headers: &[(&str, &str)]) -> Result<Option<CustomerKey>, S3Error> {
    let map: HashMap<String, String> = headers
        .iter()
        .map(|(suffix, value)| (format!("{prefix}{suffix}"), value.to_string()))
        .collect();
    customer_key(|name| map.get(name).cloned(), prefix)
}

fn full() -> Vec<(&'static str, &'static str)> {
    vec![("algorithm", "AES256"), ("key", KEY), ("key-MD5", KEY_MD5)]
}

fn error(headers: &[(&str, &str)]) -> S3Error {
    check(PREFIX, headers).expect_err("refused")
}

fn argument_name(e: &S3Error) -> Option<&str> {
    e.details
        .iter()
        .find(|(name, _)| *name == "ArgumentName")
        .map(|(_, value)| value.as_str())
}

#[test]
fn no_headers_is_no_customer_key() {
    assert!(check(PREFIX, &[]).expect("fine").is_none());
    // The copy-source headers are another set.
    assert!(check(COPY_SOURCE_PREFIX, &[]).expect("fine").is_none());
}

#[test]
fn a_full_set_gives_the_key() {
    for prefix in [PREFIX, COPY_SOURCE_PREFIX] {
        let key = check(prefix, &full()).expect("valid").expect("present");
        assert_eq!(key.key, key_bytes());
        assert_eq!(key.key_md5, KEY_MD5);
        assert!(!format!("{key:?}").contains(KEY), "Debug shows the key");
    }
    // The destination's headers do not count for the source and the reverse.
    let map: HashMap<String, String> = full()
        .into_iter()
        .map(|(s, v)| (format!("{PREFIX}{s}"), v.to_owned()))
        .collect();
    let source = customer_key(|name| map.get(name).cloned(), COPY_SOURCE_PREFIX);
    assert!(source.expect("fine").is_none());
}

#[test]
fn a_missing_key_is_invalid_argument() {
    for headers in [
        vec![("algorithm", "AES256")],
        vec![("algorithm", "AES256"), ("key-MD5", KEY_MD5)],
        vec![("key-MD5", KEY_MD5)],
    ] {
        let e = error(&headers);
        assert_eq!(e.code, S3ErrorCode::InvalidArgument);
        assert_eq!(e.code.status().as_u16(), 400);
        assert_eq!(
            e.message,
            "Requests specifying Server Side Encryption with Customer provided keys must \
             provide an appropriate secret key."
        );
        assert_eq!(
            argument_name(&e),
            Some("x-amz-server-side-encryption-customer-key")
        );
    }
}

#[test]
fn a_missing_key_md5_is_invalid_argument() {
    let e = error(&[("algorithm", "AES256"), ("key", KEY)]);
    assert_eq!(e.code, S3ErrorCode::InvalidArgument);
    assert_eq!(
        e.message,
        "Requests specifying Server Side Encryption with Customer provided keys must provide \
         the client calculated MD5 of the secret key."
    );
    assert_eq!(
        argument_name(&e),
        Some("x-amz-server-side-encryption-customer-key-MD5")
    );
}

#[test]
fn a_missing_algorithm_is_invalid_argument() {
    let e = error(&[("key", KEY), ("key-MD5", KEY_MD5)]);
    assert_eq!(e.code, S3ErrorCode::InvalidArgument);
    assert_eq!(
        e.message,
        "Requests specifying Server Side Encryption with Customer provided keys must provide \
         a valid encryption algorithm."
    );
}

#[test]
fn another_algorithm_is_invalid_encryption_algorithm() {
    for algorithm in ["aws:kms", "aes256", "AES128", ""] {
        let e = error(&[("algorithm", algorithm), ("key", KEY), ("key-MD5", KEY_MD5)]);
        assert_eq!(
            e.code,
            S3ErrorCode::InvalidEncryptionAlgorithmError,
            "{algorithm}"
        );
        assert_eq!(e.code.status().as_u16(), 400);
        assert_eq!(
            e.message,
            "The encryption request you specified is not valid. The valid value is AES256."
        );
    }
}

#[test]
fn a_key_that_is_not_32_bytes_is_invalid_argument() {
    // 31 bytes, 33 bytes, not base64.
    for key in [
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g",
        "not base64!",
    ] {
        let e = error(&[("algorithm", "AES256"), ("key", key), ("key-MD5", KEY_MD5)]);
        assert_eq!(e.code, S3ErrorCode::InvalidArgument, "{key}");
        assert_eq!(
            e.message,
            "The secret key was invalid for the specified algorithm."
        );
        let text = e.to_xml("/b/k", "id");
        assert!(!text.contains(key), "the key is echoed: {text}");
    }
}

#[test]
fn a_key_md5_that_is_not_base64_of_16_bytes_is_invalid_argument() {
    for md5 in ["not base64!", "AAEC"] {
        let e = error(&[("algorithm", "AES256"), ("key", KEY), ("key-MD5", md5)]);
        assert_eq!(e.code, S3ErrorCode::InvalidArgument, "{md5}");
        assert!(e.message.contains("improperly encoded"), "{}", e.message);
    }
}

#[test]
fn a_wrong_key_md5_is_invalid_argument() {
    let other_md5 = "1B2M2Y8AsgTpgAmY7PhCfg=="; // MD5 of nothing
    let e = error(&[
        ("algorithm", "AES256"),
        ("key", KEY),
        ("key-MD5", other_md5),
    ]);
    assert_eq!(e.code, S3ErrorCode::InvalidArgument);
    assert_eq!(
        e.message,
        "The calculated MD5 hash of the key did not match the hash that was provided."
    );
    assert_eq!(
        argument_name(&e),
        Some("x-amz-server-side-encryption-customer-key-MD5")
    );
    // The same checks for a copy source name its headers.
    let e = check(
        COPY_SOURCE_PREFIX,
        &[
            ("algorithm", "AES256"),
            ("key", KEY),
            ("key-MD5", other_md5),
        ],
    )
    .expect_err("refused");
    assert_eq!(
        argument_name(&e),
        Some("x-amz-copy-source-server-side-encryption-customer-key-MD5")
    );
}

#[test]
fn the_fingerprint_is_a_salted_hmac() {
    // HMAC-SHA256(key = "salt", message = bytes 0..32), from Python's hmac module.
    let expected = "tfaMYrKAr79u0BfhZ8vKWUnIBeevt+24cY9uQVdHQyY=";
    assert_eq!(key_fingerprint(&key_bytes(), b"salt"), expected);
    assert_ne!(key_fingerprint(&key_bytes(), b"other salt"), expected);
    assert!(key_matches(&key_bytes(), b"salt", expected));
    assert!(!key_matches(&[0; 32], b"salt", expected));
    assert!(!key_matches(&key_bytes(), b"other salt", expected));
    assert!(!key_matches(&key_bytes(), b"salt", "not base64!"));
}
