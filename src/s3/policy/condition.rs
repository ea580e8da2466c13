//! The `Condition` element: operators, keys and their evaluation against the values the
//! caller gathered from the request (IAM User Guide, "IAM JSON policy elements: Condition
//! operators"; Amazon S3 User Guide, "Bucket policy examples using condition keys").
//!
//! Semantics, as AWS documents them: the values listed for one key are ORed; the keys of one
//! operator and the operators of one block are ANDed. A key absent from the request makes a
//! condition false, except for negated operators (true), `...IfExists` (true), `Null`
//! (tests presence itself) and `ForAllValues:` (true: every one of no values matches).

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::Value;

use super::{malformed, wildcard_match};
use crate::s3::error::S3Error;

/// Request values for condition keys, filled by the caller. Keys are case-insensitive; what
/// follows the first `/` (a tag key in `s3:ExistingObjectTag/<k>`) keeps its case, as tag
/// keys do. A key left unset is absent, which makes negated operators true: the keys every
/// request has (aws:SourceIp, aws:SecureTransport, aws:CurrentTime, aws:EpochTime,
/// s3:authType, s3:signatureversion, ...) must always be set, or a `Deny` written as
/// `{"Bool": {"aws:SecureTransport": "false"}}` would never apply.
#[derive(Clone, Debug, Default)]
pub struct ConditionValues {
    values: HashMap<String, Vec<String>>,
}

impl ConditionValues {
    pub fn set(&mut self, key: &str, values: Vec<String>) {
        self.values.insert(normalize_key(key), values);
    }

    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values.get(&normalize_key(key)).map(Vec::as_slice)
    }
}

/// The key name lowercased up to its first `/`, the rest (a tag key) as written.
pub(super) fn normalize_key(key: &str) -> String {
    match key.split_once('/') {
        Some((name, rest)) => format!("{}/{rest}", name.to_ascii_lowercase()),
        None => key.to_ascii_lowercase(),
    }
}

/// Keys a bucket policy may test: the global ones that make sense here and the S3 ones.
const KEYS: &[&str] = &[
    "aws:currenttime",
    "aws:epochtime",
    "aws:principalarn",
    "aws:principaltype",
    "aws:referer",
    "aws:securetransport",
    "aws:sourceip",
    "aws:useragent",
    "aws:userid",
    "aws:username",
    "s3:authtype",
    "s3:delimiter",
    "s3:max-keys",
    "s3:object-lock-legal-hold",
    "s3:object-lock-mode",
    "s3:object-lock-remaining-retention-days",
    "s3:object-lock-retain-until-date",
    "s3:prefix",
    "s3:requestobjecttagkeys",
    "s3:signatureage",
    "s3:signatureversion",
    "s3:tlsversion",
    "s3:versionid",
    "s3:x-amz-acl",
    "s3:x-amz-content-sha256",
    "s3:x-amz-copy-source",
    "s3:x-amz-metadata-directive",
    "s3:x-amz-server-side-encryption",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
];

/// Keys followed by a name of the policy author's choosing.
const KEY_FAMILIES: &[&str] = &[
    "s3:existingobjecttag/",
    "s3:requestobjecttag/",
    "s3:x-amz-grant-",
];

fn is_known_key(normalized: &str) -> bool {
    KEYS.contains(&normalized)
        || KEY_FAMILIES.iter().any(|family| {
            normalized
                .strip_prefix(family)
                .is_some_and(|name| !name.is_empty())
        })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Comparison {
    Equal,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Comparison {
    fn holds(self, request: f64, policy: f64) -> bool {
        match self {
            Comparison::Equal => request == policy,
            Comparison::Less => request < policy,
            Comparison::LessOrEqual => request <= policy,
            Comparison::Greater => request > policy,
            Comparison::GreaterOrEqual => request >= policy,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StringMatch {
    Exact,
    IgnoreCase,
    Like,
}

/// The operator proper, without negation, qualifier or `IfExists`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Test {
    String(StringMatch),
    Numeric(Comparison),
    Date(Comparison),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Qualifier {
    None,
    ForAnyValue,
    ForAllValues,
}

/// A policy value, parsed once at PutBucketPolicy for the operators that need it.
#[derive(Clone, Debug)]
enum Operand {
    Text(String),
    Number(f64),
    Cidr(IpAddr, u8),
    Flag(bool),
}

#[derive(Clone, Debug)]
pub(super) struct Condition {
    test: Test,
    negated: bool,
    if_exists: bool,
    qualifier: Qualifier,
    /// Normalized (see `normalize_key`).
    key: String,
    operands: Vec<Operand>,
}

/// `StringNotLike` -> (String(Like), negated), and so on.
fn base_operator(name: &str) -> Option<(Test, bool)> {
    use Comparison::*;
    let numeric = |rest: &str| -> Option<(Comparison, bool)> {
        Some(match rest {
            "Equals" => (Equal, false),
            "NotEquals" => (Equal, true),
            "LessThan" => (Less, false),
            "LessThanEquals" => (LessOrEqual, false),
            "GreaterThan" => (Greater, false),
            "GreaterThanEquals" => (GreaterOrEqual, false),
            _ => return None,
        })
    };
    if let Some(rest) = name.strip_prefix("Numeric") {
        return numeric(rest).map(|(c, neg)| (Test::Numeric(c), neg));
    }
    if let Some(rest) = name.strip_prefix("Date") {
        return numeric(rest).map(|(c, neg)| (Test::Date(c), neg));
    }
    Some(match name {
        "StringEquals" => (Test::String(StringMatch::Exact), false),
        "StringNotEquals" => (Test::String(StringMatch::Exact), true),
        "StringEqualsIgnoreCase" => (Test::String(StringMatch::IgnoreCase), false),
        "StringNotEqualsIgnoreCase" => (Test::String(StringMatch::IgnoreCase), true),
        "StringLike" => (Test::String(StringMatch::Like), false),
        "StringNotLike" => (Test::String(StringMatch::Like), true),
        "Bool" => (Test::Bool, false),
        "BinaryEquals" => (Test::Binary, false),
        "IpAddress" => (Test::Ip, false),
        "NotIpAddress" => (Test::Ip, true),
        "ArnEquals" | "ArnLike" => (Test::Arn, false),
        "ArnNotEquals" | "ArnNotLike" => (Test::Arn, true),
        "Null" => (Test::Null, false),
        _ => return None,
    })
}

/// Scalars of a condition value as the strings the request values are compared with.
fn scalar_strings(value: &Value) -> Result<Vec<String>, S3Error> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(malformed("Invalid Condition value: expected strings")),
    };
    match value {
        Value::Array(items) if !items.is_empty() => items.iter().map(scalar).collect(),
        Value::Array(_) => Err(malformed("Invalid Condition value: empty list")),
        other => Ok(vec![scalar(other)?]),
    }
}

fn parse_number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Seconds since the epoch from `2026-01-31T12:00:00Z` (fraction allowed), `2026-01-31`,
/// or an epoch number, the forms AWS accepts for date conditions.
fn parse_date(text: &str) -> Option<f64> {
    if let Some(epoch) = parse_number(text) {
        return Some(epoch);
    }
    let full;
    let text = if text.len() == 10 {
        full = format!("{text}T00:00:00Z");
        full.as_str()
    } else {
        text
    };
    let time = crate::time::parse_iso8601(text)?;
    let secs = match time.duration_since(std::time::UNIX_EPOCH) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    };
    Some(secs)
}

/// `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a /32 or /128).
fn parse_cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (address, prefix) = match text.trim().split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text.trim(), None),
    };
    let address: IpAddr = address.parse().ok()?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
        None => max,
    };
    Some((address, prefix))
}

fn in_cidr(address: IpAddr, network: IpAddr, prefix: u8) -> bool {
    let (a, n, width) = match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => (u32::from(a) as u128, u32::from(n) as u128, 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        (IpAddr::V6(a), IpAddr::V4(_)) => match a.to_ipv4_mapped() {
            Some(a) => return in_cidr(IpAddr::V4(a), network, prefix),
            None => return false,
        },
        (IpAddr::V4(_), IpAddr::V6(_)) => return false,
    };
    let shift = width - u32::from(prefix);
    shift >= 128 || (a >> shift) == (n >> shift)
}

fn parse_flag(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn operand(test: Test, text: String) -> Result<Operand, S3Error> {
    let bad = |what: &str| malformed(format!("Invalid Condition value {text:?}: {what}"));
    Ok(match test {
        Test::Numeric(_) => {
            Operand::Number(parse_number(&text).ok_or_else(|| bad("not a number"))?)
        }
        Test::Date(_) => Operand::Number(parse_date(&text).ok_or_else(|| bad("not a date"))?),
        Test::Ip => {
            let (address, prefix) = parse_cidr(&text).ok_or_else(|| bad("not an IP range"))?;
            Operand::Cidr(address, prefix)
        }
        Test::Bool | Test::Null => {
            Operand::Flag(parse_flag(&text).ok_or_else(|| bad("not true or false"))?)
        }
        Test::String(_) | Test::Binary | Test::Arn => Operand::Text(text),
    })
}

/// Parses one `Condition` element into its conditions (ANDed).
pub(super) fn parse_block(block: &Value) -> Result<Vec<Condition>, S3Error> {
    let block = block
        .as_object()
        .ok_or_else(|| malformed("Condition must be a JSON object"))?;
    let mut conditions = Vec::new();
    for (operator, keys) in block {
        let (qualifier, rest) = if let Some(rest) = operator.strip_prefix("ForAnyValue:") {
            (Qualifier::ForAnyValue, rest)
        } else if let Some(rest) = operator.strip_prefix("ForAllValues:") {
            (Qualifier::ForAllValues, rest)
        } else {
            (Qualifier::None, operator.as_str())
        };
        let (rest, if_exists) = match rest.strip_suffix("IfExists") {
            Some(rest) => (rest, true),
            None => (rest, false),
        };
        let invalid_operator = || malformed(format!("Invalid Condition type : {operator}"));
        let (test, negated) = base_operator(rest).ok_or_else(invalid_operator)?;
        if test == Test::Null && (if_exists || qualifier != Qualifier::None) {
            return Err(invalid_operator());
        }
        let keys = keys
            .as_object()
            .ok_or_else(|| malformed(format!("Condition {operator} must map keys to values")))?;
        if keys.is_empty() {
            return Err(malformed(format!("Condition {operator} names no key")));
        }
        for (key, values) in keys {
            let normalized = normalize_key(key);
            if !is_known_key(&normalized) {
                return Err(malformed(format!(
                    "Policy has an invalid condition key: {key}"
                )));
            }
            let operands = scalar_strings(values)?
                .into_iter()
                .map(|text| operand(test, text))
                .collect::<Result<Vec<_>, _>>()?;
            conditions.push(Condition {
                test,
                negated,
                if_exists,
                qualifier,
                key: normalized,
                operands,
            });
        }
    }
    Ok(conditions)
}

/// ARNs compare component by component (the six `:`-separated fields), each with wildcards,
/// so a `*` in the service field cannot swallow the account field.
fn arn_match(pattern: &str, arn: &str) -> bool {
    let mut pattern_fields = pattern.splitn(6, ':');
    let mut arn_fields = arn.splitn(6, ':');
    loop {
        match (pattern_fields.next(), arn_fields.next()) {
            (None, None) => return true,
            (Some(p), Some(a)) if wildcard_match(p, a) => {}
            _ => return false,
        }
    }
}

impl Condition {
    /// The text operands with their policy variables (`${aws:username}`, ...) replaced by
    /// the request's values; an operand whose variable has no value is left out.
    fn texts<'a>(
        &'a self,
        request: &'a ConditionValues,
    ) -> impl Iterator<Item = std::borrow::Cow<'a, str>> + 'a {
        self.operands.iter().filter_map(|o| match o {
            Operand::Text(p) => super::expand_variables(p, request),
            _ => None,
        })
    }

    /// Does one request value satisfy the (unnegated) operator against any policy value?
    fn matches(&self, value: &str, request: &ConditionValues) -> bool {
        match self.test {
            Test::String(how) => self.texts(request).any(|p| match how {
                StringMatch::Exact => p == value,
                StringMatch::IgnoreCase => p.to_lowercase() == value.to_lowercase(),
                StringMatch::Like => wildcard_match(&p, value),
            }),
            Test::Binary => self
                .operands
                .iter()
                .any(|o| matches!(o, Operand::Text(p) if p == value)),
            Test::Arn => self.texts(request).any(|p| arn_match(&p, value)),
            Test::Numeric(comparison) | Test::Date(comparison) => {
                let parse = if matches!(self.test, Test::Date(_)) {
                    parse_date
                } else {
                    parse_number
                };
                let Some(request) = parse(value) else {
                    return false;
                };
                self.operands
                    .iter()
                    .any(|o| matches!(o, Operand::Number(p) if comparison.holds(request, *p)))
            }
            Test::Bool => {
                let Some(request) = parse_flag(value) else {
                    return false;
                };
                self.operands
                    .iter()
                    .any(|o| matches!(o, Operand::Flag(p) if *p == request))
            }
            Test::Ip => {
                let Some((address, _)) = parse_cidr(value) else {
                    return false;
                };
                self.operands.iter().any(|o| {
                    matches!(o, Operand::Cidr(network, prefix) if in_cidr(address, *network, *prefix))
                })
            }
            // Decided from presence alone, in `holds`.
            Test::Null => false,
        }
    }

    /// Does the request satisfy this condition?
    pub(super) fn holds(&self, request: &ConditionValues) -> bool {
        let values = request
            .values
            .get(&self.key)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if self.test == Test::Null {
            let absent = values.is_empty();
            return self
                .operands
                .iter()
                .any(|o| matches!(o, Operand::Flag(wants_absent) if *wants_absent == absent));
        }
        if values.is_empty() {
            return self.if_exists
                || self.qualifier == Qualifier::ForAllValues
                || (self.negated && self.qualifier == Qualifier::None);
        }
        let satisfies = |value: &String| self.matches(value, request) != self.negated;
        match self.qualifier {
            Qualifier::ForAllValues => values.iter().all(satisfies),
            Qualifier::ForAnyValue => values.iter().any(satisfies),
            // A negated operator holds when no value matches; a plain one when any does.
            Qualifier::None if self.negated => values.iter().all(satisfies),
            Qualifier::None => values.iter().any(satisfies),
        }
    }

    pub(super) fn key(&self) -> &str {
        &self.key
    }

    /// The text operands as written (policy variables unexpanded).
    pub(super) fn operand_texts(&self) -> impl Iterator<Item = &str> {
        self.operands.iter().filter_map(|o| match o {
            Operand::Text(text) => Some(text.as_str()),
            _ => None,
        })
    }

    /// True when this condition, on an `Allow`, confines it to requesters or networks named
    /// by fixed values (no wildcard, no policy variable): the exceptions of "The meaning of
    /// public" (Amazon S3 User Guide, Blocking public access).
    pub(super) fn confines_to_fixed_values(&self) -> bool {
        if self.negated || self.if_exists || self.qualifier == Qualifier::ForAllValues {
            return false;
        }
        match (self.key.as_str(), self.test) {
            ("aws:sourceip", Test::Ip) => self
                .operands
                .iter()
                .all(|o| matches!(o, Operand::Cidr(_, prefix) if *prefix > 0)),
            (
                "aws:userid"
                | "aws:principalarn"
                | "s3:x-amz-server-side-encryption-aws-kms-key-id",
                Test::String(_) | Test::Arn,
            ) => self.operands.iter().all(
                |o| matches!(o, Operand::Text(t) if !t.contains(['*', '?']) && !t.contains("${")),
            ),
            _ => false,
        }
    }
}
