//! `libres3.conf` (`key = value` lines) and the validated settings the server runs with.
//!
//! [`KEYS`] is the one table of keys: the parser, `check-config` and the documentation all
//! read it, so a key cannot be known to one and missing from another.

use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::Args;
use crate::s3::S3Config;
use crate::store::SecretKey;

pub const DEFAULT_PORT: u16 = 8008;
pub const DEFAULT_HTTPS_PORT: u16 = 8443;
pub const DEFAULT_LISTEN_IP: &str = "127.0.0.1";
pub const DEFAULT_REGION: &str = "us-east-1";
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:8009";

/// What a value must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any text.
    Text,
    Path,
    /// yes/no, true/false, on/off, 1/0.
    Bool,
    /// A port number (0: any free port); `off` disables the listener.
    PortOrOff,
    Ip,
    /// ADDR:PORT, or `off`.
    AddrOrOff,
    /// A count.
    Count,
    /// Bytes, with an optional K, M, G or T suffix (powers of 1024).
    Size,
    /// Seconds, with an optional s, m or h suffix.
    Seconds,
    OneOf(&'static [&'static str]),
    /// `user` or `user:group`.
    RunAs,
    /// Kept verbatim for the SX backend, which validates it.
    Sx,
}

impl Kind {
    fn describe(self) -> String {
        match self {
            Kind::Text => "text".into(),
            Kind::Path => "a path".into(),
            Kind::Bool => "yes or no".into(),
            Kind::PortOrOff => "a port number (0-65535) or off".into(),
            Kind::Ip => "an IP address".into(),
            Kind::AddrOrOff => "ADDR:PORT or off".into(),
            Kind::Count => "a whole number".into(),
            Kind::Size => "a size in bytes (suffix K, M, G or T allowed)".into(),
            Kind::Seconds => "a duration in seconds (suffix s, m or h allowed)".into(),
            Kind::OneOf(words) => format!("one of {}", words.join(", ")),
            Kind::RunAs => "USER or USER:GROUP".into(),
            Kind::Sx => "text".into(),
        }
    }
}

/// One key of `libres3.conf`.
#[derive(Debug)]
pub struct Key {
    pub name: &'static str,
    pub kind: Kind,
    /// Shown in help and check-config; empty when there is none or it depends on others.
    pub default: &'static str,
    /// May appear on several lines, each adding a value.
    pub repeat: bool,
    /// Applied by SIGHUP without a restart.
    pub live: bool,
    /// Its value is a secret (the file holding it must not be readable by others).
    pub secret: bool,
    pub help: &'static str,
}

const fn key(name: &'static str, kind: Kind, default: &'static str, help: &'static str) -> Key {
    Key {
        name,
        kind,
        default,
        repeat: false,
        live: false,
        secret: false,
        help,
    }
}

const fn live(k: Key) -> Key {
    Key { live: true, ..k }
}

pub const LOG_LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace"];

/// Every key `libres3.conf` accepts.
pub const KEYS: &[Key] = &[
    key("backend", Kind::OneOf(&["embedded", "sx"]), "embedded", "where data lives: the embedded store on local disks, or an SX cluster"),
    Key { repeat: true, ..key("data_dir", Kind::Path, "", "a storage directory of the embedded store; one line per directory, the first holds the index (default /var/lib/libres3 as root, else $XDG_DATA_HOME/libres3)") },
    key("encryption_key_file", Kind::Path, "", "key file for encryption at rest of the embedded store: 64 hex digits, e.g. from openssl rand -hex 32 (mode 0600); decided when the store is created"),
    key("s3_host", Kind::Text, "", "host name of the S3 service; enables virtual-hosted-style requests (bucket.s3_host)"),
    key("s3_listen_ip", Kind::Ip, DEFAULT_LISTEN_IP, "address the S3 listeners bind"),
    key("s3_http_port", Kind::PortOrOff, "8008", "HTTP port (off: no HTTP listener)"),
    key("s3_https_port", Kind::PortOrOff, "", "HTTPS port (default 8443 when a certificate is configured, else off)"),
    key("s3_ssl_certificate_file", Kind::Path, "", "PEM certificate chain for HTTPS (re-read on SIGHUP)"),
    Key { secret: true, ..key("s3_ssl_privatekey_file", Kind::Path, "", "PEM private key for HTTPS, mode 0600 (re-read on SIGHUP)") },
    key("s3_region", Kind::Text, DEFAULT_REGION, "the region clients sign requests for"),
    key("admin_listen", Kind::AddrOrOff, DEFAULT_ADMIN_LISTEN, "address of the admin endpoint (/health, /stats, /metrics); off disables it"),
    live(Key { secret: true, ..key("admin_auth", Kind::Text, "", "USER:PASSWORD that /stats and /metrics of the admin endpoint require (HTTP Basic); /health stays open; the file must then have mode 0600") }),
    key("daemonize", Kind::Bool, "no", "detach and run in the background under a supervisor (like --daemon)"),
    key("run-as", Kind::RunAs, "", "USER[:GROUP] to run as after binding ports (required to start as root in daemon mode)"),
    key("pidfile", Kind::Path, "", "pid file of the daemon (default /run/libres3/libres3.pid as root, else $XDG_RUNTIME_DIR/libres3.pid)"),
    key("logdir", Kind::Path, "", "directory of access.log and errors.log in daemon mode (default /var/log/libres3 as root, else the first data_dir's log/)"),
    live(key("log_level", Kind::OneOf(LOG_LEVELS), "info", "errors.log / stderr verbosity (RUST_LOG overrides it in the foreground)")),
    key("shutdown_timeout", Kind::Seconds, "30", "on SIGTERM, how long in-flight requests may take to finish"),
    key("max_connections", Kind::Count, "0", "open S3 client connections beyond which a new one is answered 503 SlowDown and closed (0: three quarters of the open-files limit less 256, at most 65536)"),
    key("max_parallel", Kind::Count, "0", "connections one worker thread accepts at once; more wait in the kernel's accept queue (0: no cap besides max_connections)"),
    key("workers", Kind::Count, "0", "worker threads (0: one per CPU)"),
    live(key("max_header_size", Kind::Size, "8K", "maximum total size of a request's header names and values (S3's own limit, 8K, also applies)")),
    key("client_request_timeout", Kind::Seconds, "30", "time a client has to send a request head: from the connection's start for its first request, from the first byte of each later one (slow clients get 400 RequestTimeout and are cut off)"),
    live(key("client_body_timeout", Kind::Seconds, "60", "longest pause between two pieces of a request body; a client quiet for longer gets 400 RequestTimeout, its upload is discarded and the connection closed (0: no limit)")),
    key("keep_alive", Kind::Seconds, "60", "idle time before a kept-alive connection is closed"),
    live(key("max_object_size", Kind::Size, "5G", "largest object or part a single PUT may upload")),
    key("allow_insecure_permissions", Kind::Bool, "no", "accept secret-bearing files (this file with secret_key, the TLS key, the encryption key file) readable by group or others"),
    live(key("sx_host", Kind::Sx, "", "SX backend: a cluster node; repeat the key or separate names with commas for several")),
    live(key("sx_port", Kind::Sx, "", "SX backend: the nodes' port (default 443 with sx_use_ssl, else 80)")),
    live(Key { secret: true, ..key("secret_key", Kind::Sx, "", "SX backend: the admin key (required)") }),
    live(key("keyid", Kind::Sx, "admin", "SX backend: the S3 access key that acts as the SX admin")),
    live(key("sx_use_ssl", Kind::Sx, "yes", "SX backend: talk to the cluster over HTTPS")),
    live(key("sx_ca_file", Kind::Sx, "", "SX backend: CA certificate of the cluster (default: the public roots)")),
    live(key("sx_verify_ssl", Kind::Sx, "yes", "SX backend: verify the cluster's certificate")),
    live(key("replica_count", Kind::Sx, "1", "SX backend: replicas of new volumes")),
    live(key("volume_size", Kind::Sx, "10G", "SX backend: size of new volumes")),
    live(key("allow_volume_create_any_user", Kind::Sx, "yes", "SX backend: any user may create buckets")),
    live(key("allow_list_all_volumes", Kind::Sx, "no", "SX backend: list every volume a user can read")),
];

pub fn find_key(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read it: {source}; give an existing file to --config")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Line {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// One `key = value` line that parsed and whose value has the right form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: &'static str,
    pub value: String,
    pub line: usize,
}

/// The lines of a file, checked one by one.
#[derive(Debug, Default, Clone)]
pub struct FileSettings {
    pub path: PathBuf,
    pub entries: Vec<Entry>,
}

impl FileSettings {
    fn last(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.key == key)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.last(key).map(|e| e.value.as_str())
    }

    fn error(&self, entry: &Entry, message: String) -> ConfigError {
        ConfigError::Line {
            path: self.path.clone(),
            line: entry.line,
            message: format!("{}: {message}", entry.key),
        }
    }

    /// The typed value of a key, or its table default, or None.
    fn typed<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        match self.last(name) {
            Some(entry) => parse(&entry.value)
                .map(Some)
                .ok_or_else(|| self.error(entry, format!("{:?} is not valid", entry.value))),
            None => Ok(find_key(name)
                .map(|k| k.default)
                .filter(|d| !d.is_empty())
                .and_then(parse)),
        }
    }
}

pub fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Some(true),
        "no" | "false" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn is_off(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "off" | "no" | "none" | ""
    )
}

/// `None` for off, `Some(port)` otherwise.
pub fn parse_port_or_off(value: &str) -> Option<Option<u16>> {
    if is_off(value) {
        return Some(None);
    }
    value.parse().ok().map(Some)
}

pub fn parse_addr_or_off(value: &str) -> Option<Option<SocketAddr>> {
    if is_off(value) {
        return Some(None);
    }
    value.parse().ok().map(Some)
}

pub fn parse_size(value: &str) -> Option<u64> {
    let value = value.trim();
    let shift = match value.as_bytes().last().map(u8::to_ascii_uppercase) {
        Some(b'K') => 10,
        Some(b'M') => 20,
        Some(b'G') => 30,
        Some(b'T') => 40,
        _ => 0,
    };
    let digits = if shift == 0 {
        value
    } else {
        &value[..value.len() - 1]
    };
    let n: u64 = digits.trim().parse().ok()?;
    n.checked_mul(1u64 << shift)
}

pub fn parse_seconds(value: &str) -> Option<Duration> {
    let value = value.trim();
    let (digits, unit) = match value.as_bytes().last() {
        Some(b's') => (&value[..value.len() - 1], 1),
        Some(b'm') => (&value[..value.len() - 1], 60),
        Some(b'h') => (&value[..value.len() - 1], 3600),
        _ => (value, 1),
    };
    let n: u64 = digits.trim().parse().ok()?;
    n.checked_mul(unit).map(Duration::from_secs)
}

pub fn parse_level(value: &str) -> Option<log::LevelFilter> {
    value.parse().ok()
}

/// `USER:PASSWORD`, with a user name that HTTP Basic can carry (no colon, not empty).
pub fn parse_admin_auth(value: &str) -> Option<SecretKey> {
    let (user, password) = value.split_once(':')?;
    (!user.is_empty() && !password.is_empty() && !value.chars().any(char::is_control))
        .then(|| SecretKey::new(value.to_string()))
}

/// The user (and group) to run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub user: String,
    pub group: Option<String>,
}

pub fn parse_run_as(value: &str) -> Option<RunAs> {
    let (user, group) = match value.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (value, None),
    };
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'$'))
    };
    if !name_ok(user) || group.is_some_and(|g| !name_ok(g)) {
        return None;
    }
    Some(RunAs {
        user: user.to_string(),
        group: group.map(str::to_string),
    })
}

fn check_value(kind: Kind, value: &str) -> bool {
    match kind {
        Kind::Text | Kind::Sx => true,
        Kind::Path => !value.is_empty(),
        Kind::Bool => parse_bool(value).is_some(),
        Kind::PortOrOff => parse_port_or_off(value).is_some(),
        Kind::Ip => value.parse::<IpAddr>().is_ok(),
        Kind::AddrOrOff => parse_addr_or_off(value).is_some(),
        Kind::Count => value.parse::<u64>().is_ok(),
        Kind::Size => parse_size(value).is_some(),
        Kind::Seconds => parse_seconds(value).is_some(),
        Kind::OneOf(words) => words.contains(&value),
        Kind::RunAs => parse_run_as(value).is_some(),
    }
}

/// Parses the text of a configuration file: every line is `key = value`, a comment (`#`) or
/// blank; every key is in [`KEYS`] and every value has its key's form.
pub fn parse_file(path: &Path, text: &str) -> Result<FileSettings, ConfigError> {
    let mut settings = FileSettings {
        path: path.to_path_buf(),
        entries: Vec::new(),
    };
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let error = |message: String| ConfigError::Line {
            path: path.to_path_buf(),
            line: index + 1,
            message,
        };
        let Some((name, value)) = line.split_once('=') else {
            return Err(error(format!("expected `key = value`, found {line:?}")));
        };
        let name = name.trim();
        let mut value = value.trim();
        if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
            value = &value[1..value.len() - 1];
        }
        let Some(key) = find_key(name) else {
            let known: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
            return Err(error(format!(
                "unknown key {name:?}; the known keys are {}",
                known.join(", ")
            )));
        };
        if !key.repeat && settings.entries.iter().any(|e| e.key == key.name) {
            return Err(error(format!("{name}: set twice; keep one line")));
        }
        if !check_value(key.kind, value) {
            return Err(error(format!(
                "{name}: {value:?} is not {}",
                key.kind.describe()
            )));
        }
        // A relative path in the file is relative to the file's directory, not to wherever
        // the daemon happens to run (it works in `/`).
        let value = match (key.kind, path.parent()) {
            (Kind::Path, Some(dir)) if Path::new(value).is_relative() => {
                dir.join(value).display().to_string()
            }
            _ => value.to_string(),
        };
        settings.entries.push(Entry {
            key: key.name,
            value,
            line: index + 1,
        });
    }
    Ok(settings)
}

/// Refuses a file holding a secret when group or others may read it.
pub fn check_secret_file(path: &Path, what: &str, allow: bool) -> Result<(), ConfigError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        ConfigError::Invalid(format!("{}: cannot read {what}: {e}", path.display()))
    })?;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 && !allow {
        return Err(ConfigError::Invalid(format!(
            "{}: {what} is readable by group or others (mode {:o}); run chmod 600 on it, \
             or set allow_insecure_permissions = yes",
            path.display(),
            mode & 0o777
        )));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Sx,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub private_key: PathBuf,
}

/// Settings that SIGHUP may change in a running worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSettings {
    pub log_level: log::LevelFilter,
    pub max_header_size: u64,
    pub max_object_size: u64,
    /// Longest pause between two pieces of a request body; zero for none.
    pub client_body_timeout: Duration,
    /// `USER:PASSWORD` the admin endpoint's /stats and /metrics require.
    pub admin_auth: Option<SecretKey>,
}

/// Settings that need a restart to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// 0: derived from the open-files limit ([`crate::http::descriptors`]).
    pub max_connections: usize,
    /// 0: no per-worker cap.
    pub max_parallel: usize,
    pub workers: usize,
    pub client_request_timeout: Duration,
    pub keep_alive: Duration,
}

/// The settings the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file these came from, if any.
    pub source: Option<PathBuf>,
    pub backend: Backend,
    pub data_dirs: Vec<PathBuf>,
    pub encryption_key_file: Option<PathBuf>,
    /// The line of the file that sets `encryption_key_file`, for messages.
    pub encryption_key_line: Option<usize>,
    /// HTTP listeners.
    pub listen: Vec<SocketAddr>,
    /// HTTPS listeners, and the certificate they serve.
    pub https_listen: Vec<SocketAddr>,
    pub tls: Option<TlsFiles>,
    pub admin_listen: Option<SocketAddr>,
    /// Whether admin_listen was set (the default address may be left out when taken).
    pub admin_listen_explicit: bool,
    pub s3: S3Config,
    pub daemonize: bool,
    pub run_as: Option<RunAs>,
    pub pidfile: PathBuf,
    /// Whether the pid file was asked for (the foreground writes one only then).
    pub pidfile_explicit: bool,
    pub logdir: PathBuf,
    pub shutdown_timeout: Duration,
    pub limits: Limits,
    pub live: LiveSettings,
    /// The SX keys, verbatim, with their line numbers, for the SX backend to validate.
    pub sx: Vec<Entry>,
}

/// Where data lives when neither the command line nor the file says.
pub fn default_data_dir() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/var/lib/libres3");
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("libres3");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".local/share/libres3"),
        None => PathBuf::from("libres3-data"),
    }
}

fn default_pidfile() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/run/libres3/libres3.pid");
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("libres3.pid"),
        None => std::env::temp_dir().join(format!("libres3-{}.pid", nix::unistd::geteuid())),
    }
}

fn socket(ip: IpAddr, port: u16) -> SocketAddr {
    SocketAddr::new(ip, port)
}

fn usize_of(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl Config {
    /// Reads the file named by `--config` (if any); flags on the command line override it.
    pub fn load(args: &Args) -> Result<Config, ConfigError> {
        Config::load_with_text(args).map(|(config, _)| config)
    }

    /// Like [`Config::load`], and also returns the text read, for a supervisor to hand to a
    /// worker that may no longer be allowed to read the file.
    pub fn load_with_text(args: &Args) -> Result<(Config, Option<String>), ConfigError> {
        let Some(path) = &args.config else {
            return Ok((Config::from_settings(args, &FileSettings::default())?, None));
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let file = parse_file(path, &text)?;
        let config = Config::from_settings(args, &file)?;
        let allow = file
            .get("allow_insecure_permissions")
            .and_then(parse_bool)
            .unwrap_or(false);
        if let Some(entry) = file
            .entries
            .iter()
            .find(|e| find_key(e.key).is_some_and(|k| k.secret) && k_is_inline(e.key))
        {
            check_secret_file(
                path,
                &format!("the configuration file (it holds {})", entry.key),
                allow,
            )?;
        }
        if let Some(tls) = &config.tls {
            check_secret_file(&tls.private_key, "the TLS private key", allow)?;
        }
        if let Some(key_file) = &config.encryption_key_file {
            check_secret_file(key_file, "the encryption key file", allow)?;
        }
        Ok((config, Some(text)))
    }

    /// `FILE:LINE: encryption_key_file`, where the key file is configured, for messages.
    pub fn origin_of_encryption_key(&self) -> String {
        match (&self.source, self.encryption_key_line) {
            (Some(file), Some(line)) => format!("{}:{line}: encryption_key_file", file.display()),
            _ => "encryption_key_file".into(),
        }
    }

    /// The settings from a file's text that a supervisor already read and checked.
    pub fn from_text(args: &Args, text: &str) -> Result<Config, ConfigError> {
        let path = args.config.clone().unwrap_or_default();
        Config::from_settings(args, &parse_file(&path, text)?)
    }

    fn from_settings(args: &Args, file: &FileSettings) -> Result<Config, ConfigError> {
        let backend = match file.get("backend") {
            Some("sx") => Backend::Sx,
            _ => Backend::Embedded,
        };
        let file_dirs: Vec<PathBuf> = file
            .entries
            .iter()
            .filter(|e| e.key == "data_dir")
            .map(|e| PathBuf::from(&e.value))
            .collect();
        let data_dirs = if !args.data_dirs.is_empty() {
            args.data_dirs.clone()
        } else if !file_dirs.is_empty() {
            file_dirs
        } else {
            vec![default_data_dir()]
        };

        let ip = file
            .typed("s3_listen_ip", |v| v.parse::<IpAddr>().ok())?
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let listen = if !args.listen.is_empty() {
            args.listen
                .iter()
                .map(|word| {
                    word.parse::<SocketAddr>().map_err(|_| {
                        ConfigError::Invalid(format!(
                            "listen address {word:?} is not ADDR:PORT (e.g. 127.0.0.1:8008 or [::1]:8008)"
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        } else {
            match file.typed("s3_http_port", parse_port_or_off)?.flatten() {
                Some(port) => vec![socket(ip, port)],
                None => Vec::new(),
            }
        };

        let certificate = args
            .tls_cert
            .clone()
            .or_else(|| file.get("s3_ssl_certificate_file").map(PathBuf::from));
        let private_key = args
            .tls_key
            .clone()
            .or_else(|| file.get("s3_ssl_privatekey_file").map(PathBuf::from));
        let tls = match (certificate, private_key) {
            (Some(certificate), Some(private_key)) => Some(TlsFiles {
                certificate,
                private_key,
            }),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Invalid(
                    "HTTPS needs both s3_ssl_certificate_file and s3_ssl_privatekey_file".into(),
                ))
            }
        };
        let https_port = match file.last("s3_https_port") {
            Some(entry) => parse_port_or_off(&entry.value).flatten(),
            None => tls.as_ref().map(|_| DEFAULT_HTTPS_PORT),
        };
        let https_listen = if let Some(word) = &args.https_listen {
            vec![word.parse::<SocketAddr>().map_err(|_| {
                ConfigError::Invalid(format!("--https-listen {word:?} is not ADDR:PORT"))
            })?]
        } else {
            https_port.map(|p| socket(ip, p)).into_iter().collect()
        };
        if !https_listen.is_empty() && tls.is_none() {
            return Err(ConfigError::Invalid(
                "an HTTPS port is set but no certificate: set s3_ssl_certificate_file and \
                 s3_ssl_privatekey_file, or s3_https_port = off"
                    .into(),
            ));
        }
        if listen.is_empty() && https_listen.is_empty() {
            return Err(ConfigError::Invalid(
                "no listener: s3_http_port and s3_https_port are both off".into(),
            ));
        }

        let admin_listen = match &args.admin_listen {
            Some(word) => parse_addr_or_off(word).ok_or_else(|| {
                ConfigError::Invalid(format!("--admin-listen {word:?} is not ADDR:PORT or off"))
            })?,
            None => file.typed("admin_listen", parse_addr_or_off)?.flatten(),
        };

        let s3_host = args
            .s3_host
            .clone()
            .or_else(|| file.get("s3_host").map(str::to_string))
            .filter(|h| !h.is_empty());
        let region = args
            .region
            .clone()
            .or_else(|| file.get("s3_region").map(str::to_string))
            .unwrap_or_else(|| DEFAULT_REGION.to_string());

        let run_as = match &args.run_as {
            Some(word) => Some(parse_run_as(word).ok_or_else(|| {
                ConfigError::Invalid(format!("--run-as {word:?} is not USER or USER:GROUP"))
            })?),
            None => file.typed("run-as", parse_run_as)?,
        };
        let pidfile_explicit = args.pidfile.is_some() || file.get("pidfile").is_some();
        let pidfile = args
            .pidfile
            .clone()
            .or_else(|| file.get("pidfile").map(PathBuf::from))
            .unwrap_or_else(default_pidfile);
        let logdir = args
            .logdir
            .clone()
            .or_else(|| file.get("logdir").map(PathBuf::from))
            .unwrap_or_else(|| {
                if nix::unistd::geteuid().is_root() {
                    PathBuf::from("/var/log/libres3")
                } else {
                    data_dirs[0].join("log")
                }
            });
        let daemonize = args.daemon || file.typed("daemonize", parse_bool)?.unwrap_or(false);
        let seconds = |name: &str| -> Result<Duration, ConfigError> {
            Ok(file.typed(name, parse_seconds)?.unwrap_or(Duration::ZERO))
        };
        let count = |name: &str| -> Result<u64, ConfigError> {
            Ok(file.typed(name, |v| v.parse::<u64>().ok())?.unwrap_or(0))
        };
        let size = |name: &str| -> Result<u64, ConfigError> {
            Ok(file.typed(name, parse_size)?.unwrap_or(u64::MAX))
        };
        let limits = Limits {
            max_connections: usize_of(count("max_connections")?),
            max_parallel: usize_of(count("max_parallel")?),
            workers: usize_of(count("workers")?),
            client_request_timeout: seconds("client_request_timeout")?,
            keep_alive: seconds("keep_alive")?,
        };
        let live = LiveSettings {
            log_level: file
                .typed("log_level", parse_level)?
                .unwrap_or(log::LevelFilter::Info),
            max_header_size: size("max_header_size")?,
            max_object_size: size("max_object_size")?,
            client_body_timeout: seconds("client_body_timeout")?,
            admin_auth: file.typed("admin_auth", parse_admin_auth)?,
        };
        let sx: Vec<Entry> = file
            .entries
            .iter()
            .filter(|e| find_key(e.key).is_some_and(|k| k.kind == Kind::Sx))
            .cloned()
            .collect();
        let config = Config {
            source: args.config.clone(),
            backend,
            data_dirs,
            encryption_key_file: file.get("encryption_key_file").map(PathBuf::from),
            encryption_key_line: file.last("encryption_key_file").map(|e| e.line),
            listen,
            https_listen,
            tls,
            admin_listen,
            admin_listen_explicit: args.admin_listen.is_some()
                || file.get("admin_listen").is_some(),
            s3: S3Config { region, s3_host },
            daemonize,
            run_as,
            pidfile,
            pidfile_explicit,
            logdir,
            shutdown_timeout: seconds("shutdown_timeout")?,
            limits,
            live,
            sx,
        };
        // The SX backend's keys are checked with the rest, so that `check-config`, `reload`
        // and a SIGHUP refuse a bad SX value as they refuse any other.
        if config.backend == Backend::Sx {
            crate::store::sx::SxConfig::from_config(&config).map_err(ConfigError::Invalid)?;
        }
        Ok(config)
    }

    /// The SX key's raw value, if the file sets it.
    pub fn sx_value(&self, key: &str) -> Option<&str> {
        self.sx
            .iter()
            .rev()
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    }

    /// What differs from `other` that only a restart applies.
    pub fn restart_needed(&self, other: &Config) -> Vec<&'static str> {
        let mut changed = Vec::new();
        let mut check = |name: &'static str, same: bool| {
            if !same {
                changed.push(name);
            }
        };
        check("backend", self.backend == other.backend);
        check("data_dir", self.data_dirs == other.data_dirs);
        check(
            "listeners",
            self.listen == other.listen && self.https_listen == other.https_listen,
        );
        check("admin_listen", self.admin_listen == other.admin_listen);
        check(
            "s3_host/s3_region",
            self.s3.s3_host == other.s3.s3_host && self.s3.region == other.s3.region,
        );
        check("run-as", self.run_as == other.run_as);
        check("pidfile", self.pidfile == other.pidfile);
        check("logdir", self.logdir == other.logdir);
        check("limits", self.limits == other.limits);
        changed
    }
}

/// The pid file, found even in a file that does not validate (so that `stop` and `status`
/// still work while someone is editing it).
pub fn pidfile_leniently(args: &Args) -> PathBuf {
    if let Some(path) = &args.pidfile {
        return path.clone();
    }
    let from_file = args.config.as_ref().and_then(|path| {
        let text = std::fs::read_to_string(path).ok()?;
        text.lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == "pidfile").then(|| {
                let value = value.trim().trim_matches('"');
                match path.parent() {
                    Some(dir) if Path::new(value).is_relative() => dir.join(value),
                    _ => PathBuf::from(value),
                }
            })
        })
    });
    from_file.unwrap_or_else(default_pidfile)
}

/// Secret keys whose value sits in the file itself (as opposed to a file it names).
fn k_is_inline(key: &str) -> bool {
    key == "secret_key" || key == "admin_auth"
}

/// `libres3 check-config`: a summary of the effective settings, one `key = value` per line.
pub fn describe(config: &Config) -> String {
    let list = |addrs: &[SocketAddr]| {
        if addrs.is_empty() {
            "off".to_string()
        } else {
            addrs
                .iter()
                .map(SocketAddr::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        }
    };
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k} = {v}\n"));
    line(
        "backend",
        match config.backend {
            Backend::Embedded => "embedded".into(),
            Backend::Sx => "sx".into(),
        },
    );
    for dir in &config.data_dirs {
        line("data_dir", dir.display().to_string());
    }
    if let Some(key_file) = &config.encryption_key_file {
        line("encryption_key_file", key_file.display().to_string());
    }
    line("http", list(&config.listen));
    line("https", list(&config.https_listen));
    line(
        "admin_listen",
        config.admin_listen.map_or("off".into(), |a| a.to_string()),
    );
    line(
        "admin_auth",
        if config.live.admin_auth.is_some() {
            "(set)"
        } else {
            "off"
        }
        .into(),
    );
    line("s3_host", config.s3.s3_host.clone().unwrap_or_default());
    line("s3_region", config.s3.region.clone());
    line(
        "daemonize",
        if config.daemonize { "yes" } else { "no" }.into(),
    );
    line(
        "run-as",
        config
            .run_as
            .as_ref()
            .map_or(String::new(), |r| match &r.group {
                Some(g) => format!("{}:{g}", r.user),
                None => r.user.clone(),
            }),
    );
    line("pidfile", config.pidfile.display().to_string());
    line("logdir", config.logdir.display().to_string());
    line(
        "log_level",
        config.live.log_level.to_string().to_lowercase(),
    );
    line(
        "shutdown_timeout",
        format!("{}s", config.shutdown_timeout.as_secs()),
    );
    line("max_connections", config.limits.max_connections.to_string());
    line("max_parallel", config.limits.max_parallel.to_string());
    line("max_header_size", config.live.max_header_size.to_string());
    line("max_object_size", config.live.max_object_size.to_string());
    line(
        "client_body_timeout",
        format!("{}s", config.live.client_body_timeout.as_secs()),
    );
    for entry in &config.sx {
        let value = if find_key(entry.key).is_some_and(|k| k.secret) {
            "(set)".to_string()
        } else {
            entry.value.clone()
        };
        line(entry.key, value);
    }
    out
}

/// The key table as text, for `libres3 check-config --keys` and the man page.
pub fn keys_help() -> String {
    let mut out = String::new();
    for k in KEYS {
        let mut notes = Vec::new();
        if !k.default.is_empty() {
            notes.push(format!("default {}", k.default));
        }
        if k.repeat {
            notes.push("repeatable".into());
        }
        if k.live {
            notes.push("reloaded by SIGHUP".into());
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        };
        out.push_str(&format!(
            "{} = {}\n    {}{notes}\n",
            k.name,
            k.kind.describe(),
            k.help
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FileSettings, ConfigError> {
        parse_file(Path::new("t.conf"), text)
    }

    fn config(text: &str) -> Result<Config, ConfigError> {
        Config::from_settings(&Args::default(), &parse(text)?)
    }

    #[test]
    fn file_keys() {
        let s = parse(
            "# comment\ndata_dir = /a\ndata_dir=/b\ns3_host = \"s3.example.com\"\ns3_http_port = 9000\n",
        )
        .unwrap();
        let c = Config::from_settings(&Args::default(), &s).unwrap();
        assert_eq!(c.data_dirs, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(c.s3.s3_host.as_deref(), Some("s3.example.com"));
        assert_eq!(c.listen, vec!["127.0.0.1:9000".parse().unwrap()]);
        assert!(c.https_listen.is_empty());
        assert_eq!(c.admin_listen, Some(DEFAULT_ADMIN_LISTEN.parse().unwrap()));
    }

    #[test]
    fn encryption_key_origin_names_file_and_line() {
        let args = Args {
            config: Some(PathBuf::from("t.conf")),
            ..Args::default()
        };
        let file = parse("s3_http_port = 1\nencryption_key_file = /etc/k\n").unwrap();
        let c = Config::from_settings(&args, &file).unwrap();
        assert_eq!(c.encryption_key_file, Some(PathBuf::from("/etc/k")));
        assert_eq!(
            c.origin_of_encryption_key(),
            "t.conf:2: encryption_key_file"
        );
        assert!(describe(&c).contains("encryption_key_file = /etc/k\n"));
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse("\n\ns3_htp_port = 1\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.conf:3: unknown key \"s3_htp_port\""),
            "{e}"
        );
        let e = parse("s3_http_port = x\n").unwrap_err();
        assert!(e.to_string().starts_with("t.conf:1: s3_http_port"), "{e}");
        let e = parse("junk\n").unwrap_err();
        assert!(e.to_string().contains("key = value"), "{e}");
        let e = parse("daemonize = perhaps\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("t.conf:1: daemonize: \"perhaps\" is not yes or no"),
            "{e}"
        );
        let e = parse("pidfile = /a\npidfile = /b\n").unwrap_err();
        assert!(
            e.to_string().starts_with("t.conf:2: pidfile: set twice"),
            "{e}"
        );
        let e = parse("backend = s3\n").unwrap_err();
        assert!(e.to_string().contains("one of embedded, sx"), "{e}");
        assert!(parse("run-as = root:\n").is_err());
        let e = config("admin_auth = nopassword\n").unwrap_err();
        assert!(e.to_string().starts_with("t.conf:1: admin_auth"), "{e}");
        assert!(config("admin_auth = :pw\n").is_err());
        let c = config("admin_auth = ops:pw:with:colons\n").unwrap();
        assert_eq!(
            c.live.admin_auth.as_ref().map(SecretKey::expose),
            Some("ops:pw:with:colons")
        );
        assert!(describe(&c).contains("admin_auth = (set)\n"));
        assert!(!describe(&c).contains("with:colons"));
        assert!(parse("max_object_size = 5Q\n").is_err());
    }

    #[test]
    fn values() {
        assert_eq!(parse_size("16K"), Some(16384));
        assert_eq!(parse_size("5G"), Some(5 << 30));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("99999999999T"), None);
        assert_eq!(parse_seconds("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_seconds("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_run_as("libres3:nogroup"),
            Some(RunAs {
                user: "libres3".into(),
                group: Some("nogroup".into())
            })
        );
        assert_eq!(parse_port_or_off("off"), Some(None));
        assert_eq!(parse_port_or_off("0"), Some(Some(0)));
        assert_eq!(parse_bool("Yes"), Some(true));
    }

    #[test]
    fn defaults_come_from_the_table() {
        let c = config("").unwrap();
        assert_eq!(c.backend, Backend::Embedded);
        assert_eq!(c.shutdown_timeout, Duration::from_secs(30));
        assert_eq!(c.live.max_object_size, 5 << 30);
        assert_eq!(c.live.max_header_size, 8 << 10);
        assert_eq!(c.limits.max_parallel, 0);
        assert_eq!(c.limits.max_connections, 0);
        assert_eq!(c.live.client_body_timeout, Duration::from_secs(60));
        assert_eq!(c.live.log_level, log::LevelFilter::Info);
        assert!(!c.daemonize);
        for k in KEYS {
            if !k.default.is_empty() {
                assert!(check_value(k.kind, k.default), "default of {}", k.name);
            }
        }
    }

    #[test]
    fn listeners() {
        let c = config(
            "s3_http_port = off\ns3_ssl_certificate_file = /c\ns3_ssl_privatekey_file = /k\n",
        )
        .unwrap();
        assert!(c.listen.is_empty());
        assert_eq!(c.https_listen, vec!["127.0.0.1:8443".parse().unwrap()]);
        assert!(config("s3_http_port = off\n")
            .unwrap_err()
            .to_string()
            .contains("no listener"));
        assert!(config("s3_https_port = 8443\n").is_err());
        assert!(config("s3_ssl_certificate_file = /c\n").is_err());
        let c = config("s3_listen_ip = ::1\nadmin_listen = off\n").unwrap();
        assert_eq!(c.listen, vec!["[::1]:8008".parse().unwrap()]);
        assert_eq!(c.admin_listen, None);
    }

    #[test]
    fn sx_keys_are_kept_verbatim() {
        let c = config(&format!(
            "backend = sx\nsx_host = sx.example.com\nsecret_key = {SX_KEY}\nreplica_count = 2\n"
        ))
        .unwrap();
        assert_eq!(c.backend, Backend::Sx);
        assert_eq!(c.sx_value("sx_host"), Some("sx.example.com"));
        assert_eq!(c.sx_value("secret_key"), Some(SX_KEY));
        assert_eq!(
            c.sx[2],
            Entry {
                key: "replica_count",
                value: "2".into(),
                line: 4
            }
        );
        assert!(describe(&c).contains("secret_key = (set)"));
        assert!(!describe(&c).contains(SX_KEY));
    }

    /// An admin key of the SX form (base64 of 42 bytes).
    const SX_KEY: &str = "0DPiKuNIrrVmD8IUCuw1hQxNqZcoceX1r/QsuVb6pkTJ+F2+D1ckogAA";

    #[test]
    fn bad_sx_values_are_refused_with_their_line() {
        let e = config(&format!(
            "backend = sx\nsx_host = h\nsecret_key = {SX_KEY}\nsx_port = x\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 4: sx_port: not a port"), "{e}");
        let e = config("backend = sx\nsecret_key = nope\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("secret_key"), "{e}");
        // The embedded store ignores SX keys.
        assert!(config("sx_port = x\n").is_ok());
    }

    #[test]
    fn flags_override_file() {
        let args = Args {
            listen: vec!["127.0.0.1:0".into()],
            data_dirs: vec!["/x".into()],
            daemon: true,
            ..Args::default()
        };
        let c = Config::from_settings(
            &args,
            &parse("data_dir = /y\ns3_http_port = 1\ndaemonize = no\n").unwrap(),
        )
        .unwrap();
        assert_eq!(c.listen[0].port(), 0);
        assert_eq!(c.data_dirs, vec![PathBuf::from("/x")]);
        assert!(c.daemonize);
        assert_eq!(c.s3.region, DEFAULT_REGION);
        let bad = Args {
            listen: vec!["localhost".into()],
            ..Args::default()
        };
        assert!(Config::load(&bad).is_err());
    }

    #[test]
    fn readme_documents_every_key() {
        let readme = include_str!("../README.md");
        for k in KEYS {
            assert!(
                readme.contains(&format!("`{}`", k.name)),
                "README.md lacks `{}`",
                k.name
            );
        }
    }

    #[test]
    fn secret_files_must_be_private() {
        let dir = std::env::temp_dir().join(format!("libres3-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("libres3.conf");
        std::fs::write(&path, "secret_key = S\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let args = Args {
            config: Some(path.clone()),
            ..Args::default()
        };
        let e = Config::load(&args).unwrap_err().to_string();
        assert!(e.contains("readable by group or others"), "{e}");
        std::fs::write(&path, "secret_key = S\nallow_insecure_permissions = yes\n").unwrap();
        assert!(Config::load(&args).is_ok());
        std::fs::write(&path, "secret_key = S\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(Config::load(&args).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
