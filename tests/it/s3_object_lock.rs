//! Object Lock (issue 18): buckets created with lock, default and explicit retention, legal
//! holds, GOVERNANCE bypass, and the errors AWS answers, through awscli and the raw client.

use base64::Engine;

use crate::common::clients::Aws;
use crate::common::raw::{amz_date, obj_path};
use crate::common::{md5_bytes, now_secs, unique_bucket, write, xml_text, TestServer};

const LOCK_DENIED: &str = "AccessDenied";

fn content_md5(body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(md5_bytes(body))
}

/// An ISO 8601 date `secs` from now, as clients send it (`2013-05-24T00:00:00Z`).
fn in_secs(secs: i64) -> String {
    let basic = amz_date(now_secs() + secs);
    let (date, time) = basic.split_at(8);
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &date[..4],
        &date[4..6],
        &date[6..],
        &time[1..3],
        &time[3..5],
        &time[5..7]
    )
}

fn put_version(aws: &Aws, bucket: &str, key: &str, file: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "s3api",
        "put-object",
        "--bucket",
        bucket,
        "--key",
        key,
        "--body",
        file,
    ];
    args.extend_from_slice(extra);
    let out = aws.json(&args);
    out["VersionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no VersionId in {out}"))
        .to_string()
}

fn delete_version(
    aws: &Aws,
    bucket: &str,
    key: &str,
    id: &str,
    bypass: bool,
) -> Result<(), String> {
    let mut args = vec![
        "s3api",
        "delete-object",
        "--bucket",
        bucket,
        "--key",
        key,
        "--version-id",
        id,
    ];
    if bypass {
        args.push("--bypass-governance-retention");
    }
    let out = aws.command(&args).output().expect("aws runs");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A bucket created with lock: versioning on, default retention applied to new versions,
/// GOVERNANCE bypassed only on request, COMPLIANCE never, legal holds until removed; a
/// plain delete still only adds a marker.
fn aws_locked_versions_resist_deletion(s: &TestServer) {
    let aws = Aws::new(s);
    let b = unique_bucket("lock");
    aws.ok(&[
        "s3api",
        "create-bucket",
        "--bucket",
        &b,
        "--object-lock-enabled-for-bucket",
    ]);
    let versioning = aws.json(&["s3api", "get-bucket-versioning", "--bucket", &b]);
    assert_eq!(versioning["Status"], "Enabled");
    let config = aws.json(&["s3api", "get-object-lock-configuration", "--bucket", &b]);
    assert_eq!(
        config["ObjectLockConfiguration"]["ObjectLockEnabled"],
        "Enabled"
    );
    aws.ok(&[
        "s3api",
        "put-object-lock-configuration",
        "--bucket",
        &b,
        "--object-lock-configuration",
        r#"{"ObjectLockEnabled":"Enabled","Rule":{"DefaultRetention":{"Mode":"GOVERNANCE","Days":1}}}"#,
    ]);
    let config = aws.json(&["s3api", "get-object-lock-configuration", "--bucket", &b]);
    assert_eq!(
        config["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]["Days"],
        1
    );
    let file = s.scratch("lock").join("f");
    write(&file, b"precious");
    let file = file.to_str().unwrap();

    // Default retention: GOVERNANCE for a day.
    let governed = put_version(&aws, &b, "g", file, &[]);
    let head = aws.json(&["s3api", "head-object", "--bucket", &b, "--key", "g"]);
    assert_eq!(head["ObjectLockMode"], "GOVERNANCE", "{head}");
    assert!(head["ObjectLockRetainUntilDate"].is_string(), "{head}");
    let err = delete_version(&aws, &b, "g", &governed, false).unwrap_err();
    assert!(err.contains(LOCK_DENIED), "{err}");
    // A plain delete is allowed: it only hides the version behind a marker.
    aws.ok(&["s3api", "delete-object", "--bucket", &b, "--key", "g"]);
    let got = aws.json(&[
        "s3api",
        "get-object-retention",
        "--bucket",
        &b,
        "--key",
        "g",
        "--version-id",
        &governed,
    ]);
    assert_eq!(got["Retention"]["Mode"], "GOVERNANCE");
    // Shortening GOVERNANCE needs the bypass; with it the version can go.
    let sooner = in_secs(60);
    let shorten = [
        "s3api",
        "put-object-retention",
        "--bucket",
        &b,
        "--key",
        "g",
        "--version-id",
        &governed,
        "--retention",
        &format!(r#"{{"Mode":"GOVERNANCE","RetainUntilDate":"{sooner}"}}"#),
    ];
    let err = aws.fails(&shorten);
    assert!(err.contains(LOCK_DENIED), "{err}");
    let mut bypassed = shorten.to_vec();
    bypassed.push("--bypass-governance-retention");
    aws.ok(&bypassed);
    delete_version(&aws, &b, "g", &governed, true).expect("GOVERNANCE is bypassed on request");

    // COMPLIANCE: not even the bypass, and never shortened; lengthening is fine.
    let until = in_secs(3600);
    let complied = put_version(
        &aws,
        &b,
        "c",
        file,
        &[
            "--object-lock-mode",
            "COMPLIANCE",
            "--object-lock-retain-until-date",
            &until,
        ],
    );
    let err = delete_version(&aws, &b, "c", &complied, true).unwrap_err();
    assert!(err.contains(LOCK_DENIED), "{err}");
    let later = in_secs(7200);
    aws.ok(&[
        "s3api",
        "put-object-retention",
        "--bucket",
        &b,
        "--key",
        "c",
        "--version-id",
        &complied,
        "--retention",
        &format!(r#"{{"Mode":"COMPLIANCE","RetainUntilDate":"{later}"}}"#),
    ]);
    let err = aws.fails(&[
        "s3api",
        "put-object-retention",
        "--bucket",
        &b,
        "--key",
        "c",
        "--version-id",
        &complied,
        "--bypass-governance-retention",
        "--retention",
        &format!(r#"{{"Mode":"GOVERNANCE","RetainUntilDate":"{later}"}}"#),
    ]);
    assert!(err.contains(LOCK_DENIED), "{err}");

    // A legal hold blocks even a bypassed delete until it is lifted.
    let held = put_version(&aws, &b, "h", file, &[]);
    aws.ok(&[
        "s3api",
        "put-object-legal-hold",
        "--bucket",
        &b,
        "--key",
        "h",
        "--version-id",
        &held,
        "--legal-hold",
        "Status=ON",
    ]);
    let hold = aws.json(&[
        "s3api",
        "get-object-legal-hold",
        "--bucket",
        &b,
        "--key",
        "h",
    ]);
    assert_eq!(hold["LegalHold"]["Status"], "ON");
    let head = aws.json(&["s3api", "head-object", "--bucket", &b, "--key", "h"]);
    assert_eq!(head["ObjectLockLegalHoldStatus"], "ON", "{head}");
    let err = delete_version(&aws, &b, "h", &held, true).unwrap_err();
    assert!(err.contains(LOCK_DENIED), "{err}");
    aws.ok(&[
        "s3api",
        "put-object-legal-hold",
        "--bucket",
        &b,
        "--key",
        "h",
        "--version-id",
        &held,
        "--legal-hold",
        "Status=OFF",
    ]);
    let hold = aws.json(&[
        "s3api",
        "get-object-legal-hold",
        "--bucket",
        &b,
        "--key",
        "h",
    ]);
    assert_eq!(hold["LegalHold"]["Status"], "OFF");
    delete_version(&aws, &b, "h", &held, true).expect("hold lifted, GOVERNANCE bypassed");
    // The lock changes made no new versions.
    let versions = aws.json(&[
        "s3api",
        "list-object-versions",
        "--bucket",
        &b,
        "--prefix",
        "h",
    ]);
    assert!(versions.get("Versions").is_none(), "{versions}");

    // A lock bucket stays versioned.
    let err = aws.fails(&[
        "s3api",
        "put-bucket-versioning",
        "--bucket",
        &b,
        "--versioning-configuration",
        "Status=Suspended",
    ]);
    assert!(err.contains("InvalidBucketState"), "{err}");

    // An explicit policy Deny of the bypass holds, for the owner too.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:BypassGovernanceRetention","Resource":"arn:aws:s3:::{b}/*"}}]}}"#
    );
    aws.ok(&[
        "s3api",
        "put-bucket-policy",
        "--bucket",
        &b,
        "--policy",
        &policy,
    ]);
    let denied = put_version(&aws, &b, "d", file, &[]);
    let err = delete_version(&aws, &b, "d", &denied, true).unwrap_err();
    assert!(err.contains(LOCK_DENIED), "{err}");
}

/// The errors around lock, as AWS answers them, and Content-MD5 checked on XML bodies.
fn raw_object_lock_errors(s: &TestServer) {
    let raw = s.raw();
    let plain = unique_bucket("nolock");
    raw.create_bucket(&plain);
    let until = in_secs(3600);
    raw.put(&obj_path(&plain, "k"))
        .header("x-amz-object-lock-mode", "GOVERNANCE")
        .header("x-amz-object-lock-retain-until-date", &until)
        .header("content-md5", &content_md5(b"x"))
        .body(b"x".to_vec())
        .send()
        .assert_error(400, "InvalidRequest");
    raw.get(&format!("/{plain}"))
        .sub("object-lock")
        .send()
        .assert_error(404, "ObjectLockConfigurationNotFoundError");
    let config = br#"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>"#;
    let put_config = |bucket: &str, md5: Option<&str>| {
        let mut req = raw.put(&format!("/{bucket}")).sub("object-lock");
        if let Some(md5) = md5 {
            req = req.header("content-md5", md5);
        }
        req.body(config.to_vec()).send()
    };
    put_config(&plain, Some(&content_md5(config))).assert_error(409, "InvalidBucketState");
    put_config(&plain, None).assert_error(400, "InvalidRequest");
    put_config(&plain, Some(&content_md5(b"other"))).assert_error(400, "BadDigest");

    let locked = unique_bucket("lockraw");
    raw.put(&format!("/{locked}"))
        .header("x-amz-bucket-object-lock-enabled", "true")
        .send()
        .ok();
    let put = |key: &str, headers: &[(&str, &str)], md5: bool| {
        let mut req = raw.put(&obj_path(&locked, key));
        for (name, value) in headers {
            req = req.header(name, value);
        }
        if md5 {
            req = req.header("content-md5", &content_md5(b"data"));
        }
        req.body(b"data".to_vec()).send()
    };
    let both = [
        ("x-amz-object-lock-mode", "COMPLIANCE"),
        ("x-amz-object-lock-retain-until-date", until.as_str()),
    ];
    put("no-digest", &both, false).assert_error(400, "InvalidRequest");
    put("half", &both[..1], true).assert_error(400, "InvalidArgument");
    let past = in_secs(-3600);
    let in_past = [
        ("x-amz-object-lock-mode", "COMPLIANCE"),
        ("x-amz-object-lock-retain-until-date", past.as_str()),
    ];
    put("past", &in_past, true).assert_error(400, "InvalidArgument");
    let r = put("ok", &both, true).ok();
    let version = r
        .header("x-amz-version-id")
        .expect("a version id")
        .to_string();
    let head = raw.head(&obj_path(&locked, "ok")).send().ok();
    assert_eq!(head.header("x-amz-object-lock-mode"), Some("COMPLIANCE"));
    let r = raw
        .delete(&obj_path(&locked, "ok"))
        .query("versionId", &version)
        .header("x-amz-bypass-governance-retention", "true")
        .send();
    r.assert_error(403, LOCK_DENIED);
    // No default retention in this bucket: a plain write has no lock to show.
    put("free", &[], false).ok();
    raw.get(&obj_path(&locked, "free"))
        .sub("retention")
        .send()
        .assert_error(404, "NoSuchObjectLockConfiguration");
    let listing = raw
        .get(&format!("/{locked}"))
        .sub("object-lock")
        .send()
        .ok()
        .text();
    assert_eq!(
        xml_text(&listing, "ObjectLockEnabled").as_deref(),
        Some("Enabled")
    );
}

/// A lock set on a multipart upload reaches the object; a copy never takes its source's
/// lock; DeleteObjects refuses a locked version in its answer and deletes the rest.
fn aws_locks_through_uploads_copies_and_batch_deletes(s: &TestServer) {
    let aws = Aws::new(s);
    let (b, plain) = (unique_bucket("lockmpu"), unique_bucket("lockcopy"));
    aws.ok(&[
        "s3api",
        "create-bucket",
        "--bucket",
        &b,
        "--object-lock-enabled-for-bucket",
    ]);
    aws.ok(&["s3api", "create-bucket", "--bucket", &plain]);
    let until = in_secs(3600);
    let upload = aws.json(&[
        "s3api",
        "create-multipart-upload",
        "--bucket",
        &b,
        "--key",
        "m",
        "--object-lock-mode",
        "GOVERNANCE",
        "--object-lock-retain-until-date",
        &until,
    ]);
    let upload_id = upload["UploadId"].as_str().unwrap().to_string();
    let part = s.scratch("lockmpu").join("part");
    write(&part, b"part one");
    let etag = aws.json(&[
        "s3api",
        "upload-part",
        "--bucket",
        &b,
        "--key",
        "m",
        "--upload-id",
        &upload_id,
        "--part-number",
        "1",
        "--body",
        part.to_str().unwrap(),
    ])["ETag"]
        .as_str()
        .unwrap()
        .to_string();
    let done = aws.json(&[
        "s3api",
        "complete-multipart-upload",
        "--bucket",
        &b,
        "--key",
        "m",
        "--upload-id",
        &upload_id,
        "--multipart-upload",
        &format!(r#"{{"Parts":[{{"PartNumber":1,"ETag":{etag:?}}}]}}"#),
    ]);
    let version = done["VersionId"].as_str().unwrap().to_string();
    let head = aws.json(&["s3api", "head-object", "--bucket", &b, "--key", "m"]);
    assert_eq!(head["ObjectLockMode"], "GOVERNANCE", "{head}");

    aws.ok(&[
        "s3api",
        "copy-object",
        "--bucket",
        &plain,
        "--key",
        "copy",
        "--copy-source",
        &format!("{b}/m"),
    ]);
    let head = aws.json(&["s3api", "head-object", "--bucket", &plain, "--key", "copy"]);
    assert!(head.get("ObjectLockMode").is_none(), "{head}");

    let free = put_version(&aws, &b, "free", part.to_str().unwrap(), &[]);
    let batch = format!(
        r#"{{"Objects":[{{"Key":"m","VersionId":"{version}"}},{{"Key":"free","VersionId":"{free}"}}]}}"#
    );
    let out = aws.json(&[
        "s3api",
        "delete-objects",
        "--bucket",
        &b,
        "--delete",
        &batch,
    ]);
    assert_eq!(out["Errors"][0]["Key"], "m", "{out}");
    assert_eq!(out["Errors"][0]["Code"], LOCK_DENIED, "{out}");
    assert_eq!(out["Deleted"][0]["Key"], "free", "{out}");
    assert_eq!(out["Deleted"].as_array().map(Vec::len), Some(1), "{out}");
}

/// A multipart upload's version is created when it completes: a default retention runs
/// from then, not from CreateMultipartUpload.
fn raw_default_retention_of_an_upload_runs_from_its_completion(s: &TestServer) {
    let c = s.raw();
    let b = unique_bucket("lockdefault");
    c.put(&format!("/{b}"))
        .header("x-amz-bucket-object-lock-enabled", "true")
        .send()
        .ok();
    let config = b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>\
        <Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days></DefaultRetention></Rule>\
        </ObjectLockConfiguration>";
    c.put(&format!("/{b}"))
        .sub("object-lock")
        .header("Content-MD5", &content_md5(config))
        .body(config.to_vec())
        .send()
        .ok();
    let path = obj_path(&b, "m");
    let created = c.post(&path).sub("uploads").send().ok().text();
    let upload_id = xml_text(&created, "UploadId").expect("UploadId");
    let etag = c
        .put(&path)
        .query("partNumber", "1")
        .query("uploadId", &upload_id)
        .body(b"part".to_vec())
        .send()
        .ok()
        .header("etag")
        .expect("part ETag")
        .to_string();
    // Two seconds between the upload's creation and its completion (the retention date
    // has seconds), so a date counted from the creation falls short of the one expected.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let earliest = in_secs(86_400);
    let complete = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part>\
         </CompleteMultipartUpload>"
    );
    c.post(&path)
        .query("uploadId", &upload_id)
        .body(complete)
        .send()
        .ok();
    let retention = c.get(&path).sub("retention").send().ok().text();
    let until = xml_text(&retention, "RetainUntilDate").expect("RetainUntilDate");
    assert_eq!(xml_text(&retention, "Mode").as_deref(), Some("GOVERNANCE"));
    assert!(
        until.get(..19) >= earliest.get(..19),
        "retained until {until}, expected {earliest} or later"
    );
}

crate::backend_tests!(
    aws_locked_versions_resist_deletion,
    raw_object_lock_errors,
    aws_locks_through_uploads_copies_and_batch_deletes,
    raw_default_retention_of_an_upload_runs_from_its_completion
);
