//! The admin endpoint (health, stats, metrics), its authentication, and the health command.

use base64::Engine;

use super::*;

#[test]
fn admin_endpoint_reports_stats_and_metrics() {
    let scratch = scratch_dir("admin");
    let daemon = Daemon::start(&scratch, "");
    let head = signed_head("PUT", "/admin-bucket", daemon.s3, 0);
    assert_eq!(request(daemon.s3, &head, b"").0, 200);
    let head = signed_head("PUT", "/admin-bucket/k", daemon.s3, 5);
    assert_eq!(request(daemon.s3, &head, b"hello").0, 200);

    let (status, health) = get(daemon.admin, "/health");
    assert_eq!(status, 200);
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    let (_, json) = get(daemon.admin, "/stats");
    assert!(json.contains("\"PutObject\":{"), "{json}");
    assert!(json.contains("\"bytes_in\":5"), "{json}");
    assert!(
        json.contains(&format!("{}/data", daemon.dir.display())),
        "{json}"
    );
    let (_, csv) = get(daemon.admin, "/stats?format=csv");
    assert!(
        csv.starts_with("kind,name,requests,errors,bytes_in,bytes_out,value\n"),
        "{csv}"
    );
    assert!(csv.contains("operation,PutObject,1,0,5,"), "{csv}");
    let (_, metrics) = get(daemon.admin, "/metrics");
    assert!(
        metrics.contains("libres3_requests_total{operation=\"CreateBucket\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE libres3_open_connections gauge"),
        "{metrics}"
    );
    assert_eq!(get(daemon.admin, "/nope").0, 404);

    // The backend's state: the index answers, the storage directory is there.
    assert!(json.contains("\"backend_state\":{"), "{json}");
    assert!(
        json.contains("\"kind\":\"index\"") && json.contains("\"status\":\"ok\""),
        "{json}"
    );
    assert!(json.contains("\"kind\":\"storage_dir\""), "{json}");
    assert!(csv.contains("backend_status,embedded,,,,,ok\n"), "{csv}");
    assert!(
        metrics.contains("libres3_backend_up{backend=\"embedded\",status=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("libres3_backend_part_up{kind=\"index\","),
        "{metrics}"
    );
    // A storage directory that went away shows, and the backend is degraded.
    let blocks = daemon.path("data/blocks");
    std::fs::rename(&blocks, daemon.path("data/blocks.away")).expect("move blocks");
    let (_, json) = get(daemon.admin, "/stats");
    std::fs::rename(daemon.path("data/blocks.away"), &blocks).expect("move back");
    assert!(json.contains("\"status\":\"degraded\""), "{json}");
    assert!(json.contains("\"state\":\"down\""), "{json}");
    let (_, metrics) = get(daemon.admin, "/metrics");
    assert!(
        metrics.contains("libres3_backend_up{backend=\"embedded\",status=\"ok\"} 1"),
        "{metrics}"
    );
}

/// One request with extra header lines (each ending in \r\n).
fn get_with(addr: SocketAddr, path: &str, extra: &str) -> (u16, String) {
    request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n"),
        b"",
    )
}

fn basic(credentials: &str) -> String {
    format!(
        "Authorization: Basic {}\r\n",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

#[test]
fn admin_auth_guards_stats_and_metrics() {
    let scratch = scratch_dir("adminauth");
    let daemon = Daemon::start(&scratch, "admin_auth = ops:first:pass word\n");
    // /health stays open; the rest wants the credentials.
    let (status, health) = get(daemon.admin, "/health");
    assert_eq!(status, 200, "{health}");
    for path in ["/stats", "/stats?format=csv", "/metrics"] {
        let (status, body) = get(daemon.admin, path);
        assert_eq!(status, 401, "{path} without credentials: {body}");
        assert_eq!(
            get_with(daemon.admin, path, &basic("ops:first:pass wor")).0,
            401,
            "{path} with a wrong password"
        );
        assert_eq!(
            get_with(daemon.admin, path, &basic("ops:first:pass word")).0,
            200,
            "{path} with the credentials"
        );
    }
    let mut raw = TcpStream::connect(daemon.admin).expect("connect");
    raw.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    raw.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("ask");
    let (_, answer, _) = read_until_closed(&mut raw);
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("www-authenticate: basic realm=\"libres3 admin\""),
        "{answer}"
    );

    // New credentials apply on SIGHUP; the old ones stop working.
    write_private(
        &daemon.conf,
        base_config(&daemon.dir, "admin_auth = ops:second\n"),
    );
    assert_eq!(daemon.command("reload").status.code(), Some(0));
    daemon.wait_for_log("errors.log", "SIGHUP: reloaded");
    assert_eq!(
        get_with(daemon.admin, "/stats", &basic("ops:first:pass word")).0,
        401
    );
    assert_eq!(
        get_with(daemon.admin, "/stats", &basic("ops:second")).0,
        200
    );

    // The file holds a secret now: readable by others, it is refused.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&daemon.conf, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let check = daemon.command("check-config");
    assert_eq!(check.status.code(), Some(1));
    assert!(
        text(&check.stderr).contains("it holds admin_auth"),
        "{}",
        text(&check.stderr)
    );
    std::fs::set_permissions(&daemon.conf, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

#[test]
fn health_command_asks_the_admin_endpoint() {
    let scratch = scratch_dir("health");
    let daemon = Daemon::start(&scratch, "admin_auth = ops:pw\n");
    let admin = daemon.admin.to_string();
    let out = libres3(&["health", "--admin-listen", &admin]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("healthy"),
        "{}",
        text(&out.stdout)
    );
    // The configuration's address, overridden by the flag.
    let conf = daemon.conf.to_str().unwrap_or_default();
    let out = libres3(&["health", "--config", conf, "--admin-listen", &admin]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Port 0 in the file cannot be asked: the reason says so.
    let out = libres3(&["health", "--config", conf]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("give --admin-listen"),
        "{}",
        text(&out.stderr)
    );

    // Something that is not the admin endpoint: the S3 port answers 404 (no bucket "health").
    let out = libres3(&["health", "--admin-listen", &daemon.s3.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("answered 404"),
        "{}",
        text(&out.stderr)
    );

    assert_eq!(daemon.command("stop").status.code(), Some(0));
    let out = libres3(&["health", "--admin-listen", &admin]);
    assert_eq!(out.status.code(), Some(1));
    let reason = text(&out.stderr);
    assert!(
        reason.starts_with("libres3: unhealthy: cannot connect") && reason.lines().count() == 1,
        "{reason}"
    );
    write_private(
        &daemon.conf,
        base_config(&daemon.dir, "admin_listen = off\n")
            .replace("admin_listen = 127.0.0.1:0\n", ""),
    );
    let out = libres3(&["health", "--config", conf]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("admin_listen = off"),
        "{}",
        text(&out.stderr)
    );
}
