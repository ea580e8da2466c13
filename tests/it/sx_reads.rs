//! How the SX backend reads an object's blocks: few `.data` requests spread over the nodes
//! that hold the blocks, and a node that is down is not asked for every batch.
//! Seen through the debug line the gateway logs for every SX request. GetObject's answer is
//! the object's bytes either way
//! (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).

use std::time::Duration;

use crate::common::raw::obj_path;
use crate::common::{
    assert_bytes_eq, test_data, unique_bucket, Backend, ServerOpts, SxCluster, TestServer,
};

/// A gateway at debug level in front of a replica-2 volume on two nodes (the fake, unless a
/// real cluster is configured).
fn replica_2_server() -> TestServer {
    TestServer::start_cluster(
        ServerOpts {
            backend: Backend::Sx,
            env: vec![("RUST_LOG".into(), "info,libres3::store::sx=debug".into())],
            ..ServerOpts::default()
        },
        Some(SxCluster::for_tests().with_replica_count(2)),
    )
}

/// The `.data` requests the gateway sent so far, as (node, outcome) from its debug lines.
/// A HEAD of `marker` is logged after them: once its line is read, so are theirs.
fn block_requests(s: &TestServer, bucket: &str, marker: &str) -> Vec<(String, String)> {
    s.raw().head(&obj_path(bucket, marker)).send();
    s.wait_for_log(&format!("/{marker}"), Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no SX request for {marker} logged: {:?}", s.stderr()));
    s.stderr()
        .iter()
        .filter_map(|line| {
            let rest = line.split(" SX GET ").nth(1)?;
            let (node, rest) = rest.split_once(' ')?;
            if !rest.starts_with("/.data/") {
                return None;
            }
            let outcome = rest.split("): ").nth(1).unwrap_or_default();
            Some((node.to_owned(), outcome.to_owned()))
        })
        .collect()
}

/// SX lists each block's two holders in its own order, block by block. A 2 MiB object
/// (128 blocks of 16 KiB) is read in batches of 30 adjacent blocks whatever that order, and
/// the batches go to both nodes.
#[test]
fn blocks_are_read_in_few_batches_from_every_node() {
    let s = replica_2_server();
    let c = s.raw();
    let b = unique_bucket("sx-read-spread");
    c.create_bucket(&b);
    let data = test_data(2 << 20, 15);
    c.put_object(&b, "big", &data);
    assert_bytes_eq(&c.get_object(&b, "big"), &data, "big");
    let requests = block_requests(&s, &b, "marker-after-read");
    assert!(
        (5..=6).contains(&requests.len()),
        "{} block requests for 128 blocks of 16 KiB (5 batches expected): {requests:?}",
        requests.len()
    );
    let mut nodes: Vec<&str> = requests.iter().map(|(n, _)| n.as_str()).collect();
    nodes.sort();
    nodes.dedup();
    assert_eq!(nodes.len(), 2, "the batches went to {nodes:?} only");
}

/// With one node of a replica-2 volume down, the object is read from the other one, and the
/// stopped node is not asked for every batch: only by the batches that started before its
/// first failure came back (half of the 8 in flight at most). 16 MiB: 35 batches.
#[test]
fn a_node_down_is_not_asked_for_every_batch() {
    let mut s = replica_2_server();
    if s.sx().and_then(|c| c.fake()).is_none() {
        eprintln!("skipped on a real cluster: the test stops a node of the fake cluster");
        return;
    }
    let c = s.raw();
    let b = unique_bucket("sx-read-down");
    c.create_bucket(&b);
    let data = test_data(16 << 20, 16);
    c.put_object(&b, "big", &data);
    let fake = s.sx_mut().and_then(|c| c.fake_mut()).expect("the fake");
    let down = fake.ips[1].clone();
    actix_web::rt::System::new().block_on(fake.stop_node(1));
    assert_bytes_eq(&c.get_object(&b, "big"), &data, "big with a node down");
    let requests = block_requests(&s, &b, "marker-after-read");
    let to_down = requests.iter().filter(|(n, _)| *n == down).count();
    assert!(
        to_down <= 4,
        "the stopped node {down} was asked {to_down} times: {requests:?}"
    );
}
