//! Conditional writes and deletes (issue 16, "data safety"): DeleteObject and DeleteObjects
//! conditions, PutObject and CompleteMultipartUpload conditions, racing conditional writers,
//! and GetObjectTorrent on a missing key. Each runs on both backends.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use base64::Engine as _;

use crate::common::raw::{http_date, obj_path, parse_response, Response};
use crate::common::{
    md5_bytes, test_data, unique_bucket, xml_child_texts, xml_text, RawClient, TestServer,
};
use crate::raw_objects::multipart::{complete_xml, create_upload, upload_part};

const MIB: usize = 1024 * 1024;

fn setup(s: &TestServer, test: &str) -> (RawClient, String) {
    let c = s.raw();
    let b = unique_bucket(test);
    c.create_bucket(&b);
    (c, b)
}

/// The object's ETag, Last-Modified and size as HEAD gives them.
fn head(c: &RawClient, b: &str, k: &str) -> (String, String, String) {
    let r = c.head(&obj_path(b, k)).send().ok();
    let get = |name| r.header(name).expect(name).to_string();
    (get("etag"), get("last-modified"), get("content-length"))
}

fn exists(c: &RawClient, b: &str, k: &str) -> bool {
    c.head(&obj_path(b, k)).send().status == 200
}

/// DeleteObject (AWS API reference, DeleteObject; user guide "How to perform conditional
/// deletes"): `If-Match`, `x-amz-if-match-last-modified-time` and `x-amz-if-match-size` that
/// do not hold answer 412 PreconditionFailed and delete nothing; `If-Match` on a missing key
/// answers 404 NoSuchKey; the date and size conditions alone on a missing key answer 204.
fn delete_object_conditions(s: &TestServer) {
    let (c, b) = setup(s, "cond-delete");
    let path = obj_path(&b, "k");
    c.put_object(&b, "k", b"hello");
    let (etag, modified, size) = head(&c, &b, "k");
    let other_etag = "\"00000000000000000000000000000000\"";
    let earlier = http_date(0);
    for (name, value) in [
        ("If-Match", other_etag),
        ("x-amz-if-match-size", "4"),
        ("x-amz-if-match-last-modified-time", earlier.as_str()),
    ] {
        c.delete(&path)
            .header(name, value)
            .send()
            .assert_error(412, "PreconditionFailed");
        assert!(exists(&c, &b, "k"), "{name}: {value} deleted the object");
    }
    // All three together, one of them wrong.
    c.delete(&path)
        .header("If-Match", &etag)
        .header("x-amz-if-match-last-modified-time", &modified)
        .header("x-amz-if-match-size", "6")
        .send()
        .assert_error(412, "PreconditionFailed");
    assert!(exists(&c, &b, "k"));
    c.delete(&path)
        .header("If-Match", &etag)
        .header("x-amz-if-match-last-modified-time", &modified)
        .header("x-amz-if-match-size", &size)
        .send()
        .status(204);
    assert!(!exists(&c, &b, "k"));
    for value in [etag.as_str(), "*"] {
        c.delete(&path)
            .header("If-Match", value)
            .send()
            .assert_error(404, "NoSuchKey");
    }
    c.delete(&path)
        .header("x-amz-if-match-size", "5")
        .send()
        .status(204);
    // `If-Match: *`: delete only what exists.
    c.put_object(&b, "k", b"again");
    c.delete(&path).header("If-Match", "*").send().status(204);
    assert!(!exists(&c, &b, "k"));
}

/// DeleteObjects (AWS API reference, DeleteObjects, ObjectIdentifier `ETag`,
/// `LastModifiedTime`, `Size`): an entry whose condition fails is an `<Error>` with Code
/// PreconditionFailed and its object stays; the other entries are deleted.
fn delete_objects_conditions(s: &TestServer) {
    let (c, b) = setup(s, "cond-delete-many");
    for k in [
        "wrong-etag",
        "right-etag",
        "wrong-size",
        "wrong-date",
        "plain",
    ] {
        c.put_object(&b, k, k.as_bytes());
    }
    let (right_etag, ..) = head(&c, &b, "right-etag");
    let body = format!(
        "<Delete>\
         <Object><Key>wrong-etag</Key><ETag>\"00000000000000000000000000000000\"</ETag></Object>\
         <Object><Key>right-etag</Key><ETag>{right_etag}</ETag></Object>\
         <Object><Key>wrong-size</Key><Size>1</Size></Object>\
         <Object><Key>wrong-date</Key><LastModifiedTime>2001-01-01T00:00:00.000Z</LastModifiedTime></Object>\
         <Object><Key>plain</Key></Object>\
         </Delete>"
    );
    let md5 = base64::engine::general_purpose::STANDARD.encode(md5_bytes(body.as_bytes()));
    let r = c
        .post(&format!("/{b}"))
        .sub("delete")
        .header("Content-MD5", &md5)
        .body(body)
        .send()
        .ok();
    let text = r.text();
    let mut deleted = xml_child_texts(&text, "Deleted", "Key");
    deleted.sort();
    assert_eq!(deleted, vec!["plain", "right-etag"], "{text}");
    let mut failed: Vec<(String, String)> = xml_child_texts(&text, "Error", "Key")
        .into_iter()
        .zip(xml_child_texts(&text, "Error", "Code"))
        .collect();
    failed.sort();
    let precondition = |k: &str| (k.to_string(), "PreconditionFailed".to_string());
    assert_eq!(
        failed,
        vec![
            precondition("wrong-date"),
            precondition("wrong-etag"),
            precondition("wrong-size")
        ],
        "{text}"
    );
    assert_eq!(
        c.list_keys(&b, ""),
        vec!["wrong-date", "wrong-etag", "wrong-size"]
    );
}

/// PutObject and CompleteMultipartUpload (AWS API reference, PutObject and
/// CompleteMultipartUpload, `If-Match` / `If-None-Match`): `If-None-Match: *` on an existing
/// key and an `If-Match` ETag that differs answer 412; `If-Match` on a missing key answers 404
/// NoSuchKey; `If-Match: *` on an existing key writes; `If-None-Match` with an ETag answers
/// 501 NotImplemented ("Expects the '*' (asterisk) character"), as AWS does.
fn put_and_complete_conditions(s: &TestServer) {
    let (c, b) = setup(s, "cond-put");
    let path = obj_path(&b, "k");
    let first = c
        .put(&path)
        .header("If-None-Match", "*")
        .body("first")
        .send();
    let etag = first.ok().header("etag").expect("ETag").to_string();
    // 412 for `If-None-Match: *` on this key and for another ETag in `If-Match`:
    // raw_objects::conditional_writes.
    c.put(&path)
        .header("If-None-Match", &etag)
        .body("fourth")
        .send()
        .assert_error(501, "NotImplemented");
    assert_eq!(c.get_object(&b, "k"), b"first");
    c.put(&path)
        .header("If-Match", "*")
        .body("fifth")
        .send()
        .ok();
    assert_eq!(c.get_object(&b, "k"), b"fifth");
    for value in [etag.as_str(), "*"] {
        c.put(&obj_path(&b, "absent"))
            .header("If-Match", value)
            .body("x")
            .send()
            .assert_error(404, "NoSuchKey");
    }
    assert!(!exists(&c, &b, "absent"));

    // The same conditions on CompleteMultipartUpload.
    let part = test_data(1000, 31);
    let id = create_upload(&c, &b, "absent");
    let part_etag = upload_part(&c, &b, "absent", &id, 1, &part);
    let complete = |key: &str, header: (&str, &str)| {
        c.post(&obj_path(&b, key))
            .query("uploadId", &id)
            .header(header.0, header.1)
            .body(complete_xml(&[(1, &part_etag)]))
            .send()
    };
    complete("absent", ("If-Match", "*")).assert_error(404, "NoSuchKey");
    complete("absent", ("If-None-Match", "\"abc\"")).assert_error(501, "NotImplemented");
    assert!(!exists(&c, &b, "absent"));
    let id = create_upload(&c, &b, "k");
    let part_etag = upload_part(&c, &b, "k", &id, 1, &part);
    let complete = |header: (&str, &str)| {
        c.post(&path)
            .query("uploadId", &id)
            .header(header.0, header.1)
            .body(complete_xml(&[(1, &part_etag)]))
            .send()
    };
    complete(("If-None-Match", "*")).assert_error(412, "PreconditionFailed");
    complete(("If-Match", "\"00000000000000000000000000000000\""))
        .assert_error(412, "PreconditionFailed");
    assert_eq!(c.get_object(&b, "k"), b"fifth");
    complete(("If-Match", "*")).ok();
    assert_eq!(c.get_object(&b, "k"), part);
}

/// Several `If-None-Match: *` writers of one new key at once (AWS user guide, "How to prevent
/// object overwrites with conditional writes": the first write to finish succeeds, the
/// others fail): in every round exactly one answers 200, the others 412 or 409
/// ConditionalRequestConflict, and the object is the winner's.
fn racing_conditional_writers_one_wins(s: &TestServer) {
    const ROUNDS: usize = 12;
    const WRITERS: usize = 4;
    let (c, b) = setup(s, "cond-race");
    for round in 0..ROUNDS {
        let key = format!("k{round}");
        let answers: Vec<(u16, Vec<u8>)> = thread::scope(|scope| {
            let writers: Vec<_> = (0..WRITERS)
                .map(|w| {
                    let (c, path) = (c.clone(), obj_path(&b, &key));
                    scope.spawn(move || {
                        let data = test_data(MIB, (round * WRITERS + w) as u64);
                        let r = c
                            .put(&path)
                            .header("If-None-Match", "*")
                            .body(data.clone())
                            .send();
                        (r.status, data)
                    })
                })
                .collect();
            writers
                .into_iter()
                .map(|w| w.join().expect("writer"))
                .collect()
        });
        let winners: Vec<&Vec<u8>> = answers
            .iter()
            .filter(|(status, _)| *status == 200)
            .map(|(_, data)| data)
            .collect();
        let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
        assert_eq!(winners.len(), 1, "round {round}: answers {statuses:?}");
        assert!(
            statuses.iter().all(|s| [200, 409, 412].contains(s)),
            "round {round}: answers {statuses:?}"
        );
        assert!(
            c.get_object(&b, &key) == *winners[0],
            "round {round}: the object is not the winner's"
        );
    }
}

/// Starts a PUT with `If-None-Match: *` of `data` and sends all but its last `rest` bytes.
/// The server reads a body only after checking the request's conditions, and sockets do not
/// buffer megabytes unread (the receive window of a connection whose data nobody reads stays
/// at its initial size; the send buffer is at most 4 MiB): once most of a 10 MiB body is
/// written, the server has checked the condition.
fn start_conditional_put(c: &RawClient, path: &str, data: Vec<u8>, rest: usize) -> TcpStream {
    let p = c
        .put(path)
        .header("If-None-Match", "*")
        .body(data)
        .prepare();
    let mut stream = TcpStream::connect(c.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    stream.write_all(p.head().as_bytes()).expect("write head");
    let sent = p.body.len() - rest;
    stream.write_all(&p.body[..sent]).expect("write body");
    stream
}

fn finish_put(mut stream: TcpStream, rest: &[u8]) -> Response {
    stream.write_all(rest).expect("write the rest");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the answer");
    parse_response(&raw, false, "conditional PUT".into())
}

/// An `If-None-Match: *` PUT whose condition held when it started, racing a plain PUT of the
/// same key (AWS API reference, PutObject, `If-None-Match`: "If a conflicting operation occurs
/// during the upload S3 returns a 409 ConditionalRequestConflict"): it answers 200 (it
/// finished first) or 409 (the plain PUT did), never 412, and a 200 means its data was
/// written (then possibly replaced by the plain PUT, which finished later).
fn conditional_put_racing_a_plain_put(s: &TestServer) {
    const ROUNDS: usize = 6;
    let (c, b) = setup(s, "cond-plain-race");
    let rest = 2 * MIB;
    for round in 0..ROUNDS {
        let key = format!("k{round}");
        let path = obj_path(&b, &key);
        let mine = test_data(10 * MIB, round as u64);
        // A small plain PUT mostly ends first (409 for ours), a big one mostly last (200).
        let their_size = if round % 2 == 0 { MIB } else { 12 * MIB };
        let theirs = test_data(their_size, 100 + round as u64);
        let stream = start_conditional_put(&c, &path, mine.clone(), rest);
        let (answer, plain) = thread::scope(|scope| {
            let plain = scope.spawn(|| c.put(&path).body(theirs.clone()).send().status);
            let answer = finish_put(stream, &mine[mine.len() - rest..]);
            (answer, plain.join().expect("plain writer"))
        });
        assert_eq!(plain, 200, "round {round}: the plain PUT");
        match answer.status {
            200 => {}
            409 => answer.assert_error(409, "ConditionalRequestConflict"),
            other => panic!(
                "round {round}: the conditional PUT answered {other}: {}",
                answer.text()
            ),
        }
        let stored = c.get_object(&b, &key);
        assert!(
            stored == theirs || (answer.status == 200 && stored == mine),
            "round {round}: the object is neither the plain PUT's nor the winner's"
        );
    }
}

/// GetObjectTorrent (AWS API reference, GetObjectTorrent): on a missing key S3 answers 404
/// NoSuchKey; on an existing one this server answers 501 NotImplemented.
fn torrent_of_missing_key(s: &TestServer) {
    let (c, b) = setup(s, "cond-torrent");
    c.get(&obj_path(&b, "missing"))
        .sub("torrent")
        .send()
        .assert_error(404, "NoSuchKey");
    c.put_object(&b, "k", b"data");
    let r = c.get(&obj_path(&b, "k")).sub("torrent").send();
    r.assert_error(501, "NotImplemented");
    assert!(xml_text(&r.text(), "Message").is_some());
}

crate::backend_tests! {
    delete_object_conditions,
    delete_objects_conditions,
    put_and_complete_conditions,
    racing_conditional_writers_one_wins,
    conditional_put_racing_a_plain_put,
    torrent_of_missing_key,
}
