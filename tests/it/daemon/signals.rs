//! Signals: SIGHUP reloads the file, SIGUSR1 reopens moved logs, SIGTERM drains what is in flight.

use super::*;

#[test]
fn sighup_applies_a_good_file_and_refuses_a_broken_one() {
    let scratch = scratch_dir("sighup");
    let daemon = Daemon::start(&scratch, "max_object_size = 1M\n");
    let put = |size: usize| {
        let head = signed_head("PUT", "/hup-bucket/k", daemon.s3, size);
        request(daemon.s3, &head, &vec![b'x'; size])
    };
    let head = signed_head("PUT", "/hup-bucket", daemon.s3, 0);
    assert_eq!(request(daemon.s3, &head, b"").0, 200);
    assert_eq!(put(100).0, 200);

    std::fs::write(
        &daemon.conf,
        base_config(&daemon.dir, "max_object_size = 10\n"),
    )
    .expect("rewrite");
    assert_eq!(daemon.command("reload").status.code(), Some(0));
    daemon.wait_for_log("errors.log", "max_object_size 10,");
    let (status, body) = put(100);
    assert_eq!(status, 400);
    assert!(body.contains("EntityTooLarge"), "{body}");

    // A broken file: `reload` says so; a raw SIGHUP is refused and logged; the old
    // settings stay.
    std::fs::write(
        &daemon.conf,
        base_config(&daemon.dir, "max_object_size = big\n"),
    )
    .expect("rewrite");
    let reload = daemon.command("reload");
    assert_eq!(reload.status.code(), Some(1));
    assert!(text(&reload.stderr).contains("max_object_size"));
    signal(daemon.supervisor_pid(), "HUP");
    daemon.wait_for_log("errors.log", "keeping the running one");
    assert_eq!(put(100).0, 400);
    assert_eq!(put(5).0, 200);
}

#[test]
fn sigusr1_reopens_moved_logs() {
    let scratch = scratch_dir("usr1");
    let daemon = Daemon::start(&scratch, "");
    // Anonymous, on a bucket that does not exist: NoSuchBucket, and a line in access.log.
    assert_eq!(get(daemon.s3, "/first").0, 404);
    daemon.wait_for_log("access.log", "/first");
    std::fs::rename(
        daemon.path("log/access.log"),
        daemon.path("log/access.log.1"),
    )
    .expect("move log");
    std::fs::rename(
        daemon.path("log/errors.log"),
        daemon.path("log/errors.log.1"),
    )
    .expect("move log");
    signal(daemon.supervisor_pid(), "USR1");
    daemon.wait_for_log("errors.log", "reopened the log files");
    assert_eq!(get(daemon.s3, "/second").0, 404);
    daemon.wait_for_log("access.log", "/second");
    let old = std::fs::read_to_string(daemon.path("log/access.log.1")).expect("old log");
    assert!(old.contains("/first") && !old.contains("/second"), "{old}");
    // Apache combined, then the request id, the operation and the duration.
    let line = daemon.log("access.log");
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    assert!(line.contains("\"GET /second HTTP/1.1\" 404 "), "{line}");
    assert!(line.trim_end().ends_with("ms"), "{line}");
}

#[test]
fn sigterm_drains_an_upload_in_flight() {
    let scratch = scratch_dir("drain");
    let daemon = Daemon::start(&scratch, "");
    let head = signed_head("PUT", "/drain-bucket", daemon.s3, 0);
    assert_eq!(request(daemon.s3, &head, b"").0, 200);

    let size = 1 << 20;
    let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let head = signed_head("PUT", "/drain-bucket/big", daemon.s3, size);
    let mut upload = half_sent(&daemon, &head, &body);

    let supervisor = daemon.supervisor_pid();
    signal(supervisor, "TERM");
    // The port closes for new connections while the upload goes on.
    wait_for("the port to close", Duration::from_secs(10), || {
        TcpStream::connect(daemon.s3).is_err().then_some(())
    });
    upload.write_all(&body[size / 2..]).expect("second half");
    let (status, answer) = read_response(&mut upload);
    assert_eq!(status, 200, "{answer}");
    wait_for("the daemon to exit", Duration::from_secs(30), || {
        (daemon.command("status").status.code() == Some(3)).then_some(())
    });
    daemon.wait_for_log("errors.log", "stopped (exit code 0); exiting");

    // Nothing lost: a new daemon on the same data serves the object whole.
    drop(daemon);
    let again = Daemon::start(&scratch, "");
    let mut stream = TcpStream::connect(again.s3).expect("connect");
    stream
        .write_all(signed_head("GET", "/drain-bucket/big", again.s3, 0).as_bytes())
        .expect("get");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    assert!(text(&raw[..split]).starts_with("HTTP/1.1 200"));
    assert!(raw[split + 4..] == body[..], "the object came back whole");
}

#[test]
fn shutdown_timeout_bounds_the_drain() {
    let scratch = scratch_dir("draincap");
    // No body timeout: only shutdown_timeout can end the stalled upload below.
    let text = base_config(scratch.path(), "client_body_timeout = 0\n")
        .replace("shutdown_timeout = 20\n", "shutdown_timeout = 1\n");
    let daemon = Daemon::start_with(&scratch, &text);
    let head = signed_head("PUT", "/cap-bucket", daemon.s3, 0);
    assert_eq!(request(daemon.s3, &head, b"").0, 200);
    let mut upload = TcpStream::connect(daemon.s3).expect("connect");
    upload
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    upload
        .write_all(signed_head("PUT", "/cap-bucket/stalled", daemon.s3, 1000).as_bytes())
        .expect("head");
    upload.write_all(&[b'x'; 10]).expect("some of the body");
    wait_for(
        "the upload to be in flight",
        Duration::from_secs(10),
        || {
            let (_, stats) = get(daemon.admin, "/stats");
            stats.contains("\"in_flight_uploads\":1").then_some(())
        },
    );
    signal(daemon.supervisor_pid(), "TERM");
    // The default (30 s) would outlast this wait; the configured second does not.
    wait_for("the daemon to exit", Duration::from_secs(20), || {
        (daemon.command("status").status.code() == Some(3)).then_some(())
    });
    daemon.wait_for_log("errors.log", "stopped (exit code 0); exiting");
    let (_, _, closed) = read_until_closed(&mut upload);
    assert!(closed, "the stalled upload's connection was closed");
}
