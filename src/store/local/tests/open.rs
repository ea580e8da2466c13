//! Opening: crash recovery and the identity of storage directories.

use super::*;

#[actix_web::test]
async fn recovery_sweeps_orphans_and_tmp() {
    let scratch = Scratch::new("recovery");
    let dirs = [scratch.dir("d0"), scratch.dir("d1")];
    let data = pattern(2 * BLOCK + 1, 30);
    {
        let store = store_with_bucket(&dirs).await;
        put(&store, "k", &data).await;
        // A second open of the same directories is refused while this one runs.
        assert!(matches!(
            LocalStore::open(&dirs),
            Err(LocalError::Locked { .. })
        ));
    }
    let kept = block_files(&dirs);
    assert_eq!(kept.len(), 3);

    let orphan_hash = super::blocks::sha256(b"nobody");
    let orphan = StorageDir::new(0, dirs[1].clone()).block_path(&orphan_hash);
    fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    fs::write(&orphan, b"nobody").unwrap();
    let tmp_file = dirs[0].join("tmp").join("half-written");
    fs::write(&tmp_file, b"partial").unwrap();

    let store = LocalStore::open(&dirs).unwrap();
    assert!(!orphan.exists());
    assert!(!tmp_file.exists());
    assert_eq!(block_files(&dirs), kept);
    assert_eq!(get(&store, "k", None).await, data);
}

#[actix_web::test]
async fn storage_directories_keep_their_identity() {
    let scratch = Scratch::new("dirs");
    let dirs = [scratch.dir("d0"), scratch.dir("d1"), scratch.dir("d2")];
    let data = pattern(6 * BLOCK, 31);
    {
        let store = store_with_bucket(&dirs).await;
        put(&store, "k", &data).await;
    }
    {
        let swapped = [dirs[0].clone(), dirs[2].clone(), dirs[1].clone()];
        let store = LocalStore::open(&swapped).unwrap();
        assert_eq!(get(&store, "k", None).await, data);
    }
    // Leaving out a directory that holds blocks is refused, naming it. Equal free space puts
    // every block in d0, so move them to d2 as a fuller d0 would have.
    let index = Connection::open(dirs[0].join(INDEX_FILE)).unwrap();
    let d2_id: i64 = index
        .query_row(
            "SELECT dir_id FROM dirs WHERE last_path = ?1",
            params![dirs[2].to_string_lossy()],
            |row| row.get(0),
        )
        .unwrap();
    index
        .execute("UPDATE blocks SET dir_id = ?1", params![d2_id])
        .unwrap();
    drop(index);
    for file in block_files(&dirs[..1]) {
        let relative = file.strip_prefix(&dirs[0]).unwrap();
        let target = dirs[2].join(relative);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::rename(&file, &target).unwrap();
    }
    {
        let store = LocalStore::open(&dirs).unwrap();
        assert_eq!(get(&store, "k", None).await, data);
    }
    let without_d2 = [dirs[0].clone(), dirs[1].clone()];
    match LocalStore::open(&without_d2) {
        Err(e @ LocalError::MissingDir { .. }) => {
            assert!(e.to_string().contains(&dirs[2].display().to_string()))
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("opened without a directory holding blocks"),
    }
    // The index directory must come first; a directory of another store is refused.
    let moved = [dirs[1].clone(), dirs[0].clone(), dirs[2].clone()];
    assert!(matches!(
        LocalStore::open(&moved),
        Err(LocalError::IndexNotFirst { .. })
    ));
    let other = [scratch.dir("other"), dirs[1].clone()];
    assert!(matches!(
        LocalStore::open(&other),
        Err(LocalError::ForeignDir { .. })
    ));
    assert!(matches!(
        LocalStore::open(&[]),
        Err(LocalError::NoDirectory)
    ));
}

/// Block file names, without their directories.
fn block_names(dirs: &[PathBuf]) -> Vec<String> {
    block_files(dirs)
        .iter()
        .filter_map(|f| Some(f.file_name()?.to_str()?.to_owned()))
        .collect()
}

#[actix_web::test]
async fn a_new_store_names_blocks_by_blake3_and_an_older_one_keeps_sha256() {
    let scratch = Scratch::new("names");
    let dirs = [scratch.dir("d0")];
    let first = pattern(BLOCK + 1, 40);
    {
        let store = store_with_bucket(&dirs).await;
        put(&store, "first", &first).await;
    }
    let expected: Vec<String> = first
        .chunks(BLOCK)
        .map(|c| crate::encoding::hex(&super::blocks::blake3(c)))
        .collect();
    let mut names = block_names(&dirs);
    names.sort();
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(names, sorted);

    // A store whose data is older than the record: its blocks are named by SHA-256.
    let index = Connection::open(dirs[0].join(INDEX_FILE)).unwrap();
    index
        .execute("DELETE FROM meta WHERE name = 'block_names'", [])
        .unwrap();
    drop(index);
    let second = pattern(BLOCK, 41);
    {
        let store = LocalStore::open(&dirs).unwrap();
        put(&store, "second", &second).await;
        assert_eq!(get(&store, "first", None).await, first);
    }
    let names = block_names(&dirs);
    assert!(names.contains(&crate::encoding::hex(&super::blocks::sha256(&second))));
    assert_eq!(names.len(), 3, "{names:?}");
    // Decided once: the next start names blocks the same way.
    {
        let store = LocalStore::open(&dirs).unwrap();
        put(&store, "again", &second).await;
    }
    assert_eq!(block_names(&dirs).len(), 3);
}

#[actix_web::test]
async fn unknown_block_names_stop_the_start() {
    let scratch = Scratch::new("names-unknown");
    let dirs = [scratch.dir("d0")];
    drop(store_with_bucket(&dirs).await);
    let index = Connection::open(dirs[0].join(INDEX_FILE)).unwrap();
    index
        .execute(
            "UPDATE meta SET value = 'sha3-512' WHERE name = 'block_names'",
            [],
        )
        .unwrap();
    drop(index);
    match LocalStore::open(&dirs) {
        Err(e @ LocalError::UnknownBlockNames { .. }) => {
            let message = e.to_string();
            assert!(message.contains("sha3-512"), "{message}");
            assert!(message.contains(INDEX_FILE), "{message}");
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("a store with unknown block names opened"),
    }
}
