//! `libres3.conf` (`key = value` lines) and the command line, turned into one typed
//! [`Config`]. Config knows no backend: the SX keys are kept verbatim for the SX store,
//! which checks them through the [`BackendCheck`] its caller passes in.

mod access;
mod describe;
mod file;
mod keys;
mod settings;
mod values;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use access::{ObjectOwnership, PublicAccessBlock, OBJECT_OWNERSHIPS, PUBLIC_ACCESS_FLAGS};
pub use describe::describe;
pub use file::{check_secret_file, parse_file, pidfile_leniently, Entry, FileSettings};
pub use keys::{find_key, keys_help, Key, Kind, KEYS, LOG_LEVELS};
pub use settings::{default_data_dir, Backend, Config, Limits, LiveSettings, S3Settings, TlsFiles};
pub use values::{
    parse_addr_or_off, parse_admin_auth, parse_bool, parse_level, parse_port_or_off, parse_run_as,
    parse_seconds, parse_size, RunAs,
};

pub const DEFAULT_PORT: u16 = 8008;
pub const DEFAULT_HTTPS_PORT: u16 = 8443;
pub const DEFAULT_LISTEN_IP: &str = "127.0.0.1";
pub const DEFAULT_REGION: &str = "us-east-1";
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:8009";

/// What a backend says of the settings it owns (the SX keys, which config keeps verbatim):
/// run right after the file parsed, so that `check-config`, `reload` and a SIGHUP refuse a bad
/// backend value as they refuse any other.
pub type BackendCheck = fn(&Config) -> Result<(), String>;

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
