//! Listing and bucket rules on both backends: ListBuckets paging, an empty ListObjectsV2
//! continuation token, CreateBucket on an existing bucket.

use crate::common::raw::{obj_path, Tamper};
use crate::common::{unique_bucket, xml_child_texts, xml_text, ServerOpts, TestServer};

/// AWS API reference, ListBuckets: `prefix`, `max-buckets` (1 to 10,000), `continuation-token`
/// and `bucket-region` select a page; the answer carries `ContinuationToken` while more
/// buckets follow, `Prefix` as asked, and each bucket's `BucketRegion`.
fn list_buckets_pages(s: &TestServer) {
    let c = s.raw();
    let prefix = unique_bucket("lb-page");
    let names: Vec<String> = (1..=3).map(|i| format!("{prefix}-{i}")).collect();
    for name in &names {
        c.create_bucket(name);
    }
    let page = |query: &[(&str, &str)]| {
        let mut req = c.get("/");
        for (k, v) in query {
            req = req.query(k, v);
        }
        req.send().ok().text()
    };

    let all = page(&[("prefix", &prefix)]);
    assert_eq!(xml_child_texts(&all, "Bucket", "Name"), names, "{all}");
    assert_eq!(
        xml_child_texts(&all, "Bucket", "BucketRegion"),
        vec!["us-east-1"; 3]
    );
    assert_eq!(xml_text(&all, "Prefix").as_deref(), Some(prefix.as_str()));
    assert_eq!(xml_text(&all, "ContinuationToken"), None, "{all}");

    // Two pages of two and one.
    let first = page(&[("prefix", &prefix), ("max-buckets", "2")]);
    assert_eq!(xml_child_texts(&first, "Bucket", "Name"), names[..2]);
    let token = xml_text(&first, "ContinuationToken").expect("ContinuationToken");
    let second = page(&[
        ("prefix", &prefix),
        ("max-buckets", "2"),
        ("continuation-token", &token),
    ]);
    assert_eq!(xml_child_texts(&second, "Bucket", "Name"), names[2..]);
    assert_eq!(xml_text(&second, "ContinuationToken"), None, "{second}");

    // Our buckets are all in the server's region.
    let here = page(&[("prefix", &prefix), ("bucket-region", "us-east-1")]);
    assert_eq!(xml_child_texts(&here, "Bucket", "Name"), names);
    let elsewhere = page(&[("prefix", &prefix), ("bucket-region", "eu-west-1")]);
    assert!(xml_child_texts(&elsewhere, "Bucket", "Name").is_empty());

    // Without parameters: every bucket, no paging elements.
    let plain = c.get("/").send().ok().text();
    let listed = xml_child_texts(&plain, "Bucket", "Name");
    assert!(names.iter().all(|n| listed.contains(n)), "{plain}");
    assert_eq!(xml_text(&plain, "Prefix"), None);

    for bad in [
        ("max-buckets", "0"),
        ("max-buckets", "10001"),
        ("max-buckets", "x"),
        ("continuation-token", "!!"),
    ] {
        c.get("/")
            .query(bad.0, bad.1)
            .send()
            .assert_error(400, "InvalidArgument");
    }
    for name in &names {
        c.delete(&format!("/{name}")).send().status(204);
    }
}

/// AWS API reference, ListObjectsV2: `continuation-token` may be empty (its length is 0 to
/// 1024); the listing then starts at the beginning and the answer echoes the token.
fn empty_continuation_token_lists_from_start(s: &TestServer) {
    let c = s.raw();
    let b = unique_bucket("lv2-empty-token");
    c.create_bucket(&b);
    for k in ["a", "b", "c"] {
        c.put_object(&b, k, b"x");
    }
    let text = c
        .get(&format!("/{b}"))
        .query("list-type", "2")
        .query("continuation-token", "")
        .query("max-keys", "2")
        .send()
        .ok()
        .text();
    assert_eq!(xml_child_texts(&text, "Contents", "Key"), ["a", "b"]);
    assert_eq!(xml_text(&text, "ContinuationToken").as_deref(), Some(""));
    assert!(xml_text(&text, "NextContinuationToken").is_some(), "{text}");
    for k in ["a", "b", "c"] {
        c.delete(&obj_path(&b, k)).send().status(204);
    }
}

/// AWS API reference, CreateBucket and the BucketAlreadyOwnedByYou error: re-creating one's
/// own bucket answers 200 in us-east-1 (legacy) and resets the bucket's ACL, 409
/// BucketAlreadyOwnedByYou in every other region; a bucket of another user is 409
/// BucketAlreadyExists.
fn create_existing_bucket(s: &TestServer) {
    let c = s.raw();
    let b = unique_bucket("create-again");
    c.put(&format!("/{b}"))
        .header("x-amz-acl", "public-read")
        .send()
        .ok();
    let acl = c.get(&format!("/{b}")).sub("acl").send().ok().text();
    assert!(acl.contains("AllUsers"), "{acl}");
    c.put(&format!("/{b}")).send().status(200);
    let acl = c.get(&format!("/{b}")).sub("acl").send().ok().text();
    assert!(!acl.contains("AllUsers"), "the ACL is reset: {acl}");
    c.head(&format!("/{b}")).send().status(200);

    let other = c.with_creds(s.add_user("create-again"));
    other
        .put(&format!("/{b}"))
        .send()
        .assert_error(409, "BucketAlreadyExists");

    // A server in another region.
    let eu = TestServer::start_with(ServerOpts {
        backend: s.backend(),
        extra_args: vec!["--region".into(), "eu-west-1".into()],
        ..ServerOpts::default()
    });
    let signed_for_eu = Tamper {
        region: Some("eu-west-1"),
        ..Tamper::default()
    };
    let ec = eu.raw();
    let b = unique_bucket("create-again-eu");
    ec.put(&format!("/{b}"))
        .tamper(signed_for_eu.clone())
        .send()
        .ok();
    ec.put(&format!("/{b}"))
        .tamper(signed_for_eu)
        .send()
        .assert_error(409, "BucketAlreadyOwnedByYou");
}

crate::backend_tests! {
    list_buckets_pages,
    empty_continuation_token_lists_from_start,
    create_existing_bucket,
}
