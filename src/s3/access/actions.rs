//! What each S3 operation asks for: the policy action it needs, whether its resource is the
//! bucket or an object, and the ACL permission that grants it (AWS's table "Mapping of ACL
//! permissions and access policy permissions" in the ACL overview).

use crate::s3::acl::Permission;
use crate::s3::router::Operation;

/// Where an operation's ACL permission is looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AclTarget {
    Bucket,
    /// The existing object's ACL: decided once the handler has read the object.
    Object,
}

/// What an operation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Need {
    /// The policy action, e.g. `s3:GetObject`.
    pub action: &'static str,
    /// A second action the policy must allow as well (GetObjectAttributes also needs
    /// `s3:GetObject`).
    pub also: Option<&'static str>,
    /// The resource is `bucket/key` rather than `bucket`.
    pub on_object: bool,
    /// The operation reads an existing object first, and its handler finishes the decision
    /// with it (`Access::check_object`, called by `handlers::object::open_readable`).
    pub object_phase: bool,
    /// The ACL permission that grants the operation, and on what; None: only the owner or a
    /// policy can.
    pub acl: Option<(Permission, AclTarget)>,
}

/// A need whose ACL permission, if any, is looked up on `target`.
const fn with(
    action: &'static str,
    on_object: bool,
    target: AclTarget,
    acl: Option<Permission>,
) -> Need {
    Need {
        action,
        also: None,
        on_object,
        object_phase: matches!(target, AclTarget::Object),
        acl: match acl {
            Some(p) => Some((p, target)),
            None => None,
        },
    }
}

const fn bucket(action: &'static str, acl: Option<Permission>) -> Need {
    with(action, false, AclTarget::Bucket, acl)
}

/// An object operation granted by a permission on the bucket (writes).
const fn object_by_bucket(action: &'static str, acl: Option<Permission>) -> Need {
    with(action, true, AclTarget::Bucket, acl)
}

/// An operation on an existing object, granted by the object's own ACL.
const fn object(action: &'static str, acl: Option<Permission>) -> Need {
    with(action, true, AclTarget::Object, acl)
}

/// What `operation` needs; None for the operations without a bucket (ListBuckets, decided
/// by the store: every user lists its own), and those answered before access is decided
/// (CORS preflights, POST uploads).
pub fn need(operation: Operation) -> Option<Need> {
    use Permission::*;
    Some(match operation {
        Operation::ListBuckets | Operation::CorsPreflight | Operation::PostObject => return None,
        Operation::CreateBucket => bucket("s3:CreateBucket", None),
        Operation::DeleteBucket => bucket("s3:DeleteBucket", None),
        Operation::HeadBucket | Operation::ListObjects | Operation::ListObjectsV2 => {
            bucket("s3:ListBucket", Some(Read))
        }
        Operation::ListObjectVersions => bucket("s3:ListBucketVersions", Some(Read)),
        Operation::ListMultipartUploads => bucket("s3:ListBucketMultipartUploads", Some(Read)),
        Operation::GetBucketLocation => bucket("s3:GetBucketLocation", None),
        Operation::GetBucketAcl => bucket("s3:GetBucketAcl", Some(ReadAcp)),
        Operation::PutBucketAcl => bucket("s3:PutBucketAcl", Some(WriteAcp)),
        Operation::GetBucketPolicy => bucket("s3:GetBucketPolicy", None),
        Operation::PutBucketPolicy => bucket("s3:PutBucketPolicy", None),
        Operation::DeleteBucketPolicy => bucket("s3:DeleteBucketPolicy", None),
        Operation::GetBucketCors => bucket("s3:GetBucketCORS", None),
        Operation::PutBucketCors | Operation::DeleteBucketCors => bucket("s3:PutBucketCORS", None),
        Operation::GetBucketTagging => bucket("s3:GetBucketTagging", None),
        Operation::PutBucketTagging | Operation::DeleteBucketTagging => {
            bucket("s3:PutBucketTagging", None)
        }
        Operation::GetBucketVersioning => bucket("s3:GetBucketVersioning", None),
        Operation::PutBucketVersioning => bucket("s3:PutBucketVersioning", None),
        Operation::BucketConfig(name)
        | Operation::ObjectLock(name)
        | Operation::Unsupported(name) => return Some(config_need(name)),
        Operation::GetObject | Operation::HeadObject => object("s3:GetObject", Some(Read)),
        Operation::GetObjectAcl => object("s3:GetObjectAcl", Some(ReadAcp)),
        Operation::PutObjectAcl => object("s3:PutObjectAcl", Some(WriteAcp)),
        Operation::GetObjectTagging => object("s3:GetObjectTagging", None),
        Operation::PutObjectTagging => object("s3:PutObjectTagging", None),
        Operation::DeleteObjectTagging => object("s3:DeleteObjectTagging", None),
        // "you must have READ access to the object", and s3:GetObject with
        // s3:GetObjectAttributes (GetObjectAttributes page).
        Operation::GetObjectAttributes => Need {
            also: Some("s3:GetObject"),
            ..object("s3:GetObjectAttributes", Some(Read))
        },
        Operation::PutObject
        | Operation::CopyObject
        | Operation::CreateMultipartUpload
        | Operation::UploadPart
        | Operation::UploadPartCopy
        | Operation::CompleteMultipartUpload => object_by_bucket("s3:PutObject", Some(Write)),
        Operation::DeleteObject => object_by_bucket("s3:DeleteObject", Some(Write)),
        // Decided per key by the handler (see `Access::may_delete`).
        Operation::DeleteObjects => bucket("s3:DeleteObject", Some(Write)),
        // Whoever may start an upload (WRITE) may also abandon it.
        Operation::AbortMultipartUpload => object_by_bucket("s3:AbortMultipartUpload", Some(Write)),
        // Whoever may start an upload may list its parts; the handler checks that the
        // requester started it (`Access::check_upload`).
        Operation::ListParts => object_by_bucket("s3:ListMultipartUploadParts", Some(Write)),
    })
}

/// What `operation` needs when the request names a version (`versionId`): AWS's `*Version*`
/// actions, which the unversioned ones do not grant ("If you include a versionId ... you must
/// have the s3:GetObjectVersion permission ... The s3:GetObject permission is not required").
pub fn need_for_version(operation: Operation) -> Option<Need> {
    let base = need(operation)?;
    let action = match operation {
        Operation::GetObject | Operation::HeadObject => "s3:GetObjectVersion",
        Operation::DeleteObject => "s3:DeleteObjectVersion",
        Operation::GetObjectTagging => "s3:GetObjectVersionTagging",
        Operation::PutObjectTagging => "s3:PutObjectVersionTagging",
        Operation::DeleteObjectTagging => "s3:DeleteObjectVersionTagging",
        Operation::GetObjectAcl => "s3:GetObjectVersionAcl",
        Operation::PutObjectAcl => "s3:PutObjectVersionAcl",
        // "If you pass a version ID in your request, you need both the s3:GetObjectVersion
        // and s3:GetObjectVersionAttributes permissions" (GetObjectAttributes page).
        Operation::GetObjectAttributes => {
            return Some(Need {
                action: "s3:GetObjectVersionAttributes",
                also: Some("s3:GetObjectVersion"),
                ..base
            })
        }
        Operation::Unsupported("GetObjectTorrent") => "s3:GetObjectVersionTorrent",
        _ => return Some(base),
    };
    Some(Need { action, ..base })
}

/// The bucket configurations and object operations named in the router's tables.
fn config_need(name: &'static str) -> Need {
    let action = match name {
        "GetBucketEncryption" => "s3:GetEncryptionConfiguration",
        "PutBucketEncryption" | "DeleteBucketEncryption" => "s3:PutEncryptionConfiguration",
        "GetBucketLifecycleConfiguration" => "s3:GetLifecycleConfiguration",
        "PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle" => {
            "s3:PutLifecycleConfiguration"
        }
        "GetBucketLogging" => "s3:GetBucketLogging",
        "PutBucketLogging" => "s3:PutBucketLogging",
        "GetBucketNotificationConfiguration" => "s3:GetBucketNotification",
        "PutBucketNotificationConfiguration" => "s3:PutBucketNotification",
        "GetObjectLockConfiguration" => "s3:GetBucketObjectLockConfiguration",
        "PutObjectLockConfiguration" => "s3:PutBucketObjectLockConfiguration",
        "GetBucketOwnershipControls" => "s3:GetBucketOwnershipControls",
        "PutBucketOwnershipControls" | "DeleteBucketOwnershipControls" => {
            "s3:PutBucketOwnershipControls"
        }
        "GetPublicAccessBlock" => "s3:GetBucketPublicAccessBlock",
        "PutPublicAccessBlock" | "DeletePublicAccessBlock" => "s3:PutBucketPublicAccessBlock",
        "GetBucketPolicyStatus" => "s3:GetBucketPolicyStatus",
        "GetBucketReplication" => "s3:GetReplicationConfiguration",
        "PutBucketReplication" | "DeleteBucketReplication" => "s3:PutReplicationConfiguration",
        "GetBucketRequestPayment" => "s3:GetBucketRequestPayment",
        "PutBucketRequestPayment" => "s3:PutBucketRequestPayment",
        "GetBucketWebsite" => "s3:GetBucketWebsite",
        "PutBucketWebsite" => "s3:PutBucketWebsite",
        "DeleteBucketWebsite" => "s3:DeleteBucketWebsite",
        "GetBucketAccelerateConfiguration" => "s3:GetAccelerateConfiguration",
        "PutBucketAccelerateConfiguration" => "s3:PutAccelerateConfiguration",
        "GetObjectTorrent" => {
            return object("s3:GetObjectTorrent", Some(Permission::Read));
        }
        "GetObjectLegalHold" => return object("s3:GetObjectLegalHold", None),
        "PutObjectLegalHold" => return object("s3:PutObjectLegalHold", None),
        "GetObjectRetention" => return object("s3:GetObjectRetention", None),
        "PutObjectRetention" => return object("s3:PutObjectRetention", None),
        // Analytics, inventory, metrics, intelligent tiering, and anything newer: owner only.
        _ => "s3:*",
    };
    bucket(action, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_need_their_documented_actions() {
        let cases = [
            (Operation::GetObject, "s3:GetObject", true),
            (Operation::ListObjectsV2, "s3:ListBucket", false),
            (Operation::UploadPart, "s3:PutObject", true),
            (Operation::DeleteBucketCors, "s3:PutBucketCORS", false),
            (
                Operation::BucketConfig("DeleteBucketEncryption"),
                "s3:PutEncryptionConfiguration",
                false,
            ),
            (
                Operation::ObjectLock("GetObjectRetention"),
                "s3:GetObjectRetention",
                true,
            ),
        ];
        for (operation, action, on_object) in cases {
            let need = need(operation).unwrap();
            assert_eq!(
                (need.action, need.on_object),
                (action, on_object),
                "{operation:?}"
            );
        }
        assert_eq!(
            need(Operation::GetObject).unwrap().acl,
            Some((Permission::Read, AclTarget::Object))
        );
        assert_eq!(
            need(Operation::PutObject).unwrap().acl,
            Some((Permission::Write, AclTarget::Bucket))
        );
        assert_eq!(need(Operation::GetBucketPolicy).unwrap().acl, None);
        assert_eq!(need(Operation::ListBuckets), None);
    }

    #[test]
    fn requests_for_a_version_need_the_version_actions() {
        let cases = [
            (Operation::GetObject, "s3:GetObjectVersion"),
            (Operation::HeadObject, "s3:GetObjectVersion"),
            (Operation::DeleteObject, "s3:DeleteObjectVersion"),
            (Operation::GetObjectTagging, "s3:GetObjectVersionTagging"),
            (Operation::PutObjectTagging, "s3:PutObjectVersionTagging"),
            (
                Operation::DeleteObjectTagging,
                "s3:DeleteObjectVersionTagging",
            ),
            (Operation::GetObjectAcl, "s3:GetObjectVersionAcl"),
            (Operation::PutObjectAcl, "s3:PutObjectVersionAcl"),
            (
                Operation::GetObjectAttributes,
                "s3:GetObjectVersionAttributes",
            ),
            (Operation::PutObject, "s3:PutObject"),
        ];
        for (operation, action) in cases {
            let versioned = need_for_version(operation).unwrap();
            assert_eq!(versioned.action, action, "{operation:?}");
            let plain = need(operation).unwrap();
            assert_eq!(versioned.acl, plain.acl, "{operation:?}");
        }
        let attributes = need_for_version(Operation::GetObjectAttributes).unwrap();
        assert_eq!(attributes.also, Some("s3:GetObjectVersion"));
    }
}
