//! awscli: `s3` high-level commands and `s3api`.

use std::path::Path;

use serde_json::Value;

use crate::common::clients::{curl_get, Aws};
use crate::common::{
    assert_bytes_eq, etag_of, multipart_etag, read, test_data, unique_bucket, write, TestServer,
};

const MIB: usize = 1024 * 1024;

fn s3url(b: &str, k: &str) -> String {
    format!("s3://{b}/{k}")
}

fn aws_s3_mb_cp_ls_rm(s: &TestServer) {
    let aws = Aws::new(s);
    let dir = s.scratch("aws-basic");
    let b = unique_bucket("aws-basic");
    aws.ok(&["s3", "mb", &format!("s3://{b}")]);
    let listing = aws.ok(&["s3", "ls"]);
    assert!(listing.contains(&b), "s3 ls:\n{listing}");

    let data = test_data(100_000, 1);
    write(dir.join("up.bin"), &data);
    aws.ok(&[
        "s3",
        "cp",
        dir.join("up.bin").to_str().unwrap(),
        &s3url(&b, "x/up.bin"),
    ]);
    aws.ok(&[
        "s3",
        "cp",
        &s3url(&b, "x/up.bin"),
        dir.join("down.bin").to_str().unwrap(),
    ]);
    assert_bytes_eq(&read(dir.join("down.bin")), &data, "aws s3 cp round trip");

    let ls = aws.ok(&["s3", "ls", &format!("s3://{b}/x/")]);
    assert!(ls.contains("100000 up.bin"), "s3 ls:\n{ls}");
    let head = aws.json(&["s3api", "head-object", "--bucket", &b, "--key", "x/up.bin"]);
    assert_eq!(head["ETag"], Value::from(etag_of(&data)));
    assert_eq!(head["ContentLength"], Value::from(100_000));

    // Stream to stdout.
    let out = aws
        .command(&["s3", "cp", &s3url(&b, "x/up.bin"), "-"])
        .output()
        .expect("aws");
    assert!(out.status.success());
    assert_bytes_eq(&out.stdout, &data, "aws s3 cp to stdout");

    aws.ok(&["s3", "rm", &s3url(&b, "x/up.bin")]);
    let ls = aws.ok(&["s3", "ls", &format!("s3://{b}"), "--recursive"]);
    assert!(ls.trim().is_empty(), "after rm:\n{ls}");
    aws.ok(&["s3", "rb", &format!("s3://{b}")]);
    let listing = aws.ok(&["s3", "ls"]);
    assert!(!listing.contains(&b), "bucket still listed:\n{listing}");
}

fn aws_s3_cp_large_file_multipart(s: &TestServer) {
    let aws = Aws::new(s);
    let dir = s.scratch("aws-large");
    let b = unique_bucket("aws-large");
    aws.ok(&["s3", "mb", &format!("s3://{b}")]);
    let data = test_data(20 * MIB + 12_345, 2);
    write(dir.join("big.bin"), &data);
    aws.ok(&[
        "s3",
        "cp",
        dir.join("big.bin").to_str().unwrap(),
        &s3url(&b, "big.bin"),
    ]);
    // awscli splits at 8 MiB: parts of 8, 8 and the rest.
    let parts: Vec<&[u8]> = data.chunks(8 * MIB).collect();
    assert_eq!(parts.len(), 3);
    let head = aws.json(&["s3api", "head-object", "--bucket", &b, "--key", "big.bin"]);
    assert_eq!(head["ETag"], Value::from(multipart_etag(&parts)));
    assert_eq!(head["ContentLength"], Value::from(data.len()));
    aws.ok(&[
        "s3",
        "cp",
        &s3url(&b, "big.bin"),
        dir.join("back.bin").to_str().unwrap(),
    ]);
    assert_bytes_eq(&read(dir.join("back.bin")), &data, "20 MiB round trip");
    // A ranged download of the middle.
    let part = dir.join("range.bin");
    aws.ok(&[
        "s3api",
        "get-object",
        "--bucket",
        &b,
        "--key",
        "big.bin",
        "--range",
        "bytes=8388600-8388620",
        part.to_str().unwrap(),
    ]);
    assert_eq!(read(&part), &data[8_388_600..=8_388_620]);
}

fn aws_s3_cp_from_stdin_streams_multipart(s: &TestServer) {
    let aws = Aws::new(s);
    let dir = s.scratch("aws-stdin");
    let b = unique_bucket("aws-stdin");
    aws.ok(&["s3", "mb", &format!("s3://{b}")]);
    // A stream of unknown size: awscli uploads it in 8 MiB parts.
    let data = test_data(9 * MIB + 1, 5);
    write(dir.join("in.bin"), &data);
    let mut cmd = aws.command(&["s3", "cp", "-", &s3url(&b, "from-stdin")]);
    cmd.stdin(std::fs::File::open(dir.join("in.bin")).unwrap());
    let out = crate::common::clients::run(&mut cmd, "aws s3 cp - (stdin)");
    crate::common::clients::assert_success(&out, "aws s3 cp from stdin");
    let got = s.raw().get_object(&b, "from-stdin");
    assert_bytes_eq(&got, &data, "stdin upload");
    let head = aws.json(&[
        "s3api",
        "head-object",
        "--bucket",
        &b,
        "--key",
        "from-stdin",
    ]);
    let parts: Vec<&[u8]> = data.chunks(8 * MIB).collect();
    assert_eq!(head["ETag"], Value::from(multipart_etag(&parts)));
}

fn tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((rel, read(&p)));
            }
        }
    }
    out.sort();
    out
}

fn aws_s3_sync_both_ways(s: &TestServer) {
    let aws = Aws::new(s);
    let dir = s.scratch("aws-sync");
    let b = unique_bucket("aws-sync");
    aws.ok(&["s3", "mb", &format!("s3://{b}")]);
    let src = dir.join("src");
    for (i, name) in [
        "a.txt",
        "sub/b.bin",
        "sub/deeper/c.bin",
        "with space.txt",
        "ünï.txt",
    ]
    .iter()
    .enumerate()
    {
        write(src.join(name), &test_data(1000 * (i + 1), 10 + i as u64));
    }
    // Older than the upload by more than a second: SX (like S3) keeps whole seconds, and
    // `aws s3 sync` uploads again a file whose mtime is later than the object's LastModified.
    crate::common::age_files(&src, 3600);
    aws.ok(&[
        "s3",
        "sync",
        src.to_str().unwrap(),
        &format!("s3://{b}/tree"),
    ]);
    let ls = aws.ok(&["s3", "ls", "--recursive", &format!("s3://{b}")]);
    assert_eq!(ls.lines().count(), 5, "{ls}");
    // A second sync uploads nothing.
    let again = aws.ok(&[
        "s3",
        "sync",
        src.to_str().unwrap(),
        &format!("s3://{b}/tree"),
    ]);
    assert!(
        again.trim().is_empty(),
        "nothing should be re-uploaded:\n{again}"
    );
    // Change one file, delete one, sync with --delete.
    write(src.join("a.txt"), b"changed content");
    crate::common::age_files(&src, 3600);
    std::fs::remove_file(src.join("sub/b.bin")).unwrap();
    let out = aws.ok(&[
        "s3",
        "sync",
        "--delete",
        src.to_str().unwrap(),
        &format!("s3://{b}/tree"),
    ]);
    assert!(out.contains("upload:") && out.contains("a.txt"), "{out}");
    assert!(out.contains("delete:") && out.contains("b.bin"), "{out}");
    // And back down.
    let dst = dir.join("dst");
    aws.ok(&[
        "s3",
        "sync",
        &format!("s3://{b}/tree"),
        dst.to_str().unwrap(),
    ]);
    assert_eq!(tree(&dst), tree(&src));
}

fn aws_s3api_multipart(s: &TestServer) {
    let aws = Aws::new(s);
    let dir = s.scratch("aws-mpu");
    let b = unique_bucket("aws-mpu");
    aws.ok(&["s3api", "create-bucket", "--bucket", &b]);
    let key = "multi/part object";
    let v = aws.json(&[
        "s3api",
        "create-multipart-upload",
        "--bucket",
        &b,
        "--key",
        key,
        "--content-type",
        "application/x-parts",
        "--metadata",
        "purpose=test",
    ]);
    let id = v["UploadId"].as_str().expect("UploadId").to_string();
    let p1 = test_data(5 * MIB, 20);
    let p2 = test_data(MIB + 7, 21);
    write(dir.join("p1"), &p1);
    write(dir.join("p2"), &p2);
    let mut etags = Vec::new();
    for (n, f) in [(1, "p1"), (2, "p2")] {
        let v = aws.json(&[
            "s3api",
            "upload-part",
            "--bucket",
            &b,
            "--key",
            key,
            "--upload-id",
            &id,
            "--part-number",
            &n.to_string(),
            "--body",
            dir.join(f).to_str().unwrap(),
        ]);
        etags.push(v["ETag"].as_str().expect("ETag").to_string());
    }
    assert_eq!(etags, vec![etag_of(&p1), etag_of(&p2)]);
    let parts = aws.json(&[
        "s3api",
        "list-parts",
        "--bucket",
        &b,
        "--key",
        key,
        "--upload-id",
        &id,
    ]);
    let listed: Vec<(i64, String, i64)> = parts["Parts"]
        .as_array()
        .expect("Parts")
        .iter()
        .map(|p| {
            (
                p["PartNumber"].as_i64().unwrap(),
                p["ETag"].as_str().unwrap().to_string(),
                p["Size"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            (1, etags[0].clone(), p1.len() as i64),
            (2, etags[1].clone(), p2.len() as i64)
        ]
    );
    let ups = aws.json(&["s3api", "list-multipart-uploads", "--bucket", &b]);
    let ids: Vec<&str> = ups["Uploads"]
        .as_array()
        .map(|a| a.iter().filter_map(|u| u["UploadId"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, vec![id.as_str()]);

    let mpu = serde_json::json!({"Parts": [
        {"PartNumber": 1, "ETag": etags[0]},
        {"PartNumber": 2, "ETag": etags[1]},
    ]});
    write(dir.join("mpu.json"), mpu.to_string().as_bytes());
    let done = aws.json(&[
        "s3api",
        "complete-multipart-upload",
        "--bucket",
        &b,
        "--key",
        key,
        "--upload-id",
        &id,
        "--multipart-upload",
        &format!("file://{}", dir.join("mpu.json").display()),
    ]);
    let want = multipart_etag(&[&p1, &p2]);
    assert_eq!(done["ETag"], Value::from(want.clone()));
    let head = aws.json(&["s3api", "head-object", "--bucket", &b, "--key", key]);
    assert_eq!(head["ETag"], Value::from(want));
    assert_eq!(head["ContentType"], Value::from("application/x-parts"));
    assert_eq!(head["Metadata"]["purpose"], Value::from("test"));
    aws.ok(&[
        "s3",
        "cp",
        &s3url(&b, key),
        dir.join("back").to_str().unwrap(),
    ]);
    let mut all = p1.clone();
    all.extend_from_slice(&p2);
    assert_bytes_eq(&read(dir.join("back")), &all, "completed upload");

    // Abort another upload.
    let v = aws.json(&[
        "s3api",
        "create-multipart-upload",
        "--bucket",
        &b,
        "--key",
        "aborted",
    ]);
    let id2 = v["UploadId"].as_str().unwrap().to_string();
    aws.ok(&[
        "s3api",
        "upload-part",
        "--bucket",
        &b,
        "--key",
        "aborted",
        "--upload-id",
        &id2,
        "--part-number",
        "1",
        "--body",
        dir.join("p2").to_str().unwrap(),
    ]);
    aws.ok(&[
        "s3api",
        "abort-multipart-upload",
        "--bucket",
        &b,
        "--key",
        "aborted",
        "--upload-id",
        &id2,
    ]);
    let ups = aws.json(&["s3api", "list-multipart-uploads", "--bucket", &b]);
    assert!(
        ups.get("Uploads")
            .map(|u| u.as_array().unwrap().is_empty())
            .unwrap_or(true),
        "uploads left: {ups}"
    );
    let err = aws.fails(&[
        "s3api",
        "list-parts",
        "--bucket",
        &b,
        "--key",
        "aborted",
        "--upload-id",
        &id2,
    ]);
    assert!(err.contains("NoSuchUpload"), "{err}");
    let err = aws.fails(&["s3api", "head-object", "--bucket", &b, "--key", "aborted"]);
    assert!(err.contains("404"), "{err}");
}

fn aws_s3_presign_fetched_with_curl(s: &TestServer) {
    let aws = Aws::new(s);
    let dir = s.scratch("aws-presign");
    let b = unique_bucket("aws-presign");
    aws.ok(&["s3", "mb", &format!("s3://{b}")]);
    let data = test_data(33_333, 3);
    write(dir.join("f"), &data);
    aws.ok(&[
        "s3",
        "cp",
        dir.join("f").to_str().unwrap(),
        &s3url(&b, "p/file name.bin"),
    ]);
    let url = aws.ok(&[
        "s3",
        "presign",
        &s3url(&b, "p/file name.bin"),
        "--expires-in",
        "300",
    ]);
    let url = url.trim();
    assert!(
        url.contains("X-Amz-Signature") || url.contains("Signature="),
        "{url}"
    );
    let got = dir.join("got");
    assert_eq!(curl_get(url, &got), 200);
    assert_bytes_eq(&read(&got), &data, "presigned GET via curl");
    // A tampered URL is refused.
    let bad = url.replace("p/file", "p/File");
    assert_eq!(curl_get(&bad, &dir.join("bad")), 403);
}

fn aws_s3api_list_objects_v2_delimiter_and_paging(s: &TestServer) {
    let aws = Aws::new(s);
    let b = unique_bucket("aws-list");
    aws.ok(&["s3", "mb", &format!("s3://{b}")]);
    // 23 keys under three prefixes, put through the raw client for speed.
    let c = s.raw();
    let mut keys = Vec::new();
    for p in ["alpha/", "beta/", ""] {
        for i in 0..7 {
            keys.push(format!("{p}k{i:02}"));
        }
    }
    keys.push("beta/deep/x".into());
    keys.push("gamma".into());
    for k in &keys {
        c.put_object(&b, k, k.as_bytes());
    }
    keys.sort();

    let v = aws.json(&[
        "s3api",
        "list-objects-v2",
        "--bucket",
        &b,
        "--delimiter",
        "/",
    ]);
    let prefixes: Vec<&str> = v["CommonPrefixes"]
        .as_array()
        .expect("CommonPrefixes")
        .iter()
        .map(|p| p["Prefix"].as_str().unwrap())
        .collect();
    assert_eq!(prefixes, vec!["alpha/", "beta/"]);
    let top: Vec<&str> = v["Contents"]
        .as_array()
        .expect("Contents")
        .iter()
        .map(|o| o["Key"].as_str().unwrap())
        .collect();
    assert_eq!(
        top,
        vec!["gamma", "k00", "k01", "k02", "k03", "k04", "k05", "k06"]
    );

    let v = aws.json(&[
        "s3api",
        "list-objects-v2",
        "--bucket",
        &b,
        "--prefix",
        "beta/",
        "--delimiter",
        "/",
    ]);
    assert_eq!(v["CommonPrefixes"][0]["Prefix"], Value::from("beta/deep/"));
    assert_eq!(v["Contents"].as_array().unwrap().len(), 7);

    // Paging: the CLI follows continuation tokens with --page-size, and
    // --max-items stops early and hands out a NextToken.
    let v = aws.json(&[
        "s3api",
        "list-objects-v2",
        "--bucket",
        &b,
        "--page-size",
        "4",
    ]);
    let all: Vec<String> = v["Contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["Key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(all, keys);
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..20 {
        let mut args = vec![
            "s3api".to_string(),
            "list-objects-v2".into(),
            "--bucket".into(),
            b.clone(),
            "--max-items".into(),
            "5".into(),
            "--page-size".into(),
            "3".into(),
        ];
        if let Some(t) = &token {
            args.push("--starting-token".into());
            args.push(t.clone());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let v = aws.json(&args);
        let page: Vec<String> = v["Contents"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|o| o["Key"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default();
        assert!(page.len() <= 5);
        seen.extend(page);
        match v["NextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, keys);
    // v1 through the CLI too.
    let v = aws.json(&["s3api", "list-objects", "--bucket", &b, "--page-size", "6"]);
    assert_eq!(v["Contents"].as_array().unwrap().len(), keys.len());
}

fn aws_s3api_delete_objects(s: &TestServer) {
    let aws = Aws::new(s);
    let dir = s.scratch("aws-delete");
    let b = unique_bucket("aws-delete");
    aws.ok(&["s3", "mb", &format!("s3://{b}")]);
    let c = s.raw();
    for k in ["a", "b", "c", "d/e"] {
        c.put_object(&b, k, k.as_bytes());
    }
    let del = serde_json::json!({"Objects": [{"Key": "a"}, {"Key": "d/e"}, {"Key": "zz"}], "Quiet": false});
    write(dir.join("del.json"), del.to_string().as_bytes());
    let v = aws.json(&[
        "s3api",
        "delete-objects",
        "--bucket",
        &b,
        "--delete",
        &format!("file://{}", dir.join("del.json").display()),
    ]);
    let mut deleted: Vec<&str> = v["Deleted"]
        .as_array()
        .expect("Deleted")
        .iter()
        .map(|d| d["Key"].as_str().unwrap())
        .collect();
    deleted.sort();
    assert_eq!(deleted, vec!["a", "d/e", "zz"]);
    assert_eq!(c.list_keys(&b, ""), vec!["b", "c"]);
    // `s3 rm --recursive` empties the bucket.
    aws.ok(&["s3", "rm", "--recursive", &format!("s3://{b}")]);
    assert!(c.list_keys(&b, "").is_empty());
}

fn aws_errors_are_reported(s: &TestServer) {
    let aws = Aws::new(s);
    let b = unique_bucket("aws-errors");
    let err = aws.fails(&["s3api", "head-bucket", "--bucket", &b]);
    assert!(err.contains("404"), "{err}");
    let err = aws.fails(&[
        "s3api",
        "get-object",
        "--bucket",
        &b,
        "--key",
        "k",
        "/dev/null",
    ]);
    assert!(err.contains("NoSuchBucket"), "{err}");
    aws.ok(&["s3", "mb", &format!("s3://{b}")]);
    // A second `mb` of one's own bucket succeeds in us-east-1, as on AWS.
    aws.ok(&["s3", "mb", &format!("s3://{b}")]);
    let wrong = Aws::with_creds(
        s,
        crate::common::Creds::new(&s.opts.access_key, "wrong-secret"),
    );
    let err = wrong.fails(&["s3", "ls"]);
    assert!(err.contains("SignatureDoesNotMatch"), "{err}");
}

crate::backend_tests! {
    aws_s3_mb_cp_ls_rm,
    aws_s3_cp_large_file_multipart,
    aws_s3_cp_from_stdin_streams_multipart,
    aws_s3_sync_both_ways,
    aws_s3api_multipart,
    aws_s3_presign_fetched_with_curl,
    aws_s3api_list_objects_v2_delimiter_and_paging,
    aws_s3api_delete_objects,
    aws_errors_are_reported,
}
