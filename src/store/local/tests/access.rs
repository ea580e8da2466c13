//! Buckets and users: ownership, user management, bucket documents and upload expiry.

use super::*;

#[actix_web::test]
async fn only_the_owner_may_use_a_bucket() {
    let scratch = Scratch::new("owner");
    let store = store_with_bucket(&[scratch.dir("d0")]).await;
    put(&store, "k", b"secret").await;

    assert!(matches!(
        store.create_bucket(&alice(), "b").await,
        Err(StoreError::BucketAlreadyOwnedByYou)
    ));
    assert!(matches!(
        store.create_bucket(&bob(), "b").await,
        Err(StoreError::BucketAlreadyExists)
    ));
    assert!(matches!(
        store.create_bucket(&Principal::Anonymous, "c").await,
        Err(StoreError::AccessDenied)
    ));
    for who in [bob(), Principal::Anonymous] {
        assert!(matches!(
            store.open_object(&who, "b", "k", None).await,
            Err(StoreError::AccessDenied)
        ));
        assert!(matches!(
            store.bucket_info(&who, "b").await,
            Err(StoreError::AccessDenied)
        ));
        let listed = store
            .list_objects(&who, "b", "", &ListStart::Beginning, 10, None)
            .await;
        assert!(matches!(listed, Err(StoreError::AccessDenied)));
        assert!(matches!(
            store.stage(&who, "b", body(b"x"), None).await,
            Err(StoreError::AccessDenied)
        ));
        assert!(matches!(
            store
                .delete_object(&who, "b", "k", crate::store::Versioning::Unversioned)
                .await,
            Err(StoreError::AccessDenied)
        ));
        assert!(matches!(
            store.delete_bucket(&who, "b").await,
            Err(StoreError::AccessDenied)
        ));
        assert!(matches!(
            store.create_multipart(&who, "b", "k", meta("")).await,
            Err(StoreError::AccessDenied)
        ));
    }
    // Data staged by the owner cannot be committed by someone else.
    let staged = store.stage(&alice(), "b", body(b"x"), None).await.unwrap();
    let result = store
        .commit_object(
            &bob(),
            "b",
            "k",
            staged,
            meta("x"),
            WriteCondition::None,
            crate::store::Versioning::Unversioned,
        )
        .await;
    assert!(matches!(result, Err(StoreError::AccessDenied)));
    assert!(matches!(
        store.open_object(&alice(), "nope", "k", None).await,
        Err(StoreError::NoSuchBucket)
    ));

    store.create_bucket(&bob(), "c").await.unwrap();
    let names = |buckets: Vec<BucketInfo>| buckets.into_iter().map(|b| b.name).collect::<Vec<_>>();
    assert_eq!(names(store.list_buckets(&alice()).await.unwrap()), ["b"]);
    assert_eq!(names(store.list_buckets(&bob()).await.unwrap()), ["c"]);
    assert_eq!(store.bucket_info(&bob(), "c").await.unwrap().owner, "bob");
    assert_eq!(get(&store, "k", None).await, b"secret");
}

#[actix_web::test]
async fn users_are_managed() {
    let scratch = Scratch::new("users");
    let store = LocalStore::open(&[scratch.dir("d0")]).unwrap();
    let secret = SecretKey::new("s3cr3t".into());
    store.add_user("alice", "AK1", &secret).await.unwrap();
    store.add_user("bob", "AK2", &secret).await.unwrap();

    let duplicate = store.add_user("alice", "AK3", &secret).await.unwrap_err();
    assert!(duplicate.to_string().contains("user alice already exists"));
    let duplicate = store.add_user("carol", "AK1", &secret).await.unwrap_err();
    assert!(duplicate.to_string().contains("access key AK1"));

    let user = store.user_by_access_key("AK2").await.unwrap().unwrap();
    assert_eq!(user.name, "bob");
    assert_eq!(user.secret, secret);
    assert!(store.user_by_access_key("AK9").await.unwrap().is_none());

    let names: Vec<_> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["alice", "bob"]);

    // The command line manages users while the store is open (and its directories locked).
    let admin = UserAdmin::open(&[scratch.dir("d0")]).unwrap();
    admin.add("carol", "AK3", &secret).unwrap();
    assert_eq!(
        store.user_by_access_key("AK3").await.unwrap().unwrap().name,
        "carol"
    );
    assert_eq!(admin.list().unwrap().len(), 3);
    assert!(admin.remove("bob").unwrap());
    assert!(!admin.remove("bob").unwrap());
    assert!(store.user_by_access_key("AK2").await.unwrap().is_none());
}

/// A users change that does not rewrite the users stamp (an older `libres3 user`, the sqlite3
/// shell) still reaches the running store, within the time it trusts an unchanged stamp.
#[actix_web::test]
async fn users_changed_behind_the_stamp_are_seen() {
    let scratch = Scratch::new("users-unstamped");
    let store = LocalStore::open(&[scratch.dir("d0")]).unwrap();
    let secret = SecretKey::new("s3cr3t".into());
    store.add_user("bob", "AK2", &secret).await.unwrap();
    assert!(store.user_by_access_key("AK2").await.unwrap().is_some());

    let index = rusqlite::Connection::open(scratch.dir("d0").join("index.sqlite")).unwrap();
    index
        .busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    index
        .execute("DELETE FROM users WHERE access_key = 'AK2'", [])
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.user_by_access_key("AK2").await.unwrap().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "a removed user is still accepted after 10 s"
        );
        tokio::task::yield_now().await;
    }
}

#[actix_web::test]
async fn bucket_documents_and_upload_expiry() {
    let scratch = Scratch::new("docs");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;
    let docs = store.bucket_documents("b").await.unwrap();
    assert_eq!(docs.info.owner, "alice");
    assert!(docs.documents.is_empty());
    store
        .put_bucket_document(&alice(), "b", "policy", Some("{}".into()))
        .await
        .unwrap();
    store
        .put_bucket_document(&alice(), "b", "acl", Some("public-read".into()))
        .await
        .unwrap();
    assert!(matches!(
        store.put_bucket_document(&bob(), "b", "acl", None).await,
        Err(StoreError::AccessDenied)
    ));
    let docs = store.bucket_documents("b").await.unwrap();
    assert_eq!(docs.get("policy"), Some("{}"));
    assert_eq!(docs.get("acl"), Some("public-read"));
    store
        .put_bucket_document(&alice(), "b", "policy", None)
        .await
        .unwrap();
    assert_eq!(
        store.bucket_documents("b").await.unwrap().get("policy"),
        None
    );
    assert!(matches!(
        store.bucket_documents("nope").await,
        Err(StoreError::NoSuchBucket)
    ));

    // Uploads older than the cutoff go with their parts; newer ones stay.
    let id = store
        .create_multipart(&alice(), "b", "mp", meta(""))
        .await
        .unwrap();
    let staged = store
        .stage(&alice(), "b", body(&pattern(BLOCK + 1, 41)), None)
        .await
        .unwrap();
    store
        .commit_part(&alice(), "b", "mp", &id, 1, staged, "p1".into(), None)
        .await
        .unwrap();
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    assert!(store
        .abort_uploads_initiated_before(past, 10)
        .await
        .unwrap()
        .is_empty());
    let future = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    let gone = store
        .abort_uploads_initiated_before(future, 10)
        .await
        .unwrap();
    assert_eq!(gone.len(), 1);
    assert_eq!(
        (gone[0].bucket.as_str(), gone[0].upload.upload_id.as_str()),
        ("b", id.as_str())
    );
    store.collect_garbage().await.unwrap();
    assert!(block_files(&dirs).is_empty());
    assert!(matches!(
        store.list_parts(&alice(), "b", "mp", &id).await,
        Err(StoreError::NoSuchUpload)
    ));

    // Deleting the bucket forgets its documents.
    store.delete_bucket(&alice(), "b").await.unwrap();
    store.create_bucket(&alice(), "b").await.unwrap();
    assert!(store
        .bucket_documents("b")
        .await
        .unwrap()
        .documents
        .is_empty());
}

/// The owner remembered for the check before staging follows the bucket: once a bucket is
/// deleted and re-created by another user, its former owner is refused before staging and
/// the new one may write (CreateBucket/DeleteBucket in the AWS S3 API reference).
#[actix_web::test]
async fn a_recreated_bucket_belongs_to_its_new_owner() {
    let scratch = Scratch::new("recreated");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;
    put(&store, "k", b"alice's").await;
    store
        .delete_object(&alice(), "b", "k", crate::store::Versioning::Unversioned)
        .await
        .unwrap();
    store.delete_bucket(&alice(), "b").await.unwrap();

    assert!(matches!(
        store.stage(&alice(), "b", body(b"x"), Some(1)).await,
        Err(StoreError::NoSuchBucket)
    ));
    store.create_bucket(&bob(), "b").await.unwrap();
    assert!(matches!(
        store.stage(&alice(), "b", body(b"x"), Some(1)).await,
        Err(StoreError::AccessDenied)
    ));
    let staged = store
        .stage(&bob(), "b", body(b"bob's"), Some(5))
        .await
        .unwrap();
    store
        .commit_object(
            &bob(),
            "b",
            "k",
            staged,
            meta("x"),
            WriteCondition::None,
            crate::store::Versioning::Unversioned,
        )
        .await
        .unwrap();
}
