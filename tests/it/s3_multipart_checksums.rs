//! Multipart uploads created with a checksum algorithm and type, driven by boto3.
//!
//! AWS User Guide, "Checking object integrity in Amazon S3" (multipart uploads: composite and
//! full object checksums, and which algorithms allow which type); API reference pages
//! CreateMultipartUpload, UploadPart, ListParts, CompleteMultipartUpload, HeadObject and
//! GetObjectAttributes for where each checksum and ChecksumType is returned.

use serde_json::{json, Value};

use crate::common::clients::boto3;
use crate::common::{unique_bucket, TestServer};

crate::backend_tests! {
    multipart_uploads_keep_part_and_object_checksums,
}

fn multipart_uploads_keep_part_and_object_checksums(s: &TestServer) {
    let b = unique_bucket("mpchecksums");
    let v = boto3(s, include_str!("py/boto3_multipart_checksums.py"), &b, &[]);
    for (key, algorithm, kind) in [
        ("CRC32-COMPOSITE", "CRC32", "COMPOSITE"),
        ("CRC32-FULL_OBJECT", "CRC32", "FULL_OBJECT"),
        ("CRC32C-COMPOSITE", "CRC32C", "COMPOSITE"),
        ("CRC32C-FULL_OBJECT", "CRC32C", "FULL_OBJECT"),
        ("CRC64NVME-FULL_OBJECT", "CRC64NVME", "FULL_OBJECT"),
        ("SHA1-COMPOSITE", "SHA1", "COMPOSITE"),
        ("SHA256-COMPOSITE", "SHA256", "COMPOSITE"),
    ] {
        let r = &v[key];
        let expected = &r["expected"];
        let parts = &r["parts_expected"];
        let field = format!("Checksum{algorithm}");
        // CreateMultipartUpload answers the algorithm and type in headers.
        assert_eq!(r["created"], json!([algorithm, kind]), "{key}");
        // UploadPart echoes each verified part checksum; ListParts keeps them.
        assert_eq!(&r["uploaded"], parts, "{key}");
        assert_eq!(r["listed"], json!([algorithm, kind, parts]), "{key}");
        if kind == "FULL_OBJECT" {
            // A whole-object checksum sent with the completion must match the data.
            assert_eq!(r["complete_bad"], Value::from("BadDigest"), "{key}");
        }
        if kind == "COMPOSITE" {
            assert!(expected.as_str().unwrap().ends_with("-2"), "{key}");
        }
        assert_eq!(r["completed"], json!([expected, kind]), "{key}");
        assert_eq!(r["completed_again"], json!([expected, kind]), "{key}");
        // HeadObject with x-amz-checksum-mode: ENABLED.
        assert_eq!(r["head"], json!([expected, kind]), "{key}");
        assert_eq!(
            r["attributes"],
            json!({ field.as_str(): expected, "ChecksumType": kind }),
            "{key}"
        );
        // GetObjectAttributes ObjectParts, paged by x-amz-max-parts and
        // x-amz-part-number-marker (GetObjectAttributesParts, ObjectPart).
        let tail = "checksummed tail\n".len() * 10;
        for (page, (number, size, next)) in [(1, 5 * 1024 * 1024, true), (2, tail, false)]
            .into_iter()
            .enumerate()
        {
            let got = &r["pages"][page];
            assert_eq!(got["TotalPartsCount"], json!(2), "{key} page {page}");
            assert_eq!(got["MaxParts"], json!(1), "{key} page {page}");
            assert_eq!(got["IsTruncated"], json!(next), "{key} page {page}");
            assert_eq!(
                got["Parts"],
                json!([{ "PartNumber": number, "Size": size, field.as_str(): parts[page] }]),
                "{key} page {page}"
            );
        }
    }
    // UploadPart: "BadDigest" when the part's checksum does not match its data.
    assert_eq!(v["bad_part"], Value::from("BadDigest"));
    // CompleteMultipartUpload: a part checksum other than the uploaded one is InvalidPart.
    assert_eq!(v["bad_completion_part"], Value::from("InvalidPart"));
    // FULL_OBJECT is for the CRCs only; CRC64NVME is FULL_OBJECT only.
    assert_eq!(v["sha1_full_object"], Value::from("InvalidRequest"));
    assert_eq!(v["crc64_composite"], Value::from("InvalidRequest"));

    // UploadPart: "the checksum algorithm must be the same for all parts and match the
    // checksum value supplied in the CreateMultipartUpload request"; a part sent without one
    // gets the upload's algorithm computed by S3, an UploadPartCopy part too (CopyPartResult).
    let c = &v["computed"];
    let parts = &c["expected_parts"];
    assert_eq!(c["copied"], parts[0]);
    assert_eq!(c["sent"], parts[1]);
    assert_eq!(&c["listed"], parts);
    assert_eq!(c["mismatch"], Value::from("InvalidRequest"));
    assert_eq!(c["completed"], c["expected"]);
    assert_eq!(c["head"], c["expected"]);
}
