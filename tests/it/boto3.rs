//! boto3 (Python scripts in `py/`, run as subprocesses).

use std::collections::HashMap;

use serde_json::Value;

use crate::common::clients::{boto3, curl_get};
use crate::common::{
    assert_bytes_eq, etag_of, md5_hex, multipart_etag, read, test_data, unique_bucket, write,
    TestServer,
};

const MIB: usize = 1024 * 1024;

fn boto3_presign_upload_fileobj_download(s: &TestServer) {
    let b = unique_bucket("boto3-objects");
    let dir = s.scratch("boto3-objects");
    let big = test_data(12 * MIB + 5, 1);
    let big_path = dir.join("big.bin");
    write(&big_path, &big);
    let v = boto3(
        s,
        include_str!("py/boto3_objects.py"),
        &b,
        &[("BIG_FILE", big_path.to_str().unwrap())],
    );
    let small = b"hello from boto3\n".repeat(100);
    assert_eq!(v["small_etag"], Value::from(etag_of(&small)));
    assert_eq!(v["small_md5"], Value::from(md5_hex(&small)));
    assert_eq!(v["small_meta"]["color"], Value::from("green"));
    assert_eq!(v["small_type"], Value::from("text/plain"));
    assert_eq!(v["range"], Value::from("from "));
    assert_eq!(
        v["range_header"],
        Value::from(format!("bytes 6-10/{}", small.len()))
    );
    let parts: Vec<&[u8]> = big.chunks(5 * MIB).collect();
    assert_eq!(v["big_etag"], Value::from(multipart_etag(&parts)));
    assert_eq!(v["big_len"], Value::from(big.len()));
    assert_eq!(v["big_download_md5"], Value::from(md5_hex(&big)));
    assert_eq!(v["missing"], Value::from("NoSuchKey"));

    // The presigned GET URL works with curl.
    let got = dir.join("presigned.txt");
    assert_eq!(curl_get(v["presigned_get"].as_str().unwrap(), &got), 200);
    assert_bytes_eq(&read(&got), &small, "presigned GET");
    // The presigned PUT URL works with curl -T.
    let up = test_data(10_000, 2);
    write(dir.join("up.bin"), &up);
    let home = crate::common::TempDir::new("curl-put");
    let mut cmd = crate::common::clients::clean_command("curl", home.path());
    cmd.args(["-sS", "-g", "-o", "/dev/null", "-w", "%{http_code}", "-T"])
        .arg(dir.join("up.bin"))
        .arg(v["presigned_put"].as_str().unwrap());
    let out = crate::common::clients::run(&mut cmd, "curl -T presigned PUT");
    crate::common::clients::assert_success(&out, "curl -T");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "200");
    assert_eq!(s.raw().get_object(&b, "presigned/put.bin"), up);
}

fn boto3_paginator_sees_every_key_once(s: &TestServer) {
    let b = unique_bucket("boto3-paginate");
    let n = 2500;
    let v = boto3(
        s,
        include_str!("py/boto3_paginate.py"),
        &b,
        &[("KEY_COUNT", "2500")],
    );
    let pages: Vec<u64> = v["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    assert_eq!(pages, vec![1000, 1000, 500]);
    let keys: Vec<&str> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for k in &keys {
        *counts.entry(k).or_default() += 1;
    }
    let dups: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).collect();
    assert!(dups.is_empty(), "keys listed twice: {dups:?}");
    for i in 0..n {
        let k = format!("many/{}/key-{i:05}", i % 7);
        assert!(counts.contains_key(k.as_str()), "{k} never listed");
    }
    assert_eq!(keys.len(), n);
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "keys are listed in UTF-8 binary order");
    let prefixes: Vec<&str> = v["prefixes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let want: Vec<String> = (0..7).map(|i| format!("many/{i}/")).collect();
    assert_eq!(prefixes, want);
    assert_eq!(v["v1_count"], Value::from(n));
    assert_eq!(v["v1_unique"], Value::from(n));
}

/// Signature Version 2 as boto3 signs it: a request to a bucket names the resource
/// `/bucket/?acl` in the string to sign while the request line, in path style, says
/// `/bucket?acl`; and it signs sub-resources AWS's list leaves out (`object-lock`,
/// `replication`). AWS accepts these (RESTAuthentication, "Constructing the
/// CanonicalizedResource Element": for a bucket, the bucket name followed by "/").
/// Every call must get its normal answer, never SignatureDoesNotMatch.
fn boto3_sigv2_bucket_calls(s: &TestServer) {
    let b = unique_bucket("boto3-sigv2");
    let v = boto3(s, include_str!("py/boto3_sigv2.py"), &b, &[]);
    let outcomes = v.as_object().expect("a JSON object");
    let not_configured = [
        (
            "get_object_lock_configuration",
            "ObjectLockConfigurationNotFoundError",
        ),
        (
            "get_bucket_replication",
            "ReplicationConfigurationNotFoundError",
        ),
    ];
    assert_eq!(outcomes.len(), 15, "{v}");
    for (call, outcome) in outcomes {
        let want = not_configured
            .iter()
            .find(|(name, _)| name == call)
            .map_or("ok", |(_, code)| code);
        assert_eq!(outcome, want, "{call}: {v}");
    }
}

/// Versioning as SDK users write it (py/boto3_versioning.py).
fn boto3_versioning_round_trip(s: &TestServer) {
    let b = unique_bucket("boto3-versions");
    let v = boto3(s, include_str!("py/boto3_versioning.py"), &b, &[]);
    assert_eq!(v["status"], Value::from("Enabled"), "{v}");
    assert_eq!(v["distinct"], Value::from(true), "{v}");
    assert_eq!(v["old_body"], Value::from(r#"{"serial": 1}"#), "{v}");
    assert_eq!(v["old_version"], v["v1"], "{v}");
    assert_eq!(v["marker"], Value::from(true), "{v}");
    assert_eq!(v["after_delete"], serde_json::json!(["404", 404]), "{v}");
    assert_eq!(v["restored"], Value::from(r#"{"serial": 2}"#), "{v}");
    // 2 versions of state.json (the marker was removed) and 5 of many/*.
    assert_eq!(v["listed"], Value::from(7), "{v}");
    assert_eq!(v["left"], Value::from(0), "{v}");
}

crate::backend_tests! {
    boto3_versioning_round_trip,
    boto3_presign_upload_fileobj_download,
    boto3_paginator_sees_every_key_once,
    boto3_sigv2_bucket_calls,
}
