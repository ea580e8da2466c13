//! SigV4 in the `Authorization` header: its fields, the request date and the declared payload.

use std::time::SystemTime;

use actix_web::http::header::HeaderMap;

use super::payload::{decoded_length, PayloadHash};
use super::scope::{
    check_signed_headers, parse_credential, parse_signed_headers, scope_date_mismatch,
};
use super::{AuthKind, V4Credentials, ALGORITHM};
use crate::s3::auth::{check_skew, header_str, missing_date, SignedRequest};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::time;

fn header_malformed(reason: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::AuthorizationHeaderMalformed,
        format!("The authorization header is malformed; {reason}"),
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
