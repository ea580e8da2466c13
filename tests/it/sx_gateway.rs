//! What only the SX backend has: a cluster that can be unreachable. (The S3 workflows run on
//! SX through `backend_tests!`.)

use crate::common::raw::obj_path;
use crate::common::{unique_bucket, TestServer};

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
