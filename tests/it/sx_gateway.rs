//! What only the SX backend has: a cluster that can be unreachable, volumes made by SX clients
//! with client-side filters, and a file-name limit that escaped keys reach sooner. (The S3
//! workflows run on SX through `backend_tests!`.)

use crate::common::raw::obj_path;
use crate::common::{unique_bucket, xml_child_texts, xml_text, SxCluster, TestServer};
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
