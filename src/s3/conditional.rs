//! Conditional requests (RFC 9110 §13) on an object's ETag and Last-Modified.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::time::parse_http_date;

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
}
