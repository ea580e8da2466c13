//! POST Object (browser form upload): boto3's presigned POST (SigV4) sent by curl, a SigV2
//! form, a real HTML form submitted by headless Chromium, and write options as form fields.

use base64::Engine as _;

use crate::common::clients::{boto3, presigned_posts, FormFields};
use crate::common::raw::{crc32, obj_path, Auth};
use crate::common::{md5_bytes, unique_bucket, TestServer};

const PRESIGNED_POST: &str = r#"
import json, os, subprocess, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"])
bucket = os.environ["S3_BUCKET"]
work = os.environ["WORK_DIR"]
post = s3.generate_presigned_post(bucket, "up/${filename}",
    Fields={"acl": "public-read", "success_action_status": "201", "Content-Type": "text/plain"},
    Conditions=[{"acl": "public-read"}, {"success_action_status": "201"},
                ["starts-with", "$Content-Type", "text/"], ["content-length-range", 1, 100]],
    ExpiresIn=600)
def send(fields, path, name):
    args = ["curl", "-s", "-o", os.path.join(work, "body"), "-w", "%{http_code}"]
    for k, v in fields.items():
        args += ["-F", f"{k}={v}"]
    args += ["-F", f"file=@{path};filename={name}", post["url"]]
    status = subprocess.run(args, capture_output=True, text=True).stdout
    return int(status), open(os.path.join(work, "body")).read()
small = os.path.join(work, "small"); open(small, "w").write("hello post\n")
big = os.path.join(work, "big"); open(big, "w").write("x" * 101)
ok = send(post["fields"], small, "a.txt")
too_big = send(post["fields"], big, "b.txt")
tampered = send(dict(post["fields"], acl="private"), small, "c.txt")
head = s3.head_object(Bucket=bucket, Key="up/a.txt")
print(json.dumps({"ok": ok, "too_big": too_big, "tampered": tampered,
                  "type": head["ContentType"], "size": head["ContentLength"]}))
"#;

fn boto3_presigned_post_with_curl(s: &TestServer) {
    let b = unique_bucket("post");
    s.raw().create_bucket(&b);
    let out = boto3(s, PRESIGNED_POST, &b, &[]);
    assert_eq!(out["ok"][0], 201, "{out}");
    assert!(
        out["ok"][1]
            .as_str()
            .unwrap()
            .contains("<Key>up/a.txt</Key>"),
        "{out}"
    );
    assert_eq!(out["too_big"][0], 400, "{out}");
    assert!(
        out["too_big"][1]
            .as_str()
            .unwrap()
            .contains("EntityTooLarge"),
        "{out}"
    );
    assert_eq!(out["tampered"][0], 403, "{out}");
    assert_eq!(out["type"], "text/plain");
    assert_eq!(out["size"], 11);
    // acl=public-read from the form applies.
    let r = s
        .raw()
        .get(&obj_path(&b, "up/a.txt"))
        .auth(Auth::Anonymous)
        .send()
        .ok();
    assert_eq!(r.body, b"hello post\n");
}

const SIGV2_POST: &str = r#"
import base64, hmac, hashlib, json, os, subprocess
bucket = os.environ["S3_BUCKET"]
work = os.environ["WORK_DIR"]
policy = base64.b64encode(json.dumps({"expiration": "2099-01-01T00:00:00Z", "conditions": [
    {"bucket": bucket}, ["starts-with", "$key", "v2/"],
    {"success_action_redirect": "http://example.com/done"}]}).encode()).decode()
def send(secret):
    sig = base64.b64encode(hmac.new(secret.encode(), policy.encode(), hashlib.sha1).digest()).decode()
    path = os.path.join(work, "f"); open(path, "w").write("v2 body")
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
        "-F", "key=v2/${filename}", "-F", "AWSAccessKeyId=" + os.environ["AWS_ACCESS_KEY_ID"],
        "-F", "policy=" + policy, "-F", "signature=" + sig,
        "-F", "success_action_redirect=http://example.com/done",
        "-F", f"file=@{path};filename=two.txt", os.environ["S3_ENDPOINT"] + "/" + bucket],
        capture_output=True, text=True).stdout
    return out
print(json.dumps({"good": send(os.environ["AWS_SECRET_ACCESS_KEY"]), "bad": send("wrong")}))
"#;

fn sigv2_post_form_redirects(s: &TestServer) {
    let b = unique_bucket("post-v2");
    s.raw().create_bucket(&b);
    let out = boto3(s, SIGV2_POST, &b, &[]);
    let good = out["good"].as_str().unwrap();
    assert!(
        good.starts_with("303 http://example.com/done?bucket="),
        "{out}"
    );
    assert!(good.contains("key=v2%2Ftwo.txt"), "{out}");
    assert!(out["bad"].as_str().unwrap().starts_with("403"), "{out}");
    assert_eq!(s.raw().get_object(&b, "v2/two.txt"), b"v2 body");
}

const CHROMIUM_FORM: &str = r#"
import html, json, os, shutil, subprocess, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"])
bucket = os.environ["S3_BUCKET"]
work = os.environ["WORK_DIR"]
post = s3.generate_presigned_post(bucket, "browser/${filename}",
    Fields={"success_action_status": "201"}, Conditions=[{"success_action_status": "201"}], ExpiresIn=600)
inputs = "\n".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                   for k, v in post["fields"].items())
page = f"""<!doctype html><html><body>
<form id="f" method="post" action="{post['url']}" enctype="multipart/form-data">{inputs}
<input type="file" name="file" id="file"></form>
<script>
const dt = new DataTransfer();
dt.items.add(new File(["hello from chromium\\n"], "chromium.txt", {{type: "text/plain"}}));
document.getElementById("file").files = dt.files;
document.getElementById("f").submit();
</script></body></html>"""
path = os.path.join(work, "form.html"); open(path, "w").write(page)
chromium = shutil.which("chromium") or shutil.which("chromium-browser")
if not chromium:
    print(json.dumps({"skipped": True})); raise SystemExit
out = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                      "--user-data-dir=" + os.path.join(work, "profile"), "--dump-dom", "file://" + path],
                     capture_output=True, text=True, timeout=120)
body = s3.get_object(Bucket=bucket, Key="browser/chromium.txt")["Body"].read().decode()
print(json.dumps({"skipped": False, "body": body, "dom_has_response": "PostResponse" in out.stdout}))
"#;

fn chromium_submits_an_html_form(s: &TestServer) {
    let b = unique_bucket("post-chromium");
    s.raw().create_bucket(&b);
    let out = boto3(s, CHROMIUM_FORM, &b, &[]);
    if out["skipped"] == true {
        eprintln!("chromium is not installed: the browser form test did not run");
        return;
    }
    assert_eq!(out["body"], "hello from chromium\n", "{out}");
    assert_eq!(out["dom_has_response"], true, "{out}");
}

/// The write options PutObject refuses as headers are refused as form fields too, before
/// anything is stored; a storage class readable at once is accepted.
fn unhonoured_write_options_in_a_form_are_refused(s: &TestServer) {
    let b = unique_bucket("post-options");
    let c = s.raw();
    c.create_bucket(&b);
    let base64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let customer_key = [7u8; 32];
    let (key_b64, other_md5) = (base64(&customer_key), base64(&md5_bytes(&[8u8; 32])));
    let refused: &[(FormFields, u16, &str)] = &[
        // Field names are case-insensitive.
        (&[("X-Amz-Storage-Class", "GLACIER")], 501, "NotImplemented"),
        (
            &[("x-amz-storage-class", "FOO")],
            400,
            "InvalidStorageClass",
        ),
        (
            &[("x-amz-server-side-encryption", "aws:kms:dsse")],
            501,
            "NotImplemented",
        ),
        (
            &[("x-amz-server-side-encryption", "rot13")],
            400,
            "InvalidArgument",
        ),
        // An SSE-C key whose MD5 field is another key's.
        (
            &[
                ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
                ("x-amz-server-side-encryption-customer-key", &key_b64),
                ("x-amz-server-side-encryption-customer-key-MD5", &other_md5),
            ],
            400,
            "InvalidArgument",
        ),
        (
            &[
                ("x-amz-object-lock-mode", "GOVERNANCE"),
                (
                    "x-amz-object-lock-retain-until-date",
                    "2099-01-01T00:00:00Z",
                ),
            ],
            400,
            "InvalidRequest",
        ),
        (
            &[("x-amz-object-lock-legal-hold", "ON")],
            400,
            "InvalidRequest",
        ),
    ];
    let keys: Vec<String> = (0..refused.len()).map(|i| format!("refused-{i}")).collect();
    let forms: Vec<(&str, FormFields)> = keys
        .iter()
        .zip(refused)
        .map(|(key, (fields, _, _))| (key.as_str(), *fields))
        .collect();
    let answers = presigned_posts(s, &b, "refused body", &forms);
    for ((key, (_, status, code)), answer) in keys.iter().zip(refused).zip(&answers) {
        answer.assert_error(*status, code);
        c.head(&obj_path(&b, key)).send().status(404);
    }
    assert!(
        c.list_keys(&b, "").is_empty(),
        "a refused POST stored something"
    );

    let accepted: &[(&str, FormFields)] = &[
        (
            "standard",
            &[
                ("x-amz-storage-class", "STANDARD"),
                ("success_action_status", "201"),
            ],
        ),
        ("infrequent", &[("x-amz-storage-class", "STANDARD_IA")]),
        // Server-side encryption as form fields (PostObject), answered as PutObject's.
        ("sse-s3", &[("X-Amz-Server-Side-Encryption", "AES256")]),
        ("sse-kms", &[("x-amz-server-side-encryption", "aws:kms")]),
    ];
    let answers = presigned_posts(s, &b, "accepted body", accepted);
    assert_eq!(answers[0].status, 201, "{}", answers[0].text());
    assert!(answers[0].text().contains("<Key>standard</Key>"));
    assert_eq!(answers[1].status, 204, "{}", answers[1].text());
    let sse = [None, None, Some("AES256"), Some("aws:kms")];
    for (((key, _), answer), sse) in accepted.iter().zip(&answers).zip(sse) {
        assert_eq!(answer.header("x-amz-server-side-encryption"), sse, "{key}");
        assert_eq!(c.get_object(&b, key), b"accepted body");
        let head = c.head(&obj_path(&b, key)).send().ok();
        assert_eq!(head.header("x-amz-server-side-encryption"), sse, "{key}");
    }
}

/// A policy with an empty condition (`[{}]`): boto3 signs it as it is; AWS refuses it with
/// 400 InvalidPolicyDocument ("Simple-Conditions must have exactly one property").
const EMPTY_CONDITION_POST: &str = r#"
import json, os, subprocess, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"])
bucket = os.environ["S3_BUCKET"]
work = os.environ["WORK_DIR"]
path = os.path.join(work, "file"); open(path, "w").write("empty condition")
post = s3.generate_presigned_post(bucket, "empty-condition", Conditions=[{}], ExpiresIn=600)
args = ["curl", "-sS", "-o", os.path.join(work, "body"), "-w", "%{http_code}"]
for name, value in post["fields"].items():
    args += ["--form-string", f"{name}={value}"]
status = subprocess.run(args + ["-F", f"file=@{path}", post["url"]],
                        capture_output=True, text=True, check=True).stdout
print(json.dumps({"status": int(status), "body": open(os.path.join(work, "body")).read()}))
"#;

/// POST Object as the AWS PostObject page and "Creating a POST policy" describe it:
/// `${filename}` in the key is replaced by the file's name before the policy's conditions
/// on `$key` are checked; `x-amz-checksum-*` fields are verified against the file (400
/// BadDigest, nothing stored, when they differ) and kept for `x-amz-checksum-mode`; a policy
/// with an empty condition is 400 InvalidPolicyDocument.
fn post_form_key_checksum_and_policy_rules(s: &TestServer) {
    let b = unique_bucket("post-rules");
    let c = s.raw();
    c.create_bucket(&b);
    // presigned_posts turns each field into an exact condition: the form's key stays
    // `docs/${filename}`, the condition names the key after substitution (curl names the
    // file "file").
    let answers = presigned_posts(
        s,
        &b,
        "named body",
        &[("docs/${filename}", &[("key", "docs/file")])],
    );
    assert_eq!(answers[0].status, 204, "{}", answers[0].text());
    assert_eq!(c.get_object(&b, "docs/file"), b"named body");
    // A file sent without a checksum field gets S3's default CRC64NVME (as PutObject).
    let head = c
        .head(&obj_path(&b, "docs/file"))
        .header("x-amz-checksum-mode", "ENABLED")
        .send()
        .ok();
    assert!(head.header("x-amz-checksum-crc64nvme").is_some());

    let base64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let body = "checked body";
    let good = base64(&crc32(body.as_bytes()).to_be_bytes());
    let bad = base64(&crc32(b"another body").to_be_bytes());
    let answers = presigned_posts(
        s,
        &b,
        body,
        &[
            ("checked", &[("x-amz-checksum-crc32", &good)]),
            ("mismatched", &[("x-amz-checksum-crc32", &bad)]),
        ],
    );
    assert_eq!(answers[0].status, 204, "{}", answers[0].text());
    answers[1].assert_error(400, "BadDigest");
    c.head(&obj_path(&b, "mismatched")).send().status(404);
    let head = c
        .head(&obj_path(&b, "checked"))
        .header("x-amz-checksum-mode", "ENABLED")
        .send()
        .ok();
    assert_eq!(head.header("x-amz-checksum-crc32"), Some(good.as_str()));

    let v = boto3(s, EMPTY_CONDITION_POST, &b, &[]);
    assert_eq!(v["status"], 400, "{v}");
    let text = v["body"].as_str().unwrap_or_default();
    assert!(
        text.contains("<Code>InvalidPolicyDocument</Code>"),
        "{text}"
    );
    c.head(&obj_path(&b, "empty-condition")).send().status(404);
}

crate::backend_tests! {
    boto3_presigned_post_with_curl,
    sigv2_post_form_redirects,
    chromium_submits_an_html_form,
    unhonoured_write_options_in_a_form_are_refused,
    post_form_key_checksum_and_policy_rules,
}
