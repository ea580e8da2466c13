//! The typed settings the server runs with, built from the file and the command line, and
//! what a reload may change without a restart.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::file::{check_key_dir, check_secret_file, parse_file, Entry, FileSettings};
use super::keys::{find_key, Kind};
use super::values::*;
use super::{BackendCheck, ConfigError, DEFAULT_HTTPS_PORT, DEFAULT_REGION};
use super::{ObjectOwnership, PublicAccessBlock};
use crate::cli::Args;
use crate::credentials::SecretKey;

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
    /// 0: derived from the open-files limit (by the HTTP layer).
    pub max_connections: usize,
    /// 0: no per-worker cap.
    pub max_parallel: usize,
    pub workers: usize,
    pub client_request_timeout: Duration,
    pub keep_alive: Duration,
}

/// Settings of the S3 front end (the S3 layer's `S3Config`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Settings {
    /// The region clients sign for and GetBucketLocation answers.
    pub region: String,
    /// With a host name set, `bucket.<s3_host>` addresses a bucket (virtual-hosted style).
    pub s3_host: Option<String>,
    /// SSE-C keys are accepted over plain HTTP (else over HTTPS only, as AWS).
    pub allow_sse_c_over_http: bool,
    /// Block Public Access flags every bucket gets on top of its own.
    pub public_access_block: PublicAccessBlock,
    /// The Object Ownership of buckets created without `x-amz-object-ownership`.
    pub object_ownership: ObjectOwnership,
    /// How often the lifecycle worker runs (zero: never).
    pub lifecycle_interval: Duration,
    /// The length of a lifecycle "day" (86400 s; shorter in tests).
    pub lifecycle_day: Duration,
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
    /// The master keys of SSE-S3 and SSE-KMS (`s3::sse::keys::KeyStore`).
    pub kms_key_dir: PathBuf,
    /// HTTP listeners.
    pub listen: Vec<SocketAddr>,
    /// HTTPS listeners, and the certificate they serve.
    pub https_listen: Vec<SocketAddr>,
    pub tls: Option<TlsFiles>,
    pub admin_listen: Option<SocketAddr>,
    /// Whether admin_listen was set (the default address may be left out when taken).
    pub admin_listen_explicit: bool,
    pub s3: S3Settings,
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

pub(crate) fn default_pidfile() -> PathBuf {
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
    /// `check` is the backend's say on its own keys ([`BackendCheck`]).
    pub fn load(args: &Args, check: BackendCheck) -> Result<Config, ConfigError> {
        Config::load_with_text(args, check).map(|(config, _)| config)
    }

    /// Like [`Config::load`], and also returns the text read, for a supervisor to hand to a
    /// worker that may no longer be allowed to read the file.
    pub fn load_with_text(
        args: &Args,
        check: BackendCheck,
    ) -> Result<(Config, Option<String>), ConfigError> {
        let Some(path) = &args.config else {
            return Ok((
                Config::from_settings(args, &FileSettings::default(), check)?,
                None,
            ));
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let file = parse_file(path, &text)?;
        let config = Config::from_settings(args, &file, check)?;
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
        check_key_dir(&config.kms_key_dir, allow)?;
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
    pub fn from_text(args: &Args, text: &str, check: BackendCheck) -> Result<Config, ConfigError> {
        let path = args.config.clone().unwrap_or_default();
        Config::from_settings(args, &parse_file(&path, text)?, check)
    }

    pub(crate) fn from_settings(
        args: &Args,
        file: &FileSettings,
        check: BackendCheck,
    ) -> Result<Config, ConfigError> {
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
        let kms_key_dir = file
            .get("kms_key_dir")
            .map_or_else(|| data_dirs[0].join("kms"), PathBuf::from);
        let daemonize = args.daemon || file.typed("daemonize", parse_bool)?.unwrap_or(false);
        let allow_sse_c_over_http = file
            .typed("allow_sse_c_over_http", parse_bool)?
            .unwrap_or(false);
        let public_access_block = file
            .typed("public_access_block", PublicAccessBlock::parse_setting)?
            .unwrap_or_default();
        let object_ownership = file
            .typed("object_ownership", ObjectOwnership::parse)?
            .unwrap_or_default();
        let seconds = |name: &str| -> Result<Duration, ConfigError> {
            Ok(file.typed(name, parse_seconds)?.unwrap_or(Duration::ZERO))
        };
        let lifecycle_day = file
            .typed("lifecycle_day_seconds", |v| {
                // A day longer than a day would only postpone every rule.
                parse_seconds(v).filter(|d| !d.is_zero() && d.as_secs() <= 86_400)
            })?
            .unwrap_or(Duration::from_secs(86_400));
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
            kms_key_dir,
            listen,
            https_listen,
            tls,
            admin_listen,
            admin_listen_explicit: args.admin_listen.is_some()
                || file.get("admin_listen").is_some(),
            s3: S3Settings {
                region,
                s3_host,
                allow_sse_c_over_http,
                public_access_block,
                object_ownership,
                lifecycle_interval: seconds("lifecycle_interval")?,
                lifecycle_day,
            },
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
        // The backend's own keys are checked with the rest, so that `check-config`, `reload`
        // and a SIGHUP refuse a bad SX value as they refuse any other.
        check(&config).map_err(ConfigError::Invalid)?;
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
        check("kms_key_dir", self.kms_key_dir == other.kms_key_dir);
        check(
            "listeners",
            self.listen == other.listen && self.https_listen == other.https_listen,
        );
        check("admin_listen", self.admin_listen == other.admin_listen);
        check(
            "s3_host/s3_region/allow_sse_c_over_http/public_access_block/object_ownership/lifecycle_*",
            self.s3 == other.s3,
        );
        check("run-as", self.run_as == other.run_as);
        check("pidfile", self.pidfile == other.pidfile);
        check("logdir", self.logdir == other.logdir);
        check("limits", self.limits == other.limits);
        changed
    }
}

/// Secret keys whose value sits in the file itself (as opposed to a file it names).
fn k_is_inline(key: &str) -> bool {
    key == "secret_key" || key == "admin_auth"
}
