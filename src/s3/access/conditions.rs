//! The values of a request's policy condition keys (AWS's global `aws:` keys and the S3
//! `s3:` keys), read from the request once, when the bucket has a policy to evaluate.

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::HttpRequest;

use crate::s3::identity::Identity;
use crate::s3::policy::{ConditionValues, Policy};
use crate::s3::router::Query;
use crate::s3::tagging;
use crate::time::iso8601;

/// How the request was signed, for `s3:signatureversion` and `s3:authType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signature {
    None,
    V2 {
        presigned: bool,
    },
    V4 {
        presigned: bool,
        /// For `s3:signatureAge` (a SigV4-only key).
        signed_at: Option<SystemTime>,
    },
    /// A browser form (POST Object), signed with SigV4 or SigV2.
    Post {
        v4: bool,
    },
}

/// Request headers whose values are `s3:` condition keys of the same name.
const HEADER_KEYS: &[(&str, &str)] = &[
    ("x-amz-acl", "s3:x-amz-acl"),
    (
        "x-amz-server-side-encryption",
        "s3:x-amz-server-side-encryption",
    ),
    (
        "x-amz-server-side-encryption-aws-kms-key-id",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
    ),
    ("x-amz-content-sha256", "s3:x-amz-content-sha256"),
    ("x-amz-copy-source", "s3:x-amz-copy-source"),
    ("x-amz-metadata-directive", "s3:x-amz-metadata-directive"),
    ("x-amz-grant-read", "s3:x-amz-grant-read"),
    ("x-amz-grant-write", "s3:x-amz-grant-write"),
    ("x-amz-grant-read-acp", "s3:x-amz-grant-read-acp"),
    ("x-amz-grant-write-acp", "s3:x-amz-grant-write-acp"),
    ("x-amz-grant-full-control", "s3:x-amz-grant-full-control"),
];

/// Listing parameters that are `s3:` keys (`max-keys` as `s3:max-keys`).
const QUERY_KEYS: &[(&str, &str)] = &[
    ("prefix", "s3:prefix"),
    ("delimiter", "s3:delimiter"),
    ("max-keys", "s3:max-keys"),
    ("versionId", "s3:VersionId"),
];

/// Reads one named value of a request (a form field).
pub type FieldReader<'a> = dyn Fn(&str) -> Option<String> + 'a;

pub struct RequestFacts<'a> {
    pub req: &'a HttpRequest,
    /// Where the `s3:x-amz-*` keys come from when not the headers: a POST upload's form
    /// fields, which are what the object is made of (`x-amz-acl` is the field `acl`,
    /// `x-amz-tagging` the tag set in query form).
    pub fields: Option<&'a FieldReader<'a>>,
    pub query: &'a Query,
    pub requester: Option<&'a Identity>,
    pub signature: Signature,
    pub secure: bool,
    pub now: SystemTime,
}

/// The request's values of the keys `wanted` names (all of them for None): a GET under a
/// policy that tests only `aws:SourceIp` formats no time and copies no header.
pub fn condition_values(facts: &RequestFacts<'_>, wanted: Option<&Policy>) -> ConditionValues {
    let wants = |key: &str| wanted.is_none_or(|policy| policy.reads_key(key));
    let mut values = ConditionValues::default();
    let mut put = |key: &str, value: &dyn Fn() -> Option<String>| {
        if wants(key) {
            if let Some(value) = value() {
                values.set(key, vec![value]);
            }
        }
    };
    put("aws:SourceIp", &|| {
        facts.req.peer_addr().map(|peer| peer.ip().to_string())
    });
    put("aws:SecureTransport", &|| Some(facts.secure.to_string()));
    put("s3:TlsVersion", &|| {
        let tls = facts.req.conn_data::<crate::http::Tls>();
        tls.and_then(|tls| tls.version).map(str::to_string)
    });
    put("aws:CurrentTime", &|| Some(iso8601(facts.now)));
    put("aws:EpochTime", &|| {
        let epoch = facts
            .now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Some(epoch.to_string())
    });
    let user = facts.requester;
    put("aws:username", &|| user.map(|u| u.name.clone()));
    put("aws:userid", &|| user.map(|u| u.canonical_id.clone()));
    put("aws:PrincipalArn", &|| user.map(Identity::arn));
    put("aws:PrincipalType", &|| {
        Some(if user.is_some() { "User" } else { "Anonymous" }.into())
    });
    let header = |name: &str| {
        facts
            .req
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    put("aws:Referer", &|| header("referer"));
    put("aws:UserAgent", &|| header("user-agent"));
    let header = |name: &str| match facts.fields {
        Some(field) => field(name),
        None => header(name),
    };
    for (name, key) in HEADER_KEYS {
        put(key, &|| header(name));
    }
    for (param, key) in QUERY_KEYS {
        put(key, &|| facts.query.get(param).map(str::to_string));
    }
    let (version, kind) = match facts.signature {
        Signature::None => (None, None),
        Signature::V2 { presigned } => (Some("AWS"), Some(auth_type(presigned))),
        Signature::V4 {
            presigned,
            signed_at,
        } => {
            put("s3:signatureAge", &|| {
                let age = signed_at.and_then(|t| facts.now.duration_since(t).ok());
                age.map(|age| age.as_millis().to_string())
            });
            (Some("AWS4-HMAC-SHA256"), Some(auth_type(presigned)))
        }
        Signature::Post { v4: true } => (Some("AWS4-HMAC-SHA256"), Some("POST")),
        Signature::Post { v4: false } => (Some("AWS"), Some("POST")),
    };
    put("s3:signatureversion", &|| version.map(str::to_string));
    put("s3:authType", &|| kind.map(str::to_string));
    if wants("s3:RequestObjectTag") || wants("s3:RequestObjectTagKeys") {
        // A malformed tagging header is the handler's error to report; here it sets no key.
        if let Some(Ok(tags)) = header("x-amz-tagging").map(|h| tagging::parse_header(&h)) {
            let keys = tags.iter().map(|(k, _)| k.clone()).collect();
            for (key, value) in tags {
                values.set(&format!("s3:RequestObjectTag/{key}"), vec![value]);
            }
            values.set("s3:RequestObjectTagKeys", keys);
        }
    }
    values
}

fn auth_type(presigned: bool) -> &'static str {
    if presigned {
        "REST-QUERY-STRING"
    } else {
        "REST-HEADER"
    }
}

/// Adds the object's tags as `s3:ExistingObjectTag/<key>` to a copy of `values`.
pub fn with_existing_tags(values: &ConditionValues, tags: &[(String, String)]) -> ConditionValues {
    let mut values = values.clone();
    for (key, value) in tags {
        values.set(&format!("s3:ExistingObjectTag/{key}"), vec![value.clone()]);
    }
    values
}
