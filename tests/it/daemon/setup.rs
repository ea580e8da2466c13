//! The setup command: batch configuration, self-signed certificates, and checking an SX cluster.

use super::*;

/// Starts a daemon on the file `libres3 setup` wrote, with its pid file and logs in `scratch`;
/// asserts that it started.
fn serve_setup_config(scratch: &TempDir, conf: &Path) -> Output {
    let mut file = std::fs::read_to_string(conf).expect("conf");
    file.push_str(&format!(
        "pidfile = {dir}/run/libres3.pid\nlogdir = {dir}/log\ndaemonize = yes\n",
        dir = scratch.path().display()
    ));
    write_private(conf, &file);
    let out = libres3(&["serve", "--config", conf.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    out
}

#[test]
fn setup_batch_writes_a_working_configuration() {
    let scratch = scratch_dir("setup");
    let conf = scratch.path().join("etc/libres3.conf");
    let conf_arg = conf.to_str().unwrap_or_default();
    let data = scratch.path().join("data");
    let out = libres3(&[
        "setup",
        "--batch",
        "--config",
        conf_arg,
        "--data-dir",
        data.to_str().unwrap_or_default(),
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "off",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    use std::os::unix::fs::PermissionsExt;
    for name in ["libres3.conf", "s3cmd.cfg", "aws-profile.example"] {
        let mode = std::fs::metadata(scratch.path().join("etc").join(name))
            .expect(name)
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    let s3cmd = std::fs::read_to_string(scratch.path().join("etc/s3cmd.cfg")).expect("s3cmd.cfg");
    let value = |key: &str| {
        s3cmd
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no {key} in {s3cmd}"))
            .to_string()
    };
    let (access_key, secret_key) = (value("access_key"), value("secret_key"));
    // Not twice without --force.
    let again = libres3(&["setup", "--batch", "--config", conf_arg]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("--force"));

    // The file it wrote starts a daemon that knows the admin keys it printed.
    let out = serve_setup_config(&scratch, &conf);
    let s3 = address(&text(&out.stdout), "libres3: listening on http://");
    let head = signed_head_as("PUT", "/setup-bucket", s3, 0, &access_key, &secret_key);
    assert_eq!(request(s3, &head, b"").0, 200);
    let stop = libres3(&["stop", "--config", conf_arg]);
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop.stderr));
}

/// The HTTP status curl gets for `url` when it trusts only `ca` (None: curl is missing, or
/// could not verify or connect).
fn curl_status(url: &str, ca: &Path, resolve: Option<&str>) -> Option<u16> {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "10",
    ])
    .arg("--cacert")
    .arg(ca);
    if let Some(resolve) = resolve {
        cmd.args(["--resolve", resolve]);
    }
    let out = cmd.arg(url).output().ok()?;
    text(&out.stdout)
        .trim()
        .parse()
        .ok()
        .filter(|code| *code != 0)
}

#[test]
fn setup_makes_a_self_signed_certificate_on_request() {
    if Command::new("curl").arg("--version").output().is_err() {
        println!("skipped: no curl command to talk HTTPS");
        return;
    }
    let scratch = scratch_dir("setuptls");
    let conf = scratch.path().join("etc/libres3.conf");
    let conf_arg = conf.to_str().unwrap_or_default();
    let data = scratch.path().join("data");
    let setup = |extra: &[&str]| {
        let mut args = vec![
            "setup",
            "--batch",
            "--config",
            conf_arg,
            "--data-dir",
            data.to_str().unwrap_or_default(),
            "--listen",
            "127.0.0.1:0",
            "--https-listen",
            "127.0.0.1:0",
            "--s3-host",
            "s3.libres3.test",
            "--admin-listen",
            "off",
            "--tls-self-signed",
        ];
        args.extend_from_slice(extra);
        libres3(&args)
    };
    let out = setup(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let cert = scratch.path().join("etc/libres3-cert.pem");
    let key = scratch.path().join("etc/libres3-key.pem");
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| {
        std::fs::metadata(p)
            .expect("generated")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&key), 0o600, "the private key is the owner's only");
    assert_eq!(mode(&cert), 0o644);
    let file = std::fs::read_to_string(&conf).expect("conf");
    assert!(
        file.contains(&format!("s3_ssl_certificate_file = {}", cert.display())),
        "{file}"
    );
    let s3cmd = std::fs::read_to_string(scratch.path().join("etc/s3cmd.cfg")).expect("s3cmd.cfg");
    assert!(s3cmd.contains("use_https = True"), "{s3cmd}");
    assert!(
        s3cmd.contains(&format!("ca_certs_file = {}", cert.display())),
        "{s3cmd}"
    );
    // Not replaced without --force.
    let again = setup(&["--force"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    std::fs::remove_file(&conf).expect("remove conf");
    let again = setup(&[]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("libres3-cert.pem exists"),
        "{}",
        text(&again.stderr)
    );
    let again = setup(&["--force"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));

    // The daemon serves it, and a client that trusts it verifies the IP and the host names.
    let out = serve_setup_config(&scratch, &conf);
    let https = address(&text(&out.stdout), "libres3: listening on https://");
    let port = https.port();
    let by_ip = curl_status(&format!("https://127.0.0.1:{port}/"), &cert, None);
    let by_bucket = curl_status(
        &format!("https://photos.s3.libres3.test:{port}/"),
        &cert,
        Some(&format!("photos.s3.libres3.test:{port}:127.0.0.1")),
    );
    let by_other_name = curl_status(
        &format!("https://elsewhere.test:{port}/"),
        &cert,
        Some(&format!("elsewhere.test:{port}:127.0.0.1")),
    );
    let stop = libres3(&["stop", "--config", conf_arg]);
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop.stderr));
    assert_eq!(
        by_ip,
        Some(403),
        "anonymous ListBuckets over verified HTTPS"
    );
    assert_eq!(
        by_bucket,
        Some(404),
        "anonymous request to a missing bucket"
    );
    assert_eq!(
        by_other_name, None,
        "a name the certificate lacks fails to verify"
    );
}

#[test]
fn setup_for_sx_checks_that_the_cluster_answers() {
    let fake = crate::sx_fake::FakeSx::start(1);
    let scratch = scratch_dir("setupsx");
    let conf = scratch.path().join("libres3.conf");
    let conf_arg = conf.to_str().unwrap_or_default();
    let key_file = scratch.path().join("sx-admin.key");
    write_private(&key_file, format!("{}\n", fake.admin_token));
    let port = fake.port.to_string();
    let setup = |port: &str| {
        libres3(&[
            "setup",
            "--batch",
            "--config",
            conf_arg,
            "--backend",
            "sx",
            "--sx-host",
            "127.0.0.1",
            "--sx-port",
            port,
            "--sx-use-ssl",
            "no",
            "--sx-key-file",
            key_file.to_str().unwrap_or_default(),
            "--volume-size",
            "2G",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "off",
        ])
    };

    // Nothing listens there: one line naming the host and the cause, and no file.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let out = setup(&closed.to_string());
    assert_eq!(out.status.code(), Some(1));
    let reason = text(&out.stderr);
    assert!(
        reason.starts_with("libres3: SX cluster at 127.0.0.1") && reason.lines().count() == 1,
        "{reason}"
    );
    assert!(!conf.exists());
    // A key the cluster does not know.
    let mut wrong: Vec<char> = fake.admin_token.chars().collect();
    wrong[30] = if wrong[30] == 'A' { 'B' } else { 'A' };
    write_private(&key_file, wrong.into_iter().collect::<String>());
    let out = setup(&port);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not a valid admin key"),
        "{}",
        text(&out.stderr)
    );
    assert!(!conf.exists());

    write_private(&key_file, format!("{}\n", fake.admin_token));
    let out = setup(&port);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("answers"),
        "{}",
        text(&out.stdout)
    );
    let file = std::fs::read_to_string(&conf).expect("conf");
    for line in [
        "backend = sx\n",
        "sx_host = 127.0.0.1\n",
        "sx_use_ssl = no\n",
        "volume_size = 2G\n",
        &format!("secret_key = {}\n", fake.admin_token),
    ] {
        assert!(file.contains(line), "{line:?} in {file}");
    }
    assert!(!file.contains("data_dir"), "{file}");
    let s3cmd = std::fs::read_to_string(scratch.path().join("s3cmd.cfg")).expect("s3cmd.cfg");
    assert!(s3cmd.contains("access_key = admin\n"), "{s3cmd}");
    assert!(
        s3cmd.contains(&format!("secret_key = {}\n", fake.admin_token)),
        "{s3cmd}"
    );

    // The file starts a daemon on the cluster that takes those keys.
    let out = serve_setup_config(&scratch, &conf);
    let s3 = address(&text(&out.stdout), "libres3: listening on http://");
    let head = signed_head_as("GET", "/", s3, 0, "admin", &fake.admin_token);
    let listed = request(s3, &head, b"").0;
    let stop = libres3(&["stop", "--config", conf_arg]);
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop.stderr));
    assert_eq!(listed, 200);
}
