//! The store with encryption at rest: what reaches the disk, what the reader refuses, and what
//! startup refuses.

use super::*;
use crate::store::CopySource;

/// Written into the test objects; must never reach the disk of an encrypted store.
const MARKER: &[u8] = b"<<libres3 plaintext marker 5e1d>>";

fn key(byte: u8) -> StoreKey {
    let mut bytes = [byte; 32];
    bytes[31] = byte.wrapping_add(0x5a);
    StoreKey::from_bytes(bytes, "test.conf:1: encryption_key_file = test.key")
}

/// `len` bytes of `pattern` with the marker written every `every` bytes.
fn marked(len: usize, seed: u64, every: usize) -> Vec<u8> {
    let mut data = pattern(len, seed);
    let mut at = 0;
    while at + MARKER.len() <= len {
        data[at..at + MARKER.len()].copy_from_slice(MARKER);
        at += every;
    }
    data
}

/// Every file under the storage directories: blocks, the index and its WAL, identities.
fn all_files(dirs: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(path: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(path).unwrap() {
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
        walk(dir, &mut files);
    }
    files
}

fn files_containing(dirs: &[PathBuf], needle: &[u8]) -> Vec<PathBuf> {
    all_files(dirs)
        .into_iter()
        .filter(|file| {
            fs::read(file)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle)
        })
        .collect()
}

/// Writes an inline object, a multi-block one, a multipart one (with an inline-sized part)
/// and a copy; returns each key with its content.
async fn write_objects(store: &LocalStore) -> Vec<(&'static str, Vec<u8>)> {
    let who = alice();
    let small = marked(20_000, 31, 1000);
    let big = marked(2 * BLOCK + BLOCK / 2, 32, 64 * 1024);
    put(store, "small", &small).await;
    put(store, "big", &big).await;

    let id = store
        .create_multipart(&who, "b", "multi", meta(""))
        .await
        .unwrap();
    let part1 = marked(BLOCK + 4321, 33, 50_000);
    let part2 = marked(30_000, 34, 3000);
    for (number, data) in [(1, &part1), (2, &part2)] {
        let staged = store.stage(&who, "b", body(data), None).await.unwrap();
        store
            .commit_part(
                &who,
                "b",
                "multi",
                &id,
                number,
                staged,
                format!("p{number}"),
                None,
            )
            .await
            .unwrap();
    }
    let parts = [(1, "p1".to_string()), (2, "p2".to_string())];
    store
        .complete_multipart(
            &who,
            "b",
            "multi",
            &id,
            &parts,
            meta("m"),
            WriteCondition::None,
            crate::store::Versioning::Unversioned,
        )
        .await
        .unwrap();
    let mut multi = part1;
    multi.extend_from_slice(&part2);

    let source = CopySource {
        version_id: None,
        bucket: "b",
        key: "small",
        if_meta: None,
    };
    store
        .copy_object(
            &who,
            &source,
            "b",
            "small-copy",
            meta("c"),
            WriteCondition::None,
            crate::store::Versioning::Unversioned,
        )
        .await
        .unwrap();
    vec![
        ("small", small.clone()),
        ("big", big),
        ("multi", multi),
        ("small-copy", small),
    ]
}

async fn encrypted_store(dirs: &[PathBuf], key: &StoreKey) -> LocalStore {
    let store = LocalStore::open_with_key(dirs, Some(key)).unwrap();
    store.create_bucket(&alice(), "b").await.unwrap();
    store
}

#[actix_web::test]
async fn encrypted_store_writes_no_plaintext() {
    let scratch = Scratch::new("sealed");
    let dirs = [scratch.dir("d0"), scratch.dir("d1")];
    let key = key(1);
    let store = encrypted_store(&dirs, &key).await;
    let objects = write_objects(&store).await;
    for (name, data) in &objects {
        assert_eq!(&get(&store, name, None).await, data, "{name}");
    }
    let big = &objects[1].1;
    let block = BLOCK_SIZE as u64;
    let last = big.len() as u64 - 1;
    for (first, end) in [
        (0, 0),
        (block - 10, block + 9),
        (block, 2 * block - 1),
        (block / 2, 2 * block + 5),
        (last, last),
    ] {
        let got = get(&store, "big", Some((first, end))).await;
        assert_eq!(got, &big[first as usize..=end as usize], "{first}-{end}");
    }
    assert_eq!(
        get(&store, "small", Some((10, 19))).await,
        &objects[0].1[10..20]
    );

    // Blocks are named by the keyed hash, not by the SHA-256 anyone could compute.
    let names: Vec<String> = block_files(&dirs)
        .iter()
        .filter_map(|f| f.file_name()?.to_str().map(str::to_owned))
        .collect();
    // big: 3 blocks; multi: 2 for part 1, 1 for the small part 2.
    assert_eq!(names.len(), 6, "{names:?}");
    for chunk in big.chunks(BLOCK_SIZE) {
        let plain = crate::encoding::hex(&blocks::sha256(chunk));
        let keyed = crate::encoding::hex(&store.shared.sealing.block_id(chunk));
        assert!(!names.contains(&plain), "a block is named by its SHA-256");
        assert!(names.contains(&keyed));
    }

    // No file holds the marker while the store runs (the index's WAL included)...
    assert!(all_files(&dirs)
        .iter()
        .any(|f| f.ends_with("index.sqlite-wal")));
    assert_eq!(files_containing(&dirs, MARKER), Vec::<PathBuf>::new());
    drop(store);
    // ...nor once it is closed.
    assert_eq!(files_containing(&dirs, MARKER), Vec::<PathBuf>::new());

    let store = LocalStore::open_with_key(&dirs, Some(&key)).unwrap();
    for (name, data) in &objects {
        assert_eq!(
            &get(&store, name, None).await,
            data,
            "{name} after reopening"
        );
    }
}

/// The control of the test above: the same objects in a plain store do show the marker, in
/// block files and in the index, so the scan would see plaintext if there were any.
#[actix_web::test]
async fn a_plain_store_shows_the_marker() {
    let scratch = Scratch::new("plain-marker");
    let dirs = [scratch.dir("d0")];
    let store = store_with_bucket(&dirs).await;
    write_objects(&store).await;
    drop(store);
    let found = files_containing(&dirs, MARKER);
    let in_index = |f: &PathBuf| {
        f.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(INDEX_FILE))
    };
    assert!(found.iter().any(in_index), "{found:?}");
    assert!(
        found.iter().any(|f| f.starts_with(dirs[0].join("blocks"))),
        "{found:?}"
    );
}

#[actix_web::test]
async fn encrypted_blocks_are_still_stored_once() {
    let scratch = Scratch::new("sealed-dedup");
    let dirs = [scratch.dir("d0")];
    let store = encrypted_store(&dirs, &key(2)).await;
    let data = pattern(2 * BLOCK + 100, 6);
    put(&store, "one", &data).await;
    put(&store, "two", &data).await;
    assert_eq!(block_files(&dirs).len(), 3);
    store
        .delete_object(&alice(), "b", "one", crate::store::Versioning::Unversioned)
        .await
        .unwrap();
    store.collect_garbage().await.unwrap();
    assert_eq!(get(&store, "two", None).await, data);
    store
        .delete_object(&alice(), "b", "two", crate::store::Versioning::Unversioned)
        .await
        .unwrap();
    store.collect_garbage().await.unwrap();
    assert!(block_files(&dirs).is_empty());
}

#[actix_web::test]
async fn tampered_data_is_an_error_not_wrong_bytes() {
    let scratch = Scratch::new("tamper");
    let dirs = [scratch.dir("d0")];
    let store = encrypted_store(&dirs, &key(3)).await;
    let data = pattern(2 * BLOCK + 10, 40);
    let other = pattern(BLOCK, 41);
    put(&store, "k", &data).await;
    put(&store, "other", &other).await;
    put(&store, "small", b"small object").await;

    let second = store.shared.sealing.block_id(&data[BLOCK..2 * BLOCK]);
    let victim = store.shared.dirs[0].block_path(&second);
    let original = fs::read(&victim).unwrap();
    let expect_failure = |result: Result<Vec<u8>, StoreError>, what: &str| match result {
        Err(StoreError::Internal(message)) => {
            assert!(
                message.contains(&crate::encoding::hex(&second)),
                "{what}: {message}"
            )
        }
        other => panic!(
            "{what}: expected an error, got {:?}",
            other.map(|d| d.len())
        ),
    };

    // One flipped bit in the middle of the ciphertext.
    let mut flipped = original.clone();
    flipped[original.len() / 2] ^= 0x04;
    fs::write(&victim, &flipped).unwrap();
    let reader = store.open_object(&alice(), "b", "k", None).await.unwrap();
    let (before, error) = read_to_error(reader.stream(None)).await;
    assert_eq!(before, &data[..BLOCK]);
    expect_failure(error.map_or(Ok(before), Err), "flipped bit");
    // A range inside the damaged block fails too: the block is authenticated whole.
    let reader = store.open_object(&alice(), "b", "k", None).await.unwrap();
    let range = ByteRange {
        first: BLOCK as u64 + 1,
        last: BLOCK as u64 + 2,
    };
    expect_failure(read_all(reader.stream(Some(range))).await, "range");

    // Another valid sealed block of the same size moved under this name.
    let other_file = store.shared.dirs[0].block_path(&store.shared.sealing.block_id(&other));
    fs::copy(&other_file, &victim).unwrap();
    let reader = store.open_object(&alice(), "b", "k", None).await.unwrap();
    expect_failure(read_all(reader.stream(None)).await, "swapped block");

    // Repaired, it reads again.
    fs::write(&victim, &original).unwrap();
    assert_eq!(get(&store, "k", None).await, data);

    // Inline data changed in the index.
    let conn = Connection::open(dirs[0].join(INDEX_FILE)).unwrap();
    let sealed: Vec<u8> = conn
        .query_row(
            "SELECT inline_data FROM objects WHERE key = ?1",
            params![b"small".as_slice()],
            |row| row.get(0),
        )
        .unwrap();
    assert!(!sealed.windows(5).any(|w| w == b"small"));
    let mut bad = sealed.clone();
    bad[sealed.len() - 3] ^= 0x10;
    conn.execute(
        "UPDATE objects SET inline_data = ?1 WHERE key = ?2",
        params![bad, b"small".as_slice()],
    )
    .unwrap();
    assert!(matches!(
        store.open_object(&alice(), "b", "small", None).await,
        Err(StoreError::Internal(_))
    ));
    conn.execute(
        "UPDATE objects SET inline_data = ?1 WHERE key = ?2",
        params![sealed, b"small".as_slice()],
    )
    .unwrap();
    assert_eq!(get(&store, "small", None).await, b"small object");
}

/// The store in `dirs`, made to look older than the encryption record (the record removed),
/// is found to hold plain data and refuses a key.
fn assert_older_plain_store_refuses_a_key(dirs: &[PathBuf]) {
    let conn = Connection::open(dirs[0].join(INDEX_FILE)).unwrap();
    conn.execute("DELETE FROM meta WHERE name LIKE 'encryption%'", [])
        .unwrap();
    drop(conn);
    let refused = LocalStore::open_with_key(dirs, Some(&key(4)));
    assert!(matches!(refused, Err(LocalError::NotEncrypted { .. })));
}

#[actix_web::test]
async fn startup_refuses_a_missing_wrong_or_unexpected_key() {
    let scratch = Scratch::new("keys");
    let sealed = [scratch.dir("sealed")];
    let index = sealed[0].join(INDEX_FILE).display().to_string();
    {
        let store = encrypted_store(&sealed, &key(4)).await;
        put(&store, "k", &pattern(BLOCK + 1, 50)).await;
    }
    let message = match LocalStore::open(&sealed) {
        Err(e @ LocalError::KeyMissing { .. }) => e.to_string(),
        other => panic!("opened without its key: {:?}", other.err()),
    };
    assert!(message.starts_with(&index), "{message}");
    assert!(message.contains("set encryption_key_file"), "{message}");
    let message = match LocalStore::open_with_key(&sealed, Some(&key(5))) {
        Err(e @ LocalError::WrongKey { .. }) => e.to_string(),
        other => panic!("opened with another key: {:?}", other.err()),
    };
    assert!(message.starts_with(key(5).setting()), "{message}");
    assert!(message.contains(&index), "{message}");
    // Refused starts changed nothing: the right key still opens it.
    let store = LocalStore::open_with_key(&sealed, Some(&key(4))).unwrap();
    assert_eq!(get(&store, "k", None).await, pattern(BLOCK + 1, 50));
    drop(store);

    // A store created without a key does not take one.
    let plain = [scratch.dir("plain")];
    {
        let store = store_with_bucket(&plain).await;
        put(&store, "k", b"plain").await;
    }
    let refused = LocalStore::open_with_key(&plain, Some(&key(4)));
    assert!(
        matches!(refused, Err(LocalError::NotEncrypted { .. })),
        "{:?}",
        refused.err()
    );
    // Not even once it is empty: encryption is decided when a store is created.
    {
        let store = LocalStore::open(&plain).unwrap();
        store
            .delete_object(&alice(), "b", "k", crate::store::Versioning::Unversioned)
            .await
            .unwrap();
        store.collect_garbage().await.unwrap();
    }
    let refused = LocalStore::open_with_key(&plain, Some(&key(4)));
    assert!(matches!(refused, Err(LocalError::NotEncrypted { .. })));

    // A store from before encryption existed (no record) holding data is plain.
    let old = [scratch.dir("old")];
    {
        let store = store_with_bucket(&old).await;
        put(&store, "k", b"old data").await;
    }
    assert_older_plain_store_refuses_a_key(&old);
    // Also when all it holds is a small version behind a delete marker: that version's bytes
    // are in its row, unsealed.
    let hidden = [scratch.dir("hidden")];
    {
        let store = store_with_bucket(&hidden).await;
        let enabled = crate::store::Versioning::Enabled;
        put_versioned(&store, "k", b"old", WriteCondition::None, enabled)
            .await
            .unwrap();
        store
            .delete_object(&alice(), "b", "k", enabled)
            .await
            .unwrap();
    }
    assert_older_plain_store_refuses_a_key(&hidden);
    let store = LocalStore::open(&old).unwrap();
    assert_eq!(get(&store, "k", None).await, b"old data");
    drop(store);

    // A store that `setup` made (users, no data) is encrypted by its first start with a key.
    let fresh = [scratch.dir("fresh")];
    UserAdmin::open(&fresh)
        .unwrap()
        .add("admin", "AKIAFRESH", &SecretKey::new("secret".into()))
        .unwrap();
    drop(LocalStore::open_with_key(&fresh, Some(&key(6))).unwrap());
    assert!(matches!(
        LocalStore::open(&fresh),
        Err(LocalError::KeyMissing { .. })
    ));
}
