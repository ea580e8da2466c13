//! Full disks and quotas: the client gets a clear S3 error it will not retry, nothing is
//! stored, and the space the refused upload took is given back.

use std::path::Path;
use std::process::Command;

use crate::common::{test_data, unique_bucket, ServerOpts, TempDir, TestServer};

/// A tmpfs of a fixed size, unmounted when dropped.
struct Tmpfs {
    dir: TempDir,
}

impl Tmpfs {
    /// None when this process may not mount (not root, or a container without the right).
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = TempDir::new("tmpfs");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "cannot mount a tmpfs: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_disk_answers_insufficient_storage_and_keeps_nothing() {
    let Some(disk) = Tmpfs::mount("24m") else {
        eprintln!("SKIP a_full_disk_answers_insufficient_storage_and_keeps_nothing: needs root");
        return;
    };
    let mut s = TestServer::start_with(ServerOpts {
        data_dirs: 0,
        extra_args: vec!["--data-dir".into(), disk.path().display().to_string()],
        ..ServerOpts::default()
    });
    let c = s.raw();
    let b = unique_bucket("full");
    c.create_bucket(&b);

    // Larger than the disk: refused once the disk fills, with a code clients do not retry.
    let too_big = test_data(40 << 20, 1);
    c.put(&format!("/{b}/too-big"))
        .body(too_big)
        .send()
        .assert_error(507, "InsufficientStorage");
    c.head(&format!("/{b}/too-big")).send().status(404);
    assert!(
        s.wait_for_log("InsufficientStorage", std::time::Duration::from_secs(5))
            .is_some(),
        "the log names the error"
    );

    // The refused upload's blocks are gone: two thirds of the disk can be written again.
    let fits = test_data(16 << 20, 2);
    c.put_object(&b, "fits", &fits);
    assert!(
        c.get_object(&b, "fits") == fits,
        "the object that fit comes back whole"
    );
    c.put(&format!("/{b}/second"))
        .body(test_data(16 << 20, 3))
        .send()
        .assert_error(507, "InsufficientStorage");
    assert_eq!(c.list_keys(&b, ""), ["fits"]);

    // Space freed by a delete comes back when the store is next idle, or at the latest when
    // a write finds the disk full: then one retry is enough.
    c.delete(&format!("/{b}/fits")).send().status(204);
    let again = test_data(16 << 20, 4);
    let first = c
        .put(&format!("/{b}/after-delete"))
        .body(again.clone())
        .send();
    if first.status == 507 {
        c.put_object(&b, "after-delete", &again);
    } else {
        first.status(200);
    }
    assert!(c.get_object(&b, "after-delete") == again);
    s.stop();
}

#[test]
fn a_full_sx_volume_or_cluster_answers_its_own_error() {
    let s = TestServer::start_sx();
    let Some(fake) = s.sx().and_then(|cluster| cluster.fake()) else {
        eprintln!(
            "SKIP a_full_sx_volume_or_cluster_answers_its_own_error: sizes the fake's volume"
        );
        return;
    };
    let b = unique_bucket("quota");
    fake.add_volume(&b, &s.opts.access_key, 1, &[]);
    fake.set_volume_size(&b, 2 << 20);
    let c = s.raw();

    c.put(&format!("/{b}/too-big"))
        .body(test_data(3 << 20, 1))
        .send()
        .assert_error(403, "QuotaExceeded");
    c.head(&format!("/{b}/too-big")).send().status(404);

    let fits = test_data(1 << 20, 2);
    c.put_object(&b, "fits", &fits);
    assert!(c.get_object(&b, "fits") == fits);
    // Replacing an object counts only the new one.
    c.put_object(&b, "fits", &test_data((1 << 20) + 1000, 3));
    c.put(&format!("/{b}/second"))
        .body(test_data(1 << 20, 4))
        .send()
        .assert_error(403, "QuotaExceeded");
    assert_eq!(c.list_keys(&b, ""), ["fits"]);

    // Nodes whose disks are full: a 507 from SX is the client's 507, without trying every
    // node as if they were down.
    fake.state().disks_full = true;
    c.put(&format!("/{b}/on-full-disks"))
        .body(test_data(100_000, 5))
        .send()
        .assert_error(507, "InsufficientStorage");
    fake.state().disks_full = false;
    c.head(&format!("/{b}/on-full-disks")).send().status(404);
}
