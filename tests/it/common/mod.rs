//! Shared helpers of the integration tests: the `TestServer` fixture, temporary
//! directories, unique bucket names, test data and small XML helpers.
//!
//! Nothing here uses the server's own code: the tests only see the binary.

#![allow(dead_code)] // not every test module uses every helper

pub mod clients;
pub mod raw;
pub mod scan;
pub mod sx;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use md5::{Digest, Md5};

pub use raw::{Creds, RawClient, Response};
pub use scan::{files_containing, files_under};
pub use sx::SxCluster;

/// Credentials of the first user of every test server.
pub const ACCESS_KEY: &str = "AKIALIBRES3TESTADMIN";
pub const SECRET_KEY: &str = "libres3/test/SecretKey+0123456789abcdefgh";

/// How long a server may take to print its listening lines.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The path of the binary under test: the one cargo built, unless
/// `LIBRES3_IT_BIN` names another (e.g. a release or packaged build).
/// (An empty value counts as unset.)
pub fn libres3_bin() -> String {
    std::env::var("LIBRES3_IT_BIN")
        .ok()
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_libres3").to_string())
}

/// Polls `check` every 20 ms until it returns Some, or panics naming `what` after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn next_id() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// Four random bytes in hex, so that names made by different processes differ.
pub fn random_suffix() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 4];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .expect("system randomness");
    hex(&b)
}

/// A directory removed (with its contents) on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(what: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "libres3-it-{what}-{}-{}-{}",
            std::process::id(),
            next_id(),
            random_suffix()
        ));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.path.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A bucket name unique to this test and process, valid by S3's naming rules.
pub fn unique_bucket(test: &str) -> String {
    let mut prefix: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    prefix.truncate(36);
    let prefix = prefix.trim_matches('-');
    format!(
        "{prefix}-{}-{}-{}",
        std::process::id() % 100_000,
        next_id(),
        random_suffix()
    )
}

/// Deterministic pseudo-random bytes (xorshift64*), fast enough for tens of MiB.
pub fn test_data(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

pub fn md5_bytes(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

pub fn md5_hex(data: &[u8]) -> String {
    hex(&md5_bytes(data))
}

/// The ETag S3 gives an object written by a single PUT: the quoted hex MD5.
pub fn etag_of(data: &[u8]) -> String {
    format!("\"{}\"", md5_hex(data))
}

/// The ETag of a multipart object: `"<md5 of the binary part MD5s>-<N>"`.
pub fn multipart_etag<P: AsRef<[u8]>>(parts: &[P]) -> String {
    let mut all = Vec::with_capacity(parts.len() * 16);
    for p in parts {
        all.extend_from_slice(&md5_bytes(p.as_ref()));
    }
    format!("\"{}-{}\"", md5_hex(&all), parts.len())
}

/// Where a test server keeps its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The embedded store, in the server's temporary data directory.
    Embedded,
    /// An SX cluster ([`SxCluster`]): the fake one, or a real one when configured.
    Sx,
}

/// Instantiates test bodies written once as `fn name(s: &TestServer)` for both backends:
/// `embedded::name` runs on the process's shared embedded server, `sx::name` on a server of
/// its own in front of an SX cluster (the fake of `tests/it/sx_fake/`, or the real cluster of
/// `LIBRES3_TEST_SX_URL`). Run one side with `-E 'test(/::sx::/)'`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        mod embedded {
            $(
                #[test]
                fn $name() {
                    super::$name($crate::common::TestServer::shared())
                }
            )+
        }
        mod sx {
            $(
                #[test]
                fn $name() {
                    super::$name(&$crate::common::TestServer::start_sx())
                }
            )+
        }
    };
}

/// Options of a test server.
#[derive(Clone, Debug)]
pub struct ServerOpts {
    pub backend: Backend,
    pub listeners: usize,
    pub data_dirs: usize,
    pub s3_host: Option<String>,
    pub access_key: String,
    pub secret_key: String,
    /// Pass `access_key`/`secret_key` as LIBRES3_ACCESS_KEY/LIBRES3_SECRET_KEY
    /// (otherwise a fresh store generates and prints its first user's keys).
    pub keys_from_env: bool,
    pub extra_args: Vec<String>,
    /// More environment for the server process.
    pub env: Vec<(String, String)>,
    /// More `libres3.conf` lines: written to a configuration file of the server's own (on
    /// SX, appended to the cluster's), so `extra_args` must not name another `--config`.
    pub settings: String,
}

/// The settings of the servers most tests share ([`TestServer::shared`],
/// [`TestServer::start_sx`]): they speak plain HTTP, and the SSE-C tests need the server to
/// accept customer keys over it (refused by default, as AWS does).
pub const SHARED_SETTINGS: &str = "allow_sse_c_over_http = yes\n";

impl Default for ServerOpts {
    fn default() -> Self {
        ServerOpts {
            backend: Backend::Embedded,
            listeners: 1,
            data_dirs: 1,
            s3_host: None,
            access_key: ACCESS_KEY.into(),
            secret_key: SECRET_KEY.into(),
            keys_from_env: true,
            extra_args: Vec::new(),
            env: Vec::new(),
            settings: String::new(),
        }
    }
}

/// Runs the server; when it exits, removes the test's temporary root unless
/// told to keep it. A watcher stops the server (TERM, then KILL after 10 s)
/// when a line arrives on the wrapper's stdin or the pipe closes; the line
/// `keep` asks to keep the data for a restart. That stdin is a pipe held by
/// the `TestServer`: dropping the fixture closes it, and so does the end of
/// the test process, so a server shared through a `OnceLock` (never dropped)
/// does not outlive the tests.
const WRAPPER: &str = r#"
root="$1"; shift
exec 3<&0
"$@" </dev/null 3<&- &
pid=$!
(
  trap 'kill "$nap" 2>/dev/null; exit 0' TERM
  IFS= read -r line <&3 || true
  if [ "$line" = keep ]; then : >"$root/.keep"; fi
  kill -TERM "$pid"
  sleep 10 & nap=$!
  wait "$nap"
  kill -KILL "$pid"
) >/dev/null 2>&1 &
watcher=$!
exec 3<&-
wait "$pid"
status=$?
kill "$watcher" 2>/dev/null
if [ -e "$root/.keep" ]; then rm -f -- "$root/.keep"; else rm -rf -- "$root"; fi
exit "$status"
"#;

/// A running `libres3 serve` on free ports with a fresh data directory.
pub struct TestServer {
    /// The wrapper and the write end of its stdin; `None` while stopped.
    process: Option<(Child, ChildStdin)>,
    pub addrs: Vec<SocketAddr>,
    pub data_dirs: Vec<PathBuf>,
    pub opts: ServerOpts,
    /// Every line the server printed on stdout, across restarts.
    stdout: Arc<Mutex<Vec<String>>>,
    /// Every line the server logged on stderr, across restarts, and a signal for each new one.
    stderr: Arc<(Mutex<Vec<String>>, Condvar)>,
    /// The SX cluster of an `sx` server (dropped after the server stops).
    sx: Option<SxCluster>,
    /// The embedded store's users added by [`TestServer::add_user`].
    users: AtomicU64,
    root: TempDir,
}

impl TestServer {
    /// A server of its own for one test.
    pub fn start() -> TestServer {
        TestServer::start_with(ServerOpts::default())
    }

    /// The server shared by the tests of this process (each uses its own buckets).
    pub fn shared() -> &'static TestServer {
        static SHARED: OnceLock<TestServer> = OnceLock::new();
        SHARED.get_or_init(|| {
            TestServer::start_with(ServerOpts {
                settings: SHARED_SETTINGS.into(),
                ..ServerOpts::default()
            })
        })
    }

    /// A server of its own in front of an SX cluster, its S3 keys those of a new SX user.
    pub fn start_sx() -> TestServer {
        TestServer::start_with(ServerOpts {
            backend: Backend::Sx,
            settings: SHARED_SETTINGS.into(),
            ..ServerOpts::default()
        })
    }

    /// A server of its own in front of the given SX cluster.
    pub fn start_on(cluster: SxCluster) -> TestServer {
        TestServer::start_cluster(
            ServerOpts {
                backend: Backend::Sx,
                ..ServerOpts::default()
            },
            Some(cluster),
        )
    }

    pub fn start_with(opts: ServerOpts) -> TestServer {
        TestServer::start_cluster(opts, None)
    }

    /// A server with `opts` (its backend SX when `cluster` is given, the test's cluster
    /// else).
    pub fn start_cluster(mut opts: ServerOpts, cluster: Option<SxCluster>) -> TestServer {
        let root = TempDir::new("server");
        let config = root.join("libres3.conf");
        if !opts.settings.is_empty() {
            assert!(
                !opts.extra_args.iter().any(|a| a == "--config"),
                "ServerOpts: settings and a --config of the test's own"
            );
        }
        let sx = match opts.backend {
            Backend::Embedded => {
                if !opts.settings.is_empty() {
                    write_private(&config, &opts.settings);
                    opts.extra_args
                        .extend(["--config".to_string(), config.display().to_string()]);
                }
                None
            }
            Backend::Sx => {
                let cluster = cluster.unwrap_or_else(SxCluster::for_tests);
                // S3 access key = SX user name, secret key = its SX token.
                let (name, token) = cluster.add_user("libres3-it");
                opts.access_key = name;
                opts.secret_key = token;
                opts.keys_from_env = false;
                write_private(&config, cluster.config() + &opts.settings);
                opts.extra_args
                    .extend(["--config".to_string(), config.display().to_string()]);
                Some(cluster)
            }
        };
        let data_dirs: Vec<PathBuf> = (0..opts.data_dirs)
            .map(|i| root.join(format!("data{i}")))
            .collect();
        for d in &data_dirs {
            std::fs::create_dir_all(d).expect("mkdir data dir");
        }
        let mut server = TestServer {
            process: None,
            addrs: Vec::new(),
            data_dirs,
            opts,
            stdout: Arc::default(),
            stderr: Arc::default(),
            sx,
            users: AtomicU64::new(0),
            root,
        };
        server.spawn();
        server
    }

    pub fn backend(&self) -> Backend {
        self.opts.backend
    }

    /// The SX cluster of an `sx` server.
    pub fn sx(&self) -> Option<&SxCluster> {
        self.sx.as_ref()
    }

    pub fn sx_mut(&mut self) -> Option<&mut SxCluster> {
        self.sx.as_mut()
    }

    /// Another user of this server and its keys: `libres3 user add` on the embedded store,
    /// a new SX user (`PUT /.users`) on SX.
    pub fn add_user(&self, prefix: &str) -> Creds {
        match &self.sx {
            Some(cluster) => {
                let (name, token) = cluster.add_user(prefix);
                Creds::new(&name, &token)
            }
            None => {
                let n = self.users.fetch_add(1, Ordering::Relaxed);
                let name = format!("{prefix}{n}");
                let access = format!("AKIAUSER{:012}", next_id());
                let secret = format!("{name}-secret-{}", random_suffix());
                self.admin(&[
                    "user",
                    "add",
                    &name,
                    "--access-key",
                    &access,
                    "--secret-key",
                    &secret,
                ]);
                Creds::new(&access, &secret)
            }
        }
    }

    /// Starts the binary on the data dirs and waits for its listening lines.
    fn spawn(&mut self) {
        assert!(self.process.is_none(), "server already running");
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(WRAPPER)
            .arg("libres3-test-wrapper")
            .arg(self.root.path())
            .arg(libres3_bin())
            .arg("serve");
        for _ in 0..self.opts.listeners {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        for d in &self.data_dirs {
            cmd.arg("--data-dir").arg(d);
        }
        if let Some(h) = &self.opts.s3_host {
            cmd.args(["--s3-host", h]);
        }
        cmd.args(&self.opts.extra_args);
        cmd.env_remove("LIBRES3_ACCESS_KEY")
            .env_remove("LIBRES3_SECRET_KEY");
        if self.opts.keys_from_env {
            cmd.env("LIBRES3_ACCESS_KEY", &self.opts.access_key)
                .env("LIBRES3_SECRET_KEY", &self.opts.secret_key);
        }
        cmd.env("RUST_LOG", "info").env("HOME", self.root.path());
        // Last, so that a test may set RUST_LOG (or anything above) itself.
        cmd.envs(self.opts.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut wrapper = cmd.spawn().expect("spawn bash wrapper for libres3");
        let stdin = wrapper.stdin.take().expect("stdin pipe");
        let stdout = wrapper.stdout.take().expect("stdout pipe");
        let stderr = wrapper.stderr.take().expect("stderr pipe");

        let (tx, rx) = mpsc::channel::<SocketAddr>();
        let lines = Arc::clone(&self.stdout);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                eprintln!("[libres3 stdout] {line}");
                lines
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(line.clone());
                if let Some(rest) = line.strip_prefix("libres3: listening on http://") {
                    if let Ok(addr) = rest.trim().trim_end_matches('/').parse() {
                        let _ = tx.send(addr);
                    }
                }
            }
        });
        let logged = Arc::clone(&self.stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[libres3] {line}");
                let (lines, added) = &*logged;
                lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                added.notify_all();
            }
        });

        self.process = Some((wrapper, stdin));
        self.addrs.clear();
        let deadline = Instant::now() + START_TIMEOUT;
        while self.addrs.len() < self.opts.listeners {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(addr) => self.addrs.push(addr),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("libres3 did not print its listening line within {START_TIMEOUT:?}")
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.process.take().map(|(mut w, _)| w.wait());
                    panic!("libres3 exited before listening ({status:?}); see its output above")
                }
            }
        }
    }

    /// What the server printed on stdout so far (all runs).
    pub fn stdout(&self) -> Vec<String> {
        self.stdout
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// What the server logged on stderr so far (all runs).
    pub fn stderr(&self) -> Vec<String> {
        self.stderr
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The first line the server logged on stderr that contains `needle`, waiting up to
    /// `limit` for it (the log pipe is read by another thread); None if none came.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) -> Option<String> {
        let (lines, added) = &*self.stderr;
        let deadline = Instant::now() + limit;
        let mut lines = lines.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(line) = lines.iter().find(|l| l.contains(needle)) {
                return Some(line.clone());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            lines = added
                .wait_timeout(lines, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Stops the server, keeping its data for `restart` (or for `admin`
    /// commands that need the store to themselves).
    pub fn stop(&mut self) {
        if let Some((mut wrapper, mut stdin)) = self.process.take() {
            let _ = stdin.write_all(b"keep\n").and_then(|_| stdin.flush());
            drop(stdin);
            let _ = wrapper.wait();
        }
    }

    /// Kills the server with SIGKILL — a crash: no request is drained, nothing is flushed —
    /// keeping its data for `restart`.
    pub fn kill(&mut self) {
        let Some((mut wrapper, stdin)) = self.process.take() else {
            return;
        };
        // The wrapper keeps the root when this file exists once the server is gone.
        write(self.root.join(".keep"), b"");
        let server = server_pid(wrapper.id())
            .unwrap_or_else(|| panic!("no libres3 process under wrapper {}", wrapper.id()));
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(server as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap_or_else(|e| panic!("kill -KILL {server}: {e}"));
        drop(stdin);
        let _ = wrapper.wait();
    }

    /// Starts the server again on the same data (on new ports).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    pub fn addr(&self) -> SocketAddr {
        assert!(self.process.is_some(), "the server is stopped");
        self.addrs[0]
    }

    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr())
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dirs[0]
    }

    pub fn creds(&self) -> Creds {
        Creds::new(&self.opts.access_key, &self.opts.secret_key)
    }

    /// A raw HTTP client signing as the first user.
    pub fn raw(&self) -> RawClient {
        RawClient::new(self.addr(), self.creds())
    }

    /// Runs `libres3 ARGS --data-dir DIR...` on this server's data dirs and
    /// returns its output (stdout then stderr); asserts success.
    pub fn admin(&self, args: &[&str]) -> String {
        let out = self.admin_output(args);
        clients::assert_success(&out, &format!("libres3 {}", args.join(" ")));
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// Like `admin`, whatever the exit status.
    pub fn admin_output(&self, args: &[&str]) -> std::process::Output {
        let mut cmd = Command::new(libres3_bin());
        cmd.args(args);
        for d in &self.data_dirs {
            cmd.arg("--data-dir").arg(d);
        }
        cmd.env("HOME", self.root.path()).env("RUST_LOG", "warn");
        clients::run(&mut cmd, &format!("libres3 {}", args.join(" ")))
    }

    /// A scratch directory inside this server's temporary root.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let p = self.root.join(format!("scratch-{name}-{}", next_id()));
        std::fs::create_dir_all(&p).expect("mkdir scratch");
        p
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Closing the wrapper's stdin stops the server; the wrapper exits
        // within ~10 s and removes the root (TempDir's drop does it too).
        if let Some((mut wrapper, stdin)) = self.process.take() {
            drop(stdin);
            let _ = wrapper.wait();
        }
    }
}

/// Reads a whole file.
pub fn read(path: impl AsRef<Path>) -> Vec<u8> {
    let path = path.as_ref();
    let mut v = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut v))
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    v
}

/// Writes a file readable by its owner only (configuration files holding secrets); a file
/// that was there before is made private too.
pub fn write_private(path: &Path, data: impl AsRef<[u8]>) {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(data.as_ref()))
        .and_then(|()| std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)))
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

pub fn write(path: impl AsRef<Path>, data: &[u8]) {
    let path = path.as_ref();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir parent");
    }
    std::fs::write(path, data).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Sets the modification time of every file under `dir` to `secs` ago.
pub fn age_files(dir: &Path, secs: u64) {
    let when = SystemTime::now() - Duration::from_secs(secs);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                std::fs::File::options()
                    .write(true)
                    .open(&p)
                    .and_then(|f| f.set_modified(when))
                    .unwrap_or_else(|e| panic!("set mtime of {}: {e}", p.display()));
            }
        }
    }
}

/// Seconds since the epoch.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// Asserts two byte strings are equal without printing megabytes on failure.
#[track_caller]
pub fn assert_bytes_eq(actual: &[u8], expected: &[u8], what: &str) {
    if actual != expected {
        let first = actual
            .iter()
            .zip(expected)
            .position(|(a, b)| a != b)
            .unwrap_or(actual.len().min(expected.len()));
        panic!(
            "{what}: content differs: got {} bytes (md5 {}), expected {} bytes (md5 {}); first difference at byte {first}",
            actual.len(),
            md5_hex(actual),
            expected.len(),
            md5_hex(expected)
        );
    }
}

// ---- XML ------------------------------------------------------------------

/// Parses an XML document, failing the test with the text when it is not well-formed.
#[track_caller]
pub fn parse_xml(text: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(text)
        .unwrap_or_else(|e| panic!("response is not well-formed XML ({e}):\n{text}"))
}

/// Texts of every element named `name` (any namespace), in document order.
pub fn xml_texts(text: &str, name: &str) -> Vec<String> {
    let doc = parse_xml(text);
    doc.descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == name)
        .map(|n| n.text().unwrap_or("").to_string())
        .collect()
}

/// Text of the first element named `name`.
pub fn xml_text(text: &str, name: &str) -> Option<String> {
    xml_texts(text, name).into_iter().next()
}

/// For each element named `parent`, the text of its child `child`.
pub fn xml_child_texts(text: &str, parent: &str, child: &str) -> Vec<String> {
    let doc = parse_xml(text);
    doc.descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == parent)
        .map(|p| {
            p.children()
                .find(|c| c.is_element() && c.tag_name().name() == child)
                .and_then(|c| c.text())
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

/// The pid of the `libres3` process a test wrapper started (its child running the binary).
fn server_pid(wrapper: u32) -> Option<u32> {
    let bin = libres3_bin();
    let mut stack = vec![wrapper];
    while let Some(pid) = stack.pop() {
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
            let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).unwrap_or_default();
            if cmdline.split(|&b| b == 0).next() == Some(bin.as_bytes()) {
                return Some(child);
            }
            stack.push(child);
        }
    }
    None
}
