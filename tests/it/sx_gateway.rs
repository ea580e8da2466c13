//! What only the SX backend has: a cluster that can be unreachable, volumes made by SX clients
//! with client-side filters, and a file-name limit that escaped keys reach sooner. (The S3
//! workflows run on SX through `backend_tests!`.)

use crate::common::raw::obj_path;
use std::path::Path;

use crate::common::clients::Rclone;
use crate::common::{
    assert_bytes_eq, libres3_bin, md5_hex, read, test_data, unique_bucket, write, write_private,
    xml_child_texts, xml_text, xml_texts, SxCluster, TempDir, TestServer,
};
use crate::sx_fake::FakeSx;

/// When no SX node answers, S3 clients get 503 with Retry-After, as well-formed S3 errors,
/// for requests by a user the gateway already knows and by one it would have to look up.
#[test]
fn no_reachable_node_means_503_with_retry_after() {
    let mut s = TestServer::start_sx();
    if s.sx().and_then(|c| c.fake()).is_none() {
        eprintln!("skipped on a real cluster: the test stops the fake cluster's nodes");
        return;
    }
    let c = s.raw();
    let b = unique_bucket("sx-down");
    c.create_bucket(&b);
    c.put_object(&b, "k", b"before");
    let late = s.add_user("late");
    let fake = s
        .sx_mut()
        .and_then(|c| c.fake_mut())
        .expect("the fake cluster");
    let nodes = fake.ips.len();
    actix_web::rt::System::new().block_on(async {
        for i in 0..nodes {
            fake.stop_node(i).await;
        }
    });
    let requests = [
        c.get(&obj_path(&b, "k")).send(),
        c.head(&obj_path(&b, "k")).send(),
        c.put(&obj_path(&b, "k2")).body("after").send(),
        c.get(&format!("/{b}")).query("list-type", "2").send(),
        c.get("/").send(),
        c.with_creds(late).get("/").send(),
    ];
    for r in requests {
        r.assert_error(503, "ServiceUnavailable");
        let retry = r
            .header("retry-after")
            .unwrap_or_else(|| panic!("{}: 503 without Retry-After", r.request));
        assert!(
            retry.parse::<u32>().is_ok_and(|secs| secs > 0),
            "{}: Retry-After {retry:?}",
            r.request
        );
    }
}

/// A gateway started while no SX node answers (a reboot that brings it up before SX) starts
/// anyway, answers 503 with Retry-After, and serves by itself once the nodes are back. On the
/// fake every node is stopped; on a real cluster both nodes of scripts/sx-cluster (in the
/// node-down run of scripts/test).
#[test]
fn node_down_at_start_means_503_until_the_cluster_answers() {
    let mut s = TestServer::start_sx();
    let b = unique_bucket("sx-late");
    s.raw().create_bucket(&b);
    s.raw().put_object(&b, "k", b"kept");
    s.stop();
    let fake_nodes = s.sx().and_then(|c| c.fake()).map(|f| f.ips.len());
    let stopped = match fake_nodes {
        Some(nodes) => {
            let fake = s.sx_mut().and_then(|c| c.fake_mut()).expect("the fake");
            actix_web::rt::System::new().block_on(async {
                for i in 0..nodes {
                    fake.stop_node(i).await;
                }
            });
            Vec::new()
        }
        None => match (StoppedNode::stop(1), StoppedNode::stop(2)) {
            (Some(first), Some(second)) => vec![first, second],
            _ => {
                eprintln!(
                    "skipped: needs a real two-node cluster of scripts/sx-cluster and \
                     LIBRES3_TEST_SX_STOP_NODES=1 (scripts/test runs it alone)"
                );
                return;
            }
        },
    };
    s.restart();
    let said = s.wait_for_log("starting anyway", std::time::Duration::from_secs(10));
    assert!(
        said.is_some(),
        "no warning that SX is unreachable: {:?}",
        s.stderr()
    );
    let c = s.raw();
    for r in [c.get("/").send(), c.get(&obj_path(&b, "k")).send()] {
        r.assert_error(503, "ServiceUnavailable");
        assert!(
            r.header("retry-after").is_some(),
            "{}: 503 without Retry-After",
            r.request
        );
    }
    match fake_nodes {
        Some(nodes) => {
            let fake = s.sx_mut().and_then(|c| c.fake_mut()).expect("the fake");
            (0..nodes).for_each(|i| fake.start_node(i));
        }
        None => drop(stopped),
    }
    // The gateway connects by itself (it tries again after 1 s, 2 s, 4 s ... up to 30 s).
    let c = s.raw();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let r = c.get(&obj_path(&b, "k")).send();
        if r.status == 200 {
            assert_eq!(r.body, b"kept");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still no answer after the cluster came back: {} {}",
            r.status,
            r.text()
        );
        // Polling interval, not synchronisation: the loop ends on the answer.
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// The gateway reads the cluster's node list again every `sx_node_refresh`, so a node that
/// joins the cluster later is used: here the only node the gateway was given and the other
/// first member leave once a third node has joined, and cluster-wide requests (ListBuckets)
/// and the bucket, moved to the new node, still answer. Fake only: the real harness's
/// cluster does not grow (the refresh is the same `?nodeList` request as at the start).
#[test]
fn nodes_that_join_later_are_used() {
    let fake = FakeSx::start(3);
    fake.set_members(2);
    let cluster = SxCluster::on_fake(fake)
        .with_hosts(1)
        .with_setting("sx_node_refresh", "1");
    let mut s = TestServer::start_on(cluster);
    let c = s.raw();
    let b = unique_bucket("sx-grow");
    c.create_bucket(&b);
    c.put_object(&b, "k", b"kept");
    let fake = s.sx_mut().and_then(|c| c.fake_mut()).expect("the fake");
    fake.set_members(3);
    fake.move_volume(&b, &[2]);
    let said = s.wait_for_log(
        "SX node list now 127.0.0.1, 127.0.0.2, 127.0.0.3",
        std::time::Duration::from_secs(30),
    );
    assert!(
        said.is_some(),
        "the new node was not learned: {:?}",
        s.stderr()
    );
    let fake = s.sx_mut().and_then(|c| c.fake_mut()).expect("the fake");
    actix_web::rt::System::new().block_on(async {
        fake.stop_node(0).await;
        fake.stop_node(1).await;
    });
    let buckets = c.get("/").send().ok().text();
    assert!(xml_texts(&buckets, "Name").contains(&b), "{buckets}");
    c.head(&obj_path(&b, "k")).send().ok();
    assert_eq!(c.list_keys(&b, ""), ["k"]);
}

/// A cluster without room for a volume of the configured `volume_size` refuses CreateBucket
/// (400 "Invalid volume size ..."): clients get 507 InsufficientStorage, which they do not
/// retry, saying what to change, and the log names SX's reason. Other buckets keep working.
#[test]
fn a_cluster_too_full_for_a_new_volume_answers_507() {
    let s = TestServer::start_on(SxCluster::for_tests().with_volume_size("1000T"));
    let b = unique_bucket("sx-too-big");
    let r = s.raw().put(&format!("/{b}")).send();
    r.assert_error(507, "InsufficientStorage");
    assert!(r.text().contains("volume_size"), "{}", r.text());
    let logged = s.wait_for_log("Invalid volume size", std::time::Duration::from_secs(10));
    assert!(
        logged.as_deref().is_some_and(|l| l.contains("volume_size")),
        "the log does not name SX's reason: {:?}",
        s.stderr()
    );
    let listed = s.raw().get("/").send().ok().text();
    assert!(!xml_child_texts(&listed, "Bucket", "Name").contains(&b));
}

/// At debug level every request to SX is one log line: method, node, path, bytes sent,
/// status and bytes received, duration.
#[test]
fn every_sx_request_is_one_debug_line() {
    let s = TestServer::start_with(crate::common::ServerOpts {
        backend: crate::common::Backend::Sx,
        env: vec![("RUST_LOG".into(), "info,libres3::store::sx=debug".into())],
        ..crate::common::ServerOpts::default()
    });
    let b = unique_bucket("sx-debug");
    s.raw().create_bucket(&b);
    s.raw().put_object(&b, "k", b"logged");
    let line = s
        .wait_for_log(" SX PUT ", std::time::Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no SX request logged: {:?}", s.stderr()));
    assert!(
        line.contains(" ms") && line.contains("bytes sent") && line.contains(&format!("/{b}")),
        "{line}"
    );
    // The node: the one configured or one learned from the cluster's node list, so any
    // address between the method and the path.
    let node = line
        .split(" SX PUT ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_default();
    assert!(
        node.parse::<std::net::IpAddr>().is_ok(),
        "the line does not name the node: {line}"
    );
}

/// A volume moved to other nodes after the gateway cached its location (a rebalance, or a
/// bucket deleted and created again through another gateway) is found again at once: the old
/// nodes' "not here" is not the client's NoSuchKey or NoSuchBucket.
#[test]
fn a_moved_volume_is_found_again() {
    let s = TestServer::start_sx();
    let Some(fake) = s.sx().and_then(|c| c.fake()) else {
        eprintln!("skipped on a real cluster: the test moves a volume of the fake cluster");
        return;
    };
    let c = s.raw();
    let b = unique_bucket("sx-moved");
    c.create_bucket(&b);
    c.put_object(&b, "k", b"before the move");
    let before = fake.volume_nodes(&b);
    let elsewhere: Vec<usize> = (0..fake.ips.len())
        .filter(|n| !before.contains(n))
        .collect();
    assert!(!elsewhere.is_empty(), "the fake has a node without {b}");
    fake.move_volume(&b, &elsewhere);

    assert_eq!(c.get_object(&b, "k"), b"before the move");
    c.put_object(&b, "k2", b"after the move");
    assert_eq!(c.list_keys(&b, ""), ["k", "k2"]);
    c.get(&obj_path(&b, "absent"))
        .send()
        .assert_error(404, "NoSuchKey");
}

/// A node that fails while it sends an answer ends its 200 with an `ErrorMessage` (real SX's
/// `send_partial_error`): the gateway answers 503 with Retry-After, never a shorter listing or
/// an object read from a cut block list.
#[test]
fn an_error_inside_a_200_answer_is_an_error() {
    let s = TestServer::start_sx();
    let Some(fake) = s.sx().and_then(|c| c.fake()) else {
        eprintln!("skipped on a real cluster: the test makes the fake fail during its answers");
        return;
    };
    let c = s.raw();
    let b = unique_bucket("sx-partial");
    c.create_bucket(&b);
    c.put_object(&b, "a", b"1");
    c.put_object(&b, "b", b"2");
    fake.fail_during_next(
        |method, uri, _| method == "GET" && uri.contains("&limit="),
        "Failed to list files: I/O error",
    );
    let r = c.get(&format!("/{b}")).query("list-type", "2").send();
    r.assert_error(503, "ServiceUnavailable");
    assert!(r.header("retry-after").is_some(), "503 without Retry-After");
    assert_eq!(c.list_keys(&b, ""), ["a", "b"]);
    fake.fail_during_next(
        |method, uri, _| method == "GET" && uri.ends_with("/a"),
        "Failed to send file blocks: I/O error",
    );
    c.get(&obj_path(&b, "a"))
        .send()
        .assert_error(503, "ServiceUnavailable");
    assert_eq!(c.get_object(&b, "a"), b"1");
    assert_eq!(fake.pending_partial_errors(), 0);
}

/// S3 is last-writer-wins: writers overwriting one key at the same time all get 200. SX
/// ends the flush of a revision older than the file's current one with "Newer copies of this
/// file already exist"; that writer's data was written and overwritten at once, which is
/// success, not a 500. On the fake the race is made certain; on a real cluster sixteen writers
/// race for real.
#[test]
fn concurrent_overwrites_of_one_key_all_succeed() {
    let s = TestServer::start_sx();
    let c = s.raw();
    let b = unique_bucket("sx-overwrite");
    c.create_bucket(&b);
    if let Some(fake) = s.sx().and_then(|c| c.fake()) {
        // Another writer's upload that began later lands just before this flush.
        let bucket = b.clone();
        fake.before_next(
            |method, uri, body| method == "PUT" && uri.starts_with("/.upload/") && body.is_empty(),
            Box::new(move |st| st.write_file(&bucket, "k", b"the newer write", &[])),
        );
        c.put_object(&b, "k", b"the older write");
        assert_eq!(fake.pending_hooks(), 0);
        assert_eq!(c.get_object(&b, "k"), b"the newer write");
    }
    let writers = 16;
    let rounds = 8;
    std::thread::scope(|scope| {
        for w in 0..writers {
            let c = c.clone();
            let b = &b;
            scope.spawn(move || {
                for r in 0..rounds {
                    let body = format!("writer {w} round {r} ").repeat(200);
                    let resp = c.put(&obj_path(b, "same")).body(body).send();
                    assert_eq!(resp.status, 200, "writer {w} round {r}: {}", resp.text());
                }
            });
        }
    });
    let last = String::from_utf8(c.get_object(&b, "same")).expect("text");
    assert!(last.starts_with("writer "), "{last}");
}

/// HTTPS to a cluster set up the usual way: `sxsetup` makes one self-signed certificate with
/// `basicConstraints=critical,CA:true` and CN = the cluster name, which every node presents.
/// Given as `sx_ca_file` it is trusted, with verification on (SX's own clients trust it so);
/// another certificate made the same way, with the same name, is refused. Runs on a real HTTPS
/// cluster (scripts/sx-cluster start --ssl); `libres3 setup` checks the cluster as a start does.
#[test]
fn https_trusts_the_clusters_own_certificate_and_no_other() {
    let s = TestServer::start_sx();
    let Some((host, port, ca)) = s.sx().and_then(|c| c.real_https()) else {
        eprintln!("skipped: needs a real SX cluster over HTTPS with LIBRES3_TEST_SX_CA_FILE");
        return;
    };
    let admin_key = s.sx().map(|c| c.admin_key().to_owned()).unwrap_or_default();
    let dir = TempDir::new("sx-https");
    let key_file = dir.join("sx-admin.key");
    write_private(&key_file, format!("{admin_key}\n").as_bytes());
    let setup = |ca: &Path, conf: &Path| {
        let out = std::process::Command::new(libres3_bin())
            .args(["setup", "--batch", "--config"])
            .arg(conf)
            .args(["--backend", "sx", "--sx-host", host, "--sx-port"])
            .arg(port.to_string())
            .args(["--sx-use-ssl", "yes", "--sx-ca-file"])
            .arg(ca)
            .arg("--sx-key-file")
            .arg(&key_file)
            .args(["--listen", "127.0.0.1:0", "--admin-listen", "off"])
            .output()
            .expect("run libres3 setup");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), stderr)
    };
    let (code, stderr) = setup(ca, &dir.join("good.conf"));
    assert_eq!(code, Some(0), "the cluster's own certificate: {stderr}");

    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    // The name of scripts/sx-cluster's HTTPS cluster: the same name does not make it the same
    // certificate.
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "sxtest-ssl");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().expect("key");
    let other = params.self_signed(&key).expect("certificate");
    let other_ca = dir.join("other.pem");
    write(&other_ca, other.pem().as_bytes());
    let (code, stderr) = setup(&other_ca, &dir.join("bad.conf"));
    assert_eq!(code, Some(1), "another certificate was accepted: {stderr}");
    assert!(stderr.contains("certificate"), "{stderr}");
}

/// A node of a real cluster stopped for the length of a test (scripts/sx-cluster stop-node),
/// started again when dropped, also when the test failed.
struct StoppedNode {
    dir: String,
    node: u32,
}

impl StoppedNode {
    /// Stops `node` of the cluster of `LIBRES3_TEST_SX_CLUSTER_DIR`, when this run may stop
    /// nodes: `LIBRES3_TEST_SX_STOP_NODES=1`, set by scripts/test for a run of these tests
    /// alone, since every other test on the cluster would see the node down too.
    fn stop(node: u32) -> Option<StoppedNode> {
        let dir = std::env::var("LIBRES3_TEST_SX_CLUSTER_DIR").ok()?;
        if std::env::var("LIBRES3_TEST_SX_STOP_NODES").as_deref() != Ok("1") {
            return None;
        }
        sx_cluster(&["stop-node", &node.to_string(), "--dir", &dir]);
        Some(StoppedNode { dir, node })
    }
}

impl Drop for StoppedNode {
    fn drop(&mut self) {
        sx_cluster(&["start-node", &self.node.to_string(), "--dir", &self.dir]);
    }
}

fn sx_cluster(args: &[&str]) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/sx-cluster");
    let out = std::process::Command::new(script)
        .args(args)
        .output()
        .expect("run scripts/sx-cluster");
    assert!(
        out.status.success(),
        "scripts/sx-cluster {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// With one node of a replica-2 volume down, reads and listings go on from the other node;
/// writes fail in SX itself (sxcp fails too), and S3 clients get a clean 503 with
/// Retry-After, soon, never a 500 or a hang. When the node is back, writes work again.
#[test]
fn node_down_reads_go_on_and_writes_answer_503() {
    let s = TestServer::start_sx();
    let c = s.raw();
    let b = unique_bucket("sx-node-down");
    c.create_bucket(&b);
    let small = b"small object".to_vec();
    let big = crate::common::test_data(300_000, 7);
    c.put_object(&b, "small", &small);
    c.put_object(&b, "big", &big);
    let Some(stopped) = StoppedNode::stop(2) else {
        eprintln!(
            "skipped: needs a real two-node cluster of scripts/sx-cluster and \
             LIBRES3_TEST_SX_STOP_NODES=1 (scripts/test runs it alone)"
        );
        return;
    };
    assert_eq!(c.get_object(&b, "small"), small);
    crate::common::assert_bytes_eq(&c.get_object(&b, "big"), &big, "big");
    assert_eq!(c.list_keys(&b, ""), ["big", "small"]);
    for (key, body) in [("new-small", small.clone()), ("new-big", big.clone())] {
        let started = std::time::Instant::now();
        let r = c.put(&obj_path(&b, key)).body(body).send();
        r.assert_error(503, "ServiceUnavailable");
        assert!(r.header("retry-after").is_some(), "503 without Retry-After");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "PUT {key} with a node down took {:?}",
            started.elapsed()
        );
    }
    drop(stopped);
    // The node is back: writes work again once the cluster sees it (bounded wait).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let r = c.put(&obj_path(&b, "after")).body("back").send();
        if r.status == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "writes still fail after the node came back: {} {}",
            r.status,
            r.text()
        );
        // Polling interval, not synchronisation: the loop ends on the answer.
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(c.get_object(&b, "after"), b"back");
}

/// A volume made by `sxvol create -f zcomp` (the filter's UUID in its `filterActive` meta) is
/// listed, and every object request says which filter keeps LibreS3 from serving it.
#[test]
fn filtered_volumes_are_listed_but_refused() {
    let s = TestServer::start_sx();
    let sx = s.sx().expect("an SX server");
    let vol = unique_bucket("sx-zcomp");
    let body = serde_json::json!({
        "volumeSize": 100u64 << 20,
        "owner": s.opts.access_key,
        "replicaCount": 1,
        "volumeMeta": {"filterActive": "d5dbdf0afb174d1ba9ce4060317af5b5"},
    });
    let answer = sx.admin("PUT", &format!("/{vol}"), body.to_string().as_bytes());
    sx.wait_job(&answer, "creating a volume with the zcomp filter");
    let c = s.raw();
    let listed = c.get("/").send().ok().text();
    assert!(
        xml_child_texts(&listed, "Bucket", "Name").contains(&vol),
        "{listed}"
    );
    let requests = [
        c.get(&obj_path(&vol, "k")).send(),
        c.head(&obj_path(&vol, "k")).send(),
        c.put(&obj_path(&vol, "k")).body("data").send(),
        c.get(&format!("/{vol}")).query("list-type", "2").send(),
    ];
    for r in requests {
        r.assert_error(501, "NotImplemented");
        if !r.request.starts_with("HEAD ") {
            let message = xml_text(&r.text(), "Message").unwrap_or_default();
            assert!(
                message.contains("zcomp") && message.contains(&vol),
                "{}: {message}",
                r.request
            );
        }
    }
}

/// A file sxcp put into a volume has no MD5 in its SX meta: its ETag is 32 hex digits and
/// `-1`, which S3 clients do not take for an MD5, one ETag for its revision in listings, HEAD,
/// GET and the conditions on reads, copies and writes. rclone copies it without a hash error.
#[test]
fn files_sx_tools_wrote_have_one_etag_that_is_not_an_md5() {
    let s = TestServer::start_sx();
    let sx = s.sx().expect("an SX server");
    let c = s.raw();
    let b = unique_bucket("sx-native");
    c.create_bucket(&b);
    let data = test_data(100_000, 14);
    sx.put_file_as_sxcp(&b, "dir/native.bin", &data);
    let path = obj_path(&b, "dir/native.bin");

    let head = c.head(&path).send().ok();
    let etag = head.header("etag").expect("an ETag").to_owned();
    let digits = etag
        .strip_prefix('"')
        .and_then(|e| e.strip_suffix("-1\""))
        .unwrap_or_else(|| panic!("ETag {etag} is not \"<hex>-1\""));
    assert_eq!(digits.len(), 32, "{etag}");
    assert!(digits.bytes().all(|b| b.is_ascii_hexdigit()), "{etag}");
    assert_ne!(digits, md5_hex(&data));

    let got = c.get(&path).send().ok();
    assert_eq!(got.header("etag"), Some(etag.as_str()));
    assert_bytes_eq(&got.body, &data, "GET of a file sxcp wrote");
    let v2 = c.get(&format!("/{b}")).query("list-type", "2").send().ok();
    let v1 = c.get(&format!("/{b}")).send().ok();
    let versions = c.get(&format!("/{b}")).sub("versions").send().ok();
    for listing in [v2, v1, versions] {
        assert_eq!(
            xml_texts(&listing.text(), "ETag"),
            std::slice::from_ref(&etag),
            "{}",
            listing.request
        );
    }

    c.get(&path)
        .header("if-none-match", &etag)
        .send()
        .status(304);
    c.get(&path).header("if-match", &etag).send().status(200);
    c.get(&path)
        .header("if-match", &format!("\"{}\"", md5_hex(&data)))
        .send()
        .status(412);
    c.put(&obj_path(&b, "copy"))
        .header("x-amz-copy-source", &format!("/{b}/dir/native.bin"))
        .header("x-amz-copy-source-if-match", &etag)
        .send()
        .ok();
    assert_eq!(c.get_object(&b, "copy"), data);

    let rc = Rclone::new(&s);
    let dst = s.scratch("sx-native");
    rc.ok(&["copy", &format!("it:{b}/dir"), dst.to_str().expect("UTF-8")]);
    assert_bytes_eq(&read(dst.join("native.bin")), &data, "rclone copy");

    // A conditional write compares with the same ETag.
    c.put(&path)
        .header("if-match", &etag)
        .body("replaced")
        .send()
        .ok();
    assert_eq!(c.get_object(&b, "dir/native.bin"), b"replaced");
}

/// Keys SX cannot hold as file names are stored hex-encoded, which halves the 1024 bytes SX
/// allows: beyond that, S3 clients get KeyTooLongError, not a server error.
#[test]
fn odd_keys_too_long_to_escape_are_key_too_long() {
    let s = TestServer::start_sx();
    let c = s.raw();
    let b = unique_bucket("sx-long-odd");
    c.create_bucket(&b);
    let fits = format!("{}/", "x".repeat(400));
    c.put_object(&b, &fits, b"fits");
    assert_eq!(c.get_object(&b, &fits), b"fits");
    let too_long = format!("{}/", "x".repeat(600));
    let r = c.put(&obj_path(&b, &too_long)).body("no").send();
    r.assert_error(400, "KeyTooLongError");
    let message = xml_text(&r.text(), "Message").unwrap_or_default();
    assert!(message.contains("SX"), "{message}");
    c.post(&obj_path(&b, &too_long))
        .sub("uploads")
        .send()
        .assert_error(400, "KeyTooLongError");
    c.get(&obj_path(&b, &too_long))
        .send()
        .assert_error(404, "NoSuchKey");
    // A plain key of the full 1024 bytes is stored as it is.
    let plain = "p".repeat(1024);
    c.put_object(&b, &plain, b"plain");
    assert_eq!(c.get_object(&b, &plain), b"plain");
}

/// SX removes a volume only when asked on one of the volume's nodes (the others answer 404
/// "This volume does not belong here"): DeleteBucket finds them, also after the volume moved.
#[test]
fn bucket_deletion_goes_to_the_volumes_nodes() {
    let s = TestServer::start_sx();
    let Some(fake) = s.sx().and_then(|c| c.fake()) else {
        eprintln!("skipped on a real cluster: the test moves volumes of the fake cluster");
        return;
    };
    let c = s.raw();
    for round in 0..4 {
        let b = unique_bucket("sx-del-route");
        c.create_bucket(&b);
        c.put_object(&b, "k", b"x");
        c.delete(&obj_path(&b, "k")).send().status(204);
        // Every node in turn holds the volume alone.
        fake.move_volume(&b, &[round % fake.ips.len()]);
        c.delete(&format!("/{b}")).send().status(204);
        c.head(&format!("/{b}")).send().status(404);
        assert!(!fake.volumes().iter().any(|(name, _)| *name == b));
    }
}

/// The opt-in run against a real cluster reaches it by URL and admin key only, and removes
/// what each test made: its users, their volumes and everything in them. Checked here with a
/// fake cluster of two nodes in the real one's role, with volumes on one node each, so that
/// each volume's removal must go to its own node.
#[test]
fn real_cluster_runs_clean_up_after_themselves() {
    let fake = FakeSx::start(2);
    let url = format!("http://{}:{}", fake.ips[0], fake.port);
    {
        let cluster = SxCluster::real(&url, &fake.admin_token).with_replica_count(1);
        let s = TestServer::start_on(cluster);
        let c = s.raw();
        let b = unique_bucket("sx-cleanup");
        c.create_bucket(&b);
        c.put_object(&b, "plain", b"x");
        c.put_object(&b, "odd//", b"y");
        c.put(&format!("/{b}"))
            .sub("tagging")
            .body("<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>")
            .send()
            .ok();
        let text = c
            .post(&obj_path(&b, "unfinished"))
            .sub("uploads")
            .send()
            .ok()
            .text();
        let id = xml_text(&text, "UploadId").expect("UploadId");
        c.put(&obj_path(&b, "unfinished"))
            .query("partNumber", "1")
            .query("uploadId", &id)
            .body("part")
            .send()
            .ok();
        let other = c.with_creds(s.add_user("other"));
        other.create_bucket(&unique_bucket("sx-cleanup-other"));
        assert_eq!(fake.volumes().len(), 2, "{:?}", fake.volumes());
        assert_eq!(fake.user_names().len(), 3, "{:?}", fake.user_names());
        assert!(!fake.files(&b).is_empty());
    }
    assert_eq!(fake.volumes(), Vec::<(String, String)>::new());
    assert_eq!(fake.user_names(), ["admin"]);
}
