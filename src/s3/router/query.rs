//! The query string decoded once, and the percent-encoding of paths and keys.

use crate::encoding::escaped_byte;
use crate::s3::error::{S3Error, S3ErrorCode};

/// The decoded query string, in the order received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Decodes `%XX` and `+` (as a space) in names and values. Invalid UTF-8 -> InvalidURI.
    pub fn parse(raw: &str) -> Result<Query, S3Error> {
        let mut params = Vec::new();
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            params.push((decode_query_part(name)?, decode_query_part(value)?));
        }
        Ok(Query(params))
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

fn decode_query_part(part: &str) -> Result<String, S3Error> {
    decode(part, true).ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::InvalidURI,
            "Couldn't parse the specified URI: bad percent-encoding in the query string.",
        )
    })
}

/// Decodes `%XX` escapes once. None when an escape is broken or the result is not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    decode(s, false)
}

/// Decodes `%XX` escapes, and a literal `+` as a space when `plus_is_space` (an escaped one,
/// `%2B`, stays a `+`), in one pass: every request decodes a dozen query names and values.
fn decode(s: &str, plus_is_space: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            // Unlike the signer's decoding, a `%` that starts no escape makes the text invalid.
            b'%' => {
                out.push(escaped_byte(bytes, i)?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Encodes everything but `A-Za-z0-9-_.~`, and `/` when `keep_slash`.
pub fn percent_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
