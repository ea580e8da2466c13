//! Bucket lifecycle (issue 18): the configuration as AWS validates it, `x-amz-expiration`,
//! and the worker expiring objects and aborting uploads, with a two-second "day" so it runs
//! in seconds.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use base64::Engine;

use crate::common::clients::Aws;
use crate::common::raw::{http_date, obj_path, RawClient};
use crate::common::{
    md5_bytes, now_secs, unique_bucket, wait_for, write, xml_text, xml_texts, Backend, ServerOpts,
    TestServer,
};
use crate::s3_versioning::{put_version, versioned_bucket};

/// How long the worker may take to act: it runs every second and objects are due in 2-4 s, but
/// on a real cluster a pass reads the documents of every volume, other tests' too.
const PATIENCE: Duration = Duration::from_secs(120);

fn content_md5(body: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(md5_bytes(body.as_bytes()))
}

pub fn put_lifecycle(c: &RawClient, bucket: &str, rules: &str) -> crate::common::raw::Response {
    let body = format!("<LifecycleConfiguration>{rules}</LifecycleConfiguration>");
    c.put(&format!("/{bucket}"))
        .sub("lifecycle")
        .header("Content-MD5", &content_md5(&body))
        .body(body)
        .send()
}

pub fn expire_rule(id: &str, filter: &str, days: u32) -> String {
    format!(
        "<Rule><ID>{id}</ID>{filter}<Status>Enabled</Status><Expiration><Days>{days}</Days></Expiration></Rule>"
    )
}

fn aws_lifecycle_round_trip(s: &TestServer) {
    let aws = Aws::new(s);
    let c = s.raw();
    let b = unique_bucket("lc-trip");
    c.create_bucket(&b);
    let bucket = format!("/{b}");
    c.get(&bucket)
        .sub("lifecycle")
        .send()
        .assert_error(404, "NoSuchLifecycleConfiguration");
    let f = s.scratch("lc-trip").join("lifecycle.json");
    write(
        &f,
        br#"{"Rules": [
            {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled",
             "Expiration": {"Days": 30},
             "Transitions": [{"Days": 60, "StorageClass": "GLACIER"}],
             "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
            {"ID": "tagged", "Filter": {"And": {"Prefix": "t/", "Tags": [{"Key": "k", "Value": "v"}],
             "ObjectSizeGreaterThan": 10}}, "Status": "Disabled",
             "NoncurrentVersionExpiration": {"NoncurrentDays": 3, "NewerNoncurrentVersions": 2}}
        ]}"#,
    );
    let config = format!("file://{}", f.display());
    aws.ok(&[
        "s3api",
        "put-bucket-lifecycle-configuration",
        "--bucket",
        &b,
        "--lifecycle-configuration",
        &config,
    ]);
    let got = aws.json(&[
        "s3api",
        "get-bucket-lifecycle-configuration",
        "--bucket",
        &b,
    ]);
    let rules = got["Rules"].as_array().expect("Rules");
    assert_eq!(rules.len(), 2, "{got}");
    assert_eq!(rules[0]["ID"], "logs");
    assert_eq!(rules[0]["Filter"]["Prefix"], "logs/");
    assert_eq!(rules[0]["Expiration"]["Days"], 30);
    assert_eq!(rules[0]["Transitions"][0]["StorageClass"], "GLACIER");
    assert_eq!(
        rules[0]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"],
        7
    );
    assert_eq!(rules[1]["Status"], "Disabled");
    assert_eq!(rules[1]["Filter"]["And"]["Tags"][0]["Key"], "k");
    assert_eq!(rules[1]["Filter"]["And"]["ObjectSizeGreaterThan"], 10);
    assert_eq!(
        rules[1]["NoncurrentVersionExpiration"]["NewerNoncurrentVersions"],
        2
    );
    // A rule without an ID gets one.
    put_lifecycle(&c, &b, &expire_rule("", "<Filter/>", 1)).ok();
    let text = c.get(&bucket).sub("lifecycle").send().ok().text();
    let ids = xml_texts(&text, "ID");
    assert!(ids.len() == 1 && !ids[0].is_empty(), "{text}");

    aws.ok(&["s3api", "delete-bucket-lifecycle", "--bucket", &b]);
    c.get(&bucket)
        .sub("lifecycle")
        .send()
        .assert_error(404, "NoSuchLifecycleConfiguration");
    c.delete(&bucket).sub("lifecycle").send().status(204);
    c.get(&format!("/{}", unique_bucket("lc-none")))
        .sub("lifecycle")
        .send()
        .assert_error(404, "NoSuchBucket");
}

fn raw_lifecycle_validation(s: &TestServer) {
    let c = s.raw();
    let b = unique_bucket("lc-valid");
    c.create_bucket(&b);
    let bucket = format!("/{b}");
    let good = format!(
        "<LifecycleConfiguration>{}</LifecycleConfiguration>",
        expire_rule("r", "<Filter/>", 1)
    );
    // Integrity is required: Content-MD5 (checked) or a flexible checksum.
    c.put(&bucket)
        .sub("lifecycle")
        .body(good.clone())
        .send()
        .assert_error(400, "InvalidRequest");
    c.put(&bucket)
        .sub("lifecycle")
        .header("Content-MD5", &content_md5("other"))
        .body(good.clone())
        .send()
        .assert_error(400, "BadDigest");
    let crc = crate::common::raw::crc32(good.as_bytes()).to_be_bytes();
    c.put(&bucket)
        .sub("lifecycle")
        .header(
            "x-amz-checksum-crc32",
            &base64::engine::general_purpose::STANDARD.encode(crc),
        )
        .body(good.clone())
        .send()
        .ok();

    let filter = "<Filter/>";
    let action = "<Expiration><Days>1</Days></Expiration>";
    let rule = |body: &str| format!("<Rule><ID>r</ID>{body}</Rule>");
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "MalformedXML"),
        (rule(&format!("{filter}<Status>Enabled</Status>")), "InvalidRequest"),
        (rule(&format!("{filter}<Status>enabled</Status>{action}")), "MalformedXML"),
        (rule(&format!("<Status>Enabled</Status>{action}")), "MalformedXML"),
        (
            rule(&format!("{filter}<Prefix>a</Prefix><Status>Enabled</Status>{action}")),
            "MalformedXML",
        ),
        (
            rule(&format!(
                "{filter}<Status>Enabled</Status><Expiration><Days>0</Days></Expiration>"
            )),
            "InvalidArgument",
        ),
        (
            rule(&format!(
                "{filter}<Status>Enabled</Status><Expiration><Date>2030-01-01T12:00:00Z</Date></Expiration>"
            )),
            "InvalidArgument",
        ),
        (
            rule(
                "<Filter><Tag><Key>a</Key><Value>b</Value></Tag></Filter><Status>Enabled</Status>\
                 <Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>",
            ),
            "InvalidArgument",
        ),
        (
            rule(
                "<Filter><Tag><Key>a</Key><Value>b</Value></Tag></Filter><Status>Enabled</Status>\
                 <AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>",
            ),
            "InvalidRequest",
        ),
        (
            rule(
                "<Filter><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan></Filter><Status>Enabled</Status>\
                 <AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>",
            ),
            "InvalidRequest",
        ),
        (
            rule(&format!(
                "{filter}<Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>0</NoncurrentDays></NoncurrentVersionExpiration>"
            )),
            "InvalidArgument",
        ),
        (
            rule(
                "<Filter><And><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>a</Key><Value>2</Value></Tag></And></Filter>\
                 <Status>Enabled</Status><Expiration><Days>1</Days></Expiration>",
            ),
            "InvalidRequest",
        ),
        (
            expire_rule("same", filter, 1) + &expire_rule("same", filter, 2),
            "InvalidArgument",
        ),
        (expire_rule(&"i".repeat(256), filter, 1), "InvalidArgument"),
        (
            rule(
                "<Filter><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></Filter><Status>Enabled</Status>\
                 <Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>",
            ),
            "MalformedXML",
        ),
        (
            (0..1001)
                .map(|i| expire_rule(&format!("r{i}"), filter, 1))
                .collect::<String>(),
            "InvalidArgument",
        ),
        // 1000 rules of unique IDs: valid, but over what one bucket document holds.
        (
            (0..1000)
                .map(|i| expire_rule(&format!("r{i}"), filter, 1))
                .collect::<String>(),
            "InvalidRequest",
        ),
    ];
    for (rules, code) in &cases {
        let r = put_lifecycle(&c, &b, rules);
        r.assert_error(400, code);
    }
    // Refusals left the configuration as it was.
    let text = c.get(&bucket).sub("lifecycle").send().ok().text();
    assert_eq!(xml_texts(&text, "ID"), vec!["r"], "{text}");
    // 300 rules fit, and read back whole.
    let many: String = (0..300)
        .map(|i| expire_rule(&format!("rule-{i}"), filter, 1))
        .collect();
    put_lifecycle(&c, &b, &many).ok();
    let text = c.get(&bucket).sub("lifecycle").send().ok().text();
    assert_eq!(xml_texts(&text, "ID").len(), 300);
}

fn raw_expiration_header(s: &TestServer) {
    let c = s.raw();
    let b = unique_bucket("lc-header");
    c.create_bucket(&b);
    put_lifecycle(
        &c,
        &b,
        &(expire_rule("logs-rule", "<Filter><Prefix>logs/</Prefix></Filter>", 3)
            + &expire_rule("later", "<Filter/>", 10)),
    )
    .ok();
    let before = now_secs();
    let put = c.put_object(&b, "logs/a", b"data");
    let after = now_secs();
    // Last-modified + 3 days, rounded up to the next midnight UTC.
    let expected = |t: i64| {
        format!(
            "expiry-date=\"{}\", rule-id=\"logs-rule\"",
            http_date(((t + 3 * 86_400) / 86_400 + 1) * 86_400)
        )
    };
    let allowed = [expected(before), expected(after)];
    let header = |r: &crate::common::raw::Response| {
        r.header("x-amz-expiration")
            .map(str::to_string)
            .unwrap_or_default()
    };
    assert!(allowed.contains(&header(&put)), "PUT: {}", header(&put));
    let got = c.get(&obj_path(&b, "logs/a")).send().ok();
    assert!(allowed.contains(&header(&got)), "GET: {}", header(&got));
    let head = c.head(&obj_path(&b, "logs/a")).send().ok();
    assert!(allowed.contains(&header(&head)), "HEAD: {}", header(&head));
    // CopyObject and CompleteMultipartUpload answer it too.
    let copy = c
        .put(&obj_path(&b, "logs/copy"))
        .header("x-amz-copy-source", &format!("/{b}/logs/a"))
        .send()
        .ok();
    assert!(
        header(&copy).ends_with("rule-id=\"logs-rule\""),
        "copy: {}",
        header(&copy)
    );
    let created = c
        .post(&obj_path(&b, "logs/mp"))
        .sub("uploads")
        .send()
        .ok()
        .text();
    let id = xml_text(&created, "UploadId").expect("UploadId");
    let part = c
        .put(&obj_path(&b, "logs/mp"))
        .query("partNumber", "1")
        .query("uploadId", &id)
        .body(b"part".to_vec())
        .send()
        .ok();
    let etag = part.header("etag").expect("part ETag").to_string();
    let done = c
        .post(&obj_path(&b, "logs/mp"))
        .query("uploadId", &id)
        .body(format!(
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
        ))
        .send()
        .ok();
    assert!(
        header(&done).ends_with("rule-id=\"logs-rule\""),
        "complete: {}",
        header(&done)
    );
    // Elsewhere the later rule applies; with the configuration gone, no rule does.
    c.put_object(&b, "other", b"data");
    let other = header(&c.head(&obj_path(&b, "other")).send().ok());
    assert!(other.ends_with("rule-id=\"later\""), "{other}");
    c.delete(&format!("/{b}"))
        .sub("lifecycle")
        .send()
        .status(204);
    let none = c.head(&obj_path(&b, "logs/a")).send().ok();
    assert_eq!(none.header("x-amz-expiration"), None);
}

crate::backend_tests! {
    aws_lifecycle_round_trip,
    raw_lifecycle_validation,
    raw_expiration_header,
}

// ------------------------------------------------------------------------------------------
// The worker, on servers of their own with a two-second day and a pass every second.

/// `libres3.conf` lines of a server whose lifecycle worker acts within seconds.
pub const FAST_LIFECYCLE: &str =
    "lifecycle_interval = 1\nlifecycle_day_seconds = 2\nadmin_listen = 127.0.0.1:0\n";

pub fn fast_server(backend: Backend) -> TestServer {
    TestServer::start_with(ServerOpts {
        backend,
        settings: FAST_LIFECYCLE.into(),
        ..ServerOpts::default()
    })
}

/// The admin endpoint's address, from the line the server prints (after its S3 listeners).
pub fn admin_addr(s: &TestServer) -> SocketAddr {
    wait_for("the admin endpoint's address", PATIENCE, || {
        s.stdout()
            .iter()
            .find_map(|l| l.strip_prefix("libres3: admin endpoint on http://"))
            .and_then(|a| a.trim().parse().ok())
    })
}

/// The value of a counter in /metrics.
pub fn metric(admin: SocketAddr, name: &str) -> u64 {
    let mut stream = TcpStream::connect(admin).expect("connect to the admin endpoint");
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {admin}\r\nConnection: close\r\n\r\n"
    )
    .expect("send /metrics");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("read /metrics");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("/metrics has no {name}:\n{text}"))
}

fn put_tagged(c: &RawClient, bucket: &str, key: &str, data: &[u8], tags: &str) {
    c.put(&obj_path(bucket, key))
        .header("x-amz-tagging", tags)
        .body(data.to_vec())
        .send()
        .ok();
}

fn worker_expires_due_objects(s: &TestServer) {
    let c = s.raw();
    let admin = admin_addr(s);
    let b = unique_bucket("lc-worker");
    c.create_bucket(&b);
    let small = b"small".to_vec();
    let large = vec![7u8; 100];
    c.put_object(&b, "logs/a", &small);
    c.put_object(&b, "logs/b", &large);
    c.put_object(&b, "keep/a", &small);
    put_tagged(&c, &b, "tagged/gone", &small, "tmp=yes");
    put_tagged(&c, &b, "tagged/kept", &small, "tmp=no");
    c.put_object(&b, "sized/large", &large);
    c.put_object(&b, "sized/small", &small);
    let rules = expire_rule("logs", "<Filter><Prefix>logs/</Prefix></Filter>", 1)
        + &expire_rule(
            "tmp",
            "<Filter><Tag><Key>tmp</Key><Value>yes</Value></Tag></Filter>",
            1,
        )
        + &expire_rule(
            "large",
            "<Filter><And><Prefix>sized/</Prefix><ObjectSizeGreaterThan>50</ObjectSizeGreaterThan></And></Filter>",
            1,
        )
        + "<Rule><ID>off</ID><Filter><Prefix>keep/</Prefix></Filter><Status>Disabled</Status>\
           <Expiration><Days>1</Days></Expiration></Rule>";
    put_lifecycle(&c, &b, &rules).ok();
    let expected = vec!["keep/a", "sized/small", "tagged/kept"];
    wait_for("the due objects to expire", PATIENCE, || {
        (c.list_keys(&b, "") == expected).then_some(())
    });
    // An object leaves the listing a moment before its delete returns and is counted.
    wait_for("the expirations to be counted", PATIENCE, || {
        (metric(admin, "libres3_lifecycle_expired_objects_total") >= 4).then_some(())
    });
    // A later pass leaves the others alone.
    let passes = metric(admin, "libres3_lifecycle_passes_total");
    wait_for("two more passes", PATIENCE, || {
        (metric(admin, "libres3_lifecycle_passes_total") >= passes + 2).then_some(())
    });
    assert_eq!(c.list_keys(&b, ""), expected);
    assert_eq!(metric(admin, "libres3_lifecycle_errors_total"), 0);
    assert!(
        s.stderr()
            .iter()
            .any(|l| l.contains(&format!("lifecycle: bucket {b}: ")) && l.contains(" expired")),
        "no pass line for {b}"
    );
}

fn worker_aborts_old_uploads(s: &TestServer) {
    let c = s.raw();
    let admin = admin_addr(s);
    let b = unique_bucket("lc-uploads");
    c.create_bucket(&b);
    let create = |key: &str| {
        let text = c.post(&obj_path(&b, key)).sub("uploads").send().ok().text();
        xml_text(&text, "UploadId").expect("UploadId")
    };
    create("tmp/a");
    let kept = create("data/b");
    put_lifecycle(
        &c,
        &b,
        "<Rule><ID>abort</ID><Filter><Prefix>tmp/</Prefix></Filter><Status>Enabled</Status>\
         <AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>",
    )
    .ok();
    let uploads = || {
        let text = c.get(&format!("/{b}")).sub("uploads").send().ok().text();
        xml_texts(&text, "UploadId")
    };
    wait_for("the old upload to be aborted", PATIENCE, || {
        (uploads() == vec![kept.clone()]).then_some(())
    });
    // The upload leaves the listing a moment before the abort returns and is counted.
    wait_for("the abort to be counted", PATIENCE, || {
        (metric(admin, "libres3_lifecycle_aborted_uploads_total") >= 1).then_some(())
    });
}

macro_rules! worker_tests {
    ($($name:ident),+ $(,)?) => {
        mod worker_embedded {
            $(
                #[test]
                fn $name() {
                    super::$name(&super::fast_server($crate::common::Backend::Embedded))
                }
            )+
        }
        mod worker_sx {
            $(
                #[test]
                fn $name() {
                    super::$name(&super::fast_server($crate::common::Backend::Sx))
                }
            )+
        }
    };
}

worker_tests! {
    worker_expires_due_objects,
    worker_aborts_old_uploads,
    worker_expires_noncurrent_versions_and_lone_markers,
    worker_keeps_locked_versions,
}

/// The version ids (delete markers too) of keys under `prefix`, in listing order.
fn version_ids(c: &RawClient, bucket: &str, prefix: &str) -> Vec<String> {
    let text = c
        .get(&format!("/{bucket}"))
        .sub("versions")
        .query("prefix", prefix)
        .send()
        .ok()
        .text();
    xml_texts(&text, "VersionId")
}

/// NoncurrentVersionExpiration keeps the newest noncurrent versions it is told to, and a
/// delete marker left alone goes under ExpiredObjectDeleteMarker.
fn worker_expires_noncurrent_versions_and_lone_markers(s: &TestServer) {
    let c = s.raw();
    let admin = admin_addr(s);
    let b = versioned_bucket(&c, "lc-noncurrent");
    let n: Vec<String> = (1..=3)
        .map(|i| put_version(&c, &b, "n/a", format!("v{i}").as_bytes()))
        .collect();
    let keep: Vec<String> = (1..=2)
        .map(|i| put_version(&c, &b, "keep/a", format!("v{i}").as_bytes()))
        .collect();
    put_version(&c, &b, "m/x", b"gone");
    c.delete(&obj_path(&b, "m/x")).send().ok();
    put_lifecycle(
        &c,
        &b,
        "<Rule><ID>n</ID><Filter><Prefix>n/</Prefix></Filter><Status>Enabled</Status>\
         <NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays>\
         <NewerNoncurrentVersions>1</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule>\
         <Rule><ID>m</ID><Filter><Prefix>m/</Prefix></Filter><Status>Enabled</Status>\
         <NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration></Rule>\
         <Rule><ID>markers</ID><Filter><Prefix>m/</Prefix></Filter><Status>Enabled</Status>\
         <Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>",
    )
    .ok();
    wait_for("the oldest version of n/a to expire", PATIENCE, || {
        (version_ids(&c, &b, "n/") == vec![n[2].clone(), n[1].clone()]).then_some(())
    });
    wait_for("m/x's version and then its marker to go", PATIENCE, || {
        version_ids(&c, &b, "m/").is_empty().then_some(())
    });
    wait_for("the removals to be counted", PATIENCE, || {
        (metric(admin, "libres3_lifecycle_expired_noncurrent_versions_total") >= 2
            && metric(admin, "libres3_lifecycle_removed_delete_markers_total") >= 1)
            .then_some(())
    });
    let mut newest_first = keep.clone();
    newest_first.reverse();
    assert_eq!(version_ids(&c, &b, "keep/"), newest_first);
    // n/a's one noncurrent version stays however often the worker passes.
    let passes = metric(admin, "libres3_lifecycle_passes_total");
    wait_for("two more passes", PATIENCE, || {
        (metric(admin, "libres3_lifecycle_passes_total") >= passes + 2).then_some(())
    });
    assert_eq!(version_ids(&c, &b, "n/"), vec![n[2].clone(), n[1].clone()]);
    assert_eq!(c.get(&obj_path(&b, "n/a")).send().ok().text(), "v3");
    assert_eq!(metric(admin, "libres3_lifecycle_errors_total"), 0);
}

/// A noncurrent version under a legal hold outlives its rule until the hold is lifted.
fn worker_keeps_locked_versions(s: &TestServer) {
    let c = s.raw();
    let admin = admin_addr(s);
    let b = unique_bucket("lc-locked");
    c.put(&format!("/{b}"))
        .header("x-amz-bucket-object-lock-enabled", "true")
        .send()
        .ok();
    let held = c
        .put(&obj_path(&b, "k"))
        .header("x-amz-object-lock-legal-hold", "ON")
        .header("Content-MD5", &content_md5("held"))
        .body(b"held".to_vec())
        .send()
        .ok();
    let held = held
        .header("x-amz-version-id")
        .expect("version id")
        .to_string();
    let current = put_version(&c, &b, "k", b"current");
    put_lifecycle(
        &c,
        &b,
        "<Rule><ID>n</ID><Filter/><Status>Enabled</Status>\
         <NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration></Rule>",
    )
    .ok();
    wait_for(
        "the held version to be judged due and kept",
        PATIENCE,
        || (metric(admin, "libres3_lifecycle_locked_versions_total") >= 2).then_some(()),
    );
    assert_eq!(version_ids(&c, &b, ""), vec![current.clone(), held.clone()]);
    let off = "<LegalHold><Status>OFF</Status></LegalHold>";
    c.put(&obj_path(&b, "k"))
        .sub("legal-hold")
        .query("versionId", &held)
        .header("Content-MD5", &content_md5(off))
        .body(off)
        .send()
        .ok();
    wait_for("the released version to expire", PATIENCE, || {
        (version_ids(&c, &b, "") == vec![current.clone()]).then_some(())
    });
    assert_eq!(metric(admin, "libres3_lifecycle_errors_total"), 0);
}

/// Expiration in a versioned bucket adds a delete marker and keeps the version (AWS).
fn worker_marks_versioned_objects_deleted(s: &TestServer) {
    let c = s.raw();
    let b = versioned_bucket(&c, "lc-versioned");
    c.put_object(&b, "logs/a", b"data");
    put_lifecycle(
        &c,
        &b,
        &expire_rule("logs", "<Filter><Prefix>logs/</Prefix></Filter>", 1),
    )
    .ok();
    wait_for("the current version to expire", PATIENCE, || {
        c.list_keys(&b, "").is_empty().then_some(())
    });
    let versions = c.get(&format!("/{b}")).sub("versions").send().ok().text();
    assert_eq!(xml_texts(&versions, "Key").len(), 2, "{versions}");
    assert!(versions.contains("<DeleteMarker>"), "{versions}");
    assert!(versions.contains("<Version>"), "{versions}");
}

mod worker_versioned {
    #[test]
    fn embedded() {
        super::worker_marks_versioned_objects_deleted(&super::fast_server(
            crate::common::Backend::Embedded,
        ))
    }

    #[test]
    fn sx() {
        super::worker_marks_versioned_objects_deleted(&super::fast_server(
            crate::common::Backend::Sx,
        ))
    }
}
