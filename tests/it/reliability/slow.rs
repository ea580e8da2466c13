//! Slow and idle clients beside a normal one: the limits hold and the normal client is served.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{head_of, parse_complete, try_send, MIB, PATIENCE};
use crate::common::raw::obj_path;
use crate::common::{
    test_data, unique_bucket, write_private, RawClient, ServerOpts, TempDir, TestServer,
};

/// Seconds the slow clients' server gives a head and a body pause.
const HEAD_TIMEOUT: u64 = 2;
const BODY_TIMEOUT: u64 = 2;
const IDLE_KEPT_ALIVE: usize = 2_000;
const IDLE_SILENT: usize = 200;
const SLOWLORIS_PER_WAVE: usize = 100;
/// Requests of the normal client at least, before and during the hostile load.
const NORMAL_REQUESTS: usize = 200;

/// Latencies of one kind of request, printed as p50/p99/max.
fn summary(what: &str, mut latencies: Vec<Duration>) -> String {
    latencies.sort();
    let n = latencies.len();
    if n == 0 {
        return format!("{what}: none");
    }
    let at = |q: usize| latencies[(n * q / 100).min(n - 1)];
    format!(
        "{n} {what} p50 {:.2?} p99 {:.2?} max {:.2?}",
        at(50),
        at(99),
        latencies[n - 1]
    )
}

/// A normal client: PUT then GET of 16 KiB objects, each request timed, every one a success,
/// until `keep_going` says stop (and at least `NORMAL_REQUESTS` pairs).
fn normal_client(client: &RawClient, bucket: &str, keep_going: impl Fn() -> bool) -> String {
    let (mut puts, mut gets) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + PATIENCE;
    let mut i = 0u64;
    while puts.len() < NORMAL_REQUESTS || keep_going() {
        assert!(Instant::now() < deadline, "the normal client ran too long");
        let key = format!("normal/{}", i % 16);
        let data = test_data(16 * 1024, i);
        let request = client
            .put(&obj_path(bucket, &key))
            .body(data.clone())
            .prepare();
        let started = Instant::now();
        let put = try_send(client.addr, &request)
            .unwrap_or_else(|e| panic!("the normal client's PUT {i}: {}", e.why));
        puts.push(started.elapsed());
        assert_eq!(put.status, 200, "PUT {i}: {}", put.text());
        let request = client.get(&obj_path(bucket, &key)).prepare();
        let started = Instant::now();
        let get = try_send(client.addr, &request)
            .unwrap_or_else(|e| panic!("the normal client's GET {i}: {}", e.why));
        gets.push(started.elapsed());
        assert_eq!(get.status, 200, "GET {i}: {}", get.text());
        assert!(get.body == data, "GET {i} read other bytes");
        i += 1;
    }
    format!("{}; {}", summary("PUT", puts), summary("GET", gets))
}

/// Reads what the server sent until it closed the connection.
fn read_to_close(stream: &mut TcpStream) -> (Vec<u8>, std::io::Result<usize>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut raw = Vec::new();
    let result = stream.read_to_end(&mut raw);
    (raw, result)
}

/// The S3 error code of an answer, with its status.
fn status_and_code(raw: &[u8]) -> (u16, String) {
    match parse_complete(raw, "slow client".into()) {
        Some(r) => (r.status, r.error_code().unwrap_or_default()),
        None => (0, String::from_utf8_lossy(raw).into_owned()),
    }
}

/// Waves of connections that each trickle a head one byte at a time (the pace is the slow
/// link being simulated), half of them after a first request on the connection, until `done`. Every one must be answered 400 RequestTimeout and
/// closed; returns, for each, its wave and when it was answered after the wave connected.
fn slowloris(addr: SocketAddr, done: &AtomicBool) -> Vec<(usize, Duration)> {
    let head = format!(
        "PUT /slowloris/key HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\n\r\n",
        "p".repeat(4000)
    );
    let head = head.as_bytes();
    let mut answered = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    let mut wave = 0;
    loop {
        wave += 1;
        let opened = Instant::now();
        // Every other one trickles the second head of a kept-alive connection.
        let mut open: Vec<(TcpStream, usize)> = (0..SLOWLORIS_PER_WAVE)
            .map(|i| {
                let mut s = TcpStream::connect(addr).expect("slowloris connect");
                if i % 2 == 1 {
                    s.set_read_timeout(Some(PATIENCE)).expect("timeout");
                    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                        .expect("a first request");
                    assert_eq!(read_one(&mut s), 403, "a first request");
                }
                s.set_nonblocking(true).expect("nonblocking");
                (s, 0)
            })
            .collect();
        while !open.is_empty() {
            assert!(
                Instant::now() < deadline,
                "slowloris heads were never cut off"
            );
            let mut still = Vec::with_capacity(open.len());
            for (mut stream, sent) in open {
                let mut byte = [0u8; 1];
                match stream.peek(&mut byte) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        assert!(sent < head.len(), "a slowloris head was sent whole");
                        match stream.write(&head[sent..sent + 1]) {
                            Ok(n) => still.push((stream, sent + n)),
                            // The server closed it: its answer must be waiting.
                            Err(_) => answered.push((stream, wave, opened.elapsed())),
                        }
                    }
                    _ => answered.push((stream, wave, opened.elapsed())),
                }
            }
            open = still;
            std::thread::sleep(Duration::from_millis(100));
        }
        if done.load(Ordering::SeqCst) {
            break;
        }
    }
    let mut times = Vec::new();
    for (mut stream, wave, after) in answered.drain(..) {
        let (raw, result) = read_to_close(&mut stream);
        let (status, code) = status_and_code(&raw);
        assert!(
            status == 400 && code == "RequestTimeout" && result.is_ok(),
            "a slowloris head got {status} {code:?} ({result:?}) instead of 400 RequestTimeout \
             and a close"
        );
        times.push((wave, after));
    }
    times
}

/// A body trickled with pauses under client_body_timeout is stored whole; one that stalls is
/// answered 400 RequestTimeout, the connection closed, and nothing stored.
fn slow_bodies(client: &RawClient, bucket: &str) {
    let steady: Vec<u8> = test_data(12 * 2000, 77);
    let request = client
        .put(&obj_path(bucket, "slow/steady"))
        .body(steady.clone())
        .prepare();
    let mut stream = TcpStream::connect(client.addr).expect("connect");
    stream
        .write_all(head_of(&request).as_bytes())
        .expect("steady head");
    let pause = Duration::from_millis(BODY_TIMEOUT * 1000 / 5);
    for piece in steady.chunks(2000) {
        // The slow link being simulated: each pause well under client_body_timeout, the
        // whole upload longer than every timeout.
        std::thread::sleep(pause);
        stream.write_all(piece).expect("a piece of the steady body");
    }
    let (raw, _) = read_to_close(&mut stream);
    let (status, code) = status_and_code(&raw);
    assert_eq!(status, 200, "the steady slow upload: {code}");
    let stored = try_send(
        client.addr,
        &client.get(&obj_path(bucket, "slow/steady")).prepare(),
    )
    .expect("GET the steady upload");
    assert!(
        stored.body == steady,
        "the steady slow upload came back other"
    );

    let stalled = vec![b's'; MIB];
    let request = client
        .put(&obj_path(bucket, "slow/stalled"))
        .body(stalled.clone())
        .prepare();
    let mut stream = TcpStream::connect(client.addr).expect("connect");
    stream
        .write_all(head_of(&request).as_bytes())
        .expect("stalled head");
    stream
        .write_all(&stalled[..64 * 1024])
        .expect("the start of the stalled body");
    let (raw, result) = read_to_close(&mut stream);
    let (status, code) = status_and_code(&raw);
    assert!(
        status == 400 && code == "RequestTimeout" && result.is_ok(),
        "the stalled body got {status} {code:?} ({result:?}) instead of 400 RequestTimeout \
         and a close"
    );
    let after = try_send(
        client.addr,
        &client.head(&obj_path(bucket, "slow/stalled")).prepare(),
    )
    .expect("HEAD the stalled upload");
    assert_eq!(after.status, 404, "the stalled upload was stored");
}

/// Reads one response from a kept-alive connection (head and Content-Length body).
fn read_one(stream: &mut TcpStream) -> u16 {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(response) = parse_complete(&raw, "idle".into()) {
            return response.status;
        }
        let n = stream.read(&mut buf).expect("read an answer");
        assert!(n > 0, "closed before answering");
        raw.extend_from_slice(&buf[..n]);
    }
}

/// Thousands of idle connections, slowloris heads, a steady slow body and a stalled one,
/// while a normal client works: it gets only successes, and its latency is printed (not
/// asserted: timings are for benchmarks). The slow clients get what the limits say.
#[test]
fn slow_and_idle_clients_beside_a_normal_one() {
    libres3::http::descriptors::raise().expect("raise the test's own open-files limit");
    let config = TempDir::new("slow-clients");
    let path = config.join("libres3.conf");
    write_private(
        &path,
        format!(
            "client_request_timeout = {HEAD_TIMEOUT}\nclient_body_timeout = {BODY_TIMEOUT}\n\
             keep_alive = 300\n"
        )
        .as_bytes(),
    );
    let server = TestServer::start_with(ServerOpts {
        extra_args: vec!["--config".into(), path.display().to_string()],
        ..ServerOpts::default()
    });
    let addr = server.addr();
    let client = server.raw();
    let bucket = unique_bucket("slow-clients");
    client.create_bucket(&bucket);

    let quiet = normal_client(&client, &bucket, || false);

    // Idle: connections kept alive after one request, and connections that never speak.
    let ask = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut kept: Vec<TcpStream> = (0..IDLE_KEPT_ALIVE)
        .map(|i| {
            let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("idle {i}: {e}"));
            s.set_read_timeout(Some(Duration::from_secs(30)))
                .expect("timeout");
            s.write_all(ask).expect("ask");
            assert_eq!(read_one(&mut s), 403, "idle {i}");
            s
        })
        .collect();
    // Opened at once: a burst of connections, each connect timed.
    let mut connects = Vec::new();
    let mut silent: Vec<TcpStream> = (0..IDLE_SILENT)
        .map(|i| {
            let started = Instant::now();
            let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("silent {i}: {e}"));
            connects.push(started.elapsed());
            stream
        })
        .collect();

    let normal_done = AtomicBool::new(false);
    let (busy, loris) = std::thread::scope(|scope| {
        let loris = scope.spawn(|| slowloris(addr, &normal_done));
        let bodies = scope.spawn(|| slow_bodies(&client, &bucket));
        let busy = normal_client(&client, &bucket, || !bodies.is_finished());
        normal_done.store(true, Ordering::SeqCst);
        bodies.join().expect("slow bodies");
        (busy, loris.join().expect("slowloris"))
    });

    // The silent connections were closed at the head timeout, without a word; the kept-alive
    // ones still serve.
    for (i, stream) in silent.iter_mut().enumerate() {
        let (raw, result) = read_to_close(stream);
        assert!(
            raw.is_empty() && result.is_ok(),
            "silent connection {i}: {:?} {result:?}",
            String::from_utf8_lossy(&raw)
        );
    }
    for stream in kept.iter_mut().step_by(IDLE_KEPT_ALIVE / 10) {
        stream.write_all(ask).expect("ask again");
        assert_eq!(read_one(stream), 403, "a kept-alive idle connection");
    }
    println!("normal client alone: {quiet}");
    println!(
        "a burst of {IDLE_SILENT} connects: {}",
        summary("connects", connects)
    );
    println!(
        "normal client beside {IDLE_KEPT_ALIVE} kept-alive idle and {IDLE_SILENT} silent \
         connections, {} slowloris heads and two slow bodies: {busy}",
        loris.len()
    );
    let waves = loris.iter().map(|(wave, _)| *wave).max().unwrap_or(0);
    for wave in 1..=waves {
        let times = loris
            .iter()
            .filter(|(w, _)| *w == wave)
            .map(|(_, t)| *t)
            .collect();
        println!(
            "slowloris wave {wave}: answered 400 RequestTimeout after {}",
            summary("heads", times)
        );
    }
    drop(kept);
}
