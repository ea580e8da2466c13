//! Conditional requests (RFC 9110 §13) on an object's ETag and Last-Modified.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::s3::error::{S3Error, S3ErrorCode};
use crate::store::WriteCondition;
use crate::time::{parse_http_date, parse_iso8601};

/// The request's precondition headers.
#[derive(Default, Debug)]
pub struct Preconditions<'a> {
    pub if_match: Option<&'a str>,
    pub if_none_match: Option<&'a str>,
    pub if_modified_since: Option<&'a str>,
    pub if_unmodified_since: Option<&'a str>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Proceed,
    NotModified,
    PreconditionFailed,
}

/// True when an `If-Match`/`If-None-Match` list names `etag` (unquoted), or is `*`.
pub fn etag_list_matches(list: &str, etag: &str) -> bool {
    list.split(',').map(str::trim).any(|candidate| {
        candidate == "*"
            || candidate
                .strip_prefix("W/")
                .unwrap_or(candidate)
                .trim_matches('"')
                == etag
    })
}

/// HTTP dates have whole seconds: compare at that precision.
fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// Evaluates preconditions for a read in the order RFC 9110 §13.2.2 gives. Dates that do not
/// parse are ignored, as the RFC says.
pub fn evaluate(p: &Preconditions, etag: &str, last_modified: SystemTime) -> Outcome {
    let modified = whole_seconds(last_modified);
    if let Some(list) = p.if_match {
        if !etag_list_matches(list, etag) {
            return Outcome::PreconditionFailed;
        }
    } else if let Some(date) = p.if_unmodified_since.and_then(parse_http_date) {
        if modified > date {
            return Outcome::PreconditionFailed;
        }
    }
    if let Some(list) = p.if_none_match {
        if etag_list_matches(list, etag) {
            return Outcome::NotModified;
        }
    } else if let Some(date) = p.if_modified_since.and_then(parse_http_date) {
        if modified <= date {
            return Outcome::NotModified;
        }
    }
    Outcome::Proceed
}

/// `If-Range`: the range applies only when the validator still names this version.
pub fn if_range_holds(validator: &str, etag: &str, last_modified: SystemTime) -> bool {
    let validator = validator.trim();
    if validator.starts_with('"') || validator.starts_with("W/") {
        return validator.trim_matches('"') == etag;
    }
    parse_http_date(validator).is_some_and(|date| whole_seconds(last_modified) == date)
}

/// What `If-Match` / `If-None-Match` ask of a write (PutObject, CompleteMultipartUpload,
/// CopyObject's destination).
#[derive(Debug, PartialEq, Eq)]
pub enum WritePrecondition {
    None,
    /// `If-None-Match: *`: the key must not exist.
    Absent,
    /// `If-Match`: the key must exist with this ETag (unquoted), or at all for `*`.
    Match(String),
}

/// Reads the write preconditions. AWS accepts only `*` in `If-None-Match` on a write and
/// answers 501 NotImplemented to an ETag there (the PutObject page: "Expects the '*'").
pub fn write_precondition(
    if_match: Option<&str>,
    if_none_match: Option<&str>,
) -> Result<WritePrecondition, S3Error> {
    if let Some(value) = if_none_match {
        if value.trim() != "*" {
            return Err(S3Error::new(
                S3ErrorCode::NotImplemented,
                "A header you provided implies functionality that is not implemented",
            )
            .with_detail("Header", "If-None-Match"));
        }
        return Ok(WritePrecondition::Absent);
    }
    Ok(match if_match {
        Some(value) => WritePrecondition::Match(value.trim().trim_matches('"').to_string()),
        None => WritePrecondition::None,
    })
}

fn precondition_failed() -> S3Error {
    S3Error::new(
        S3ErrorCode::PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold",
    )
}

/// Checks a write's preconditions against the key as it is now (`current`: its ETag, None
/// when missing) and returns what the store must check again at commit: 412 when the
/// condition fails, 404 NoSuchKey for `If-Match` on a missing key (PutObject page). `If-Match: *`
/// commits against the ETag seen here, so an overwrite in between is a conflict too.
pub fn write_condition_now(
    wanted: WritePrecondition,
    current: Option<&str>,
) -> Result<WriteCondition, S3Error> {
    match (wanted, current) {
        (WritePrecondition::None, _) => Ok(WriteCondition::None),
        (WritePrecondition::Absent, None) => Ok(WriteCondition::IfAbsent),
        (WritePrecondition::Absent, Some(_)) => Err(precondition_failed()),
        (WritePrecondition::Match(_), None) => Err(S3Error::new(
            S3ErrorCode::NoSuchKey,
            "The specified key does not exist.",
        )),
        (WritePrecondition::Match(want), Some(etag)) if want == "*" || want == etag => {
            Ok(WriteCondition::IfEtag(etag.to_string()))
        }
        (WritePrecondition::Match(_), Some(_)) => Err(precondition_failed()),
    }
}

/// The conditions of a delete (DeleteObject's `If-Match`, `x-amz-if-match-last-modified-time`,
/// `x-amz-if-match-size`; DeleteObjects' `ETag`, `LastModifiedTime`, `Size` of an entry).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DeletePreconditions {
    pub if_match: Option<String>,
    pub last_modified: Option<SystemTime>,
    pub size: Option<u64>,
}

/// How a delete's conditions fare against the object as it is now.
#[derive(Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// Delete the object only if it still has this ETag when it is removed.
    IfEtag(String),
    /// The key is missing and only the date or size was given: nothing to delete, success.
    Missing,
}

impl DeletePreconditions {
    /// From DeleteObject's headers (date as an HTTP date, as AWS sends timestamps in headers;
    /// ISO 8601 accepted too). 400 InvalidArgument when one does not parse.
    pub fn from_headers(
        if_match: Option<&str>,
        last_modified: Option<&str>,
        size: Option<&str>,
    ) -> Result<Self, S3Error> {
        let invalid = |name: &'static str, value: &str| {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                format!("Invalid {name} header"),
            )
            .with_detail("ArgumentName", name)
            .with_detail("ArgumentValue", value)
        };
        let last_modified = last_modified
            .map(|v| {
                parse_http_date(v.trim())
                    .or_else(|| parse_iso8601(v.trim()))
                    .ok_or_else(|| invalid("x-amz-if-match-last-modified-time", v))
            })
            .transpose()?;
        let size = size
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| invalid("x-amz-if-match-size", v))
            })
            .transpose()?;
        Ok(DeletePreconditions {
            if_match: if_match.map(|v| v.trim().trim_matches('"').to_string()),
            last_modified,
            size,
        })
    }

    /// Evaluates the conditions against the object as it is now (`current`: ETag, last
    /// modified, size; None when missing). AWS: a condition that does not hold is 412; a
    /// missing key is 404 NoSuchKey when `If-Match` was given (conditional deletes, user
    /// guide), and 204 for the date and size conditions alone (DeleteObject page).
    pub fn evaluate(
        &self,
        current: Option<(&str, SystemTime, u64)>,
    ) -> Result<DeleteOutcome, S3Error> {
        let Some((etag, modified, size)) = current else {
            return match self.if_match {
                Some(_) => Err(S3Error::new(
                    S3ErrorCode::NoSuchKey,
                    "The specified key does not exist.",
                )),
                None => Ok(DeleteOutcome::Missing),
            };
        };
        let etag_holds = self
            .if_match
            .as_deref()
            .is_none_or(|want| want == "*" || want == etag);
        let date_holds = self
            .last_modified
            .is_none_or(|want| whole_seconds(want) == whole_seconds(modified));
        let size_holds = self.size.is_none_or(|want| want == size);
        if etag_holds && date_holds && size_holds {
            Ok(DeleteOutcome::IfEtag(etag.to_string()))
        } else {
            Err(precondition_failed())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETAG: &str = "abc";

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn etag_lists() {
        assert!(etag_list_matches("\"abc\"", ETAG));
        assert!(etag_list_matches("\"x\", \"abc\"", ETAG));
        assert!(etag_list_matches("*", ETAG));
        assert!(etag_list_matches("abc", ETAG));
        assert!(!etag_list_matches("\"abd\"", ETAG));
    }

    #[test]
    fn precedence() {
        let p = |m, nm| Preconditions {
            if_match: m,
            if_none_match: nm,
            ..Default::default()
        };
        assert_eq!(evaluate(&p(None, None), ETAG, at(10)), Outcome::Proceed);
        assert_eq!(
            evaluate(&p(Some("\"abc\""), None), ETAG, at(10)),
            Outcome::Proceed
        );
        assert_eq!(
            evaluate(&p(Some("\"x\""), None), ETAG, at(10)),
            Outcome::PreconditionFailed
        );
        assert_eq!(
            evaluate(&p(None, Some("\"abc\"")), ETAG, at(10)),
            Outcome::NotModified
        );
        assert_eq!(
            evaluate(&p(None, Some("\"x\"")), ETAG, at(10)),
            Outcome::Proceed
        );
        // If-Match wins over If-None-Match.
        assert_eq!(
            evaluate(&p(Some("\"x\""), Some("\"abc\"")), ETAG, at(10)),
            Outcome::PreconditionFailed
        );
    }

    #[test]
    fn write_preconditions() {
        let absent = write_precondition(None, Some("*")).unwrap();
        assert_eq!(
            write_condition_now(absent, None).unwrap(),
            WriteCondition::IfAbsent
        );
        let absent = write_precondition(None, Some("*")).unwrap();
        assert_eq!(
            write_condition_now(absent, Some(ETAG)).unwrap_err().code,
            S3ErrorCode::PreconditionFailed
        );
        assert_eq!(
            write_precondition(None, Some("\"abc\"")).unwrap_err().code,
            S3ErrorCode::NotImplemented
        );
        let any = write_precondition(Some("*"), None).unwrap();
        assert_eq!(
            write_condition_now(any, Some(ETAG)).unwrap(),
            WriteCondition::IfEtag(ETAG.into())
        );
        let any = write_precondition(Some("*"), None).unwrap();
        assert_eq!(
            write_condition_now(any, None).unwrap_err().code,
            S3ErrorCode::NoSuchKey
        );
        let other = write_precondition(Some("\"x\""), None).unwrap();
        assert_eq!(
            write_condition_now(other, Some(ETAG)).unwrap_err().code,
            S3ErrorCode::PreconditionFailed
        );
    }

    #[test]
    fn delete_preconditions() {
        let now = Some((ETAG, at(10), 5));
        let size = DeletePreconditions::from_headers(None, None, Some("5")).unwrap();
        assert_eq!(
            size.evaluate(now).unwrap(),
            DeleteOutcome::IfEtag(ETAG.into())
        );
        assert_eq!(size.evaluate(None).unwrap(), DeleteOutcome::Missing);
        let wrong_size = DeletePreconditions::from_headers(None, None, Some("6")).unwrap();
        assert_eq!(
            wrong_size.evaluate(now).unwrap_err().code,
            S3ErrorCode::PreconditionFailed
        );
        let date = "Thu, 01 Jan 1970 00:00:10 GMT";
        let dated = DeletePreconditions::from_headers(Some("*"), Some(date), None).unwrap();
        assert!(dated.evaluate(now).is_ok());
        assert_eq!(
            dated.evaluate(None).unwrap_err().code,
            S3ErrorCode::NoSuchKey
        );
        assert_eq!(
            dated.evaluate(Some((ETAG, at(11), 5))).unwrap_err().code,
            S3ErrorCode::PreconditionFailed
        );
        assert_eq!(
            DeletePreconditions::from_headers(None, None, Some("x"))
                .unwrap_err()
                .code,
            S3ErrorCode::InvalidArgument
        );
    }
}
