//! Hostile and careless input (issue 12): each case gets a clear S3 error, leaves every
//! stored object intact, and leaves the server serving everyone else.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use base64::Engine;

use crate::common::raw::{parse_response, Auth, Response, Tamper};
use crate::common::{md5_bytes, unique_bucket, ServerOpts, TestServer};

/// Sends raw bytes on a fresh connection and reads the answer until the server closes.
fn exchange(addr: SocketAddr, bytes: &[u8], head_request: bool) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    // The server may answer before reading everything: a failed write still has an answer.
    let _ = stream.write_all(bytes);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(60)]).into_owned();
    parse_response(&raw, head_request, format!("raw {shown:?}"))
}

fn content_md5(body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(md5_bytes(body))
}

/// Every operation that parses an XML body refuses one nested 4,000 deep with
/// 400 MalformedXML; the process survives and the data stays. (AWS: "MalformedXML: The XML
/// you provided was not well-formed", Error Responses, Amazon S3 API Reference.)
fn deeply_nested_xml_is_refused_everywhere(s: &TestServer) {
    let raw = s.raw();
    let bucket = unique_bucket("deepxml");
    raw.create_bucket(&bucket);
    raw.put_object(&bucket, "keep", b"kept").ok();
    let deep = format!("{}{}", "<a>".repeat(4_000), "</a>".repeat(4_000));
    let upload = raw
        .post(&format!("/{bucket}/mp"))
        .sub("uploads")
        .send()
        .ok();
    let upload_id = crate::common::xml_text(&upload.text(), "UploadId").expect("UploadId");

    let new_bucket = format!("/{bucket}-new");
    let object = format!("/{bucket}/keep");
    let multipart = format!("/{bucket}/mp");
    let bucket_path = format!("/{bucket}");
    let cases = [
        ("PUT", new_bucket.as_str(), None),
        ("POST", bucket_path.as_str(), Some("delete")),
        ("PUT", object.as_str(), Some("tagging")),
        ("PUT", bucket_path.as_str(), Some("tagging")),
        ("PUT", bucket_path.as_str(), Some("cors")),
        ("PUT", bucket_path.as_str(), Some("acl")),
        ("PUT", object.as_str(), Some("acl")),
        ("POST", multipart.as_str(), None),
    ];
    for (method, path, sub) in cases {
        let mut req = raw
            .req(method, path)
            .header("content-md5", &content_md5(deep.as_bytes()))
            .body(deep.clone());
        if let Some(sub) = sub {
            req = req.sub(sub);
        }
        if sub.is_none() && method == "POST" {
            req = req.query("uploadId", &upload_id);
        }
        let response = req.send();
        let code = response.error_code().unwrap_or_default();
        assert_eq!(
            response.status,
            400,
            "{method} {path} {sub:?}: {}",
            response.text()
        );
        assert!(
            ["MalformedXML", "MalformedACLError"].contains(&code.as_str()),
            "{method} {path} {sub:?}: {code}"
        );
    }
    assert_eq!(raw.get_object(&bucket, "keep"), b"kept");
    raw.get(&format!("/{bucket}-new"))
        .send()
        .assert_error(404, "NoSuchBucket");
}

/// A key XML 1.0 cannot carry is refused when written (our documented choice: S3 would store
/// it and then list it as `&#x0;`, which XML parsers refuse); CR and tab still work, and the
/// listing stays well-formed.
fn keys_xml_cannot_carry_are_refused(s: &TestServer) {
    let raw = s.raw();
    let bucket = unique_bucket("xmlkeys");
    raw.create_bucket(&bucket);
    for key in ["a%00b", "a%01b", "a%EF%BF%BFb"] {
        raw.put(&format!("/{bucket}/{key}"))
            .body(b"x".to_vec())
            .send()
            .assert_error(400, "InvalidArgument");
    }
    raw.put(&format!("/{bucket}/a%0Db%09c"))
        .body(b"x".to_vec())
        .send()
        .ok();
    let listing = raw
        .get(&format!("/{bucket}"))
        .query("list-type", "2")
        .send()
        .ok();
    let keys = crate::common::xml_texts(&listing.text(), "Key");
    assert_eq!(keys, vec!["a\rb\tc".to_string()]);
}

/// aws-chunked trailers: one that x-amz-trailer did not announce, or an announced one that
/// does not come, is 400 and nothing is stored; a wrong value is BadDigest. (AWS:
/// "Checking object integrity", trailing checksums, Amazon S3 User Guide.)
fn undeclared_or_missing_trailers_are_refused(s: &TestServer) {
    let raw = s.raw();
    let bucket = unique_bucket("trailers");
    raw.create_bucket(&bucket);
    let data = vec![b'z'; 70_000];
    let put = |key: &str, tamper: Tamper| {
        raw.put(&format!("/{bucket}/{key}"))
            .auth(Auth::V4UnsignedTrailer { chunk_size: 65_536 })
            .tamper(tamper)
            .body(data.clone())
            .send()
    };
    let undeclared = Tamper {
        trailer_declared: Some(""),
        ..Tamper::default()
    };
    put("undeclared", undeclared).assert_error(400, "InvalidRequest");
    let other = Tamper {
        trailer_declared: Some("x-amz-checksum-sha256"),
        ..Tamper::default()
    };
    put("other", other).assert_error(400, "InvalidRequest");
    let wrong = Tamper {
        trailer_checksum: Some("AAAAAA=="),
        ..Tamper::default()
    };
    put("wrong", wrong).assert_error(400, "BadDigest");
    for key in ["undeclared", "other", "wrong"] {
        raw.head(&format!("/{bucket}/{key}")).send().status(404);
    }
    put("right", Tamper::default()).ok();
    assert_eq!(raw.get_object(&bucket, "right"), data);
}

/// A CopyObject without conditions copies one whole version of its source, old or new,
/// however often the source is overwritten meanwhile: never 412 (AWS answers 412 only for
/// the x-amz-copy-source-if-* conditions, CopyObject, Amazon S3 API Reference).
fn copies_of_a_source_being_overwritten_never_fail(s: &TestServer) {
    let raw = s.raw();
    let bucket = unique_bucket("copyrace");
    raw.create_bucket(&bucket);
    let versions: Vec<Vec<u8>> = (0..2u8).map(|i| vec![b'a' + i; 300_000]).collect();
    raw.put_object(&bucket, "src", &versions[0]).ok();
    let writes = 120;
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let raw = s.raw();
            for i in 0..writes {
                raw.put_object(&bucket, "src", &versions[i % 2]).ok();
            }
        });
        let mut copies = 0;
        while !writer.is_finished() || copies == 0 {
            let response = raw
                .put(&format!("/{bucket}/dst"))
                .header("x-amz-copy-source", &format!("/{bucket}/src"))
                .send();
            assert_eq!(response.status, 200, "copy {copies}: {}", response.text());
            let copied = raw.get(&format!("/{bucket}/dst")).send().ok();
            assert!(
                versions.contains(&copied.body),
                "copy {copies} is not one whole version of its source"
            );
            // Its ETag is that version's, not the other's: data and metadata of one version.
            assert_eq!(
                copied.header("etag"),
                Some(crate::common::etag_of(&copied.body).as_str()),
                "copy {copies}: ETag of another version"
            );
            copies += 1;
        }
        writer.join().expect("writer");
    });
}

crate::backend_tests! {
    deeply_nested_xml_is_refused_everywhere,
    keys_xml_cannot_carry_are_refused,
    undeclared_or_missing_trailers_are_refused,
    copies_of_a_source_being_overwritten_never_fail,
}

/// Heads that actix-http would have refused with an empty body, or panicked on, get an S3
/// XML error with a request id, and close the connection; the server goes on serving.
#[test]
fn broken_heads_get_s3_errors() {
    let s = TestServer::shared();
    let addr = s.addr();
    let huge_name = format!(
        "GET / HTTP/1.1\r\nHost: x\r\n{}: v\r\n\r\n",
        "n".repeat(70_000)
    );
    let huge_value = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nx-v: {}\r\n\r\n",
        "v".repeat(40_000)
    );
    let many: String = (0..120).map(|i| format!("x-h{i}: v\r\n")).collect();
    let many = format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    let long_line = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "k".repeat(20_000));
    let cases: Vec<(String, u16, &str)> = vec![
        (huge_name, 400, "RequestHeaderSectionTooLarge"),
        (huge_value, 400, "RequestHeaderSectionTooLarge"),
        (many, 400, "RequestHeaderSectionTooLarge"),
        (long_line, 400, "InvalidURI"),
        ("NOT HTTP AT ALL\r\n\r\n".into(), 400, "BadRequest"),
        ("GET / HTTP/1.1\r\n\r\n".into(), 400, "BadRequest"),
        (
            "PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n".into(),
            400,
            "BadRequest",
        ),
        (
            "PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n".into(),
            400,
            "BadRequest",
        ),
        (
            "PUT /b/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n".into(),
            501,
            "NotImplemented",
        ),
        (
            "POST /b HTTP/1.0\r\n\r\n".into(),
            411,
            "MissingContentLength",
        ),
    ];
    for (bytes, status, code) in &cases {
        let response = exchange(addr, bytes.as_bytes(), false);
        response.assert_error(*status, code);
    }
    // A HEAD is answered without a body.
    let head = format!(
        "HEAD / HTTP/1.1\r\nHost: x\r\nx-v: {}\r\n\r\n",
        "v".repeat(9_000)
    );
    let response = exchange(addr, head.as_bytes(), true);
    assert_eq!(response.status, 400);
    assert!(response.body.is_empty());
    // Pipelined behind a good request, a bad head is answered after it, in order.
    let pipelined =
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n";
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    stream.write_all(pipelined).expect("send");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    let first = text
        .find("AccessDenied")
        .expect("the first request answered");
    let second = text.find("<Code>BadRequest").expect("the second refused");
    assert!(first < second, "answers out of order:\n{text}");
    s.raw().get("/").send().ok();
}

/// A panic inside a request answers 500 InternalError with its request id and one log line;
/// the same worker goes on serving.
#[test]
fn a_panic_fails_only_its_request() {
    let s = TestServer::start_with(ServerOpts {
        env: vec![("LIBRES3_TEST_PANICS".into(), "1".into())],
        ..ServerOpts::default()
    });
    let raw = s.raw();
    let response = raw.get("/").header("x-libres3-test-panic", "1").send();
    response.assert_error(500, "InternalError");
    let id = response
        .header("x-amz-request-id")
        .expect("request id")
        .to_string();
    let line = s
        .wait_for_log(&format!("{id} panicked at"), Duration::from_secs(10))
        .expect("one log line naming the request");
    assert!(
        line.contains("a test asked this request to panic"),
        "{line}"
    );
    raw.get("/").send().ok();
}

/// Past `max_connections`, a new connection is answered 503 SlowDown at once; the ones
/// already open keep working, and a slot freed is used again.
#[test]
fn connections_over_the_limit_get_slow_down() {
    let config = crate::common::TempDir::new("limited");
    let path = config.join("libres3.conf");
    crate::common::write_private(
        &path,
        format!("max_connections = {LIMITED_CONNECTIONS}\n").as_bytes(),
    );
    let s = TestServer::start_with(ServerOpts {
        extra_args: vec!["--config".into(), path.display().to_string()],
        ..ServerOpts::default()
    });
    let addr = s.addr();
    let ask = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..LIMITED_CONNECTIONS {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        stream.write_all(ask).expect("ask");
        // Answered (403, anonymous): the connection is open and counted.
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf).expect("answer");
        assert!(
            buf[..n].starts_with(b"HTTP/1.1 403"),
            "{:?}",
            String::from_utf8_lossy(&buf[..n])
        );
        held.push(stream);
    }
    let refused = exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false);
    refused.assert_error(503, "SlowDown");
    assert!(refused.header("retry-after").is_some());
    drop(held.pop());
    // The slot is freed when the server sees the close: poll, bounded.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = exchange(
            addr,
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            false,
        );
        if response.status == 403 {
            break;
        }
        assert!(Instant::now() < deadline, "the freed slot was not reused");
    }
}

const LIMITED_CONNECTIONS: usize = 24;

/// Two thousand idle connections do not stop a normal client (each takes one descriptor,
/// and the server raised its open-files limit at start).
#[test]
fn thousands_of_idle_connections_do_not_starve_a_client() {
    let s = TestServer::shared();
    let addr = s.addr();
    libres3::http::descriptors::raise().expect("raise the test's own open-files limit");
    let idle: Vec<TcpStream> = (0..2_000)
        .map(|i| TcpStream::connect(addr).unwrap_or_else(|e| panic!("connection {i}: {e}")))
        .collect();
    let raw = s.raw();
    let bucket = unique_bucket("idle");
    raw.create_bucket(&bucket);
    raw.put_object(&bucket, "k", b"still served").ok();
    assert_eq!(raw.get_object(&bucket, "k"), b"still served");
    drop(idle);
}
