//! Access control lists, as AWS describes them in "Access control list (ACL) overview": an
//! owner and up to 100 grants of READ, WRITE, READ_ACP, WRITE_ACP or FULL_CONTROL to a user
//! (canonical ID) or a group (AllUsers, AuthenticatedUsers, LogDelivery).
//!
//! Pure: requests are read into an [`AclRequest`] (canned ACL or grants, e-mail grantees not
//! yet resolved), the caller resolves e-mails and owners into an [`Acl`], which is stored in
//! a compact text form and answers [`Acl::permits`]. No store access here.
//!
//! - `headers`: `x-amz-acl` and `x-amz-grant-*`;
//! - `document`: the `AccessControlPolicy` body and answer;
//! - `stored`: the text kept in bucket documents and object metadata.

mod document;
mod headers;
mod stored;

use std::collections::HashMap;

use crate::s3::error::{S3Error, S3ErrorCode};

pub use document::from_xml;
pub use headers::from_headers;

/// AWS: "An ACL can have up to 100 grants."
pub const MAX_GRANTS: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    Read,
    Write,
    ReadAcp,
    WriteAcp,
    FullControl,
}

impl Permission {
    pub const ALL: [Permission; 5] = [
        Permission::Read,
        Permission::Write,
        Permission::ReadAcp,
        Permission::WriteAcp,
        Permission::FullControl,
    ];

    /// As the XML `<Permission>` element spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "READ",
            Permission::Write => "WRITE",
            Permission::ReadAcp => "READ_ACP",
            Permission::WriteAcp => "WRITE_ACP",
            Permission::FullControl => "FULL_CONTROL",
        }
    }

    pub fn from_name(name: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Group {
    AllUsers,
    AuthenticatedUsers,
    LogDelivery,
}

impl Group {
    pub const ALL: [Group; 3] = [
        Group::AllUsers,
        Group::AuthenticatedUsers,
        Group::LogDelivery,
    ];

    pub fn uri(self) -> &'static str {
        match self {
            Group::AllUsers => "http://acs.amazonaws.com/groups/global/AllUsers",
            Group::AuthenticatedUsers => {
                "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
            }
            Group::LogDelivery => "http://acs.amazonaws.com/groups/s3/LogDelivery",
        }
    }

    pub fn from_uri(uri: &str) -> Option<Group> {
        Group::ALL.into_iter().find(|g| g.uri() == uri)
    }

    /// AllUsers and AuthenticatedUsers make a grant public (AWS "The meaning of public").
    pub fn is_public(self) -> bool {
        matches!(self, Group::AllUsers | Group::AuthenticatedUsers)
    }
}

/// A grantee as stored and evaluated: e-mail grantees are resolved to IDs before this.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grantee {
    User { id: String },
    Group(Group),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub grantee: Grantee,
    pub permission: Permission,
}

impl Grant {
    fn user(id: &str, permission: Permission) -> Grant {
        Grant {
            grantee: Grantee::User { id: id.to_string() },
            permission,
        }
    }

    fn group(group: Group, permission: Permission) -> Grant {
        Grant {
            grantee: Grantee::Group(group),
            permission,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub id: String,
    pub display_name: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acl {
    pub owner: Owner,
    pub grants: Vec<Grant>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CannedAcl {
    Private,
    PublicRead,
    PublicReadWrite,
    AuthenticatedRead,
    AwsExecRead,
    BucketOwnerRead,
    BucketOwnerFullControl,
    LogDeliveryWrite,
}

impl CannedAcl {
    pub const ALL: [CannedAcl; 8] = [
        CannedAcl::Private,
        CannedAcl::PublicRead,
        CannedAcl::PublicReadWrite,
        CannedAcl::AuthenticatedRead,
        CannedAcl::AwsExecRead,
        CannedAcl::BucketOwnerRead,
        CannedAcl::BucketOwnerFullControl,
        CannedAcl::LogDeliveryWrite,
    ];

    /// As `x-amz-acl` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            CannedAcl::Private => "private",
            CannedAcl::PublicRead => "public-read",
            CannedAcl::PublicReadWrite => "public-read-write",
            CannedAcl::AuthenticatedRead => "authenticated-read",
            CannedAcl::AwsExecRead => "aws-exec-read",
            CannedAcl::BucketOwnerRead => "bucket-owner-read",
            CannedAcl::BucketOwnerFullControl => "bucket-owner-full-control",
            CannedAcl::LogDeliveryWrite => "log-delivery-write",
        }
    }

    pub fn from_name(name: &str) -> Option<CannedAcl> {
        CannedAcl::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The grants of AWS's canned ACL table, the owner's FULL_CONTROL first. The bucket
    /// owner's grant of bucket-owner-* is left out when it owns the resource too, so on a
    /// bucket those two act as private (AWS: "Amazon S3 ignores it").
    pub fn grants(self, owner: &Owner, bucket_owner: &Owner) -> Vec<Grant> {
        use Permission::*;
        let mut grants = vec![Grant::user(&owner.id, FullControl)];
        let bucket_owner_gets = |permission| {
            (bucket_owner.id != owner.id).then(|| Grant::user(&bucket_owner.id, permission))
        };
        match self {
            // aws-exec-read's READ goes to Amazon EC2, which has no counterpart here.
            CannedAcl::Private | CannedAcl::AwsExecRead => {}
            CannedAcl::PublicRead => grants.push(Grant::group(Group::AllUsers, Read)),
            CannedAcl::PublicReadWrite => {
                grants.push(Grant::group(Group::AllUsers, Read));
                grants.push(Grant::group(Group::AllUsers, Write));
            }
            CannedAcl::AuthenticatedRead => {
                grants.push(Grant::group(Group::AuthenticatedUsers, Read))
            }
            CannedAcl::BucketOwnerRead => grants.extend(bucket_owner_gets(Read)),
            CannedAcl::BucketOwnerFullControl => grants.extend(bucket_owner_gets(FullControl)),
            CannedAcl::LogDeliveryWrite => {
                grants.push(Grant::group(Group::LogDelivery, Write));
                grants.push(Grant::group(Group::LogDelivery, ReadAcp));
            }
        }
        grants
    }
}

/// A grantee as a request names it, before the caller looks e-mail addresses up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestedGrantee {
    Id(String),
    Email(String),
    Group(Group),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestedGrant {
    pub grantee: RequestedGrantee,
    pub permission: Permission,
}

/// What a request asks for: a canned ACL, or explicit grants (headers or XML body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AclRequest {
    Canned(CannedAcl),
    Grants(Vec<RequestedGrant>),
}

impl AclRequest {
    /// The e-mail addresses the caller must resolve to canonical IDs for [`Self::resolve`].
    pub fn emails(&self) -> Vec<&str> {
        match self {
            AclRequest::Canned(_) => Vec::new(),
            AclRequest::Grants(grants) => grants
                .iter()
                .filter_map(|g| match &g.grantee {
                    RequestedGrantee::Email(email) => Some(email.as_str()),
                    _ => None,
                })
                .collect(),
        }
    }

    /// The ACL to store. `owner` owns the resource, `bucket_owner` the bucket (for the
    /// bucket-owner-* canned ACLs); `emails` maps each address of [`Self::emails`] to a
    /// canonical ID. Explicit grants are kept as sent: AWS adds no grant for the owner.
    pub fn resolve(
        self,
        owner: &Owner,
        bucket_owner: &Owner,
        emails: &HashMap<String, String>,
    ) -> Result<Acl, S3Error> {
        let grants = match self {
            AclRequest::Canned(canned) => canned.grants(owner, bucket_owner),
            AclRequest::Grants(requested) => requested
                .into_iter()
                .map(|g| {
                    let grantee = match g.grantee {
                        RequestedGrantee::Id(id) => Grantee::User { id },
                        RequestedGrantee::Group(group) => Grantee::Group(group),
                        RequestedGrantee::Email(email) => match emails.get(&email) {
                            Some(id) => Grantee::User { id: id.clone() },
                            None => return Err(unresolvable(&email)),
                        },
                    };
                    Ok(Grant {
                        grantee,
                        permission: g.permission,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        Ok(Acl {
            owner: owner.clone(),
            grants,
        })
    }

    /// Grants to AllUsers or AuthenticatedUsers (what BlockPublicAcls refuses).
    pub fn is_public(&self) -> bool {
        match self {
            AclRequest::Canned(canned) => matches!(
                canned,
                CannedAcl::PublicRead | CannedAcl::PublicReadWrite | CannedAcl::AuthenticatedRead
            ),
            AclRequest::Grants(grants) => grants
                .iter()
                .any(|g| matches!(g.grantee, RequestedGrantee::Group(group) if group.is_public())),
        }
    }

    pub fn canned(&self) -> Option<CannedAcl> {
        match self {
            AclRequest::Canned(canned) => Some(*canned),
            AclRequest::Grants(_) => None,
        }
    }
}

fn unresolvable(email: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::UnresolvableGrantByEmailAddress,
        "The e-mail address you provided does not match any account on record.",
    )
    .with_detail("EmailAddressProvided", email)
}

impl Acl {
    /// The owner's FULL_CONTROL and nothing else: what a resource without an ACL has.
    pub fn private(owner: &Owner) -> Acl {
        Acl {
            owner: owner.clone(),
            grants: CannedAcl::Private.grants(owner, owner),
        }
    }

    /// Does the ACL give `permission` to this requester (canonical ID, None = anonymous)?
    /// FULL_CONTROL implies every permission; AuthenticatedUsers is any signed requester;
    /// LogDelivery is never a user of ours. `ignore_public` (IgnorePublicAcls) drops the
    /// grants to AllUsers and AuthenticatedUsers. The owner may always read and write the
    /// ACL itself, whatever it grants (AWS: the resource owner keeps READ_ACP and WRITE_ACP).
    pub fn permits(
        &self,
        requester: Option<&str>,
        permission: Permission,
        ignore_public: bool,
    ) -> bool {
        if requester == Some(self.owner.id.as_str())
            && matches!(permission, Permission::ReadAcp | Permission::WriteAcp)
        {
            return true;
        }
        self.grants.iter().any(|grant| {
            let gives =
                grant.permission == permission || grant.permission == Permission::FullControl;
            gives
                && match &grant.grantee {
                    Grantee::User { id } => requester == Some(id.as_str()),
                    Grantee::Group(group) if ignore_public && group.is_public() => false,
                    Grantee::Group(Group::AllUsers) => true,
                    Grantee::Group(Group::AuthenticatedUsers) => requester.is_some(),
                    Grantee::Group(Group::LogDelivery) => false,
                }
        })
    }

    /// Any grant to AllUsers or AuthenticatedUsers (AWS "The meaning of public").
    pub fn is_public(&self) -> bool {
        self.grants
            .iter()
            .any(|g| matches!(g.grantee, Grantee::Group(group) if group.is_public()))
    }
}

/// A canonical ID as AWS writes them, and as ours are made (SHA-256 in lowercase hex).
pub fn is_canonical_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn invalid_id(id: &str) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, "Invalid id")
        .with_detail("ArgumentName", "CanonicalUser/ID")
        .with_detail("ArgumentValue", id.to_string())
}

fn invalid_group(uri: &str) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, "Invalid group uri")
        .with_detail("ArgumentName", "Group/URI")
        .with_detail("ArgumentValue", uri.to_string())
}

fn too_many_grants() -> S3Error {
    S3Error::new(
        S3ErrorCode::MalformedACLError,
        format!("An ACL can have at most {MAX_GRANTS} grants"),
    )
}

#[cfg(test)]
mod tests;
