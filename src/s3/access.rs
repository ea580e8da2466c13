//! Who may do what beyond the bucket owner: anonymous requests, decided from the bucket's
//! policy and ACL documents (fetched with `ObjectStore::bucket_documents`), and then run
//! against the store as the bucket owner. Object ACLs are checked by the object handlers,
//! which see the object's metadata.

use crate::s3::acl::CannedAcl;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::policy::{Decision, Policy};
use crate::s3::router::Endpoint;
use crate::store::{BucketDocuments, ObjectStore, Principal};

/// Bucket document names (see `ObjectStore::put_bucket_document`).
pub const DOC_ACL: &str = "acl";
pub const DOC_POLICY: &str = "policy";
pub const DOC_CORS: &str = "cors";
pub const DOC_TAGGING: &str = "tagging";

/// How a request was let in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Signed by a user: the store enforces what that user may touch.
    Authenticated,
    /// Anonymous and allowed by the bucket policy or ACL; for an object read, `needs_object_acl`
    /// says the object's own ACL must still allow it. `can_list` says whether anonymous
    /// users may learn that a key does not exist (NoSuchKey rather than AccessDenied, as S3
    /// answers when the requester lacks s3:ListBucket).
    Anonymous {
        needs_object_acl: bool,
        can_list: bool,
    },
}

pub fn access_denied() -> S3Error {
    S3Error::new(S3ErrorCode::AccessDenied, "Access Denied")
}

/// The bucket's policy, if it has one that still parses.
pub fn bucket_policy(docs: &BucketDocuments) -> Option<Policy> {
    let text = docs.get(DOC_POLICY)?;
    match Policy::parse(text, &docs.info.name) {
        Ok(policy) => Some(policy),
        Err(e) => {
            log::error!(
                "bucket {}: stored policy no longer parses: {e}",
                docs.info.name
            );
            None
        }
    }
}

/// Decides an anonymous request. On success returns the principal to run it as (the bucket
/// owner) and how it was allowed.
pub async fn authorize_anonymous<S: ObjectStore>(
    store: &S,
    endpoint: Endpoint,
    bucket: Option<&str>,
    key: &str,
) -> Result<(Principal, Access), S3Error> {
    let (Some((action, on_object)), Some(bucket)) = (endpoint.anonymous_action(), bucket) else {
        return Err(access_denied());
    };
    let docs = store.bucket_documents(bucket).await?;
    let owner = Principal::User(docs.info.owner.clone());
    let resource = if on_object {
        format!("arn:aws:s3:::{bucket}/{key}")
    } else {
        format!("arn:aws:s3:::{bucket}")
    };
    let policy = bucket_policy(&docs);
    let decide = |action: &str, resource: &str| {
        policy.as_ref().map_or(Decision::NotSpecified, |p| {
            p.decide_anonymous(action, resource)
        })
    };
    let bucket_public = CannedAcl::from_stored(docs.get(DOC_ACL)) == CannedAcl::PublicRead;
    let arn = format!("arn:aws:s3:::{bucket}");
    let can_list = match decide("s3:ListBucket", &arn) {
        Decision::Allow => true,
        Decision::Deny => false,
        Decision::NotSpecified => bucket_public,
    };
    let anonymous = |needs_object_acl| {
        Ok((
            owner.clone(),
            Access::Anonymous {
                needs_object_acl,
                can_list,
            },
        ))
    };
    match decide(action, &resource) {
        Decision::Deny => Err(access_denied()),
        Decision::Allow => anonymous(false),
        Decision::NotSpecified if on_object => anonymous(true),
        Decision::NotSpecified if bucket_public => anonymous(false),
        Decision::NotSpecified => Err(access_denied()),
    }
}
