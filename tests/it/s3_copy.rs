//! CopyObject, UploadPartCopy, partNumber reads and upload listings (issue 3), through awscli
//! and, for the error paths, the raw client.

use serde_json::Value;

use crate::common::clients::Aws;
use crate::common::raw::obj_path;
use crate::common::{
    etag_of, md5_hex, multipart_etag, test_data, unique_bucket, write, xml_text, xml_texts,
    TestServer,
};

const MIB: usize = 1024 * 1024;

fn aws_copy_object_directives_and_conditions(s: &TestServer) {
    let aws = Aws::new(s);
    let c = s.raw();
    let (src, dst) = (unique_bucket("copy-src"), unique_bucket("copy-dst"));
    c.create_bucket(&src);
    c.create_bucket(&dst);
    let data = test_data(3 * MIB + 17, 31);
    let file = s.scratch("copy").join("data");
    write(&file, &data);
    aws.ok(&[
        "s3api",
        "put-object",
        "--bucket",
        &src,
        "--key",
        "dir/a b+c",
        "--body",
        file.to_str().unwrap(),
        "--content-type",
        "text/x-test",
        "--metadata",
        "origin=src",
        "--tagging",
        "t1=v1",
    ]);

    // COPY across buckets, source URL-encoded by awscli.
    let out = aws.json(&[
        "s3api",
        "copy-object",
        "--bucket",
        &dst,
        "--key",
        "copy",
        "--copy-source",
        &format!("{src}/dir/a b+c"),
    ]);
    assert_eq!(out["CopyObjectResult"]["ETag"], Value::from(etag_of(&data)));
    let head = aws.json(&["s3api", "head-object", "--bucket", &dst, "--key", "copy"]);
    assert_eq!(head["ContentType"], Value::from("text/x-test"));
    assert_eq!(head["Metadata"]["origin"], Value::from("src"));
    assert_eq!(head["TagCount"], Value::from(1));
    assert_eq!(c.get_object(&dst, "copy"), data);

    // Onto itself: only with REPLACE.
    let err = aws.fails(&[
        "s3api",
        "copy-object",
        "--bucket",
        &dst,
        "--key",
        "copy",
        "--copy-source",
        &format!("{dst}/copy"),
    ]);
    assert!(err.contains("InvalidRequest"), "{err}");
    aws.ok(&[
        "s3api",
        "copy-object",
        "--bucket",
        &dst,
        "--key",
        "copy",
        "--copy-source",
        &format!("{dst}/copy"),
        "--metadata-directive",
        "REPLACE",
        "--content-type",
        "text/new",
        "--metadata",
        "fresh=yes",
    ]);
    let head = aws.json(&["s3api", "head-object", "--bucket", &dst, "--key", "copy"]);
    assert_eq!(head["ContentType"], Value::from("text/new"));
    assert_eq!(head["Metadata"], serde_json::json!({"fresh": "yes"}));
    assert_eq!(head["ETag"], Value::from(etag_of(&data)));

    // Copy-source conditions fail with 412, and copy nothing.
    let err = aws.fails(&[
        "s3api",
        "copy-object",
        "--bucket",
        &dst,
        "--key",
        "c2",
        "--copy-source",
        &format!("{dst}/copy"),
        "--copy-source-if-match",
        "\"0123\"",
    ]);
    assert!(err.contains("PreconditionFailed"), "{err}");
    let err = aws.fails(&[
        "s3api",
        "copy-object",
        "--bucket",
        &dst,
        "--key",
        "c2",
        "--copy-source",
        &format!("{dst}/copy"),
        "--copy-source-if-none-match",
        &etag_of(&data),
    ]);
    assert!(err.contains("PreconditionFailed"), "{err}");
    aws.ok(&[
        "s3api",
        "copy-object",
        "--bucket",
        &dst,
        "--key",
        "c2",
        "--copy-source",
        &format!("{dst}/copy"),
        "--copy-source-if-match",
        &etag_of(&data),
        "--copy-source-if-unmodified-since",
        "2000-01-01T00:00:00Z",
    ]);
    c.head(&obj_path(&dst, "c2")).send().ok();
}

fn raw_copy_source_forms_and_errors(s: &TestServer) {
    let c = s.raw();
    let b = unique_bucket("copy-raw");
    c.create_bucket(&b);
    c.put_object(&b, "k€y ?", b"small inline object");
    let copy = |source: &str| {
        c.put(&obj_path(&b, "dst"))
            .header("x-amz-copy-source", source)
            .send()
    };
    // With or without a leading '/', URL-encoded, ?versionId=null.
    for source in [
        format!("/{b}/k%E2%82%ACy%20%3F"),
        format!("{b}/k%E2%82%ACy%20%3F"),
        format!("{b}/k%E2%82%ACy%20%3F?versionId=null"),
    ] {
        let text = copy(&source).ok().text();
        assert_eq!(
            xml_text(&text, "ETag"),
            Some(etag_of(b"small inline object")),
            "{text}"
        );
        assert!(xml_text(&text, "LastModified").is_some(), "{text}");
    }
    assert_eq!(c.get_object(&b, "dst"), b"small inline object");
    copy(&format!("/{b}/k%E2%82%ACy%20%3F?versionId=3HL4kqtJ")).assert_error(404, "NoSuchVersion");
    copy(&format!("/{b}/k%E2%82%ACy%20%3F?versionId=a%25b")).assert_error(400, "InvalidArgument");
    copy(&format!("/{b}")).assert_error(400, "InvalidArgument");
    copy(&format!("/{b}/missing")).assert_error(404, "NoSuchKey");
    copy(&format!("/{}/k", unique_bucket("nobucket"))).assert_error(404, "NoSuchBucket");
    c.put(&obj_path(&b, "dst"))
        .header("x-amz-copy-source", &format!("/{b}/dst"))
        .header("x-amz-metadata-directive", "MAYBE")
        .send()
        .assert_error(400, "InvalidArgument");
    // versionId=null on reads and deletes; ids of no version are NoSuchVersion, ids of no
    // possible version InvalidArgument.
    c.get(&obj_path(&b, "dst"))
        .query("versionId", "null")
        .send()
        .ok();
    c.get(&obj_path(&b, "dst"))
        .query("versionId", "abc")
        .send()
        .assert_error(404, "NoSuchVersion");
    c.get(&obj_path(&b, "dst"))
        .query("versionId", "a/b")
        .send()
        .assert_error(400, "InvalidArgument");
    c.delete(&obj_path(&b, "dst"))
        .query("versionId", "null")
        .send()
        .status(204);
    c.head(&obj_path(&b, "dst"))
        .send()
        .assert_error(404, "NoSuchKey");
}

fn aws_upload_part_copy_ranges_and_part_number_reads(s: &TestServer) {
    let aws = Aws::new(s);
    let c = s.raw();
    let b = unique_bucket("partcopy");
    c.create_bucket(&b);
    let source = test_data(7 * MIB + 3, 32);
    let file = s.scratch("partcopy").join("src");
    write(&file, &source);
    aws.ok(&[
        "s3api",
        "put-object",
        "--bucket",
        &b,
        "--key",
        "src",
        "--body",
        file.to_str().unwrap(),
    ]);

    let id = aws.json(&[
        "s3api",
        "create-multipart-upload",
        "--bucket",
        &b,
        "--key",
        "joined",
    ])["UploadId"]
        .as_str()
        .unwrap()
        .to_string();
    // Part 1: the first 5 MiB (starts on a block boundary); part 2: an unaligned tail.
    let ranges = [(0, 5 * MIB - 1), (5 * MIB + 1, source.len() - 1)];
    let mut parts = Vec::new();
    for (i, (first, last)) in ranges.iter().enumerate() {
        let out = aws.json(&[
            "s3api",
            "upload-part-copy",
            "--bucket",
            &b,
            "--key",
            "joined",
            "--upload-id",
            &id,
            "--part-number",
            &(i + 1).to_string(),
            "--copy-source",
            &format!("{b}/src"),
            "--copy-source-range",
            &format!("bytes={first}-{last}"),
        ]);
        let slice = &source[*first..=*last];
        assert_eq!(
            out["CopyPartResult"]["ETag"],
            Value::from(format!("\"{}\"", md5_hex(slice)))
        );
        parts.push(slice.to_vec());
    }
    let err = aws.fails(&[
        "s3api",
        "upload-part-copy",
        "--bucket",
        &b,
        "--key",
        "joined",
        "--upload-id",
        &id,
        "--part-number",
        "3",
        "--copy-source",
        &format!("{b}/src"),
        "--copy-source-range",
        &format!("bytes=0-{}", source.len()),
    ]);
    assert!(err.contains("InvalidArgument"), "{err}");
    let err = aws.fails(&[
        "s3api",
        "upload-part-copy",
        "--bucket",
        &b,
        "--key",
        "joined",
        "--upload-id",
        &id,
        "--part-number",
        "3",
        "--copy-source",
        &format!("{b}/src"),
        "--copy-source-if-match",
        "\"nope\"",
    ]);
    assert!(err.contains("PreconditionFailed"), "{err}");

    let listed = aws.json(&[
        "s3api",
        "list-parts",
        "--bucket",
        &b,
        "--key",
        "joined",
        "--upload-id",
        &id,
    ]);
    let completion = serde_json::json!({"Parts": listed["Parts"].as_array().unwrap().iter()
        .map(|p| serde_json::json!({"PartNumber": p["PartNumber"], "ETag": p["ETag"]}))
        .collect::<Vec<_>>()});
    let done = aws.json(&[
        "s3api",
        "complete-multipart-upload",
        "--bucket",
        &b,
        "--key",
        "joined",
        "--upload-id",
        &id,
        "--multipart-upload",
        &completion.to_string(),
    ]);
    assert_eq!(done["ETag"], Value::from(multipart_etag(&parts)));
    let whole: Vec<u8> = parts.concat();
    assert_eq!(c.get_object(&b, "joined"), whole);

    // GET/HEAD ?partNumber=N serve one part, with the part count.
    for (n, part) in parts.iter().enumerate() {
        let r = c
            .get(&obj_path(&b, "joined"))
            .query("partNumber", &(n + 1).to_string())
            .send();
        assert_eq!(r.status, 206, "{}", r.text());
        assert_eq!(r.header("x-amz-mp-parts-count"), Some("2"));
        assert_eq!(r.body, *part);
    }
    let head = aws.json(&[
        "s3api",
        "head-object",
        "--bucket",
        &b,
        "--key",
        "joined",
        "--part-number",
        "2",
    ]);
    assert_eq!(head["ContentLength"], Value::from(parts[1].len()));
    assert_eq!(head["PartsCount"], Value::from(2));
    c.get(&obj_path(&b, "joined"))
        .query("partNumber", "3")
        .send()
        .assert_error(416, "InvalidPartNumber");
    c.get(&obj_path(&b, "joined"))
        .query("partNumber", "1")
        .header("range", "bytes=0-1")
        .send()
        .assert_error(400, "InvalidRequest");
    // A simple object is one part.
    let r = c.get(&obj_path(&b, "src")).query("partNumber", "1").send();
    assert_eq!(r.body.len(), source.len());
}

fn raw_multipart_upload_listing_with_delimiter(s: &TestServer) {
    let c = s.raw();
    let b = unique_bucket("uploads");
    c.create_bucket(&b);
    let keys = ["a/1", "a/2", "b", "c/x/y", "c/z", "d"];
    for key in keys {
        c.post(&obj_path(&b, key)).sub("uploads").send().ok();
    }
    let text = c
        .get(&format!("/{b}"))
        .sub("uploads")
        .query("delimiter", "/")
        .send()
        .ok()
        .text();
    assert_eq!(xml_texts(&text, "Key"), ["b", "d"], "{text}");
    assert_eq!(
        crate::common::xml_child_texts(&text, "CommonPrefixes", "Prefix"),
        ["a/", "c/"],
        "{text}"
    );
    // Page through with max-uploads=1: every entry exactly once.
    let mut seen = Vec::new();
    let (mut key_marker, mut id_marker) = (String::new(), String::new());
    for _ in 0..10 {
        let mut req = c
            .get(&format!("/{b}"))
            .sub("uploads")
            .query("delimiter", "/")
            .query("max-uploads", "1");
        if !key_marker.is_empty() {
            req = req
                .query("key-marker", &key_marker)
                .query("upload-id-marker", &id_marker);
        }
        let text = req.send().ok().text();
        seen.extend(xml_texts(&text, "Key"));
        seen.extend(crate::common::xml_child_texts(
            &text,
            "CommonPrefixes",
            "Prefix",
        ));
        if xml_text(&text, "IsTruncated").as_deref() != Some("true") {
            break;
        }
        key_marker = xml_text(&text, "NextKeyMarker").unwrap();
        id_marker = xml_text(&text, "NextUploadIdMarker").unwrap_or_default();
    }
    assert_eq!(seen, ["a/", "b", "c/", "d"]);
}

crate::backend_tests! {
    aws_copy_object_directives_and_conditions,
    raw_copy_source_forms_and_errors,
    aws_upload_part_copy_ranges_and_part_number_reads,
    raw_multipart_upload_listing_with_delimiter,
}
