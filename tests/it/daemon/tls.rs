//! HTTPS listeners and certificate reload.

use super::*;

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

#[test]
fn https_listener_and_certificate_reload() {
    let scratch = scratch_dir("tls");
    let Some((cert, key)) = self_signed(scratch.path(), "first") else {
        println!("skipped: no openssl command to make a test certificate");
        return;
    };
    if Command::new("curl").arg("--version").output().is_err() {
        println!("skipped: no curl command to talk HTTPS");
        return;
    }
    let tls = format!(
        "s3_https_port = 0\ns3_ssl_certificate_file = {}\ns3_ssl_privatekey_file = {}\n",
        cert.display(),
        key.display()
    );
    let daemon = Daemon::start(&scratch, &tls);
    let https = address(&daemon.stdout, "libres3: listening on https://");
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
