//! Encryption at rest of the embedded store (`encryption_key_file`), end to end: the real
//! binary driven by boto3 and awscli, then the data directories scanned for a plaintext marker
//! (with a plain store as the control that shows the scan finds one), tampered data, and the
//! startup refusals.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::clients::{self, boto3, Aws};
use crate::common::raw::sha256_hex;
use crate::common::{
    files_containing, files_under, hex, libres3_bin, md5_hex, test_data, unique_bucket, ServerOpts,
    TempDir, TestServer,
};

const MIB: usize = 1024 * 1024;
/// The embedded store's block size (`BLOCK_SIZE` in src/store/local/blocks.rs).
const BLOCK: usize = 4 * MIB;

/// Written into every test object, many times per block; must never reach an encrypted disk.
const MARKER: &[u8] = b"==libres3 it plaintext marker 9b2e==";

/// How long a log line may take to travel through the server's stderr pipe.
const LOG_WAIT: Duration = Duration::from_secs(30);

/// A block's name in a store without encryption (BLAKE3 since the store records it).
fn blake3_hex(data: &[u8]) -> String {
    hex(blake3::hash(data).as_bytes())
}

/// `len` bytes of test data with the marker every 4 KiB.
fn marked(len: usize, seed: u64) -> Vec<u8> {
    let mut data = test_data(len, seed);
    let mut at = 100;
    while at + MARKER.len() <= len {
        data[at..at + MARKER.len()].copy_from_slice(MARKER);
        at += 4096;
    }
    data
}

/// A key file made the way the documentation says, `openssl rand -hex 32` under umask 077
/// (or the same format from ring where openssl is missing).
fn write_key(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let with_openssl = Command::new("sh")
        .arg("-c")
        .arg("command -v openssl >/dev/null && (umask 077; openssl rand -hex 32 > \"$1\")")
        .arg("sh")
        .arg(&path)
        .status()
        .is_ok_and(|status| status.success());
    if !with_openssl {
        use ring::rand::SecureRandom;
        let mut key = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut key)
            .expect("system randomness");
        fs::write(&path, format!("{}\n", hex(&key))).expect("write key");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod key");
    }
    let text = fs::read_to_string(&path).expect("read key");
    assert_eq!(text.len(), 65, "key file {}: {text:?}", path.display());
    path
}

/// A configuration file; `encryption_key_file` is on line 3 when a key is given.
fn write_conf(dir: &Path, name: &str, key: Option<&Path>) -> PathBuf {
    let path = dir.join(name);
    let mut text = String::from("# tests/it/encryption.rs\nadmin_listen = off\n");
    if let Some(key) = key {
        text.push_str(&format!("encryption_key_file = {}\n", key.display()));
    }
    fs::write(&path, text).expect("write conf");
    path
}

fn start(conf: &Path, data_dirs: usize) -> TestServer {
    TestServer::start_with(ServerOpts {
        data_dirs,
        extra_args: vec!["--config".into(), conf.display().to_string()],
        ..ServerOpts::default()
    })
}

fn block_files(server: &TestServer) -> Vec<PathBuf> {
    let roots: Vec<PathBuf> = server.data_dirs.iter().map(|d| d.join("blocks")).collect();
    files_under(&roots)
}

fn file_names(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .filter_map(|f| f.file_name()?.to_str().map(str::to_owned))
        .collect()
}

/// What `upload_objects` stored, by key.
struct Uploaded {
    objects: Vec<(&'static str, Vec<u8>)>,
    big: Vec<u8>,
}

/// Stores, with boto3, an inline-sized object, a 3-block one, a multipart object (a 5 MiB part
/// and an UploadPartCopy of the small object) and a copy; checks whole and ranged reads.
fn upload_objects(server: &TestServer, bucket: &str, encrypted: bool) -> Uploaded {
    let dir = server.scratch("encryption-data");
    let small = marked(20_000, 1);
    let big = marked(2 * BLOCK + BLOCK / 2 + 7, 2);
    let part1 = marked(5 * MIB, 3);
    for (name, data) in [("small", &small), ("big", &big), ("part1", &part1)] {
        fs::write(dir.join(name), data).expect("write test data");
    }
    let mut multi = part1.clone();
    multi.extend_from_slice(&small);
    let (block, five) = (BLOCK, 5 * MIB);
    let ranges: Vec<(&str, usize, usize)> = vec![
        ("small", 10, 99),
        ("big", 0, 0),
        ("big", block - 6, 2 * block + 9),
        ("big", big.len() - 10, big.len() - 1),
        ("multi", five - 5, five + 100),
        ("small-copy", 19_990, 19_999),
    ];
    let range_list: Vec<Value> = ranges
        .iter()
        .map(|(key, first, last)| json!([key, format!("bytes={first}-{last}")]))
        .collect();
    let range_env = Value::from(range_list).to_string();
    let file = |name: &str| dir.join(name).display().to_string();
    let v = boto3(
        server,
        include_str!("py/boto3_encryption.py"),
        bucket,
        &[
            ("SMALL_FILE", &file("small")),
            ("BIG_FILE", &file("big")),
            ("PART1_FILE", &file("part1")),
            ("RANGES", &range_env),
        ],
    );
    // Every write (and a read) says SSE-S3 exactly when the store encrypts, as AWS does.
    let expected = if encrypted {
        Value::from("AES256")
    } else {
        Value::Null
    };
    let answers = v["sse"].as_object().expect("sse answers");
    assert_eq!(answers.len(), 7, "{answers:?}");
    for (operation, answer) in answers {
        assert_eq!(
            answer, &expected,
            "{operation}: x-amz-server-side-encryption"
        );
    }
    let objects = vec![
        ("small", small.clone()),
        ("big", big.clone()),
        ("multi", multi),
        ("small-copy", small),
    ];
    for (key, data) in &objects {
        assert_eq!(v["whole"][key], Value::from(md5_hex(data)), "GET {key}");
    }
    for (key, first, last) in ranges {
        let data = &objects.iter().find(|(k, _)| *k == key).expect("key").1;
        let name = format!("{key} bytes={first}-{last}");
        assert_eq!(
            v["ranges"][&name],
            Value::from(md5_hex(&data[first..=last])),
            "GET {name}"
        );
    }
    Uploaded { objects, big }
}

#[test]
fn encrypted_store_keeps_no_plaintext_on_disk() {
    let tmp = TempDir::new("encryption");
    let key = write_key(tmp.path(), "store.key");
    let key_text = fs::read_to_string(&key).expect("read key");
    let conf = write_conf(tmp.path(), "libres3.conf", Some(&key));
    let mut server = start(&conf, 2);
    let started = server
        .wait_for_log("encryption at rest is on", LOG_WAIT)
        .expect("the start logs that encryption is on");
    assert!(started.contains(&key.display().to_string()), "{started}");
    let bucket = unique_bucket("encrypted");
    let uploaded = upload_objects(&server, &bucket, true);

    // Blocks are named by a keyed hash: no file is named by a plain hash of a block.
    let names = file_names(&block_files(&server));
    assert!(!names.is_empty());
    for chunk in uploaded.big.chunks(BLOCK) {
        assert!(
            !names.contains(&sha256_hex(chunk)) && !names.contains(&blake3_hex(chunk)),
            "a block named by a plain hash"
        );
    }

    // No file holds the marker while the server runs (the index's WAL included)...
    let files = files_under(&server.data_dirs);
    assert!(
        files.iter().any(|f| f.ends_with("index.sqlite-wal")),
        "no WAL to scan: {files:?}"
    );
    assert_eq!(
        files_containing(&server.data_dirs, MARKER),
        Vec::<PathBuf>::new()
    );
    // ...nor once it has stopped; and the key is never logged.
    server.stop();
    assert_eq!(
        files_containing(&server.data_dirs, MARKER),
        Vec::<PathBuf>::new()
    );
    let key_hex = key_text.trim();
    assert!(
        !server.stderr().iter().any(|line| line.contains(key_hex)),
        "the key was logged"
    );

    // Restarted with its key, the store serves everything again, to awscli too.
    server.restart();
    // Every object is an SSE-S3 object, and asking for SSE-S3 is accepted truthfully.
    let raw = server.raw();
    let sse_path = format!("/{bucket}/sse-s3");
    let put = raw
        .put(&sse_path)
        .header("x-amz-server-side-encryption", "AES256")
        .body("asked to be encrypted")
        .send()
        .ok();
    assert_eq!(put.header("x-amz-server-side-encryption"), Some("AES256"));
    let head = raw.head(&sse_path).send().ok();
    assert_eq!(head.header("x-amz-server-side-encryption"), Some("AES256"));
    // The same request as a POST Object form field.
    let fields: clients::FormFields = &[("x-amz-server-side-encryption", "AES256")];
    let posted = clients::presigned_posts(&server, &bucket, "posted", &[("sse-s3-post", fields)]);
    assert_eq!(posted[0].status, 204, "{}", posted[0].text());
    assert_eq!(
        posted[0].header("x-amz-server-side-encryption"),
        Some("AES256")
    );
    assert_eq!(raw.get_object(&bucket, "sse-s3-post"), b"posted");
    let aws = Aws::new(&server);
    let out = server.scratch("encryption-get");
    for (key, data) in &uploaded.objects {
        let path = out.join(key);
        aws.ok(&[
            "s3",
            "cp",
            &format!("s3://{bucket}/{key}"),
            path.to_str().expect("utf-8 path"),
        ]);
        assert_eq!(
            md5_hex(&fs::read(&path).expect("read download")),
            md5_hex(data),
            "{key}"
        );
    }
}

/// The control of the test above: the same uploads to a store without a key leave the marker
/// in block files and in the index, and name blocks by a plain hash (BLAKE3), so those checks
/// can fail.
#[test]
fn plain_store_control_shows_the_marker() {
    let tmp = TempDir::new("encryption-control");
    let conf = write_conf(tmp.path(), "libres3.conf", None);
    let mut server = start(&conf, 1);
    let uploaded = upload_objects(&server, &unique_bucket("plain"), false);
    let names = file_names(&block_files(&server));
    for chunk in uploaded.big.chunks(BLOCK) {
        assert!(names.contains(&blake3_hex(chunk)));
    }
    server.stop();
    let found = files_containing(&server.data_dirs, MARKER);
    let blocks = server.data_dir().join("blocks");
    assert!(found.iter().any(|f| f.starts_with(&blocks)), "{found:?}");
    assert!(
        found.iter().any(|f| f
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("index.sqlite"))),
        "{found:?}"
    );
}

/// Flips one bit in the middle of a file.
fn flip_byte(path: &Path) {
    let mut data = fs::read(path).expect("read");
    let at = data.len() / 2;
    data[at] ^= 0x20;
    fs::write(path, data).expect("write");
}

#[test]
fn tampered_data_answers_internal_error() {
    let tmp = TempDir::new("encryption-tamper");
    let key = write_key(tmp.path(), "store.key");
    let conf = write_conf(tmp.path(), "libres3.conf", Some(&key));
    let server = start(&conf, 1);
    let raw = server.raw();
    let bucket = unique_bucket("tamper");
    raw.create_bucket(&bucket);
    let big = marked(2 * BLOCK + 1000, 4);
    raw.put_object(&bucket, "big", &big).ok();
    raw.put_object(&bucket, "small", b"a small object, kept in the index")
        .ok();
    let path = format!("/{bucket}/big");

    // One flipped byte in each block file.
    let files = block_files(&server);
    assert_eq!(files.len(), 3, "{files:?}");
    let originals: Vec<Vec<u8>> = files.iter().map(|f| fs::read(f).expect("read")).collect();
    for file in &files {
        flip_byte(file);
    }
    raw.get(&path).send().assert_error(500, "InternalError");
    let logged = server
        .wait_for_log("failed authentication", LOG_WAIT)
        .expect("the failure is logged");
    assert!(
        files
            .iter()
            .any(|f| logged.contains(&f.display().to_string())),
        "the log names no block file: {logged}"
    );
    // A range inside one block fails as well: blocks are authenticated whole.
    raw.get(&path)
        .header("range", "bytes=2097152-2097160")
        .send()
        .assert_error(500, "InternalError");

    // Repaired, the object reads again.
    for (file, original) in files.iter().zip(&originals) {
        fs::write(file, original).expect("restore");
    }
    let body = raw.get(&path).send().ok().body;
    assert_eq!(md5_hex(&body), md5_hex(&big));

    // Inline data changed in the index fails the same way.
    let index = server.data_dir().join("index.sqlite");
    let conn = rusqlite::Connection::open(&index).expect("open index");
    conn.busy_timeout(Duration::from_secs(10))
        .expect("busy timeout");
    let select = "SELECT inline_data FROM objects WHERE bucket = ?1 AND key = ?2";
    let update = "UPDATE objects SET inline_data = ?1 WHERE bucket = ?2 AND key = ?3";
    let sealed: Vec<u8> = conn
        .query_row(select, (&bucket, b"small".as_slice()), |row| row.get(0))
        .expect("inline row");
    let mut bad = sealed.clone();
    bad[sealed.len() / 2] ^= 0x01;
    conn.execute(update, (&bad, &bucket, b"small".as_slice()))
        .expect("update");
    let small_path = format!("/{bucket}/small");
    raw.get(&small_path)
        .send()
        .assert_error(500, "InternalError");
    conn.execute(update, (&sealed, &bucket, b"small".as_slice()))
        .expect("restore");
    assert_eq!(
        raw.get(&small_path).send().ok().body,
        b"a small object, kept in the index"
    );
}

/// Runs `libres3 ARGS` expecting it to stop with exit status 1; returns its one
/// `libres3: ...` error line.
fn fails(args: &[&str], home: &Path) -> String {
    let mut cmd = clients::clean_command(&libres3_bin(), home);
    cmd.args(args).env("RUST_LOG", "warn");
    let what = format!("libres3 {}", args.join(" "));
    let out = clients::run_with_timeout(&mut cmd, &what, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{what}:\n{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("libres3: "))
        .collect();
    assert_eq!(lines.len(), 1, "{what}: one error line expected:\n{stderr}");
    lines[0].to_string()
}

fn serve_fails(conf: &Path, data: &Path, home: &Path) -> String {
    let (conf, data) = (conf.display().to_string(), data.display().to_string());
    fails(
        &[
            "serve",
            "--config",
            &conf,
            "--data-dir",
            &data,
            "--listen",
            "127.0.0.1:0",
        ],
        home,
    )
}

#[test]
fn startup_refuses_a_missing_wrong_or_unexpected_key() {
    let tmp = TempDir::new("encryption-keys");
    let home = tmp.path();
    let key = write_key(home, "store.key");
    let other = write_key(home, "other.key");
    let with_key = write_conf(home, "with-key.conf", Some(&key));
    let with_other = write_conf(home, "with-other.conf", Some(&other));
    let without = write_conf(home, "without.conf", None);

    let mut server = start(&with_key, 1);
    let bucket = unique_bucket("keys");
    server.raw().create_bucket(&bucket);
    let data = marked(MIB + 17, 5);
    server.raw().put_object(&bucket, "k", &data).ok();
    server.stop();
    let data_dir = server.data_dir().to_path_buf();
    let index = data_dir.join("index.sqlite").display().to_string();

    // Without its key.
    let line = serve_fails(&without, &data_dir, home);
    assert!(line.starts_with(&format!("libres3: {index}: ")), "{line}");
    assert!(line.contains("is encrypted"), "{line}");
    assert!(line.contains("set encryption_key_file"), "{line}");

    // With another key: names the configuration line, the key file and the fix.
    let line = serve_fails(&with_other, &data_dir, home);
    let setting = format!(
        "{}:3: encryption_key_file = {}",
        with_other.display(),
        other.display()
    );
    assert!(line.contains(&setting), "{line}");
    assert!(
        line.contains("not the key of the encrypted store"),
        "{line}"
    );
    assert!(line.contains(&index), "{line}");

    // A key file in another format: names the file and how to make one.
    let bad = home.join("bad.key");
    for content in [&b"not a key\n"[..], &[0xa7; 32][..]] {
        fs::write(&bad, content).expect("write bad key");
        fs::set_permissions(&bad, fs::Permissions::from_mode(0o600)).expect("chmod");
        let bad_conf = write_conf(home, "bad.conf", Some(&bad));
        let line = serve_fails(&bad_conf, &data_dir, home);
        assert!(
            line.contains(&format!("{}:3: ", bad_conf.display())),
            "{line}"
        );
        assert!(line.contains("64 hex digits"), "{line}");
        assert!(line.contains("openssl rand -hex 32"), "{line}");
        let conf_arg = bad_conf.display().to_string();
        let line = fails(&["check-config", "--config", &conf_arg], home);
        assert!(line.contains("64 hex digits"), "check-config: {line}");
    }

    // A key file others may read.
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).expect("chmod");
    let line = serve_fails(&with_key, &data_dir, home);
    assert!(line.contains(&key.display().to_string()), "{line}");
    assert!(line.contains("readable by group or others"), "{line}");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).expect("chmod");

    // None of that changed the store: with its key it serves the object.
    server.restart();
    let got = server.raw().get(&format!("/{bucket}/k")).send().ok().body;
    assert_eq!(md5_hex(&got), md5_hex(&data));
    server.stop();

    // A store created without encryption refuses a key.
    let mut plain = start(&without, 1);
    plain.raw().create_bucket(&unique_bucket("plain"));
    plain.stop();
    let line = serve_fails(&with_key, plain.data_dir(), home);
    assert!(line.contains("created without encryption"), "{line}");
    assert!(line.contains(&key.display().to_string()), "{line}");
}
