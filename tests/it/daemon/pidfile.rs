//! The pid file: one daemon per file, and what stop and status tell from it (running, stopped, dead).

use super::*;

#[test]
fn pidfile_lock_status_and_stop() {
    let scratch = scratch_dir("pidfile");
    let daemon = Daemon::start(&scratch, "");
    let pid = daemon.supervisor_pid();
    let status = daemon.command("status");
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stderr));
    assert!(text(&status.stdout).contains(&pid.to_string()));
    assert_eq!(get(daemon.s3, "/").0, 403, "anonymous ListBuckets");

    // A second instance on the same pid file refuses and names the running pid.
    let second = libres3(&[
        "serve",
        "--config",
        daemon.conf.to_str().unwrap_or_default(),
    ]);
    assert_eq!(second.status.code(), Some(1));
    let message = text(&second.stderr);
    assert!(
        message.contains(&format!("already running as pid {pid}")),
        "{message}"
    );

    let stop = daemon.command("stop");
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop.stderr));
    assert_eq!(daemon.command("status").status.code(), Some(3));
    assert_eq!(
        daemon.command("stop").status.code(),
        Some(0),
        "stop when stopped"
    );
    assert_eq!(daemon.command("reload").status.code(), Some(7));
    assert!(!daemon.path("run/libres3.pid").exists());
    assert!(daemon.log("errors.log").contains("exiting"));
}

#[test]
fn start_failure_is_reported_by_the_parent() {
    let dir = scratch_dir("startfail");
    // A data directory that is a file: the worker fails to open the store.
    std::fs::write(dir.path().join("data"), b"not a directory").expect("write");
    let conf = dir.path().join("libres3.conf");
    write_private(&conf, base_config(dir.path(), ""));
    let out = libres3(&["serve", "--config", conf.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("libres3: "),
        "{}",
        text(&out.stderr)
    );
    let status = libres3(&["status", "--config", conf.to_str().unwrap_or_default()]);
    assert_eq!(status.status.code(), Some(3));
}

#[test]
fn status_tells_a_dead_daemon_from_a_stopped_one() {
    let scratch = scratch_dir("stale");
    let daemon = Daemon::start(&scratch, "");
    let worker = daemon.worker_pid();
    let supervisor = daemon.supervisor_pid();
    // Both killed without a chance to clean up: the pid file stays, nobody holds its lock.
    signal(supervisor, "KILL");
    signal(worker, "KILL");
    wait_for("the lock to go", Duration::from_secs(15), || {
        (daemon.command("status").status.code() != Some(0)).then_some(())
    });
    assert!(daemon.path("run/libres3.pid").exists());
    let status = daemon.command("status");
    // LSB: 1 = "program is dead and /var/run pid file exists".
    assert_eq!(status.status.code(), Some(1), "{}", text(&status.stdout));
    assert!(
        text(&status.stdout).contains(&format!("still names pid {supervisor}")),
        "{}",
        text(&status.stdout)
    );
    assert_eq!(daemon.command("reload").status.code(), Some(7));
    // stop clears it (signalling nobody: the pid may be another program's by now).
    let stop = daemon.command("stop");
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop.stderr));
    assert!(text(&stop.stdout).contains("stale pid file"));
    assert!(!daemon.path("run/libres3.pid").exists());
    assert_eq!(daemon.command("status").status.code(), Some(3));
}
