//! Bucket policies: the document (document.rs, actions.rs), its conditions (condition.rs),
//! its evaluation for a request (here) and whether it is public (public.rs). Pure: the
//! caller fetches the policy and gathers the request's condition values.
//!
//! Evaluation follows the IAM policy evaluation logic for a resource-based policy: a
//! statement applies when its principal, action, resource and every condition match; an
//! applying `Deny` wins over any `Allow`; with none applying the policy says nothing and the
//! ACLs decide.

mod actions;
mod condition;
mod document;
mod public;
#[cfg(test)]
mod tests;

pub use condition::ConditionValues;

use crate::s3::error::{S3Error, S3ErrorCode};
use document::{Principals, Statement};

/// The largest policy document S3 accepts.
pub const MAX_POLICY_SIZE: usize = 20 * 1024;

/// A validated policy.
#[derive(Clone, Debug)]
pub struct Policy {
    statements: Vec<Statement>,
    /// The condition keys its conditions and `${...}` variables read, by name (lowercase, up
    /// to any `/`): a request gathers only these values.
    keys_read: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
    /// No statement applies: ACLs decide.
    NotSpecified,
}

/// Who sends the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requester<'a> {
    Anonymous,
    User {
        name: &'a str,
        canonical_id: &'a str,
    },
}

/// What a request asks, in the terms of a policy.
#[derive(Clone, Copy, Debug)]
pub struct PolicyRequest<'a> {
    pub requester: Requester<'a>,
    /// `s3:GetObject`
    pub action: &'a str,
    /// `arn:aws:s3:::bkt` or `arn:aws:s3:::bkt/key`
    pub resource: &'a str,
    pub conditions: &'a ConditionValues,
}

fn malformed(why: impl Into<String>) -> S3Error {
    S3Error::new(S3ErrorCode::MalformedPolicy, why.into())
}

/// `*` matches any run of characters, `?` any one. Backtracks only to the last `*`, so a
/// hostile pattern costs at most pattern × text steps, never exponential time. Every request
/// runs it against every pattern of the policy: ASCII text (the usual case) is matched as
/// bytes without collecting characters.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        return match_units(pattern.as_bytes(), text.as_bytes(), b'*', b'?');
    }
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    match_units(&p, &t, '*', '?')
}

fn match_units<T: Copy + PartialEq>(p: &[T], t: &[T], any_run: T, any_one: T) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        // A '*' in the pattern is a wildcard even where the text holds a '*'.
        if pi < p.len() && p[pi] == any_run {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == any_one || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == any_run)
}

/// A pattern with its policy variables (`${aws:username}`, any condition key) replaced by
/// the request's single value for them; `${$}` is a `$`. None when a variable has no single
/// value, or one that holds a wildcard character (a value must match only itself), or the
/// pattern is malformed: the pattern then matches nothing, as AWS treats an unresolved
/// variable.
pub(crate) fn expand_variables<'p>(
    pattern: &'p str,
    values: &ConditionValues,
) -> Option<std::borrow::Cow<'p, str>> {
    if !pattern.contains("${") {
        return Some(std::borrow::Cow::Borrowed(pattern));
    }
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}')?;
        let key = after[..end].trim();
        if key == "$" {
            out.push('$');
        } else {
            match values.get(key)? {
                [value] if !value.contains(['*', '?']) => out.push_str(value),
                _ => return None,
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(std::borrow::Cow::Owned(out))
}

/// The keys of the `${...}` variables in `pattern` (`${$}` is no key).
fn variables(pattern: &str) -> impl Iterator<Item = &str> {
    pattern
        .split("${")
        .skip(1)
        .filter_map(|after| after.split_once('}'))
        .map(|(key, _)| key.trim())
        .filter(|key| *key != "$")
}

/// A condition key's name: up to its first `/` (the tag key of `s3:RequestObjectTag/<tag>`
/// is left out).
fn key_name(key: &str) -> &str {
    key.split('/').next().unwrap_or(key)
}

/// Does a principal value name this requester? A user is named by its canonical ID, its
/// user ARN and its account's root ARN (each user is its own account); anonymous requests
/// only by `*`.
fn names(principal: &str, requester: Requester<'_>) -> bool {
    let Requester::User { name, canonical_id } = requester else {
        return false;
    };
    if principal.eq_ignore_ascii_case(canonical_id) {
        return true;
    }
    let Some((account, resource)) = principal
        .strip_prefix("arn:aws:iam::")
        .and_then(|rest| rest.split_once(':'))
    else {
        return false;
    };
    account.eq_ignore_ascii_case(canonical_id)
        && (resource == "root" || resource.strip_prefix("user/") == Some(name))
}

impl Statement {
    fn applies_to_requester(&self, requester: Requester<'_>) -> bool {
        let named = match &self.principals {
            Principals::Everyone => true,
            Principals::Named(list) => list.iter().any(|p| names(p, requester)),
        };
        named != self.principals_negated
    }

    fn applies(&self, request: &PolicyRequest<'_>, action: &str) -> bool {
        self.applies_to_requester(request.requester)
            && self.actions.applies_to(action)
            && self
                .resources
                .applies_to_with(request.resource, request.conditions)
            && self.conditions.iter().all(|c| c.holds(request.conditions))
    }
}

impl Policy {
    /// Validates `document` as the policy of `bucket`: 400 MalformedPolicy saying why not.
    pub fn parse(document: &str, bucket: &str) -> Result<Policy, S3Error> {
        let statements = document::parse(document, bucket)?;
        let mut keys_read = Vec::new();
        for statement in &statements {
            let tested = statement.conditions.iter().map(|c| c.key());
            let patterns = statement.resources.patterns.iter().map(String::as_str);
            let operands = statement.conditions.iter().flat_map(|c| c.operand_texts());
            let variables = patterns.chain(operands).flat_map(variables);
            for key in tested.chain(variables) {
                let name = key_name(key).to_ascii_lowercase();
                if !keys_read.contains(&name) {
                    keys_read.push(name);
                }
            }
        }
        Ok(Policy {
            statements,
            keys_read,
        })
    }

    /// The policy's word on `request`: an applying Deny wins over any Allow.
    pub fn evaluate(&self, request: &PolicyRequest<'_>) -> Decision {
        let action = request.action.to_ascii_lowercase();
        let mut decision = Decision::NotSpecified;
        for statement in &self.statements {
            if statement.applies(request, &action) {
                if !statement.allow {
                    return Decision::Deny;
                }
                decision = Decision::Allow;
            }
        }
        decision
    }

    /// Does a condition or variable read the key `key` (`s3:ExistingObjectTag` stands for
    /// every `s3:ExistingObjectTag/<tag>`)? The caller gathers only the values read.
    pub fn reads_key(&self, key: &str) -> bool {
        let name = key_name(key);
        self.keys_read.iter().any(|k| k.eq_ignore_ascii_case(name))
    }
}
