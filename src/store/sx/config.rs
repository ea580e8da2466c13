//! Settings of the SX backend, from the original LibreS3's `libres3.conf` keys.

use std::path::PathBuf;
use std::time::Duration;

use super::auth::{Token, TokenError};
use crate::config::{self, Config};

/// A bad SX setting. The text starts with the key it is about (`from_config` relies on it to
/// name the key's line).
#[derive(Debug, thiserror::Error)]
pub enum SxConfigError {
    #[error("{key}: expected yes or no, got {value:?}")]
    NotYesOrNo { key: String, value: String },
    #[error("{key}: unknown size unit in {value:?}")]
    SizeUnit { key: String, value: String },
    #[error("{key}: not a size: {value:?}")]
    NotASize { key: String, value: String },
    #[error("sx_port: not a port: {0:?}")]
    NotAPort(String),
    #[error("secret_key: {0}")]
    SecretKey(TokenError),
    #[error("replica_count: not a count: {0:?}")]
    NotACount(String),
    #[error("sx_node_refresh: expected seconds from 1 to 86400, got {0:?}")]
    NotARefresh(String),
    #[error("volume_size: SX volumes are at least 1M")]
    VolumeTooSmall,
    #[error("sx_host: no SX node given")]
    NoHost,
    #[error("keyid: empty")]
    EmptyKeyId,
    #[error("secret_key: the SX admin key is required")]
    NoSecretKey,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SxConfig {
    /// Node addresses (IP or name) to start from; the cluster's node list is learned from them.
    pub hosts: Vec<String>,
    /// The cluster-wide port (default 443 with SSL, 80 without).
    pub port: u16,
    /// The SX admin token (`secret_key`).
    pub admin_token: Token,
    /// The S3 access key of the SX admin user (`keyid`, default `admin`).
    pub admin_key_id: String,
    pub use_ssl: bool,
    pub ca_file: Option<PathBuf>,
    pub verify_ssl: bool,
    /// For new volumes.
    pub replica_count: u32,
    pub volume_size: u64,
    /// Any user may create buckets (the admin creates the volume for them); else admin only.
    pub allow_volume_create_any_user: bool,
    /// List every volume a user can access; else only the volumes the user owns.
    pub allow_list_all_volumes: bool,
    /// How often the cluster's node list is read again (`sx_node_refresh`).
    pub node_refresh: Duration,
    /// Keep multipart parts past an object's first 128 MiB as unflushed blocks
    /// (`sx_fast_large_multipart`, see `unflushed`).
    pub fast_large_multipart: bool,
}

fn parse_bool(key: &str, value: &str) -> Result<bool, SxConfigError> {
    config::parse_bool(value).ok_or_else(|| SxConfigError::NotYesOrNo {
        key: key.to_owned(),
        value: value.to_owned(),
    })
}

/// `10G`, `500M`, `1T`, `1048576` (binary units, as the original); the error tells a wrong
/// unit from a value that is no size at all.
pub fn parse_size(key: &str, value: &str) -> Result<u64, SxConfigError> {
    config::parse_size(value).ok_or_else(|| {
        let unit = value
            .trim()
            .chars()
            .last()
            .filter(char::is_ascii_alphabetic);
        let (key, value) = (key.to_owned(), value.to_owned());
        match unit {
            Some(c) if !"KMGT".contains(c.to_ascii_uppercase()) => {
                SxConfigError::SizeUnit { key, value }
            }
            _ => SxConfigError::NotASize { key, value },
        }
    })
}

impl SxConfig {
    /// The settings from `libres3.conf`'s SX keys; an error names the line of the key.
    pub fn from_config(config: &Config) -> Result<SxConfig, String> {
        let pairs: Vec<(String, String)> = config
            .sx
            .iter()
            .map(|e| (e.key.to_string(), e.value.clone()))
            .collect();
        SxConfig::from_pairs(&pairs).map_err(|e| {
            // The parser's messages start with the key they are about.
            let e = e.to_string();
            let line = config
                .sx
                .iter()
                .rev()
                .find(|entry| e.starts_with(entry.key))
                .map(|entry| entry.line);
            match (&config.source, line) {
                (Some(file), Some(line)) => format!("{}:{line}: {e}", file.display()),
                (None, Some(line)) => format!("configuration line {line}: {e}"),
                (Some(file), None) => format!("{}: backend = sx: {e}", file.display()),
                (None, None) => format!("backend = sx: {e}"),
            }
        })
    }

    /// Builds the settings from raw `key = value` pairs. Keys that are not the SX backend's are
    /// ignored (the config parser owns them); a repeated `sx_host` adds nodes.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<SxConfig, SxConfigError> {
        let mut hosts = Vec::new();
        let mut port = None;
        let mut token = None;
        let mut key_id = "admin".to_owned();
        let mut use_ssl = true;
        let mut ca_file = None;
        let mut verify = true;
        let mut replicas = 1u32;
        let mut volume_size = 10u64 << 30;
        let mut create_any = true;
        let mut list_all = false;
        let mut node_refresh = Duration::from_secs(60);
        let mut fast_large_multipart = false;
        for (key, value) in pairs {
            let value = value.trim();
            match key.as_str() {
                "sx_host" => hosts.extend(
                    value
                        .split(|c: char| c == ',' || c.is_whitespace())
                        .filter(|h| !h.is_empty())
                        .map(str::to_owned),
                ),
                "sx_port" => {
                    port = Some(
                        value
                            .parse::<u16>()
                            .ok()
                            .filter(|p| *p > 0)
                            .ok_or_else(|| SxConfigError::NotAPort(value.to_owned()))?,
                    )
                }
                "secret_key" => {
                    token = Some(Token::parse(value).map_err(SxConfigError::SecretKey)?)
                }
                "keyid" => key_id = value.to_owned(),
                "sx_use_ssl" => use_ssl = parse_bool(key, value)?,
                "sx_ca_file" => ca_file = (!value.is_empty()).then(|| PathBuf::from(value)),
                "sx_verify_ssl" => verify = parse_bool(key, value)?,
                "replica_count" => {
                    replicas = value
                        .parse()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| SxConfigError::NotACount(value.to_owned()))?
                }
                "volume_size" => {
                    volume_size = parse_size(key, value)?;
                    if volume_size < 1 << 20 {
                        return Err(SxConfigError::VolumeTooSmall);
                    }
                }
                "allow_volume_create_any_user" => create_any = parse_bool(key, value)?,
                "allow_list_all_volumes" => list_all = parse_bool(key, value)?,
                "sx_fast_large_multipart" => fast_large_multipart = parse_bool(key, value)?,
                "sx_node_refresh" => {
                    node_refresh = value
                        .parse()
                        .ok()
                        .filter(|s| (1..=86_400).contains(s))
                        .map(Duration::from_secs)
                        .ok_or_else(|| SxConfigError::NotARefresh(value.to_owned()))?
                }
                _ => {}
            }
        }
        if hosts.is_empty() {
            return Err(SxConfigError::NoHost);
        }
        if key_id.is_empty() {
            return Err(SxConfigError::EmptyKeyId);
        }
        let admin_token = token.ok_or(SxConfigError::NoSecretKey)?;
        Ok(SxConfig {
            hosts,
            port: port.unwrap_or(if use_ssl { 443 } else { 80 }),
            admin_token,
            admin_key_id: key_id,
            use_ssl,
            ca_file,
            verify_ssl: verify,
            replica_count: replicas,
            volume_size,
            allow_volume_create_any_user: create_any,
            allow_list_all_volumes: list_all,
            node_refresh,
            fast_large_multipart,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const KEY: &str = "0DPiKuNIrrVmD8IUCuw1hQxNqZcoceX1r/QsuVb6pkTJ+F2+D1ckogAA";

    #[test]
    fn original_keys() {
        let c = SxConfig::from_pairs(&pairs(&[
            ("sx_host", "10.0.0.1, 10.0.0.2"),
            ("sx_host", "10.0.0.3"),
            ("secret_key", KEY),
            ("sx_use_ssl", "no"),
            ("volume_size", "100M"),
            ("replica_count", "2"),
            ("allow_list_all_volumes", "true"),
            ("sx_node_refresh", "5"),
            ("sx_fast_large_multipart", "yes"),
            ("s3_host", "ignored"),
        ]))
        .unwrap();
        assert_eq!(c.hosts, ["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
        assert_eq!(c.port, 80);
        assert!(!c.use_ssl && c.verify_ssl);
        assert_eq!(c.volume_size, 100 << 20);
        assert_eq!(c.replica_count, 2);
        assert!(c.allow_list_all_volumes && c.allow_volume_create_any_user);
        assert_eq!(c.admin_key_id, "admin");
        assert_eq!(c.node_refresh, Duration::from_secs(5));
        assert!(c.fast_large_multipart);
        let ssl = SxConfig::from_pairs(&pairs(&[("sx_host", "h"), ("secret_key", KEY)])).unwrap();
        assert_eq!(ssl.port, 443);
        assert!(!ssl.fast_large_multipart, "off unless asked for");
    }

    /// `check-config --keys` and the man page show the key table's defaults: they must be
    /// the ones the parser applies.
    #[test]
    fn the_key_tables_defaults_are_the_parsers() {
        let required = [("sx_host", "h"), ("secret_key", KEY)];
        let mut with_defaults = pairs(&required);
        for key in crate::config::KEYS {
            if key.kind == crate::config::Kind::Sx && !key.default.is_empty() {
                with_defaults.push((key.name.to_owned(), key.default.to_owned()));
            }
        }
        assert!(
            with_defaults.len() > required.len() + 5,
            "{with_defaults:?}"
        );
        assert_eq!(
            SxConfig::from_pairs(&with_defaults).unwrap(),
            SxConfig::from_pairs(&pairs(&required)).unwrap()
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let e = SxConfig::from_pairs(&pairs(&[("sx_host", "h")]))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("secret_key"), "{e}");
        let e = SxConfig::from_pairs(&pairs(&[("secret_key", KEY)]))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("sx_host"), "{e}");
        let e = SxConfig::from_pairs(&pairs(&[
            ("sx_host", "h"),
            ("secret_key", KEY),
            ("sx_port", "x"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("sx_port"), "{e}");
        let e = SxConfig::from_pairs(&pairs(&[("sx_host", "h"), ("secret_key", "nope")]))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("secret_key"), "{e}");
        for refresh in ["0", "x", "86401", "-1"] {
            let e = SxConfig::from_pairs(&pairs(&[
                ("sx_host", "h"),
                ("secret_key", KEY),
                ("sx_node_refresh", refresh),
            ]))
            .unwrap_err()
            .to_string();
            assert!(e.starts_with("sx_node_refresh"), "{e}");
        }
    }
}
