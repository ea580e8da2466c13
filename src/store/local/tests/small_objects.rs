//! Small objects read again without the index (`small_objects`): answered while no commit has
//! happened since, and read afresh after any.

use super::*;

/// Changes the object's data behind the store's back: the writer does not count this commit,
/// so the store can only see it by reading the index again.
fn rewrite_row_behind_the_store(dirs: &[PathBuf], key: &str, data: &[u8]) {
    let conn = rusqlite::Connection::open(dirs[0].join(INDEX_FILE)).unwrap();
    let changed = conn
        .execute(
            "UPDATE objects SET inline_data = ?1 WHERE bucket = 'b' AND key = ?2",
            params![data, key.as_bytes()],
        )
        .unwrap();
    assert_eq!(changed, 1);
}

#[actix_web::test]
async fn a_small_object_is_read_again_from_memory_until_any_commit() {
    let scratch = Scratch::new("small-objects");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;
    let (first, behind) = (pattern(4096, 1), pattern(4096, 2));
    put(&store, "k", &first).await;
    // Taken in at the second read.
    for _ in 0..2 {
        assert_eq!(get(&store, "k", None).await, first);
    }

    rewrite_row_behind_the_store(&dirs, "k", &behind);
    // No commit of the store's since the read: the answer comes from memory.
    assert_eq!(get(&store, "k", None).await, first);
    assert_eq!(get(&store, "k", Some((10, 19))).await, first[10..20]);

    // A write of another key is a commit: every remembered read is stale.
    put(&store, "other", b"x").await;
    assert_eq!(get(&store, "k", None).await, behind);
}

#[actix_web::test]
async fn a_key_read_once_is_not_taken_in() {
    let scratch = Scratch::new("small-objects-once");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;
    put(&store, "k", b"first!").await;
    assert_eq!(get(&store, "k", None).await, b"first!");
    rewrite_row_behind_the_store(&dirs, "k", b"behind");
    assert_eq!(get(&store, "k", None).await, b"behind");
}

#[actix_web::test]
async fn writes_and_deletes_of_the_key_are_seen_at_once() {
    let scratch = Scratch::new("small-objects-writes");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;
    put(&store, "k", b"one").await;
    for _ in 0..2 {
        assert_eq!(get(&store, "k", None).await, b"one");
    }
    put(&store, "k", b"two!").await;
    for _ in 0..2 {
        assert_eq!(get(&store, "k", None).await, b"two!");
    }

    let reader = store.open_object(&alice(), "b", "k", None).await.unwrap();
    assert_eq!(reader.info().meta.etag, "etag-4");
    let mut changed = meta("new");
    changed.headers = vec![("content-type".into(), "image/png".into())];
    store
        .update_meta(&alice(), "b", "k", None, changed, &reader.info().meta)
        .await
        .unwrap();
    let reader = store.open_object(&alice(), "b", "k", None).await.unwrap();
    assert_eq!(
        reader.info().meta.headers,
        [("content-type".to_owned(), "image/png".to_owned())]
    );

    store
        .delete_object(&alice(), "b", "k", crate::store::Versioning::Unversioned)
        .await
        .unwrap();
    let gone = store.open_object(&alice(), "b", "k", None).await;
    assert!(
        matches!(gone, Err(StoreError::NoSuchKey)),
        "{:?}",
        gone.err()
    );
}

#[actix_web::test]
async fn a_remembered_object_is_still_refused_to_another_user() {
    let scratch = Scratch::new("small-objects-owner");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;
    put(&store, "k", b"alice's").await;
    for _ in 0..2 {
        assert_eq!(get(&store, "k", None).await, b"alice's");
    }
    let refused = store.open_object(&bob(), "b", "k", None).await;
    assert!(
        matches!(refused, Err(StoreError::AccessDenied)),
        "{:?}",
        refused.err()
    );
}
