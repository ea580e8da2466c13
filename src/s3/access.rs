//! Who may do what beyond the bucket owner: anonymous requests, decided from the bucket's
//! policy and ACL documents (fetched with `ObjectStore::bucket_documents`), and then run
//! against the store as the bucket owner. Object ACLs are checked by the object handlers,
//! which see the object's metadata.

use crate::s3::acl::CannedAcl;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::policy::{Decision, Policy};
use crate::s3::router::Operation;
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
    operation: Operation,
    bucket: Option<&str>,
    key: &str,
) -> Result<(Principal, Access), S3Error> {
    let (Some((action, on_object)), Some(bucket)) = (operation.anonymous_action(), bucket) else {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::local::LocalStore;

    struct Dir(std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn anonymous(needs_object_acl: bool, can_list: bool) -> Access {
        Access::Anonymous {
            needs_object_acl,
            can_list,
        }
    }

    #[actix_web::test]
    async fn anonymous_requests_follow_policy_then_acl() {
        let dir = Dir(std::env::temp_dir().join(format!(
            "libres3-access-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        )));
        let store = LocalStore::open(std::slice::from_ref(&dir.0)).unwrap();
        let alice = Principal::User("alice".into());
        store.create_bucket(&alice, "bkt").await.unwrap();
        let decide = |endpoint, key: &'static str| {
            let store = &store;
            async move { authorize_anonymous(store, endpoint, Some("bkt"), key).await }
        };
        let code = |r: Result<(Principal, Access), S3Error>| r.unwrap_err().code;

        // Private bucket: object reads depend on the object's ACL, keys stay hidden.
        let (who, access) = decide(Operation::GetObject, "k").await.unwrap();
        assert_eq!(who, alice);
        assert_eq!(access, anonymous(true, false));
        assert_eq!(
            code(decide(Operation::ListObjects, "").await),
            S3ErrorCode::AccessDenied
        );
        assert_eq!(
            code(decide(Operation::PutObject, "k").await),
            S3ErrorCode::AccessDenied
        );
        assert_eq!(
            code(decide(Operation::DeleteObject, "k").await),
            S3ErrorCode::AccessDenied
        );
        assert_eq!(
            code(authorize_anonymous(&store, Operation::GetObject, Some("nope"), "k").await),
            S3ErrorCode::NoSuchBucket
        );
        assert_eq!(
            code(authorize_anonymous(&store, Operation::ListBuckets, None, "").await),
            S3ErrorCode::AccessDenied
        );

        // public-read bucket: anonymous listing.
        store
            .put_bucket_document(&alice, "bkt", DOC_ACL, Some("public-read".into()))
            .await
            .unwrap();
        assert_eq!(
            decide(Operation::ListObjectsV2, "").await.unwrap().1,
            anonymous(false, true)
        );
        assert_eq!(
            decide(Operation::HeadObject, "k").await.unwrap().1,
            anonymous(true, true)
        );

        // A policy granting reads under public/ and denying secret/.
        let policy = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/public/*"},
            {"Effect":"Deny","Principal":{"AWS":"*"},"Action":"s3:*","Resource":["arn:aws:s3:::bkt/secret/*","arn:aws:s3:::bkt"]}]}"#;
        store
            .put_bucket_document(&alice, "bkt", DOC_POLICY, Some(policy.into()))
            .await
            .unwrap();
        assert_eq!(
            decide(Operation::GetObject, "public/a").await.unwrap().1,
            anonymous(false, false)
        );
        assert_eq!(
            code(decide(Operation::GetObject, "secret/a").await),
            S3ErrorCode::AccessDenied
        );
        // The Deny on the bucket beats its public-read ACL.
        assert_eq!(
            code(decide(Operation::ListObjects, "").await),
            S3ErrorCode::AccessDenied
        );
        assert_eq!(
            decide(Operation::GetObject, "other").await.unwrap().1,
            anonymous(true, false)
        );
    }
}
