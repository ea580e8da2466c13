//! SigV4 presigned URLs: the `X-Amz-*` query parameters, expiry and early use.

use std::time::{Duration, SystemTime};

use super::payload::{decoded_length, PayloadHash, UNSIGNED_PAYLOAD};
use super::scope::{
    check_signed_headers, parse_credential, parse_signed_headers, scope_date_mismatch,
};
use super::{AuthKind, V4Credentials, ALGORITHM};
use crate::s3::auth::{
    header_str, request_time_too_skewed, QueryParams, SignedRequest, MAX_CLOCK_SKEW,
};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::time;

/// The longest validity of a presigned URL: seven days.
const MAX_PRESIGNED_EXPIRES: u64 = 604_800;

fn query_error(message: impl Into<std::borrow::Cow<'static, str>>) -> S3Error {
    S3Error::new(S3ErrorCode::AuthorizationQueryParametersError, message)
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
        if ahead > MAX_CLOCK_SKEW {
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
