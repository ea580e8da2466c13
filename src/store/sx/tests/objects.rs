//! Object writes, reads, deletes, conditional writes and copies.

use super::*;

#[actix_web::test]
async fn objects_round_trip() {
    let fake = FakeSx::start(2);
    let token = fake.add_user("alice");
    let store = connect(&fake).await;
    let u = store.user_by_access_key("alice").await.unwrap().unwrap();
    assert_eq!(u.secret.expose(), token);
    assert!(store.user_by_access_key("nobody").await.unwrap().is_none());
    let alice = user("alice");
    store.create_bucket(&alice, "photos").await.unwrap();
    assert!(matches!(
        store.create_bucket(&alice, "photos").await,
        Err(StoreError::BucketAlreadyOwnedByYou)
    ));
    let names: Vec<String> = store
        .list_buckets(&alice)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, ["photos"]);
    for size in [0usize, 1, 4096, 4097, 200_000, 1 << 20] {
        let data = random(size);
        let key = format!("dir/file-{size}");
        put(&store, &alice, "photos", &key, &data).await;
        let reader = store
            .open_object(&alice, "photos", &key, None)
            .await
            .unwrap();
        assert_eq!(reader.info().size, size as u64);
        assert_eq!(reader.info().meta, meta("e"));
        assert_eq!(read(reader, None).await.unwrap(), data, "size {size}");
        if size > 10 {
            let r = ByteRange {
                first: 3,
                last: size as u64 - 2,
            };
            let reader = store
                .open_object(&alice, "photos", &key, None)
                .await
                .unwrap();
            assert_eq!(read(reader, Some(r)).await.unwrap(), &data[3..size - 1]);
        }
    }
    let listed = store
        .list_objects(&alice, "photos", "dir/", &ListStart::Beginning, 1000, None)
        .await
        .unwrap();
    assert_eq!(listed.len(), 6);
    assert!(listed.iter().all(|o| o.etag == "e"));
    // Staged bodies leave nothing behind once committed.
    eventually("staged bodies removed", || {
        fake.files("photos")
            .iter()
            .all(|f| !f.starts_with(".libres3"))
    })
    .await;
    assert!(matches!(
        store.delete_bucket(&alice, "photos").await,
        Err(StoreError::BucketNotEmpty)
    ));
    for o in listed {
        store
            .delete_object(
                &alice,
                "photos",
                &o.key,
                crate::store::Versioning::Unversioned,
            )
            .await
            .unwrap();
    }
    store
        .delete_object(
            &alice,
            "photos",
            "never-was",
            crate::store::Versioning::Unversioned,
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .open_object(&alice, "photos", "dir/file-1", None)
            .await,
        Err(StoreError::NoSuchKey)
    ));
    store.delete_bucket(&alice, "photos").await.unwrap();
    assert!(matches!(
        store.bucket_info(&alice, "photos").await,
        Err(StoreError::NoSuchBucket)
    ));
}

#[actix_web::test]
async fn conditions_hold() {
    let (fake, store, alice) = alice_with_volume("vol").await;
    put(&store, &alice, "vol", "k", b"one").await;
    let staged = store
        .stage(&alice, "vol", body(b"two", 1), Some(3))
        .await
        .unwrap();
    assert!(matches!(
        store
            .commit_object(
                &alice,
                "vol",
                "k",
                staged,
                meta("x"),
                WriteCondition::IfAbsent,
                crate::store::Versioning::Unversioned
            )
            .await,
        Err(StoreError::PreconditionFailed)
    ));
    let staged = store
        .stage(&alice, "vol", body(b"two", 1), Some(3))
        .await
        .unwrap();
    store
        .commit_object(
            &alice,
            "vol",
            "k",
            staged,
            meta("x"),
            WriteCondition::IfEtag("e".into()),
            crate::store::Versioning::Unversioned,
        )
        .await
        .unwrap();
    assert_eq!(get(&store, &alice, "vol", "k").await.unwrap(), b"two");
    // A body of unknown length is spooled first.
    let data = random(100_000);
    let staged = store
        .stage(&alice, "vol", body(&data, 999), None)
        .await
        .unwrap();
    assert_eq!(staged.size(), 100_000);
    store
        .commit_object(
            &alice,
            "vol",
            "spooled",
            staged,
            meta("s"),
            WriteCondition::None,
            crate::store::Versioning::Unversioned,
        )
        .await
        .unwrap();
    assert_eq!(get(&store, &alice, "vol", "spooled").await.unwrap(), data);
    // A body shorter than announced is refused.
    assert!(matches!(
        store.stage(&alice, "vol", body(b"ab", 1), Some(3)).await,
        Err(StoreError::Body(_))
    ));
    // Staged bodies never committed (the failed one, the refused commits) are removed.
    let staged = store
        .stage(&alice, "vol", body(b"dropped", 3), Some(7))
        .await
        .unwrap();
    drop(staged);
    eventually("only committed files left", || {
        fake.files("vol") == ["k", "spooled"]
    })
    .await;
}

/// Another gateway's write lands between the conditional write's first check and its flush:
/// the check repeated just before the flush sees it, and nothing of ours becomes visible.
#[actix_web::test]
async fn conditional_write_rechecks_before_its_flush() {
    let (fake, store, alice) = alice_with_volume("vol").await;
    let staged = store
        .stage(&alice, "vol", body(b"mine", 2), Some(4))
        .await
        .unwrap();
    // The create request of the commit (`PUT /vol/k`) is the moment.
    fake.before_next(
        |method, uri, _| method == "PUT" && uri == "/vol/k",
        Box::new(|st| st.write_file("vol", "k", b"theirs", &[])),
    );
    let result = store
        .commit_object(
            &alice,
            "vol",
            "k",
            staged,
            meta("m"),
            WriteCondition::IfAbsent,
            crate::store::Versioning::Unversioned,
        )
        .await;
    assert!(
        matches!(result, Err(StoreError::PreconditionFailed)),
        "{result:?}"
    );
    assert_eq!(fake.pending_hooks(), 0);
    assert_eq!(fake.file("vol", "k").unwrap().0, b"theirs");
}

/// Another gateway's write replaces ours right after our flush: the write id read back
/// afterwards is not ours, so the conditional write reports that it did not hold.
#[actix_web::test]
async fn conditional_write_replaced_after_its_flush_fails() {
    let (fake, store, alice) = alice_with_volume("vol").await;
    put(&store, &alice, "vol", "k", b"first").await;
    let staged = store
        .stage(&alice, "vol", body(b"second", 2), Some(6))
        .await
        .unwrap();
    // The flush of the commit: `PUT /.upload/<token>` with an empty body.
    fake.after_next(
        |method, uri, body| method == "PUT" && uri.starts_with("/.upload/") && body.is_empty(),
        Box::new(|st| st.write_file("vol", "k", b"third", &[])),
    );
    let result = store
        .commit_object(
            &alice,
            "vol",
            "k",
            staged,
            meta("x"),
            WriteCondition::IfEtag("e".into()),
            crate::store::Versioning::Unversioned,
        )
        .await;
    assert!(
        matches!(result, Err(StoreError::PreconditionFailed)),
        "{result:?}"
    );
    assert_eq!(fake.pending_hooks(), 0);
    assert_eq!(fake.file("vol", "k").unwrap().0, b"third");
    // Without a concurrent writer the same conditional write succeeds and leaves its id.
    let staged = store
        .stage(&alice, "vol", body(b"fourth", 2), Some(6))
        .await
        .unwrap();
    store
        .commit_object(
            &alice,
            "vol",
            "k2",
            staged,
            meta("y"),
            WriteCondition::IfAbsent,
            crate::store::Versioning::Unversioned,
        )
        .await
        .unwrap();
    let (data, file_meta) = fake.file("vol", "k2").unwrap();
    assert_eq!(data, b"fourth");
    assert!(file_meta.contains_key("libres3-wid"), "{file_meta:?}");
}

/// A conditional write reads its write id back while it still holds this gateway's turn for
/// the name, so a write through this gateway that replaces it (a later write) cannot make it
/// report that its condition failed. Every meta read of `k` records whether the turn was held;
/// the last one is the id read back.
#[actix_web::test]
async fn conditional_write_reads_its_id_back_in_its_turn() {
    let (fake, store, alice) = alice_with_volume("vol").await;
    let writing = store.cluster().unwrap().inner.writing.clone();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    for _ in 0..8 {
        let (writing, seen) = (writing.clone(), seen.clone());
        fake.before_next(
            |method, uri, _| method == "GET" && uri.starts_with("/vol/k?fileMeta"),
            Box::new(move |_| {
                let held = writing
                    .get(&("vol".to_owned(), "k".to_owned()))
                    .is_some_and(|turn| turn.try_lock().is_err());
                seen.lock().unwrap().push(held);
            }),
        );
    }
    let staged = store
        .stage(&alice, "vol", body(b"mine", 2), Some(4))
        .await
        .unwrap();
    store
        .commit_object(
            &alice,
            "vol",
            "k",
            staged,
            meta("m"),
            WriteCondition::IfAbsent,
            crate::store::Versioning::Unversioned,
        )
        .await
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.last(), Some(&true), "{seen:?}");
}

#[actix_web::test]
async fn copies_move_no_data() {
    let fake = FakeSx::start(2);
    fake.add_user("alice");
    fake.add_volume("src", "alice", 1, &[]);
    fake.add_volume("dst", "alice", 2, &[]);
    let store = connect(&fake).await;
    let alice = user("alice");
    let data = random(1 << 20);
    put(&store, &alice, "src", "orig", &data).await;
    let before = fake.block_bytes_in();
    store
        .copy_object(
            &alice,
            &CopySource {
                version_id: None,
                bucket: "src",
                key: "orig",
                if_meta: None,
            },
            "dst",
            "a//copy",
            meta("c"),
            WriteCondition::None,
            crate::store::Versioning::Unversioned,
        )
        .await
        .unwrap();
    assert_eq!(fake.block_bytes_in(), before);
    assert_eq!(get(&store, &alice, "dst", "a//copy").await.unwrap(), data);
    let reader = store
        .open_object(&alice, "dst", "a//copy", None)
        .await
        .unwrap();
    assert_eq!(reader.info().meta, meta("c"));
    assert!(matches!(
        store
            .copy_object(
                &alice,
                &CopySource {
                    version_id: None,
                    bucket: "src",
                    key: "missing",
                    if_meta: None,
                },
                "dst",
                "x",
                meta("c"),
                WriteCondition::None,
                crate::store::Versioning::Unversioned
            )
            .await,
        Err(StoreError::NoSuchKey)
    ));
}

/// A tag change rewrites the SX file, which gets a new creation time, but keeps the object's
/// last-modified: the lifecycle's conditional delete judges by the time the listing shows.
#[actix_web::test]
async fn a_conditional_delete_after_a_metadata_change_goes_through() {
    let (fake, store, alice) = alice_with_volume("cond").await;
    put(&store, &alice, "cond", "k", b"data").await;
    let before = store
        .open_object(&alice, "cond", "k", None)
        .await
        .unwrap()
        .info()
        .meta
        .clone();
    // The rewrite happens seconds later by the cluster's clock.
    fake.set_clock_offset(5);
    let mut tagged = before.clone();
    tagged
        .headers
        .push(("x-libres3-tagging".into(), "t=1".into()));
    store
        .update_meta(&alice, "cond", "k", None, tagged, &before)
        .await
        .unwrap();
    let listed = store
        .list_objects(&alice, "cond", "", &ListStart::Beginning, 10, None)
        .await
        .unwrap();
    let judged = crate::store::Judged {
        etag: listed[0].etag.clone(),
        last_modified: listed[0].last_modified,
    };
    store
        .delete_object_if_unchanged(
            &alice,
            "cond",
            "k",
            &judged,
            crate::store::Versioning::Unversioned,
        )
        .await
        .unwrap();
    assert!(fake.files("cond").is_empty(), "{:?}", fake.files("cond"));
}
