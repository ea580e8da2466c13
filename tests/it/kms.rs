//! `libres3 kms create-key|list-keys`: the master keys of SSE-S3 and SSE-KMS, run as an
//! administrator runs them, against a data directory with no server.
//!
//! The keys play the part of AWS KMS keys in "Using server-side encryption with AWS KMS keys
//! (SSE-KMS)" (Amazon S3 User Guide): named by a key id, never deleted, rotated by adding one;
//! the default key stands for the AWS managed key `aws/s3`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::clients::{self, assert_success};
use crate::common::{libres3_bin, TempDir};

fn kms(data_dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(libres3_bin());
    cmd.arg("kms").args(args).arg("--data-dir").arg(data_dir);
    cmd.env("HOME", data_dir).env("RUST_LOG", "warn");
    clients::run(&mut cmd, &format!("libres3 kms {}", args.join(" ")))
}

fn stdout(out: &Output, what: &str) -> String {
    assert_success(out, what);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("exists").permissions().mode() & 0o777
}

/// A key id as AWS KMS prints one: a lower-case UUID, 8-4-4-4-12 hex digits.
fn is_key_id(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| {
            g.len() == n
                && g.chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        })
}

/// `YYYY-MM-DDTHH:MM:SS[.fff]Z`, the RFC 3339 form list-keys prints.
fn is_rfc3339_utc(t: &str) -> bool {
    let b = t.as_bytes();
    t.len() >= 20
        && t.ends_with('Z')
        && [4, 7].iter().all(|&i| b[i] == b'-')
        && b[10] == b'T'
        && [13, 16].iter().all(|&i| b[i] == b':')
}

#[test]
fn kms_create_key_and_list_keys() {
    let data = TempDir::new("kms");
    let keys = data.join("kms");

    // Nothing yet: an empty list, and listing creates nothing.
    assert_eq!(stdout(&kms(data.path(), &["list-keys"]), "list-keys"), "");
    assert!(!keys.exists(), "list-keys created the key directory");

    let first = stdout(
        &kms(
            data.path(),
            &["create-key", "--description", "archive 2027"],
        ),
        "create-key",
    );
    let first = first.trim_end().to_owned();
    assert!(is_key_id(&first), "create-key printed {first:?}");
    let second = stdout(&kms(data.path(), &["create-key"]), "create-key");
    let second = second.trim_end().to_owned();
    assert!(is_key_id(&second) && second != first, "{second:?}");

    // The directory and the key files are private to the server's user.
    assert_eq!(mode(&keys), 0o700);
    for id in [&first, &second] {
        assert_eq!(mode(&keys.join(format!("{id}.key"))), 0o600);
    }

    // The first key becomes the default (as the server makes it on first use).
    fs::write(keys.join("default.alias"), format!("{first}\n")).expect("write alias");
    let list = stdout(&kms(data.path(), &["list-keys"]), "list-keys");
    let rows: Vec<Vec<&str>> = list.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 2, "{list}");
    let row = |id: &str| {
        rows.iter()
            .find(|r| r[0] == id)
            .unwrap_or_else(|| panic!("{id} not listed:\n{list}"))
    };
    assert_eq!(row(&first)[2..], ["default", "archive 2027"], "{list}");
    assert_eq!(row(&second)[2..], ["-", ""], "{list}");
    for r in &rows {
        assert!(is_rfc3339_utc(r[1]), "created {:?} is not RFC 3339", r[1]);
    }
    // Oldest first.
    assert!(rows[0][1] <= rows[1][1], "{list}");

    // A damaged key file is named, with what is wrong.
    let damaged = keys.join(format!("{second}.key"));
    fs::write(&damaged, "libres3-kms-key v1 not-base64 0 \n").expect("write");
    let out = kms(data.path(), &["list-keys"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a damaged key file listed");
    assert!(
        stderr.contains(&damaged.display().to_string()) && stderr.contains("base64"),
        "{stderr}"
    );
}

#[test]
fn kms_key_dir_from_the_configuration_file() {
    let root = TempDir::new("kms-conf");
    let conf = root.join("libres3.conf");
    fs::write(&conf, "kms_key_dir = master-keys\n").expect("write conf");
    fs::set_permissions(&conf, fs::Permissions::from_mode(0o600)).expect("chmod");
    let data = root.join("data");
    let mut cmd = Command::new(libres3_bin());
    cmd.args(["kms", "create-key", "--config"])
        .arg(&conf)
        .arg("--data-dir")
        .arg(&data)
        .env("HOME", root.path());
    let id = stdout(
        &clients::run(&mut cmd, "libres3 kms create-key"),
        "create-key",
    );
    // Relative to the file's directory; nothing under the data directory.
    assert!(root
        .join(format!("master-keys/{}.key", id.trim_end()))
        .exists());
    assert!(!data.join("kms").exists());

    // An unknown subcommand is a usage error.
    let out = kms(&data, &["delete-key"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: libres3 kms"));
}
