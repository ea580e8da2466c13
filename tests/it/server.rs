//! The binary's command line: several listeners and data directories, user
//! management and per-user isolation, and the fixture's own cleanup.

use crate::common::raw::obj_path;
use crate::common::{
    test_data, unique_bucket, xml_child_texts, Creds, RawClient, ServerOpts, TestServer,
};

#[test]
fn fixture_removes_its_data_dir() {
    let s = TestServer::start();
    let dir = s.data_dir().to_path_buf();
    s.raw().create_bucket(&unique_bucket("fixture"));
    assert!(dir.exists());
    drop(s);
    assert!(!dir.exists(), "{} left behind", dir.display());
}

#[test]
fn several_listeners_serve_the_same_store() {
    let s = TestServer::start_with(ServerOpts {
        listeners: 2,
        ..ServerOpts::default()
    });
    assert_eq!(s.addrs.len(), 2);
    assert_ne!(s.addrs[0], s.addrs[1]);
    let a = RawClient::new(s.addrs[0], s.creds());
    let b2 = RawClient::new(s.addrs[1], s.creds());
    let b = unique_bucket("listeners");
    a.create_bucket(&b);
    a.put_object(&b, "k", b"via first");
    assert_eq!(b2.get_object(&b, "k"), b"via first");
}

#[test]
fn several_data_dirs_hold_the_data() {
    let s = TestServer::start_with(ServerOpts {
        data_dirs: 2,
        ..ServerOpts::default()
    });
    let c = s.raw();
    let b = unique_bucket("datadirs");
    c.create_bucket(&b);
    let objects: Vec<Vec<u8>> = (0..24)
        .map(|i| test_data(20_000 + i * 7, 100 + i as u64))
        .collect();
    for (i, d) in objects.iter().enumerate() {
        c.put_object(&b, &format!("o{i}"), d);
    }
    for (i, d) in objects.iter().enumerate() {
        assert_eq!(&c.get_object(&b, &format!("o{i}")), d);
    }
    // Blocks are spread over both directories.
    for dir in &s.data_dirs {
        let n = count_files(dir);
        assert!(n > 0, "{} holds no file after 24 uploads", dir.display());
    }
    let total: u64 = s.data_dirs.iter().map(|d| dir_size(d)).sum();
    let data: u64 = objects.iter().map(|o| o.len() as u64).sum();
    assert!(
        total >= data,
        "the data dirs hold {total} bytes, less than the {data} bytes stored"
    );
}

fn count_files(dir: &std::path::Path) -> usize {
    crate::common::files_under(&[dir.to_path_buf()]).len()
}

fn dir_size(dir: &std::path::Path) -> u64 {
    crate::common::files_under(&[dir.to_path_buf()])
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// The value after "access key" / "secret key" in `user add`'s output.
fn printed_key(out: &str, what: &str) -> String {
    out.lines()
        .find(|l| l.to_ascii_lowercase().contains(what))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or_else(|| panic!("no {what} in:\n{out}"))
        .to_string()
}

#[test]
fn users_are_isolated() {
    let mut s = TestServer::start();
    let b = unique_bucket("alice");
    s.raw().create_bucket(&b);
    s.raw().put_object(&b, "private", b"alice's data");

    // Users are managed while the server runs.
    s.admin(&[
        "user",
        "add",
        "bob",
        "--access-key",
        "AKIABOBBOBBOBBOB0001",
        "--secret-key",
        "bob-secret-key-0123456789abcdef",
    ]);
    // A generated pair is printed when none is given.
    let out = s.admin(&["user", "add", "carol"]);
    let carol = Creds::new(
        &printed_key(&out, "access key"),
        &printed_key(&out, "secret key"),
    );
    let list = s.admin(&["user", "list"]);
    for name in ["admin", "bob", "carol"] {
        assert!(list.contains(name), "user list lacks {name}:\n{list}");
    }
    for key in [
        s.opts.access_key.as_str(),
        "AKIABOBBOBBOBBOB0001",
        &carol.access,
    ] {
        assert!(list.contains(key), "user list lacks {key}:\n{list}");
    }
    assert!(
        !list.contains("bob-secret-key"),
        "user list prints secrets without being asked:\n{list}"
    );

    let alice = s.raw();
    let bob = alice.with_creds(Creds::new(
        "AKIABOBBOBBOBBOB0001",
        "bob-secret-key-0123456789abcdef",
    ));
    let carol = alice.with_creds(carol);
    // Carol's generated keys work, and she has no bucket.
    let text = carol.get("/").send().ok().text();
    assert!(
        xml_child_texts(&text, "Bucket", "Name").is_empty(),
        "{text}"
    );
    // Bob sees no bucket of Alice's and cannot read or write in hers.
    let text = bob.get("/").send().ok().text();
    assert!(
        !xml_child_texts(&text, "Bucket", "Name").contains(&b),
        "bob sees alice's bucket:\n{text}"
    );
    bob.get(&obj_path(&b, "private"))
        .send()
        .assert_error(403, "AccessDenied");
    bob.head(&obj_path(&b, "private"))
        .send()
        .assert_error(403, "AccessDenied");
    bob.get(&format!("/{b}"))
        .send()
        .assert_error(403, "AccessDenied");
    bob.put(&obj_path(&b, "intruder"))
        .body("x")
        .send()
        .assert_error(403, "AccessDenied");
    bob.delete(&obj_path(&b, "private"))
        .send()
        .assert_error(403, "AccessDenied");
    bob.delete(&format!("/{b}"))
        .send()
        .assert_error(403, "AccessDenied");
    assert_eq!(alice.get_object(&b, "private"), b"alice's data");
    assert_eq!(alice.list_keys(&b, ""), vec!["private"]);

    // Bob's own bucket is his only.
    let bb = unique_bucket("bob");
    bob.create_bucket(&bb);
    bob.put_object(&bb, "mine", b"bob's");
    let text = bob.get("/").send().ok().text();
    assert_eq!(xml_child_texts(&text, "Bucket", "Name"), vec![bb.clone()]);
    let text = alice.get("/").send().ok().text();
    assert_eq!(xml_child_texts(&text, "Bucket", "Name"), vec![b.clone()]);
    alice
        .get(&obj_path(&bb, "mine"))
        .send()
        .assert_error(403, "AccessDenied");

    // Removing bob: his key stops working at once.
    s.admin(&["user", "remove", "bob"]);
    let list = s.admin(&["user", "list"]);
    assert!(
        !list.contains("AKIABOBBOBBOBBOB0001"),
        "bob still listed:\n{list}"
    );
    assert!(
        !s.admin_output(&["user", "remove", "bob"]).status.success(),
        "removing a missing user should fail"
    );
    bob.get("/").send().assert_error(403, "InvalidAccessKeyId");
    // Users and data survive a restart.
    s.restart();
    let carol = s.raw().with_creds(carol.creds.clone());
    carol.get("/").send().ok();
    s.raw()
        .with_creds(Creds::new(
            "AKIABOBBOBBOBBOB0001",
            "bob-secret-key-0123456789abcdef",
        ))
        .get("/")
        .send()
        .assert_error(403, "InvalidAccessKeyId");
    assert_eq!(s.raw().get_object(&b, "private"), b"alice's data");
}

/// The server keeps the users it saw in memory, yet a change `libres3 user` makes from its own
/// process counts from the next request: a key used a moment ago is refused with
/// InvalidAccessKeyId once its user is removed, and a user given a new secret under the same
/// access key is refused with the old one (SignatureDoesNotMatch). Codes and statuses:
/// https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList
#[test]
fn user_changes_by_the_cli_count_at_the_next_request() {
    let s = TestServer::start();
    let access = "AKIADAVEDAVEDAVE0001";
    let (old_secret, new_secret) = ("dave-old-secret-0123456789", "dave-new-secret-9876543210");
    let add_dave = |secret: &str| {
        s.admin(&[
            "user",
            "add",
            "dave",
            "--access-key",
            access,
            "--secret-key",
            secret,
        ])
    };
    add_dave(old_secret);
    let old = s.raw().with_creds(Creds::new(access, old_secret));
    let new = s.raw().with_creds(Creds::new(access, new_secret));
    old.get("/").send().ok();
    old.get("/").send().ok();

    // A new secret, with no request in between: the old signature no longer verifies.
    s.admin(&["user", "remove", "dave"]);
    add_dave(new_secret);
    old.get("/")
        .send()
        .assert_error(403, "SignatureDoesNotMatch");
    new.get("/").send().ok();
    new.get("/").send().ok();

    s.admin(&["user", "remove", "dave"]);
    new.get("/").send().assert_error(403, "InvalidAccessKeyId");
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused() {
    let s = TestServer::start();
    let mut cmd = std::process::Command::new(crate::common::libres3_bin());
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(s.data_dir())
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null());
    let out = crate::common::clients::run_with_timeout(
        &mut cmd,
        "second libres3 serve on the same data dir",
        std::time::Duration::from_secs(30),
    );
    assert!(
        out.status.code().is_some_and(|c| c != 0),
        "a second server on the same data dir should refuse to start ({})",
        out.status
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening"),
        "the second server listened"
    );
    // The first is unharmed.
    let b = unique_bucket("second");
    s.raw().create_bucket(&b);
}

/// What a newcomer sees: a fresh store without LIBRES3_* keys creates an
/// admin user, prints its keys once with an aws example, and keeps the
/// secret in files no one else can read.
#[test]
fn first_start_generates_and_prints_admin_keys_once() {
    use std::os::unix::fs::PermissionsExt;
    let mut s = TestServer::start_with(ServerOpts {
        keys_from_env: false,
        ..ServerOpts::default()
    });
    let out = s.stdout().join("\n");
    let key_after = |what: &str| {
        out.lines()
            .find(|l| l.contains(what))
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or_else(|| panic!("no {what} printed on first start:\n{out}"))
            .to_string()
    };
    let creds = Creds::new(&key_after("access key"), &key_after("secret key"));
    assert!(out.contains("aws --endpoint-url"), "no aws example:\n{out}");
    assert!(
        out.contains(&format!("AWS_SECRET_ACCESS_KEY={}", creds.secret)),
        "the aws example lacks the keys:\n{out}"
    );
    // The printed keys work, with awscli as the example says.
    let aws = crate::common::clients::Aws::with_creds(&s, creds.clone());
    let b = unique_bucket("newcomer");
    aws.ok(&["s3", "mb", &format!("s3://{b}")]);
    assert!(aws.ok(&["s3", "ls"]).contains(&b));

    // Stored, and only for the owner.
    let mut holders = Vec::new();
    for f in crate::common::files_under(&[s.data_dir().to_path_buf()]) {
        let Ok(bytes) = std::fs::read(&f) else {
            continue;
        };
        if bytes
            .windows(creds.secret.len())
            .any(|w| w == creds.secret.as_bytes())
        {
            let mode = std::fs::metadata(&f).unwrap().permissions().mode();
            assert_eq!(
                mode & 0o077,
                0,
                "{} holds the secret with mode {mode:o}",
                f.display()
            );
            holders.push(f);
        }
    }
    assert!(
        !holders.is_empty(),
        "the secret key is stored nowhere in the data dir"
    );

    // A second start does not print the secret again; the keys still work.
    let printed_before = s.stdout().len();
    s.restart();
    let again = s.stdout()[printed_before..].join("\n");
    assert!(
        !again.contains(&creds.secret),
        "the secret was printed again:\n{again}"
    );
    let r = s.raw().with_creds(creds).get("/").send().ok().text();
    assert_eq!(xml_child_texts(&r, "Bucket", "Name"), vec![b]);
}
