//! Unit tests of the embedded store, by concept; the shared fixtures are here.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt};
use ring::rand::SystemRandom;
use rusqlite::params;

use super::blocks::{random_hex, BLOCK_SIZE};
use super::index::INDEX_FILE;
use super::staging::INLINE_MAX;
use super::*;
use crate::store::{
    BodyError, BodyStream, BucketInfo, ByteRange, CopySource, DataStream, ListStart, ObjectInfo,
    ObjectMeta, ObjectReader, ObjectStore, Principal, Staged, WriteCondition,
};

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
        size: None,
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
    put_versioned(
        store,
        key,
        data,
        condition,
        crate::store::Versioning::Unversioned,
    )
    .await
}

async fn put_versioned(
    store: &LocalStore,
    key: &str,
    data: &[u8],
    condition: WriteCondition,
    versioning: crate::store::Versioning,
) -> Result<ObjectInfo, StoreError> {
    let staged = store
        .stage(&alice(), "b", body(data), Some(data.len() as u64))
        .await?;
    let etag = format!("etag-{}", data.len());
    store
        .commit_object(
            &alice(),
            "b",
            key,
            staged,
            meta(&etag),
            condition,
            versioning,
        )
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

/// Reads a stream up to its first error: the bytes before it and the error, None when the
/// stream ended without one. Nothing may follow an error.
async fn read_to_error(stream: DataStream) -> (Vec<u8>, Option<StoreError>) {
    let mut out = Vec::new();
    let mut stream = stream;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => out.extend_from_slice(&chunk),
            Err(e) => {
                assert!(
                    stream.next().await.is_none(),
                    "the stream went on after {e}"
                );
                return (out, Some(e));
            }
        }
    }
    (out, None)
}

async fn get(store: &LocalStore, key: &str, range: Option<(u64, u64)>) -> Vec<u8> {
    let reader = store.open_object(&alice(), "b", key, None).await.unwrap();
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

mod access;
mod encrypted;
mod multipart;
mod objects;
mod open;
mod sharing;
mod small_objects;
mod versions;
