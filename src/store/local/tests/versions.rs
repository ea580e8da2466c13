//! Versions: each rule of the versioning seam (src/store/mod.rs), on the embedded store, and
//! the block references versions share.

use super::*;
use crate::store::{Deleted, VersionStart, VersionSummary, Versioning, NULL_VERSION};

use Versioning::{Enabled, Suspended, Unversioned};

async fn put_v(store: &LocalStore, key: &str, data: &[u8], versioning: Versioning) -> ObjectInfo {
    put_cond_v(store, key, data, WriteCondition::None, versioning)
        .await
        .unwrap()
}

async fn put_cond_v(
    store: &LocalStore,
    key: &str,
    data: &[u8],
    condition: WriteCondition,
    versioning: Versioning,
) -> Result<ObjectInfo, StoreError> {
    put_versioned(store, key, data, condition, versioning).await
}

async fn get_v(
    store: &LocalStore,
    key: &str,
    version: Option<&str>,
) -> Result<Vec<u8>, StoreError> {
    let reader = store.open_object(&alice(), "b", key, version).await?;
    read_all(reader.stream(None)).await
}

async fn versions_from(
    store: &LocalStore,
    prefix: &str,
    start: &VersionStart,
    limit: usize,
) -> Vec<VersionSummary> {
    store
        .list_object_versions(&alice(), "b", prefix, start, limit, None)
        .await
        .unwrap()
}

async fn all_versions(store: &LocalStore) -> Vec<VersionSummary> {
    versions_from(store, "", &VersionStart::Beginning, 1000).await
}

/// (key, version id, is latest, delete marker) of each listed version.
fn shape(listed: &[VersionSummary]) -> Vec<(String, String, bool, bool)> {
    listed
        .iter()
        .map(|v| {
            (
                v.key.clone(),
                v.version_id.clone(),
                v.is_latest,
                v.delete_marker,
            )
        })
        .collect()
}

fn row(key: &str, id: &str, latest: bool, marker: bool) -> (String, String, bool, bool) {
    (key.into(), id.into(), latest, marker)
}

async fn keys_listed(store: &LocalStore) -> Vec<String> {
    store
        .list_objects(&alice(), "b", "", &ListStart::Beginning, 100, None)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect()
}

#[actix_web::test]
async fn enabled_writes_keep_every_version() {
    let scratch = Scratch::new("versions-enabled");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;
    let before = put_v(&store, "k", b"zero", Unversioned).await;
    assert_eq!(before.version_id, NULL_VERSION);
    let one = put_v(&store, "k", b"one", Enabled).await;
    let two = put_v(&store, "k", b"two!", Enabled).await;
    assert_ne!(one.version_id, two.version_id);
    for id in [&one.version_id, &two.version_id] {
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    }
    assert_eq!(get_v(&store, "k", None).await.unwrap(), b"two!");
    assert_eq!(
        get_v(&store, "k", Some(&one.version_id)).await.unwrap(),
        b"one"
    );
    assert_eq!(get_v(&store, "k", Some("null")).await.unwrap(), b"zero");
    let reader = store
        .open_object(&alice(), "b", "k", Some(&one.version_id))
        .await
        .unwrap();
    assert_eq!(reader.info().version_id, one.version_id);
    assert_eq!(reader.info().last_modified, one.last_modified);
    drop(reader);
    assert_eq!(
        shape(&all_versions(&store).await),
        [
            row("k", &two.version_id, true, false),
            row("k", &one.version_id, false, false),
            row("k", "null", false, false),
        ]
    );
    // Plain listings see the latest only.
    assert_eq!(keys_listed(&store).await, ["k"]);
    assert!(matches!(
        get_v(&store, "k", Some("0123456789abcdef0123456789abcdef")).await,
        Err(StoreError::NoSuchVersion)
    ));
    assert!(matches!(
        get_v(&store, "nothing", None).await,
        Err(StoreError::NoSuchKey)
    ));
    assert!(matches!(
        get_v(&store, "nothing", Some("null")).await,
        Err(StoreError::NoSuchKey)
    ));
}

#[actix_web::test]
async fn delete_markers_hide_and_deleting_them_restores() {
    let scratch = Scratch::new("versions-markers");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;
    let one = put_v(&store, "k", b"one", Enabled).await;
    let deleted = store
        .delete_object(&alice(), "b", "k", Enabled)
        .await
        .unwrap();
    let Deleted {
        version_id: Some(marker),
        delete_marker: true,
    } = deleted
    else {
        panic!("{deleted:?}");
    };
    assert_ne!(marker, one.version_id);
    match get_v(&store, "k", None).await {
        Err(StoreError::DeleteMarker { version_id, .. }) => assert_eq!(version_id, marker),
        other => panic!("{other:?}"),
    }
    match get_v(&store, "k", Some(&marker)).await {
        Err(StoreError::DeleteMarker { version_id, .. }) => assert_eq!(version_id, marker),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        get_v(&store, "k", Some(&one.version_id)).await.unwrap(),
        b"one"
    );
    assert!(keys_listed(&store).await.is_empty());
    assert_eq!(
        shape(&all_versions(&store).await),
        [
            row("k", &marker, true, true),
            row("k", &one.version_id, false, false),
        ]
    );
    // A write condition sees a latest marker as no object.
    put_cond_v(
        &store,
        "k",
        b"x",
        WriteCondition::IfEtag("etag-3".into()),
        Enabled,
    )
    .await
    .unwrap_err();
    // A key with no version at all still gets a marker.
    let ghost = store
        .delete_object(&alice(), "b", "ghost", Enabled)
        .await
        .unwrap();
    assert!(ghost.delete_marker && ghost.version_id.is_some());
    // The bucket holds versions: it cannot go.
    assert!(matches!(
        store.delete_bucket(&alice(), "b").await,
        Err(StoreError::BucketNotEmpty)
    ));

    // Removing the marker makes the version under it the latest again.
    let removed = store
        .delete_version(&alice(), "b", "k", &marker, None)
        .await
        .unwrap();
    assert_eq!(removed.version_id.as_deref(), Some(marker.as_str()));
    assert!(removed.delete_marker);
    assert_eq!(get_v(&store, "k", None).await.unwrap(), b"one");
    assert_eq!(keys_listed(&store).await, ["k"]);
    // Removing what is not there is no error.
    let nothing = store
        .delete_version(&alice(), "b", "k", &marker, None)
        .await
        .unwrap();
    assert!(!nothing.delete_marker);

    for (key, id) in [
        ("k", one.version_id.clone()),
        ("ghost", ghost.version_id.unwrap()),
    ] {
        store
            .delete_version(&alice(), "b", key, &id, None)
            .await
            .unwrap();
    }
    assert!(all_versions(&store).await.is_empty());
    store.delete_bucket(&alice(), "b").await.unwrap();
}

#[actix_web::test]
async fn deleting_the_latest_version_promotes_the_next() {
    let scratch = Scratch::new("versions-promote");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;
    let one = put_v(&store, "k", b"one", Enabled).await;
    store
        .delete_object(&alice(), "b", "k", Enabled)
        .await
        .unwrap();
    let three = put_v(&store, "k", b"three", Enabled).await;
    // Under the latest lies a marker: removing the latest leaves the marker latest.
    store
        .delete_version(&alice(), "b", "k", &three.version_id, None)
        .await
        .unwrap();
    assert!(matches!(
        get_v(&store, "k", None).await,
        Err(StoreError::DeleteMarker { .. })
    ));
    let listed = all_versions(&store).await;
    assert!(listed[0].delete_marker && listed[0].is_latest);
    assert_eq!(listed[1].version_id, one.version_id);
    assert!(!listed[1].is_latest);
    // A noncurrent version goes without touching the latest.
    let four = put_v(&store, "k", b"four", Enabled).await;
    store
        .delete_version(&alice(), "b", "k", &one.version_id, None)
        .await
        .unwrap();
    assert_eq!(get_v(&store, "k", None).await.unwrap(), b"four");
    store
        .delete_version(&alice(), "b", "k", &four.version_id, None)
        .await
        .unwrap();
    // Only the marker is left, and it is the latest.
    assert_eq!(shape(&all_versions(&store).await).len(), 1);
    assert!(all_versions(&store).await[0].is_latest);
}

#[actix_web::test]
async fn suspended_writes_replace_the_null_version() {
    let scratch = Scratch::new("versions-suspended");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;
    let big = |seed| pattern(2 * BLOCK, seed);
    put_v(&store, "k", &big(1), Unversioned).await;
    let kept = put_v(&store, "k", &big(2), Enabled).await;
    // Suspended: the new null version replaces the old (noncurrent) one, whose blocks go.
    let null = put_v(&store, "k", &big(3), Suspended).await;
    assert_eq!(null.version_id, NULL_VERSION);
    assert_eq!(
        shape(&all_versions(&store).await),
        [
            row("k", "null", true, false),
            row("k", &kept.version_id, false, false),
        ]
    );
    store.collect_garbage().await.unwrap();
    assert_eq!(
        block_files(&dirs).len(),
        4,
        "the first null version's blocks stay"
    );
    // And again, now that the null version is the current one.
    put_v(&store, "k", &big(4), Suspended).await;
    store.collect_garbage().await.unwrap();
    assert_eq!(block_files(&dirs).len(), 4);
    assert_eq!(get_v(&store, "k", Some("null")).await.unwrap(), big(4));
    // A suspended delete replaces the null version with a null marker.
    let deleted = store
        .delete_object(&alice(), "b", "k", Suspended)
        .await
        .unwrap();
    assert_eq!(deleted.version_id.as_deref(), Some(NULL_VERSION));
    assert!(deleted.delete_marker);
    assert_eq!(
        shape(&all_versions(&store).await),
        [
            row("k", "null", true, true),
            row("k", &kept.version_id, false, false),
        ]
    );
    store.collect_garbage().await.unwrap();
    assert_eq!(block_files(&dirs).len(), 2);
    // A suspended delete on a key whose latest is an enabled version keeps that version.
    let v = put_v(&store, "j", b"j", Enabled).await;
    store
        .delete_object(&alice(), "b", "j", Suspended)
        .await
        .unwrap();
    assert_eq!(get_v(&store, "j", Some(&v.version_id)).await.unwrap(), b"j");
}

/// Versions share blocks by reference count: a version going frees only the blocks no other
/// version or object names.
#[actix_web::test]
async fn deleting_versions_frees_only_unshared_blocks() {
    let scratch = Scratch::new("versions-blocks");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;
    let shared = pattern(BLOCK, 10);
    let v1_data = [shared.clone(), pattern(BLOCK, 11)].concat();
    let v2_data = [shared.clone(), pattern(BLOCK, 12)].concat();
    let v1 = put_v(&store, "k", &v1_data, Enabled).await;
    let v2 = put_v(&store, "k", &v2_data, Enabled).await;
    // Another key holds the same data as v1.
    put_v(&store, "other", &v1_data, Enabled).await;
    store.collect_garbage().await.unwrap();
    assert_eq!(block_files(&dirs).len(), 3);

    store
        .delete_version(&alice(), "b", "k", &v1.version_id, None)
        .await
        .unwrap();
    store.collect_garbage().await.unwrap();
    assert_eq!(
        block_files(&dirs).len(),
        3,
        "`other` still names v1's blocks"
    );
    store
        .delete_object(&alice(), "b", "other", Unversioned)
        .await
        .unwrap();
    store.collect_garbage().await.unwrap();
    assert_eq!(block_files(&dirs).len(), 2, "v2 keeps the shared block");
    assert_eq!(get_v(&store, "k", None).await.unwrap(), v2_data);
    // A marker keeps the data; deleting the version frees it.
    store
        .delete_object(&alice(), "b", "k", Enabled)
        .await
        .unwrap();
    store.collect_garbage().await.unwrap();
    assert_eq!(block_files(&dirs).len(), 2);
    store
        .delete_version(&alice(), "b", "k", &v2.version_id, None)
        .await
        .unwrap();
    store.collect_garbage().await.unwrap();
    assert!(block_files(&dirs).is_empty());
}

#[actix_web::test]
async fn version_listings_page_by_key_and_version() {
    let scratch = Scratch::new("versions-paging");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            put_v(&store, "a", format!("a{n}").as_bytes(), Enabled)
                .await
                .version_id,
        );
    }
    store
        .delete_object(&alice(), "b", "b/x", Enabled)
        .await
        .unwrap();
    put_v(&store, "b/y", b"y", Enabled).await;
    put_v(&store, "c", b"c", Unversioned).await;
    ids.reverse();

    // Pages of two, each starting after the last version listed.
    let mut start = VersionStart::Beginning;
    let mut seen = Vec::new();
    loop {
        let page = versions_from(&store, "", &start, 2).await;
        let Some(last) = page.last() else { break };
        start = VersionStart::AfterVersion {
            key: last.key.clone(),
            version_id: last.version_id.clone(),
        };
        seen.extend(shape(&page));
    }
    assert_eq!(seen, shape(&all_versions(&store).await));
    assert_eq!(seen.len(), 8);
    let a: Vec<&str> = seen
        .iter()
        .filter(|r| r.0 == "a")
        .map(|r| r.1.as_str())
        .collect();
    assert_eq!(a, ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(seen.iter().filter(|r| r.2).count(), 4, "one latest per key");

    let after_key = versions_from(&store, "", &VersionStart::AfterKey("a".into()), 10).await;
    assert_eq!(after_key[0].key, "b/x");
    let after_prefix = versions_from(&store, "", &VersionStart::AfterPrefix("b/".into()), 10).await;
    assert_eq!(shape(&after_prefix), [row("c", "null", true, false)]);
    let under = versions_from(&store, "b/", &VersionStart::Beginning, 10).await;
    assert_eq!(under.len(), 2);
    assert!(under[0].delete_marker && under[0].is_latest);
    let older = VersionStart::AfterVersion {
        key: "a".into(),
        version_id: ids[3].clone(),
    };
    let rest = versions_from(&store, "a", &older, 10).await;
    assert_eq!(shape(&rest), [row("a", &ids[4], false, false)]);
    // A listing resumes after a version deleted since it was listed (clients empty a bucket
    // page by page this way).
    store
        .delete_version(&alice(), "b", "a", &ids[1], None)
        .await
        .unwrap();
    let after_deleted = VersionStart::AfterVersion {
        key: "a".into(),
        version_id: ids[1].clone(),
    };
    let rest = versions_from(&store, "a", &after_deleted, 10).await;
    assert_eq!(
        shape(&rest),
        [
            row("a", &ids[2], false, false),
            row("a", &ids[3], false, false),
            row("a", &ids[4], false, false),
        ]
    );
    // Even when what was newer is all gone and an older version became the current one.
    for id in &ids[..3] {
        store
            .delete_version(&alice(), "b", "a", id, None)
            .await
            .unwrap();
    }
    let rest = versions_from(&store, "a", &after_deleted, 10).await;
    assert_eq!(
        shape(&rest),
        [
            row("a", &ids[3], true, false),
            row("a", &ids[4], false, false),
        ]
    );
}

#[actix_web::test]
async fn metadata_updates_change_one_version_in_place() {
    let scratch = Scratch::new("versions-meta");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;
    let one = put_v(&store, "k", b"one", Enabled).await;
    let two = put_v(&store, "k", b"two", Enabled).await;
    let mut tagged = meta("etag-3");
    tagged
        .headers
        .push(("x-libres3-tagging".into(), "a=b".into()));
    let info = store
        .update_meta(
            &alice(),
            "b",
            "k",
            Some(&one.version_id),
            tagged.clone(),
            &one.meta,
        )
        .await
        .unwrap();
    assert_eq!(info.version_id, one.version_id);
    assert_eq!(info.last_modified, one.last_modified);
    let reader = store
        .open_object(&alice(), "b", "k", Some(&one.version_id))
        .await
        .unwrap();
    assert_eq!(reader.info().meta, tagged);
    drop(reader);
    assert_eq!(all_versions(&store).await.len(), 2, "no new version");
    // Only while it still has the metadata it was read with.
    let stale = store
        .update_meta(
            &alice(),
            "b",
            "k",
            Some(&one.version_id),
            meta("x"),
            &one.meta,
        )
        .await;
    assert!(matches!(stale, Err(StoreError::SourceChanged)), "{stale:?}");
    // The latest by default.
    let latest = store
        .update_meta(&alice(), "b", "k", None, tagged.clone(), &two.meta)
        .await
        .unwrap();
    assert_eq!(latest.version_id, two.version_id);
    store
        .delete_object(&alice(), "b", "k", Enabled)
        .await
        .unwrap();
    let on_marker = store
        .update_meta(&alice(), "b", "k", None, tagged.clone(), &tagged)
        .await;
    assert!(matches!(on_marker, Err(StoreError::DeleteMarker { .. })));
    // A delete conditioned on metadata that changed meanwhile (a lock set, say) removes
    // nothing; on the metadata the version has, it goes.
    let stale = store
        .delete_version(&alice(), "b", "k", &one.version_id, Some(&one.meta))
        .await;
    assert!(matches!(stale, Err(StoreError::SourceChanged)), "{stale:?}");
    assert!(get_v(&store, "k", Some(&one.version_id)).await.is_ok());
    store
        .delete_version(&alice(), "b", "k", &one.version_id, Some(&tagged))
        .await
        .unwrap();
    assert!(matches!(
        get_v(&store, "k", Some(&one.version_id)).await,
        Err(StoreError::NoSuchVersion)
    ));
}

#[actix_web::test]
async fn copies_read_a_named_version() {
    let scratch = Scratch::new("versions-copy");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;
    let one = put_v(&store, "k", b"one", Enabled).await;
    put_v(&store, "k", b"two", Enabled).await;
    let source = CopySource {
        bucket: "b",
        key: "k",
        version_id: Some(&one.version_id),
        if_meta: None,
    };
    let copied = store
        .copy_object(
            &alice(),
            &source,
            "b",
            "k",
            meta("etag-3"),
            WriteCondition::None,
            Enabled,
        )
        .await
        .unwrap();
    assert_ne!(copied.version_id, one.version_id);
    assert_eq!(get_v(&store, "k", None).await.unwrap(), b"one");
    assert_eq!(all_versions(&store).await.len(), 3);
    let missing = CopySource {
        version_id: Some("0123456789abcdef0123456789abcdef"),
        ..source
    };
    let e = store
        .copy_object(
            &alice(),
            &missing,
            "b",
            "c",
            meta("e"),
            WriteCondition::None,
            Enabled,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NoSuchVersion), "{e:?}");
}

/// An index made before versions existed (no `versions` table, no `objects.version_id`)
/// opens with them, its objects the null versions of their keys.
#[actix_web::test]
async fn indexes_from_before_versions_open() {
    let scratch = Scratch::new("versions-migrate");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;
    put_v(&store, "k", b"old", Unversioned).await;
    drop(store);
    let conn = rusqlite::Connection::open(dirs[0].join(INDEX_FILE)).unwrap();
    conn.execute_batch(
        "DROP TABLE versions;
         CREATE TABLE old AS SELECT bucket, key, size, etag, meta_json, mtime_ms, inline_data,
         blocks, reported_size FROM objects; DROP TABLE objects;
         ALTER TABLE old RENAME TO objects;",
    )
    .unwrap();
    drop(conn);
    let store = LocalStore::open(&dirs).unwrap();
    let new = put_v(&store, "k", b"new", Enabled).await;
    assert_eq!(get_v(&store, "k", Some("null")).await.unwrap(), b"old");
    assert_eq!(
        shape(&all_versions(&store).await),
        [
            row("k", &new.version_id, true, false),
            row("k", "null", false, false),
        ]
    );
}
