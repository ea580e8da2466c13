//! Parts kept as unflushed 1 MiB blocks (`unflushed`): what
//! they send, what completion moves, and that they read back, on the fake and on real SX.

use ring::digest;

use super::*;
use crate::store::Versioning;

const MIB: usize = 1 << 20;
const FAST: (&str, &str) = ("sx_fast_large_multipart", "yes");

/// [`alice_with_volume`] with `sx_fast_large_multipart` on.
async fn alice_keeping_parts(volume: &str) -> (FakeSx, SxStore, Principal) {
    let fake = FakeSx::start(1);
    fake.add_user("alice");
    fake.add_volume(volume, "alice", 1, &[]);
    let store = SxStore::connect(config(&fake, &[(FAST.0, FAST.1.to_owned())]))
        .await
        .unwrap();
    (fake, store, user("alice"))
}

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
    small_object_of(store, who, b, random(5 * MIB)).await
}

/// [`small_object`] whose part 30 is `part30`.
async fn small_object_of(store: &SxStore, who: &Principal, b: &str, part30: Vec<u8>) -> bool {
    let parts = [random(5 * MIB + 1), part30];
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
    let (fake, store, alice) = alice_keeping_parts("big").await;
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

/// A 1 GiB `aws s3 cp` in small: every 8 MiB part is kept, the first ones too, and an
/// object over 128 MiB made of them moves no data at completion.
#[actix_web::test]
async fn an_object_over_128_mib_of_kept_parts_moves_nothing() {
    let (fake, store, alice) = alice_keeping_parts("whole").await;
    let parts: Vec<Vec<u8>> = (0..17).map(|_| random(8 * MIB)).collect();
    let numbers: Vec<u32> = (1..=17).collect();
    let id = store
        .create_multipart(&alice, "whole", "k", meta(""))
        .await
        .unwrap();
    for (n, data) in numbers.iter().zip(&parts) {
        commit_part(&store, &alice, "whole", &id, *n, data).await;
        assert!(is_kept(&store, &alice, "whole", &id, *n).await, "part {n}");
    }
    let before = fake.block_bytes_in();
    complete(&store, &alice, "whole", &id, &numbers)
        .await
        .unwrap();
    assert_eq!(fake.block_bytes_in(), before, "no block sent at completion");
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    assert!(object_digest(&store, &alice, "whole").await == digest_of(&refs));
}

#[actix_web::test]
async fn a_kept_part_in_a_small_object_is_copied() {
    let (_fake, store, alice) = alice_keeping_parts("small").await;
    assert!(small_object(&store, &alice, "small").await);
}

/// Without `sx_fast_large_multipart` every part is a file of its own.
#[actix_web::test]
async fn parts_are_kept_only_when_configured() {
    let (_fake, store, alice) = alice_with_volume("plain").await;
    assert!(!small_object(&store, &alice, "plain").await);
}

/// SX dates a block from its first upload and drops an unflushed upload's blocks once all
/// are a day old: a part whose blocks SX already holds is stored as a file instead.
#[actix_web::test]
async fn a_part_of_blocks_sx_holds_is_a_file() {
    let (_fake, store, alice) = alice_keeping_parts("again").await;
    let part = random(5 * MIB);
    assert!(small_object_of(&store, &alice, "again", part.clone()).await);
    assert!(!small_object_of(&store, &alice, "again", part).await);
}

/// A volume without 128 MiB of room (SX checks the declared size) stores parts as files.
#[actix_web::test]
async fn a_small_volume_stores_every_part_as_a_file() {
    let (fake, store, alice) = alice_keeping_parts("tiny").await;
    fake.set_volume_size("tiny", 100 * MIB as u64);
    assert!(!small_object(&store, &alice, "tiny").await);
}

/// SX drops the blocks of an unflushed upload a day after it starts: a kept part sent
/// longer ago than `unflushed::LIFETIME` is reported missing rather than read, and an
/// unchosen one does not stop a completion.
#[actix_web::test]
async fn a_stale_kept_part_is_an_invalid_part() {
    let (fake, store, alice) = alice_keeping_parts("old").await;
    let id = store
        .create_multipart(&alice, "old", "k", meta(""))
        .await
        .unwrap();
    // Part 1 is not whole blocks, so it is a file: it counts against the volume's size.
    commit_part(&store, &alice, "old", &id, 1, &random(MIB + 1)).await;
    assert!(!is_kept(&store, &alice, "old", &id, 1).await);
    for n in [200, 201] {
        commit_part(&store, &alice, "old", &id, n, &random(MIB)).await;
    }
    // Parts 200 and 201 were kept; their records now say they were sent 21 hours ago.
    let cluster = store.cluster().unwrap();
    let vol = cluster.data_volume(&alice, "old").await.unwrap();
    for n in [200, 201] {
        let path = super::super::multipart::part_path(&id, n);
        let mut record = cluster.file_meta(&vol, &path).await.unwrap();
        let kept = super::super::unflushed::recorded(&record).expect("a kept part");
        super::super::unflushed::KeptPart {
            sent: kept.sent - 21 * 3600,
            ..kept
        }
        .record(&mut record);
        cluster
            .create_from_hashes(&vol, &path, 0, &[], Some(&record))
            .await
            .unwrap();
    }
    assert!(matches!(
        complete(&store, &alice, "old", &id, &[1, 200]).await,
        Err(StoreError::InvalidPart(200))
    ));
    // ListParts leaves them out, so a resuming client sends them again.
    let (_, listed) = store.list_parts(&alice, "old", "k", &id).await.unwrap();
    assert_eq!(listed.iter().map(|p| p.number).collect::<Vec<_>>(), [1]);
    // Without room for the object beside its parts, completion first removes the parts:
    // the stale unchosen ones are left out rather than failing it.
    fake.set_volume_size("old", 3 * MIB as u64 / 2);
    complete(&store, &alice, "old", &id, &[1]).await.unwrap();
    assert_eq!(
        get(&store, &alice, "old", "k").await.unwrap().len(),
        MIB + 1
    );
}

/// On a real cluster (two nodes in CI, replica 2): an unflushed block is on one node only
/// until a flushed file takes it, so both the reuse and the read-back are checked there.
#[actix_web::test]
async fn kept_parts_on_a_real_cluster() {
    let settings = [("volume_size", "1G"), FAST];
    let Some(store) = super::real_cluster::real_store_with(&settings).await else {
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
