//! Block sharing and garbage collection: dedup, overwrites, copies, abandoned uploads, and
//! the pins and readers that keep blocks alive.

use super::*;

#[actix_web::test]
async fn overwrite_releases_old_blocks() {
    let scratch = Scratch::new("overwrite");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;

    put(&store, "k", &pattern(3 * BLOCK + 1, 4)).await;
    let old_files = block_files(&dirs);
    assert_eq!(old_files.len(), 4);

    let new = pattern(2 * BLOCK, 5);
    put(&store, "k", &new).await;
    let stats = store.collect_garbage().await.unwrap();
    assert_eq!(stats.deleted_blocks, 4);
    assert!(old_files.iter().all(|file| !file.exists()));
    assert_eq!(block_files(&dirs).len(), 2);
    assert_eq!(get(&store, "k", None).await, new);

    // Overwriting with an inline body and deleting release blocks too.
    put(&store, "k", b"tiny").await;
    store.collect_garbage().await.unwrap();
    assert!(block_files(&dirs).is_empty());
    store
        .delete_object(&alice(), "b", "k", crate::store::Versioning::Unversioned)
        .await
        .unwrap();
    store
        .delete_object(&alice(), "b", "k", crate::store::Versioning::Unversioned)
        .await
        .unwrap();
    assert!(matches!(
        store.open_object(&alice(), "b", "k", None).await,
        Err(StoreError::NoSuchKey)
    ));
}

#[actix_web::test]
async fn identical_content_is_stored_once() {
    let scratch = Scratch::new("dedup");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;

    let data = pattern(2 * BLOCK + 100, 6);
    put(&store, "one", &data).await;
    put(&store, "two", &data).await;
    // The same content rewritten under the same key shares its blocks with itself.
    put(&store, "two", &data).await;
    assert_eq!(block_files(&dirs).len(), 3);

    // Blocks repeated inside one object are counted once per use.
    let zeros = vec![0u8; 3 * BLOCK];
    put(&store, "zeros", &zeros).await;
    assert_eq!(block_files(&dirs).len(), 4);

    store
        .delete_object(&alice(), "b", "one", crate::store::Versioning::Unversioned)
        .await
        .unwrap();
    store.collect_garbage().await.unwrap();
    assert_eq!(block_files(&dirs).len(), 4);
    assert_eq!(get(&store, "two", None).await, data);
    assert_eq!(get(&store, "zeros", None).await, zeros);

    store
        .delete_object(&alice(), "b", "two", crate::store::Versioning::Unversioned)
        .await
        .unwrap();
    store
        .delete_object(
            &alice(),
            "b",
            "zeros",
            crate::store::Versioning::Unversioned,
        )
        .await
        .unwrap();
    store.collect_garbage().await.unwrap();
    assert!(block_files(&dirs).is_empty());
}

#[actix_web::test]
async fn abandoned_uploads_leave_nothing() {
    let scratch = Scratch::new("abandon");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;

    let staged = store
        .stage(&alice(), "b", body(&pattern(3 * BLOCK, 7)), None)
        .await
        .unwrap();
    assert_eq!(staged.size(), 3 * BLOCK as u64);
    assert_eq!(block_files(&dirs).len(), 3);
    drop(staged);
    let stats = store.collect_garbage().await.unwrap();
    assert_eq!(stats.removed_strays, 3);
    assert!(block_files(&dirs).is_empty());

    // A body that fails half way: its error comes back unchanged, its blocks go.
    let failing: BodyStream = stream::iter(vec![
        Ok(Bytes::from(pattern(2 * BLOCK + 5, 8))),
        Err(BodyError("client went away".into())),
    ])
    .boxed_local();
    match store.stage(&alice(), "b", failing, None).await {
        Err(StoreError::Body(e)) => assert_eq!(e.to_string(), "client went away"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a failed body was staged"),
    }
    // Blocks still being written when the upload failed are handed over when they finish.
    for _ in 0..50 {
        store.collect_garbage().await.unwrap();
        if block_files(&dirs).is_empty() {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(block_files(&dirs).is_empty());

    // A rejected commit releases its staged blocks too.
    put(&store, "k", b"x").await;
    let rejected = put_if(
        &store,
        "k",
        &pattern(BLOCK + 1, 9),
        WriteCondition::IfAbsent,
    )
    .await;
    assert!(matches!(rejected, Err(StoreError::PreconditionFailed)));
    store.collect_garbage().await.unwrap();
    assert!(block_files(&dirs).is_empty());
}

#[actix_web::test]
async fn pinned_blocks_survive_gc() {
    let scratch = Scratch::new("pins");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;

    let data = pattern(2 * BLOCK, 13);
    put(&store, "k", &data).await;
    store
        .delete_object(&alice(), "b", "k", crate::store::Versioning::Unversioned)
        .await
        .unwrap();
    // The same content is staged while its blocks wait, unreferenced, for collection.
    let staged = store.stage(&alice(), "b", body(&data), None).await.unwrap();
    let stats = store.collect_garbage().await.unwrap();
    assert_eq!(stats.deleted_blocks, 0);
    assert_eq!(stats.deferred, 2);
    assert_eq!(block_files(&dirs).len(), 2);

    store
        .commit_object(
            &alice(),
            "b",
            "k2",
            staged,
            meta("e"),
            WriteCondition::None,
            crate::store::Versioning::Unversioned,
        )
        .await
        .unwrap();
    let stats = store.collect_garbage().await.unwrap();
    assert_eq!(stats, GcStats::default());
    assert_eq!(get(&store, "k2", None).await, data);
}

#[actix_web::test]
async fn open_reader_keeps_old_version_through_gc() {
    let scratch = Scratch::new("epoch");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;

    let old = pattern(3 * BLOCK, 10);
    put(&store, "k", &old).await;
    let reader = store.open_object(&alice(), "b", "k", None).await.unwrap();

    let new = pattern(2 * BLOCK, 11);
    put(&store, "k", &new).await;
    let stats = store.collect_garbage().await.unwrap();
    assert_eq!(stats.deleted_blocks, 0);
    assert_eq!(stats.deferred, 3);

    // A reader opened after the overwrite does not hold the old blocks back.
    assert_eq!(get(&store, "k", None).await, new);

    let mut stream = reader.stream(None);
    let first = stream.next().await.unwrap().unwrap();
    store.collect_garbage().await.unwrap();
    let mut got = first.to_vec();
    got.extend(read_all(stream).await.unwrap());
    assert_eq!(got, old);

    let stats = store.collect_garbage().await.unwrap();
    assert_eq!(stats.deleted_blocks, 3);
    assert_eq!(block_files(&dirs).len(), 2);
}

#[actix_web::test]
async fn copies_share_blocks_and_rows() {
    let scratch = Scratch::new("copy");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;
    store.create_bucket(&alice(), "b2").await.unwrap();
    let big = pattern(2 * BLOCK + 5, 40);
    let info = put(&store, "big", &big).await;
    put(&store, "small", b"inline").await;
    let files = block_files(&dirs);
    assert_eq!(files.len(), 3);

    let source = CopySource {
        version_id: None,
        bucket: "b",
        key: "big",
        if_meta: Some(&info.meta),
    };
    let copied = store
        .copy_object(
            &alice(),
            &source,
            "b2",
            "copy",
            meta("new"),
            WriteCondition::None,
            crate::store::Versioning::Unversioned,
        )
        .await
        .unwrap();
    assert_eq!(copied.size, big.len() as u64);
    assert_eq!(block_files(&dirs), files, "no block written");
    let reader = store
        .open_object(&alice(), "b2", "copy", None)
        .await
        .unwrap();
    assert_eq!(reader.info().meta, meta("new"));
    assert_eq!(read_all(reader.stream(None)).await.unwrap(), big);

    // Deleting the source keeps the copy's blocks.
    store
        .delete_object(&alice(), "b", "big", crate::store::Versioning::Unversioned)
        .await
        .unwrap();
    store.collect_garbage().await.unwrap();
    assert_eq!(block_files(&dirs), files);
    let reader = store
        .open_object(&alice(), "b2", "copy", None)
        .await
        .unwrap();
    assert_eq!(read_all(reader.stream(None)).await.unwrap(), big);

    // Inline rows are copied; copying onto itself replaces the metadata.
    let small = CopySource {
        version_id: None,
        bucket: "b",
        key: "small",
        if_meta: None,
    };
    store
        .copy_object(
            &alice(),
            &small,
            "b",
            "small",
            meta("m2"),
            WriteCondition::None,
            crate::store::Versioning::Unversioned,
        )
        .await
        .unwrap();
    let reader = store
        .open_object(&alice(), "b", "small", None)
        .await
        .unwrap();
    assert_eq!(reader.info().meta.etag, "m2");
    assert_eq!(read_all(reader.stream(None)).await.unwrap(), b"inline");

    // A stale source: another ETag, or the same ETag with other headers or another reported
    // size (the same content written again, e.g. encrypted under a new key).
    let other_etag = meta("other");
    let other_headers = ObjectMeta {
        headers: Vec::new(),
        ..meta("m2")
    };
    let other_size = ObjectMeta {
        size: Some(1),
        ..meta("m2")
    };
    for wanted in [&other_etag, &other_headers, &other_size] {
        let stale = CopySource {
            version_id: None,
            if_meta: Some(wanted),
            ..small.clone()
        };
        assert!(matches!(
            store
                .copy_object(
                    &alice(),
                    &stale,
                    "b",
                    "x",
                    meta(""),
                    WriteCondition::None,
                    crate::store::Versioning::Unversioned
                )
                .await,
            Err(StoreError::SourceChanged)
        ));
    }
    let current = meta("m2");
    let fresh = CopySource {
        version_id: None,
        if_meta: Some(&current),
        ..small.clone()
    };
    store
        .copy_object(
            &alice(),
            &fresh,
            "b",
            "x",
            meta(""),
            WriteCondition::None,
            crate::store::Versioning::Unversioned,
        )
        .await
        .unwrap();
    // Missing source, foreign bucket, destination condition.
    let missing = CopySource {
        version_id: None,
        key: "nope",
        ..small.clone()
    };
    assert!(matches!(
        store
            .copy_object(
                &alice(),
                &missing,
                "b",
                "x",
                meta(""),
                WriteCondition::None,
                crate::store::Versioning::Unversioned
            )
            .await,
        Err(StoreError::NoSuchKey)
    ));
    assert!(matches!(
        store
            .copy_object(
                &bob(),
                &small,
                "b",
                "x",
                meta(""),
                WriteCondition::None,
                crate::store::Versioning::Unversioned
            )
            .await,
        Err(StoreError::AccessDenied)
    ));
    assert!(matches!(
        store
            .copy_object(
                &alice(),
                &small,
                "b",
                "small",
                meta(""),
                WriteCondition::IfAbsent,
                crate::store::Versioning::Unversioned
            )
            .await,
        Err(StoreError::PreconditionFailed)
    ));

    // Overwriting the copy with itself-shared data then deleting everything frees all.
    store
        .delete_object(
            &alice(),
            "b2",
            "copy",
            crate::store::Versioning::Unversioned,
        )
        .await
        .unwrap();
    store.collect_garbage().await.unwrap();
    assert!(block_files(&dirs).is_empty());
}
