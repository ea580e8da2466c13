//! The credential scope (`AKID/date/region/s3/aws4_request`), the signed-header list and
//! the checks both SigV4 forms share: scope date, headers that must be signed.

use std::fmt;

use actix_web::http::header::HeaderMap;

use super::{SERVICE, TERMINATOR};
use crate::s3::auth::unsigned_required_headers;
use crate::s3::error::{S3Error, S3ErrorCode};

/// The credential scope: `20130524/us-east-1/s3/aws4_request`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Scope {
    /// `YYYYMMDD`
    pub(super) date: String,
    pub(super) region: String,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{SERVICE}/{TERMINATOR}", self.date, self.region)
    }
}

/// Why a credential string was refused; worded the way AWS words it.
pub(super) enum CredentialError {
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

    pub(super) fn into_s3(self, code: S3ErrorCode, prefix: &str, expected_region: &str) -> S3Error {
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
pub(super) fn parse_credential(
    credential: &str,
    region: &str,
) -> Result<(String, Scope), CredentialError> {
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
pub(super) fn parse_signed_headers(list: &str) -> Option<Vec<String>> {
    let names: Vec<String> = list.split(';').map(str::to_owned).collect();
    let valid = names.iter().all(|name| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b.is_ascii_uppercase())
    });
    valid.then_some(names)
}

fn headers_not_signed(missing: &[&str]) -> S3Error {
    S3Error::new(
        S3ErrorCode::AccessDenied,
        "There were headers present in the request which were not signed",
    )
    .with_detail("HeadersNotSigned", missing.join(", "))
}

pub(super) fn check_signed_headers(headers: &HeaderMap, signed: &[String]) -> Result<(), S3Error> {
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

pub(super) fn scope_date_mismatch(code: S3ErrorCode, prefix: &str) -> S3Error {
    S3Error::new(
        code,
        format!("{prefix}Invalid credential date. Date is not the same as X-Amz-Date."),
    )
}
