use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt};

use self::blocks::random_hex;
use self::index::INDEX_FILE;
use super::blocks::BLOCK_SIZE;
use super::staging::INLINE_MAX;
use super::*;
use crate::store::{BodyError, ByteRange, DataStream, ObjectReader};
use crate::store::{
    BodyStream, BucketInfo, CopySource, ListStart, ObjectInfo, ObjectMeta, ObjectStore, Principal,
    Staged, WriteCondition,
};
use ring::rand::SystemRandom;
use rusqlite::params;
use std::fs;
use std::os::unix::fs::PermissionsExt;

const BLOCK: usize = BLOCK_SIZE;

/// A scratch directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let suffix = random_hex(&SystemRandom::new(), 8).unwrap();
        let path = std::env::temp_dir().join(format!("libres3-test-{name}-{suffix}"));
        fs::create_dir_all(&path).unwrap();
        Scratch(path)
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn alice() -> Principal {
    Principal::User("alice".into())
}

fn bob() -> Principal {
    Principal::User("bob".into())
}

/// Deterministic bytes that differ per seed, so blocks do not dedup by accident.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u8
        })
        .collect()
}

fn body(data: &[u8]) -> BodyStream {
    // Odd chunk sizes, so block boundaries fall inside chunks.
    let chunks: Vec<Result<Bytes, BodyError>> = data
        .chunks(100_003)
        .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
        .collect();
    stream::iter(chunks).boxed_local()
}

fn meta(etag: &str) -> ObjectMeta {
    ObjectMeta {
        etag: etag.into(),
        headers: vec![("content-type".into(), "text/plain".into())],
    }
}

async fn store_with_bucket(dirs: &[PathBuf]) -> LocalStore {
    let store = LocalStore::open(dirs).unwrap();
    store.create_bucket(&alice(), "b").await.unwrap();
    store
}

async fn put(store: &LocalStore, key: &str, data: &[u8]) -> ObjectInfo {
    put_if(store, key, data, WriteCondition::None)
        .await
        .unwrap()
}

async fn put_if(
    store: &LocalStore,
    key: &str,
    data: &[u8],
    condition: WriteCondition,
) -> Result<ObjectInfo, StoreError> {
    let staged = store
        .stage(&alice(), "b", body(data), Some(data.len() as u64))
        .await?;
    let etag = format!("etag-{}", data.len());
    store
        .commit_object(&alice(), "b", key, staged, meta(&etag), condition)
        .await
}

async fn read_all(stream: DataStream) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    let mut stream = stream;
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

async fn get(store: &LocalStore, key: &str, range: Option<(u64, u64)>) -> Vec<u8> {
    let reader = store.open_object(&alice(), "b", key).await.unwrap();
    let range = range.map(|(first, last)| ByteRange { first, last });
    read_all(reader.stream(range)).await.unwrap()
}

/// Every block file under the storage directories.
fn block_files(dirs: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(path: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(path) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    for dir in dirs {
        walk(&dir.join("blocks"), &mut files);
    }
    files.sort();
    files
}

#[test]
fn store_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<LocalStore>();
}

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

    let reader = store.open_object(&alice(), "b", "small").await.unwrap();
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
    store.delete_object(&alice(), "b", "k").await.unwrap();
    store.delete_object(&alice(), "b", "k").await.unwrap();
    assert!(matches!(
        store.open_object(&alice(), "b", "k").await,
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

    store.delete_object(&alice(), "b", "one").await.unwrap();
    store.collect_garbage().await.unwrap();
    assert_eq!(block_files(&dirs).len(), 4);
    assert_eq!(get(&store, "two", None).await, data);
    assert_eq!(get(&store, "zeros", None).await, zeros);

    store.delete_object(&alice(), "b", "two").await.unwrap();
    store.delete_object(&alice(), "b", "zeros").await.unwrap();
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
async fn pinned_blocks_survive_gc() {
    let scratch = Scratch::new("pins");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;

    let data = pattern(2 * BLOCK, 13);
    put(&store, "k", &data).await;
    store.delete_object(&alice(), "b", "k").await.unwrap();
    // The same content is staged while its blocks wait, unreferenced, for collection.
    let staged = store.stage(&alice(), "b", body(&data), None).await.unwrap();
    let stats = store.collect_garbage().await.unwrap();
    assert_eq!(stats.deleted_blocks, 0);
    assert_eq!(stats.deferred, 2);
    assert_eq!(block_files(&dirs).len(), 2);

    store
        .commit_object(&alice(), "b", "k2", staged, meta("e"), WriteCondition::None)
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
    let reader = store.open_object(&alice(), "b", "k").await.unwrap();

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
async fn missing_block_file_is_an_error_not_wrong_bytes() {
    let scratch = Scratch::new("missing");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;

    let data = pattern(2 * BLOCK + 10, 12);
    put(&store, "k", &data).await;
    let second = super::blocks::to_hex(&super::blocks::sha256(&data[BLOCK..2 * BLOCK]));
    let victim = block_files(&dirs)
        .into_iter()
        .find(|file| file.ends_with(&second))
        .unwrap();

    // Truncated.
    fs::write(&victim, b"short").unwrap();
    let reader = store.open_object(&alice(), "b", "k").await.unwrap();
    let mut stream = reader.stream(None);
    assert_eq!(stream.next().await.unwrap().unwrap(), &data[..BLOCK]);
    match stream.next().await {
        Some(Err(StoreError::Internal(message))) => assert!(message.contains(&second)),
        other => panic!(
            "expected an error, got {:?}",
            other.map(|r| r.map(|b| b.len()))
        ),
    }
    assert!(stream.next().await.is_none());

    // Gone.
    fs::remove_file(&victim).unwrap();
    let reader = store.open_object(&alice(), "b", "k").await.unwrap();
    let range = Some(ByteRange {
        first: BLOCK as u64 + 1,
        last: BLOCK as u64 + 2,
    });
    let result = read_all(reader.stream(range)).await;
    assert!(matches!(result, Err(StoreError::Internal(m)) if m.contains(&second)));
}

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
            .commit_part(&who, "b", "mp", &id, number, staged, etag)
            .await
            .unwrap();
        assert_eq!(info.size, data.len() as u64);
    }
    // Replacing part 1 releases its first version.
    let first_part1 = pattern(BLOCK + 7, 23);
    let staged = store.stage(&who, "b", body(&first_part1), None).await;
    store
        .commit_part(&who, "b", "mp", &id, 1, staged.unwrap(), "old".into())
        .await
        .unwrap();
    let staged = store.stage(&who, "b", body(&part1), None).await.unwrap();
    store
        .commit_part(&who, "b", "mp", &id, 1, staged, "p1".into())
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
        .commit_part(&who, "b", "mp2", &id, 1, staged.unwrap(), "x".into())
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
    store.delete_object(&who, "b", "obj").await.unwrap();
    store.delete_bucket(&who, "b").await.unwrap();
    store.create_bucket(&who, "b").await.unwrap();
    assert!(listed("", None).await.is_empty());
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
                .list_objects(&alice(), "b", prefix, &start, limit)
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
        .list_objects(&alice(), "b", "z", &ListStart::Beginning, 1)
        .await
        .unwrap();
    assert_eq!(summary[0].size, 1);
    assert_eq!(summary[0].etag, "etag-1");
}

#[actix_web::test]
async fn recovery_sweeps_orphans_and_tmp() {
    let scratch = Scratch::new("recovery");
    let dirs = [scratch.dir("d0"), scratch.dir("d1")];
    let data = pattern(2 * BLOCK + 1, 30);
    {
        let store = store_with_bucket(&dirs).await;
        put(&store, "k", &data).await;
        // A second open of the same directories is refused while this one runs.
        assert!(matches!(
            LocalStore::open(&dirs),
            Err(LocalError::Locked { .. })
        ));
    }
    let kept = block_files(&dirs);
    assert_eq!(kept.len(), 3);

    let orphan_hash = super::blocks::sha256(b"nobody");
    let orphan = StorageDir::new(0, dirs[1].clone()).block_path(&orphan_hash);
    fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    fs::write(&orphan, b"nobody").unwrap();
    let tmp_file = dirs[0].join("tmp").join("half-written");
    fs::write(&tmp_file, b"partial").unwrap();

    let store = LocalStore::open(&dirs).unwrap();
    assert!(!orphan.exists());
    assert!(!tmp_file.exists());
    assert_eq!(block_files(&dirs), kept);
    assert_eq!(get(&store, "k", None).await, data);
}

#[actix_web::test]
async fn storage_directories_keep_their_identity() {
    let scratch = Scratch::new("dirs");
    let dirs = [scratch.dir("d0"), scratch.dir("d1"), scratch.dir("d2")];
    let data = pattern(6 * BLOCK, 31);
    {
        let store = store_with_bucket(&dirs).await;
        put(&store, "k", &data).await;
    }
    {
        let swapped = [dirs[0].clone(), dirs[2].clone(), dirs[1].clone()];
        let store = LocalStore::open(&swapped).unwrap();
        assert_eq!(get(&store, "k", None).await, data);
    }
    // Leaving out a directory that holds blocks is refused, naming it. Equal free space puts
    // every block in d0, so move them to d2 as a fuller d0 would have.
    let index = Connection::open(dirs[0].join(INDEX_FILE)).unwrap();
    let d2_id: i64 = index
        .query_row(
            "SELECT dir_id FROM dirs WHERE last_path = ?1",
            params![dirs[2].to_string_lossy()],
            |row| row.get(0),
        )
        .unwrap();
    index
        .execute("UPDATE blocks SET dir_id = ?1", params![d2_id])
        .unwrap();
    drop(index);
    for file in block_files(&dirs[..1]) {
        let relative = file.strip_prefix(&dirs[0]).unwrap();
        let target = dirs[2].join(relative);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::rename(&file, &target).unwrap();
    }
    {
        let store = LocalStore::open(&dirs).unwrap();
        assert_eq!(get(&store, "k", None).await, data);
    }
    let without_d2 = [dirs[0].clone(), dirs[1].clone()];
    match LocalStore::open(&without_d2) {
        Err(e @ LocalError::MissingDir { .. }) => {
            assert!(e.to_string().contains(&dirs[2].display().to_string()))
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("opened without a directory holding blocks"),
    }
    // The index directory must come first; a directory of another store is refused.
    let moved = [dirs[1].clone(), dirs[0].clone(), dirs[2].clone()];
    assert!(matches!(
        LocalStore::open(&moved),
        Err(LocalError::IndexNotFirst { .. })
    ));
    let other = [scratch.dir("other"), dirs[1].clone()];
    assert!(matches!(
        LocalStore::open(&other),
        Err(LocalError::ForeignDir { .. })
    ));
    assert!(matches!(
        LocalStore::open(&[]),
        Err(LocalError::NoDirectory)
    ));
}

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
            store.open_object(&who, "b", "k").await,
            Err(StoreError::AccessDenied)
        ));
        assert!(matches!(
            store.bucket_info(&who, "b").await,
            Err(StoreError::AccessDenied)
        ));
        let listed = store
            .list_objects(&who, "b", "", &ListStart::Beginning, 10)
            .await;
        assert!(matches!(listed, Err(StoreError::AccessDenied)));
        assert!(matches!(
            store.stage(&who, "b", body(b"x"), None).await,
            Err(StoreError::AccessDenied)
        ));
        assert!(matches!(
            store.delete_object(&who, "b", "k").await,
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
        .commit_object(&bob(), "b", "k", staged, meta("x"), WriteCondition::None)
        .await;
    assert!(matches!(result, Err(StoreError::AccessDenied)));
    assert!(matches!(
        store.open_object(&alice(), "nope", "k").await,
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
                    .commit_object(who, "b", &key, data, meta("e"), WriteCondition::None)
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
        .list_objects(&alice(), "b", "", &ListStart::Beginning, 100)
        .await
        .unwrap();
    assert_eq!(listed.len(), 50);
    for i in [0u64, 17, 49] {
        let key = format!("k{i:02}");
        assert_eq!(get(&store, &key, None).await, pattern(4096, 100 + i));
    }
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
        bucket: "b",
        key: "big",
        if_etag: Some(&info.meta.etag),
    };
    let copied = store
        .copy_object(
            &alice(),
            &source,
            "b2",
            "copy",
            meta("new"),
            WriteCondition::None,
        )
        .await
        .unwrap();
    assert_eq!(copied.size, big.len() as u64);
    assert_eq!(block_files(&dirs), files, "no block written");
    let reader = store.open_object(&alice(), "b2", "copy").await.unwrap();
    assert_eq!(reader.info().meta, meta("new"));
    assert_eq!(read_all(reader.stream(None)).await.unwrap(), big);

    // Deleting the source keeps the copy's blocks.
    store.delete_object(&alice(), "b", "big").await.unwrap();
    store.collect_garbage().await.unwrap();
    assert_eq!(block_files(&dirs), files);
    let reader = store.open_object(&alice(), "b2", "copy").await.unwrap();
    assert_eq!(read_all(reader.stream(None)).await.unwrap(), big);

    // Inline rows are copied; copying onto itself replaces the metadata.
    let small = CopySource {
        bucket: "b",
        key: "small",
        if_etag: None,
    };
    store
        .copy_object(
            &alice(),
            &small,
            "b",
            "small",
            meta("m2"),
            WriteCondition::None,
        )
        .await
        .unwrap();
    let reader = store.open_object(&alice(), "b", "small").await.unwrap();
    assert_eq!(reader.info().meta.etag, "m2");
    assert_eq!(read_all(reader.stream(None)).await.unwrap(), b"inline");

    // Stale source ETag, missing source, foreign bucket, destination condition.
    let stale = CopySource {
        if_etag: Some("other"),
        ..small.clone()
    };
    assert!(matches!(
        store
            .copy_object(&alice(), &stale, "b", "x", meta(""), WriteCondition::None)
            .await,
        Err(StoreError::SourceChanged)
    ));
    let missing = CopySource {
        key: "nope",
        ..small.clone()
    };
    assert!(matches!(
        store
            .copy_object(&alice(), &missing, "b", "x", meta(""), WriteCondition::None)
            .await,
        Err(StoreError::NoSuchKey)
    ));
    assert!(matches!(
        store
            .copy_object(&bob(), &small, "b", "x", meta(""), WriteCondition::None)
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
                WriteCondition::IfAbsent
            )
            .await,
        Err(StoreError::PreconditionFailed)
    ));

    // Overwriting the copy with itself-shared data then deleting everything frees all.
    store.delete_object(&alice(), "b2", "copy").await.unwrap();
    store.collect_garbage().await.unwrap();
    assert!(block_files(&dirs).is_empty());
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
        .commit_part(&alice(), "b", "mp", &id, 1, staged, "p1".into())
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

mod encrypted;
