//! Buckets, unimplemented operations, request limits and virtual-hosted-style
//! addressing, with the raw client.

use crate::common::raw::{obj_path, Auth};
use crate::common::{
    now_secs, test_data, unique_bucket, xml_child_texts, xml_text, ServerOpts, TestServer,
};

fn bucket_lifecycle(s: &TestServer) {
    let c = s.raw();
    let b = unique_bucket("lifecycle");
    c.head(&format!("/{b}"))
        .send()
        .assert_error(404, "NoSuchBucket");
    c.create_bucket(&b);
    c.head(&format!("/{b}")).send().status(200);
    // Re-creating one's own bucket in us-east-1 succeeds (AWS legacy behaviour; the other
    // regions: tests/it/s3_listing_rules.rs).
    c.put(&format!("/{b}")).send().status(200);

    // ListBuckets shows it with a real creation date.
    let text = c.get("/").send().ok().text();
    let names = xml_child_texts(&text, "Bucket", "Name");
    let dates = xml_child_texts(&text, "Bucket", "CreationDate");
    let i = names
        .iter()
        .position(|n| *n == b)
        .unwrap_or_else(|| panic!("{b} not in ListBuckets:\n{text}"));
    let date = &dates[i];
    let year: i64 = date[..4].parse().expect("CreationDate year");
    let now_year = 1970 + now_secs() / 31_556_952;
    assert!(
        (now_year - 1..=now_year + 1).contains(&year),
        "CreationDate {date}"
    );
    assert!(
        xml_text(&text, "Owner").is_some(),
        "ListBuckets without Owner:\n{text}"
    );

    // GetBucketLocation.
    let loc = c.get(&format!("/{b}")).sub("location").send().ok().text();
    let doc = crate::common::parse_xml(&loc);
    assert_eq!(doc.root_element().tag_name().name(), "LocationConstraint");
    let region = doc.root_element().text().unwrap_or("");
    assert!(
        region.is_empty() || region == "us-east-1",
        "location {region:?}"
    );

    // BucketNotEmpty, then empty and delete.
    c.put_object(&b, "k", b"v");
    c.delete(&format!("/{b}"))
        .send()
        .assert_error(409, "BucketNotEmpty");
    c.delete(&obj_path(&b, "k")).send().status(204);
    c.delete(&format!("/{b}")).send().status(204);
    c.head(&format!("/{b}"))
        .send()
        .assert_error(404, "NoSuchBucket");
    c.get(&format!("/{b}"))
        .send()
        .assert_error(404, "NoSuchBucket");
    c.delete(&format!("/{b}"))
        .send()
        .assert_error(404, "NoSuchBucket");
    c.put(&obj_path(&b, "k"))
        .body("x")
        .send()
        .assert_error(404, "NoSuchBucket");
    let text = c.get("/").send().ok().text();
    assert!(!xml_child_texts(&text, "Bucket", "Name").contains(&b));
}

fn create_bucket_with_location_constraint(s: &TestServer) {
    let c = s.raw();
    let b = unique_bucket("location");
    let body = "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                <LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>";
    c.put(&format!("/{b}")).body(body).send().ok();
    c.head(&format!("/{b}")).send().status(200);
    let b2 = unique_bucket("location-bad");
    c.put(&format!("/{b2}"))
        .body("<CreateBucketConfiguration><LocationConstraint>")
        .send()
        .assert_error(400, "MalformedXML");
}

fn invalid_bucket_names(s: &TestServer) {
    let c = s.raw();
    for name in [
        "ab",
        &"a".repeat(64),
        "UpperCase",
        "under_score",
        "-leading-dash",
        "trailing-dash-",
        "double..dot",
        "192.168.1.1",
        "dot.-dash",
        "sp%20ace",
    ] {
        c.put(&format!("/{name}"))
            .send()
            .assert_error(400, "InvalidBucketName");
    }
    // 63 characters is fine.
    let ok = format!("{}-{}", "a".repeat(40), crate::common::random_suffix());
    let ok = format!("{ok}{}", "b".repeat(63 - ok.len()));
    assert_eq!(ok.len(), 63);
    c.create_bucket(&ok);
    c.delete(&format!("/{ok}")).send().status(204);
}

fn another_users_bucket_name_is_taken(s: &TestServer) {
    let b = unique_bucket("taken");
    s.raw().create_bucket(&b);
    let other = s.raw().with_creds(s.add_user("other"));
    other
        .put(&format!("/{b}"))
        .send()
        .assert_error(409, "BucketAlreadyExists");
    // The first user still owns it, and the other one cannot use it.
    s.raw().head(&format!("/{b}")).send().status(200);
    other
        .put(&obj_path(&b, "k"))
        .body("x")
        .send()
        .assert_error(403, "AccessDenied");
}

/// A deleted bucket takes its configuration with it: created again under the same name, it
/// starts without the old CORS rules, policy, tags and ACL. The backend's own bookkeeping does
/// not keep a bucket from being deleted; an object does, whatever its name.
fn bucket_documents_go_with_the_bucket(s: &TestServer) {
    let c = s.raw();
    let b = unique_bucket("docs-gone");
    let bucket = format!("/{b}");
    c.create_bucket(&b);
    let cors = "<CORSConfiguration><CORSRule><AllowedOrigin>https://example.com</AllowedOrigin>\
                <AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>";
    c.put(&bucket).sub("cors").body(cors).send().ok();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*"}}]}}"#
    );
    c.put(&bucket).sub("policy").body(policy).send().ok();
    let tags = "<Tagging><TagSet><Tag><Key>team</Key><Value>blue</Value></Tag></TagSet></Tagging>";
    c.put(&bucket).sub("tagging").body(tags).send().ok();
    c.put(&bucket)
        .sub("acl")
        .header("x-amz-acl", "public-read")
        .send()
        .ok();
    c.get(&bucket).sub("cors").send().ok();
    // A key SX cannot hold as a file name (stored escaped) is an object like any other.
    c.put_object(&b, "dir//odd/", b"odd");
    c.delete(&bucket).send().assert_error(409, "BucketNotEmpty");
    assert_eq!(c.get_object(&b, "dir//odd/"), b"odd");
    c.delete(&obj_path(&b, "dir//odd/")).send().status(204);
    c.delete(&bucket).send().status(204);
    if let Some(sx) = s.sx() {
        // The volume itself is gone from the cluster.
        let list = sx.admin("GET", "/?volumeList", b"").response;
        let v: serde_json::Value = serde_json::from_slice(&list.body).expect("volume list");
        assert!(v["volumeList"].get(&b).is_none(), "{}", list.text());
    }
    c.create_bucket(&b);
    c.get(&bucket)
        .sub("cors")
        .send()
        .assert_error(404, "NoSuchCORSConfiguration");
    c.get(&bucket)
        .sub("policy")
        .send()
        .assert_error(404, "NoSuchBucketPolicy");
    c.get(&bucket)
        .sub("tagging")
        .send()
        .assert_error(404, "NoSuchTagSet");
    let acl = c.get(&bucket).sub("acl").send().ok().text();
    assert!(!acl.contains("AllUsers"), "{acl}");
    c.put_object(&b, "k", b"private");
    c.get(&obj_path(&b, "k"))
        .auth(Auth::Anonymous)
        .send()
        .assert_error(403, "AccessDenied");
    let r = c
        .get(&obj_path(&b, "k"))
        .header("Origin", "https://example.com")
        .send()
        .ok();
    assert_eq!(
        r.header("access-control-allow-origin"),
        None,
        "old CORS rules still apply"
    );
}

// S3 layer only (routing): the same on every backend.
#[test]
fn unimplemented_operations_are_501() {
    let s = TestServer::shared();
    let c = s.raw();
    let b = unique_bucket("notimpl");
    c.create_bucket(&b);
    c.put_object(&b, "k", b"v");
    let cases = [
        // GetBucketLogging answers an empty BucketLoggingStatus (issue 3); inventory is not kept.
        c.get(&format!("/{b}"))
            .sub("inventory")
            .query("id", "x")
            .send(),
        c.put(&format!("/{b}"))
            .sub("replication")
            .body("<ReplicationConfiguration/>")
            .send(),
        c.get(&format!("/{b}"))
            .sub("analytics")
            .query("id", "x")
            .send(),
        c.post(&obj_path(&b, "k"))
            .sub("select")
            .query("select-type", "2")
            .send(),
    ];
    for r in cases {
        r.assert_error(501, "NotImplemented");
    }
    // The bucket and object are untouched.
    assert_eq!(c.get_object(&b, "k"), b"v");
}

// Request limits are the S3 layer's: the same on every backend.
#[test]
fn oversized_headers_are_refused_and_server_survives() {
    let s = TestServer::shared();
    let c = s.raw();
    let b = unique_bucket("oversized");
    c.create_bucket(&b);
    // 2 KiB of user metadata is the S3 limit; just under it is fine.
    let ok_meta = "m".repeat(1900);
    c.put(&obj_path(&b, "ok"))
        .header("x-amz-meta-big", &ok_meta)
        .body("x")
        .send()
        .ok();
    let r = c.head(&obj_path(&b, "ok")).send().ok();
    assert_eq!(r.header("x-amz-meta-big"), Some(ok_meta.as_str()));
    c.put(&obj_path(&b, "too-much-meta"))
        .header("x-amz-meta-big", &"m".repeat(3000))
        .body("x")
        .send()
        .assert_error(400, "MetadataTooLarge");

    // More than actix's 96 headers (60 KiB in all).
    let mut req = c.get(&obj_path(&b, "ok"));
    for i in 0..600 {
        req = req.header(&format!("x-filler-{i}"), &"v".repeat(100));
    }
    check_too_large(&req.send());
    // One 64 KiB header; S3 refuses a header section over 8 KiB. Signed, so
    // that only its size can be the reason to refuse it.
    let huge = "h".repeat(64 * 1024);
    let r = c.get(&obj_path(&b, "ok")).header("x-filler", &huge).send();
    check_too_large(&r);
    // Still serving.
    assert_eq!(c.get_object(&b, "ok"), b"x");
}

fn check_too_large(r: &crate::common::Response) {
    match r.status {
        400 => r.assert_error(400, "RequestHeaderSectionTooLarge"),
        431 => {}
        other => panic!(
            "oversized headers: expected 400 RequestHeaderSectionTooLarge or 431, got {other}:\n{}",
            r.text()
        ),
    }
}

// Addressing is the S3 layer's: the same on every backend.
#[test]
fn virtual_hosted_style() {
    let s = TestServer::start_with(ServerOpts {
        s3_host: Some("s3.libres3.test".into()),
        ..ServerOpts::default()
    });
    let c = s.raw();
    let port = s.port();
    let b = unique_bucket("vhost");
    let vhost = format!("{b}.s3.libres3.test:{port}");
    // CreateBucket virtual-hosted-style.
    c.put("/").host(&vhost).send().ok();
    let data = test_data(10_000, 40);
    c.put("/dir/obj%201")
        .host(&vhost)
        .body(data.clone())
        .send()
        .ok();
    // The same object path-style, with the plain host and with the S3 host name.
    assert_eq!(c.get_object(&b, "dir/obj 1"), data);
    let r = c
        .get(&obj_path(&b, "dir/obj 1"))
        .host(&format!("s3.libres3.test:{port}"))
        .send()
        .ok();
    assert_eq!(r.body, data);
    // GET and HEAD virtual-hosted, also without a port in Host.
    let r = c.get("/dir/obj%201").host(&vhost).send().ok();
    assert_eq!(r.body, data);
    let r = c
        .get("/dir/obj%201")
        .host(&format!("{b}.s3.libres3.test"))
        .send()
        .ok();
    assert_eq!(r.body, data);
    c.head("/dir/obj%201").host(&vhost).send().ok();
    // Listing virtual-hosted-style.
    let text = c
        .get("/")
        .host(&vhost)
        .query("list-type", "2")
        .send()
        .ok()
        .text();
    assert_eq!(xml_child_texts(&text, "Contents", "Key"), vec!["dir/obj 1"]);
    // Presigned virtual-hosted-style.
    let r = c
        .get("/dir/obj%201")
        .host(&vhost)
        .auth(Auth::V4Presigned { expires: 60 })
        .send()
        .ok();
    assert_eq!(r.body, data);
    // SigV2 virtual-hosted-style signs `/bucket/key`.
    let r = c
        .get("/dir/obj%201")
        .vhost(&b, "s3.libres3.test")
        .auth(Auth::V2)
        .send()
        .ok();
    assert_eq!(r.body, data);
    c.put("/v2-vhost")
        .vhost(&b, "s3.libres3.test")
        .body("v2")
        .auth(Auth::V2)
        .send()
        .ok();
    assert_eq!(c.get_object(&b, "v2-vhost"), b"v2");
    c.delete("/v2-vhost").host(&vhost).send().status(204);
    // Errors name the virtual-hosted resource.
    c.get("/missing")
        .host(&vhost)
        .send()
        .assert_error(404, "NoSuchKey");
    c.get("/k")
        .host(&format!("no-such-bucket-xyz.s3.libres3.test:{port}"))
        .send()
        .assert_error(404, "NoSuchBucket");
    // DELETE virtual-hosted.
    c.delete("/dir/obj%201").host(&vhost).send().status(204);
    c.delete("/").host(&vhost).send().status(204);
    c.head(&format!("/{b}"))
        .send()
        .assert_error(404, "NoSuchBucket");
}

crate::backend_tests! {
    bucket_lifecycle,
    create_bucket_with_location_constraint,
    invalid_bucket_names,
    another_users_bucket_name_is_taken,
    bucket_documents_go_with_the_bucket,
}
