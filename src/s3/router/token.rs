//! ListObjectsV2 and ListBuckets continuation tokens, opaque to clients: where the next page starts.

use base64::Engine;

use crate::s3::error::{S3Error, S3ErrorCode};
use crate::store::ListStart;

/// v2 continuation tokens are opaque to clients: base64 of where the next page starts.
pub fn encode_token(start: &ListStart) -> String {
    let raw = match start {
        ListStart::Beginning => String::new(),
        ListStart::After(key) => format!("k{key}"),
        ListStart::AfterPrefix(prefix) => format!("p{prefix}"),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// The error for a continuation token we did not make.
pub fn invalid_token() -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidArgument,
        "The continuation token provided is incorrect",
    )
    .with_detail("ArgumentName", "continuation-token")
}

pub fn decode_token(token: &str) -> Result<ListStart, S3Error> {
    let invalid = invalid_token;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid())?;
    let raw = String::from_utf8(raw).map_err(|_| invalid())?;
    match raw.split_at_checked(1) {
        Some(("k", key)) => Ok(ListStart::After(key.to_string())),
        Some(("p", prefix)) => Ok(ListStart::AfterPrefix(prefix.to_string())),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for start in [
            ListStart::After("k€y/with spaces".into()),
            ListStart::AfterPrefix("p/".into()),
        ] {
            assert_eq!(decode_token(&encode_token(&start)).unwrap(), start);
        }
        assert!(decode_token("!!").is_err());
        assert!(decode_token(&encode_token(&ListStart::Beginning)).is_err());
    }
}
