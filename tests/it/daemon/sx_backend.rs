//! A daemon in front of the fake SX cluster: backend state in stats and metrics, and SIGHUP moving it to another cluster.

use super::*;

#[test]
fn sx_backend_state_follows_its_nodes() {
    let mut fake = crate::sx_fake::FakeSx::start(2);
    let scratch = scratch_dir("sxstate");
    let daemon = Daemon::start(&scratch, &sx_lines(&fake, fake.port));
    let token = fake.admin_token.clone();
    let list = |daemon: &Daemon| {
        let head = signed_head_as("GET", "/", daemon.s3, 0, "admin", &token);
        request(daemon.s3, &head, b"").0
    };
    assert_eq!(list(&daemon), 200);
    let (_, json) = get(daemon.admin, "/stats");
    assert!(json.contains("\"backend\":\"sx\""), "{json}");
    assert!(json.contains("\"kind\":\"node\""), "{json}");
    assert!(json.contains("\"status\":\"ok\""), "{json}");
    assert!(
        json.contains("\"storage\":[]"),
        "an SX worker has no storage directory: {json}"
    );

    // One node stops: requests fail over to the other, and the state says which is down.
    actix_web::rt::System::new().block_on(fake.stop_node(1));
    let stats = wait_for("node 2 to be seen down", Duration::from_secs(30), || {
        assert_eq!(list(&daemon), 200, "failover");
        let (_, json) = get(daemon.admin, "/stats");
        json.contains("\"state\":\"down\"").then_some(json)
    });
    assert!(stats.contains("\"status\":\"degraded\""), "{stats}");
    assert!(stats.contains("127.0.0.2"), "{stats}");
    let (_, metrics) = get(daemon.admin, "/metrics");
    assert!(
        metrics.contains("libres3_backend_part_up{kind=\"node\",name=\"127.0.0.2\"} 0"),
        "{metrics}"
    );
    // Per node: requests sent, failed ones, time taken.
    let sample = |metric: &str, node: &str| -> f64 {
        let prefix = format!("{metric}{{kind=\"node\",name=\"{node}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix}in {metrics}"))
    };
    assert!(sample("libres3_backend_requests_total", "127.0.0.1") >= 1.0);
    assert!(sample("libres3_backend_errors_total", "127.0.0.2") >= 1.0);
    assert!(sample("libres3_backend_request_seconds_total", "127.0.0.1") > 0.0);
}

/// The `libres3.conf` lines for the SX backend on `fake`, reached on `port`.
fn sx_lines(fake: &crate::sx_fake::FakeSx, port: u16) -> String {
    format!(
        "backend = sx\nsx_host = {}\nsx_port = {port}\nsx_use_ssl = no\nsecret_key = {}\n",
        fake.ips.join(","),
        fake.admin_token
    )
}

#[test]
fn sighup_moves_the_sx_backend_to_new_settings() {
    let first = crate::sx_fake::FakeSx::start(1);
    let second = crate::sx_fake::FakeSx::start(1);
    first.add_volume("on-first", "admin", 1, &[]);
    second.add_volume("on-second", "admin", 1, &[]);
    let scratch = scratch_dir("sxreload");
    let daemon = Daemon::start(&scratch, &sx_lines(&first, first.port));
    let token = first.admin_token.clone();
    let buckets = |daemon: &Daemon| {
        let head = signed_head_as("GET", "/", daemon.s3, 0, "admin", &token);
        let (status, body) = request(daemon.s3, &head, b"");
        assert_eq!(status, 200, "{body}");
        body
    };
    assert!(buckets(&daemon).contains("<Name>on-first</Name>"));
    let reload = |lines: String| {
        std::fs::write(&daemon.conf, base_config(&daemon.dir, &lines)).expect("rewrite");
        let out = daemon.command("reload");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    };

    // An upload is half sent when the settings move to the second cluster: it ends on the
    // cluster it started on.
    let size = 1 << 20;
    let body: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
    let head = signed_head_as("PUT", "/on-first/moving", daemon.s3, size, "admin", &token);
    let mut upload = half_sent(&daemon, &head, &body);
    reload(sx_lines(&second, second.port));
    daemon.wait_for_log("errors.log", &format!("(port {}, HTTP)", second.port));
    let listing = buckets(&daemon);
    assert!(listing.contains("<Name>on-second</Name>"), "{listing}");
    assert!(!listing.contains("on-first"), "{listing}");
    upload.write_all(&body[size / 2..]).expect("second half");
    let (status, answer) = read_response(&mut upload);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        first.file("on-first", "moving").map(|(data, _)| data),
        Some(body)
    );

    // A cluster that does not answer: the log says so and the second one stays in use.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    reload(sx_lines(&second, closed));
    daemon.wait_for_log("errors.log", "keeping the running backend settings");
    assert!(
        daemon
            .log("errors.log")
            .contains(&format!("SX cluster at 127.0.0.1 port {closed}: ")),
        "the log names the node it could not reach"
    );
    assert!(buckets(&daemon).contains("<Name>on-second</Name>"));

    // A value that is not one: `reload` refuses the file, naming its line, and signals nothing.
    let broken = sx_lines(&second, second.port).replace("sx_port = ", "sx_port = x");
    std::fs::write(&daemon.conf, base_config(&daemon.dir, &broken)).expect("rewrite");
    let out = daemon.command("reload");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("sx_port: not a port"),
        "{}",
        text(&out.stderr)
    );
    assert!(buckets(&daemon).contains("<Name>on-second</Name>"));
}
