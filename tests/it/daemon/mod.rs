//! The daemon for real: `serve --daemon` with a pid file, logs, signals, a supervisor and
//! the stop/status/reload commands. Every test has its own directory and ports (port 0: the
//! daemon reports what it bound), and waits by polling with a deadline, never by sleeping.
//!
//! This module holds the fixture (one daemon configured by a file in its own directory) and
//! the raw-socket requests the tests send; the tests are grouped by concept below.

mod admin;
mod config_errors;
mod limits;
mod pidfile;
mod run_as;
mod setup;
mod signals;
mod supervisor;
mod sx_backend;
mod tls;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::common::raw::{Auth, Creds, RawClient};
use crate::common::{libres3_bin, wait_for, write_private, TempDir};

const ACCESS_KEY: &str = "LS3DAEMONTESTKEY0001";
const SECRET_KEY: &str = "daemon-test-secret-key-0123456789abcdefgh";

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid}");
}

/// A scratch directory for one daemon, removed on drop.
fn scratch_dir(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    // The run-as test's worker (nobody) must reach the files inside, whatever the umask.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
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

fn base_config(dir: &Path, extra: &str) -> String {
    format!(
        "# written by tests/it/daemon/mod.rs\n\
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
    Command::new(libres3_bin())
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
    fn start(scratch: &TempDir, extra: &str) -> Daemon {
        Daemon::start_with(scratch, &base_config(scratch.path(), extra))
    }

    /// Starts a daemon on the configuration text `config`.
    fn start_with(scratch: &TempDir, config: &str) -> Daemon {
        let dir = scratch.path().to_path_buf();
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

/// The status and body of what the server sent until it closed (status 0 when it sent
/// nothing readable: a caller polling a restarting daemon treats that as "not yet").
fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let answer = text(&raw);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status_of(&answer), body)
}

/// The status code on the status line of `answer`, 0 if there is none.
fn status_of(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
        b"",
    )
}

/// A SigV2-signed request head declaring a body of `length` bytes, signed by the tests'
/// own signer (`common::raw`, which shares no code with the server).
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
    RawClient::new(addr, Creds::new(access_key, secret_key))
        .req(method, path)
        .auth(Auth::V2)
        .header("Content-Type", "application/octet-stream")
        .header("Content-Length", &length.to_string())
        .prepare()
        .head()
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

/// Reads the answer to the end, and says whether the server closed the connection (an
/// open connection runs into the read timeout instead).
fn read_until_closed(stream: &mut TcpStream) -> (u16, String, bool) {
    let mut raw = Vec::new();
    let closed = stream.read_to_end(&mut raw).is_ok();
    let answer = text(&raw);
    (status_of(&answer), answer, closed)
}
