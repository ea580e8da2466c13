//! SxStore against the fake SX cluster of the integration tests (shared source).

#[path = "../../../tests/it/sx_fake/mod.rs"]
mod sx_fake;

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
async fn alice_with_volume(volume: &str) -> (FakeSx, SxStore, Principal) {
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
    }
}

async fn put(store: &SxStore, who: &Principal, bucket: &str, key: &str, data: &[u8]) {
    let staged = store
        .stage(who, bucket, body(data, 70_001), Some(data.len() as u64))
        .await
        .unwrap();
    store
        .commit_object(who, bucket, key, staged, meta("e"), WriteCondition::None)
        .await
        .unwrap();
}

async fn get(
    store: &SxStore,
    who: &Principal,
    bucket: &str,
    key: &str,
) -> Result<Vec<u8>, StoreError> {
    read(store.open_object(who, bucket, key).await?, None).await
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
            .list_objects(who, bucket, prefix, &start, page)
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

#[test]
fn the_store_can_be_shared_by_server_workers() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<SxStore>();
}

#[actix_web::test]
async fn connect_names_the_host_when_it_fails() {
    let fake = FakeSx::start(1);
    let mut cfg = config(&fake, &[]);
    cfg.port = 1;
    let e = SxStore::connect(cfg).await.err().unwrap();
    assert!(e.contains("127.0.0.1"), "{e}");
    assert!(!e.contains('\n'), "{e}");
    let cfg = SxConfig::from_pairs(&pairs(&[
        ("sx_host", fake.ips.join(",")),
        ("sx_port", fake.port.to_string()),
        (
            "secret_key",
            "0DPiKuNIrrVmD8IUCuw1hQxNqZcoceX1r/QsuVb6pkTJ+F2+D1ckAAAA".into(),
        ),
        ("sx_use_ssl", "no".into()),
    ]))
    .unwrap();
    let e = SxStore::connect(cfg).await.err().unwrap();
    assert!(e.contains("secret_key"), "{e}");
}

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
        let reader = store.open_object(&alice, "photos", &key).await.unwrap();
        assert_eq!(reader.info().size, size as u64);
        assert_eq!(reader.info().meta, meta("e"));
        assert_eq!(read(reader, None).await.unwrap(), data, "size {size}");
        if size > 10 {
            let r = ByteRange {
                first: 3,
                last: size as u64 - 2,
            };
            let reader = store.open_object(&alice, "photos", &key).await.unwrap();
            assert_eq!(read(reader, Some(r)).await.unwrap(), &data[3..size - 1]);
        }
    }
    let listed = store
        .list_objects(&alice, "photos", "dir/", &ListStart::Beginning, 1000)
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
        store.delete_object(&alice, "photos", &o.key).await.unwrap();
    }
    store
        .delete_object(&alice, "photos", "never-was")
        .await
        .unwrap();
    assert!(matches!(
        store.open_object(&alice, "photos", "dir/file-1").await,
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
                WriteCondition::IfAbsent
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

/// Bodies over 8 MiB are staged as hidden files: removed once committed, or when dropped
/// uncommitted; a body of unknown length is spooled first when it is that large.
#[actix_web::test]
async fn large_staged_bodies_are_hidden_files_removed_after_use() {
    let (fake, store, alice) = alice_with_volume("vol").await;
    let data = random((8 << 20) + 1);
    let staged = store
        .stage(&alice, "vol", body(&data, 65_536), Some(data.len() as u64))
        .await
        .unwrap();
    let hidden = fake.files("vol");
    assert!(
        hidden.len() == 1 && hidden[0].starts_with(".libres3/tmp/"),
        "{hidden:?}"
    );
    drop(staged);
    eventually("dropped staged file removed", || {
        fake.files("vol").is_empty()
    })
    .await;
    let staged = store
        .stage(&alice, "vol", body(&data, 65_536), None)
        .await
        .unwrap();
    assert_eq!(staged.size(), data.len() as u64);
    store
        .commit_object(
            &alice,
            "vol",
            "big",
            staged,
            meta("b"),
            WriteCondition::None,
        )
        .await
        .unwrap();
    assert_eq!(get(&store, &alice, "vol", "big").await.unwrap(), data);
    eventually("committed staged file removed", || {
        fake.files("vol") == ["big"]
    })
    .await;
}

#[actix_web::test]
async fn same_data_twice_sends_blocks_once() {
    let (fake, store, alice) = alice_with_volume("dedup").await;
    let data = random(64 << 20);
    put(&store, &alice, "dedup", "first", &data).await;
    let sent = fake.block_bytes_in();
    assert_eq!(sent, 64 << 20);
    put(&store, &alice, "dedup", "second", &data).await;
    assert_eq!(
        fake.block_bytes_in(),
        sent,
        "the second upload sent block data"
    );
    assert_eq!(get(&store, &alice, "dedup", "second").await.unwrap(), data);
}

#[actix_web::test]
async fn a_stopped_node_is_skipped() {
    let mut fake = FakeSx::start(3);
    fake.add_user("alice");
    fake.add_volume("ha", "alice", 2, &[]);
    let store = connect(&fake).await;
    let alice = user("alice");
    let data = random(300_000);
    put(&store, &alice, "ha", "before", &data).await;
    let first = fake.volume_nodes("ha")[0];
    fake.stop_node(first).await;
    assert_eq!(get(&store, &alice, "ha", "before").await.unwrap(), data);
    put(&store, &alice, "ha", "after", &data[..1000]).await;
    assert_eq!(
        list_all(&store, &alice, "ha", "", 10).await,
        ["after", "before"]
    );
    // With every node down the backend is unavailable, not hanging.
    for i in 0..3 {
        fake.stop_node(i).await;
    }
    store.cluster().inner.volumes.invalidate_all();
    store.cluster().inner.users.invalidate_all();
    assert!(matches!(
        store
            .list_objects(&alice, "ha", "", &ListStart::Beginning, 10)
            .await,
        Err(StoreError::Unavailable(_))
    ));
}

#[actix_web::test]
async fn clock_skew_is_corrected() {
    let fake = FakeSx::start(1);
    fake.add_user("alice");
    fake.add_volume("vol", "alice", 1, &[]);
    let store = connect(&fake).await;
    fake.set_clock_offset(3600);
    let alice = user("alice");
    put(&store, &alice, "vol", "k", b"data").await;
    assert_eq!(get(&store, &alice, "vol", "k").await.unwrap(), b"data");
}

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

#[actix_web::test]
async fn odd_keys_round_trip_and_list_in_order() {
    let (_fake, store, alice) = alice_with_volume("odd").await;
    for key in ODD_KEYS {
        put(&store, &alice, "odd", key, key.as_bytes()).await;
    }
    for key in ODD_KEYS {
        assert_eq!(
            get(&store, &alice, "odd", key).await.unwrap(),
            key.as_bytes(),
            "{key:?}"
        );
    }
    let mut sorted: Vec<String> = ODD_KEYS.iter().map(|k| k.to_string()).collect();
    sorted.sort();
    for page in [1, 2, 3, 1000] {
        assert_eq!(
            list_all(&store, &alice, "odd", "", page).await,
            sorted,
            "page {page}"
        );
    }
    for prefix in ["a/", "a", ".", ".libres3", "/", "a/b", "é"] {
        let want: Vec<String> = sorted
            .iter()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        assert_eq!(
            list_all(&store, &alice, "odd", prefix, 2).await,
            want,
            "prefix {prefix:?}"
        );
    }
    // Skipping a common prefix (delimiter listings) is exact too.
    let got = store
        .list_objects(
            &alice,
            "odd",
            "",
            &ListStart::AfterPrefix("a/".into()),
            1000,
        )
        .await
        .unwrap();
    let want: Vec<&String> = sorted
        .iter()
        .filter(|k| k.as_str() > "a/" && !k.starts_with("a/"))
        .collect();
    assert_eq!(got.iter().map(|o| &o.key).collect::<Vec<_>>(), want);
    for key in ODD_KEYS {
        store.delete_object(&alice, "odd", key).await.unwrap();
    }
    assert!(list_all(&store, &alice, "odd", "", 10).await.is_empty());
}

#[actix_web::test]
async fn multipart_across_two_gateways() {
    let fake = FakeSx::start(2);
    fake.add_user("alice");
    fake.add_volume("mp", "alice", 1, &[]);
    let one = connect(&fake).await;
    let two = connect(&fake).await;
    let alice = user("alice");
    let part1 = random(5 << 20);
    let part2 = random(5 << 20);
    let part3 = random(100_000);
    let id = one
        .create_multipart(&alice, "mp", "big/object", meta(""))
        .await
        .unwrap();
    for (store, n, data) in [(&two, 1u32, &part1), (&one, 2, &part2), (&two, 3, &part3)] {
        let staged = store
            .stage(&alice, "mp", body(data, 65_536), Some(data.len() as u64))
            .await
            .unwrap();
        let info = store
            .commit_part(
                &alice,
                "mp",
                "big/object",
                &id,
                n,
                staged,
                format!("etag{n}"),
            )
            .await
            .unwrap();
        assert_eq!(info.size, data.len() as u64);
    }
    let (upload, parts) = two
        .list_parts(&alice, "mp", "big/object", &id)
        .await
        .unwrap();
    assert_eq!(upload.key, "big/object");
    assert_eq!(
        parts.iter().map(|p| p.number).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let uploads = one
        .list_multipart_uploads(&alice, "mp", "", None, 100)
        .await
        .unwrap();
    assert_eq!(uploads.len(), 1);
    assert!(matches!(
        one.complete_multipart(
            &alice,
            "mp",
            "big/object",
            &id,
            &[(1, "etag1".into()), (2, "wrong".into())],
            meta("m-2"),
            WriteCondition::None,
        )
        .await,
        Err(StoreError::InvalidPart(2))
    ));
    let before = fake.block_bytes_in();
    let parts: Vec<(u32, String)> = (1..=3).map(|n| (n, format!("etag{n}"))).collect();
    let info = one
        .complete_multipart(
            &alice,
            "mp",
            "big/object",
            &id,
            &parts,
            meta("m-3"),
            WriteCondition::None,
        )
        .await
        .unwrap();
    assert_eq!(info.size, (10 << 20) + 100_000);
    // Parts 1 and 2 line up with the final blocks: only the last, small part (stored with
    // 4 KiB blocks) is copied.
    assert!(
        fake.block_bytes_in() - before <= 200_000,
        "{}",
        fake.block_bytes_in() - before
    );
    let whole = [part1, part2, part3].concat();
    assert_eq!(get(&two, &alice, "mp", "big/object").await.unwrap(), whole);
    assert_eq!(
        two.open_object(&alice, "mp", "big/object")
            .await
            .unwrap()
            .info()
            .meta
            .etag,
        "m-3"
    );
    assert!(one
        .list_multipart_uploads(&alice, "mp", "", None, 100)
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        two.list_parts(&alice, "mp", "big/object", &id).await,
        Err(StoreError::NoSuchUpload)
    ));
    // Abort removes everything.
    let id = two
        .create_multipart(&alice, "mp", "x", meta(""))
        .await
        .unwrap();
    let staged = two
        .stage(&alice, "mp", body(b"abc", 1), Some(3))
        .await
        .unwrap();
    two.commit_part(&alice, "mp", "x", &id, 1, staged, "e1".into())
        .await
        .unwrap();
    one.abort_multipart(&alice, "mp", "x", &id).await.unwrap();
    eventually("only the object left", || {
        fake.files("mp") == ["big/object"]
    })
    .await;
}

#[actix_web::test]
async fn users_are_isolated() {
    let fake = FakeSx::start(1);
    fake.add_user("alice");
    fake.add_user("bob");
    let store = connect(&fake).await;
    let (alice, bob) = (user("alice"), user("bob"));
    store.create_bucket(&alice, "private").await.unwrap();
    put(&store, &alice, "private", "secret", b"alice's").await;
    assert!(matches!(
        get(&store, &bob, "private", "secret").await,
        Err(StoreError::AccessDenied)
    ));
    assert!(matches!(
        store
            .list_objects(&bob, "private", "", &ListStart::Beginning, 10)
            .await,
        Err(StoreError::AccessDenied)
    ));
    assert!(matches!(
        store.stage(&bob, "private", body(b"x", 1), Some(1)).await,
        Err(StoreError::AccessDenied)
    ));
    assert!(matches!(
        store.delete_bucket(&bob, "private").await,
        Err(StoreError::AccessDenied)
    ));
    assert!(store.list_buckets(&bob).await.unwrap().is_empty());
    // The admin (keyid) sees everything.
    let admin = user("admin");
    assert_eq!(
        get(&store, &admin, "private", "secret").await.unwrap(),
        b"alice's"
    );
    assert!(matches!(
        store.list_buckets(&Principal::Anonymous).await,
        Err(StoreError::AccessDenied)
    ));
}

#[actix_web::test]
async fn filtered_volumes_are_listed_but_refused() {
    let fake = FakeSx::start(1);
    fake.add_user("alice");
    // `sxvol create -f zcomp` stores the filter's UUID as 16 raw bytes.
    let zcomp = auth::unhex("d5dbdf0afb174d1ba9ce4060317af5b5").unwrap();
    fake.add_volume("packed", "alice", 1, &[("filterActive", &zcomp)]);
    let store = connect(&fake).await;
    let alice = user("alice");
    let names: Vec<String> = store
        .list_buckets(&alice)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, ["packed"]);
    for result in [
        get(&store, &alice, "packed", "x").await.map(|_| ()),
        store
            .list_objects(&alice, "packed", "", &ListStart::Beginning, 10)
            .await
            .map(|_| ()),
        store
            .stage(&alice, "packed", body(b"x", 1), Some(1))
            .await
            .map(|_| ()),
    ] {
        match result {
            Err(StoreError::Unsupported(why)) => {
                assert!(why.contains("zcomp (compression)"), "{why}")
            }
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }
}

/// Opt-in: the same workflows against a real SX cluster, when `LIBRES3_TEST_SX_URL`
/// (`http[s]://node[:port]`) and `LIBRES3_TEST_SX_ADMIN_KEY` are set (`LIBRES3_TEST_SX_CA_FILE`
/// for a self-signed cluster certificate).
#[actix_web::test]
async fn real_cluster() {
    let (Ok(url), Ok(key)) = (
        std::env::var("LIBRES3_TEST_SX_URL"),
        std::env::var("LIBRES3_TEST_SX_ADMIN_KEY"),
    ) else {
        eprintln!(
            "real_cluster: skipped (set LIBRES3_TEST_SX_URL and LIBRES3_TEST_SX_ADMIN_KEY to run it)"
        );
        return;
    };
    let (ssl, rest) = match url.split_once("://") {
        Some(("https", rest)) => ("yes", rest),
        Some((_, rest)) => ("no", rest),
        None => ("no", url.as_str()),
    };
    let rest = rest.trim_end_matches('/');
    let mut list = vec![
        ("secret_key", key),
        ("sx_use_ssl", ssl.to_owned()),
        ("volume_size", "100M".to_owned()),
    ];
    match rest.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => {
            list.push(("sx_host", host.to_owned()));
            list.push(("sx_port", port.to_owned()));
        }
        _ => list.push(("sx_host", rest.to_owned())),
    }
    if let Ok(ca) = std::env::var("LIBRES3_TEST_SX_CA_FILE") {
        list.push(("sx_ca_file", ca));
    }
    let store = SxStore::connect(SxConfig::from_pairs(&pairs(&list)).unwrap())
        .await
        .unwrap();
    let admin = user("admin");
    let bucket = format!("libres3-test-{}", random_hex(4).unwrap());
    store.create_bucket(&admin, &bucket).await.unwrap();
    let data = random(300_000);
    for key in ODD_KEYS {
        put(&store, &admin, &bucket, key, &data[..key.len() * 1000]).await;
    }
    let mut sorted: Vec<String> = ODD_KEYS.iter().map(|k| k.to_string()).collect();
    sorted.sort();
    assert_eq!(list_all(&store, &admin, &bucket, "", 3).await, sorted);
    for key in ODD_KEYS {
        assert_eq!(
            get(&store, &admin, &bucket, key).await.unwrap(),
            &data[..key.len() * 1000]
        );
    }
    let id = store
        .create_multipart(&admin, &bucket, "mp", meta(""))
        .await
        .unwrap();
    let parts = [random(5 << 20), random(1000)];
    for (i, part) in parts.iter().enumerate() {
        let staged = store
            .stage(&admin, &bucket, body(part, 65536), Some(part.len() as u64))
            .await
            .unwrap();
        store
            .commit_part(
                &admin,
                &bucket,
                "mp",
                &id,
                i as u32 + 1,
                staged,
                format!("p{i}"),
            )
            .await
            .unwrap();
    }
    let chosen = vec![(1, "p0".to_owned()), (2, "p1".to_owned())];
    store
        .complete_multipart(
            &admin,
            &bucket,
            "mp",
            &id,
            &chosen,
            meta("m"),
            WriteCondition::None,
        )
        .await
        .unwrap();
    assert_eq!(
        get(&store, &admin, &bucket, "mp").await.unwrap(),
        parts.concat()
    );
    for key in ODD_KEYS.iter().chain(&["mp"]) {
        store.delete_object(&admin, &bucket, key).await.unwrap();
    }
    // Staged bodies over 8 MiB are removed in the background; none was staged here, and the
    // gateway's own files do not keep the bucket.
    store.delete_bucket(&admin, &bucket).await.unwrap();
}

/// Delimiter listings the way the S3 layer pages them (a common prefix is skipped with
/// `AfterPrefix`, small batches), escaped keys included: every entry once, in order.
#[actix_web::test]
async fn delimiter_listings_over_escaped_keys_are_exact() {
    const KEYS: &[&str] = &[
        "a", "a/", "a//b", "a/./c", "a/b", "a/c/d", "a0", "ab", "b--x", "b/x/y", "b/z", "c", "c/",
        "/x", "..", "é/1", "é/2",
    ];
    fn common_prefix<'k>(key: &'k str, prefix: &str, delimiter: &str) -> Option<&'k str> {
        if delimiter.is_empty() {
            return None;
        }
        let at = key.get(prefix.len()..)?.find(delimiter)?;
        key.get(..prefix.len() + at + delimiter.len())
    }
    let (_fake, store, who) = alice_with_volume("bkt").await;
    for key in KEYS {
        put(&store, &who, "bkt", key, b"x").await;
    }
    let mut sorted: Vec<&str> = KEYS.to_vec();
    sorted.sort();
    for prefix in ["", "a", "a/", "/", "."] {
        for delimiter in ["", "/", "--", "."] {
            let mut expected: Vec<String> = Vec::new();
            for key in sorted.iter().filter(|k| k.starts_with(prefix)) {
                let entry = common_prefix(key, prefix, delimiter)
                    .unwrap_or(key)
                    .to_string();
                if expected.last() != Some(&entry) {
                    expected.push(entry);
                }
            }
            for batch in [1, 2, 1000] {
                let mut seen = Vec::new();
                let mut start = ListStart::Beginning;
                'pages: loop {
                    let got = store
                        .list_objects(&who, "bkt", prefix, &start, batch)
                        .await
                        .unwrap();
                    if got.is_empty() {
                        break;
                    }
                    for o in got {
                        match common_prefix(&o.key, prefix, delimiter) {
                            Some(cp) => {
                                seen.push(cp.to_owned());
                                start = ListStart::AfterPrefix(cp.to_owned());
                                continue 'pages;
                            }
                            None => {
                                seen.push(o.key.clone());
                                start = ListStart::After(o.key);
                            }
                        }
                    }
                }
                assert_eq!(
                    seen, expected,
                    "prefix {prefix:?} delimiter {delimiter:?} batch {batch}"
                );
            }
        }
    }
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
                bucket: "src",
                key: "orig",
                if_etag: None,
            },
            "dst",
            "a//copy",
            meta("c"),
            WriteCondition::None,
        )
        .await
        .unwrap();
    assert_eq!(fake.block_bytes_in(), before);
    assert_eq!(get(&store, &alice, "dst", "a//copy").await.unwrap(), data);
    let reader = store.open_object(&alice, "dst", "a//copy").await.unwrap();
    assert_eq!(reader.info().meta, meta("c"));
    assert!(matches!(
        store
            .copy_object(
                &alice,
                &CopySource {
                    bucket: "src",
                    key: "missing",
                    if_etag: None,
                },
                "dst",
                "x",
                meta("c"),
                WriteCondition::None
            )
            .await,
        Err(StoreError::NoSuchKey)
    ));
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
        )
        .await
        .unwrap();
    let (data, file_meta) = fake.file("vol", "k2").unwrap();
    assert_eq!(data, b"fourth");
    assert!(file_meta.contains_key("libres3-wid"), "{file_meta:?}");
}

/// Objects over 128 MiB have 1 MiB SX blocks: a part over 128 MiB (stored with 1 MiB
/// blocks) is reused as it is; a smaller part, stored with 16 KiB blocks, is copied.
#[actix_web::test]
async fn multipart_over_128_mib_reuses_parts_with_its_block_size() {
    const MIB: usize = 1 << 20;
    let (fake, store, alice) = alice_with_volume("big").await;
    let id = store
        .create_multipart(&alice, "big", "huge", meta(""))
        .await
        .unwrap();
    let part1 = random(129 * MIB);
    let part2 = random(3 * MIB + 5);
    for (n, data) in [(1u32, &part1), (2, &part2)] {
        let staged = store
            .stage(&alice, "big", body(data, 1 << 20), Some(data.len() as u64))
            .await
            .unwrap();
        store
            .commit_part(&alice, "big", "huge", &id, n, staged, format!("p{n}"))
            .await
            .unwrap();
    }
    let before = fake.block_bytes_in();
    let parts = vec![(1, "p1".to_owned()), (2, "p2".to_owned())];
    store
        .complete_multipart(
            &alice,
            "big",
            "huge",
            &id,
            &parts,
            meta("m-2"),
            WriteCondition::None,
        )
        .await
        .unwrap();
    // Only part 2 moved: 4 blocks of 1 MiB (the last one zero-padded).
    assert_eq!(fake.block_bytes_in() - before, 4 * MIB as u64);
    let reader = store.open_object(&alice, "big", "huge").await.unwrap();
    assert_eq!(reader.info().size, (part1.len() + part2.len()) as u64);
    // Compared chunk by chunk: the object is not collected a second time in memory.
    let mut offset = 0usize;
    let mut chunks = reader.stream(None);
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.unwrap();
        let end = offset + chunk.len();
        assert!(end <= part1.len() + part2.len());
        let split = part1.len().clamp(offset, end) - offset;
        assert!(
            chunk[..split] == part1[offset..offset + split],
            "at {offset}"
        );
        let rest = offset + split - part1.len().min(offset + split);
        assert!(
            chunk[split..] == part2[rest..rest + chunk.len() - split],
            "at {offset}"
        );
        offset = end;
    }
    assert_eq!(offset, part1.len() + part2.len());
}

/// A part whose size is not a multiple of the block size: its whole blocks are reused and
/// only its partial last block and the parts after it are copied.
#[actix_web::test]
async fn multipart_copies_only_what_does_not_line_up() {
    let (fake, store, alice) = alice_with_volume("mp").await;
    let id = store
        .create_multipart(&alice, "mp", "k", meta(""))
        .await
        .unwrap();
    // 5,000,000 bytes: 305 whole blocks of 16 KiB and 2,880 bytes more.
    let parts = [random(5_000_000), random(5_000_000), random(1000)];
    for (i, data) in parts.iter().enumerate() {
        let staged = store
            .stage(&alice, "mp", body(data, 65_536), Some(data.len() as u64))
            .await
            .unwrap();
        store
            .commit_part(
                &alice,
                "mp",
                "k",
                &id,
                i as u32 + 1,
                staged,
                format!("e{i}"),
            )
            .await
            .unwrap();
    }
    let before = fake.block_bytes_in();
    let chosen: Vec<(u32, String)> = (0..3).map(|i| (i + 1, format!("e{i}"))).collect();
    store
        .complete_multipart(
            &alice,
            "mp",
            "k",
            &id,
            &chosen,
            meta("m-3"),
            WriteCondition::None,
        )
        .await
        .unwrap();
    // Part 1's 305 blocks are reused; from its tail on, 5,003,880 bytes are re-blocked.
    let sent = fake.block_bytes_in() - before;
    let copied_blocks = (10_001_000u64 - 305 * 16384).div_ceil(16384);
    assert_eq!(sent, copied_blocks * 16384);
    assert_eq!(
        get(&store, &alice, "mp", "k").await.unwrap(),
        parts.concat()
    );
}
