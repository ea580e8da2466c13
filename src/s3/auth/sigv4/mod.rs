//! AWS Signature Version 4: the Authorization header and presigned URLs.
//!
//! The canonical request, the string to sign and the signing key are pure functions
//! ([`canonical`]), tested against the examples of the S3 API reference.

mod canonical;
mod header;
mod payload;
mod presigned;
mod scope;
#[cfg(test)]
mod tests;

use std::fmt;

use log::trace;
use ring::hmac;

use super::chunked::{ChunkSigning, ChunkedBody};
use super::{signature_does_not_match, PayloadCheck, SignedRequest};
use crate::encoding::unhex_array;
use crate::s3::error::S3Error;
use crate::store::SecretKey;

pub use canonical::{
    canonical_query, canonical_request, canonical_uri, signing_key, string_to_sign,
};
pub(crate) use header::parse_header;
pub(crate) use payload::EMPTY_SHA256_HEX;
pub use payload::{PayloadHash, StreamingMode};
pub(crate) use presigned::parse_presigned;
use scope::Scope;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const SERVICE: &str = "s3";
const TERMINATOR: &str = "aws4_request";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AuthKind {
    Header,
    Presigned,
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
    /// When the request was signed (X-Amz-Date), already checked by `parse`.
    pub fn signed_at(&self) -> Option<std::time::SystemTime> {
        crate::time::parse_amz_date(&self.amz_date)
    }
    pub fn payload(&self) -> &PayloadHash {
        &self.payload
    }
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
        super::without_secrets(&String::from_utf8_lossy(&canonical))
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
    let provided: [u8; 32] = unhex_array(&creds.signature).ok_or_else(mismatch)?;
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
