//! Request authentication: AWS Signature Version 4 and 2.
//!
//! [`parse`] reads what a request claims (who, when, which scope) and checks everything that
//! needs no secret; the dispatcher then looks the access key up and calls [`verify`] with the
//! user's secret. A successful [`verify`] says how the body must be checked while it streams
//! ([`PayloadCheck::wrap`]).

pub mod chunked;
pub mod sigv2;
pub mod sigv4;

use std::time::{Duration, SystemTime};

use actix_web::http::header::HeaderMap;
use bytes::Bytes;

use crate::encoding::{escaped_byte, hex};
use futures_util::stream::{self, LocalBoxStream, StreamExt};
use ring::digest;

use crate::s3::error::{S3Error, S3ErrorCode};
use crate::store::SecretKey;

/// The largest difference between a request's date and our clock (AWS: 15 minutes).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// The parts of an HTTP request a signature covers.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path exactly as received, still percent-encoded, e.g. `/bucket/a%20b`.
    pub raw_path: &'a str,
    /// The query string without `?`, exactly as received.
    pub raw_query: &'a str,
    pub headers: &'a HeaderMap,
    /// The bucket named by the Host header (virtual-hosted style); SigV2's resource needs it.
    pub virtual_bucket: Option<&'a str>,
}

/// Who a request claims to come from, and how it is signed.
#[derive(Debug)]
pub enum Credentials {
    Anonymous,
    V4(sigv4::V4Credentials),
    V2(sigv2::V2Credentials),
}

impl Credentials {
    pub fn access_key(&self) -> Option<&str> {
        match self {
            Credentials::Anonymous => None,
            Credentials::V4(v4) => Some(v4.access_key()),
            Credentials::V2(v2) => Some(v2.access_key()),
        }
    }

    /// How the request was signed, as policy conditions see it.
    pub fn signature(&self) -> crate::s3::access::conditions::Signature {
        use crate::s3::access::conditions::Signature;
        match self {
            Credentials::Anonymous => Signature::None,
            Credentials::V4(v4) => Signature::V4 {
                presigned: v4.is_presigned(),
                signed_at: v4.signed_at(),
            },
            Credentials::V2(v2) => Signature::V2 {
                presigned: v2.is_presigned(),
            },
        }
    }
}

/// Reads the Authorization header or the presigned query parameters and checks their form,
/// algorithm, scope (service `s3`, our `region`, a date matching the request date), clock skew
/// and expiry. Needs no secret.
/// A canonical request or string to sign as a trace line may show it: the values of SSE-C
/// key headers (signed like any other header) replaced, so a key never reaches a log.
pub fn without_secrets(text: &str) -> String {
    text.lines()
        .map(|line| match line.split_once(':') {
            Some((name, _)) if name.ends_with("server-side-encryption-customer-key") => {
                format!("{name}:<not logged>")
            }
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn parse(req: &SignedRequest, now: SystemTime, region: &str) -> Result<Credentials, S3Error> {
    let authorization = match req.headers.get(actix_web::http::header::AUTHORIZATION) {
        Some(value) => Some(value.to_str().map_err(|_| {
            S3Error::new(
                S3ErrorCode::AuthorizationHeaderMalformed,
                "The authorization header is malformed; it is not valid ASCII.",
            )
        })?),
        None => None,
    };
    let query = QueryParams::parse(req.raw_query);
    let v4_query = query.get("X-Amz-Algorithm").is_some()
        || query.get("X-Amz-Credential").is_some()
        || query.get("X-Amz-Signature").is_some();
    let v2_query = query.get("AWSAccessKeyId").is_some() || query.get("Signature").is_some();

    let mechanisms =
        usize::from(authorization.is_some()) + usize::from(v4_query) + usize::from(v2_query);
    if mechanisms > 1 {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
             Signature query string parameter or the Authorization header should be specified",
        )
        .with_detail("ArgumentName", "Authorization"));
    }

    if let Some(authorization) = authorization {
        let scheme = authorization.split(' ').next().unwrap_or_default();
        return match scheme {
            sigv4::ALGORITHM => {
                sigv4::parse_header(req, authorization, now, region).map(Credentials::V4)
            }
            "AWS" => sigv2::parse_header(req, authorization, now).map(Credentials::V2),
            _ => Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "Unsupported Authorization Type",
            )
            .with_detail("ArgumentName", "Authorization")
            .with_detail("ArgumentValue", scheme.to_owned())),
        };
    }
    if v4_query {
        return sigv4::parse_presigned(req, &query, now, region).map(Credentials::V4);
    }
    if v2_query {
        return sigv2::parse_query(&query, now).map(Credentials::V2);
    }
    Ok(Credentials::Anonymous)
}

/// Checks the signature with the user's secret, in constant time. Anonymous requests need no
/// check and get [`PayloadCheck::Unchecked`].
pub fn verify(
    creds: &Credentials,
    req: &SignedRequest,
    secret: &SecretKey,
) -> Result<PayloadCheck, S3Error> {
    match creds {
        Credentials::Anonymous => Ok(PayloadCheck::Unchecked),
        Credentials::V4(v4) => sigv4::verify(v4, req, secret),
        Credentials::V2(v2) => sigv2::verify(v2, req, secret).map(|()| PayloadCheck::Unchecked),
    }
}

/// How the request body must be checked once the headers are verified.
#[derive(Debug)]
pub enum PayloadCheck {
    /// SigV2, presigned URLs, `UNSIGNED-PAYLOAD`.
    Unchecked,
    /// The SHA-256 declared by `x-amz-content-sha256`, verified at the end of the stream.
    Sha256([u8; 32]),
    /// An aws-chunked body (`STREAMING-*`).
    Chunked(chunked::ChunkedBody),
}

impl PayloadCheck {
    /// Wraps the raw request body: decodes aws-chunked (yielding each chunk's data only after
    /// its signature verified) or checks the declared SHA-256 at the end of the stream
    /// (`XAmzContentSHA256Mismatch`). Memory stays bounded by one chunk.
    pub fn wrap(
        self,
        body: LocalBoxStream<'static, Result<Bytes, S3Error>>,
    ) -> LocalBoxStream<'static, Result<Bytes, S3Error>> {
        match self {
            PayloadCheck::Unchecked => body,
            PayloadCheck::Sha256(declared) => sha256_checked(body, declared),
            PayloadCheck::Chunked(chunked) => chunked.decode(body),
        }
    }

    /// The length of the decoded body when the request says it (`x-amz-decoded-content-length`
    /// for aws-chunked), else None: the caller uses Content-Length.
    pub fn decoded_length(&self) -> Option<u64> {
        match self {
            PayloadCheck::Chunked(chunked) => Some(chunked.decoded_length()),
            PayloadCheck::Unchecked | PayloadCheck::Sha256(_) => None,
        }
    }
}

/// Passes the body through while hashing it; fails at the end if the hash differs.
fn sha256_checked(
    body: LocalBoxStream<'static, Result<Bytes, S3Error>>,
    declared: [u8; 32],
) -> LocalBoxStream<'static, Result<Bytes, S3Error>> {
    struct State {
        body: LocalBoxStream<'static, Result<Bytes, S3Error>>,
        hasher: Option<digest::Context>,
    }
    let state = State {
        body,
        hasher: Some(digest::Context::new(&digest::SHA256)),
    };
    stream::unfold(state, move |mut state| async move {
        // `hasher` is None once the stream has ended or failed.
        let hasher = state.hasher.as_mut()?;
        match state.body.next().await {
            Some(Ok(bytes)) => {
                hasher.update(&bytes);
                Some((Ok(bytes), state))
            }
            Some(Err(e)) => {
                state.hasher = None;
                Some((Err(e), state))
            }
            None => {
                let computed = state.hasher.take()?.finish();
                if computed.as_ref() == declared {
                    None
                } else {
                    let e = S3Error::new(
                        S3ErrorCode::XAmzContentSHA256Mismatch,
                        "The provided 'x-amz-content-sha256' header does not match what was computed.",
                    )
                    .with_detail("ClientComputedContentSHA256", hex(&declared))
                    .with_detail("S3ComputedContentSHA256", hex(computed.as_ref()));
                    Some((Err(e), state))
                }
            }
        }
    })
    .boxed_local()
}

/// Query parameters, percent-decoded once (`+` stays a literal `+`, as AWS signs it).
pub(crate) struct QueryParams {
    /// (name, value), decoded, in the order received. Names or values that are not UTF-8 are
    /// kept lossily: only the authentication parameters are read from here.
    params: Vec<(String, Option<String>)>,
}

impl QueryParams {
    pub(crate) fn parse(raw_query: &str) -> QueryParams {
        let params = raw_query
            .split('&')
            .filter(|part| !part.is_empty())
            .map(|part| match part.split_once('=') {
                Some((name, value)) => (decode_lossy(name), Some(decode_lossy(value))),
                None => (decode_lossy(part), None),
            })
            .collect();
        QueryParams { params }
    }

    /// The first value of `name` (an empty string for a name without `=`).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }
}

fn decode_lossy(encoded: &str) -> String {
    // One allocation for the usual UTF-8 (from_utf8_lossy would copy it again).
    String::from_utf8(percent_decode(encoded))
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Decodes `%XX` escapes only. A `%` not followed by two hex digits stays literal, as the
/// client's signer saw it.
pub(crate) fn percent_decode(encoded: &str) -> Vec<u8> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match escaped_byte(bytes, i) {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// All values of a header, trimmed, with inner runs of spaces collapsed, joined by `,`.
/// Works on bytes: metadata values are not always ASCII.
pub(crate) fn canonical_header_value(headers: &HeaderMap, name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, value) in headers.get_all(name).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mut pending_space = false;
        for &b in value.as_bytes().trim_ascii() {
            if b == b' ' || b == b'\t' {
                pending_space = true;
                continue;
            }
            if pending_space {
                out.push(b' ');
                pending_space = false;
            }
            out.push(b);
        }
    }
    out
}

/// The value of a single-valued header as text, if present and visible ASCII.
pub(crate) fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

pub(crate) fn signature_does_not_match() -> S3Error {
    S3Error::new(
        S3ErrorCode::SignatureDoesNotMatch,
        "The request signature we calculated does not match the signature you provided. \
         Check your key and signing method.",
    )
}

pub(crate) fn missing_date() -> S3Error {
    S3Error::new(
        S3ErrorCode::AccessDenied,
        "AWS authentication requires a valid Date or x-amz-date header",
    )
}

/// `RequestTimeTooSkewed` when `request_time` is more than 15 minutes away from `now`.
pub(crate) fn check_skew(
    request_time: SystemTime,
    raw_request_time: &str,
    now: SystemTime,
) -> Result<(), S3Error> {
    let skew = match now.duration_since(request_time) {
        Ok(behind) => behind,
        Err(ahead) => ahead.duration(),
    };
    if skew > MAX_CLOCK_SKEW {
        return Err(request_time_too_skewed(raw_request_time, now));
    }
    Ok(())
}

pub(crate) fn request_time_too_skewed(raw_request_time: &str, now: SystemTime) -> S3Error {
    S3Error::new(
        S3ErrorCode::RequestTimeTooSkewed,
        "The difference between the request time and the current time is too large.",
    )
    .with_detail("RequestTime", raw_request_time.to_owned())
    .with_detail("ServerTime", crate::time::iso8601(now))
    .with_detail(
        "MaxAllowedSkewMilliseconds",
        MAX_CLOCK_SKEW.as_millis().to_string(),
    )
}

/// Headers that must be signed but were not: `host` and every `x-amz-*` present.
pub(crate) fn unsigned_required_headers<'h>(
    headers: &'h HeaderMap,
    signed: &[String],
) -> Vec<&'h str> {
    let is_signed = |name: &str| signed.iter().any(|s| s == name);
    let mut missing: Vec<&str> = headers
        .keys()
        .map(|name| name.as_str())
        .filter(|name| (*name == "host" || name.starts_with("x-amz-")) && !is_signed(name))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    missing
}

#[cfg(test)]
pub(crate) mod test_support {
    use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

    pub const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
    pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    pub fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("test header name"),
                HeaderValue::from_str(value).expect("test header value"),
            );
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn sse_c_keys_never_reach_a_trace() {
        let text = "PUT\n/b/k\n\nhost:h\nx-amz-server-side-encryption-customer-key:c2VjcmV0\n\
                    x-amz-copy-source-server-side-encryption-customer-key:c2VjcmV0\n\
                    x-amz-server-side-encryption-customer-key-md5:bWQ1";
        let shown = without_secrets(text);
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
        assert!(
            shown.contains("host:h") && shown.contains("-key-md5:bWQ1"),
            "{shown}"
        );
    }
    use crate::encoding::unhex_array;
    use futures_util::FutureExt;

    #[test]
    fn percent_decoding_keeps_plus_and_stray_percent() {
        assert_eq!(percent_decode("a%20b+c"), b"a b+c");
        assert_eq!(percent_decode("%2f%2F"), b"//");
        assert_eq!(percent_decode("100%"), b"100%");
        assert_eq!(percent_decode("%zz%4"), b"%zz%4");
        assert_eq!(percent_decode("%C3%A9"), "é".as_bytes());
        let query = QueryParams::parse("X-Amz-Date=%C3%A9&bad=%FFx&flag");
        assert_eq!(query.get("X-Amz-Date"), Some("é"));
        assert_eq!(query.get("bad"), Some("\u{FFFD}x"));
        assert_eq!(query.get("flag"), Some(""));
    }

    #[test]
    fn header_values_are_trimmed_collapsed_and_joined() {
        let h = headers(&[("x-amz-meta-a", "  one   two "), ("x-amz-meta-a", "three")]);
        assert_eq!(canonical_header_value(&h, "x-amz-meta-a"), b"one two,three");
    }

    #[test]
    fn anonymous_when_nothing_is_signed() {
        let h = headers(&[("host", "example.com")]);
        let req = SignedRequest {
            method: "GET",
            raw_path: "/bucket/key",
            raw_query: "prefix=a",
            headers: &h,
            virtual_bucket: None,
        };
        let creds = parse(&req, SystemTime::now(), "us-east-1");
        assert!(matches!(creds, Ok(Credentials::Anonymous)));
    }

    #[test]
    fn two_mechanisms_are_refused() {
        let h = headers(&[("authorization", "AWS AK:c2ln")]);
        let req = SignedRequest {
            method: "GET",
            raw_path: "/bucket/key",
            raw_query: "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            headers: &h,
            virtual_bucket: None,
        };
        let err = parse(&req, SystemTime::now(), "us-east-1").unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidArgument);
    }

    #[test]
    fn unknown_schemes_are_refused() {
        let h = headers(&[("authorization", "Bearer abc")]);
        let req = SignedRequest {
            method: "GET",
            raw_path: "/",
            raw_query: "",
            headers: &h,
            virtual_bucket: None,
        };
        let err = parse(&req, SystemTime::now(), "us-east-1").unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidArgument);
    }

    fn body_of(parts: &[&'static [u8]]) -> LocalBoxStream<'static, Result<Bytes, S3Error>> {
        let parts: Vec<Result<Bytes, S3Error>> =
            parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        stream::iter(parts).boxed_local()
    }

    fn collect(s: LocalBoxStream<'static, Result<Bytes, S3Error>>) -> Vec<Result<Bytes, S3Error>> {
        s.collect::<Vec<_>>()
            .now_or_never()
            .expect("test streams are always ready")
    }

    #[test]
    fn declared_sha256_is_checked_at_the_end() {
        // SHA-256 of "Welcome to Amazon S3." (the PUT example of the SigV4 documentation).
        let declared =
            unhex_array("44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
                .expect("hex");
        let ok =
            collect(PayloadCheck::Sha256(declared).wrap(body_of(&[b"Welcome to ", b"Amazon S3."])));
        assert_eq!(ok.len(), 2);
        assert!(ok.iter().all(Result::is_ok));

        let bad =
            collect(PayloadCheck::Sha256(declared).wrap(body_of(&[b"Welcome to ", b"Amazon S4."])));
        assert_eq!(bad.len(), 3);
        let err = bad
            .into_iter()
            .last()
            .and_then(Result::err)
            .expect("an error at the end");
        assert_eq!(err.code, S3ErrorCode::XAmzContentSHA256Mismatch);
    }

    #[test]
    fn unchecked_passes_through() {
        let out = collect(PayloadCheck::Unchecked.wrap(body_of(&[b"abc"])));
        assert_eq!(out.len(), 1);
        assert_eq!(PayloadCheck::Unchecked.decoded_length(), None);
    }
}
