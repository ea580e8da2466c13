//! SxStore against the fake SX cluster of the integration tests (shared source): the
//! helpers every test module here uses; the tests sit in one module per concept.

#[path = "../../../../tests/it/sx_fake/mod.rs"]
pub(crate) mod sx_fake;

mod access;
mod cluster;
mod kept_parts;
mod lease;
mod listing;
mod multipart;
mod objects;
mod real_cluster;
mod upload;
pub(crate) mod versions;

use bytes::Bytes;
use futures_util::{stream, StreamExt, TryStreamExt};

use self::sx_fake::{FakeSx, ADMIN_TOKEN};
use super::cluster::random_hex;
use super::*;
use crate::store::{
    BodyError, BodyStream, ByteRange, CopySource, ListStart, ObjectMeta, ObjectReader, ObjectStore,
    Principal, Staged, StoreError, WriteCondition,
};

fn pairs(list: &[(&str, String)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn config(fake: &FakeSx, extra: &[(&str, String)]) -> SxConfig {
    let mut list = vec![
        ("sx_host", fake.ips.join(",")),
        ("sx_port", fake.port.to_string()),
        ("secret_key", ADMIN_TOKEN.to_owned()),
        ("sx_use_ssl", "no".to_owned()),
    ];
    list.extend(extra.iter().cloned());
    SxConfig::from_pairs(&pairs(&list)).unwrap()
}

async fn connect(fake: &FakeSx) -> SxStore {
    SxStore::connect(config(fake, &[])).await.unwrap()
}

/// A one-node fake cluster where the user alice owns `volume`, and a store connected to it.
pub(crate) async fn alice_with_volume(volume: &str) -> (FakeSx, SxStore, Principal) {
    let fake = FakeSx::start(1);
    fake.add_user("alice");
    fake.add_volume(volume, "alice", 1, &[]);
    let store = connect(&fake).await;
    (fake, store, user("alice"))
}

fn user(name: &str) -> Principal {
    Principal::User(name.to_owned())
}

fn body(data: &[u8], chunk: usize) -> BodyStream {
    let chunks: Vec<Result<Bytes, BodyError>> = data
        .chunks(chunk.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    stream::iter(chunks).boxed_local()
}

fn random(len: usize) -> Vec<u8> {
    use ring::rand::SecureRandom;
    let mut v = vec![0u8; len];
    ring::rand::SystemRandom::new().fill(&mut v).unwrap();
    v
}

fn meta(etag: &str) -> ObjectMeta {
    ObjectMeta {
        etag: etag.to_owned(),
        headers: vec![("content-type".into(), "text/plain".into())],
        size: None,
    }
}

async fn put(store: &SxStore, who: &Principal, bucket: &str, key: &str, data: &[u8]) {
    let staged = store
        .stage(who, bucket, body(data, 70_001), Some(data.len() as u64))
        .await
        .unwrap();
    store
        .commit_object(
            who,
            bucket,
            key,
            staged,
            meta("e"),
            WriteCondition::None,
            crate::store::Versioning::Unversioned,
        )
        .await
        .unwrap();
}

async fn get(
    store: &SxStore,
    who: &Principal,
    bucket: &str,
    key: &str,
) -> Result<Vec<u8>, StoreError> {
    read(store.open_object(who, bucket, key, None).await?, None).await
}

async fn read(reader: SxReader, range: Option<ByteRange>) -> Result<Vec<u8>, StoreError> {
    let chunks: Vec<Bytes> = reader.stream(range).try_collect().await?;
    Ok(chunks.concat())
}

async fn list_all(
    store: &SxStore,
    who: &Principal,
    bucket: &str,
    prefix: &str,
    page: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = ListStart::Beginning;
    loop {
        let got = store
            .list_objects(who, bucket, prefix, &start, page, None)
            .await
            .unwrap();
        let done = got.len() < page;
        for o in &got {
            out.push(o.key.clone());
        }
        match got.last() {
            Some(last) if !done => start = ListStart::After(last.key.clone()),
            _ => return out,
        }
    }
}

/// Waits until `done` holds, polling every 10 ms for up to 10 s: a staged file is removed by
/// a task its drop spawns.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("still not the case after 10 s: {what}");
}

/// Keys the SX mapping must escape or keep in order, among plain ones.
const ODD_KEYS: &[&str] = &[
    "a",
    "a/",
    "a//b",
    "a/b",
    "a/./b",
    "a/../b",
    "a/b/",
    "/lead",
    "//",
    ".",
    "..",
    "a%2fb",
    ".libres3",
    ".libres3/esc/x",
    "z",
    "a/ ",
    "a/!",
    "b\u{1}c",
    "é/",
    "a/b/c",
];
