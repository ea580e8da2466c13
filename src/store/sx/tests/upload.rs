//! Staged bodies and block uploads: hidden files cleaned up, known blocks never resent.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::*;
use crate::store::sx::staged::{SxStaged, HELD_BYTES};

/// Bodies over 8 MiB and 8 KiB are staged as hidden files: removed once committed, or when
/// dropped uncommitted; a body of unknown length is spooled first when it is that large.
#[actix_web::test]
async fn large_staged_bodies_are_hidden_files_removed_after_use() {
    let (fake, store, alice) = alice_with_volume("vol").await;
    let data = random(HELD_BYTES as usize + 1);
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
            crate::store::Versioning::Unversioned,
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

/// Eight bodies of 8 MiB staged in memory: the whole budget of 64 MiB.
async fn fill_the_budget(store: &SxStore, alice: &Principal) -> Vec<SxStaged> {
    let part = random(8 << 20);
    let mut held = Vec::new();
    for _ in 0..8 {
        let staged = store
            .stage(alice, "vol", body(&part, 1 << 20), Some(part.len() as u64))
            .await
            .unwrap();
        held.push(staged);
    }
    held
}

/// Bodies staged in memory share a budget of 64 MiB: the ninth body of 8 MiB waits, unread,
/// until one of the eight before it is dropped; a body of unknown length takes 8 MiB of it.
#[actix_web::test]
async fn bodies_held_in_memory_wait_for_their_share_of_the_budget() {
    use futures_util::FutureExt;
    let (_fake, store, alice) = alice_with_volume("vol").await;
    let mut held = fill_the_budget(&store, &alice).await;
    let mut ninth = Box::pin(store.stage(&alice, "vol", body(b"abc", 3), Some(3)));
    assert!(
        (&mut ninth).now_or_never().is_none(),
        "staged beyond the budget"
    );
    held.pop();
    // Nothing else changed: the budget alone held it back.
    let small = (&mut ninth)
        .now_or_never()
        .expect("staged once a share is free")
        .unwrap();
    assert_eq!(small.size(), 3);
    let mut unknown = Box::pin(store.stage(&alice, "vol", body(b"abc", 3), None));
    assert!(
        (&mut unknown).now_or_never().is_none(),
        "a body of unknown length staged with less than 8 MiB of the budget left"
    );
    held.pop();
    let staged = (&mut unknown)
        .now_or_never()
        .expect("staged once 8 MiB are free");
    assert_eq!(staged.unwrap().size(), 3);
    drop(small);
}

/// A part of 8 MiB sealed by SSE (3.5 KiB longer) is still held in memory, not streamed into
/// a hidden file.
#[actix_web::test]
async fn an_encrypted_8_mib_part_is_held_in_memory() {
    let (fake, store, alice) = alice_with_volume("vol").await;
    // SSE seals 64 KiB chunks, adding a 12-byte nonce and a 16-byte tag to each.
    let sealed = (8 << 20) + (8 << 20) / (64 << 10) * 28;
    let data = random(sealed as usize);
    let staged = store
        .stage(&alice, "vol", body(&data, 65_536), Some(sealed))
        .await
        .unwrap();
    assert!(fake.files("vol").is_empty(), "{:?}", fake.files("vol"));
    assert_eq!(staged.size(), sealed);
}

/// A body streamed into a hidden file takes its window (8 MiB and a block) of the budget
/// before its first byte is read: with the budget held by eight 8 MiB bodies, it stays unread
/// until two of them are dropped (one leaves 8 MiB, a block short).
#[actix_web::test]
async fn streamed_bodies_wait_for_their_window_unread() {
    use futures_util::FutureExt;
    let (_fake, store, alice) = alice_with_volume("vol").await;
    let mut held = fill_the_budget(&store, &alice).await;
    let large = random(HELD_BYTES as usize + 1);
    let read = Arc::new(AtomicBool::new(false));
    let flag = read.clone();
    let watched = stream::once(async move {
        flag.store(true, Ordering::SeqCst);
        Ok::<_, BodyError>(Bytes::new())
    })
    .chain(body(&large, 1 << 20))
    .boxed_local();
    let size = large.len() as u64;
    let mut streamed = Box::pin(store.stage(&alice, "vol", watched, Some(size)));
    for _ in 0..3 {
        assert!((&mut streamed).now_or_never().is_none());
    }
    assert!(!read.load(Ordering::SeqCst), "read beyond the budget");
    held.pop();
    assert!((&mut streamed).now_or_never().is_none());
    assert!(
        !read.load(Ordering::SeqCst),
        "read with a block less than its window"
    );
    held.pop();
    let staged = streamed.await.unwrap();
    assert!(read.load(Ordering::SeqCst));
    assert_eq!(staged.size(), size);
}
