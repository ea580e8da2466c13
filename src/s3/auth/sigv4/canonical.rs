//! The pure SigV4 functions: canonical request, string to sign, signing key, and the AWS
//! way of encoding paths and query strings.

use std::cell::RefCell;

use actix_web::http::header::HeaderMap;
use ring::{digest, hmac};

use super::{ALGORITHM, SERVICE, TERMINATOR};
use crate::encoding::{escaped_byte, hex};
use crate::s3::auth::canonical_header_value;
use crate::store::SecretKey;

/// Signing keys one thread keeps: a client signs a whole day's requests with one key, and
/// deriving it takes four HMAC computations (2.6 % of a small GET's CPU).
const RECENT_SIGNING_KEYS: usize = 8;

/// A signing key with what it was derived from.
type Derived = (SecretKey, String, String, hmac::Key);

thread_local! {
    /// The signing keys this thread derived last, the newest at the end.
    static RECENT: RefCell<Vec<Derived>> = const { RefCell::new(Vec::new()) };
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), "s3"), "aws4_request")`,
/// derived once per thread for the last few (secret, date, region).
pub fn signing_key(secret: &SecretKey, date: &str, region: &str) -> hmac::Key {
    RECENT.with(|cell| {
        let mut recent = cell.borrow_mut();
        let known = recent
            .iter()
            .find(|(s, d, r, _)| s == secret && d == date && r == region);
        if let Some((_, _, _, key)) = known {
            return key.clone();
        }
        let key = derive_signing_key(secret, date, region);
        if recent.len() == RECENT_SIGNING_KEYS {
            recent.remove(0);
        }
        recent.push((
            secret.clone(),
            date.to_owned(),
            region.to_owned(),
            key.clone(),
        ));
        key
    })
}

fn derive_signing_key(secret: &SecretKey, date: &str, region: &str) -> hmac::Key {
    let mut key_material = Vec::with_capacity(4 + secret.expose().len());
    key_material.extend_from_slice(b"AWS4");
    key_material.extend_from_slice(secret.expose().as_bytes());
    let mut key = hmac::Key::new(hmac::HMAC_SHA256, &key_material);
    for part in [date, region, SERVICE, TERMINATOR] {
        let tag = hmac::sign(&key, part.as_bytes());
        key = hmac::Key::new(hmac::HMAC_SHA256, tag.as_ref());
    }
    key
}

/// `AWS4-HMAC-SHA256\n<amz date>\n<scope>\n<hex sha256(canonical request)>`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    let hash = digest::digest(&digest::SHA256, canonical_request);
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", hex(hash.as_ref()))
}

/// The canonical request, as bytes: header values need not be UTF-8.
pub fn canonical_request(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    presigned: bool,
    headers: &HeaderMap,
    signed_headers: &[String],
    payload_line: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri(raw_path).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query(raw_query, presigned).as_bytes());
    out.push(b'\n');
    let mut sorted: Vec<&String> = signed_headers.iter().collect();
    sorted.sort();
    for name in sorted {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(&canonical_header_value(headers, name));
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(signed_headers.join(";").as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload_line.as_bytes());
    out
}

/// The path decoded once and encoded the AWS way. S3 does not normalise `//`, `.` or `..`.
pub fn canonical_uri(raw_path: &str) -> String {
    if raw_path.is_empty() {
        return "/".to_owned();
    }
    reencode(raw_path, false)
}

/// Parameters decoded once, encoded the AWS way, sorted by name then value. A presigned
/// URL's `X-Amz-Signature` is not part of what it signs.
pub fn canonical_query(raw_query: &str, presigned: bool) -> String {
    let mut params: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|part| !part.is_empty())
        .filter_map(|part| {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            // The encoding is one-to-one: this is the test of the decoded name.
            let name = reencode(name, true);
            if presigned && name == "X-Amz-Signature" {
                return None;
            }
            Some((name, reencode(value, true)))
        })
        .collect();
    params.sort();
    let mut out = String::with_capacity(raw_query.len() + 16);
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// `raw` with its `%XX` escapes decoded once (as [`crate::s3::auth::percent_decode`] does),
/// then encoded the AWS way: `A-Za-z0-9-_.~` (and `/` in paths) stay, every other byte
/// becomes `%XX`, upper case. One pass and one allocation: a request encodes a dozen of these.
fn reencode(raw: &str, encode_slash: bool) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(bytes.len() * 3 / 2);
    let mut i = 0;
    while i < bytes.len() {
        let (b, width) = match escaped_byte(bytes, i) {
            Some(byte) => (byte, 3),
            None => (bytes[i], 1),
        };
        i += width;
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (b == b'/' && !encode_slash);
        if keep {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(DIGITS[usize::from(b >> 4)] as char);
            out.push(DIGITS[usize::from(b & 0xf)] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(key: &hmac::Key) -> Vec<u8> {
        hmac::sign(key, b"message").as_ref().to_vec()
    }

    /// The remembered keys are the derived ones, for each (secret, date, region), also once
    /// older ones were forgotten.
    #[test]
    fn remembered_signing_keys_match_derived_ones() {
        let secrets = ["one", "two"].map(|s| SecretKey::new(s.into()));
        for round in 0..3 {
            for day in 0..(RECENT_SIGNING_KEYS + 2) {
                for secret in &secrets {
                    for region in ["us-east-1", "eu-west-1"] {
                        let date = format!("201305{day:02}");
                        assert_eq!(
                            tag(&signing_key(secret, &date, region)),
                            tag(&derive_signing_key(secret, &date, region)),
                            "round {round}, {date}, {region}"
                        );
                    }
                }
            }
        }
        let first = SecretKey::new("one".into());
        let second = SecretKey::new("two".into());
        assert_ne!(
            tag(&signing_key(&first, "20130524", "us-east-1")),
            tag(&signing_key(&second, "20130524", "us-east-1"))
        );
    }
}
