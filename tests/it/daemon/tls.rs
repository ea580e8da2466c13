//! HTTPS listeners and certificate reload.

use serde_json::json;

use super::*;
use crate::common::clients::boto3_at;

/// A self-signed certificate for 127.0.0.1 made with the openssl command, if there is one.
fn self_signed(dir: &Path, name: &str) -> Option<(PathBuf, PathBuf)> {
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", &format!("/CN={name}")])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .ok()?;
    if !status.status.success() {
        return None;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).ok()?;
    Some((cert, key))
}

/// The subject CN curl sees on an HTTPS request to `addr`, trusting `ca`.
fn https_subject(addr: SocketAddr, ca: &Path) -> Option<String> {
    let out = Command::new("curl")
        .args(["-sv", "--max-time", "10", "--cacert"])
        .arg(ca)
        .arg(format!("https://{addr}/"))
        .output()
        .ok()?;
    let log = text(&out.stderr);
    log.lines()
        .find_map(|l| l.split("subject: CN=").nth(1))
        .map(|s| s.trim().to_string())
}

/// A daemon with an HTTPS listener on a self-signed certificate for `name` (None without the
/// openssl command): the daemon, its HTTPS address, the certificate and key files.
fn https_daemon(scratch: &TempDir, name: &str) -> Option<(Daemon, SocketAddr, PathBuf, PathBuf)> {
    let Some((cert, key)) = self_signed(scratch.path(), name) else {
        println!("skipped: no openssl command to make a test certificate");
        return None;
    };
    let tls = format!(
        "s3_https_port = 0\ns3_ssl_certificate_file = {}\ns3_ssl_privatekey_file = {}\n",
        cert.display(),
        key.display()
    );
    let daemon = Daemon::start(scratch, &tls);
    let https = address(&daemon.stdout, "libres3: listening on https://");
    Some((daemon, https, cert, key))
}

#[test]
fn https_listener_and_certificate_reload() {
    let scratch = scratch_dir("tls");
    if Command::new("curl").arg("--version").output().is_err() {
        println!("skipped: no curl command to talk HTTPS");
        return;
    }
    let Some((daemon, https, cert, key)) = https_daemon(&scratch, "first") else {
        return;
    };
    assert_eq!(https_subject(https, &cert).as_deref(), Some("first"));
    // curl takes HTTP/2 when the server offers it, as Go's S3 clients do. HTTP/2 has no Host
    // header, yet SigV4 signs the host (the :authority) and must verify.
    let signed = Command::new("curl")
        .args(["-s", "--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}"])
        .args(["--max-time", "10", "--aws-sigv4", "aws:amz:us-east-1:s3"])
        // The SHA-256 of the empty body: this curl does not send S3's required header itself.
        .args(["-H", "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"])
        .args(["--user", &format!("{ACCESS_KEY}:{SECRET_KEY}"), "--cacert"])
        .arg(&cert)
        .arg(format!("https://{https}/"))
        .output()
        .map(|o| text(&o.stdout));
    match signed {
        Ok(answer) if !answer.starts_with("0 ") => {
            assert_eq!(answer, "2 200", "signed ListBuckets over HTTP/2")
        }
        _ => println!("skipped the HTTP/2 SigV4 check: this curl has no --aws-sigv4"),
    }

    // A new certificate in the same files, then SIGHUP: new handshakes get it.
    let Some((cert2, key2)) = self_signed(scratch.path(), "second") else {
        panic!("openssl worked once");
    };
    std::fs::rename(&cert2, &cert).expect("replace certificate");
    std::fs::rename(&key2, &key).expect("replace key");
    assert_eq!(daemon.command("reload").status.code(), Some(0));
    daemon.wait_for_log("errors.log", "reloaded the TLS certificate");
    assert_eq!(https_subject(https, &cert).as_deref(), Some("second"));

    // A world-readable private key is refused.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let check = daemon.command("check-config");
    assert_eq!(check.status.code(), Some(1));
    assert!(text(&check.stderr).contains("TLS private key"));
}

/// Over HTTPS and plain HTTP: SSE-C PUT and GET, then the same GET under a policy that denies
/// insecure transport and TLS before 1.2. Prints `{step: [code, status]}`.
const SECURE_TRANSPORT: &str = r#"
import json, os
import boto3
from botocore.config import Config
from s3test import outcome

def client(endpoint):
    return boto3.client("s3", endpoint_url=endpoint, config=Config(
        signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}))

https, plain = client(os.environ["HTTPS_ENDPOINT"]), client(os.environ["S3_ENDPOINT"])
bucket = os.environ["S3_BUCKET"]
key = bytes(range(32))
sse_c = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
out = {"create": outcome(lambda: https.create_bucket(Bucket=bucket))}
out["put_sealed_http"] = outcome(lambda: plain.put_object(Bucket=bucket, Key="s", Body=b"x", **sse_c))
out["put_sealed_https"] = outcome(lambda: https.put_object(Bucket=bucket, Key="s", Body=b"x", **sse_c))
out["get_sealed_https"] = outcome(lambda: https.get_object(Bucket=bucket, Key="s", **sse_c))
out["put_open"] = outcome(lambda: https.put_object(Bucket=bucket, Key="o", Body=b"x"))
deny = lambda condition: {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                          "Resource": f"arn:aws:s3:::{bucket}/*", "Condition": condition}
out["policy"] = outcome(lambda: https.put_bucket_policy(Bucket=bucket, Policy=json.dumps(
    {"Version": "2012-10-17", "Statement": [
        deny({"Bool": {"aws:SecureTransport": "false"}}),
        deny({"NumericLessThan": {"s3:TlsVersion": "1.2"}})]})))
out["get_open_https"] = outcome(lambda: https.get_object(Bucket=bucket, Key="o"))
out["get_open_http"] = outcome(lambda: plain.get_object(Bucket=bucket, Key="o"))
print(json.dumps(out))
"#;

// Requests over an HTTPS listener are secure transport: SSE-C keys are taken there without
// allow_sse_c_over_http ("Amazon S3 will reject any requests made over HTTP when using
// SSE-C"), and a bucket policy sees aws:SecureTransport true and s3:TlsVersion (the
// "Deny insecure transport" example of the S3 User Guide).
#[test]
fn https_requests_are_secure_transport() {
    let scratch = scratch_dir("tls-secure");
    let Some((daemon, https, cert, _)) = https_daemon(&scratch, "secure") else {
        return;
    };
    let https_endpoint = format!("https://{https}");
    let cert = cert.display().to_string();
    let v = boto3_at(
        &format!("http://{}", daemon.s3),
        &Creds::new(ACCESS_KEY, SECRET_KEY),
        SECURE_TRANSPORT,
        "tls-secure",
        &[
            ("HTTPS_ENDPOINT", https_endpoint.as_str()),
            ("AWS_CA_BUNDLE", cert.as_str()),
        ],
    );
    let ok = json!(["no error", 200]);
    for step in ["create", "put_sealed_https", "get_sealed_https", "put_open"] {
        assert_eq!(v[step], ok, "{step}: {v}");
    }
    assert_eq!(v["put_sealed_http"], json!(["InvalidRequest", 400]), "{v}");
    assert_eq!(v["policy"], ok, "{v}");
    assert_eq!(v["get_open_https"], ok, "{v}");
    assert_eq!(v["get_open_http"], json!(["AccessDenied", 403]), "{v}");
}
