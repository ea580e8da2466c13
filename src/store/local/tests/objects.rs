//! Objects: round trips, ranges, block boundaries, conditional and concurrent commits,
//! listing order.

use super::*;

#[actix_web::test]
async fn inline_round_trip() {
    let scratch = Scratch::new("inline");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;

    let data = pattern(1000, 1);
    let info = put(&store, "small", &data).await;
    assert_eq!(info.size, 1000);
    assert_eq!(get(&store, "small", None).await, data);
    assert_eq!(get(&store, "small", Some((10, 19))).await, &data[10..20]);

    let limit = pattern(INLINE_MAX, 2);
    put(&store, "limit", &limit).await;
    assert_eq!(get(&store, "limit", None).await, limit);

    put(&store, "empty", b"").await;
    assert!(get(&store, "empty", None).await.is_empty());
    assert!(
        block_files(&dirs).is_empty(),
        "inline data wrote block files"
    );

    let reader = store
        .open_object(&alice(), "b", "small", None)
        .await
        .unwrap();
    assert_eq!(reader.info().meta, meta("etag-1000"));
    assert_eq!(reader.info().last_modified, info.last_modified);

    // The index is private to the server's user.
    let mode = fs::metadata(dirs[0].join(INDEX_FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[actix_web::test]
async fn multi_block_round_trip_and_ranges() {
    let scratch = Scratch::new("blocks");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;

    let data = pattern(3 * BLOCK + BLOCK / 2, 3);
    let info = put(&store, "big", &data).await;
    assert_eq!(info.size, data.len() as u64);
    assert_eq!(block_files(&dirs).len(), 4);
    assert_eq!(get(&store, "big", None).await, data);

    let block = BLOCK_SIZE as u64;
    let last = data.len() as u64 - 1;
    for (first, end) in [
        (0, 0),
        (block - 10, block + 9),
        (block, 2 * block - 1),
        (block / 2, 3 * block + 5),
        (last, last),
        (0, last),
    ] {
        let got = get(&store, "big", Some((first, end))).await;
        assert_eq!(got, &data[first as usize..=end as usize], "{first}-{end}");
    }
}

/// An object of more blocks than a worker thread locates in place is read on a blocking task:
/// the same bytes either way.
#[actix_web::test]
async fn objects_of_many_blocks_read_the_same() {
    let scratch = Scratch::new("many-blocks");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;
    let blocks = crate::store::local::reader::IN_PLACE_BLOCKS;
    for count in [blocks, blocks + 1] {
        // One block's data over and over: many list entries, one block file.
        let data = pattern(BLOCK, 9).repeat(count);
        put(&store, "many", &data).await;
        assert_eq!(get(&store, "many", None).await, data, "{count} blocks");
    }
}

#[actix_web::test]
async fn block_boundaries() {
    let scratch = Scratch::new("boundaries");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;
    for (len, files) in [(INLINE_MAX + 1, 1), (2 * BLOCK, 2), (2 * BLOCK + 1, 3)] {
        let data = pattern(len, len as u64);
        put(&store, "k", &data).await;
        store.collect_garbage().await.unwrap();
        assert_eq!(block_files(&dirs).len(), files, "{len} bytes");
        assert_eq!(get(&store, "k", None).await, data);
    }
}

#[actix_web::test]
async fn missing_block_file_is_an_error_not_wrong_bytes() {
    let scratch = Scratch::new("missing");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;

    let data = pattern(2 * BLOCK + 10, 12);
    put(&store, "k", &data).await;
    let second = crate::encoding::hex(&store.shared.sealing.block_id(&data[BLOCK..2 * BLOCK]));
    let victim = block_files(&dirs)
        .into_iter()
        .find(|file| file.ends_with(&second))
        .unwrap();

    // Truncated.
    fs::write(&victim, b"short").unwrap();
    let reader = store.open_object(&alice(), "b", "k", None).await.unwrap();
    let (before, error) = read_to_error(reader.stream(None)).await;
    assert_eq!(before, &data[..BLOCK]);
    match error {
        Some(StoreError::Internal(message)) => assert!(message.contains(&second)),
        other => panic!("expected an error, got {other:?}"),
    }

    // Gone.
    fs::remove_file(&victim).unwrap();
    let reader = store.open_object(&alice(), "b", "k", None).await.unwrap();
    let range = Some(ByteRange {
        first: BLOCK as u64 + 1,
        last: BLOCK as u64 + 2,
    });
    let result = read_all(reader.stream(range)).await;
    assert!(matches!(result, Err(StoreError::Internal(m)) if m.contains(&second)));
}

#[actix_web::test]
async fn conditional_commits() {
    let scratch = Scratch::new("conditions");
    let store = store_with_bucket(&[scratch.dir("d0")]).await;

    put_if(&store, "k", b"one", WriteCondition::IfAbsent)
        .await
        .unwrap();
    let again = put_if(&store, "k", b"two", WriteCondition::IfAbsent).await;
    assert!(matches!(again, Err(StoreError::PreconditionFailed)));

    let wrong = WriteCondition::IfEtag("nope".into());
    let result = put_if(&store, "k", b"two", wrong).await;
    assert!(matches!(result, Err(StoreError::PreconditionFailed)));
    let right = WriteCondition::IfEtag("etag-3".into());
    put_if(&store, "k", b"four", right).await.unwrap();
    assert_eq!(get(&store, "k", None).await, b"four");

    let absent = WriteCondition::IfEtag("etag-4".into());
    let result = put_if(&store, "missing", b"x", absent).await;
    assert!(matches!(result, Err(StoreError::PreconditionFailed)));
}

#[actix_web::test]
async fn listing_follows_byte_order() {
    let scratch = Scratch::new("listing");
    let store = store_with_bucket(&[scratch.dir("d0")]).await;
    let keys = ["a", "a/", "a/b", "a/c", "a0", "ab", "z", "é", "日本"];
    for key in keys.iter().rev() {
        put(&store, key, key.as_bytes()).await;
    }
    let list = |prefix: &'static str, start: ListStart, limit: usize| {
        let store = &store;
        async move {
            let listed = store
                .list_objects(&alice(), "b", prefix, &start, limit, None)
                .await
                .unwrap();
            listed.into_iter().map(|o| o.key).collect::<Vec<_>>()
        }
    };
    assert_eq!(list("", ListStart::Beginning, 100).await, keys);
    assert_eq!(list("", ListStart::Beginning, 2).await, ["a", "a/"]);
    assert_eq!(
        list("a/", ListStart::Beginning, 100).await,
        ["a/", "a/b", "a/c"]
    );
    assert_eq!(
        list("a", ListStart::After("a/".into()), 100).await,
        ["a/b", "a/c", "a0", "ab"]
    );
    assert_eq!(
        list("", ListStart::AfterPrefix("a/".into()), 100).await,
        ["a0", "ab", "z", "é", "日本"]
    );
    assert_eq!(
        list("a", ListStart::AfterPrefix("a/".into()), 100).await,
        ["a0", "ab"]
    );
    // A start before the prefix does not widen it; one past it empties the listing.
    assert_eq!(
        list("a/", ListStart::After("0".into()), 100).await,
        ["a/", "a/b", "a/c"]
    );
    assert!(list("a/", ListStart::After("b".into()), 100)
        .await
        .is_empty());
    assert!(list("a/", ListStart::AfterPrefix("a".into()), 100)
        .await
        .is_empty());
    assert_eq!(list("é", ListStart::Beginning, 100).await, ["é"]);
    assert!(list("", ListStart::Beginning, 0).await.is_empty());

    let summary = store
        .list_objects(&alice(), "b", "z", &ListStart::Beginning, 1, None)
        .await
        .unwrap();
    assert_eq!(summary[0].size, 1);
    assert_eq!(summary[0].etag, "etag-1");
}

#[actix_web::test]
async fn concurrent_small_commits_are_grouped_and_durable() {
    let scratch = Scratch::new("group");
    let dirs = [scratch.dir("d0")];
    {
        let store = store_with_bucket(&dirs).await;
        let mut staged = Vec::new();
        for i in 0..50u64 {
            let data = pattern(4096, 100 + i);
            staged.push(store.stage(&alice(), "b", body(&data), None).await.unwrap());
        }
        let commits_before = store.shared.commits.load(Ordering::Relaxed);
        let who = alice();
        let commits = staged.into_iter().enumerate().map(|(i, data)| {
            let key = format!("k{i:02}");
            let (store, who) = (&store, &who);
            async move {
                store
                    .commit_object(
                        who,
                        "b",
                        &key,
                        data,
                        meta("e"),
                        WriteCondition::None,
                        crate::store::Versioning::Unversioned,
                    )
                    .await
            }
        });
        for result in join_all(commits).await {
            result.unwrap();
        }
        let transactions = store.shared.commits.load(Ordering::Relaxed) - commits_before;
        assert!(
            transactions < 10,
            "50 commits took {transactions} transactions"
        );
    }
    let store = LocalStore::open(&dirs).unwrap();
    let listed = store
        .list_objects(&alice(), "b", "", &ListStart::Beginning, 100, None)
        .await
        .unwrap();
    assert_eq!(listed.len(), 50);
    for i in [0u64, 17, 49] {
        let key = format!("k{i:02}");
        assert_eq!(get(&store, &key, None).await, pattern(4096, 100 + i));
    }
}

/// A size the S3 layer reports (a sealed object's plain size) is kept through commit, copy and
/// listing, while reads still see the bytes stored; an index made before the column existed
/// gets it when opened.
#[actix_web::test]
async fn reported_sizes_are_kept_and_listed() {
    let scratch = Scratch::new("reported");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;
    let data = pattern(3000, 7);
    let staged = store
        .stage(&alice(), "b", body(&data), Some(data.len() as u64))
        .await
        .unwrap();
    let sealed = ObjectMeta {
        size: Some(2000),
        ..meta("sealed")
    };
    store
        .commit_object(
            &alice(),
            "b",
            "k",
            staged,
            sealed.clone(),
            WriteCondition::None,
            crate::store::Versioning::Unversioned,
        )
        .await
        .unwrap();
    let source = CopySource {
        version_id: None,
        bucket: "b",
        key: "k",
        if_meta: None,
    };
    store
        .copy_object(
            &alice(),
            &source,
            "b",
            "k2",
            sealed.clone(),
            WriteCondition::None,
            crate::store::Versioning::Unversioned,
        )
        .await
        .unwrap();
    put(&store, "plain", &data).await;
    let reader = store.open_object(&alice(), "b", "k", None).await.unwrap();
    assert_eq!(reader.info().size, 3000);
    assert_eq!(reader.info().meta, sealed);
    let listed = store
        .list_objects(&alice(), "b", "", &ListStart::Beginning, 10, None)
        .await
        .unwrap();
    let sizes: Vec<(&str, u64)> = listed.iter().map(|o| (o.key.as_str(), o.size)).collect();
    assert_eq!(sizes, [("k", 2000), ("k2", 2000), ("plain", 3000)]);
    drop(reader);
    drop(store);

    // An index from before the column: drop it, reopen, and the column is back (NULL).
    let conn = rusqlite::Connection::open(dirs[0].join(INDEX_FILE)).unwrap();
    conn.execute_batch(
        "CREATE TABLE old AS SELECT bucket, key, size, etag, meta_json, mtime_ms, inline_data,
         blocks FROM objects; DROP TABLE objects; ALTER TABLE old RENAME TO objects;",
    )
    .unwrap();
    drop(conn);
    let store = LocalStore::open(&dirs).unwrap();
    let listed = store
        .list_objects(&alice(), "b", "", &ListStart::Beginning, 10, None)
        .await
        .unwrap();
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().all(|o| o.size == 3000));
}
