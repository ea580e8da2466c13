//! Parts past an object's first 128 MiB kept as unflushed 1 MiB blocks (`unflushed`): what
//! they send, what completion moves, and that they read back, on the fake and on real SX.

use ring::digest;

use super::*;
use crate::store::Versioning;

const MIB: usize = 1 << 20;

async fn commit_part(store: &SxStore, who: &Principal, b: &str, id: &str, n: u32, data: &[u8]) {
    let staged = store
        .stage(who, b, body(data, 1 << 20), Some(data.len() as u64))
        .await
        .unwrap();
    store
        .commit_part(who, b, "k", id, n, staged, format!("p{n}"), None)
        .await
        .unwrap();
}

async fn complete(
    store: &SxStore,
    who: &Principal,
    b: &str,
    id: &str,
    numbers: &[u32],
) -> Result<(), StoreError> {
    let chosen: Vec<(u32, String)> = numbers.iter().map(|n| (*n, format!("p{n}"))).collect();
    store
        .complete_multipart(
            who,
            b,
            "k",
            id,
            &chosen,
            meta("m"),
            WriteCondition::None,
            Versioning::Unversioned,
        )
        .await
        .map(|_| ())
}

/// The object's SHA-256, read chunk by chunk (it is not collected in memory).
async fn object_digest(store: &SxStore, who: &Principal, b: &str) -> Vec<u8> {
    let reader = store.open_object(who, b, "k", None).await.unwrap();
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut chunks = reader.stream(None);
    while let Some(chunk) = chunks.next().await {
        ctx.update(&chunk.unwrap());
    }
    ctx.finish().as_ref().to_vec()
}

fn digest_of(parts: &[&[u8]]) -> Vec<u8> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in parts {
        ctx.update(part);
    }
    ctx.finish().as_ref().to_vec()
}

/// Whether part `n` is a record of kept blocks (an empty file) rather than a part file.
async fn is_kept(store: &SxStore, who: &Principal, b: &str, id: &str, n: u32) -> bool {
    let cluster = store.cluster().unwrap();
    let vol = cluster.data_volume(who, b).await.unwrap();
    let path = super::super::multipart::part_path(id, n);
    cluster.file(&vol, &path).await.unwrap().file_size == 0
}

/// A 140 MiB object of a 129 MiB part, a kept 8 MiB part and a 3 MiB tail: the kept part is
/// reused as it is. Returns whether each of the three parts was kept.
async fn large_object(store: &SxStore, who: &Principal, b: &str) -> ([bool; 3], u64) {
    let parts = [random(129 * MIB), random(8 * MIB), random(3 * MIB + 5)];
    let numbers = [1, 100, 101];
    let id = store.create_multipart(who, b, "k", meta("")).await.unwrap();
    for (n, data) in numbers.iter().zip(&parts) {
        commit_part(store, who, b, &id, *n, data).await;
    }
    let mut kept = [false; 3];
    for (i, n) in numbers.iter().enumerate() {
        kept[i] = is_kept(store, who, b, &id, *n).await;
    }
    let (_, listed) = store.list_parts(who, b, "k", &id).await.unwrap();
    let sizes: Vec<u64> = listed.iter().map(|p| p.size).collect();
    assert_eq!(
        sizes,
        parts.iter().map(|p| p.len() as u64).collect::<Vec<_>>()
    );
    complete(store, who, b, &id, &numbers).await.unwrap();
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    assert!(object_digest(store, who, b).await == digest_of(&refs));
    (
        kept,
        store
            .open_object(who, b, "k", None)
            .await
            .unwrap()
            .info()
            .size,
    )
}

/// A 10 MiB object of a 5 MiB part and a kept part 30: the object has 16 KiB blocks, so the
/// kept part's bytes are read back (from whichever node holds each block) and copied.
async fn small_object(store: &SxStore, who: &Principal, b: &str) -> bool {
    let parts = [random(5 * MIB + 1), random(5 * MIB)];
    let id = store.create_multipart(who, b, "k", meta("")).await.unwrap();
    commit_part(store, who, b, &id, 1, &parts[0]).await;
    commit_part(store, who, b, &id, 30, &parts[1]).await;
    let kept = is_kept(store, who, b, &id, 30).await;
    complete(store, who, b, &id, &[1, 30]).await.unwrap();
    assert!(get(store, who, b, "k").await.unwrap() == parts.concat());
    kept
}

#[actix_web::test]
async fn a_kept_part_is_reused_by_a_large_object() {
    let (fake, store, alice) = alice_with_volume("big").await;
    let id = store
        .create_multipart(&alice, "big", "k", meta(""))
        .await
        .unwrap();
    let before = fake.block_bytes_in();
    commit_part(&store, &alice, "big", &id, 17, &random(8 * MIB)).await;
    // 8 blocks of 1 MiB went out, and no file but the part's record appeared.
    assert_eq!(fake.block_bytes_in() - before, 8 * MIB as u64);
    assert!(is_kept(&store, &alice, "big", &id, 17).await);
    assert_eq!(fake.files("big").len(), 2, "{:?}", fake.files("big"));
    store
        .abort_multipart(&alice, "big", "k", &id)
        .await
        .unwrap();

    let before = fake.block_bytes_in();
    let (kept, size) = large_object(&store, &alice, "big").await;
    assert_eq!(kept, [false, true, false]);
    assert_eq!(size, (140 * MIB + 5) as u64);
    // Each part was sent once (the tail in 16 KiB blocks, the last one padded); completion
    // sent only the tail again, as 4 blocks of 1 MiB.
    let parts = (129 + 8 + 3) * MIB + 16384;
    assert_eq!(fake.block_bytes_in() - before, (parts + 4 * MIB) as u64);
}

#[actix_web::test]
async fn a_kept_part_in_a_small_object_is_copied() {
    let (_fake, store, alice) = alice_with_volume("small").await;
    assert!(small_object(&store, &alice, "small").await);
}

/// A volume without 128 MiB of room (SX checks the declared size) stores parts as files.
#[actix_web::test]
async fn a_small_volume_stores_every_part_as_a_file() {
    let (fake, store, alice) = alice_with_volume("tiny").await;
    fake.set_volume_size("tiny", 100 * MIB as u64);
    assert!(!small_object(&store, &alice, "tiny").await);
}

/// SX drops the blocks of an unflushed upload a day after it starts: a kept part written
/// longer ago than `unflushed::LIFETIME` is reported missing rather than read.
#[actix_web::test]
async fn a_stale_kept_part_is_an_invalid_part() {
    let (fake, store, alice) = alice_with_volume("old").await;
    let id = store
        .create_multipart(&alice, "old", "k", meta(""))
        .await
        .unwrap();
    commit_part(&store, &alice, "old", &id, 1, &random(MIB)).await;
    fake.state().clock_offset = -21 * 3600;
    commit_part(&store, &alice, "old", &id, 200, &random(MIB)).await;
    fake.state().clock_offset = 0;
    assert!(is_kept(&store, &alice, "old", &id, 200).await);
    assert!(matches!(
        complete(&store, &alice, "old", &id, &[1, 200]).await,
        Err(StoreError::InvalidPart(200))
    ));
}

/// On a real cluster (two nodes in CI, replica 2): an unflushed block is on one node only
/// until a flushed file takes it, so both the reuse and the read-back are checked there.
#[actix_web::test]
async fn kept_parts_on_a_real_cluster() {
    let Some(store) = super::real_cluster::real_store_sized("1G").await else {
        eprintln!("kept_parts_on_a_real_cluster: skipped (no LIBRES3_TEST_SX_URL)");
        return;
    };
    let admin = user("admin");
    let b = format!("libres3-kept-{}", random_hex(4).unwrap());
    store.create_bucket(&admin, &b).await.unwrap();
    assert!(small_object(&store, &admin, &b).await);
    let (kept, _) = large_object(&store, &admin, &b).await;
    assert_eq!(kept, [false, true, false]);
    store
        .delete_object(&admin, &b, "k", Versioning::Unversioned)
        .await
        .unwrap();
    store.delete_bucket(&admin, &b).await.unwrap();
}
