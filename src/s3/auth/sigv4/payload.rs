//! What `x-amz-content-sha256` declares about the body, and the decoded length an
//! aws-chunked body must announce.

use actix_web::http::header::HeaderMap;

use crate::encoding::unhex_array;
use crate::s3::auth::header_str;
use crate::s3::error::{S3Error, S3ErrorCode};

/// Hex SHA-256 of the empty string.
pub(crate) const EMPTY_SHA256_HEX: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

pub(super) const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
pub(super) const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
pub(super) const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
pub(super) const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

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
    pub(super) fn parse(value: &str) -> Option<PayloadHash> {
        Some(match value {
            UNSIGNED_PAYLOAD => PayloadHash::Unsigned,
            STREAMING_SIGNED => PayloadHash::Streaming(StreamingMode::Signed),
            STREAMING_SIGNED_TRAILER => PayloadHash::Streaming(StreamingMode::SignedWithTrailer),
            STREAMING_UNSIGNED_TRAILER => {
                PayloadHash::Streaming(StreamingMode::UnsignedWithTrailer)
            }
            hex => PayloadHash::Sha256(unhex_array(hex)?),
        })
    }
}

/// `x-amz-decoded-content-length`, required for aws-chunked bodies: without it the caller
/// could only see the encoded Content-Length.
pub(super) fn decoded_length(
    headers: &HeaderMap,
    payload: &PayloadHash,
) -> Result<Option<u64>, S3Error> {
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
