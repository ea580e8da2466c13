//! Multipart uploads: across gateways, and completion reusing the parts' blocks.

use super::*;

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
                None,
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
            crate::store::Versioning::Unversioned,
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
            crate::store::Versioning::Unversioned,
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
        two.open_object(&alice, "mp", "big/object", None)
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
    // The other gateway finds the completion's record, for this key only.
    let done = two
        .completed_upload(&alice, "mp", "big/object", &id)
        .await
        .unwrap()
        .expect("a completion record");
    assert_eq!(done.etag, "m-3");
    assert_eq!(done.parts_digest, crate::store::part_list_digest(&parts));
    assert!(two
        .completed_upload(&alice, "mp", "x", &id)
        .await
        .unwrap()
        .is_none());
    let completed_id = id;
    // Abort removes everything but that record.
    let id = two
        .create_multipart(&alice, "mp", "x", meta(""))
        .await
        .unwrap();
    let staged = two
        .stage(&alice, "mp", body(b"abc", 1), Some(3))
        .await
        .unwrap();
    two.commit_part(&alice, "mp", "x", &id, 1, staged, "e1".into(), None)
        .await
        .unwrap();
    one.abort_multipart(&alice, "mp", "x", &id).await.unwrap();
    let record = format!(".libres3/done/{completed_id}");
    eventually("only the object and the completion record left", || {
        fake.files("mp") == [record.as_str(), "big/object"]
    })
    .await;
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
            .commit_part(&alice, "big", "huge", &id, n, staged, format!("p{n}"), None)
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
            crate::store::Versioning::Unversioned,
        )
        .await
        .unwrap();
    // Only part 2 moved: 4 blocks of 1 MiB (the last one zero-padded).
    assert_eq!(fake.block_bytes_in() - before, 4 * MIB as u64);
    let reader = store
        .open_object(&alice, "big", "huge", None)
        .await
        .unwrap();
    assert_eq!(reader.info().size, (part1.len() + part2.len()) as u64);
    // Compared chunk by chunk: the object is not collected a second time in memory.
    let mut offset = 0usize;
    let mut chunks = reader.stream(None);
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.unwrap();
        let end = offset + chunk.len();
        assert!(end <= part1.len() + part2.len());
        // The chunk's bytes in each part (either range may be empty).
        let p1 = part1.len();
        let in_part1 = offset.min(p1)..end.min(p1);
        let in_part2 = offset.max(p1) - p1..end.max(p1) - p1;
        let split = in_part1.len();
        assert!(chunk[..split] == part1[in_part1], "at {offset}");
        assert!(chunk[split..] == part2[in_part2], "at {offset}");
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
                None,
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
            crate::store::Versioning::Unversioned,
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

/// Completion records older than COMPLETED_UPLOAD_KEPT are no longer found, and the next new
/// upload of the volume removes them.
#[actix_web::test]
async fn old_completion_records_are_forgotten() {
    use crate::store::{CompletedUpload, COMPLETED_UPLOAD_KEPT};
    let (fake, store, alice) = alice_with_volume("done").await;
    let cluster = store.cluster().unwrap();
    let vol = cluster.data_volume(&alice, "done").await.unwrap();
    let record = |age: std::time::Duration| CompletedUpload {
        key: "k".into(),
        etag: "e-1".into(),
        parts_digest: "d".into(),
        completed: std::time::SystemTime::now() - age,
    };
    let (old, new) = ("0".repeat(32), "1".repeat(32));
    let an_hour_more = COMPLETED_UPLOAD_KEPT + std::time::Duration::from_secs(60);
    cluster
        .record_completion(&vol, &old, &record(an_hour_more))
        .await;
    cluster
        .record_completion(&vol, &new, &record(std::time::Duration::ZERO))
        .await;
    let found = |id: String| {
        let store = &store;
        let alice = &alice;
        async move {
            store
                .completed_upload(alice, "done", "k", &id)
                .await
                .unwrap()
        }
    };
    assert!(found(old.clone()).await.is_none());
    assert_eq!(found(new.clone()).await.map(|r| r.etag), Some("e-1".into()));
    store
        .create_multipart(&alice, "done", "next", meta(""))
        .await
        .unwrap();
    let (old_file, new_file) = (
        format!(".libres3/done/{old}"),
        format!(".libres3/done/{new}"),
    );
    eventually("the old record removed, the new one kept", || {
        let files = fake.files("done");
        !files.contains(&old_file) && files.contains(&new_file)
    })
    .await;
}

/// A multipart upload of key `k` with one part, 1 ("abc", ETag `e1`): its id.
async fn upload_of_one_part(store: &SxStore, alice: &Principal, bucket: &str) -> String {
    let id = store
        .create_multipart(alice, bucket, "k", meta(""))
        .await
        .unwrap();
    let staged = store
        .stage(alice, bucket, body(b"abc", 1), Some(3))
        .await
        .unwrap();
    store
        .commit_part(alice, bucket, "k", &id, 1, staged, "e1".into(), None)
        .await
        .unwrap();
    id
}

/// SX runs one mass job per volume at a time and fails another started meanwhile: an abort
/// that meets such a refusal starts its mass delete again and succeeds.
#[actix_web::test]
async fn an_abort_waits_out_another_mass_job_of_the_volume() {
    let (fake, store, alice) = alice_with_volume("busy").await;
    let id = upload_of_one_part(&store, &alice, "busy").await;
    fake.state().mass_jobs_locked = 2;
    store
        .abort_multipart(&alice, "busy", "k", &id)
        .await
        .unwrap();
    assert_eq!(fake.state().mass_jobs_locked, 0, "both refusals were met");
    eventually("the upload's parts and record removed", || {
        fake.files("busy").is_empty()
    })
    .await;
}

/// SX refuses a mass job in a volume while another runs there, and two started at once on
/// different nodes can leave the volume refusing them for minutes: a gateway runs its own
/// mass jobs of a volume one at a time, so two aborts at once in one bucket never meet.
#[actix_web::test]
async fn mass_jobs_of_one_volume_run_one_at_a_time() {
    let (fake, store, alice) = alice_with_volume("turns").await;
    let one = upload_of_one_part(&store, &alice, "turns").await;
    let two = upload_of_one_part(&store, &alice, "turns").await;
    let (first, second) = futures_util::future::join(
        store.abort_multipart(&alice, "turns", "k", &one),
        store.abort_multipart(&alice, "turns", "k", &two),
    )
    .await;
    first.unwrap();
    second.unwrap();
    assert_eq!(fake.state().mass_jobs_overlapping, 0);
    assert!(fake.files("turns").is_empty(), "{:?}", fake.files("turns"));
}

/// Parts whose upload record is gone (a part that landed after its upload ended) are
/// removed by the hourly clean-up once an hour old; the parts of a live upload, and recent
/// leftovers, stay.
#[actix_web::test]
async fn the_hourly_clean_up_removes_parts_left_without_their_upload() {
    let (fake, store, alice) = alice_with_volume("left").await;
    let live = upload_of_one_part(&store, &alice, "left").await;
    // Leftovers sort before and after the live upload's parts.
    let (old, older, recent) = ("0".repeat(32), "f".repeat(32), "1".repeat(32));
    {
        let mut sx = fake.state();
        sx.clock_offset = -2 * 3600;
        for n in ["00001", "00002", "00003"] {
            sx.write_file("left", &format!(".libres3/parts/{old}/{n}"), b"x", &[]);
            sx.write_file("left", &format!(".libres3/parts/{older}/{n}"), b"x", &[]);
        }
        sx.clock_offset = 0;
        sx.write_file("left", &format!(".libres3/parts/{recent}/00001"), b"x", &[]);
    }
    let week_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7 * 24 * 3600);
    let aborted = store
        .abort_uploads_initiated_before(week_ago, 10)
        .await
        .unwrap();
    assert!(aborted.is_empty(), "the live upload is not abandoned");
    let expected = [
        format!(".libres3/parts/{recent}/00001"),
        format!(".libres3/parts/{live}/00001"),
        format!(".libres3/up/{live}"),
    ];
    eventually("only the old leftovers removed", || {
        let mut files = fake.files("left");
        files.sort();
        let mut want = expected.to_vec();
        want.sort();
        files == want
    })
    .await;
}
