//! Tagging, ListObjectVersions, versioning and the configuration sub-resources clients probe
//! (issue 3).

use serde_json::Value;

use crate::common::clients::Aws;
use crate::common::raw::obj_path;
use crate::common::{unique_bucket, write, xml_text, xml_texts, TestServer};

fn aws_object_and_bucket_tagging(s: &TestServer) {
    let aws = Aws::new(s);
    let c = s.raw();
    let b = unique_bucket("tagging");
    c.create_bucket(&b);
    let f = s.scratch("tagging").join("f");
    write(&f, b"tagged");
    aws.ok(&[
        "s3api",
        "put-object",
        "--bucket",
        &b,
        "--key",
        "k",
        "--body",
        f.to_str().unwrap(),
        "--tagging",
        "a=1&b=two%20words",
    ]);
    let tags = aws.json(&["s3api", "get-object-tagging", "--bucket", &b, "--key", "k"]);
    assert_eq!(
        tags["TagSet"],
        serde_json::json!([{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "two words"}])
    );
    let head = aws.json(&["s3api", "head-object", "--bucket", &b, "--key", "k"]);
    assert_eq!(head["TagCount"], Value::from(2));
    // Internal documents never leak as headers.
    let r = c.get(&obj_path(&b, "k")).send().ok();
    assert!(
        r.headers
            .iter()
            .all(|(n, _)| !n.to_ascii_lowercase().starts_with("x-libres3")),
        "{:?}",
        r.headers
    );

    aws.ok(&[
        "s3api",
        "put-object-tagging",
        "--bucket",
        &b,
        "--key",
        "k",
        "--tagging",
        "TagSet=[{Key=new,Value=v}]",
    ]);
    let tags = aws.json(&["s3api", "get-object-tagging", "--bucket", &b, "--key", "k"]);
    assert_eq!(
        tags["TagSet"],
        serde_json::json!([{"Key": "new", "Value": "v"}])
    );
    assert_eq!(c.get_object(&b, "k"), b"tagged");
    let eleven: Vec<String> = (0..11).map(|i| format!("{{Key=k{i},Value=v}}")).collect();
    let err = aws.fails(&[
        "s3api",
        "put-object-tagging",
        "--bucket",
        &b,
        "--key",
        "k",
        "--tagging",
        &format!("TagSet=[{}]", eleven.join(",")),
    ]);
    assert!(err.contains("InvalidTag"), "{err}");
    let long = "k".repeat(129);
    let err = aws.fails(&[
        "s3api",
        "put-object-tagging",
        "--bucket",
        &b,
        "--key",
        "k",
        "--tagging",
        &format!("TagSet=[{{Key={long},Value=v}}]"),
    ]);
    assert!(err.contains("InvalidTag"), "{err}");
    aws.ok(&[
        "s3api",
        "delete-object-tagging",
        "--bucket",
        &b,
        "--key",
        "k",
    ]);
    let tags = aws.json(&["s3api", "get-object-tagging", "--bucket", &b, "--key", "k"]);
    assert_eq!(tags["TagSet"], serde_json::json!([]));
    let err = aws.fails(&[
        "s3api",
        "get-object-tagging",
        "--bucket",
        &b,
        "--key",
        "missing",
    ]);
    assert!(err.contains("NoSuchKey"), "{err}");

    let err = aws.fails(&["s3api", "get-bucket-tagging", "--bucket", &b]);
    assert!(err.contains("NoSuchTagSet"), "{err}");
    aws.ok(&[
        "s3api",
        "put-bucket-tagging",
        "--bucket",
        &b,
        "--tagging",
        "TagSet=[{Key=env,Value=prod}]",
    ]);
    let tags = aws.json(&["s3api", "get-bucket-tagging", "--bucket", &b]);
    assert_eq!(
        tags["TagSet"],
        serde_json::json!([{"Key": "env", "Value": "prod"}])
    );
    aws.ok(&["s3api", "delete-bucket-tagging", "--bucket", &b]);
    assert!(aws
        .fails(&["s3api", "get-bucket-tagging", "--bucket", &b])
        .contains("NoSuchTagSet"));
}

fn aws_list_object_versions_on_unversioned_buckets(s: &TestServer) {
    let aws = Aws::new(s);
    let c = s.raw();
    let b = unique_bucket("versions");
    c.create_bucket(&b);
    let keys = ["a", "b/1", "b/2", "c"];
    for key in keys {
        c.put_object(&b, key, key.as_bytes());
    }
    let v = aws.json(&["s3api", "list-object-versions", "--bucket", &b]);
    let listed: Vec<(&str, &str, bool)> = v["Versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["Key"].as_str().unwrap(),
                x["VersionId"].as_str().unwrap(),
                x["IsLatest"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        keys.iter().map(|k| (*k, "null", true)).collect::<Vec<_>>()
    );
    // Paging by key-marker, as cleaning tools do.
    let mut seen = Vec::new();
    let mut marker = String::new();
    for _ in 0..10 {
        let mut req = c
            .get(&format!("/{b}"))
            .sub("versions")
            .query("max-keys", "1");
        if !marker.is_empty() {
            req = req
                .query("key-marker", &marker)
                .query("version-id-marker", "null");
        }
        let text = req.send().ok().text();
        seen.extend(xml_texts(&text, "Key"));
        if xml_text(&text, "IsTruncated").as_deref() != Some("true") {
            break;
        }
        marker = xml_text(&text, "NextKeyMarker").unwrap();
        assert_eq!(
            xml_text(&text, "NextVersionIdMarker").as_deref(),
            Some("null")
        );
    }
    assert_eq!(seen, keys);
    let v = aws.json(&["s3api", "get-bucket-versioning", "--bucket", &b]);
    assert!(v.is_null() || v.get("Status").is_none(), "{v}");
    // Cleaning a bucket the SDK way: delete every listed version.
    for key in keys {
        aws.ok(&[
            "s3api",
            "delete-object",
            "--bucket",
            &b,
            "--key",
            key,
            "--version-id",
            "null",
        ]);
    }
    c.delete(&format!("/{b}")).send().status(204);
}

fn raw_probed_configurations(s: &TestServer) {
    let c = s.raw();
    let b = unique_bucket("probe");
    c.create_bucket(&b);
    let get = |sub: &str| c.get(&format!("/{b}")).sub(sub).send();
    get("lifecycle").assert_error(404, "NoSuchLifecycleConfiguration");
    get("website").assert_error(404, "NoSuchWebsiteConfiguration");
    get("encryption").assert_error(404, "ServerSideEncryptionConfigurationNotFoundError");
    get("replication").assert_error(404, "ReplicationConfigurationNotFoundError");
    get("object-lock").assert_error(404, "ObjectLockConfigurationNotFoundError");
    get("publicAccessBlock").assert_error(404, "NoSuchPublicAccessBlockConfiguration");
    get("ownershipControls").assert_error(404, "OwnershipControlsNotFoundError");
    let text = get("logging").ok().text();
    assert!(text.contains("BucketLoggingStatus"), "{text}");
    let text = get("notification").ok().text();
    assert!(text.contains("NotificationConfiguration"), "{text}");
    let text = get("requestPayment").ok().text();
    assert_eq!(xml_text(&text, "Payer").as_deref(), Some("BucketOwner"));
    let text = get("versioning").ok().text();
    assert!(xml_text(&text, "Status").is_none(), "{text}");
    // PutBucketEncryption (s3_sse) and PutBucketLifecycleConfiguration (s3_lifecycle) are
    // kept; these are not.
    for sub in ["website", "logging", "notification", "requestPayment"] {
        c.put(&format!("/{b}"))
            .sub(sub)
            .body("<X/>")
            .send()
            .assert_error(501, "NotImplemented");
    }
    c.get(&format!("/{}", unique_bucket("nobucket")))
        .sub("lifecycle")
        .send()
        .assert_error(404, "NoSuchBucket");
}

crate::backend_tests! {
    aws_object_and_bucket_tagging,
    aws_list_object_versions_on_unversioned_buckets,
    raw_probed_configurations,
}
