//! Bucket policies: validation of the JSON document and its evaluation for anonymous
//! requests, the only principal other than the owner we know.
//!
//! Enforced: statements whose principal is everyone (`"*"` or `{"AWS": "*"}`): `Allow` for the
//! read actions (`s3:GetObject`, `s3:ListBucket`, ...), and `Deny` for anything. Refused with
//! NotImplemented at PutBucketPolicy, saying which: other principals, `Condition`,
//! `NotPrincipal`/`NotAction`/`NotResource`, and anonymous `Allow` of anything but reads.

use serde_json::Value;

use crate::s3::error::{S3Error, S3ErrorCode};

/// The largest policy document S3 accepts.
pub const MAX_POLICY_SIZE: usize = 20 * 1024;

/// What an anonymous `Allow` may grant.
const ANONYMOUS_READS: &[&str] = &[
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:GetBucketLocation",
];

#[derive(Clone, Debug, PartialEq, Eq)]
struct Statement {
    allow: bool,
    actions: Vec<String>,
    resources: Vec<String>,
}

/// A validated policy, reduced to the statements about anonymous requests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    statements: Vec<Statement>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
    /// No statement applies: ACLs decide.
    NotSpecified,
}

fn malformed(why: impl Into<String>) -> S3Error {
    S3Error::new(S3ErrorCode::MalformedPolicy, why.into())
}

fn not_implemented(sid: &str, why: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::NotImplemented,
        format!("bucket policy statement {sid}: {why} is not supported by this server"),
    )
}

/// A string or an array of strings.
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

/// True for `"*"` and `{"AWS": "*"}` (or a list holding `"*"`).
fn is_everyone(principal: &Value) -> Result<bool, S3Error> {
    match principal {
        Value::String(s) => Ok(s == "*"),
        Value::Object(map) => {
            if map.is_empty() {
                return Err(malformed("Principal is empty"));
            }
            for (kind, value) in map {
                let names = strings(value, "Principal values")?;
                if kind != "AWS" || names.iter().any(|n| n != "*") {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        _ => Err(malformed("Invalid principal in policy")),
    }
}

/// `*` matches any run of characters, `?` any one.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        // A '*' in the pattern is a wildcard even where the text holds a '*'.
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
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
    p[pi..].iter().all(|c| *c == '*')
}

impl Policy {
    /// Validates `document` for `bucket` owned by `owner`.
    pub fn parse(document: &str, bucket: &str) -> Result<Policy, S3Error> {
        if document.len() > MAX_POLICY_SIZE {
            return Err(malformed("Policies must be no more than 20 KB"));
        }
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
        match root.get("Version").map(|v| v.as_str()) {
            None | Some(Some("2012-10-17" | "2008-10-17")) => {}
            _ => return Err(malformed("The policy must contain a valid version string")),
        }
        let list = match root.get("Statement") {
            Some(Value::Array(list)) if !list.is_empty() => list.clone(),
            Some(single @ Value::Object(_)) => vec![single.clone()],
            _ => return Err(malformed("Missing required field Statement")),
        };
        let mut statements = Vec::new();
        for (i, statement) in list.iter().enumerate() {
            let statement = statement
                .as_object()
                .ok_or_else(|| malformed("Statements must be JSON objects"))?;
            let sid = statement
                .get("Sid")
                .and_then(Value::as_str)
                .map_or_else(|| format!("#{}", i + 1), |s| format!("{s:?}"));
            for key in statement.keys() {
                match key.as_str() {
                    "Sid" | "Effect" | "Principal" | "Action" | "Resource" => {}
                    "NotPrincipal" | "NotAction" | "NotResource" | "Condition" => {
                        return Err(not_implemented(&sid, key))
                    }
                    other => return Err(malformed(format!("Unknown field {other}"))),
                }
            }
            let allow = match statement.get("Effect").and_then(Value::as_str) {
                Some("Allow") => true,
                Some("Deny") => false,
                _ => return Err(malformed("Missing required field Effect")),
            };
            let principal = statement
                .get("Principal")
                .ok_or_else(|| malformed("Missing required field Principal"))?;
            if !is_everyone(principal)? {
                return Err(not_implemented(&sid, "a Principal other than \"*\""));
            }
            let actions = strings(
                statement
                    .get("Action")
                    .ok_or_else(|| malformed("Missing required field Action"))?,
                "Action",
            )?;
            for action in &actions {
                let lower = action.to_ascii_lowercase();
                if lower != "*" && !lower.starts_with("s3:") {
                    return Err(malformed(format!("Policy has invalid action {action}")));
                }
                if allow
                    && !ANONYMOUS_READS
                        .iter()
                        .any(|read| read.eq_ignore_ascii_case(action))
                {
                    return Err(not_implemented(
                        &sid,
                        &format!("Allow of {action} to everyone (only reads such as s3:GetObject and s3:ListBucket)"),
                    ));
                }
            }
            let resources = strings(
                statement
                    .get("Resource")
                    .ok_or_else(|| malformed("Missing required field Resource"))?,
                "Resource",
            )?;
            let arn = format!("arn:aws:s3:::{bucket}");
            for resource in &resources {
                let ours = resource == &arn
                    || resource
                        .strip_prefix(arn.as_str())
                        .is_some_and(|rest| rest.starts_with('/'));
                if !ours {
                    return Err(malformed(format!(
                        "Policy has invalid resource {resource}: it must name this bucket"
                    )));
                }
            }
            statements.push(Statement {
                allow,
                actions,
                resources,
            });
        }
        Ok(Policy { statements })
    }

    /// The decision for an anonymous request doing `action` (e.g. `s3:GetObject`) on
    /// `resource` (`arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`). Deny wins.
    pub fn decide_anonymous(&self, action: &str, resource: &str) -> Decision {
        let action = action.to_ascii_lowercase();
        let mut decision = Decision::NotSpecified;
        for statement in &self.statements {
            let action_matches = statement
                .actions
                .iter()
                .any(|a| wildcard_match(&a.to_ascii_lowercase(), &action));
            let resource_matches = statement
                .resources
                .iter()
                .any(|r| wildcard_match(r, resource));
            if action_matches && resource_matches {
                if !statement.allow {
                    return Decision::Deny;
                }
                decision = Decision::Allow;
            }
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead",
        "Effect":"Allow","Principal":"*","Action":["s3:GetObject"],
        "Resource":["arn:aws:s3:::bkt/*"]}]}"#;

    /// JSON nesting is bounded by serde_json (128 levels) before anything here recurses, and
    /// the document by MAX_POLICY_SIZE: a deep one is refused, not a stack overflow.
    #[test]
    fn deep_documents_are_refused() {
        for depth in [200, 10_000] {
            let deep = format!("{{\"Statement\":{}", "[".repeat(depth));
            let e = Policy::parse(&deep, "bkt").unwrap_err();
            assert_eq!(e.code, S3ErrorCode::MalformedPolicy, "depth {depth}");
        }
        let e = Policy::parse(&"[".repeat(1 << 20), "bkt").unwrap_err();
        assert_eq!(e.code, S3ErrorCode::MalformedPolicy);
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*b*c", "aXbYbZc"));
        // Found by fuzz/fuzz_targets/bucket_policy.rs: a '*' in the text made the
        // pattern's '*' match only itself, so a Deny of bkt/* missed the key "*secret".
        assert!(wildcard_match(
            "arn:aws:s3:::bkt/*",
            "arn:aws:s3:::bkt/*secret"
        ));
        assert!(wildcard_match("*a*a*a*b", "*xaaab"));
        assert!(wildcard_match("a*", "a**"));
        assert!(!wildcard_match("a*b", "a/c"));
        assert!(wildcard_match("s3:get*", "s3:getobject"));
    }

    #[test]
    fn anonymous_read_policy() {
        let p = Policy::parse(PUBLIC, "bkt").unwrap();
        assert_eq!(
            p.decide_anonymous("s3:GetObject", "arn:aws:s3:::bkt/a/b"),
            Decision::Allow
        );
        assert_eq!(
            p.decide_anonymous("s3:ListBucket", "arn:aws:s3:::bkt"),
            Decision::NotSpecified
        );
        let aws_star = PUBLIC.replace(r#""Principal":"*""#, r#""Principal":{"AWS":["*"]}"#);
        assert_eq!(Policy::parse(&aws_star, "bkt").unwrap(), p);
    }

    #[test]
    fn deny_wins() {
        let doc = r#"{"Statement":[
            {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"},
            {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::bkt/secret/*"}]}"#;
        let p = Policy::parse(doc, "bkt").unwrap();
        assert_eq!(
            p.decide_anonymous("s3:GetObject", "arn:aws:s3:::bkt/secret/x"),
            Decision::Deny
        );
        assert_eq!(
            p.decide_anonymous("s3:GetObject", "arn:aws:s3:::bkt/open"),
            Decision::Allow
        );
    }

    #[test]
    fn invalid_and_unsupported() {
        let code = |doc: &str| Policy::parse(doc, "bkt").unwrap_err().code;
        use S3ErrorCode::*;
        assert_eq!(code("not json"), MalformedPolicy);
        assert_eq!(code("[]"), MalformedPolicy);
        assert_eq!(code(r#"{"Version":"2012-10-17"}"#), MalformedPolicy);
        assert_eq!(
            code(&PUBLIC.replace("2012-10-17", "2020-01-01")),
            MalformedPolicy
        );
        assert_eq!(code(&PUBLIC.replace("Allow", "Maybe")), MalformedPolicy);
        assert_eq!(
            code(&PUBLIC.replace("arn:aws:s3:::bkt/*", "arn:aws:s3:::other/*")),
            MalformedPolicy
        );
        assert_eq!(
            code(&PUBLIC.replace("arn:aws:s3:::bkt/*", "arn:aws:s3:::bktx/*")),
            MalformedPolicy
        );
        assert_eq!(
            code(&PUBLIC.replace("s3:GetObject", "ec2:Run")),
            MalformedPolicy
        );
        assert_eq!(
            code(&PUBLIC.replace(r#""Principal":"*","#, "")),
            MalformedPolicy
        );
        assert_eq!(
            code(&PUBLIC.replace("s3:GetObject", "s3:PutObject")),
            NotImplemented
        );
        assert_eq!(
            code(&PUBLIC.replace(
                r#""Principal":"*""#,
                r#""Principal":{"AWS":"arn:aws:iam::1:user/x"}"#
            )),
            NotImplemented
        );
        assert_eq!(
            code(&PUBLIC.replace(r#""Effect""#, r#""Condition":{},"Effect""#)),
            NotImplemented
        );
    }
}
