//! The file itself: `key = value` lines checked against the key table, secret-bearing files
//! that others must not read, and the pid file found even in a broken file.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::keys::{find_key, Kind, KEYS};
use super::values::check_value;
use super::ConfigError;
use crate::cli::Args;

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
    pub(crate) fn last(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.key == key)
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.last(key).map(|e| e.value.as_str())
    }

    pub(crate) fn error(&self, entry: &Entry, message: String) -> ConfigError {
        ConfigError::Line {
            path: self.path.clone(),
            line: entry.line,
            message: format!("{}: {message}", entry.key),
        }
    }

    /// The typed value of a key, or its table default, or None.
    pub(crate) fn typed<T>(
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

/// The SSE key directory, when it exists, must be closed to group and others: it holds the
/// master keys of every SSE-S3 and SSE-KMS object. (The server makes it 0700.)
pub fn check_key_dir(dir: &Path, allow: bool) -> Result<(), ConfigError> {
    let mode = match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => meta.permissions().mode(),
        Ok(_) => {
            return Err(ConfigError::Invalid(format!(
                "{}: kms_key_dir is not a directory",
                dir.display()
            )))
        }
        // Made on first use.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(ConfigError::Invalid(format!(
                "{}: cannot read the SSE key directory (kms_key_dir): {e}",
                dir.display()
            )))
        }
    };
    if mode & 0o077 != 0 && !allow {
        return Err(ConfigError::Invalid(format!(
            "{}: the SSE key directory (kms_key_dir) is open to group or others (mode {:o}); \
             run chmod 700 on it, or set allow_insecure_permissions = yes",
            dir.display(),
            mode & 0o777
        )));
    }
    Ok(())
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
    from_file.unwrap_or_else(super::settings::default_pidfile)
}
