//! `libres3.conf` (`key = value` lines) and the validated settings the server runs with.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::cli::Args;
use crate::s3::S3Config;

pub const DEFAULT_PORT: u16 = 8008;
pub const DEFAULT_LISTEN_IP: &str = "127.0.0.1";
pub const DEFAULT_REGION: &str = "us-east-1";

/// Keys the configuration file accepts, with what each one means.
pub const KEYS: &[(&str, &str)] = &[
    (
        "data_dir",
        "a storage directory of the embedded store; one line per directory",
    ),
    (
        "s3_host",
        "host name for virtual-hosted-style bucket addressing",
    ),
    ("s3_listen_ip", "address to listen on (default 127.0.0.1)"),
    ("s3_http_port", "port to listen on (default 8008)"),
    ("s3_region", "region clients sign for (default us-east-1)"),
];

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

/// The settings the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dirs: Vec<PathBuf>,
    pub listen: Vec<SocketAddr>,
    pub s3: S3Config,
}

#[derive(Debug, Default)]
struct FileSettings {
    data_dirs: Vec<PathBuf>,
    s3_host: Option<String>,
    listen_ip: Option<String>,
    port: Option<u16>,
    region: Option<String>,
}

fn parse_file(path: &Path, text: &str) -> Result<FileSettings, ConfigError> {
    let mut settings = FileSettings::default();
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
        let Some((key, value)) = line.split_once('=') else {
            return Err(error(format!("expected `key = value`, found {line:?}")));
        };
        let (key, value) = (key.trim(), value.trim().trim_matches('"'));
        match key {
            "data_dir" => settings.data_dirs.push(PathBuf::from(value)),
            "s3_host" => settings.s3_host = Some(value.to_string()),
            "s3_listen_ip" => settings.listen_ip = Some(value.to_string()),
            "s3_region" => settings.region = Some(value.to_string()),
            "s3_http_port" => {
                settings.port = Some(value.parse().map_err(|_| {
                    error(format!(
                        "s3_http_port: {value:?} is not a port number (1-65535)"
                    ))
                })?)
            }
            _ => {
                let known: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
                return Err(error(format!(
                    "unknown key {key:?}; the known keys are {}",
                    known.join(", ")
                )));
            }
        }
    }
    Ok(settings)
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

impl Config {
    /// Flags on the command line override the file.
    pub fn load(args: &Args) -> Result<Config, ConfigError> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                parse_file(path, &text)?
            }
            None => FileSettings::default(),
        };
        let data_dirs = if !args.data_dirs.is_empty() {
            args.data_dirs.clone()
        } else if !file.data_dirs.is_empty() {
            file.data_dirs
        } else {
            vec![default_data_dir()]
        };
        let listen_words: Vec<String> = if !args.listen.is_empty() {
            args.listen.clone()
        } else {
            let ip = file.listen_ip.as_deref().unwrap_or(DEFAULT_LISTEN_IP);
            let port = file.port.unwrap_or(DEFAULT_PORT);
            if ip.contains(':') {
                vec![format!("[{ip}]:{port}")]
            } else {
                vec![format!("{ip}:{port}")]
            }
        };
        let listen = listen_words
            .iter()
            .map(|word| {
                word.parse::<SocketAddr>().map_err(|_| {
                    ConfigError::Invalid(format!(
                        "listen address {word:?} is not ADDR:PORT (e.g. 127.0.0.1:8008 or [::1]:8008)"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let s3_host = args
            .s3_host
            .clone()
            .or(file.s3_host)
            .filter(|h| !h.is_empty());
        let region = args
            .region
            .clone()
            .or(file.region)
            .unwrap_or_else(|| DEFAULT_REGION.to_string());
        Ok(Config {
            data_dirs,
            listen,
            s3: S3Config { region, s3_host },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_keys() {
        let s = parse_file(
            Path::new("t.conf"),
            "# comment\ndata_dir = /a\ndata_dir=/b\ns3_host = \"s3.example.com\"\ns3_http_port = 9000\n",
        )
        .unwrap();
        assert_eq!(s.data_dirs, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(s.s3_host.as_deref(), Some("s3.example.com"));
        assert_eq!(s.port, Some(9000));
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse_file(Path::new("t.conf"), "\n\ns3_htp_port = 1\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.conf:3: unknown key \"s3_htp_port\""),
            "{e}"
        );
        let e = parse_file(Path::new("t.conf"), "s3_http_port = x\n").unwrap_err();
        assert!(e.to_string().starts_with("t.conf:1: s3_http_port"), "{e}");
        let e = parse_file(Path::new("t.conf"), "junk\n").unwrap_err();
        assert!(e.to_string().contains("key = value"), "{e}");
    }

    #[test]
    fn flags_override_file() {
        let args = Args {
            listen: vec!["127.0.0.1:0".into()],
            data_dirs: vec!["/x".into()],
            ..Args::default()
        };
        let c = Config::load(&args).unwrap();
        assert_eq!(c.listen[0].port(), 0);
        assert_eq!(c.data_dirs, vec![PathBuf::from("/x")]);
        assert_eq!(c.s3.region, DEFAULT_REGION);
        let bad = Args {
            listen: vec!["localhost".into()],
            ..Args::default()
        };
        assert!(Config::load(&bad).is_err());
    }
}
