//! Multipart uploads: parts joined without copying, and their listing order.

use super::*;

#[actix_web::test]
async fn multipart_joins_parts_without_copy() {
    let scratch = Scratch::new("multipart");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;
    let who = alice();

    let id = store
        .create_multipart(&who, "b", "mp", meta(""))
        .await
        .unwrap();
    assert_eq!(id.len(), 32);
    let part1 = pattern(BLOCK + BLOCK / 2, 20);
    let part2 = pattern(100_000, 21);
    let part3 = pattern(10, 22);
    for (number, data) in [(1, &part1), (2, &part2), (3, &part3)] {
        let staged = store.stage(&who, "b", body(data), None).await.unwrap();
        let etag = format!("p{number}");
        let info = store
            .commit_part(&who, "b", "mp", &id, number, staged, etag, None)
            .await
            .unwrap();
        assert_eq!(info.size, data.len() as u64);
    }
    // Replacing part 1 releases its first version.
    let first_part1 = pattern(BLOCK + 7, 23);
    let staged = store.stage(&who, "b", body(&first_part1), None).await;
    store
        .commit_part(&who, "b", "mp", &id, 1, staged.unwrap(), "old".into(), None)
        .await
        .unwrap();
    let staged = store.stage(&who, "b", body(&part1), None).await.unwrap();
    store
        .commit_part(&who, "b", "mp", &id, 1, staged, "p1".into(), None)
        .await
        .unwrap();

    let (upload, parts) = store.list_parts(&who, "b", "mp", &id).await.unwrap();
    assert_eq!(upload.key, "mp");
    assert_eq!(upload.meta, meta(""));
    let numbers: Vec<_> = parts.iter().map(|p| (p.number, p.etag.as_str())).collect();
    assert_eq!(numbers, [(1, "p1"), (2, "p2"), (3, "p3")]);
    assert!(matches!(
        store.list_parts(&who, "b", "other", &id).await,
        Err(StoreError::NoSuchUpload)
    ));

    let bad = [(3, "p3".to_string()), (1, "wrong".to_string())];
    let result = store
        .complete_multipart(
            &who,
            "b",
            "mp",
            &id,
            &bad,
            meta("m-2"),
            WriteCondition::None,
            crate::store::Versioning::Unversioned,
        )
        .await;
    assert!(matches!(result, Err(StoreError::InvalidPart(1))));
    let missing = [(4, "p4".to_string())];
    let result = store
        .complete_multipart(
            &who,
            "b",
            "mp",
            &id,
            &missing,
            meta("m-1"),
            WriteCondition::None,
            crate::store::Versioning::Unversioned,
        )
        .await;
    assert!(matches!(result, Err(StoreError::InvalidPart(4))));

    let files_before = block_files(&dirs).len();
    let chosen = [(3, "p3".to_string()), (1, "p1".to_string())];
    let info = store
        .complete_multipart(
            &who,
            "b",
            "mp",
            &id,
            &chosen,
            meta("m-2"),
            WriteCondition::None,
            crate::store::Versioning::Unversioned,
        )
        .await
        .unwrap();
    let mut expected = part3.clone();
    expected.extend_from_slice(&part1);
    assert_eq!(info.size, expected.len() as u64);
    assert_eq!(get(&store, "mp", None).await, expected);
    let middle = Some((5, 5 + BLOCK as u64));
    assert_eq!(get(&store, "mp", middle).await, &expected[5..=5 + BLOCK]);
    assert_eq!(
        block_files(&dirs).len(),
        files_before,
        "completion copied data"
    );
    assert!(matches!(
        store.list_parts(&who, "b", "mp", &id).await,
        Err(StoreError::NoSuchUpload)
    ));
    // The completion is remembered for its key only.
    let done = store.completed_upload(&who, "b", "mp", &id).await.unwrap();
    let done = done.expect("a completion record");
    assert_eq!(done.etag, "m-2");
    assert_eq!(done.parts_digest, crate::store::part_list_digest(&chosen));
    assert!(store
        .completed_upload(&who, "b", "mp2", &id)
        .await
        .unwrap()
        .is_none());

    // The unlisted part 2 and the replaced first part 1 are released.
    store.collect_garbage().await.unwrap();
    assert_eq!(block_files(&dirs).len(), 3);
    assert_eq!(get(&store, "mp", None).await, expected);

    // Abort releases everything.
    let id = store.create_multipart(&who, "b", "mp2", meta("")).await;
    let id = id.unwrap();
    let staged = store
        .stage(&who, "b", body(&pattern(BLOCK, 24)), None)
        .await;
    store
        .commit_part(&who, "b", "mp2", &id, 1, staged.unwrap(), "x".into(), None)
        .await
        .unwrap();
    store.abort_multipart(&who, "b", "mp2", &id).await.unwrap();
    assert!(matches!(
        store.abort_multipart(&who, "b", "mp2", &id).await,
        Err(StoreError::NoSuchUpload)
    ));
    store.collect_garbage().await.unwrap();
    assert_eq!(block_files(&dirs).len(), 3);
}

#[actix_web::test]
async fn multipart_uploads_are_listed_in_key_and_id_order() {
    let scratch = Scratch::new("uploads");
    let store = store_with_bucket(&[scratch.dir("d0")]).await;
    let who = alice();
    let mut ids = Vec::new();
    for key in ["x/1", "x/2", "x/2", "y"] {
        let id = store.create_multipart(&who, "b", key, meta("")).await;
        ids.push((key.to_string(), id.unwrap()));
    }
    ids.sort();
    let listed = |prefix: &'static str, after: Option<(&'static str, Option<String>)>| {
        let store = &store;
        let who = who.clone();
        async move {
            let after = after.as_ref().map(|(k, id)| (*k, id.as_deref()));
            let uploads = store
                .list_multipart_uploads(&who, "b", prefix, after, 10)
                .await
                .unwrap();
            uploads
                .into_iter()
                .map(|u| (u.key, u.upload_id))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed("", None).await, ids);
    assert_eq!(listed("x/", None).await, ids[..3]);
    assert_eq!(listed("", Some(("x/2", None))).await, ids[3..]);
    let after_first_of_x2 = Some(("x/2", Some(ids[1].1.clone())));
    assert_eq!(listed("", after_first_of_x2).await, ids[2..]);

    // Deleting the bucket aborts its uploads; objects keep it alive.
    put(&store, "obj", b"data").await;
    assert!(matches!(
        store.delete_bucket(&who, "b").await,
        Err(StoreError::BucketNotEmpty)
    ));
    store
        .delete_object(&who, "b", "obj", crate::store::Versioning::Unversioned)
        .await
        .unwrap();
    store.delete_bucket(&who, "b").await.unwrap();
    store.create_bucket(&who, "b").await.unwrap();
    assert!(listed("", None).await.is_empty());
}
