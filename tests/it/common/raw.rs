//! A raw S3 client: HTTP/1.1 spoken by hand over a `TcpStream`, with its own
//! SigV4 (header, presigned, aws-chunked) and SigV2 (header, query) signers built
//! on `ring` and `base64`. It shares no code with the server, so a bug in the
//! server's verifier cannot be mirrored here. It exists for what stock clients
//! never send: broken signatures, skewed clocks, odd keys, malformed bodies.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use base64::Engine as _;
use ring::{digest, hmac};

use super::{hex, now_secs, parse_xml};

pub const REGION: &str = "us-east-1";
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[derive(Clone, Debug)]
pub struct Creds {
    pub access: String,
    pub secret: String,
}

impl Creds {
    pub fn new(access: &str, secret: &str) -> Creds {
        Creds {
            access: access.into(),
            secret: secret.into(),
        }
    }
}

/// How a request is authenticated.
#[derive(Clone, Debug, PartialEq)]
pub enum Auth {
    /// No credentials at all.
    Anonymous,
    /// SigV4 `Authorization` header, payload hash signed (or the declared
    /// `x-amz-content-sha256` header when the test set one).
    V4,
    /// SigV4 header with `x-amz-content-sha256: UNSIGNED-PAYLOAD`.
    V4Unsigned,
    /// SigV4 presigned URL valid for this many seconds.
    V4Presigned { expires: u64 },
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` with chunks of this size.
    V4Chunked { chunk_size: usize },
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: unsigned aws-chunked body with an
    /// `x-amz-checksum-crc32` trailer, as recent SDKs send it.
    V4UnsignedTrailer { chunk_size: usize },
    /// SigV2 `Authorization: AWS key:sig` header.
    V2,
    /// SigV2 query string (`AWSAccessKeyId`, `Expires`, `Signature`).
    V2Query { expires_in: i64 },
}

/// Deliberate damage done to an otherwise valid request.
#[derive(Clone, Debug, Default)]
pub struct Tamper {
    /// Change one character of the request signature.
    pub signature: bool,
    /// Change one character of the signature of this chunk (0-based; the final
    /// empty chunk is index `n_chunks`).
    pub chunk_signature: Option<usize>,
    /// Change one byte of this chunk's data after signing it.
    pub chunk_data: Option<usize>,
    /// Sign for this region instead of `REGION`.
    pub region: Option<&'static str>,
    /// Declare this `x-amz-decoded-content-length` instead of the real one.
    pub decoded_length: Option<usize>,
    /// Send this trailer checksum instead of the real CRC32.
    pub trailer_checksum: Option<&'static str>,
    /// Announce this in `x-amz-trailer` instead of `x-amz-checksum-crc32` ("": no header).
    pub trailer_declared: Option<&'static str>,
    /// Add this header after signing (SigV4 header auth).
    pub unsigned_header: Option<(&'static str, &'static str)>,
}

/// S3's URI encoding: everything but `A-Za-z0-9-._~` (and `/` when `keep_slash`).
pub fn uri_encode(s: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        if unreserved || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (and nothing else).
pub fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The request path of an object: `/bucket/<key URI-encoded, slashes kept>`.
pub fn obj_path(bucket: &str, key: &str) -> String {
    format!("/{bucket}/{}", uri_encode(key.as_bytes(), true))
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, data).as_ref())
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key);
    hmac::sign(&k, data).as_ref().to_vec()
}

fn hmac_sha1_b64(key: &[u8], data: &[u8]) -> String {
    let k = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    base64::engine::general_purpose::STANDARD.encode(hmac::sign(&k, data).as_ref())
}

/// Civil date and time (UTC) of a Unix time: (year, month, day, h, m, s, weekday 0=Sunday).
fn civil(t: i64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Howard Hinnant's days_from_civil, inverted.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    let weekday = (days + 4).rem_euclid(7) as u32; // 1970-01-01 was a Thursday
    (
        y,
        m,
        d,
        (secs / 3600) as u32,
        (secs / 60 % 60) as u32,
        (secs % 60) as u32,
        weekday,
    )
}

/// `20130524T000000Z`
pub fn amz_date(t: i64) -> String {
    let (y, mo, d, h, mi, s, _) = civil(t);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// `Fri, 24 May 2013 00:00:00 GMT`
pub fn http_date(t: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s, wd) = civil(t);
    format!(
        "{}, {d:02} {} {y:04} {h:02}:{mi:02}:{s:02} GMT",
        DAYS[wd as usize],
        MONTHS[mo as usize - 1]
    )
}

/// CRC-32 (IEEE 802.3), as `x-amz-checksum-crc32` uses it.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The SigV4 signing key for a day.
fn signing_key(secret: &str, date: &str, region: &str) -> Vec<u8> {
    let k = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac_sha256(&k, region.as_bytes());
    let k = hmac_sha256(&k, b"s3");
    hmac_sha256(&k, b"aws4_request")
}

/// Flips one character of a hex or base64 signature.
fn damage(sig: &str) -> String {
    let mut c: Vec<char> = sig.chars().collect();
    let i = c.len() / 2;
    c[i] = if c[i] == '0' { '1' } else { '0' };
    c.into_iter().collect()
}

/// A signed request, ready to be sent.
#[derive(Debug)]
pub struct Prepared {
    pub method: String,
    /// Path and query as on the request line.
    pub target: String,
    pub host: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Prepared {
    /// The request line and headers as sent (`Connection: close`), without the body.
    pub fn head(&self) -> String {
        request_head(
            &self.method,
            &self.target,
            &self.host,
            &self.headers,
            self.body.len(),
        )
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A response read to EOF (requests are sent with `Connection: close`).
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// `METHOD target` of the request, for messages.
    pub request: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts a 2xx status, showing the body otherwise.
    #[track_caller]
    pub fn ok(self) -> Response {
        assert!(
            (200..300).contains(&self.status),
            "{} answered {} (expected 2xx):\n{}",
            self.request,
            self.status,
            self.text()
        );
        self
    }

    #[track_caller]
    pub fn status(self, status: u16) -> Response {
        assert_eq!(
            self.status,
            status,
            "{}: unexpected status; body:\n{}",
            self.request,
            self.text()
        );
        self
    }

    /// Asserts an S3 error: status, a well-formed `<Error>` document with this
    /// Code, a Message, a Resource and a RequestId, and the `x-amz-request-id`
    /// header carrying the same id. For HEAD, asserts the body is empty.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        let text = self.text();
        assert_eq!(
            self.status, status,
            "{}: expected {status} {code}, got {}:\n{text}",
            self.request, self.status
        );
        if self.request.starts_with("HEAD ") {
            assert!(
                self.body.is_empty(),
                "{}: an error to HEAD must have no body, got:\n{text}",
                self.request
            );
            return;
        }
        let doc = parse_xml(&text);
        let root = doc.root_element();
        assert_eq!(
            root.tag_name().name(),
            "Error",
            "{}: root element is not <Error>:\n{text}",
            self.request
        );
        let child = |name: &str| {
            root.children()
                .find(|c| c.is_element() && c.tag_name().name() == name)
                .map(|c| c.text().unwrap_or("").to_string())
        };
        assert_eq!(
            child("Code").as_deref(),
            Some(code),
            "{}: wrong <Code>:\n{text}",
            self.request
        );
        assert!(
            child("Message").is_some(),
            "{}: no <Message>:\n{text}",
            self.request
        );
        assert!(
            child("Resource").is_some(),
            "{}: no <Resource>:\n{text}",
            self.request
        );
        let id = child("RequestId").unwrap_or_default();
        assert!(!id.is_empty(), "{}: no <RequestId>:\n{text}", self.request);
        assert_eq!(
            self.header("x-amz-request-id"),
            Some(id.as_str()),
            "{}: x-amz-request-id header should carry the RequestId",
            self.request
        );
        let ct = self.header("content-type").unwrap_or("");
        assert!(
            ct.contains("xml"),
            "{}: error Content-Type should be XML, got {ct:?}",
            self.request
        );
    }

    /// The `<Code>` of an error body, if any.
    pub fn error_code(&self) -> Option<String> {
        roxmltree::Document::parse(&self.text()).ok().and_then(|d| {
            d.descendants()
                .find(|n| n.has_tag_name("Code"))
                .and_then(|n| n.text().map(str::to_string))
        })
    }
}

/// A client speaking to one server as one user.
#[derive(Clone)]
pub struct RawClient {
    pub addr: SocketAddr,
    pub creds: Creds,
}

impl RawClient {
    pub fn new(addr: SocketAddr, creds: Creds) -> RawClient {
        RawClient { addr, creds }
    }

    pub fn with_creds(&self, creds: Creds) -> RawClient {
        RawClient {
            addr: self.addr,
            creds,
        }
    }

    pub fn req(&self, method: &str, path: &str) -> Req<'_> {
        Req {
            client: self,
            method: method.into(),
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
            auth: Auth::V4,
            host: None,
            time: now_secs(),
            tamper: Tamper::default(),
            creds: None,
            vhost_bucket: None,
        }
    }

    pub fn get(&self, path: &str) -> Req<'_> {
        self.req("GET", path)
    }
    pub fn put(&self, path: &str) -> Req<'_> {
        self.req("PUT", path)
    }
    pub fn head(&self, path: &str) -> Req<'_> {
        self.req("HEAD", path)
    }
    pub fn delete(&self, path: &str) -> Req<'_> {
        self.req("DELETE", path)
    }
    pub fn post(&self, path: &str) -> Req<'_> {
        self.req("POST", path)
    }

    /// Creates a bucket, asserting success.
    pub fn create_bucket(&self, bucket: &str) {
        self.put(&format!("/{bucket}")).send().ok();
    }

    /// PUTs an object, asserting success; returns the response.
    pub fn put_object(&self, bucket: &str, key: &str, data: &[u8]) -> Response {
        self.put(&obj_path(bucket, key)).body(data).send().ok()
    }

    /// GETs an object's bytes, asserting success.
    pub fn get_object(&self, bucket: &str, key: &str) -> Vec<u8> {
        self.get(&obj_path(bucket, key)).send().ok().body
    }

    /// Every key of a bucket through ListObjectsV2, following continuation tokens.
    pub fn list_keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..10_000 {
            let mut r = self
                .get(&format!("/{bucket}"))
                .query("list-type", "2")
                .query("prefix", prefix);
            if let Some(t) = &token {
                r = r.query("continuation-token", t);
            }
            let text = r.send().ok().text();
            keys.extend(super::xml_child_texts(&text, "Contents", "Key"));
            if super::xml_text(&text, "IsTruncated").as_deref() == Some("true") {
                token = Some(
                    super::xml_text(&text, "NextContinuationToken")
                        .expect("truncated listing without NextContinuationToken"),
                );
            } else {
                return keys;
            }
        }
        panic!("listing never ended");
    }
}

/// A request being built.
pub struct Req<'a> {
    client: &'a RawClient,
    method: String,
    /// Already URI-encoded path.
    path: String,
    /// Decoded query parameters; `None` value = bare key (`?uploads`).
    query: Vec<(String, Option<String>)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    auth: Auth,
    host: Option<String>,
    time: i64,
    tamper: Tamper,
    creds: Option<Creds>,
    /// The bucket named by the Host header (virtual-hosted-style), which
    /// SigV2 puts in front of the path in the resource it signs.
    vhost_bucket: Option<String>,
}

impl<'a> Req<'a> {
    /// Virtual-hosted-style: `Host: {bucket}.{s3_host}:{port}`.
    pub fn vhost(mut self, bucket: &str, s3_host: &str) -> Self {
        self.host = Some(format!("{bucket}.{s3_host}:{}", self.client.addr.port()));
        self.vhost_bucket = Some(bucket.to_string());
        self
    }
    pub fn query(mut self, k: &str, v: &str) -> Self {
        self.query.push((k.into(), Some(v.into())));
        self
    }
    /// A bare subresource such as `?uploads` or `?delete`.
    pub fn sub(mut self, k: &str) -> Self {
        self.query.push((k.into(), None));
        self
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn body(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.body = b.into();
        self
    }
    pub fn auth(mut self, a: Auth) -> Self {
        self.auth = a;
        self
    }
    /// The `Host` header (default `127.0.0.1:PORT`).
    pub fn host(mut self, h: &str) -> Self {
        self.host = Some(h.into());
        self
    }
    /// Signs at this Unix time.
    pub fn at(mut self, t: i64) -> Self {
        self.time = t;
        self
    }
    /// Signs as if the client clock were `secs` seconds off.
    pub fn skew(mut self, secs: i64) -> Self {
        self.time += secs;
        self
    }
    pub fn tamper(mut self, t: Tamper) -> Self {
        self.tamper = t;
        self
    }
    pub fn creds(mut self, c: Creds) -> Self {
        self.creds = Some(c);
        self
    }

    fn creds_ref(&self) -> &Creds {
        self.creds.as_ref().unwrap_or(&self.client.creds)
    }

    fn host_value(&self) -> String {
        self.host
            .clone()
            .unwrap_or_else(|| self.client.addr.to_string())
    }

    /// Canonical query string of SigV4 over `params`.
    fn v4_query(params: &[(String, Option<String>)]) -> String {
        let mut enc: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| {
                (
                    uri_encode(k.as_bytes(), false),
                    uri_encode(v.as_deref().unwrap_or("").as_bytes(), false),
                )
            })
            .collect();
        enc.sort();
        enc.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The query string as sent on the request line.
    fn wire_query(params: &[(String, Option<String>)]) -> String {
        params
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!(
                    "{}={}",
                    uri_encode(k.as_bytes(), false),
                    uri_encode(v.as_bytes(), false)
                ),
                None => uri_encode(k.as_bytes(), false),
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    /// SigV4 signature over the canonical request.
    fn v4_sign(
        &self,
        query: &[(String, Option<String>)],
        headers: &[(String, String)],
        payload_hash: &str,
    ) -> (String, String) {
        let mut canon: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        canon.sort();
        let signed = canon
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(";");
        let canonical_headers: String = canon.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let creq = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            self.method,
            self.path,
            Self::v4_query(query),
            canonical_headers,
            signed,
            payload_hash
        );
        let date = amz_date(self.time);
        let region = self.tamper.region.unwrap_or(REGION);
        let scope = format!("{}/{region}/s3/aws4_request", &date[..8]);
        let sts = format!(
            "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
            sha256_hex(creq.as_bytes())
        );
        let key = signing_key(&self.creds_ref().secret, &date[..8], region);
        let sig = hex(&hmac_sha256(&key, sts.as_bytes()));
        (sig, signed)
    }

    /// SigV2 string to sign and signature.
    fn v2_sign(&self, headers: &[(String, String)], date_or_expires: &str) -> String {
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        };
        let mut amz: Vec<(String, String)> = headers
            .iter()
            .filter(|(k, _)| k.to_ascii_lowercase().starts_with("x-amz-"))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        amz.sort();
        let amz: String = amz.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        const SUB: &[&str] = &[
            "acl",
            "cors",
            "delete",
            "lifecycle",
            "location",
            "logging",
            "notification",
            "partNumber",
            "policy",
            "requestPayment",
            "response-cache-control",
            "response-content-disposition",
            "response-content-encoding",
            "response-content-language",
            "response-content-type",
            "response-expires",
            "restore",
            "tagging",
            "torrent",
            "uploadId",
            "uploads",
            "versionId",
            "versioning",
            "versions",
            "website",
        ];
        let mut subs: Vec<&(String, Option<String>)> = self
            .query
            .iter()
            .filter(|(k, _)| SUB.contains(&k.as_str()))
            .collect();
        subs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut resource = match &self.vhost_bucket {
            Some(b) => format!("/{b}{}", self.path),
            None => self.path.clone(),
        };
        for (i, (k, v)) in subs.iter().enumerate() {
            resource.push(if i == 0 { '?' } else { '&' });
            resource.push_str(k);
            if let Some(v) = v {
                resource.push('=');
                resource.push_str(v);
            }
        }
        let sts = format!(
            "{}\n{}\n{}\n{}\n{}{}",
            self.method,
            get("content-md5"),
            get("content-type"),
            date_or_expires,
            amz,
            resource
        );
        hmac_sha1_b64(self.creds_ref().secret.as_bytes(), sts.as_bytes())
    }

    /// Signs and sends the request; reads the whole response.
    pub fn send(self) -> Response {
        let addr = self.client.addr;
        let p = self.prepare();
        send_raw(addr, &p.method, &p.target, &p.host, &p.headers, &p.body)
    }

    /// Signs the request without sending it.
    pub fn prepare(self) -> Prepared {
        let creds = self.creds_ref().clone();
        let host = self.host_value();
        let mut query = self.query.clone();
        let mut headers = self.headers.clone();
        let mut body = self.body.clone();
        let date = amz_date(self.time);
        let region = self.tamper.region.unwrap_or(REGION);
        let scope = format!("{}/{region}/s3/aws4_request", &date[..8]);
        let has =
            |hs: &[(String, String)], n: &str| hs.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));

        match &self.auth {
            Auth::Anonymous => {}
            Auth::V4
            | Auth::V4Unsigned
            | Auth::V4Chunked { .. }
            | Auth::V4UnsignedTrailer { .. } => {
                let payload_hash = match &self.auth {
                    Auth::V4Unsigned => "UNSIGNED-PAYLOAD".to_string(),
                    Auth::V4UnsignedTrailer { .. } => {
                        "STREAMING-UNSIGNED-PAYLOAD-TRAILER".to_string()
                    }
                    Auth::V4Chunked { .. } => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD".to_string(),
                    _ => headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-content-sha256"))
                        .map(|(_, v)| v.clone())
                        .unwrap_or_else(|| sha256_hex(&body)),
                };
                if !has(&headers, "x-amz-content-sha256") {
                    headers.push(("x-amz-content-sha256".into(), payload_hash.clone()));
                }
                if let Auth::V4Chunked { .. } | Auth::V4UnsignedTrailer { .. } = self.auth {
                    headers.push(("content-encoding".into(), "aws-chunked".into()));
                    headers.push((
                        "x-amz-decoded-content-length".into(),
                        self.tamper.decoded_length.unwrap_or(body.len()).to_string(),
                    ));
                }
                if let Auth::V4UnsignedTrailer { .. } = self.auth {
                    match self.tamper.trailer_declared {
                        Some("") => {}
                        declared => headers.push((
                            "x-amz-trailer".into(),
                            declared.unwrap_or("x-amz-checksum-crc32").into(),
                        )),
                    }
                }
                headers.push(("x-amz-date".into(), date.clone()));
                let mut to_sign = headers.clone();
                to_sign.push(("host".into(), host.clone()));
                let (mut sig, signed) = self.v4_sign(&query, &to_sign, &payload_hash);
                if self.tamper.signature {
                    sig = damage(&sig);
                }
                headers.push((
                    "authorization".into(),
                    format!(
                        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={sig}",
                        creds.access
                    ),
                ));
                if let Some((k, v)) = self.tamper.unsigned_header {
                    headers.push((k.into(), v.into()));
                }
                if let Auth::V4Chunked { chunk_size } = self.auth {
                    body = self.encode_chunks(&body, chunk_size, &sig, &date, &scope);
                }
                if let Auth::V4UnsignedTrailer { chunk_size } = self.auth {
                    body = self.encode_unsigned_trailer(&body, chunk_size);
                }
            }
            Auth::V4Presigned { expires } => {
                query.push(("X-Amz-Algorithm".into(), Some("AWS4-HMAC-SHA256".into())));
                query.push((
                    "X-Amz-Credential".into(),
                    Some(format!("{}/{scope}", creds.access)),
                ));
                query.push(("X-Amz-Date".into(), Some(date.clone())));
                query.push(("X-Amz-Expires".into(), Some(expires.to_string())));
                query.push(("X-Amz-SignedHeaders".into(), Some("host".into())));
                let (mut sig, _) =
                    self.v4_sign(&query, &[("host".into(), host.clone())], "UNSIGNED-PAYLOAD");
                if self.tamper.signature {
                    sig = damage(&sig);
                }
                query.push(("X-Amz-Signature".into(), Some(sig)));
            }
            Auth::V2 => {
                let d = match headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("date")) {
                    Some((_, v)) => v.clone(),
                    None => {
                        let d = http_date(self.time);
                        headers.push(("date".into(), d.clone()));
                        d
                    }
                };
                let mut sig = self.v2_sign(&headers, &d);
                if self.tamper.signature {
                    sig = damage(&sig);
                }
                headers.push((
                    "authorization".into(),
                    format!("AWS {}:{sig}", creds.access),
                ));
            }
            Auth::V2Query { expires_in } => {
                let expires = (self.time + expires_in).to_string();
                let mut sig = self.v2_sign(&headers, &expires);
                if self.tamper.signature {
                    sig = damage(&sig);
                }
                query.push(("AWSAccessKeyId".into(), Some(creds.access.clone())));
                query.push(("Expires".into(), Some(expires)));
                query.push(("Signature".into(), Some(sig)));
            }
        }

        let mut target = self.path.clone();
        if !query.is_empty() {
            target.push('?');
            target.push_str(&Self::wire_query(&query));
        }
        Prepared {
            method: self.method,
            target,
            host,
            headers,
            body,
        }
    }

    /// The URL of a presigned request (`Auth::V4Presigned` or `Auth::V2Query`).
    pub fn presigned_url(self) -> String {
        assert!(
            matches!(self.auth, Auth::V4Presigned { .. } | Auth::V2Query { .. }),
            "presigned_url needs query authentication"
        );
        let addr = self.client.addr;
        let p = self.prepare();
        format!("http://{addr}{}", p.target)
    }

    /// Unsigned aws-chunked body with a CRC32 trailer:
    /// `hex(len)\r\nDATA\r\n` ... `0\r\nx-amz-checksum-crc32:B64\r\n\r\n`.
    fn encode_unsigned_trailer(&self, data: &[u8], chunk_size: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + 256);
        for chunk in data.chunks(chunk_size.max(1)) {
            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        let crc = base64::engine::general_purpose::STANDARD.encode(crc32(data).to_be_bytes());
        let crc = self
            .tamper
            .trailer_checksum
            .map(str::to_string)
            .unwrap_or(crc);
        out.extend_from_slice(format!("0\r\nx-amz-checksum-crc32:{crc}\r\n\r\n").as_bytes());
        out
    }

    /// aws-chunked body: `hex(len);chunk-signature=SIG\r\nDATA\r\n` ... `0;chunk-signature=SIG\r\n\r\n`.
    fn encode_chunks(
        &self,
        data: &[u8],
        chunk_size: usize,
        seed: &str,
        date: &str,
        scope: &str,
    ) -> Vec<u8> {
        let key = signing_key(&self.creds_ref().secret, &date[..8], REGION);
        let mut out = Vec::with_capacity(data.len() + 256);
        let mut prev = seed.to_string();
        let mut chunks: Vec<&[u8]> = data.chunks(chunk_size.max(1)).collect();
        chunks.push(&[]);
        for (i, chunk) in chunks.iter().enumerate() {
            let sts = format!(
                "AWS4-HMAC-SHA256-PAYLOAD\n{date}\n{scope}\n{prev}\n{EMPTY_SHA256}\n{}",
                sha256_hex(chunk)
            );
            let sig = hex(&hmac_sha256(&key, sts.as_bytes()));
            prev = sig.clone();
            let sent_sig = if self.tamper.chunk_signature == Some(i) {
                damage(&sig)
            } else {
                sig
            };
            out.extend_from_slice(
                format!("{:x};chunk-signature={sent_sig}\r\n", chunk.len()).as_bytes(),
            );
            let start = out.len();
            out.extend_from_slice(chunk);
            if self.tamper.chunk_data == Some(i) && !chunk.is_empty() {
                out[start] ^= 0xff;
            }
            out.extend_from_slice(b"\r\n");
        }
        out
    }
}

impl Req<'_> {
    /// Signs the request, sends its head and only the first `n` bytes of its
    /// body, then closes the connection: a client that disconnects mid-upload.
    pub fn send_truncated(self, n: usize) {
        let addr = self.client.addr;
        let p = self.prepare();
        let mut head = format!("{} {} HTTP/1.1\r\nHost: {}\r\n", p.method, p.target, p.host);
        for (k, v) in &p.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", p.body.len()));
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.write_all(head.as_bytes()).expect("write head");
        stream
            .write_all(&p.body[..n.min(p.body.len())])
            .expect("write body");
        stream.flush().expect("flush");
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
}

impl Req<'_> {
    /// Sends the head of a request carrying `Expect: 100-continue`, then waits
    /// (10 s at most) for an answer. With `send_body`, the body follows a
    /// `100 Continue`; without, the server must give a final answer on the
    /// head alone. Returns whether `100 Continue` came, and the final response.
    pub fn send_expect_continue(self, send_body: bool) -> (bool, Response) {
        let addr = self.client.addr;
        let p = self.prepare();
        let request = format!("{} {}", p.method, p.target);
        let mut head = format!("{} {} HTTP/1.1\r\nHost: {}\r\n", p.method, p.target, p.host);
        for (k, v) in &p.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            p.body.len()
        ));
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream.write_all(head.as_bytes()).expect("write head");
        let mut got: Vec<u8> = Vec::new();
        let mut buf = [0u8; 4096];
        let mut continued = false;
        loop {
            // Drop a complete `100 Continue` head from the front.
            if got.starts_with(b"HTTP/1.1 100") {
                if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                    got.drain(..end + 4);
                    continued = true;
                    if send_body {
                        stream.write_all(&p.body).expect("write body");
                        stream
                            .set_read_timeout(Some(Duration::from_secs(60)))
                            .expect("timeout");
                    }
                    continue;
                }
            }
            if got.windows(4).any(|w| w == b"\r\n\r\n") && !got.starts_with(b"HTTP/1.1 100") {
                // A final head: read the rest of the response.
                let _ = stream.read_to_end(&mut got);
                return (continued, parse_response(&got, false, request));
            }
            match stream.read(&mut buf) {
                Ok(0) => panic!(
                    "{request}: connection closed after {:?}",
                    String::from_utf8_lossy(&got)
                ),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => panic!("{request}: no final answer within the time limit: {e}"),
            }
        }
    }
}

/// Sends one HTTP/1.1 request with `Connection: close` and reads the response to EOF.
pub fn send_raw(
    addr: SocketAddr,
    method: &str,
    target: &str,
    host: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Response {
    let head = request_head(method, target, host, headers, body.len());

    let request = format!("{method} {target}");
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("set timeout");
    stream
        .set_write_timeout(Some(Duration::from_secs(60)))
        .expect("set timeout");
    // A server may answer and close before reading everything (oversized
    // headers, early errors): a failed write still leaves a response to read.
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|_| stream.write_all(body))
        .and_then(|_| stream.flush());
    let mut raw = Vec::new();
    if let Err(e) = stream.read_to_end(&mut raw) {
        if raw.is_empty() {
            panic!("{request}: reading the response failed: {e}");
        }
    }
    parse_response(&raw, method == "HEAD", request)
}

/// A request's line and headers with `Connection: close`, adding `Content-Length` for a
/// body of `body_len` bytes unless the headers already declare one.
fn request_head(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(String, String)],
    body_len: usize,
) -> String {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let has_len = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"));
    if !has_len && (body_len > 0 || matches!(method, "PUT" | "POST")) {
        head.push_str(&format!("Content-Length: {body_len}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    head
}

/// Parses a whole HTTP/1.1 response read until the peer closed the connection.
pub fn parse_response(raw: &[u8], head_request: bool, request: String) -> Response {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "{request}: no complete HTTP response head in {} bytes: {:?}",
                raw.len(),
                String::from_utf8_lossy(&raw[..raw.len().min(400)])
            )
        });
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{request}: bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked")
    });
    let body = if head_request {
        rest.to_vec()
    } else if chunked {
        decode_chunked(rest, &request)
    } else if let Some(len) = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        assert!(
            rest.len() >= len,
            "{request}: body shorter ({}) than Content-Length {len}",
            rest.len()
        );
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    Response {
        status,
        headers,
        body,
        request,
    }
}

fn decode_chunked(mut rest: &[u8], request: &str) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or_else(|| panic!("{request}: truncated chunked body"));
        let size_str = String::from_utf8_lossy(&rest[..line_end]);
        let size_str = size_str.split(';').next().unwrap_or("").trim().to_string();
        let size = usize::from_str_radix(&size_str, 16)
            .unwrap_or_else(|_| panic!("{request}: bad chunk size {size_str:?}"));
        rest = &rest[line_end + 2..];
        if size == 0 {
            return out;
        }
        assert!(rest.len() >= size + 2, "{request}: truncated chunk");
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}
