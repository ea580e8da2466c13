//! The ACL request headers (AWS PutBucketAcl / PutObjectAcl "Request headers"): `x-amz-acl`
//! names a canned ACL; `x-amz-grant-<permission>` lists grantees as comma-separated
//! `id="…"`, `emailAddress="…"` or `uri="…"`. A request sends one kind or the other.

use super::{
    invalid_group, invalid_id, is_canonical_id, too_many_grants, AclRequest, CannedAcl, Group,
    Permission, RequestedGrant, RequestedGrantee, MAX_GRANTS,
};
use crate::s3::error::{S3Error, S3ErrorCode};

/// Each grant header and the permission it gives, in the order grants are listed.
const GRANT_HEADERS: [(&str, Permission); 5] = [
    ("x-amz-grant-read", Permission::Read),
    ("x-amz-grant-write", Permission::Write),
    ("x-amz-grant-read-acp", Permission::ReadAcp),
    ("x-amz-grant-write-acp", Permission::WriteAcp),
    ("x-amz-grant-full-control", Permission::FullControl),
];

/// The ACL a request's headers ask for; None when it sends no ACL header.
pub fn from_headers(
    header: impl Fn(&str) -> Option<String>,
) -> Result<Option<AclRequest>, S3Error> {
    let canned = header("x-amz-acl");
    let mut grants = Vec::new();
    let mut any_grant_header = false;
    for (name, permission) in GRANT_HEADERS {
        let Some(value) = header(name) else {
            continue;
        };
        any_grant_header = true;
        for grantee in grantees(name, &value)? {
            if grants.len() == MAX_GRANTS {
                return Err(too_many_grants());
            }
            grants.push(RequestedGrant {
                grantee,
                permission,
            });
        }
    }
    match canned {
        Some(_) if any_grant_header => Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Specifying both Canned ACLs and Header Grants is not allowed",
        )),
        Some(value) => match CannedAcl::from_name(value.trim()) {
            Some(canned) => Ok(Some(AclRequest::Canned(canned))),
            None => Err(
                S3Error::new(S3ErrorCode::InvalidArgument, "Invalid canned ACL")
                    .with_detail("ArgumentName", "x-amz-acl")
                    .with_detail("ArgumentValue", value),
            ),
        },
        None if any_grant_header => Ok(Some(AclRequest::Grants(grants))),
        None => Ok(None),
    }
}

/// The grantees of one `x-amz-grant-*` value.
fn grantees(name: &'static str, value: &str) -> Result<Vec<RequestedGrantee>, S3Error> {
    let malformed = || {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            "Grant headers list grantees as id=\"…\", emailAddress=\"…\" or uri=\"…\", comma-separated",
        )
        .with_detail("ArgumentName", name)
        .with_detail("ArgumentValue", value.to_string())
    };
    let mut found = Vec::new();
    let mut rest = value.trim_start();
    loop {
        let (kind, after) = rest.split_once('=').ok_or_else(malformed)?;
        let after = after.trim_start();
        // A value is quoted (and may hold commas) or runs to the next comma.
        let (text, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"').ok_or_else(malformed)?;
                (&quoted[..end], quoted[end + 1..].trim_start())
            }
            None => {
                let end = after.find(',').unwrap_or(after.len());
                (after[..end].trim_end(), &after[end..])
            }
        };
        found.push(grantee(kind.trim(), text).ok_or_else(malformed)??);
        match after.strip_prefix(',') {
            Some(next) => rest = next.trim_start(),
            None if after.is_empty() => return Ok(found),
            None => return Err(malformed()),
        }
    }
}

/// One `kind=value` item: None when the kind is unknown or the value empty.
fn grantee(kind: &str, text: &str) -> Option<Result<RequestedGrantee, S3Error>> {
    if text.is_empty() {
        return None;
    }
    Some(if kind.eq_ignore_ascii_case("id") {
        if is_canonical_id(text) {
            Ok(RequestedGrantee::Id(text.to_string()))
        } else {
            Err(invalid_id(text))
        }
    } else if kind.eq_ignore_ascii_case("emailAddress") {
        Ok(RequestedGrantee::Email(text.to_string()))
    } else if kind.eq_ignore_ascii_case("uri") {
        Group::from_uri(text)
            .map(RequestedGrantee::Group)
            .ok_or_else(|| invalid_group(text))
    } else {
        return None;
    })
}
