//! The daemon for real: `serve --daemon` with a pid file, logs, signals, a supervisor and
//! the stop/status/reload commands. Every test has its own directory and ports (port 0: the
//! daemon reports what it bound), and waits by polling with a deadline, never by sleeping.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;

const ACCESS_KEY: &str = "LS3DAEMONTESTKEY0001";
const SECRET_KEY: &str = "daemon-test-secret-key-0123456789abcdefgh";

/// The binary under test; `LIBRES3_IT_BIN` overrides it (useful when several worktrees
/// share one target directory and overwrite each other's builds).
fn bin() -> String {
    std::env::var("LIBRES3_IT_BIN")
        .ok()
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_libres3").to_string())
}

/// Polls `check` every 20 ms until it returns Some, or panics naming `what` after `limit`.
fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

fn uid_of(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid}");
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "libres3-it-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        // The run-as test's worker (nobody) must reach the files inside, whatever the umask.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One daemon, configured by a file in its own directory.
struct Daemon {
    dir: PathBuf,
    conf: PathBuf,
    s3: SocketAddr,
    admin: SocketAddr,
    /// What `serve` printed (the listening addresses).
    stdout: String,
}

fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write file");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

fn base_config(dir: &Path, extra: &str) -> String {
    format!(
        "# written by tests/it/daemon.rs\n\
         data_dir = {dir}/data\n\
         s3_listen_ip = 127.0.0.1\n\
         s3_http_port = 0\n\
         admin_listen = 127.0.0.1:0\n\
         pidfile = {dir}/run/libres3.pid\n\
         logdir = {dir}/log\n\
         daemonize = yes\n\
         shutdown_timeout = 20\n\
         {extra}",
        dir = dir.display()
    )
}

fn libres3(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env("LIBRES3_ACCESS_KEY", ACCESS_KEY)
        .env("LIBRES3_SECRET_KEY", SECRET_KEY)
        .env_remove("RUST_LOG")
        .output()
        .expect("run libres3")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The address after `prefix` in the daemon's start-up output.
fn address(stdout: &str, prefix: &str) -> SocketAddr {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {prefix:?} line in {stdout:?}"))
}

impl Daemon {
    /// Starts a daemon in `scratch`, which must outlive it (declare it first).
    fn start(scratch: &Scratch, extra: &str) -> Daemon {
        Daemon::start_with(scratch, &base_config(&scratch.0, extra))
    }

    /// Starts a daemon on the configuration text `config`.
    fn start_with(scratch: &Scratch, config: &str) -> Daemon {
        let dir = scratch.0.clone();
        let conf = dir.join("libres3.conf");
        write_private(&conf, config);
        let out = libres3(&["serve", "--config", conf.to_str().unwrap_or_default()]);
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "serve --daemon failed: {}\n{stdout}",
            text(&out.stderr)
        );
        let s3 = address(&stdout, "libres3: listening on http://");
        let admin = address(&stdout, "libres3: admin endpoint on http://");
        Daemon {
            dir,
            conf,
            s3,
            admin,
            stdout,
        }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }

    fn command(&self, word: &str) -> Output {
        libres3(&[word, "--config", self.conf.to_str().unwrap_or_default()])
    }

    fn supervisor_pid(&self) -> u32 {
        let text = std::fs::read_to_string(self.path("run/libres3.pid")).expect("read pid file");
        text.trim().parse().expect("pid in pid file")
    }

    fn worker_pid(&self) -> u32 {
        let (status, body) = get(self.admin, "/health");
        assert_eq!(status, 200, "{body}");
        let pid = body
            .split("\"pid\":")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|digits| digits.parse().ok());
        pid.unwrap_or_else(|| panic!("no pid in {body}"))
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(&format!("log/{name}"))).unwrap_or_default()
    }

    fn wait_for_log(&self, name: &str, needle: &str) {
        wait_for(
            &format!("{needle:?} in {name}"),
            Duration::from_secs(15),
            || self.log(name).contains(needle).then_some(()),
        );
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- {} errors.log:\n{}",
                self.dir.display(),
                self.log("errors.log")
            );
        }
        let _ = self.command("stop");
    }
}

/// One request on a fresh connection; returns the status and the body.
fn request(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    stream.write_all(head.as_bytes()).expect("send head");
    stream.write_all(body).expect("send body");
    read_response(&mut stream)
}

fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let answer = text(&raw);
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
        b"",
    )
}

/// A SigV2-signed request head (the test signs on its own, sharing no code with the server).
fn signed_head(method: &str, path: &str, addr: SocketAddr, length: usize) -> String {
    signed_head_as(method, path, addr, length, ACCESS_KEY, SECRET_KEY)
}

fn signed_head_as(
    method: &str,
    path: &str,
    addr: SocketAddr,
    length: usize,
    access_key: &str,
    secret_key: &str,
) -> String {
    let date = http_date_now();
    let to_sign = format!("{method}\n\napplication/octet-stream\n{date}\n{path}");
    let key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        secret_key.as_bytes(),
    );
    let signature = base64::engine::general_purpose::STANDARD
        .encode(ring::hmac::sign(&key, to_sign.as_bytes()).as_ref());
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nDate: {date}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {length}\r\n\
         Authorization: AWS {access_key}:{signature}\r\nConnection: close\r\n\r\n"
    )
}

fn http_date_now() -> String {
    let out = Command::new("date")
        .args(["-u", "+%a, %d %b %Y %H:%M:%S GMT"])
        .env("LC_ALL", "C")
        .output()
        .expect("run date");
    text(&out.stdout).trim().to_string()
}

#[test]
fn pidfile_lock_status_and_stop() {
    let scratch = Scratch::new("pidfile");
    let daemon = Daemon::start(&scratch, "");
    let pid = daemon.supervisor_pid();
    let status = daemon.command("status");
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stderr));
    assert!(text(&status.stdout).contains(&pid.to_string()));
    assert_eq!(get(daemon.s3, "/").0, 403, "anonymous ListBuckets");

    // A second instance on the same pid file refuses and names the running pid.
    let second = libres3(&[
        "serve",
        "--config",
        daemon.conf.to_str().unwrap_or_default(),
    ]);
    assert_eq!(second.status.code(), Some(1));
    let message = text(&second.stderr);
    assert!(
        message.contains(&format!("already running as pid {pid}")),
        "{message}"
    );

    let stop = daemon.command("stop");
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop.stderr));
    assert_eq!(daemon.command("status").status.code(), Some(3));
    assert_eq!(
        daemon.command("stop").status.code(),
        Some(0),
        "stop when stopped"
    );
    assert_eq!(daemon.command("reload").status.code(), Some(7));
    assert!(!daemon.path("run/libres3.pid").exists());
    assert!(daemon.log("errors.log").contains("exiting"));
}

#[test]
fn start_failure_is_reported_by_the_parent() {
    let dir = Scratch::new("startfail");
    // A data directory that is a file: the worker fails to open the store.
    std::fs::write(dir.0.join("data"), b"not a directory").expect("write");
    let conf = dir.0.join("libres3.conf");
    write_private(&conf, &base_config(&dir.0, ""));
    let out = libres3(&["serve", "--config", conf.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("libres3: "),
        "{}",
        text(&out.stderr)
    );
    let status = libres3(&["status", "--config", conf.to_str().unwrap_or_default()]);
    assert_eq!(status.status.code(), Some(3));
}

#[test]
fn check_config_names_file_line_and_key() {
    let dir = Scratch::new("check");
    let conf = dir.0.join("libres3.conf");
    write_private(&conf, "s3_http_port = 8008\n\nmax_parallel = lots\n");
    let out = libres3(&[
        "check-config",
        "--config",
        conf.to_str().unwrap_or_default(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let message = text(&out.stderr);
    assert!(
        message.contains(&format!("{}:3: max_parallel", conf.display())),
        "{message}"
    );
    write_private(&conf, "s3_htp_port = 1\n");
    let message = text(
        &libres3(&[
            "check-config",
            "--config",
            conf.to_str().unwrap_or_default(),
        ])
        .stderr,
    );
    assert!(
        message.contains(":1: unknown key \"s3_htp_port\""),
        "{message}"
    );

    write_private(&conf, "s3_http_port = 8008\nsx_host = sx.example.com\n");
    let out = libres3(&[
        "check-config",
        "--config",
        conf.to_str().unwrap_or_default(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("sx_host = sx.example.com"));

    // A file holding a secret must not be readable by others.
    std::fs::write(&conf, "secret_key = x\n").expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = libres3(&[
        "check-config",
        "--config",
        conf.to_str().unwrap_or_default(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("readable by group or others"));
}

#[test]
fn worker_drops_privileges() {
    if !is_root() {
        println!("skipped: dropping privileges needs the tests to run as root");
        return;
    }
    let nobody = Command::new("id")
        .args(["-u", "nobody"])
        .output()
        .expect("id");
    let Ok(uid) = text(&nobody.stdout).trim().parse::<u32>() else {
        println!("skipped: there is no user nobody");
        return;
    };
    let scratch = Scratch::new("runas");
    let daemon = Daemon::start(&scratch, "run-as = nobody\n");
    let worker = daemon.worker_pid();
    assert_eq!(uid_of(worker), Some(uid), "the worker runs as nobody");
    // The supervisor keeps root to re-read the 0600 file and reopen logs; it serves nothing.
    assert_eq!(uid_of(daemon.supervisor_pid()), Some(0));
    // And the worker can use what the daemon created for it.
    let head = signed_head("PUT", "/runas-bucket", daemon.s3, 0);
    assert_eq!(request(daemon.s3, &head, b"").0, 200);
    // SIGHUP works although the worker cannot read the 0600 file itself.
    std::fs::write(
        &daemon.conf,
        base_config(&daemon.dir, "run-as = nobody\nlog_level = debug\n"),
    )
    .expect("rewrite");
    assert_eq!(daemon.command("reload").status.code(), Some(0));
    daemon.wait_for_log("errors.log", "SIGHUP: reloaded");
}

#[test]
fn sighup_applies_a_good_file_and_refuses_a_broken_one() {
    let scratch = Scratch::new("sighup");
    let daemon = Daemon::start(&scratch, "max_object_size = 1M\n");
    let put = |size: usize| {
        let head = signed_head("PUT", "/hup-bucket/k", daemon.s3, size);
        request(daemon.s3, &head, &vec![b'x'; size])
    };
    let head = signed_head("PUT", "/hup-bucket", daemon.s3, 0);
    assert_eq!(request(daemon.s3, &head, b"").0, 200);
    assert_eq!(put(100).0, 200);

    std::fs::write(
        &daemon.conf,
        base_config(&daemon.dir, "max_object_size = 10\n"),
    )
    .expect("rewrite");
    assert_eq!(daemon.command("reload").status.code(), Some(0));
    daemon.wait_for_log("errors.log", "max_object_size 10,");
    let (status, body) = put(100);
    assert_eq!(status, 400);
    assert!(body.contains("EntityTooLarge"), "{body}");

    // A broken file: `reload` says so; a raw SIGHUP is refused and logged; the old
    // settings stay.
    std::fs::write(
        &daemon.conf,
        base_config(&daemon.dir, "max_object_size = big\n"),
    )
    .expect("rewrite");
    let reload = daemon.command("reload");
    assert_eq!(reload.status.code(), Some(1));
    assert!(text(&reload.stderr).contains("max_object_size"));
    signal(daemon.supervisor_pid(), "HUP");
    daemon.wait_for_log("errors.log", "keeping the running one");
    assert_eq!(put(100).0, 400);
    assert_eq!(put(5).0, 200);
}

#[test]
fn sigusr1_reopens_moved_logs() {
    let scratch = Scratch::new("usr1");
    let daemon = Daemon::start(&scratch, "");
    // Anonymous, on a bucket that does not exist: NoSuchBucket, and a line in access.log.
    assert_eq!(get(daemon.s3, "/first").0, 404);
    daemon.wait_for_log("access.log", "/first");
    std::fs::rename(
        daemon.path("log/access.log"),
        daemon.path("log/access.log.1"),
    )
    .expect("move log");
    std::fs::rename(
        daemon.path("log/errors.log"),
        daemon.path("log/errors.log.1"),
    )
    .expect("move log");
    signal(daemon.supervisor_pid(), "USR1");
    daemon.wait_for_log("errors.log", "reopened the log files");
    assert_eq!(get(daemon.s3, "/second").0, 404);
    daemon.wait_for_log("access.log", "/second");
    let old = std::fs::read_to_string(daemon.path("log/access.log.1")).expect("old log");
    assert!(old.contains("/first") && !old.contains("/second"), "{old}");
    // Apache combined, then the request id, the operation and the duration.
    let line = daemon.log("access.log");
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    assert!(line.contains("\"GET /second HTTP/1.1\" 404 "), "{line}");
    assert!(line.trim_end().ends_with("ms"), "{line}");
}

#[test]
fn a_killed_worker_is_restarted() {
    let scratch = Scratch::new("restart");
    let daemon = Daemon::start(&scratch, "");
    let first = daemon.worker_pid();
    signal(first, "KILL");
    wait_for("a new worker", Duration::from_secs(20), || {
        let (status, body) = get_quietly(daemon.admin, "/health")?;
        (status == 200 && !body.contains(&format!("\"pid\":{first},"))).then_some(())
    });
    assert_ne!(daemon.worker_pid(), first);
    assert_eq!(get(daemon.s3, "/").0, 403, "S3 answers again");
    daemon.wait_for_log(
        "errors.log",
        &format!("worker {first} died (killed by SIGKILL)"),
    );
    assert_eq!(daemon.command("status").status.code(), Some(0));
}

/// The encryption key is root's 0600 file: the daemon reads it before its worker drops to the
/// run-as user (who could not read it), and keeps it for the workers it restarts.
#[test]
fn encryption_key_outlives_privilege_drop_and_restarts() {
    let scratch = Scratch::new("enckey");
    let key = scratch.0.join("store.key");
    write_private(
        &key,
        "3f1c6a0e9b2d4f5a7c8e1b3d5f7a9c0e2b4d6f8a1c3e5b7d9f0a2c4e6b8d0f1a\n",
    );
    let nobody = Command::new("id")
        .args(["-u", "nobody"])
        .output()
        .ok()
        .and_then(|out| text(&out.stdout).trim().parse::<u32>().ok())
        .filter(|_| is_root());
    let run_as = if nobody.is_some() {
        "run-as = nobody\n"
    } else {
        println!("not root or no user nobody: checking restarts only");
        ""
    };
    let daemon = Daemon::start(
        &scratch,
        &format!("encryption_key_file = {}\n{run_as}", key.display()),
    );
    daemon.wait_for_log("errors.log", "encryption at rest is on");
    let first = daemon.worker_pid();
    if let Some(uid) = nobody {
        assert_eq!(uid_of(first), Some(uid), "the worker runs as nobody");
    }
    let head = signed_head("PUT", "/enc-bucket", daemon.s3, 0);
    assert_eq!(request(daemon.s3, &head, b"").0, 200);
    let body = "sealed by a daemon worker\n".repeat(5000);
    let head = signed_head("PUT", "/enc-bucket/k", daemon.s3, body.len());
    assert_eq!(request(daemon.s3, &head, body.as_bytes()).0, 200);

    signal(first, "KILL");
    wait_for("a new worker", Duration::from_secs(20), || {
        let (status, body) = get_quietly(daemon.admin, "/health")?;
        (status == 200 && !body.contains(&format!("\"pid\":{first},"))).then_some(())
    });
    let (status, got) = request(
        daemon.s3,
        &signed_head("GET", "/enc-bucket/k", daemon.s3, 0),
        b"",
    );
    assert_eq!(status, 200, "{got}");
    assert!(got == body, "the restarted worker read other bytes");
}

fn get_quietly(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    let (status, body) = read_response(&mut stream);
    (status != 0).then_some((status, body))
}

/// An upload with its head and the first half of `body` sent, once the daemon counts it in
/// flight; the caller sends the rest.
fn half_sent(daemon: &Daemon, head: &str, body: &[u8]) -> TcpStream {
    let mut upload = TcpStream::connect(daemon.s3).expect("connect");
    upload
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    upload.write_all(head.as_bytes()).expect("head");
    upload
        .write_all(&body[..body.len() / 2])
        .expect("first half");
    wait_for(
        "the upload to be in flight",
        Duration::from_secs(10),
        || {
            let (_, stats) = get(daemon.admin, "/stats");
            stats.contains("\"in_flight_uploads\":1").then_some(())
        },
    );
    upload
}

#[test]
fn sigterm_drains_an_upload_in_flight() {
    let scratch = Scratch::new("drain");
    let daemon = Daemon::start(&scratch, "");
    let head = signed_head("PUT", "/drain-bucket", daemon.s3, 0);
    assert_eq!(request(daemon.s3, &head, b"").0, 200);

    let size = 1 << 20;
    let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let head = signed_head("PUT", "/drain-bucket/big", daemon.s3, size);
    let mut upload = half_sent(&daemon, &head, &body);

    let supervisor = daemon.supervisor_pid();
    signal(supervisor, "TERM");
    // The port closes for new connections while the upload goes on.
    wait_for("the port to close", Duration::from_secs(10), || {
        TcpStream::connect(daemon.s3).is_err().then_some(())
    });
    upload.write_all(&body[size / 2..]).expect("second half");
    let (status, answer) = read_response(&mut upload);
    assert_eq!(status, 200, "{answer}");
    wait_for("the daemon to exit", Duration::from_secs(30), || {
        (daemon.command("status").status.code() == Some(3)).then_some(())
    });
    daemon.wait_for_log("errors.log", "stopped (exit code 0); exiting");

    // Nothing lost: a new daemon on the same data serves the object whole.
    drop(daemon);
    let again = Daemon::start(&scratch, "");
    let mut stream = TcpStream::connect(again.s3).expect("connect");
    stream
        .write_all(signed_head("GET", "/drain-bucket/big", again.s3, 0).as_bytes())
        .expect("get");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    assert!(text(&raw[..split]).starts_with("HTTP/1.1 200"));
    assert!(raw[split + 4..] == body[..], "the object came back whole");
}

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
    let scratch = Scratch::new("tls");
    let Some((cert, key)) = self_signed(&scratch.0, "first") else {
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
    let Some((cert2, key2)) = self_signed(&scratch.0, "second") else {
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

#[test]
fn admin_endpoint_reports_stats_and_metrics() {
    let scratch = Scratch::new("admin");
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
    let scratch = Scratch::new("adminauth");
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
        &base_config(&daemon.dir, "admin_auth = ops:second\n"),
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
    let scratch = Scratch::new("health");
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
        &base_config(&daemon.dir, "admin_listen = off\n")
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

#[test]
fn sx_backend_state_follows_its_nodes() {
    let mut fake = crate::sx_fake::FakeSx::start(2);
    let scratch = Scratch::new("sxstate");
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
    let scratch = Scratch::new("sxreload");
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

/// Starts a daemon on the file `libres3 setup` wrote, with its pid file and logs in `scratch`;
/// asserts that it started.
fn serve_setup_config(scratch: &Scratch, conf: &Path) -> Output {
    let mut file = std::fs::read_to_string(conf).expect("conf");
    file.push_str(&format!(
        "pidfile = {dir}/run/libres3.pid\nlogdir = {dir}/log\ndaemonize = yes\n",
        dir = scratch.0.display()
    ));
    write_private(conf, &file);
    let out = libres3(&["serve", "--config", conf.to_str().unwrap_or_default()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    out
}

#[test]
fn setup_batch_writes_a_working_configuration() {
    let scratch = Scratch::new("setup");
    let conf = scratch.0.join("etc/libres3.conf");
    let conf_arg = conf.to_str().unwrap_or_default();
    let data = scratch.0.join("data");
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
        let mode = std::fs::metadata(scratch.0.join("etc").join(name))
            .expect(name)
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    let s3cmd = std::fs::read_to_string(scratch.0.join("etc/s3cmd.cfg")).expect("s3cmd.cfg");
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

/// Reads the answer to the end, and says whether the server closed the connection (an
/// open connection runs into the read timeout instead).
fn read_until_closed(stream: &mut TcpStream) -> (u16, String, bool) {
    let mut raw = Vec::new();
    let closed = stream.read_to_end(&mut raw).is_ok();
    let answer = text(&raw);
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer, closed)
}

#[test]
fn a_client_that_stops_sending_its_body_is_cut_off() {
    let scratch = Scratch::new("slowbody");
    let daemon = Daemon::start(&scratch, "client_body_timeout = 1\n");
    let head = signed_head("PUT", "/slow-bucket", daemon.s3, 0);
    assert_eq!(request(daemon.s3, &head, b"").0, 200);

    // 12 MiB announced, 6 MiB sent (a 4 MiB block reaches the disk), then silence. The
    // default timeout (60 s) would outlast the 30 s this client waits: only the configured
    // one can answer in time.
    let size = 12 << 20;
    let mut upload = TcpStream::connect(daemon.s3).expect("connect");
    upload
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    upload
        .write_all(signed_head("PUT", "/slow-bucket/stalled", daemon.s3, size).as_bytes())
        .expect("head");
    upload
        .write_all(&vec![b's'; size / 2])
        .expect("half the body");
    let (status, answer, closed) = read_until_closed(&mut upload);
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("<Code>RequestTimeout</Code>"), "{answer}");
    assert!(
        answer.contains("not read from or written to within the timeout period"),
        "{answer}"
    );
    assert!(closed, "the connection stays open after the timeout");

    // Nothing visible, nothing left behind, and the daemon serves on.
    let head = signed_head("GET", "/slow-bucket/stalled", daemon.s3, 0);
    let (status, body) = request(daemon.s3, &head, b"");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("NoSuchKey"), "{body}");
    wait_for("the upload's blocks to go", Duration::from_secs(15), || {
        let left: Vec<PathBuf> = ["data/blocks", "data/tmp"]
            .iter()
            .flat_map(|d| crate::common::files_under(&[daemon.path(d)]))
            .collect();
        left.is_empty().then_some(())
    });
    let (_, stats) = get(daemon.admin, "/stats");
    assert!(stats.contains("\"in_flight_uploads\":0"), "{stats}");
    let head = signed_head("PUT", "/slow-bucket/after", daemon.s3, 5);
    assert_eq!(request(daemon.s3, &head, b"after").0, 200);
    daemon.wait_for_log("access.log", "\"PUT /slow-bucket/stalled HTTP/1.1\" 400 ");
}

#[test]
fn a_client_that_stops_sending_its_headers_is_cut_off() {
    let scratch = Scratch::new("slowhead");
    let daemon = Daemon::start(&scratch, "client_request_timeout = 1\n");
    let mut slow = TcpStream::connect(daemon.s3).expect("connect");
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    slow.write_all(b"PUT /slow-head/k HTTP/1.1\r\nHost: x\r\nContent-Le")
        .expect("part of a head");
    let (status, answer, closed) = read_until_closed(&mut slow);
    // S3's answer to a request that stalled: 400 RequestTimeout, as XML.
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("<Code>RequestTimeout</Code>"), "{answer}");
    assert!(closed, "the connection stays open after the timeout");
    assert_eq!(get(daemon.s3, "/").0, 403, "still serving");
}

#[test]
fn status_tells_a_dead_daemon_from_a_stopped_one() {
    let scratch = Scratch::new("stale");
    let daemon = Daemon::start(&scratch, "");
    let worker = daemon.worker_pid();
    let supervisor = daemon.supervisor_pid();
    // Both killed without a chance to clean up: the pid file stays, nobody holds its lock.
    signal(supervisor, "KILL");
    signal(worker, "KILL");
    wait_for("the lock to go", Duration::from_secs(15), || {
        (daemon.command("status").status.code() != Some(0)).then_some(())
    });
    assert!(daemon.path("run/libres3.pid").exists());
    let status = daemon.command("status");
    // LSB: 1 = "program is dead and /var/run pid file exists".
    assert_eq!(status.status.code(), Some(1), "{}", text(&status.stdout));
    assert!(
        text(&status.stdout).contains(&format!("still names pid {supervisor}")),
        "{}",
        text(&status.stdout)
    );
    assert_eq!(daemon.command("reload").status.code(), Some(7));
    // stop clears it (signalling nobody: the pid may be another program's by now).
    let stop = daemon.command("stop");
    assert_eq!(stop.status.code(), Some(0), "{}", text(&stop.stderr));
    assert!(text(&stop.stdout).contains("stale pid file"));
    assert!(!daemon.path("run/libres3.pid").exists());
    assert_eq!(daemon.command("status").status.code(), Some(3));
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
    let scratch = Scratch::new("setuptls");
    let conf = scratch.0.join("etc/libres3.conf");
    let conf_arg = conf.to_str().unwrap_or_default();
    let data = scratch.0.join("data");
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
    let cert = scratch.0.join("etc/libres3-cert.pem");
    let key = scratch.0.join("etc/libres3-key.pem");
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
    let s3cmd = std::fs::read_to_string(scratch.0.join("etc/s3cmd.cfg")).expect("s3cmd.cfg");
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
    let scratch = Scratch::new("setupsx");
    let conf = scratch.0.join("libres3.conf");
    let conf_arg = conf.to_str().unwrap_or_default();
    let key_file = scratch.0.join("sx-admin.key");
    write_private(&key_file, &format!("{}\n", fake.admin_token));
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
    write_private(&key_file, &wrong.into_iter().collect::<String>());
    let out = setup(&port);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not a valid admin key"),
        "{}",
        text(&out.stderr)
    );
    assert!(!conf.exists());

    write_private(&key_file, &format!("{}\n", fake.admin_token));
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
    let s3cmd = std::fs::read_to_string(scratch.0.join("s3cmd.cfg")).expect("s3cmd.cfg");
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

/// Reads one response (head and Content-Length body) and leaves the connection open.
fn read_one_response(stream: &mut TcpStream) -> std::io::Result<(u16, String)> {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        raw.push(byte[0]);
    }
    let head = text(&raw);
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body)?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, text(&body)))
}

#[test]
fn limits_answer_with_their_s3_errors() {
    let scratch = Scratch::new("limits");
    let daemon = Daemon::start(&scratch, "max_header_size = 1K\nmax_object_size = 3M\n");
    let head = signed_head("PUT", "/lim-bucket", daemon.s3, 0);
    assert_eq!(request(daemon.s3, &head, b"").0, 200);

    // Headers: the configured cap, then a larger one from a reload.
    let filler = format!("X-Filler: {}\r\n", "f".repeat(1500));
    let big_head = |daemon: &Daemon| {
        signed_head("GET", "/lim-bucket", daemon.s3, 0).replacen(
            "\r\n",
            &format!("\r\n{filler}"),
            1,
        )
    };
    let (status, body) = request(daemon.s3, &big_head(&daemon), b"");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("RequestHeaderSectionTooLarge"), "{body}");
    // Objects: one byte over the cap. The server may answer from the declared length
    // before the body is in: send it on the side, and let it fail if the server has closed.
    let early = |head: String, size: usize| {
        let mut stream = TcpStream::connect(daemon.s3).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        stream.write_all(head.as_bytes()).expect("head");
        let mut writer = stream.try_clone().expect("clone");
        let sending = std::thread::spawn(move || writer.write_all(&vec![b' '; size]).is_ok());
        let answer = read_response(&mut stream);
        let _ = sending.join();
        answer
    };
    let size = (3 << 20) + 1;
    let (status, body) = early(signed_head("PUT", "/lim-bucket/k", daemon.s3, size), size);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("EntityTooLarge"), "{body}");
    let head = signed_head("PUT", "/lim-bucket/k", daemon.s3, 1024);
    assert_eq!(request(daemon.s3, &head, &[b'o'; 1024]).0, 200);

    // XML bodies: CreateBucket takes 64 KiB, DeleteObjects 2 MiB.
    let head = signed_head("PUT", "/lim-bucket2", daemon.s3, 65537);
    let (status, body) = request(daemon.s3, &head, &vec![b' '; 65537]);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("MaxMessageLengthExceeded"), "{body}");
    let size = 2 * 1024 * 1024 + 1;
    let (status, body) = early(
        signed_head("POST", "/lim-bucket?delete", daemon.s3, size),
        size,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("MaxMessageLengthExceeded"), "{body}");

    write_private(
        &daemon.conf,
        &base_config(&daemon.dir, "max_header_size = 4K\nmax_object_size = 3M\n"),
    );
    assert_eq!(daemon.command("reload").status.code(), Some(0));
    daemon.wait_for_log("errors.log", "max_header_size 4096,");
    assert_eq!(request(daemon.s3, &big_head(&daemon), b"").0, 200);
}

#[test]
fn max_parallel_holds_further_connections_back() {
    let scratch = Scratch::new("parallel");
    let daemon = Daemon::start(&scratch, "workers = 1\nmax_parallel = 1\n");
    let open = || {
        let stream = TcpStream::connect(daemon.s3).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        stream
    };
    let ask = b"GET /parallel HTTP/1.1\r\nHost: x\r\n\r\n";
    // The one connection allowed, served and kept alive.
    let mut first = open();
    first.write_all(ask).expect("ask");
    assert_eq!(read_one_response(&mut first).expect("answer").0, 404);
    // A second connection waits in the kernel's queue: no answer while the first is open.
    let mut second = open();
    second.write_all(ask).expect("ask");
    second
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let early = read_one_response(&mut second);
    assert!(
        early.as_ref().is_err_and(|e| matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )),
        "the second connection was served beside the first: {early:?}"
    );
    // Once the first closes, the second is served, and the daemon is fine.
    drop(first);
    second
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    assert_eq!(read_one_response(&mut second).expect("answer").0, 404);
    drop(second);
    assert_eq!(get(daemon.s3, "/").0, 403);
}

#[test]
fn shutdown_timeout_bounds_the_drain() {
    let scratch = Scratch::new("draincap");
    // No body timeout: only shutdown_timeout can end the stalled upload below.
    let text = base_config(&scratch.0, "client_body_timeout = 0\n")
        .replace("shutdown_timeout = 20\n", "shutdown_timeout = 1\n");
    let daemon = Daemon::start_with(&scratch, &text);
    let head = signed_head("PUT", "/cap-bucket", daemon.s3, 0);
    assert_eq!(request(daemon.s3, &head, b"").0, 200);
    let mut upload = TcpStream::connect(daemon.s3).expect("connect");
    upload
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    upload
        .write_all(signed_head("PUT", "/cap-bucket/stalled", daemon.s3, 1000).as_bytes())
        .expect("head");
    upload.write_all(&[b'x'; 10]).expect("some of the body");
    wait_for(
        "the upload to be in flight",
        Duration::from_secs(10),
        || {
            let (_, stats) = get(daemon.admin, "/stats");
            stats.contains("\"in_flight_uploads\":1").then_some(())
        },
    );
    signal(daemon.supervisor_pid(), "TERM");
    // The default (30 s) would outlast this wait; the configured second does not.
    wait_for("the daemon to exit", Duration::from_secs(20), || {
        (daemon.command("status").status.code() == Some(3)).then_some(())
    });
    daemon.wait_for_log("errors.log", "stopped (exit code 0); exiting");
    let (_, _, closed) = read_until_closed(&mut upload);
    assert!(closed, "the stalled upload's connection was closed");
}

#[test]
fn a_slow_head_on_a_kept_alive_connection_is_cut_off() {
    let scratch = Scratch::new("slowka");
    // keep_alive longer than client_request_timeout: actix's keep-alive timer, which sees no
    // byte of a head still held by the guard, would otherwise close the connection silently.
    let daemon = Daemon::start(&scratch, "client_request_timeout = 1\nkeep_alive = 5\n");
    let mut stream = TcpStream::connect(daemon.s3).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    // A first request, answered; the connection stays open for the next.
    stream
        .write_all(b"GET /kept-alive HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("ask");
    assert_eq!(read_one_response(&mut stream).expect("answer").0, 404);
    // The next head never completes. actix's own timers do not cover it; the connection
    // guard answers it 400 RequestTimeout client_request_timeout after its first byte, and
    // closes the connection.
    stream
        .write_all(b"GET / HTTP/1.1\r\nHo")
        .expect("part of a head");
    let (status, answer, closed) = read_until_closed(&mut stream);
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("<Code>RequestTimeout</Code>"), "{answer}");
    assert!(closed, "the connection stays open: {answer:?}");
    assert_eq!(get(daemon.s3, "/").0, 403, "still serving");
    daemon.wait_for_log("errors.log", "Your request head did not arrive within 1 s");
}

#[test]
fn a_slow_but_steady_upload_outlasts_every_timeout() {
    let scratch = Scratch::new("steady");
    let daemon = Daemon::start(
        &scratch,
        "client_body_timeout = 2\nclient_request_timeout = 1\nkeep_alive = 1\n",
    );
    let head = signed_head("PUT", "/steady-bucket", daemon.s3, 0);
    assert_eq!(request(daemon.s3, &head, b"").0, 200);
    // 8 pieces 400 ms apart: over 3 s in all, more than any of the limits above (the
    // watchdog's is 2 s), while no pause comes near client_body_timeout. (The pauses are the
    // slow link being simulated.)
    let pieces: Vec<Vec<u8>> = (0..8u8).map(|i| vec![b'a' + i; 1000]).collect();
    let mut upload = TcpStream::connect(daemon.s3).expect("connect");
    upload
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    upload
        .write_all(signed_head("PUT", "/steady-bucket/slow", daemon.s3, 8000).as_bytes())
        .expect("head");
    for piece in &pieces {
        std::thread::sleep(Duration::from_millis(400));
        upload.write_all(piece).expect("a piece");
    }
    let (status, answer) = read_response(&mut upload);
    assert_eq!(status, 200, "{answer}");
    let head = signed_head("GET", "/steady-bucket/slow", daemon.s3, 0);
    let (status, body) = request(daemon.s3, &head, b"");
    assert_eq!(status, 200);
    assert_eq!(body.as_bytes(), pieces.concat(), "the object came whole");
}
