//! Flexible checksums kept with objects and GetObjectAttributes, driven by boto3.

use base64::Engine;
use serde_json::{json, Value};

use crate::common::clients::boto3;
use crate::common::{multipart_etag, unique_bucket, TestServer};

crate::backend_tests! {
    checksums_are_kept_and_attributes_answered,
}

fn checksums_are_kept_and_attributes_answered(s: &TestServer) {
    let b = unique_bucket("checksums");
    let v = boto3(s, include_str!("py/boto3_checksums.py"), &b, &[]);

    let body = b"checksummed body\n".repeat(64);
    let digest = ring::digest::digest(&ring::digest::SHA256, &body);
    let sha256 = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
    assert_eq!(v["put_sha256"], Value::from(sha256.clone()));
    assert_eq!(v["head_sha256"], Value::from(sha256.clone()));
    assert_eq!(v["get_sha256"], Value::from(sha256.clone()));
    assert_eq!(v["get_body_ok"], Value::from(true));
    assert_eq!(v["copy_sha256"], Value::from(sha256.clone()));
    // Only asked for, and only for the whole object.
    assert_eq!(v["head_without_mode"], Value::Null);
    assert_eq!(v["ranged_sha256"], Value::Null);

    let md5 = crate::common::md5_hex(&body);
    assert_eq!(
        v["attrs"],
        json!({
            "ETag": md5,
            "Checksum": {"ChecksumSHA256": sha256, "ChecksumType": "FULL_OBJECT"},
            "StorageClass": "STANDARD",
            "ObjectSize": body.len(),
        })
    );
    let parts = [vec![b'a'; 5 * 1024 * 1024], vec![b'b'; 1000]];
    let multi_etag = multipart_etag(&parts);
    assert_eq!(
        v["multi"],
        json!({
            "ETag": multi_etag.trim_matches('"'),
            "ObjectParts": {"TotalPartsCount": 2},
            "ObjectSize": 5 * 1024 * 1024 + 1000,
        })
    );
    assert_eq!(v["missing"], Value::from("NoSuchKey"));
    // PutObject, ChecksumCRC64NVME: "present if the object was uploaded with the CRC64NVME
    // checksum algorithm, or if it was uploaded without a checksum (and Amazon S3 added the
    // default checksum, CRC64NVME, to the uploaded object)". CRC-64/NVME of "123456789" is
    // 0xAE8B14860A799888 (its published check value).
    assert_eq!(v["default_put"], Value::from("rosUhgp5mIg="));
    assert_eq!(v["default_head"], json!(["rosUhgp5mIg=", "FULL_OBJECT"]));
}
