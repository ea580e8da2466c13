//! The policy document: its JSON shape and the validation AWS does at PutBucketPolicy (IAM
//! User Guide, "IAM JSON policy elements reference"). Every refusal is a 400
//! MalformedPolicy whose message says what is wrong.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::actions::names_an_action;
use super::condition::{self, Condition};
use super::{malformed, MAX_POLICY_SIZE};
use crate::s3::error::S3Error;

/// Who a statement is about.
#[derive(Clone, Debug)]
pub(super) enum Principals {
    Everyone,
    /// ARNs (`arn:aws:iam::<id>:user/<name>`, `arn:aws:iam::<id>:root`) and canonical IDs.
    Named(Vec<String>),
}

/// A list of patterns, or of `Not...` patterns (the statement applies to what none matches).
#[derive(Clone, Debug)]
pub(super) struct Patterns {
    pub negated: bool,
    pub patterns: Vec<String>,
}

impl Patterns {
    /// Does the statement apply to `text`?
    pub fn applies_to(&self, text: &str) -> bool {
        self.patterns.iter().any(|p| super::wildcard_match(p, text)) != self.negated
    }

    /// As [`Patterns::applies_to`], with the policy variables (`${aws:username}`, ...) of
    /// each pattern replaced by the request's values; a pattern whose variable has no
    /// value matches nothing.
    pub fn applies_to_with(&self, text: &str, values: &super::ConditionValues) -> bool {
        self.patterns.iter().any(|p| {
            super::expand_variables(p, values).is_some_and(|p| super::wildcard_match(&p, text))
        }) != self.negated
    }
}

#[derive(Clone, Debug)]
pub(super) struct Statement {
    pub allow: bool,
    pub principals: Principals,
    /// `NotPrincipal`: the statement applies to everyone the principals do not name.
    pub principals_negated: bool,
    /// Lowercase: actions compare case-insensitively.
    pub actions: Patterns,
    pub resources: Patterns,
    pub conditions: Vec<Condition>,
}

/// A string or a non-empty array of strings.
fn strings(value: &Value, what: &str) -> Result<Vec<String>, S3Error> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| malformed(format!("{what} must be strings")))
            })
            .collect(),
        _ => Err(malformed(format!(
            "{what} must be a string or a list of strings"
        ))),
    }
}

fn is_canonical_id(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `arn:aws:iam::<canonical id>:root` or `arn:aws:iam::<canonical id>:user/<name>`.
fn is_user_arn(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("arn:aws:iam::") else {
        return false;
    };
    let Some((account, resource)) = rest.split_once(':') else {
        return false;
    };
    is_canonical_id(account)
        && (resource == "root"
            || resource
                .strip_prefix("user/")
                .is_some_and(|name| !name.is_empty() && !name.contains(['*', '?'])))
}

fn parse_principals(value: &Value) -> Result<Principals, S3Error> {
    let invalid = || malformed("Invalid principal in policy");
    let map = match value {
        Value::String(s) if s == "*" => return Ok(Principals::Everyone),
        Value::Object(map) if !map.is_empty() => map,
        _ => return Err(invalid()),
    };
    let mut named = Vec::new();
    let mut everyone = false;
    for (kind, values) in map {
        for name in strings(values, "Principal values")? {
            match kind.as_str() {
                "AWS" if name == "*" => everyone = true,
                "AWS" if is_user_arn(&name) || is_canonical_id(&name) => named.push(name),
                "CanonicalUser" if is_canonical_id(&name) => named.push(name),
                _ => return Err(invalid()),
            }
        }
    }
    Ok(if everyone {
        Principals::Everyone
    } else {
        Principals::Named(named)
    })
}

/// Exactly one of `Name` and `NotName`: (its value, negated).
fn one_of<'a>(statement: &'a Map<String, Value>, name: &str) -> Result<(&'a Value, bool), S3Error> {
    let not_name = format!("Not{name}");
    match (statement.get(name), statement.get(&not_name)) {
        (Some(value), None) => Ok((value, false)),
        (None, Some(value)) => Ok((value, true)),
        (Some(_), Some(_)) => Err(malformed(format!(
            "A statement cannot have both {name} and {not_name}"
        ))),
        (None, None) => Err(malformed(format!("Missing required field {name}"))),
    }
}

fn parse_actions(value: &Value, negated: bool) -> Result<Patterns, S3Error> {
    let mut patterns = Vec::new();
    for action in strings(value, "Action")? {
        let lower = action.to_ascii_lowercase();
        if !names_an_action(&lower) {
            return Err(malformed(format!("Policy has invalid action {action}")));
        }
        patterns.push(lower);
    }
    Ok(Patterns { negated, patterns })
}

/// Every resource must be the bucket or lie under it: a pattern whose literal start (up to
/// its first wildcard) could not begin `arn:aws:s3:::<bucket>` or `.../<key>` names some
/// other bucket, which a bucket policy cannot speak for.
fn parse_resources(value: &Value, negated: bool, bucket: &str) -> Result<Patterns, S3Error> {
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    let under = format!("{bucket_arn}/");
    let mut patterns = Vec::new();
    for resource in strings(value, "Resource")? {
        let literal = &resource[..resource.find(['*', '?']).unwrap_or(resource.len())];
        let ours = resource == bucket_arn
            || under.starts_with(literal)
            || literal.starts_with(under.as_str());
        if !ours {
            return Err(malformed(format!(
                "Policy has invalid resource {resource}: it must name this bucket or objects in it"
            )));
        }
        patterns.push(resource);
    }
    Ok(Patterns { negated, patterns })
}

fn parse_statement(
    statement: &Value,
    bucket: &str,
    sids: &mut HashSet<String>,
) -> Result<Statement, S3Error> {
    let statement = statement
        .as_object()
        .ok_or_else(|| malformed("Statements must be JSON objects"))?;
    for key in statement.keys() {
        if !matches!(
            key.as_str(),
            "Sid"
                | "Effect"
                | "Principal"
                | "NotPrincipal"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Condition"
        ) {
            return Err(malformed(format!("Unknown field {key}")));
        }
    }
    match statement.get("Sid") {
        Some(Value::String(sid)) if !sids.insert(sid.clone()) => {
            return Err(malformed(format!(
                "Statement IDs (SID) in a single policy must be unique: {sid}"
            )));
        }
        None | Some(Value::String(_)) => {}
        Some(_) => return Err(malformed("Sid must be a string")),
    }
    let allow = match statement.get("Effect").and_then(Value::as_str) {
        Some("Allow") => true,
        Some("Deny") => false,
        Some(other) => return Err(malformed(format!("Invalid effect: {other}"))),
        None => return Err(malformed("Missing required field Effect")),
    };
    let (principal, principals_negated) = one_of(statement, "Principal")?;
    let (actions, actions_negated) = one_of(statement, "Action")?;
    let (resources, resources_negated) = one_of(statement, "Resource")?;
    let conditions = match statement.get("Condition") {
        Some(block) => condition::parse_block(block)?,
        None => Vec::new(),
    };
    Ok(Statement {
        allow,
        principals: parse_principals(principal)?,
        principals_negated,
        actions: parse_actions(actions, actions_negated)?,
        resources: parse_resources(resources, resources_negated, bucket)?,
        conditions,
    })
}

/// Validates `document` as a policy of `bucket` and returns its statements.
pub(super) fn parse(document: &str, bucket: &str) -> Result<Vec<Statement>, S3Error> {
    if document.len() > MAX_POLICY_SIZE {
        return Err(malformed("Policies must be no more than 20 KB"));
    }
    // serde_json refuses nesting deeper than 128 levels before anything here recurses.
    let root: Value = serde_json::from_str(document)
        .map_err(|e| malformed(format!("This policy contains invalid Json: {e}")))?;
    let root = root
        .as_object()
        .ok_or_else(|| malformed("Policies must be JSON objects"))?;
    for key in root.keys() {
        if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
            return Err(malformed(format!("Unknown field {key}")));
        }
    }
    match root.get("Version") {
        None => {}
        Some(Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => {}
        Some(_) => return Err(malformed("The policy must contain a valid version string")),
    }
    if root.get("Id").is_some_and(|id| !id.is_string()) {
        return Err(malformed("Id must be a string"));
    }
    let list = match root.get("Statement") {
        Some(Value::Array(list)) if !list.is_empty() => list.as_slice(),
        Some(single @ Value::Object(_)) => std::slice::from_ref(single),
        _ => return Err(malformed("Missing required field Statement")),
    };
    let mut sids = HashSet::new();
    list.iter()
        .map(|statement| parse_statement(statement, bucket, &mut sids))
        .collect()
}
