//! The decision, end to end over a real embedded store: rules read from bucket documents,
//! the two steps of object operations, and what each kind of grant gives.

use super::*;
use crate::s3::access::conditions::{RequestFacts, Signature};
use crate::s3::router::Query;
use crate::store::local::LocalStore;

struct Dir(std::path::PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct World {
    store: LocalStore,
    cache: RulesCache,
    config: crate::s3::S3Config,
    alice: Identity,
    bob: Identity,
    _dir: Dir,
}

impl World {
    async fn new() -> World {
        let dir = Dir(std::env::temp_dir().join(format!(
            "libres3-access-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        )));
        let store = LocalStore::open(std::slice::from_ref(&dir.0)).unwrap();
        let alice = Identity::of("alice");
        store
            .create_bucket(&Principal::User("alice".into()), "bkt")
            .await
            .unwrap();
        World {
            store,
            cache: RulesCache::default(),
            config: crate::s3::S3Config {
                region: "us-east-1".into(),
                s3_host: None,
                allow_sse_c_over_http: false,
                public_access_block: PublicAccessBlock::default(),
                object_ownership: ObjectOwnership::ObjectWriter,
                lifecycle_interval: std::time::Duration::ZERO,
                lifecycle_day: std::time::Duration::from_secs(86_400),
            },
            alice,
            bob: Identity::of("bob"),
            _dir: dir,
        }
    }

    async fn set(&self, name: &str, document: Option<&str>) {
        self.store
            .put_bucket_document(
                &Principal::User("alice".into()),
                "bkt",
                name,
                document.map(str::to_string),
            )
            .await
            .unwrap();
        self.cache.forget("bkt");
    }

    async fn decide(
        &self,
        who: Option<&Identity>,
        operation: Operation,
        key: &str,
    ) -> Result<(Principal, Access), S3ErrorCode> {
        let req = actix_web::test::TestRequest::default().to_http_request();
        let query = Query::default();
        let facts = RequestFacts {
            req: &req,
            fields: None,
            query: &query,
            requester: who,
            signature: Signature::None,
            secure: false,
            now: std::time::SystemTime::now(),
        };
        authorize(
            &self.store,
            &self.cache,
            &self.config,
            &facts,
            operation,
            Some("bkt"),
            key,
        )
        .await
        .map_err(|e| e.code)
    }

    /// Sets alice's bucket ACL to these `x-amz-grant-*` headers.
    async fn grant(&self, headers: &[(&str, &str)]) {
        let request = crate::s3::acl::from_headers(|name| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
        .unwrap()
        .unwrap();
        let owner = acl_owner(&self.alice);
        let acl = request
            .resolve(&owner, &owner, &Default::default())
            .unwrap();
        self.set(DOC_ACL, Some(&acl.to_stored())).await;
    }

    /// The whole decision of an object operation on an object with these documents.
    async fn object(
        &self,
        who: Option<&Identity>,
        operation: Operation,
        headers: &[(&str, &str)],
    ) -> Result<(), S3ErrorCode> {
        let (_, access) = self.decide(who, operation, "k").await?;
        let meta = ObjectMeta {
            etag: "e".into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            size: None,
        };
        access.check_object(&meta).map_err(|e| e.code)
    }
}

fn stored_acl(owner: &Identity, canned: &str, bucket_owner: &Identity) -> String {
    let request =
        crate::s3::acl::from_headers(|name| (name == "x-amz-acl").then(|| canned.to_string()))
            .unwrap()
            .unwrap();
    request
        .resolve(
            &acl_owner(owner),
            &acl_owner(bucket_owner),
            &Default::default(),
        )
        .unwrap()
        .to_stored()
}

#[actix_web::test]
async fn owners_run_as_themselves_and_others_need_a_grant() {
    let w = World::new().await;
    let (run_as, access) = w
        .decide(Some(&w.alice), Operation::PutObject, "k")
        .await
        .unwrap();
    assert_eq!(run_as, Principal::User("alice".into()));
    assert!(access.is_owner && access.can_list);
    for who in [Some(&w.bob), None] {
        for operation in [
            Operation::ListObjects,
            Operation::PutObject,
            Operation::GetBucketAcl,
            Operation::GetBucketPolicy,
        ] {
            assert_eq!(
                w.decide(who, operation, "k").await.unwrap_err(),
                S3ErrorCode::AccessDenied,
                "{operation:?} by {who:?}"
            );
        }
        assert_eq!(
            w.object(who, Operation::GetObject, &[]).await,
            Err(S3ErrorCode::AccessDenied)
        );
    }
    assert!(w
        .object(Some(&w.alice), Operation::GetObject, &[])
        .await
        .is_ok());
}

#[actix_web::test]
async fn acl_grants_run_as_the_bucket_owner() {
    let w = World::new().await;
    let bob = format!("id=\"{}\"", w.bob.canonical_id);
    w.grant(&[("x-amz-grant-read", &bob), ("x-amz-grant-write", &bob)])
        .await;
    let (run_as, access) = w
        .decide(Some(&w.bob), Operation::ListObjectsV2, "")
        .await
        .unwrap();
    assert_eq!(run_as, Principal::User("alice".into()));
    assert!(!access.is_owner && access.can_list);
    assert!(w
        .decide(Some(&w.bob), Operation::PutObject, "k")
        .await
        .is_ok());
    assert!(w
        .decide(Some(&w.bob), Operation::DeleteObject, "k")
        .await
        .is_ok());
    // Bucket grants give nothing on objects the owner keeps private, nor anonymous access.
    assert_eq!(
        w.object(Some(&w.bob), Operation::GetObject, &[]).await,
        Err(S3ErrorCode::AccessDenied)
    );
    assert_eq!(
        w.decide(None, Operation::ListObjects, "")
            .await
            .unwrap_err(),
        S3ErrorCode::AccessDenied
    );
    // A public-read object is readable by anyone, unless IgnorePublicAcls.
    let public = stored_acl(&w.alice, "public-read", &w.alice);
    let headers = [(objmeta::ACL, public.as_str())];
    assert!(w.object(None, Operation::GetObject, &headers).await.is_ok());
    w.set(
        public_block::DOC_PUBLIC_ACCESS_BLOCK,
        Some("<PublicAccessBlockConfiguration><IgnorePublicAcls>true</IgnorePublicAcls></PublicAccessBlockConfiguration>"),
    )
    .await;
    assert_eq!(
        w.object(None, Operation::GetObject, &headers).await,
        Err(S3ErrorCode::AccessDenied)
    );
    // BucketOwnerEnforced: ACLs count no more.
    w.set(
        ownership::DOC_OWNERSHIP,
        Some(&ownership::to_xml(ObjectOwnership::BucketOwnerEnforced)),
    )
    .await;
    assert_eq!(
        w.decide(Some(&w.bob), Operation::ListObjects, "")
            .await
            .unwrap_err(),
        S3ErrorCode::AccessDenied
    );
}

#[actix_web::test]
async fn objects_of_other_writers_are_theirs() {
    let w = World::new().await;
    let bobs = [(objmeta::OWNER, "bob")];
    // The bucket owner reaches bob's private object only through its ACL...
    assert_eq!(
        w.object(Some(&w.alice), Operation::GetObject, &bobs).await,
        Err(S3ErrorCode::AccessDenied)
    );
    // ...and may still delete it; bob reads his own object.
    assert!(w
        .decide(Some(&w.alice), Operation::DeleteObject, "k")
        .await
        .is_ok());
    let shared = stored_acl(&w.bob, "bucket-owner-read", &w.alice);
    let headers = [(objmeta::OWNER, "bob"), (objmeta::ACL, shared.as_str())];
    assert!(w
        .object(Some(&w.alice), Operation::GetObject, &headers)
        .await
        .is_ok());
    // With ACLs disabled the bucket owner owns everything.
    w.set(
        ownership::DOC_OWNERSHIP,
        Some(&ownership::to_xml(ObjectOwnership::BucketOwnerEnforced)),
    )
    .await;
    assert!(w
        .object(Some(&w.alice), Operation::GetObject, &bobs)
        .await
        .is_ok());
}

#[actix_web::test]
async fn policies_allow_deny_and_keep_the_owner_in_charge() {
    let w = World::new().await;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":["s3:GetObject","s3:ListBucket","s3:GetBucketPolicy"],
          "Resource":["arn:aws:s3:::bkt","arn:aws:s3:::bkt/*"]}},
        {{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/public/*"}},
        {{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::bkt/secret/*"}}]}}"#,
        w.bob.arn()
    );
    w.set(DOC_POLICY, Some(&policy)).await;
    let (run_as, access) = w
        .decide(Some(&w.bob), Operation::ListObjects, "")
        .await
        .unwrap();
    assert_eq!(run_as, Principal::User("alice".into()));
    assert!(access.can_list);
    assert!(w
        .object(Some(&w.bob), Operation::GetObject, &[])
        .await
        .is_ok());
    // Allowed to manage the policy, another account is told 405 (PutBucketPolicy page).
    assert_eq!(
        w.decide(Some(&w.bob), Operation::GetBucketPolicy, "")
            .await
            .unwrap_err(),
        S3ErrorCode::MethodNotAllowed
    );
    // Anonymous: public/ only, and a missing key stays hidden.
    let (_, anonymous) = w
        .decide(None, Operation::GetObject, "public/a")
        .await
        .unwrap();
    assert!(!anonymous.can_list);
    assert_eq!(
        w.decide(None, Operation::PutObject, "public/a")
            .await
            .unwrap_err(),
        S3ErrorCode::AccessDenied
    );
    // The Deny binds the owner too, but never locks it out of the policy.
    assert_eq!(
        w.decide(Some(&w.alice), Operation::GetObject, "secret/a")
            .await
            .unwrap_err(),
        S3ErrorCode::AccessDenied
    );
    assert!(w
        .decide(Some(&w.alice), Operation::DeleteBucketPolicy, "")
        .await
        .is_ok());
    // DeleteObjects decides per key.
    let (_, access) = w
        .decide(Some(&w.alice), Operation::DeleteObjects, "")
        .await
        .unwrap();
    assert!(access.may_delete("a", false) && !access.may_delete("secret/a", false));
    let (_, access) = w
        .decide(Some(&w.bob), Operation::DeleteObjects, "")
        .await
        .unwrap();
    assert!(!access.may_delete("a", false));
    // RestrictPublicBuckets: the public policy reaches its owner only.
    w.set(
        public_block::DOC_PUBLIC_ACCESS_BLOCK,
        Some("<PublicAccessBlockConfiguration><RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>"),
    )
    .await;
    assert_eq!(
        w.decide(Some(&w.bob), Operation::ListObjects, "")
            .await
            .unwrap_err(),
        S3ErrorCode::AccessDenied
    );
}

#[actix_web::test]
async fn acl_requests_follow_ownership_and_block_public_acls() {
    let public = crate::s3::acl::from_headers(|n| (n == "x-amz-acl").then(|| "public-read".into()))
        .unwrap()
        .unwrap();
    let full = crate::s3::acl::from_headers(|n| {
        (n == "x-amz-acl").then(|| "bucket-owner-full-control".into())
    })
    .unwrap()
    .unwrap();
    let open = PublicAccessBlock::default();
    assert!(check_acl(&public, ObjectOwnership::ObjectWriter, open).is_ok());
    assert_eq!(
        check_acl(&public, ObjectOwnership::BucketOwnerEnforced, open)
            .unwrap_err()
            .code,
        S3ErrorCode::AccessControlListNotSupported
    );
    assert!(check_acl(&full, ObjectOwnership::BucketOwnerEnforced, open).is_ok());
    assert_eq!(
        check_acl(
            &public,
            ObjectOwnership::ObjectWriter,
            PublicAccessBlock::ALL
        )
        .unwrap_err()
        .code,
        S3ErrorCode::AccessDenied
    );
}

/// AWS: only the initiator adds parts to, completes or lists an upload (the bucket owner
/// may too); a WRITE grant does not reach the uploads of others.
#[actix_web::test]
async fn uploads_belong_to_their_initiator() {
    let w = World::new().await;
    let writers = format!(
        "id=\"{}\", uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"",
        w.bob.canonical_id
    );
    w.grant(&[("x-amz-grant-write", &writers)]).await;
    let (_, bob) = w
        .decide(Some(&w.bob), Operation::CreateMultipartUpload, "k")
        .await
        .unwrap();
    assert_eq!(bob.initiator().as_deref(), Some("bob"));
    let upload = |initiator: Option<&str>| ObjectMeta {
        etag: String::new(),
        headers: initiator
            .map(|name| vec![(objmeta::INITIATOR.to_string(), name.to_string())])
            .unwrap_or_default(),
        size: None,
    };
    let (_, parts) = w
        .decide(Some(&w.bob), Operation::UploadPart, "k")
        .await
        .unwrap();
    assert!(parts.check_upload(&upload(Some("bob")), false).is_ok());
    assert!(parts.check_upload(&upload(None), false).is_err());
    let (_, anonymous) = w.decide(None, Operation::UploadPart, "k").await.unwrap();
    assert!(anonymous.check_upload(&upload(Some("bob")), false).is_err());
    // Anonymous callers are one initiator, as on AWS.
    let (_, starts) = w
        .decide(None, Operation::CreateMultipartUpload, "k")
        .await
        .unwrap();
    let theirs = starts.initiator();
    assert!(anonymous
        .check_upload(&upload(theirs.as_deref()), false)
        .is_ok());
    let (_, alice) = w
        .decide(Some(&w.alice), Operation::AbortMultipartUpload, "k")
        .await
        .unwrap();
    assert!(alice.initiator().is_none());
    // The bucket owner may list and abort bob's upload, not write into it.
    assert!(alice.check_upload(&upload(Some("bob")), true).is_ok());
    assert!(alice.check_upload(&upload(Some("bob")), false).is_err());
    assert!(alice.check_upload(&upload(None), false).is_ok());
}
