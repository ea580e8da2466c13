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
