//! Versioning (issue 18): bucket states, versions and delete markers through GET, HEAD,
//! DELETE, copies, tagging, attributes and ListObjectVersions, DeleteObjects with versions,
//! and the `*Version` policy actions; through awscli and the raw client, on both backends.

use serde_json::Value;

use crate::common::clients::Aws;
use crate::common::raw::{obj_path, percent_decode, RawClient};
use crate::common::{unique_bucket, write, xml_child_texts, xml_text, xml_texts, TestServer};

pub fn set_versioning(c: &RawClient, bucket: &str, status: &str) {
    c.put(&format!("/{bucket}"))
        .sub("versioning")
        .body(format!(
            "<VersioningConfiguration><Status>{status}</Status></VersioningConfiguration>"
        ))
        .send()
        .ok();
}

pub fn versioned_bucket(c: &RawClient, test: &str) -> String {
    let b = unique_bucket(test);
    c.create_bucket(&b);
    set_versioning(c, &b, "Enabled");
    b
}

/// PUTs `data`; returns the version id the answer names.
pub fn put_version(c: &RawClient, bucket: &str, key: &str, data: &[u8]) -> String {
    let r = c.put_object(bucket, key, data);
    r.header("x-amz-version-id")
        .unwrap_or_else(|| panic!("PUT {key}: no x-amz-version-id"))
        .to_string()
}

fn get_version(c: &RawClient, bucket: &str, key: &str, id: &str) -> Vec<u8> {
    c.get(&obj_path(bucket, key))
        .query("versionId", id)
        .send()
        .ok()
        .body
}

fn list_versions(c: &RawClient, bucket: &str, params: &[(&str, &str)]) -> String {
    let mut r = c.get(&format!("/{bucket}")).sub("versions");
    for (k, v) in params {
        r = r.query(k, v);
    }
    r.send().ok().text()
}

fn bucket_versioning(s: &TestServer) {
    let c = s.raw();
    let b = unique_bucket("vconf");
    c.create_bucket(&b);
    let get = || c.get(&format!("/{b}")).sub("versioning").send().ok().text();
    assert_eq!(xml_text(&get(), "Status"), None);
    // Unversioned buckets name no version on writes.
    assert_eq!(c.put_object(&b, "k", b"x").header("x-amz-version-id"), None);
    set_versioning(&c, &b, "Enabled");
    // Seen by the very next request.
    assert_eq!(xml_text(&get(), "Status").as_deref(), Some("Enabled"));
    assert!(c
        .put_object(&b, "k", b"y")
        .header("x-amz-version-id")
        .is_some());
    set_versioning(&c, &b, "Suspended");
    assert_eq!(xml_text(&get(), "Status").as_deref(), Some("Suspended"));
    assert_eq!(
        c.put_object(&b, "k", b"z").header("x-amz-version-id"),
        Some("null")
    );
    // No body turns versioning off again.
    c.put(&format!("/{b}"))
        .sub("versioning")
        .body("<VersioningConfiguration/>")
        .send()
        .ok();
    assert_eq!(xml_text(&get(), "Status").as_deref(), Some("Suspended"));
    for bad in [
        "<VersioningConfiguration><Status>Off</Status></VersioningConfiguration>",
        "<VersioningConfiguration><Status>Enabled</Status>",
        "<Versioning/>",
    ] {
        c.put(&format!("/{b}"))
            .sub("versioning")
            .body(bad)
            .send()
            .assert_error(400, "MalformedXML");
    }
    let mfa = "<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Enabled</MfaDelete>\
               </VersioningConfiguration>";
    c.put(&format!("/{b}"))
        .sub("versioning")
        .body(mfa)
        .send()
        .assert_error(403, "AccessDenied");
    c.put(&format!("/{b}"))
        .sub("versioning")
        .header("x-amz-mfa", "serial 123456")
        .body(mfa)
        .send()
        .assert_error(501, "NotImplemented");
    assert_eq!(xml_text(&get(), "Status").as_deref(), Some("Suspended"));
}

fn versions_and_delete_markers_through_awscli(s: &TestServer) {
    let aws = Aws::new(s);
    let c = s.raw();
    let b = unique_bucket("vaws");
    c.create_bucket(&b);
    aws.ok(&[
        "s3api",
        "put-bucket-versioning",
        "--bucket",
        &b,
        "--versioning-configuration",
        "Status=Enabled",
    ]);
    let got = aws.json(&["s3api", "get-bucket-versioning", "--bucket", &b]);
    assert_eq!(got["Status"], Value::from("Enabled"));
    let dir = s.scratch("vaws");
    let (one, two) = (dir.join("one"), dir.join("two"));
    write(&one, b"first version");
    write(&two, b"second version!");
    let put = |file: &std::path::Path| {
        let out = aws.json(&[
            "s3api",
            "put-object",
            "--bucket",
            &b,
            "--key",
            "doc.txt",
            "--body",
            file.to_str().unwrap(),
        ]);
        out["VersionId"].as_str().expect("VersionId").to_string()
    };
    let (v1, v2) = (put(&one), put(&two));
    assert_ne!(v1, v2);
    let out_file = dir.join("out");
    let head = aws.json(&[
        "s3api",
        "get-object",
        "--bucket",
        &b,
        "--key",
        "doc.txt",
        "--version-id",
        &v1,
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(head["VersionId"], Value::from(v1.as_str()));
    assert_eq!(std::fs::read(&out_file).unwrap(), b"first version");
    let head = aws.json(&[
        "s3api",
        "head-object",
        "--bucket",
        &b,
        "--key",
        "doc.txt",
        "--version-id",
        &v1,
    ]);
    assert_eq!(head["ContentLength"], Value::from(13));
    let listed = aws.json(&["s3api", "list-object-versions", "--bucket", &b]);
    let versions = listed["Versions"].as_array().expect("Versions");
    let ids: Vec<(&str, bool)> = versions
        .iter()
        .map(|v| {
            (
                v["VersionId"].as_str().unwrap(),
                v["IsLatest"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(ids, [(v2.as_str(), true), (v1.as_str(), false)]);

    // DELETE without a version writes a marker.
    let deleted = aws.json(&["s3api", "delete-object", "--bucket", &b, "--key", "doc.txt"]);
    assert_eq!(deleted["DeleteMarker"], Value::from(true));
    let marker = deleted["VersionId"]
        .as_str()
        .expect("marker id")
        .to_string();
    let err = aws.fails(&[
        "s3api",
        "get-object",
        "--bucket",
        &b,
        "--key",
        "doc.txt",
        out_file.to_str().unwrap(),
    ]);
    assert!(err.contains("NoSuchKey"), "{err}");
    let r = c.get(&obj_path(&b, "doc.txt")).send();
    r.assert_error(404, "NoSuchKey");
    assert_eq!(r.header("x-amz-delete-marker"), Some("true"));
    assert_eq!(r.header("x-amz-version-id"), Some(marker.as_str()));
    let r = c.head(&obj_path(&b, "doc.txt")).send();
    r.assert_error(404, "NoSuchKey");
    assert_eq!(r.header("x-amz-delete-marker"), Some("true"));
    // The marker by id: 405, on HEAD without a body.
    for r in [
        c.get(&obj_path(&b, "doc.txt"))
            .query("versionId", &marker)
            .send(),
        c.head(&obj_path(&b, "doc.txt"))
            .query("versionId", &marker)
            .send(),
    ] {
        r.assert_error(405, "MethodNotAllowed");
        assert_eq!(r.header("x-amz-delete-marker"), Some("true"));
        assert_eq!(r.header("x-amz-version-id"), Some(marker.as_str()));
    }
    let listed = aws.json(&["s3api", "list-object-versions", "--bucket", &b]);
    let markers = listed["DeleteMarkers"].as_array().expect("DeleteMarkers");
    assert_eq!(markers.len(), 1);
    assert_eq!(markers[0]["VersionId"], Value::from(marker.as_str()));
    assert_eq!(markers[0]["IsLatest"], Value::from(true));
    assert!(c.list_keys(&b, "").is_empty());

    // DELETE with the marker's id removes it: the object is back.
    let removed = aws.json(&[
        "s3api",
        "delete-object",
        "--bucket",
        &b,
        "--key",
        "doc.txt",
        "--version-id",
        &marker,
    ]);
    assert_eq!(removed["DeleteMarker"], Value::from(true));
    assert_eq!(removed["VersionId"], Value::from(marker.as_str()));
    assert_eq!(c.get_object(&b, "doc.txt"), b"second version!");
    // DELETE with a version's id removes that version for good.
    aws.ok(&[
        "s3api",
        "delete-object",
        "--bucket",
        &b,
        "--key",
        "doc.txt",
        "--version-id",
        &v2,
    ]);
    assert_eq!(c.get_object(&b, "doc.txt"), b"first version");
    c.get(&obj_path(&b, "doc.txt"))
        .query("versionId", &v2)
        .send()
        .assert_error(404, "NoSuchVersion");
    c.get(&obj_path(&b, "doc.txt"))
        .query("versionId", "")
        .send()
        .assert_error(400, "InvalidArgument");
    c.get(&obj_path(&b, "doc.txt"))
        .query("versionId", "no such/version")
        .send()
        .assert_error(400, "InvalidArgument");
}

fn suspended_buckets_write_the_null_version(s: &TestServer) {
    let c = s.raw();
    let b = unique_bucket("vnull");
    c.create_bucket(&b);
    c.put_object(&b, "k", b"before versioning");
    set_versioning(&c, &b, "Enabled");
    let v = put_version(&c, &b, "k", b"enabled");
    assert_eq!(get_version(&c, &b, "k", "null"), b"before versioning");
    set_versioning(&c, &b, "Suspended");
    assert_eq!(put_version(&c, &b, "k", b"suspended 1"), "null");
    assert_eq!(put_version(&c, &b, "k", b"suspended 2"), "null");
    let listed = list_versions(&c, &b, &[]);
    assert_eq!(xml_texts(&listed, "VersionId"), ["null", v.as_str()]);
    assert_eq!(get_version(&c, &b, "k", "null"), b"suspended 2");
    assert_eq!(get_version(&c, &b, "k", &v), b"enabled");
    let r = c.head(&obj_path(&b, "k")).send().ok();
    assert_eq!(r.header("x-amz-version-id"), Some("null"));
    // A suspended delete leaves a null marker in place of the null version.
    let r = c.delete(&obj_path(&b, "k")).send().status(204);
    assert_eq!(r.header("x-amz-version-id"), Some("null"));
    assert_eq!(r.header("x-amz-delete-marker"), Some("true"));
    let listed = list_versions(&c, &b, &[]);
    assert_eq!(
        xml_child_texts(&listed, "DeleteMarker", "VersionId"),
        ["null"]
    );
    assert_eq!(
        xml_child_texts(&listed, "Version", "VersionId"),
        [v.as_str()]
    );
}

fn list_object_versions_pages_groups_and_encodes(s: &TestServer) {
    let c = s.raw();
    let b = unique_bucket("vlist");
    c.create_bucket(&b);
    let mut a_ids: Vec<String> = Vec::new();
    set_versioning(&c, &b, "Enabled");
    for n in 0..4 {
        a_ids.push(put_version(&c, &b, "a", format!("a{n}").as_bytes()));
    }
    a_ids.reverse();
    put_version(&c, &b, "dir/x", b"x");
    put_version(&c, &b, "dir/y", b"y");
    c.delete(&obj_path(&b, "dir/y")).send().status(204);
    put_version(&c, &b, "z é+", b"encoded");

    // Pages of 2 by NextKeyMarker / NextVersionIdMarker cover every version once.
    let mut seen = Vec::new();
    let (mut key_marker, mut version_marker) = (String::new(), String::new());
    for _ in 0..20 {
        let mut params = vec![("max-keys", "2"), ("encoding-type", "url")];
        if !key_marker.is_empty() {
            params.push(("key-marker", &key_marker));
            params.push(("version-id-marker", &version_marker));
        }
        let page = list_versions(&c, &b, &params);
        for element in ["Version", "DeleteMarker"] {
            for id in xml_child_texts(&page, element, "VersionId") {
                seen.push(id);
            }
        }
        if xml_text(&page, "IsTruncated").as_deref() != Some("true") {
            break;
        }
        let next = xml_text(&page, "NextKeyMarker").expect("NextKeyMarker");
        key_marker = String::from_utf8(percent_decode(&next)).unwrap();
        version_marker = xml_text(&page, "NextVersionIdMarker").expect("NextVersionIdMarker");
    }
    assert_eq!(seen.len(), 8, "{seen:?}");
    let all = list_versions(&c, &b, &[("encoding-type", "url")]);
    assert_eq!(
        xml_texts(&all, "Key").last().map(String::as_str),
        Some("z%20%C3%A9%2B")
    );
    let a: Vec<String> = xml_child_texts(&all, "Version", "VersionId")
        .into_iter()
        .take(4)
        .collect();
    assert_eq!(a, a_ids, "newest first");
    assert_eq!(
        xml_texts(&all, "IsLatest"),
        ["true", "false", "false", "false", "true", "true", "false", "true"]
    );
    let grouped = list_versions(&c, &b, &[("delimiter", "/"), ("prefix", "")]);
    // A delete marker as the latest of dir/y still counts under the prefix.
    assert_eq!(
        xml_child_texts(&grouped, "CommonPrefixes", "Prefix"),
        ["dir/"]
    );
    let under = list_versions(&c, &b, &[("prefix", "dir/")]);
    assert_eq!(xml_child_texts(&under, "DeleteMarker", "Key"), ["dir/y"]);
    assert_eq!(
        xml_child_texts(&under, "Version", "Key"),
        ["dir/x", "dir/y"]
    );
    c.get(&format!("/{b}"))
        .sub("versions")
        .query("version-id-marker", "x")
        .send()
        .assert_error(400, "InvalidArgument");
}

fn delete_objects_names_versions(s: &TestServer) {
    let c = s.raw();
    let b = versioned_bucket(&c, "vdelmany");
    let v1 = put_version(&c, &b, "k", b"one");
    put_version(&c, &b, "k", b"two");
    let body = format!(
        "<Delete><Object><Key>k</Key><VersionId>{v1}</VersionId></Object>\
         <Object><Key>j</Key></Object></Delete>"
    );
    use base64::Engine as _;
    let md5 =
        base64::engine::general_purpose::STANDARD.encode(crate::common::md5_bytes(body.as_bytes()));
    let r = c
        .post(&format!("/{b}"))
        .sub("delete")
        .header("Content-MD5", &md5)
        .body(body)
        .send()
        .ok()
        .text();
    assert_eq!(xml_child_texts(&r, "Deleted", "Key"), ["k", "j"]);
    // Empty: the entry has no such element.
    assert_eq!(
        xml_child_texts(&r, "Deleted", "VersionId"),
        [v1.as_str(), ""]
    );
    assert_eq!(xml_child_texts(&r, "Deleted", "DeleteMarker"), ["", "true"]);
    let mut marker = xml_child_texts(&r, "Deleted", "DeleteMarkerVersionId");
    assert_eq!(marker[0], "");
    marker.remove(0);
    assert_eq!(marker[0].len(), 32, "{r}");
    c.get(&obj_path(&b, "k"))
        .query("versionId", &v1)
        .send()
        .assert_error(404, "NoSuchVersion");
    let listed = list_versions(&c, &b, &[("prefix", "j")]);
    assert_eq!(
        xml_child_texts(&listed, "DeleteMarker", "VersionId"),
        marker
    );
}

fn copies_tags_and_attributes_of_versions(s: &TestServer) {
    let aws = Aws::new(s);
    let c = s.raw();
    let b = versioned_bucket(&c, "vcopy");
    let v1 = put_version(&c, &b, "k", b"old bytes");
    let v2 = put_version(&c, &b, "k", b"new bytes");
    // Restoring an old version by copying it onto its key.
    let r = c
        .put(&obj_path(&b, "k"))
        .header("x-amz-copy-source", &format!("/{b}/k?versionId={v1}"))
        .send()
        .ok();
    assert_eq!(r.header("x-amz-copy-source-version-id"), Some(v1.as_str()));
    let v3 = r
        .header("x-amz-version-id")
        .expect("new version")
        .to_string();
    assert!(v3 != v1 && v3 != v2);
    assert_eq!(c.get_object(&b, "k"), b"old bytes");

    // Tags of one version change in place: no new version.
    aws.ok(&[
        "s3api",
        "put-object-tagging",
        "--bucket",
        &b,
        "--key",
        "k",
        "--version-id",
        &v2,
        "--tagging",
        "TagSet=[{Key=state,Value=old}]",
    ]);
    let tags = aws.json(&[
        "s3api",
        "get-object-tagging",
        "--bucket",
        &b,
        "--key",
        "k",
        "--version-id",
        &v2,
    ]);
    assert_eq!(tags["VersionId"], Value::from(v2.as_str()));
    assert_eq!(tags["TagSet"][0]["Value"], Value::from("old"));
    let latest = aws.json(&["s3api", "get-object-tagging", "--bucket", &b, "--key", "k"]);
    assert_eq!(latest["TagSet"].as_array().map(Vec::len), Some(0));
    assert_eq!(
        xml_texts(&list_versions(&c, &b, &[]), "VersionId").len(),
        3,
        "tagging made a version"
    );
    aws.ok(&[
        "s3api",
        "delete-object-tagging",
        "--bucket",
        &b,
        "--key",
        "k",
        "--version-id",
        &v2,
    ]);
    let attributes = aws.json(&[
        "s3api",
        "get-object-attributes",
        "--bucket",
        &b,
        "--key",
        "k",
        "--version-id",
        &v2,
        "--object-attributes",
        "ObjectSize",
    ]);
    assert_eq!(attributes["ObjectSize"], Value::from(9));
    assert_eq!(attributes["VersionId"], Value::from(v2.as_str()));
    c.get(&obj_path(&b, "k"))
        .sub("acl")
        .query("versionId", &v1)
        .send()
        .ok();

    // UploadPartCopy from an old version.
    let init = c
        .post(&obj_path(&b, "mp"))
        .sub("uploads")
        .send()
        .ok()
        .text();
    let upload = xml_text(&init, "UploadId").unwrap();
    let r = c
        .put(&obj_path(&b, "mp"))
        .query("partNumber", "1")
        .query("uploadId", &upload)
        .header("x-amz-copy-source", &format!("/{b}/k?versionId={v2}"))
        .send()
        .ok();
    assert_eq!(r.header("x-amz-copy-source-version-id"), Some(v2.as_str()));
    let etag = xml_text(&r.text(), "ETag").unwrap();
    let done = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part>\
         </CompleteMultipartUpload>"
    );
    let r = c
        .post(&obj_path(&b, "mp"))
        .query("uploadId", &upload)
        .body(done)
        .send()
        .ok();
    assert!(r.header("x-amz-version-id").is_some());
    assert_eq!(c.get_object(&b, "mp"), b"new bytes");
    let latest = put_version(&c, &b, "k", b"latest");
    // Without a versionId the latest version is copied, and named (the source keeps
    // versions); a copy from an unversioned bucket names none.
    let r = c
        .put(&obj_path(&b, "copy"))
        .header("x-amz-copy-source", &format!("/{b}/k"))
        .send()
        .ok();
    assert_eq!(
        r.header("x-amz-copy-source-version-id"),
        Some(latest.as_str())
    );
    let plain = unique_bucket("vcopy-plain");
    c.create_bucket(&plain);
    c.put_object(&plain, "p", b"plain");
    let r = c
        .put(&obj_path(&b, "from-plain"))
        .header("x-amz-copy-source", &format!("/{plain}/p"))
        .send()
        .ok();
    assert_eq!(r.header("x-amz-copy-source-version-id"), None);
}

/// `versionId` requests need AWS's `*Version` actions: a policy can deny them alone.
fn version_actions_are_decided_apart(s: &TestServer) {
    let c = s.raw();
    let b = versioned_bucket(&c, "vpolicy");
    let v1 = put_version(&c, &b, "k", b"one");
    put_version(&c, &b, "k", b"two");
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Effect":"Deny","Principal":"*","Action":["s3:DeleteObjectVersion","s3:GetObjectVersion"],"Resource":"arn:aws:s3:::{b}/*"}}]}}"#
    );
    c.put(&format!("/{b}"))
        .sub("policy")
        .body(policy)
        .send()
        .ok();
    c.get(&obj_path(&b, "k"))
        .query("versionId", &v1)
        .send()
        .assert_error(403, "AccessDenied");
    assert_eq!(c.get_object(&b, "k"), b"two");
    c.delete(&obj_path(&b, "k"))
        .query("versionId", &v1)
        .send()
        .assert_error(403, "AccessDenied");
    // A copy's source named by version needs s3:GetObjectVersion too.
    c.put(&obj_path(&b, "copy"))
        .header("x-amz-copy-source", &format!("/{b}/k?versionId={v1}"))
        .send()
        .assert_error(403, "AccessDenied");
    c.put(&obj_path(&b, "copy"))
        .header("x-amz-copy-source", &format!("/{b}/k"))
        .send()
        .ok();
    let r = c.delete(&obj_path(&b, "k")).send().status(204);
    assert_eq!(r.header("x-amz-delete-marker"), Some("true"));
    c.delete(&format!("/{b}")).sub("policy").send().ok();
    assert_eq!(get_version(&c, &b, "k", &v1), b"one");
}

crate::backend_tests! {
    bucket_versioning,
    versions_and_delete_markers_through_awscli,
    suspended_buckets_write_the_null_version,
    list_object_versions_pages_groups_and_encodes,
    delete_objects_names_versions,
    copies_tags_and_attributes_of_versions,
    version_actions_are_decided_apart,
}
