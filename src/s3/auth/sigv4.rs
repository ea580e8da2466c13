//! AWS Signature Version 4: the Authorization header and presigned URLs.
//!
//! The canonical request, the string to sign and the signing key are pure functions, tested
//! against the examples of the S3 API reference.

use std::fmt;
use std::time::{Duration, SystemTime};

use actix_web::http::header::HeaderMap;
use log::trace;
use ring::{digest, hmac};

use super::chunked::{ChunkSigning, ChunkedBody};
use super::{
    canonical_header_value, check_skew, header_str, hex_decode, hex_encode, missing_date,
    percent_decode, request_time_too_skewed, signature_does_not_match, unsigned_required_headers,
    PayloadCheck, QueryParams, SignedRequest,
};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::store::SecretKey;
use crate::time;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const SERVICE: &str = "s3";
const TERMINATOR: &str = "aws4_request";
/// The longest validity of a presigned URL: seven days.
const MAX_PRESIGNED_EXPIRES: u64 = 604_800;
/// Hex SHA-256 of the empty string.
pub(crate) const EMPTY_SHA256_HEX: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// What `x-amz-content-sha256` says about the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayloadHash {
    Unsigned,
    Sha256([u8; 32]),
    Streaming(StreamingMode),
}

/// The aws-chunked variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamingMode {
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: every chunk signed.
    Signed,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks, then signed trailers.
    SignedWithTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: plain chunks, then trailers.
    UnsignedWithTrailer,
}

impl PayloadHash {
    /// Classifies an `x-amz-content-sha256` value.
    fn parse(value: &str) -> Option<PayloadHash> {
        Some(match value {
            UNSIGNED_PAYLOAD => PayloadHash::Unsigned,
            STREAMING_SIGNED => PayloadHash::Streaming(StreamingMode::Signed),
            STREAMING_SIGNED_TRAILER => PayloadHash::Streaming(StreamingMode::SignedWithTrailer),
            STREAMING_UNSIGNED_TRAILER => {
                PayloadHash::Streaming(StreamingMode::UnsignedWithTrailer)
            }
            hex => PayloadHash::Sha256(hex_decode(hex)?),
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AuthKind {
    Header,
    Presigned,
}

/// The credential scope: `20130524/us-east-1/s3/aws4_request`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Scope {
    /// `YYYYMMDD`
    date: String,
    region: String,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{SERVICE}/{TERMINATOR}", self.date, self.region)
    }
}

/// A SigV4 request whose form, scope and dates have been checked; its signature has not.
pub struct V4Credentials {
    access_key: String,
    scope: Scope,
    /// The request time in ISO 8601 basic format, as it enters the string to sign.
    amz_date: String,
    /// Lower-case names, in the order the client listed them.
    signed_headers: Vec<String>,
    /// Hex, as sent.
    signature: String,
    kind: AuthKind,
    /// The last line of the canonical request: the `x-amz-content-sha256` value as sent, or
    /// `UNSIGNED-PAYLOAD` for presigned URLs.
    payload_line: String,
    payload: PayloadHash,
    /// `x-amz-decoded-content-length`, required with aws-chunked bodies.
    decoded_length: Option<u64>,
}

impl fmt::Debug for V4Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("V4Credentials")
            .field("access_key", &self.access_key)
            .field("scope", &self.scope.to_string())
            .field("amz_date", &self.amz_date)
            .field("signed_headers", &self.signed_headers)
            .field("kind", &self.kind)
            .field("payload", &self.payload)
            .finish_non_exhaustive()
    }
}

impl V4Credentials {
    pub fn access_key(&self) -> &str {
        &self.access_key
    }
    pub fn region(&self) -> &str {
        &self.scope.region
    }
    pub fn is_presigned(&self) -> bool {
        self.kind == AuthKind::Presigned
    }
    pub fn payload(&self) -> &PayloadHash {
        &self.payload
    }
}

/// Why a credential string was refused; worded the way AWS words it.
enum CredentialError {
    Malformed,
    WrongRegion(String),
    WrongService(String),
    WrongTerminal(String),
}

impl CredentialError {
    fn reason(&self, expected_region: &str) -> String {
        match self {
            CredentialError::Malformed => {
                "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"."
                    .to_owned()
            }
            CredentialError::WrongRegion(region) => {
                format!("the region '{region}' is wrong; expecting '{expected_region}'")
            }
            CredentialError::WrongService(service) => {
                format!("incorrect service '{service}'. This endpoint belongs to '{SERVICE}'.")
            }
            CredentialError::WrongTerminal(terminal) => {
                format!("incorrect terminal '{terminal}'. This endpoint uses '{TERMINATOR}'.")
            }
        }
    }

    fn into_s3(self, code: S3ErrorCode, prefix: &str, expected_region: &str) -> S3Error {
        let message = format!("{prefix}{}", self.reason(expected_region));
        let err = S3Error::new(code, message);
        match self {
            CredentialError::WrongRegion(_) => err.with_detail("Region", expected_region),
            _ => err,
        }
    }
}

/// `AKID/YYYYMMDD/region/s3/aws4_request`. The access key is everything before the last four
/// parts.
fn parse_credential(credential: &str, region: &str) -> Result<(String, Scope), CredentialError> {
    let mut parts = credential.rsplitn(5, '/');
    let terminal = parts.next().ok_or(CredentialError::Malformed)?;
    let service = parts.next().ok_or(CredentialError::Malformed)?;
    let scope_region = parts.next().ok_or(CredentialError::Malformed)?;
    let date = parts.next().ok_or(CredentialError::Malformed)?;
    let access_key = parts.next().ok_or(CredentialError::Malformed)?;
    if access_key.is_empty() || date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CredentialError::Malformed);
    }
    if scope_region != region {
        return Err(CredentialError::WrongRegion(scope_region.to_owned()));
    }
    if service != SERVICE {
        return Err(CredentialError::WrongService(service.to_owned()));
    }
    if terminal != TERMINATOR {
        return Err(CredentialError::WrongTerminal(terminal.to_owned()));
    }
    Ok((
        access_key.to_owned(),
        Scope {
            date: date.to_owned(),
            region: region.to_owned(),
        },
    ))
}

/// `host;range;x-amz-date`: non-empty lower-case names.
fn parse_signed_headers(list: &str) -> Option<Vec<String>> {
    let names: Vec<String> = list.split(';').map(str::to_owned).collect();
    let valid = names.iter().all(|name| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b.is_ascii_uppercase())
    });
    valid.then_some(names)
}

fn header_malformed(reason: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::AuthorizationHeaderMalformed,
        format!("The authorization header is malformed; {reason}"),
    )
}

fn query_error(message: impl Into<std::borrow::Cow<'static, str>>) -> S3Error {
    S3Error::new(S3ErrorCode::AuthorizationQueryParametersError, message)
}

fn headers_not_signed(missing: &[&str]) -> S3Error {
    S3Error::new(
        S3ErrorCode::AccessDenied,
        "There were headers present in the request which were not signed",
    )
    .with_detail("HeadersNotSigned", missing.join(", "))
}

fn check_signed_headers(headers: &HeaderMap, signed: &[String]) -> Result<(), S3Error> {
    let mut missing = unsigned_required_headers(headers, signed);
    // `host` must be signed even if a client forgot to send it.
    if !signed.iter().any(|s| s == "host") && !missing.contains(&"host") {
        missing.insert(0, "host");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(headers_not_signed(&missing))
    }
}

fn scope_date_mismatch(code: S3ErrorCode, prefix: &str) -> S3Error {
    S3Error::new(
        code,
        format!("{prefix}Invalid credential date. Date is not the same as X-Amz-Date."),
    )
}

/// Parses `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
pub(crate) fn parse_header(
    req: &SignedRequest,
    authorization: &str,
    now: SystemTime,
    region: &str,
) -> Result<V4Credentials, S3Error> {
    let fields = authorization
        .strip_prefix(ALGORITHM)
        .filter(|rest| rest.starts_with(' '))
        .ok_or_else(|| header_malformed("the authorization header is not AWS4-HMAC-SHA256."))?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for field in fields.split(',') {
        let field = field.trim();
        let (name, value) = field.split_once('=').ok_or_else(|| {
            header_malformed(&format!(
                "the authorization component \"{field}\" is malformed."
            ))
        })?;
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => {
                return Err(header_malformed(&format!(
                    "the authorization component \"{field}\" is malformed."
                )))
            }
        };
        if slot.replace(value).is_some() {
            return Err(header_malformed(&format!(
                "the authorization component \"{name}\" appears twice."
            )));
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(header_malformed(
            "it must contain Credential, SignedHeaders and Signature.",
        ));
    };

    const PREFIX: &str = "The authorization header is malformed; ";
    let (access_key, scope) = parse_credential(credential, region)
        .map_err(|e| e.into_s3(S3ErrorCode::AuthorizationHeaderMalformed, PREFIX, region))?;
    let signed_headers = parse_signed_headers(signed_headers)
        .ok_or_else(|| header_malformed("the SignedHeaders component is malformed."))?;

    let (request_time, amz_date, raw_date) = request_date(req.headers)?;
    if !amz_date.starts_with(&scope.date) {
        return Err(scope_date_mismatch(
            S3ErrorCode::AuthorizationHeaderMalformed,
            PREFIX,
        ));
    }
    check_skew(request_time, &raw_date, now)?;
    check_signed_headers(req.headers, &signed_headers)?;

    let payload_line = header_str(req.headers, "x-amz-content-sha256")
        .ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InvalidRequest,
                "Missing required header for this request: x-amz-content-sha256",
            )
        })?
        .to_owned();
    let payload = PayloadHash::parse(&payload_line).ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, \
             STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-UNSIGNED-PAYLOAD-TRAILER \
             or a valid sha256 value.",
        )
        .with_detail("ArgumentName", "x-amz-content-sha256")
        .with_detail("ArgumentValue", payload_line.clone())
    })?;
    let decoded_length = decoded_length(req.headers, &payload)?;

    Ok(V4Credentials {
        access_key,
        scope,
        amz_date,
        signed_headers,
        signature: signature.to_owned(),
        kind: AuthKind::Header,
        payload_line,
        payload,
        decoded_length,
    })
}

/// The request time from `x-amz-date` (basic format) or else `Date` (HTTP date): the time,
/// its basic-format text for the string to sign, and the text as sent.
fn request_date(headers: &HeaderMap) -> Result<(SystemTime, String, String), S3Error> {
    if let Some(raw) = header_str(headers, "x-amz-date") {
        if let Some(t) = time::parse_amz_date(raw) {
            return Ok((t, raw.to_owned(), raw.to_owned()));
        }
    }
    if let Some(raw) = header_str(headers, "date") {
        if let Some(t) = time::parse_http_date(raw) {
            return Ok((t, time::amz_date(t), raw.to_owned()));
        }
    }
    Err(missing_date())
}

/// `x-amz-decoded-content-length`, required for aws-chunked bodies: without it the caller
/// could only see the encoded Content-Length.
fn decoded_length(headers: &HeaderMap, payload: &PayloadHash) -> Result<Option<u64>, S3Error> {
    if !matches!(payload, PayloadHash::Streaming(_)) {
        return Ok(None);
    }
    let raw = header_str(headers, "x-amz-decoded-content-length").ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::MissingContentLength,
            "You must provide the x-amz-decoded-content-length header with an aws-chunked body.",
        )
    })?;
    let length = raw
        .parse::<u64>()
        .ok()
        .filter(|_| raw.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                "x-amz-decoded-content-length must be a non-negative integer.",
            )
            .with_detail("ArgumentName", "x-amz-decoded-content-length")
            .with_detail("ArgumentValue", raw.to_owned())
        })?;
    Ok(Some(length))
}

/// Parses the `X-Amz-*` query parameters of a presigned URL.
pub(crate) fn parse_presigned(
    req: &SignedRequest,
    query: &QueryParams,
    now: SystemTime,
    region: &str,
) -> Result<V4Credentials, S3Error> {
    let (
        Some(algorithm),
        Some(credential),
        Some(raw_date),
        Some(raw_expires),
        Some(signed_headers),
        Some(signature),
    ) = (
        query.get("X-Amz-Algorithm"),
        query.get("X-Amz-Credential"),
        query.get("X-Amz-Date"),
        query.get("X-Amz-Expires"),
        query.get("X-Amz-SignedHeaders"),
        query.get("X-Amz-Signature"),
    )
    else {
        return Err(query_error(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, \
             X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and \
             X-Amz-Expires parameters.",
        ));
    };
    if algorithm != ALGORITHM {
        return Err(query_error(
            "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"",
        ));
    }
    const PREFIX: &str = "Error parsing the X-Amz-Credential parameter; ";
    let (access_key, scope) = parse_credential(credential, region).map_err(|e| {
        e.into_s3(
            S3ErrorCode::AuthorizationQueryParametersError,
            PREFIX,
            region,
        )
    })?;
    let request_time = time::parse_amz_date(raw_date).ok_or_else(|| {
        query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    })?;
    if !raw_date.starts_with(&scope.date) {
        return Err(scope_date_mismatch(
            S3ErrorCode::AuthorizationQueryParametersError,
            PREFIX,
        ));
    }
    let expires = if raw_expires.bytes().all(|b| b.is_ascii_digit()) {
        raw_expires.parse::<u64>().ok()
    } else {
        None
    }
    .ok_or_else(|| query_error("X-Amz-Expires should be a number"))?;
    if expires == 0 {
        return Err(query_error("X-Amz-Expires must be non-negative"));
    }
    if expires > MAX_PRESIGNED_EXPIRES {
        return Err(query_error(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        ));
    }
    let signed_headers = parse_signed_headers(signed_headers)
        .ok_or_else(|| query_error("X-Amz-SignedHeaders is malformed"))?;

    // A URL may be used late (until it expires) but not early.
    if let Ok(ahead) = request_time.duration_since(now) {
        if ahead > super::MAX_CLOCK_SKEW {
            return Err(request_time_too_skewed(raw_date, now));
        }
    }
    let expiry = request_time + Duration::from_secs(expires);
    if now > expiry {
        return Err(
            S3Error::new(S3ErrorCode::AccessDenied, "Request has expired")
                .with_detail("X-Amz-Expires", expires.to_string())
                .with_detail("Expires", time::iso8601(expiry))
                .with_detail("ServerTime", time::iso8601(now)),
        );
    }
    check_signed_headers(req.headers, &signed_headers)?;

    // The payload is unsigned unless the client chose to sign x-amz-content-sha256.
    let signed_hash = signed_headers
        .iter()
        .any(|h| h == "x-amz-content-sha256")
        .then(|| header_str(req.headers, "x-amz-content-sha256"))
        .flatten()
        .and_then(|value| Some((value, PayloadHash::parse(value)?)));
    let (payload_line, payload) = match signed_hash {
        Some((line, payload)) => (line.to_owned(), payload),
        None => (UNSIGNED_PAYLOAD.to_owned(), PayloadHash::Unsigned),
    };
    let decoded_length = decoded_length(req.headers, &payload)?;

    Ok(V4Credentials {
        access_key,
        scope,
        amz_date: raw_date.to_owned(),
        signed_headers,
        signature: signature.to_owned(),
        kind: AuthKind::Presigned,
        payload_line,
        payload,
        decoded_length,
    })
}

/// Checks the signature of a request parsed by [`parse_header`] or [`parse_presigned`].
pub(crate) fn verify(
    creds: &V4Credentials,
    req: &SignedRequest,
    secret: &SecretKey,
) -> Result<PayloadCheck, S3Error> {
    let canonical = canonical_request(
        req.method,
        req.raw_path,
        req.raw_query,
        creds.kind == AuthKind::Presigned,
        req.headers,
        &creds.signed_headers,
        &creds.payload_line,
    );
    let scope = creds.scope.to_string();
    let to_sign = string_to_sign(&creds.amz_date, &scope, &canonical);
    trace!(
        "SigV4 canonical request:\n{}\nstring to sign:\n{to_sign}",
        String::from_utf8_lossy(&canonical)
    );
    let key = signing_key(secret, &creds.scope.date, &creds.scope.region);
    let mismatch = || {
        signature_does_not_match()
            .with_detail("AWSAccessKeyId", creds.access_key.clone())
            .with_detail("StringToSign", to_sign.clone())
            .with_detail("SignatureProvided", creds.signature.clone())
            .with_detail(
                "CanonicalRequest",
                String::from_utf8_lossy(&canonical).into_owned(),
            )
    };
    let provided: [u8; 32] = hex_decode(&creds.signature).ok_or_else(mismatch)?;
    hmac::verify(&key, to_sign.as_bytes(), &provided).map_err(|_| mismatch())?;

    Ok(match (&creds.payload, creds.decoded_length) {
        (PayloadHash::Unsigned, _) => PayloadCheck::Unchecked,
        (PayloadHash::Sha256(declared), _) => PayloadCheck::Sha256(*declared),
        (PayloadHash::Streaming(StreamingMode::UnsignedWithTrailer), Some(length)) => {
            PayloadCheck::Chunked(ChunkedBody::unsigned_with_trailer(length))
        }
        (PayloadHash::Streaming(mode), Some(length)) => {
            let signing = ChunkSigning {
                key,
                amz_date: creds.amz_date.clone(),
                scope,
                seed_signature: provided,
            };
            let with_trailer = *mode == StreamingMode::SignedWithTrailer;
            PayloadCheck::Chunked(ChunkedBody::signed(signing, with_trailer, length))
        }
        // parse_* always reads the decoded length of a streaming body.
        (PayloadHash::Streaming(_), None) => {
            return Err(S3Error::internal(
                "aws-chunked body without a decoded length",
            ))
        }
    })
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), "s3"), "aws4_request")`.
pub fn signing_key(secret: &SecretKey, date: &str, region: &str) -> hmac::Key {
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
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex_encode(hash.as_ref())
    )
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
    aws_uri_encode(&percent_decode(raw_path), false)
}

/// Parameters decoded once, encoded the AWS way, sorted by name then value. A presigned
/// URL's `X-Amz-Signature` is not part of what it signs.
pub fn canonical_query(raw_query: &str, presigned: bool) -> String {
    let mut params: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|part| !part.is_empty())
        .filter_map(|part| {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let name = percent_decode(name);
            if presigned && name == b"X-Amz-Signature" {
                return None;
            }
            Some((
                aws_uri_encode(&name, true),
                aws_uri_encode(&percent_decode(value), true),
            ))
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

/// Keeps `A-Za-z0-9-_.~` (and `/` in paths); every other byte becomes `%XX`, upper case.
fn aws_uri_encode(bytes: &[u8], encode_slash: bool) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() * 3 / 2);
    for &b in bytes {
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
    use crate::s3::auth::test_support::*;
    use crate::s3::auth::{self, Credentials};
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
        let empty = hex_decode(EMPTY).expect("hex");
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
        let err =
            auth::parse(&request("GET", "/", "", &h), example_time(), "us-east-1").unwrap_err();
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
        let err =
            auth::parse(&request("GET", "/", "", &h), example_time(), "us-east-1").unwrap_err();
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
        let err =
            auth::parse(&request("GET", "/", "", &h), example_time(), "us-east-1").unwrap_err();
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
        let err =
            auth::parse(&request("GET", "/", "", &h), example_time(), "us-east-1").unwrap_err();
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
        let signature = hex_encode(hmac::sign(&key, to_sign.as_bytes()).as_ref());
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
}
