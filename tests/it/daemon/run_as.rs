//! Run-as: the worker drops to another user while the supervisor keeps what only root can read.

use super::*;

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

fn uid_of(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

#[test]
fn worker_drops_privileges() {
    if !is_root() {
        println!("skipped: dropping privileges needs the tests to run as root");
        return;
    }
    let nobody = Command::new("id")
        .args(["-u", "nobody"])
        .output()
        .expect("id");
    let Ok(uid) = text(&nobody.stdout).trim().parse::<u32>() else {
        println!("skipped: there is no user nobody");
        return;
    };
    let scratch = scratch_dir("runas");
    let daemon = Daemon::start(&scratch, "run-as = nobody\n");
    let worker = daemon.worker_pid();
    assert_eq!(uid_of(worker), Some(uid), "the worker runs as nobody");
    // The supervisor keeps root to re-read the 0600 file and reopen logs; it serves nothing.
    assert_eq!(uid_of(daemon.supervisor_pid()), Some(0));
    // And the worker can use what the daemon created for it.
    let head = signed_head("PUT", "/runas-bucket", daemon.s3, 0);
    assert_eq!(request(daemon.s3, &head, b"").0, 200);
    // SIGHUP works although the worker cannot read the 0600 file itself.
    std::fs::write(
        &daemon.conf,
        base_config(&daemon.dir, "run-as = nobody\nlog_level = debug\n"),
    )
    .expect("rewrite");
    assert_eq!(daemon.command("reload").status.code(), Some(0));
    daemon.wait_for_log("errors.log", "SIGHUP: reloaded");
}

/// The encryption key is root's 0600 file: the daemon reads it before its worker drops to the
/// run-as user (who could not read it), and keeps it for the workers it restarts.
#[test]
fn encryption_key_outlives_privilege_drop_and_restarts() {
    let scratch = scratch_dir("enckey");
    let key = scratch.path().join("store.key");
    write_private(
        &key,
        "3f1c6a0e9b2d4f5a7c8e1b3d5f7a9c0e2b4d6f8a1c3e5b7d9f0a2c4e6b8d0f1a\n",
    );
    let nobody = Command::new("id")
        .args(["-u", "nobody"])
        .output()
        .ok()
        .and_then(|out| text(&out.stdout).trim().parse::<u32>().ok())
        .filter(|_| is_root());
    let run_as = if nobody.is_some() {
        "run-as = nobody\n"
    } else {
        println!("not root or no user nobody: checking restarts only");
        ""
    };
    let daemon = Daemon::start(
        &scratch,
        &format!("encryption_key_file = {}\n{run_as}", key.display()),
    );
    daemon.wait_for_log("errors.log", "encryption at rest is on");
    let first = daemon.worker_pid();
    if let Some(uid) = nobody {
        assert_eq!(uid_of(first), Some(uid), "the worker runs as nobody");
    }
    let head = signed_head("PUT", "/enc-bucket", daemon.s3, 0);
    assert_eq!(request(daemon.s3, &head, b"").0, 200);
    let body = "sealed by a daemon worker\n".repeat(5000);
    let head = signed_head("PUT", "/enc-bucket/k", daemon.s3, body.len());
    assert_eq!(request(daemon.s3, &head, body.as_bytes()).0, 200);

    signal(first, "KILL");
    wait_for("a new worker", Duration::from_secs(20), || {
        let (status, body) = get_quietly(daemon.admin, "/health")?;
        (status == 200 && !body.contains(&format!("\"pid\":{first},"))).then_some(())
    });
    let (status, got) = request(
        daemon.s3,
        &signed_head("GET", "/enc-bucket/k", daemon.s3, 0),
        b"",
    );
    assert_eq!(status, 200, "{got}");
    assert!(got == body, "the restarted worker read other bytes");
}
