//! Limits and timeouts: slow or stalled clients, max_parallel, size limits and their S3 errors.

use super::*;

/// Reads one response (head and Content-Length body) and leaves the connection open.
fn read_one_response(stream: &mut TcpStream) -> std::io::Result<(u16, String)> {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        raw.push(byte[0]);
    }
    let head = text(&raw);
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body)?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, text(&body)))
}

#[test]
fn limits_answer_with_their_s3_errors() {
    let scratch = scratch_dir("limits");
    let daemon = Daemon::start(&scratch, "max_header_size = 1K\nmax_object_size = 3M\n");
    let head = signed_head("PUT", "/lim-bucket", daemon.s3, 0);
    assert_eq!(request(daemon.s3, &head, b"").0, 200);

    // Headers: the configured cap, then a larger one from a reload.
    let filler = format!("X-Filler: {}\r\n", "f".repeat(1500));
    let big_head = |daemon: &Daemon| {
        signed_head("GET", "/lim-bucket", daemon.s3, 0).replacen(
            "\r\n",
            &format!("\r\n{filler}"),
            1,
        )
    };
    let (status, body) = request(daemon.s3, &big_head(&daemon), b"");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("RequestHeaderSectionTooLarge"), "{body}");
    // Objects: one byte over the cap. The server may answer from the declared length
    // before the body is in: send it on the side, and let it fail if the server has closed.
    let early = |head: String, size: usize| {
        let mut stream = TcpStream::connect(daemon.s3).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        stream.write_all(head.as_bytes()).expect("head");
        let mut writer = stream.try_clone().expect("clone");
        let sending = std::thread::spawn(move || writer.write_all(&vec![b' '; size]).is_ok());
        let answer = read_response(&mut stream);
        let _ = sending.join();
        answer
    };
    let size = (3 << 20) + 1;
    let (status, body) = early(signed_head("PUT", "/lim-bucket/k", daemon.s3, size), size);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("EntityTooLarge"), "{body}");
    let head = signed_head("PUT", "/lim-bucket/k", daemon.s3, 1024);
    assert_eq!(request(daemon.s3, &head, &[b'o'; 1024]).0, 200);

    // XML bodies: CreateBucket takes 64 KiB, DeleteObjects 2 MiB.
    let head = signed_head("PUT", "/lim-bucket2", daemon.s3, 65537);
    let (status, body) = request(daemon.s3, &head, &vec![b' '; 65537]);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("MaxMessageLengthExceeded"), "{body}");
    let size = 2 * 1024 * 1024 + 1;
    let (status, body) = early(
        signed_head("POST", "/lim-bucket?delete", daemon.s3, size),
        size,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("MaxMessageLengthExceeded"), "{body}");

    write_private(
        &daemon.conf,
        base_config(&daemon.dir, "max_header_size = 4K\nmax_object_size = 3M\n"),
    );
    assert_eq!(daemon.command("reload").status.code(), Some(0));
    daemon.wait_for_log("errors.log", "max_header_size 4096,");
    assert_eq!(request(daemon.s3, &big_head(&daemon), b"").0, 200);
}

#[test]
fn max_parallel_holds_further_connections_back() {
    let scratch = scratch_dir("parallel");
    let daemon = Daemon::start(&scratch, "workers = 1\nmax_parallel = 1\n");
    let open = || {
        let stream = TcpStream::connect(daemon.s3).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        stream
    };
    let ask = b"GET /parallel HTTP/1.1\r\nHost: x\r\n\r\n";
    // The one connection allowed, served and kept alive.
    let mut first = open();
    first.write_all(ask).expect("ask");
    assert_eq!(read_one_response(&mut first).expect("answer").0, 404);
    // A second connection waits in the kernel's queue: no answer while the first is open.
    let mut second = open();
    second.write_all(ask).expect("ask");
    second
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let early = read_one_response(&mut second);
    assert!(
        early.as_ref().is_err_and(|e| matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )),
        "the second connection was served beside the first: {early:?}"
    );
    // Once the first closes, the second is served, and the daemon is fine.
    drop(first);
    second
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    assert_eq!(read_one_response(&mut second).expect("answer").0, 404);
    drop(second);
    assert_eq!(get(daemon.s3, "/").0, 403);
}

#[test]
fn a_client_that_stops_sending_its_body_is_cut_off() {
    let scratch = scratch_dir("slowbody");
    let daemon = Daemon::start(&scratch, "client_body_timeout = 1\n");
    let head = signed_head("PUT", "/slow-bucket", daemon.s3, 0);
    assert_eq!(request(daemon.s3, &head, b"").0, 200);

    // 12 MiB announced, 6 MiB sent (a 4 MiB block reaches the disk), then silence. The
    // default timeout (60 s) would outlast the 30 s this client waits: only the configured
    // one can answer in time.
    let size = 12 << 20;
    let mut upload = TcpStream::connect(daemon.s3).expect("connect");
    upload
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    upload
        .write_all(signed_head("PUT", "/slow-bucket/stalled", daemon.s3, size).as_bytes())
        .expect("head");
    upload
        .write_all(&vec![b's'; size / 2])
        .expect("half the body");
    let (status, answer, closed) = read_until_closed(&mut upload);
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("<Code>RequestTimeout</Code>"), "{answer}");
    assert!(
        answer.contains("not read from or written to within the timeout period"),
        "{answer}"
    );
    assert!(closed, "the connection stays open after the timeout");

    // Nothing visible, nothing left behind, and the daemon serves on.
    let head = signed_head("GET", "/slow-bucket/stalled", daemon.s3, 0);
    let (status, body) = request(daemon.s3, &head, b"");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("NoSuchKey"), "{body}");
    wait_for("the upload's blocks to go", Duration::from_secs(15), || {
        let left: Vec<PathBuf> = ["data/blocks", "data/tmp"]
            .iter()
            .flat_map(|d| crate::common::files_under(&[daemon.path(d)]))
            .collect();
        left.is_empty().then_some(())
    });
    let (_, stats) = get(daemon.admin, "/stats");
    assert!(stats.contains("\"in_flight_uploads\":0"), "{stats}");
    let head = signed_head("PUT", "/slow-bucket/after", daemon.s3, 5);
    assert_eq!(request(daemon.s3, &head, b"after").0, 200);
    daemon.wait_for_log("access.log", "\"PUT /slow-bucket/stalled HTTP/1.1\" 400 ");
}

#[test]
fn a_client_that_stops_sending_its_headers_is_cut_off() {
    let scratch = scratch_dir("slowhead");
    let daemon = Daemon::start(&scratch, "client_request_timeout = 1\n");
    let mut slow = TcpStream::connect(daemon.s3).expect("connect");
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    slow.write_all(b"PUT /slow-head/k HTTP/1.1\r\nHost: x\r\nContent-Le")
        .expect("part of a head");
    let (status, answer, closed) = read_until_closed(&mut slow);
    // S3's answer to a request that stalled: 400 RequestTimeout, as XML.
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("<Code>RequestTimeout</Code>"), "{answer}");
    assert!(closed, "the connection stays open after the timeout");
    assert_eq!(get(daemon.s3, "/").0, 403, "still serving");
}

#[test]
fn a_slow_head_on_a_kept_alive_connection_is_cut_off() {
    let scratch = scratch_dir("slowka");
    // keep_alive longer than client_request_timeout: actix's keep-alive timer, which sees no
    // byte of a head still held by the guard, would otherwise close the connection silently.
    let daemon = Daemon::start(&scratch, "client_request_timeout = 1\nkeep_alive = 5\n");
    let mut stream = TcpStream::connect(daemon.s3).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    // A first request, answered; the connection stays open for the next.
    stream
        .write_all(b"GET /kept-alive HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("ask");
    assert_eq!(read_one_response(&mut stream).expect("answer").0, 404);
    // The next head never completes. actix's own timers do not cover it; the connection
    // guard answers it 400 RequestTimeout client_request_timeout after its first byte, and
    // closes the connection.
    stream
        .write_all(b"GET / HTTP/1.1\r\nHo")
        .expect("part of a head");
    let (status, answer, closed) = read_until_closed(&mut stream);
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("<Code>RequestTimeout</Code>"), "{answer}");
    assert!(closed, "the connection stays open: {answer:?}");
    assert_eq!(get(daemon.s3, "/").0, 403, "still serving");
    daemon.wait_for_log("errors.log", "Your request head did not arrive within 1 s");
}

#[test]
fn a_slow_but_steady_upload_outlasts_every_timeout() {
    let scratch = scratch_dir("steady");
    let daemon = Daemon::start(
        &scratch,
        "client_body_timeout = 2\nclient_request_timeout = 1\nkeep_alive = 1\n",
    );
    let head = signed_head("PUT", "/steady-bucket", daemon.s3, 0);
    assert_eq!(request(daemon.s3, &head, b"").0, 200);
    // 8 pieces 400 ms apart: over 3 s in all, more than any of the limits above (the
    // watchdog's is 2 s), while no pause comes near client_body_timeout. (The pauses are the
    // slow link being simulated.)
    let pieces: Vec<Vec<u8>> = (0..8u8).map(|i| vec![b'a' + i; 1000]).collect();
    let mut upload = TcpStream::connect(daemon.s3).expect("connect");
    upload
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    upload
        .write_all(signed_head("PUT", "/steady-bucket/slow", daemon.s3, 8000).as_bytes())
        .expect("head");
    for piece in &pieces {
        std::thread::sleep(Duration::from_millis(400));
        upload.write_all(piece).expect("a piece");
    }
    let (status, answer) = read_response(&mut upload);
    assert_eq!(status, 200, "{answer}");
    let head = signed_head("GET", "/steady-bucket/slow", daemon.s3, 0);
    let (status, body) = request(daemon.s3, &head, b"");
    assert_eq!(status, 200);
    assert_eq!(body.as_bytes(), pieces.concat(), "the object came whole");
}
