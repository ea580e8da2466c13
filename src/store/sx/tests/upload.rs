//! Staged bodies and block uploads: hidden files cleaned up, known blocks never resent.

use super::*;

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

/// Bodies staged in memory share a budget of 64 MiB: the ninth body of 8 MiB waits, unread,
/// until one of the eight before it is dropped; a body of unknown length takes 8 MiB of it.
#[actix_web::test]
async fn bodies_held_in_memory_wait_for_their_share_of_the_budget() {
    use futures_util::FutureExt;
    let (_fake, store, alice) = alice_with_volume("vol").await;
    let part = random(8 << 20);
    let mut held = Vec::new();
    for _ in 0..8 {
        let staged = store
            .stage(&alice, "vol", body(&part, 1 << 20), Some(part.len() as u64))
            .await
            .unwrap();
        held.push(staged);
    }
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
