//! Server-side encryption the S3 way (issue 19): SSE-S3, SSE-KMS and SSE-C on single PUTs,
//! multipart uploads and copies, bucket default encryption, the `libres3 kms` key store, and
//! a scan of the storage that shows no plaintext is left at rest. Driven by boto3 (the scripts
//! `py/boto3_sse_*.py` print one JSON document; these tests assert on it).
//!
//! AWS User Guide pages followed: "Using server-side encryption with Amazon S3 managed keys
//! (SSE-S3)", "Using server-side encryption with AWS KMS keys (SSE-KMS)", "Using server-side
//! encryption with customer-provided keys (SSE-C)"; API reference pages PutObject, GetObject,
//! HeadObject, CopyObject, CreateMultipartUpload, UploadPart, UploadPartCopy, ListParts,
//! CompleteMultipartUpload, PutBucketEncryption, GetBucketEncryption, DeleteBucketEncryption.
//!
//! The servers of `backend_tests!` run with `allow_sse_c_over_http = yes`
//! (`common::SHARED_SETTINGS`): they speak plain HTTP, where SSE-C is refused by default.

mod at_rest;
mod keys;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::{json, Value};

use crate::common::clients::boto3;
use crate::common::{hex, md5_bytes, unique_bucket, TestServer};

use keys::{create_kms_key, key_id_of_arn, unhex};

crate::backend_tests! {
    sse_s3_objects_round_trip,
    sse_kms_objects_name_their_keys,
    sse_c_objects_need_their_key,
    multipart_uploads_keep_their_encryption,
    copies_change_encryption,
    bucket_default_encryption,
    encrypted_objects_leave_no_plaintext_at_rest,
}

/// A fresh 256-bit customer key, in hex (the scripts take it so from `SSE_C_KEY`).
fn random_key_hex() -> String {
    use ring::rand::SecureRandom;
    let mut key = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut key)
        .expect("system randomness");
    hex(&key)
}

/// The base64 MD5 of a key, as `x-amz-server-side-encryption-customer-key-MD5` carries it.
fn key_md5_b64(key: &[u8]) -> String {
    BASE64.encode(md5_bytes(key))
}

/// The second key of the scripts (`bytes(range(32))`).
fn other_key() -> Vec<u8> {
    (0u8..32).collect()
}

/// A failed call as the scripts record it: `[code, HTTP status]`.
fn refused(code: &str, status: u16) -> Value {
    json!([code, status])
}

/// Runs `py/boto3_sse_objects.py` with these cases (each `{"key", "args"}`, `args` the
/// PutObject parameters) in a new bucket.
fn put_objects(s: &TestServer, test: &str, cases: Value) -> Value {
    let bucket = unique_bucket(test);
    boto3(
        s,
        include_str!("../py/boto3_sse_objects.py"),
        &bucket,
        &[("SSE_CASES", &cases.to_string())],
    )
}

/// A case of `put_objects` reads back whole and by ranges, and lists with its plain size.
#[track_caller]
fn assert_round_trip(v: &Value, key: &str) {
    let r = &v[key];
    assert_eq!(r["get_md5"], v["data_md5"], "{key}: GET");
    assert_eq!(r["ranges"], v["ranges_expected"], "{key}: range GETs");
    // ListObjectsV2 reports the size the client wrote and the ETag PUT answered.
    assert_eq!(
        r["listed"],
        json!([[key, v["size"], r["etag"]]]),
        "{key}: listing"
    );
}

/// The SSE answer of a case's PUT, failing with what the server said when it was refused.
#[track_caller]
fn stored<'a>(v: &'a Value, key: &str) -> &'a Value {
    let put = &v[key]["put"];
    assert!(put.get("error").is_none(), "{key}: PUT refused: {put}");
    put
}

// "Using server-side encryption with Amazon S3 managed keys (SSE-S3)"; PutObject, GetObject,
// HeadObject (x-amz-server-side-encryption: AES256 in every answer), ListObjectsV2 (Size).
// The ETag of a single-PUT SSE-S3 object is the MD5 of its data (PutObject, "ETag").
fn sse_s3_objects_round_trip(s: &TestServer) {
    let v = put_objects(
        s,
        "sse-s3",
        json!([{ "key": "sse-s3", "args": { "ServerSideEncryption": "AES256" } }]),
    );
    let put = stored(&v, "sse-s3");
    let expected = json!({
        "ServerSideEncryption": "AES256", "SSEKMSKeyId": null, "BucketKeyEnabled": null
    });
    assert_eq!(put, &expected, "PUT");
    assert_eq!(v["sse-s3"]["head"], expected, "HEAD");
    assert_eq!(v["sse-s3"]["get"], expected, "GET");
    assert_eq!(v["sse-s3"]["etag"], v["data_md5"], "ETag");
    assert_round_trip(&v, "sse-s3");
}

// "Using server-side encryption with AWS KMS keys (SSE-KMS)" and "Specifying server-side
// encryption with AWS KMS (SSE-KMS)": without a key id S3 uses the default key and answers its
// ARN in x-amz-server-side-encryption-aws-kms-key-id; a key is named by id or ARN; a missing
// key is KMS.NotFoundException; BucketKeyEnabled is echoed; an encryption context is base64
// JSON. PutObject, "ETag": for SSE-KMS objects the ETag is not an MD5 of the data.
fn sse_kms_objects_name_their_keys(s: &TestServer) {
    let key = create_kms_key(s, "sse-kms objects");
    let kms = |extra: Value| {
        let mut args = json!({ "ServerSideEncryption": "aws:kms" });
        args.as_object_mut()
            .expect("object")
            .extend(extra.as_object().expect("object").clone());
        args
    };
    let context = BASE64.encode(r#"{"project":"libres3","test":"sse-kms"}"#);
    let unknown = "0b7e5c1a-58c4-4e5e-9c7d-3f1d2b9a6e10";
    let v = put_objects(
        s,
        "sse-kms",
        json!([
            { "key": "default", "args": kms(json!({})) },
            { "key": "named", "args": kms(json!({ "SSEKMSKeyId": key })) },
            { "key": "named-arn", "args": kms(json!({})), "key_arn_of": "named" },
            { "key": "unknown", "args": kms(json!({ "SSEKMSKeyId": unknown })) },
            { "key": "bucket-key", "args": kms(json!({ "BucketKeyEnabled": true })) },
            { "key": "context", "args": kms(json!({ "SSEKMSEncryptionContext": context })) },
        ]),
    );
    let default_arn = stored(&v, "default")["SSEKMSKeyId"].clone();
    let default_id = key_id_of_arn(default_arn.as_str().unwrap_or_default());
    assert_ne!(
        default_id, key,
        "the default key is not the one made for this test"
    );
    let named_arn = stored(&v, "named")["SSEKMSKeyId"].clone();
    assert_eq!(
        key_id_of_arn(named_arn.as_str().unwrap_or_default()),
        key,
        "named by id"
    );
    assert_eq!(
        stored(&v, "named-arn")["SSEKMSKeyId"],
        named_arn,
        "named by ARN"
    );
    assert_eq!(
        v["unknown"]["put"],
        json!({ "error": "KMS.NotFoundException", "status": 400 }),
        "a key id the key store does not have"
    );
    for (case, arn, bucket_key) in [
        ("default", &default_arn, Value::Null),
        ("named", &named_arn, Value::Null),
        ("named-arn", &named_arn, Value::Null),
        ("bucket-key", &default_arn, Value::Bool(true)),
        ("context", &default_arn, Value::Null),
    ] {
        let expected = json!({
            "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": arn, "BucketKeyEnabled": bucket_key
        });
        assert_eq!(stored(&v, case), &expected, "{case}: PUT");
        assert_eq!(v[case]["head"], expected, "{case}: HEAD");
        assert_eq!(v[case]["get"], expected, "{case}: GET");
        assert_ne!(v[case]["etag"], v["data_md5"], "{case}: ETag is the MD5");
        assert_round_trip(&v, case);
    }
}

// "Using server-side encryption with customer-provided keys (SSE-C)" and "Specifying
// server-side encryption with customer-provided keys (SSE-C)": PUT, GET and HEAD carry the
// algorithm, key and key MD5 and answer the algorithm and key MD5; a read without the key is
// 400 InvalidRequest, with another key 403 AccessDenied (HEAD: the status only); a key on an
// object not written with one is 400 InvalidRequest; incomplete headers or an MD5 that does
// not match the key are 400 InvalidArgument; S3 stores no key, only a salted HMAC.
fn sse_c_objects_need_their_key(s: &TestServer) {
    let key = random_key_hex();
    let v = boto3(
        s,
        include_str!("../py/boto3_sse_c.py"),
        &unique_bucket("sse-c"),
        &[("SSE_C_KEY", &key)],
    );
    let echo = json!({
        "SSECustomerAlgorithm": "AES256", "SSECustomerKeyMD5": key_md5_b64(&unhex(&key))
    });
    let sse_c = |answer: &Value| {
        json!({
            "SSECustomerAlgorithm": answer["SSECustomerAlgorithm"],
            "SSECustomerKeyMD5": answer["SSECustomerKeyMD5"],
        })
    };
    assert!(v["put"].is_object(), "PUT refused: {}", v["put"]);
    assert_eq!(sse_c(&v["put"]), echo, "PUT");
    assert_eq!(sse_c(&v["head"]), echo, "HEAD");
    assert_eq!(sse_c(&v["get"]), echo, "GET");
    assert_eq!(v["get_md5"], v["data_md5"], "GET with the key");
    assert_eq!(
        v["range_md5"], v["range_expected"],
        "range GET with the key"
    );

    assert_eq!(v["get_without_key"], refused("InvalidRequest", 400));
    assert_eq!(v["get_other_key"], refused("AccessDenied", 403));
    assert_eq!(v["head_without_key"], json!(400));
    assert_eq!(v["head_other_key"], json!(403));
    assert_eq!(v["plain_with_key"], refused("InvalidRequest", 400));
    for case in ["algorithm_only", "key_only", "wrong_key_md5", "short_key"] {
        let m = &v["malformed"];
        assert_eq!(m[case], refused("InvalidArgument", 400), "{case}");
        assert_eq!(m[format!("{case}_stored")], json!(404), "{case}: stored");
    }

    // The key is in no header HEAD answers, user metadata included.
    let key_b64 = v["key_b64"].as_str().expect("key_b64");
    for (name, value) in v["head_headers"].as_object().expect("headers") {
        let value = value.as_str().unwrap_or_default();
        assert!(
            !value.contains(key_b64) && !value.to_ascii_lowercase().contains(&key),
            "the key is in header {name}: {value}"
        );
    }
    assert_eq!(v["head_metadata"], json!({}), "user metadata");
}

// CreateMultipartUpload (x-amz-server-side-encryption*, SSE-C headers), UploadPart ("If you
// requested server-side encryption using a customer-provided encryption key in your initiate
// multipart upload request, you must provide identical encryption information in each part
// upload request"), ListParts (Size), CompleteMultipartUpload, GetObject (Range, partNumber).
fn multipart_uploads_keep_their_encryption(s: &TestServer) {
    let key = random_key_hex();
    let v = boto3(
        s,
        include_str!("../py/boto3_sse_multipart.py"),
        &unique_bucket("sse-multipart"),
        &[("SSE_C_KEY", &key)],
    );
    let key_md5 = key_md5_b64(&unhex(&key));
    let expected = &v["expected"];
    let total =
        expected["sizes"][0].as_u64().expect("size") + expected["sizes"][1].as_u64().expect("size");
    for mode in ["sse-s3", "sse-kms", "sse-c"] {
        let r = &v[mode];
        assert!(
            r["created"].is_object(),
            "{mode}: CreateMultipartUpload refused: {}",
            r["created"]
        );
        let sse = &r["created"];
        match mode {
            "sse-s3" => assert_eq!(sse["ServerSideEncryption"], json!("AES256"), "{mode}"),
            "sse-kms" => {
                assert_eq!(sse["ServerSideEncryption"], json!("aws:kms"), "{mode}");
                key_id_of_arn(sse["SSEKMSKeyId"].as_str().unwrap_or_default());
            }
            _ => {
                assert_eq!(sse["SSECustomerAlgorithm"], json!("AES256"), "{mode}");
                assert_eq!(sse["SSECustomerKeyMD5"], json!(key_md5), "{mode}");
                assert_eq!(
                    r["part_without_key"],
                    refused("InvalidRequest", 400),
                    "{mode}"
                );
                assert_eq!(r["part_other_key"], refused("AccessDenied", 403), "{mode}");
                assert_eq!(
                    r["get_without_key"],
                    refused("InvalidRequest", 400),
                    "{mode}"
                );
            }
        }
        // Each part, the object's HEAD (and, but for SSE-C, the completion) answer the same.
        assert_eq!(r["uploaded"], json!([sse, sse]), "{mode}: UploadPart");
        assert_eq!(&r["head"], sse, "{mode}: HEAD");
        if mode != "sse-c" {
            assert_eq!(
                r["completed"]["ServerSideEncryption"], sse["ServerSideEncryption"],
                "{mode}: completion"
            );
            assert_eq!(
                r["completed"]["SSEKMSKeyId"], sse["SSEKMSKeyId"],
                "{mode}: completion"
            );
        }
        assert_eq!(r["listed_sizes"], expected["sizes"], "{mode}: ListParts");
        assert_eq!(r["listed_size"], json!(total), "{mode}: ListObjectsV2");
        assert_eq!(r["whole"], expected["whole"], "{mode}: GET");
        assert_eq!(
            r["boundary"], expected["boundary"],
            "{mode}: range across the parts"
        );
        assert_eq!(
            r["part2"],
            json!([expected["part2"], 2]),
            "{mode}: partNumber=2"
        );
    }
}

// CopyObject: "you can change the encryption of the destination" with x-amz-server-side-
// encryption*; an SSE-C source needs x-amz-copy-source-server-side-encryption-customer-*; a
// copy onto itself is allowed when it changes the encryption. UploadPartCopy takes the same
// copy-source headers.
fn copies_change_encryption(s: &TestServer) {
    let key = random_key_hex();
    let v = boto3(
        s,
        include_str!("../py/boto3_sse_copy.py"),
        &unique_bucket("sse-copy"),
        &[("SSE_C_KEY", &key)],
    );
    let data = &v["data_md5"];
    let md5_a = key_md5_b64(&unhex(&key));
    let md5_b = key_md5_b64(&other_key());
    let copies = &v["copies"];
    for (dest, field, value) in [
        ("to-sse-s3", "ServerSideEncryption", json!("AES256")),
        ("to-sse-kms", "ServerSideEncryption", json!("aws:kms")),
        ("to-plain", "ServerSideEncryption", Value::Null),
        ("sse-c-a", "SSECustomerKeyMD5", json!(md5_a)),
        ("sse-c-b", "SSECustomerKeyMD5", json!(md5_b)),
    ] {
        let r = &copies[dest];
        assert!(
            r["copy"].is_object(),
            "{dest}: CopyObject refused: {}",
            r["copy"]
        );
        assert_eq!(r["copy"][field], value, "{dest}: CopyObject {field}");
        assert_eq!(r["head"][field], value, "{dest}: HEAD {field}");
        assert_eq!(&r["md5"], data, "{dest}: read back");
        // The ETag follows the destination's mode, not the source's: the MD5 for plain and
        // SSE-S3 objects, something else for SSE-KMS and SSE-C (the ETag entry of "Common
        // response headers" and "Object" in the API reference).
        let md5_etag = matches!(dest, "to-sse-s3" | "to-plain");
        assert_eq!(&r["etag"] == data, md5_etag, "{dest}: ETag {}", r["etag"]);
    }
    key_id_of_arn(
        copies["to-sse-kms"]["head"]["SSEKMSKeyId"]
            .as_str()
            .unwrap_or_default(),
    );
    assert_eq!(copies["to-plain"]["head"]["SSEKMSKeyId"], Value::Null);
    assert_eq!(
        copies["sse-c-b"]["head"]["SSECustomerAlgorithm"],
        json!("AES256")
    );

    assert_eq!(
        v["sse_c_source_without_key"],
        refused("InvalidRequest", 400)
    );
    assert_eq!(v["sse_c_source_other_key"], refused("AccessDenied", 403));
    assert_eq!(
        v["self"]["copy"][0],
        json!("no error"),
        "copy onto itself: {}",
        v["self"]["copy"]
    );
    assert_eq!(v["self"]["head"]["ServerSideEncryption"], json!("aws:kms"));
    assert_eq!(&v["self"]["md5"], data, "copied onto itself");

    let part = &v["upload_part_copy"];
    assert!(
        part.get("copy").is_none(),
        "UploadPartCopy refused: {}",
        part["copy"]
    );
    assert_eq!(part["without_source_key"], refused("InvalidRequest", 400));
    assert_eq!(part["completed"]["ServerSideEncryption"], json!("aws:kms"));
    assert_eq!(part["head"]["ServerSideEncryption"], json!("aws:kms"));
    assert_eq!(&part["md5"], data, "UploadPartCopy read back");
}

/// The default rule of a GetBucketEncryption answer recorded as `["no error", 200, answer]`.
#[track_caller]
fn default_rule(answer: &Value) -> &Value {
    assert_eq!(
        answer[0],
        json!("no error"),
        "GetBucketEncryption: {answer}"
    );
    &answer[2]["ServerSideEncryptionConfiguration"]["Rules"][0]
}

// PutBucketEncryption, GetBucketEncryption (404 ServerSideEncryptionConfigurationNotFoundError
// when none), DeleteBucketEncryption (204); "Setting default server-side encryption behavior
// for Amazon S3 buckets": objects written without encryption headers get the default, with
// its KMS key and bucket key setting.
fn bucket_default_encryption(s: &TestServer) {
    let key = create_kms_key(s, "bucket default");
    let bucket = unique_bucket("sse-default");
    let v = boto3(
        s,
        include_str!("../py/boto3_sse_bucket_default.py"),
        &bucket,
        &[("KMS_KEY_ID", &key)],
    );
    let not_found = refused("ServerSideEncryptionConfigurationNotFoundError", 404);
    assert_eq!(v["fresh"], not_found, "a fresh bucket");
    assert_eq!(
        v["put_aes256"][0],
        json!("no error"),
        "PutBucketEncryption AES256: {}",
        v["put_aes256"]
    );
    let rule = default_rule(&v["get_aes256"]);
    assert_eq!(
        rule["ApplyServerSideEncryptionByDefault"],
        json!({ "SSEAlgorithm": "AES256" })
    );
    let object = &v["object_aes256"];
    assert_eq!(
        object["put"]["ServerSideEncryption"],
        json!("AES256"),
        "{object}"
    );
    assert_eq!(
        object["head"]["ServerSideEncryption"],
        json!("AES256"),
        "{object}"
    );
    assert_eq!(object["body"], json!("no encryption header"));

    assert_eq!(
        v["put_kms"][0],
        json!("no error"),
        "PutBucketEncryption aws:kms: {}",
        v["put_kms"]
    );
    let rule = default_rule(&v["get_kms"]);
    assert_eq!(
        rule["ApplyServerSideEncryptionByDefault"],
        json!({ "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key })
    );
    assert_eq!(rule["BucketKeyEnabled"], json!(true));
    let object = &v["object_kms"];
    for answer in ["put", "head"] {
        let sse = &object[answer];
        assert_eq!(
            sse["ServerSideEncryption"],
            json!("aws:kms"),
            "{answer}: {object}"
        );
        assert_eq!(
            key_id_of_arn(sse["SSEKMSKeyId"].as_str().unwrap_or_default()),
            key,
            "{answer}"
        );
        assert_eq!(sse["BucketKeyEnabled"], json!(true), "{answer}: {object}");
    }
    assert_eq!(
        v["earlier_object"]["ServerSideEncryption"],
        json!("AES256"),
        "kept"
    );

    assert_eq!(v["delete"], json!(204), "DeleteBucketEncryption");
    assert_eq!(v["after_delete"], not_found, "after DeleteBucketEncryption");
    assert_eq!(
        v["object_after_delete"]["put"]["ServerSideEncryption"],
        Value::Null
    );

    // A document that is not XML (PutBucketEncryption: "MalformedXML").
    let body = b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>";
    s.raw()
        .put(&format!("/{bucket}"))
        .sub("encryption")
        .header("content-md5", &BASE64.encode(md5_bytes(body)))
        .body(body.to_vec())
        .send()
        .assert_error(400, "MalformedXML");
}

// The at-rest scan of issue 19, on both backends.
fn encrypted_objects_leave_no_plaintext_at_rest(s: &TestServer) {
    at_rest::scan_after_writes(s, &random_key_hex());
}

// "Using server-side encryption with customer-provided keys (SSE-C)": "Amazon S3 will reject
// any requests made over HTTP when using SSE-C". A server without allow_sse_c_over_http
// answers 400 InvalidRequest on plain HTTP and stores nothing.
#[test]
fn sse_c_over_plain_http_is_refused_by_default() {
    let s = TestServer::start();
    let raw = s.raw();
    let bucket = unique_bucket("sse-c-http");
    raw.create_bucket(&bucket);
    raw.put_object(&bucket, "plain", b"a plain object").ok();
    let key = unhex(&random_key_hex());
    let sse_c = [
        (
            "x-amz-server-side-encryption-customer-algorithm",
            "AES256".to_string(),
        ),
        (
            "x-amz-server-side-encryption-customer-key",
            BASE64.encode(&key),
        ),
        (
            "x-amz-server-side-encryption-customer-key-md5",
            key_md5_b64(&key),
        ),
    ];
    let mut put = raw.put(&format!("/{bucket}/sse-c")).body("not over HTTP");
    let mut get = raw.get(&format!("/{bucket}/plain"));
    for (name, value) in &sse_c {
        put = put.header(name, value);
        get = get.header(name, value);
    }
    put.send().assert_error(400, "InvalidRequest");
    raw.get(&format!("/{bucket}/sse-c"))
        .send()
        .assert_error(404, "NoSuchKey");
    get.send().assert_error(400, "InvalidRequest");
    // Any request with the key headers, even one that takes no key (SSE-C guide: requests
    // made over HTTP are rejected): the plain object stays.
    let mut delete = raw.delete(&format!("/{bucket}/plain"));
    for (name, value) in &sse_c {
        delete = delete.header(name, value);
    }
    delete.send().assert_error(400, "InvalidRequest");
    assert_eq!(raw.get_object(&bucket, "plain"), b"a plain object");
}
