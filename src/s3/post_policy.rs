//! The policy document of a browser POST upload: expiration and conditions (`eq`,
//! `starts-with`, `content-length-range`) checked against the form fields.

use std::time::SystemTime;

use serde_json::Value;

use crate::s3::error::{S3Error, S3ErrorCode};
use crate::time::parse_iso8601;

/// Form fields no condition has to mention.
fn exempt(name: &str) -> bool {
    matches!(
        name,
        "policy" | "x-amz-signature" | "signature" | "awsaccesskeyid" | "file" | "bucket"
    ) || name.starts_with("x-ignore-")
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Condition {
    Eq(String, String),
    StartsWith(String, String),
    LengthRange(u64, u64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostPolicy {
    expiration: SystemTime,
    conditions: Vec<Condition>,
}

fn invalid_policy(why: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidPolicyDocument,
        format!("Invalid Policy: {why}"),
    )
}

fn denied(why: String) -> S3Error {
    S3Error::new(
        S3ErrorCode::AccessDenied,
        format!("Invalid according to Policy: {why}"),
    )
}

fn field_name(value: &Value) -> Result<String, S3Error> {
    let name = value
        .as_str()
        .ok_or_else(|| invalid_policy("condition field names are strings"))?;
    let name = name
        .strip_prefix('$')
        .ok_or_else(|| invalid_policy("condition field names start with '$'"))?;
    Ok(name.to_ascii_lowercase())
}

fn number(value: &Value) -> Result<u64, S3Error> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| invalid_policy("content-length-range takes two non-negative integers"))
}

impl PostPolicy {
    /// Parses the decoded (JSON) policy.
    pub fn parse(json: &[u8]) -> Result<PostPolicy, S3Error> {
        let root: Value =
            serde_json::from_slice(json).map_err(|e| invalid_policy(&format!("not JSON: {e}")))?;
        let expiration = root
            .get("expiration")
            .and_then(Value::as_str)
            .and_then(parse_iso8601)
            .ok_or_else(|| invalid_policy("missing or invalid expiration"))?;
        let list = root
            .get("conditions")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid_policy("missing conditions"))?;
        let mut conditions = Vec::new();
        for condition in list {
            match condition {
                Value::Object(map) => {
                    // As AWS answers `[{}]`: one property per simple condition.
                    if map.len() != 1 {
                        return Err(invalid_policy(
                            "Invalid Simple-Condition: Simple-Conditions must have exactly one \
                             property specified.",
                        ));
                    }
                    for (name, value) in map {
                        let value = value
                            .as_str()
                            .ok_or_else(|| invalid_policy("condition values are strings"))?;
                        conditions.push(Condition::Eq(name.to_ascii_lowercase(), value.into()));
                    }
                }
                Value::Array(items) => {
                    let op = items
                        .first()
                        .and_then(Value::as_str)
                        .map(str::to_ascii_lowercase)
                        .ok_or_else(|| invalid_policy("condition without an operator"))?;
                    if items.len() != 3 {
                        return Err(invalid_policy("conditions have three elements"));
                    }
                    let text = |v: &Value| {
                        v.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| invalid_policy("condition values are strings"))
                    };
                    conditions.push(match op.as_str() {
                        "eq" => Condition::Eq(field_name(&items[1])?, text(&items[2])?),
                        "starts-with" => {
                            Condition::StartsWith(field_name(&items[1])?, text(&items[2])?)
                        }
                        "content-length-range" => {
                            Condition::LengthRange(number(&items[1])?, number(&items[2])?)
                        }
                        other => return Err(invalid_policy(&format!("unknown condition {other}"))),
                    });
                }
                _ => return Err(invalid_policy("conditions are objects or arrays")),
            }
        }
        Ok(PostPolicy {
            expiration,
            conditions,
        })
    }

    /// Checks expiration and every condition against `fields` (lower-case names, with
    /// `bucket` added), and that every field is covered by a condition.
    pub fn check_fields(
        &self,
        fields: &[(String, String)],
        now: SystemTime,
    ) -> Result<(), S3Error> {
        if now > self.expiration {
            return Err(denied("Policy expired.".into()));
        }
        let value = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        for condition in &self.conditions {
            match condition {
                Condition::Eq(name, wanted) => {
                    if value(name) != Some(wanted.as_str()) {
                        return Err(denied(format!(
                            "Policy Condition failed: [\"eq\", \"${name}\", \"{wanted}\"]"
                        )));
                    }
                }
                Condition::StartsWith(name, prefix) => {
                    if !value(name).unwrap_or("").starts_with(prefix.as_str()) {
                        return Err(denied(format!(
                            "Policy Condition failed: [\"starts-with\", \"${name}\", \"{prefix}\"]"
                        )));
                    }
                }
                Condition::LengthRange(..) => {}
            }
        }
        for (name, _) in fields {
            let covered = self.conditions.iter().any(|c| match c {
                Condition::Eq(n, _) | Condition::StartsWith(n, _) => n == name,
                Condition::LengthRange(..) => false,
            });
            if !covered && !exempt(name) {
                return Err(denied(format!("Extra input fields: {name}")));
            }
        }
        Ok(())
    }

    /// Checks the file size against `content-length-range`.
    pub fn check_size(&self, size: u64) -> Result<(), S3Error> {
        for condition in &self.conditions {
            if let Condition::LengthRange(min, max) = condition {
                if size < *min {
                    return Err(S3Error::new(
                        S3ErrorCode::EntityTooSmall,
                        "Your proposed upload is smaller than the minimum allowed size",
                    )
                    .with_detail("ProposedSize", size.to_string())
                    .with_detail("MinSizeAllowed", min.to_string()));
                }
                if size > *max {
                    return Err(S3Error::new(
                        S3ErrorCode::EntityTooLarge,
                        "Your proposed upload exceeds the maximum allowed size",
                    )
                    .with_detail("ProposedSize", size.to_string())
                    .with_detail("MaxSizeAllowed", max.to_string()));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_iso8601;

    const POLICY: &str = r#"{"expiration":"2030-01-01T00:00:00.000Z","conditions":[
        {"bucket":"bkt"},["starts-with","$key","up/"],{"acl":"public-read"},
        ["content-length-range",1,10],["starts-with","$Content-Type",""]]}"#;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn conditions() {
        let now = parse_iso8601("2026-01-01T00:00:00.000Z").unwrap();
        let p = PostPolicy::parse(POLICY.as_bytes()).unwrap();
        let good = fields(&[
            ("bucket", "bkt"),
            ("key", "up/a"),
            ("acl", "public-read"),
            ("content-type", "text/plain"),
            ("policy", "x"),
            ("x-ignore-me", "1"),
        ]);
        p.check_fields(&good, now).unwrap();
        let code = |f: &[(&str, &str)]| p.check_fields(&fields(f), now).unwrap_err().code;
        assert_eq!(
            code(&[("bucket", "bkt"), ("key", "down/a"), ("acl", "public-read")]),
            S3ErrorCode::AccessDenied
        );
        assert_eq!(
            code(&[("bucket", "other"), ("key", "up/a"), ("acl", "public-read")]),
            S3ErrorCode::AccessDenied
        );
        assert_eq!(
            code(&[
                ("bucket", "bkt"),
                ("key", "up/a"),
                ("acl", "public-read"),
                ("x-amz-meta-a", "1")
            ]),
            S3ErrorCode::AccessDenied
        );
        let later = parse_iso8601("2031-01-01T00:00:00.000Z").unwrap();
        assert_eq!(
            p.check_fields(&good, later).unwrap_err().code,
            S3ErrorCode::AccessDenied
        );
        assert!(p.check_size(1).is_ok() && p.check_size(10).is_ok());
        assert_eq!(
            p.check_size(0).unwrap_err().code,
            S3ErrorCode::EntityTooSmall
        );
        assert_eq!(
            p.check_size(11).unwrap_err().code,
            S3ErrorCode::EntityTooLarge
        );
        for bad in [
            "{}",
            "[]",
            r#"{"expiration":"x","conditions":[]}"#,
            r#"{"expiration":"2030-01-01T00:00:00.000Z","conditions":[["eq","key","v"]]}"#,
            r#"{"expiration":"2030-01-01T00:00:00.000Z","conditions":[["in","$key","v"]]}"#,
            r#"{"expiration":"2030-01-01T00:00:00.000Z","conditions":[{}]}"#,
            r#"{"expiration":"2030-01-01T00:00:00.000Z","conditions":[{"acl":"private","bucket":"b"}]}"#,
        ] {
            assert_eq!(
                PostPolicy::parse(bad.as_bytes()).unwrap_err().code,
                S3ErrorCode::InvalidPolicyDocument,
                "{bad}"
            );
        }
    }
}
