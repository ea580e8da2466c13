//! ACLs, bucket policies and CORS (issue 3): set with awscli and s3cmd, checked with curl
//! and the raw client as an anonymous user and as a browser.

use serde_json::Value;

use crate::common::clients::{curl_get, curl_post_form, Aws, S3cmd};
use crate::common::raw::{obj_path, Auth};
use crate::common::{unique_bucket, write, xml_text, TestServer};

fn aws_canned_acls_open_and_close_anonymous_reads(s: &TestServer) {
    let aws = Aws::new(s);
    let c = s.raw();
    let b = unique_bucket("acl");
    c.create_bucket(&b);
    let dir = s.scratch("acl");
    write(dir.join("f"), b"public bytes");
    let f = dir.join("f");
    aws.ok(&[
        "s3api",
        "put-object",
        "--bucket",
        &b,
        "--key",
        "pub",
        "--body",
        f.to_str().unwrap(),
        "--acl",
        "public-read",
    ]);
    aws.ok(&[
        "s3api",
        "put-object",
        "--bucket",
        &b,
        "--key",
        "priv",
        "--body",
        f.to_str().unwrap(),
    ]);
    let url = |k: &str| format!("{}/{b}/{k}", s.endpoint());
    assert_eq!(curl_get(&url("pub"), &dir.join("out")), 200);
    assert_eq!(std::fs::read(dir.join("out")).unwrap(), b"public bytes");
    assert_eq!(curl_get(&url("priv"), &dir.join("out")), 403);
    // Without list permission a missing key is 403 too; HEAD works like GET.
    assert_eq!(curl_get(&url("missing"), &dir.join("out")), 403);
    c.head(&obj_path(&b, "pub"))
        .auth(Auth::Anonymous)
        .send()
        .status(200);
    // Anonymous writes and listings stay refused.
    c.put(&obj_path(&b, "anon"))
        .body("x")
        .auth(Auth::Anonymous)
        .send()
        .assert_error(403, "AccessDenied");
    c.get(&format!("/{b}"))
        .auth(Auth::Anonymous)
        .send()
        .assert_error(403, "AccessDenied");

    let acl = aws.json(&["s3api", "get-object-acl", "--bucket", &b, "--key", "pub"]);
    let grants: Vec<&Value> = acl["Grants"].as_array().unwrap().iter().collect();
    assert_eq!(grants.len(), 2, "{acl}");
    assert_eq!(grants[0]["Permission"], Value::from("FULL_CONTROL"));
    assert_eq!(
        grants[1]["Grantee"]["URI"],
        Value::from("http://acs.amazonaws.com/groups/global/AllUsers")
    );
    assert_eq!(grants[1]["Permission"], Value::from("READ"));

    aws.ok(&[
        "s3api",
        "put-object-acl",
        "--bucket",
        &b,
        "--key",
        "pub",
        "--acl",
        "private",
    ]);
    assert_eq!(curl_get(&url("pub"), &dir.join("out")), 403);
    let acl = aws.json(&["s3api", "get-object-acl", "--bucket", &b, "--key", "pub"]);
    assert_eq!(acl["Grants"].as_array().unwrap().len(), 1, "{acl}");
    aws.ok(&[
        "s3api",
        "put-object-acl",
        "--bucket",
        &b,
        "--key",
        "priv",
        "--acl",
        "public-read",
    ]);
    assert_eq!(curl_get(&url("priv"), &dir.join("out")), 200);

    // A public-read bucket lists anonymously; missing keys then say so.
    aws.ok(&[
        "s3api",
        "put-bucket-acl",
        "--bucket",
        &b,
        "--acl",
        "public-read",
    ]);
    c.get(&format!("/{b}")).auth(Auth::Anonymous).send().ok();
    assert_eq!(curl_get(&url("missing"), &dir.join("out")), 404);
    let acl = aws.json(&["s3api", "get-bucket-acl", "--bucket", &b]);
    assert_eq!(acl["Grants"].as_array().unwrap().len(), 2, "{acl}");
    // public-read-write lets anyone write (PutBucketAcl, canned ACL table), also by an
    // unsigned form (PostObject); a grant header opens one object (PutObjectAcl,
    // x-amz-grant-read).
    let bucket_url = format!("{}/{b}", s.endpoint());
    assert_eq!(curl_post_form(&bucket_url, "form", &f), 403);
    aws.ok(&[
        "s3api",
        "put-bucket-acl",
        "--bucket",
        &b,
        "--acl",
        "public-read-write",
    ]);
    c.put(&obj_path(&b, "anon"))
        .body("x")
        .auth(Auth::Anonymous)
        .send()
        .ok();
    assert_eq!(curl_post_form(&bucket_url, "form", &f), 204);
    assert_eq!(c.get_object(&b, "form"), b"public bytes");
    // Anonymous callers upload in parts too, into their own uploads only (AWS: "Multipart
    // upload API and permissions"): a user's upload is not theirs to write into.
    let anonymous = |req: crate::common::raw::Req<'_>| req.auth(Auth::Anonymous).send();
    let text = anonymous(c.post(&obj_path(&b, "mp")).sub("uploads"))
        .ok()
        .text();
    let id = xml_text(&text, "UploadId").expect("UploadId");
    let part = anonymous(
        c.put(&obj_path(&b, "mp"))
            .query("partNumber", "1")
            .query("uploadId", &id)
            .body("anonymous part"),
    )
    .ok();
    let etag = part.header("etag").expect("ETag").to_string();
    let done = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
    );
    anonymous(
        c.post(&obj_path(&b, "mp"))
            .query("uploadId", &id)
            .body(done),
    )
    .ok();
    assert_eq!(c.get_object(&b, "mp"), b"anonymous part");
    let owners = xml_text(
        &c.post(&obj_path(&b, "mine"))
            .sub("uploads")
            .send()
            .ok()
            .text(),
        "UploadId",
    )
    .expect("UploadId");
    anonymous(
        c.put(&obj_path(&b, "mine"))
            .query("partNumber", "1")
            .query("uploadId", &owners)
            .body("intruder"),
    )
    .assert_error(403, "AccessDenied");
    assert_eq!(curl_get(&url("pub"), &dir.join("out")), 403);
    aws.ok(&[
        "s3api",
        "put-object-acl",
        "--bucket",
        &b,
        "--key",
        "pub",
        "--grant-read",
        "uri=http://acs.amazonaws.com/groups/global/AllUsers",
    ]);
    assert_eq!(curl_get(&url("pub"), &dir.join("out")), 200);
    aws.ok(&[
        "s3api",
        "put-bucket-acl",
        "--bucket",
        &b,
        "--acl",
        "private",
    ]);
    c.get(&format!("/{b}"))
        .auth(Auth::Anonymous)
        .send()
        .assert_error(403, "AccessDenied");
}

fn aws_bucket_policy_grants_anonymous_get(s: &TestServer) {
    let aws = Aws::new(s);
    let c = s.raw();
    let b = unique_bucket("policy");
    c.create_bucket(&b);
    c.put_object(&b, "open/k", b"policy bytes");
    c.put_object(&b, "open/secret/k", b"hidden");
    aws.fails(&["s3api", "get-bucket-policy", "--bucket", &b])
        .contains("NoSuchBucketPolicy")
        .then_some(())
        .expect("NoSuchBucketPolicy");
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::{b}/*"]}},
        {{"Effect":"Deny","Principal":{{"AWS":"*"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/open/secret/*"}}]}}"#
    );
    aws.ok(&[
        "s3api",
        "put-bucket-policy",
        "--bucket",
        &b,
        "--policy",
        &policy,
    ]);
    let got = aws.json(&["s3api", "get-bucket-policy", "--bucket", &b]);
    assert_eq!(got["Policy"], Value::from(policy.as_str()));
    let anon = |k: &str| c.get(&obj_path(&b, k)).auth(Auth::Anonymous).send();
    assert_eq!(anon("open/k").ok().body, b"policy bytes");
    anon("open/secret/k").assert_error(403, "AccessDenied");
    anon("open/missing").assert_error(403, "AccessDenied");

    for (bad, code) in [
        ("{not json", "MalformedPolicy"),
        (
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::x/*"}]}"#,
            "MalformedPolicy",
        ),
        (
            &*format!(
                r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*","Condition":{{"StringEquals":{{"aws:NoSuchKey":"x"}}}}}}]}}"#
            ),
            "MalformedPolicy",
        ),
        (
            &*format!(
                r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::1:root"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*"}}]}}"#
            ),
            "MalformedPolicy",
        ),
    ] {
        let err = aws.fails(&[
            "s3api",
            "put-bucket-policy",
            "--bucket",
            &b,
            "--policy",
            bad,
        ]);
        assert!(err.contains(code), "{bad}: {err}");
    }
    // The valid policy is still in force after the refused ones.
    anon("open/k").ok();
    aws.ok(&["s3api", "delete-bucket-policy", "--bucket", &b]);
    anon("open/k").assert_error(403, "AccessDenied");
}

fn s3cmd_setacl_setpolicy_setcors(s: &TestServer) {
    let s3cmd = S3cmd::new(s);
    let c = s.raw();
    let b = unique_bucket("s3cmd-acl");
    c.create_bucket(&b);
    c.put_object(&b, "k", b"via s3cmd");
    let dir = s.scratch("s3cmd-acl");
    s3cmd.ok(&["setacl", "--acl-public", &format!("s3://{b}/k")]);
    c.get(&obj_path(&b, "k")).auth(Auth::Anonymous).send().ok();
    s3cmd.ok(&["setacl", "--acl-private", &format!("s3://{b}/k")]);
    c.get(&obj_path(&b, "k"))
        .auth(Auth::Anonymous)
        .send()
        .assert_error(403, "AccessDenied");

    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"*"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*"}}]}}"#
    );
    write(dir.join("policy.json"), policy.as_bytes());
    s3cmd.ok(&[
        "setpolicy",
        dir.join("policy.json").to_str().unwrap(),
        &format!("s3://{b}"),
    ]);
    c.get(&obj_path(&b, "k")).auth(Auth::Anonymous).send().ok();

    write(
        dir.join("cors.xml"),
        b"<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example.com</AllowedOrigin>\
          <AllowedMethod>GET</AllowedMethod><AllowedHeader>*</AllowedHeader><MaxAgeSeconds>60</MaxAgeSeconds>\
          </CORSRule></CORSConfiguration>",
    );
    s3cmd.ok(&[
        "setcors",
        dir.join("cors.xml").to_str().unwrap(),
        &format!("s3://{b}"),
    ]);
    let info = s3cmd.ok(&["info", &format!("s3://{b}")]);
    assert!(
        info.contains("CORS") && info.contains("app.example.com"),
        "{info}"
    );
    let r = c
        .req("OPTIONS", &obj_path(&b, "k"))
        .auth(Auth::Anonymous)
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "GET")
        .send()
        .ok();
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    s3cmd.ok(&["delpolicy", &format!("s3://{b}")]);
    c.get(&obj_path(&b, "k"))
        .auth(Auth::Anonymous)
        .send()
        .assert_error(403, "AccessDenied");
}

fn aws_cors_preflight_and_actual_requests(s: &TestServer) {
    let aws = Aws::new(s);
    let c = s.raw();
    let b = unique_bucket("cors");
    c.create_bucket(&b);
    c.put_object(&b, "k", b"cors");
    let preflight = |origin: &str, method: &str, headers: Option<&str>| {
        let mut r = c
            .req("OPTIONS", &obj_path(&b, "k"))
            .auth(Auth::Anonymous)
            .header("origin", origin)
            .header("access-control-request-method", method);
        if let Some(h) = headers {
            r = r.header("access-control-request-headers", h);
        }
        r.send()
    };
    let err = aws.fails(&["s3api", "get-bucket-cors", "--bucket", &b]);
    assert!(err.contains("NoSuchCORSConfiguration"), "{err}");
    preflight("https://a.example.com", "GET", None).assert_error(403, "AccessForbidden");

    let config = r#"{"CORSRules":[{"AllowedOrigins":["https://*.example.com"],"AllowedMethods":["GET","PUT"],
        "AllowedHeaders":["content-type","x-amz-*"],"ExposeHeaders":["ETag"],"MaxAgeSeconds":300}]}"#;
    aws.ok(&[
        "s3api",
        "put-bucket-cors",
        "--bucket",
        &b,
        "--cors-configuration",
        config,
    ]);
    let got = aws.json(&["s3api", "get-bucket-cors", "--bucket", &b]);
    assert_eq!(got["CORSRules"][0]["MaxAgeSeconds"], Value::from(300));

    let r = preflight(
        "https://a.example.com",
        "PUT",
        Some("Content-Type, X-Amz-Date"),
    )
    .ok();
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://a.example.com")
    );
    assert_eq!(r.header("access-control-allow-methods"), Some("GET, PUT"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("content-type, x-amz-date")
    );
    assert_eq!(r.header("access-control-max-age"), Some("300"));
    preflight("https://evil.org", "GET", None).assert_error(403, "AccessForbidden");
    preflight("https://a.example.com", "DELETE", None).assert_error(403, "AccessForbidden");
    preflight("https://a.example.com", "GET", Some("x-other")).assert_error(403, "AccessForbidden");
    c.req("OPTIONS", &obj_path(&b, "k"))
        .auth(Auth::Anonymous)
        .header("access-control-request-method", "GET")
        .send()
        .assert_error(400, "BadRequest");

    // Actual requests get the headers when a rule matches, whatever their outcome.
    let r = c
        .get(&obj_path(&b, "k"))
        .header("origin", "https://a.example.com")
        .send()
        .ok();
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://a.example.com")
    );
    assert_eq!(r.header("access-control-expose-headers"), Some("ETag"));
    let r = c
        .get(&obj_path(&b, "k"))
        .header("origin", "https://evil.org")
        .send()
        .ok();
    assert_eq!(r.header("access-control-allow-origin"), None);

    aws.ok(&["s3api", "delete-bucket-cors", "--bucket", &b]);
    preflight("https://a.example.com", "GET", None).assert_error(403, "AccessForbidden");
}

/// CopyObject and UploadPartCopy between buckets of two owners: the requester needs
/// s3:GetObject on the source and s3:PutObject on the destination (CopyObject page,
/// "Permissions"), whoever owns each bucket.
fn copies_cross_owners_with_read_and_write_rights(s: &TestServer) {
    let alice = s.raw();
    let bob = alice.with_creds(s.add_user("copier"));
    let shared = unique_bucket("copysrc");
    let private = unique_bucket("copypriv");
    let mine = unique_bucket("copydst");
    alice.create_bucket(&shared);
    alice.create_bucket(&private);
    bob.create_bucket(&mine);
    alice
        .put(&obj_path(&shared, "k"))
        .header("x-amz-acl", "public-read")
        .body("shared bytes")
        .send()
        .ok();
    alice.put_object(&private, "k", b"private bytes");
    bob.put(&obj_path(&mine, "copied"))
        .header("x-amz-copy-source", &format!("/{shared}/k"))
        .send()
        .ok();
    assert_eq!(bob.get_object(&mine, "copied"), b"shared bytes");
    bob.put(&obj_path(&mine, "stolen"))
        .header("x-amz-copy-source", &format!("/{private}/k"))
        .send()
        .assert_error(403, "AccessDenied");
    // Reading is not writing: alice's bucket takes nothing from bob.
    bob.put(&obj_path(&shared, "back"))
        .header("x-amz-copy-source", &format!("/{mine}/copied"))
        .send()
        .assert_error(403, "AccessDenied");
}

crate::backend_tests! {
    copies_cross_owners_with_read_and_write_rights,
    aws_canned_acls_open_and_close_anonymous_reads,
    aws_bucket_policy_grants_anonymous_get,
    s3cmd_setacl_setpolicy_setcors,
    aws_cors_preflight_and_actual_requests,
}
