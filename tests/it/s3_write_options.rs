//! Write options the server cannot honour are refused, and nothing is stored.

use crate::common::raw::obj_path;
use crate::common::{unique_bucket, TestServer};

crate::backend_tests! {
    unhonoured_write_options_are_refused_and_store_nothing,
}

fn unhonoured_write_options_are_refused_and_store_nothing(s: &TestServer) {
    let c = s.raw();
    let b = unique_bucket("write-options");
    c.create_bucket(&b);
    // Encryption the server offers is tested in s3_sse; what it refuses is here.
    let refused: &[(&str, &str, u16, &str)] = &[
        (
            "x-amz-server-side-encryption",
            "aws:kms:dsse",
            501,
            "NotImplemented",
        ),
        (
            "x-amz-server-side-encryption",
            "rot13",
            400,
            "InvalidArgument",
        ),
        // SSE-C needs its three headers (PutObject: "all three ... must be specified").
        (
            "x-amz-server-side-encryption-customer-algorithm",
            "AES256",
            400,
            "InvalidArgument",
        ),
        // A KMS key without aws:kms.
        (
            "x-amz-server-side-encryption-aws-kms-key-id",
            "k",
            400,
            "InvalidArgument",
        ),
        ("x-amz-storage-class", "GLACIER", 501, "NotImplemented"),
        ("x-amz-storage-class", "BOGUS", 400, "InvalidStorageClass"),
        (
            "x-amz-object-lock-mode",
            "GOVERNANCE",
            400,
            "InvalidRequest",
        ),
    ];
    for (i, (name, value, status, code)) in refused.iter().enumerate() {
        let key = format!("refused-{i}");
        let put = c
            .put(&obj_path(&b, &key))
            .header(name, value)
            .body("data")
            .send();
        put.assert_error(*status, code);
        let uploads = c
            .post(&obj_path(&b, &key))
            .sub("uploads")
            .header(name, value)
            .send();
        uploads.assert_error(*status, code);
        c.head(&obj_path(&b, &key)).send().status(404);
    }
    assert!(
        c.list_keys(&b, "").is_empty(),
        "a refused write stored something"
    );

    // Classes readable at once are kept as STANDARD.
    let put = c
        .put(&obj_path(&b, "infrequent"))
        .header("x-amz-storage-class", "STANDARD_IA")
        .body("data")
        .send();
    put.status(200);
    assert_eq!(c.get_object(&b, "infrequent"), b"data");
}
