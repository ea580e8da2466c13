//! What the fuzz targets share: a readable text form of an HTTP request, streams built from
//! fuzz bytes split where the fuzzer says, and a reference percent-decoder.
//!
//! Everything the server reads from the network arrives as bytes in pieces of any size; the
//! targets feed the real parsers the same way and check that they answer (an error is a fine
//! answer) without panicking, hanging or allocating without bound.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use bytes::Bytes;
use futures_util::stream::{self, LocalBoxStream, StreamExt};
use futures_util::FutureExt;
use libres3::s3::error::S3Error;

/// The region every target configures, as the AWS examples use.
pub const REGION: &str = "us-east-1";
/// The access key and secret of the AWS documentation examples.
pub const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// 2013-05-24T00:00:00Z, the date of the SigV4 examples in the S3 API reference.
pub fn example_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_369_353_600)
}

/// A request as the signature code sees it.
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub virtual_bucket: Option<String>,
}

impl Request {
    /// Reads `METHOD /path?query [virtual-bucket]` and then `name: value` lines (LF or CRLF).
    /// Header lines that HTTP would refuse are skipped: the server never sees them either.
    pub fn parse(data: &[u8]) -> Option<Request> {
        let mut lines = data
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let first = std::str::from_utf8(lines.next()?).ok()?;
        let mut words = first.splitn(3, ' ');
        let method = words.next()?.to_owned();
        let target = words.next().unwrap_or("/");
        let virtual_bucket = words.next().map(str::to_owned);
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut headers = HeaderMap::new();
        for line in lines {
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii_start());
            if let (Ok(name), Ok(value)) =
                (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
            {
                headers.append(name, value);
            }
        }
        Some(Request {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            virtual_bucket,
        })
    }

    pub fn signed(&self) -> libres3::s3::auth::SignedRequest<'_> {
        libres3::s3::auth::SignedRequest {
            method: &self.method,
            raw_path: &self.path,
            raw_query: &self.query,
            headers: &self.headers,
            virtual_bucket: self.virtual_bucket.as_deref(),
        }
    }

    /// The request time the request itself claims (x-amz-date, Date, X-Amz-Date or Expires),
    /// so that a mutated request still passes the clock-skew and expiry checks.
    pub fn claimed_time(&self) -> Option<SystemTime> {
        let header = |name: &str| self.headers.get(name).and_then(|v| v.to_str().ok());
        let query = |name: &str| {
            self.query
                .split('&')
                .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
        };
        use libres3::time::{parse_amz_date, parse_http_date};
        header("x-amz-date")
            .and_then(|d| parse_amz_date(d.trim()).or_else(|| parse_http_date(d)))
            .or_else(|| header("date").and_then(parse_http_date))
            .or_else(|| query("X-Amz-Date").and_then(parse_amz_date))
            .or_else(|| {
                let secs = query("Expires")?.parse::<u64>().ok()?;
                UNIX_EPOCH.checked_add(Duration::from_secs(secs))
            })
    }
}

/// The value of `name` among an error's details.
pub fn detail<'e>(e: &'e S3Error, name: &str) -> Option<&'e str> {
    e.details
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

/// Splits `data` at the offsets `cuts` names (each taken modulo the length), as a network
/// would deliver it.
pub fn pieces(data: &[u8], cuts: &[u8]) -> Vec<Vec<u8>> {
    let mut at: Vec<usize> = cuts
        .iter()
        .map(|&c| {
            if data.is_empty() {
                0
            } else {
                usize::from(c) * data.len() / 256
            }
        })
        .collect();
    at.push(data.len());
    at.sort_unstable();
    let mut out = Vec::new();
    let mut from = 0;
    for to in at {
        out.push(data[from..to].to_vec());
        from = to;
    }
    out
}

/// A request body made of `parts`.
pub fn body(parts: Vec<Vec<u8>>) -> LocalBoxStream<'static, Result<Bytes, S3Error>> {
    stream::iter(parts.into_iter().map(|p| Ok(Bytes::from(p)))).boxed_local()
}

/// Runs a future built on in-memory streams: it never waits.
pub fn ready<T>(future: impl std::future::Future<Output = T>) -> T {
    future
        .now_or_never()
        .expect("a future over in-memory streams is always ready")
}

/// Drains a stream: its data, and the error it ended with, if any. Only one error, last.
pub fn drain(
    mut stream: LocalBoxStream<'static, Result<Bytes, S3Error>>,
) -> (Vec<u8>, Option<S3Error>) {
    ready(async move {
        let mut data = Vec::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(bytes) => data.extend_from_slice(&bytes),
                Err(e) => {
                    assert!(stream.next().await.is_none(), "data after an error: {e:?}");
                    return (data, Some(e));
                }
            }
        }
        (data, None)
    })
}

/// `%XX` decoding written from RFC 3986 alone: None for a `%` not followed by two hex digits.
pub fn reference_percent_decode(s: &[u8]) -> Option<Vec<u8>> {
    let hex = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            let hi = hex(*s.get(i + 1)?)?;
            let lo = hex(*s.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Some(out)
}

pub use libres3::encoding::hex;
