use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;

/// A fresh directory (not yet created: the store makes it), removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("libres3-kms-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        TempDir(dir.join("kms"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some(parent) = self.0.parent() {
            let _ = fs::remove_dir_all(parent);
        }
    }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("exists").permissions().mode() & 0o777
}

#[test]
fn open_creates_nothing_and_an_absent_directory_lists_no_key() {
    let dir = TempDir::new();
    let store = KeyStore::open(&dir.0).expect("open");
    assert!(!dir.0.exists());
    assert_eq!(store.list().expect("list"), Vec::new());
}

#[test]
fn created_keys_are_listed_resolved_and_private() {
    let dir = TempDir::new();
    let store = KeyStore::open(&dir.0).expect("open");
    let first = store.create_key("for the archive bucket").expect("create");
    let second = store.create_key("").expect("create");
    assert!(is_key_id(&first.id), "{}", first.id);
    assert_eq!(first.id.as_bytes()[14], b'4', "a UUID v4: {}", first.id);
    assert_ne!(first.id, second.id);
    assert_eq!(mode(&dir.0), 0o700);
    let file = dir.0.join(format!("{}.key", first.id));
    assert_eq!(mode(&file), 0o600);
    let text = fs::read_to_string(&file).expect("read");
    assert!(text.starts_with("libres3-kms-key v1 ") && text.ends_with(" for the archive bucket\n"));

    // Another store over the same directory (another process) reads the same.
    let again = KeyStore::open(&dir.0).expect("open");
    let listed = again.list().expect("list");
    let mut expected = vec![first.clone(), second.clone()];
    expected.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
    assert_eq!(listed, expected);

    assert_eq!(again.resolve(&first.id).expect("id"), first.id);
    assert_eq!(
        again
            .resolve(&first.id.to_ascii_uppercase())
            .expect("upper-case id"),
        first.id
    );
    let arn = format!("arn:aws:kms:us-east-1:111122223333:key/{}", second.id);
    assert_eq!(again.resolve(&arn).expect("arn"), second.id);
    for unknown in [
        "1234abcd-12ab-34cd-56ef-1234567890ab".to_owned(),
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(),
        format!("arn:aws:kms:us-east-1:111122223333:alias/{}", first.id),
        "alias/my-key".into(),
        "../../etc/passwd".into(),
        String::new(),
    ] {
        assert!(
            matches!(again.resolve(&unknown), Err(KeyError::NotFound(r)) if r == unknown),
            "{unknown}"
        );
    }
}

#[test]
fn the_aws_managed_alias_is_the_default_key_made_on_first_use() {
    let dir = TempDir::new();
    let store = KeyStore::open(&dir.0).expect("open");
    let id = store.resolve("alias/aws/s3").expect("default");
    assert_eq!(store.default_key_id().expect("default"), id);
    assert_eq!(
        store
            .resolve("arn:aws:kms:eu-west-1:111122223333:alias/aws/s3")
            .expect("arn"),
        id
    );
    let keys = store.list().expect("list");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].id, id);
    assert_eq!(
        fs::read_to_string(dir.0.join("default.alias")).expect("alias"),
        format!("{id}\n")
    );
    // A later key does not change the default.
    store.create_key("rotated").expect("create");
    assert_eq!(
        KeyStore::open(&dir.0)
            .expect("open")
            .default_key_id()
            .expect("default"),
        id
    );
}

#[test]
fn racing_default_key_ids_agree() {
    let dir = TempDir::new();
    let ids: Vec<String> = std::thread::scope(|s| {
        let racers: Vec<_> = (0..8)
            .map(|_| {
                let dir = &dir.0;
                // One store each, as separate processes would have.
                s.spawn(move || KeyStore::open(dir).expect("open").default_key_id())
            })
            .collect();
        racers
            .into_iter()
            .map(|r| r.join().expect("no panic").expect("default key"))
            .collect()
    });
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let keys = KeyStore::open(&dir.0).expect("open").list().expect("list");
    assert_eq!(keys.len(), 1, "the losers' keys are gone: {keys:?}");
}

#[test]
fn wrapped_keys_open_only_with_their_key_and_context() {
    let dir = TempDir::new();
    let store = KeyStore::open(&dir.0).expect("open");
    let key = store.create_key("a").expect("create").id;
    let other = store.create_key("b").expect("create").id;
    let data_key: [u8; 32] = random_bytes().expect("random");
    let wrapped = store.wrap(&key, &data_key, b"bucket/object").expect("wrap");
    assert_eq!(wrapped.len(), 80);
    assert_ne!(
        wrapped,
        store.wrap(&key, &data_key, b"bucket/object").expect("wrap")
    );
    assert_eq!(
        store
            .unwrap(&key, &wrapped, b"bucket/object")
            .expect("unwrap"),
        data_key
    );
    // A fresh store reads the key from disk.
    let again = KeyStore::open(&dir.0).expect("open");
    assert_eq!(
        again
            .unwrap(&key, &wrapped, b"bucket/object")
            .expect("unwrap"),
        data_key
    );
    assert!(matches!(
        store.unwrap(&key, &wrapped, b"bucket/other"),
        Err(KeyError::Unwrap(_))
    ));
    assert!(matches!(
        store.unwrap(&other, &wrapped, b"bucket/object"),
        Err(KeyError::Unwrap(_))
    ));
    let mut flipped = wrapped.clone();
    flipped[40] ^= 1;
    assert!(matches!(
        store.unwrap(&key, &flipped, b"bucket/object"),
        Err(KeyError::Unwrap(_))
    ));
    assert!(matches!(
        store.unwrap(&key, &wrapped[..79], b"bucket/object"),
        Err(KeyError::Unwrap(_))
    ));
    let missing = "1234abcd-12ab-44cd-96ef-1234567890ab";
    assert!(matches!(
        store.wrap(missing, &data_key, b""),
        Err(KeyError::NotFound(id)) if id == missing
    ));
}

#[test]
fn a_description_is_one_line() {
    let dir = TempDir::new();
    let store = KeyStore::open(&dir.0).expect("open");
    assert!(matches!(
        store.create_key("two\nlines"),
        Err(KeyError::BadDescription)
    ));
    assert_eq!(store.list().expect("list"), Vec::new());
}

#[test]
fn malformed_key_files_are_named_with_what_is_wrong() {
    let dir = TempDir::new();
    let store = KeyStore::open(&dir.0).expect("open");
    let id = store.create_key("good").expect("create").id;
    let path = dir.0.join(format!("{id}.key"));
    let good = fs::read_to_string(&path).expect("read");
    let base64 = good.split(' ').nth(2).expect("key field").to_owned();
    for (content, line, says) in [
        ("not a key\n".to_owned(), Some(1), "does not start with"),
        (good.replace(&base64, "AAAA"), Some(1), "base64 of 32 bytes"),
        (good.replace(" good", "x good"), Some(1), "unix seconds"),
        (
            format!("{good}second line\n"),
            Some(2),
            "text after the key line",
        ),
    ] {
        fs::write(&path, content).expect("write");
        // A new store: the first one caches keys it has read.
        let fresh = KeyStore::open(&dir.0).expect("open");
        match fresh.list() {
            Err(e @ KeyError::Invalid { .. }) => {
                let KeyError::Invalid {
                    path: p, line: l, ..
                } = &e
                else {
                    unreachable!()
                };
                assert_eq!((p, *l), (&path, line));
                let text = e.to_string();
                assert!(text.contains(says) && text.contains("restore"), "{text}");
                assert!(text.starts_with(&path.display().to_string()), "{text}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            fresh.wrap(&id, &[0; 32], b""),
            Err(KeyError::Invalid { .. })
        ));
    }
    // Readable by others: refused, with the chmod that fixes it.
    fs::write(&path, &good).expect("write");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
    let text = KeyStore::open(&dir.0)
        .expect("open")
        .list()
        .expect_err("refused")
        .to_string();
    assert!(text.contains("chmod 600"), "{text}");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
    assert_eq!(
        KeyStore::open(&dir.0)
            .expect("open")
            .list()
            .expect("list")
            .len(),
        1
    );
    // A file that claims to be a key but is not named by a key id.
    fs::write(dir.0.join("backup.key"), &good).expect("write");
    let text = KeyStore::open(&dir.0)
        .expect("open")
        .list()
        .expect_err("refused")
        .to_string();
    assert!(text.contains("backup.key"), "{text}");
}

#[test]
fn a_malformed_default_alias_is_named() {
    let dir = TempDir::new();
    let store = KeyStore::open(&dir.0).expect("open");
    store.default_key_id().expect("default");
    fs::write(dir.0.join("default.alias"), "not an id\n").expect("write");
    match KeyStore::open(&dir.0).expect("open").default_key_id() {
        Err(KeyError::Invalid { path, .. }) => assert_eq!(path, dir.0.join("default.alias")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_file_in_place_of_the_directory_is_refused() {
    let dir = TempDir::new();
    fs::create_dir_all(dir.0.parent().expect("parent")).expect("mkdir");
    fs::write(&dir.0, "").expect("write");
    assert!(matches!(
        KeyStore::open(&dir.0),
        Err(KeyError::Invalid { .. })
    ));
}
