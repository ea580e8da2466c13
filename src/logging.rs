//! Logs: env_logger on stderr in the foreground; in daemon mode `errors.log` and `access.log`
//! under `logdir`, reopened on SIGUSR1 (logrotate moves them, then signals us).
//!
//! The level is `log::max_level()`, which SIGHUP may change; the loggers themselves accept
//! every level so that the change takes effect without rebuilding them.

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

pub const ACCESS_LOG: &str = "access.log";
pub const ERROR_LOG: &str = "errors.log";

/// Where access lines go.
enum Sink {
    /// Through `log` at info, target "access" (the foreground).
    Log,
    Files(FileLogs),
}

struct FileLogs {
    dir: PathBuf,
    errors: Mutex<File>,
    access: Mutex<File>,
}

static SINK: OnceLock<Sink> = OnceLock::new();
/// The run-as user: a supervisor running as root gives it the files it creates, so that the
/// worker can open them too.
static OWNER: OnceLock<(nix::unistd::Uid, nix::unistd::Gid)> = OnceLock::new();

pub fn set_owner(uid: nix::unistd::Uid, gid: nix::unistd::Gid) {
    let _ = OWNER.set((uid, gid));
}

fn open_log(path: &Path) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)?;
    if let Some((uid, gid)) = OWNER.get() {
        if nix::unistd::geteuid().is_root() {
            nix::unistd::chown(path, Some(*uid), Some(*gid))?;
        }
    }
    Ok(file)
}

/// Foreground: env_logger on stderr. `RUST_LOG` wins over the configured level.
pub fn init_stderr(level: log::LevelFilter) {
    let from_env = std::env::var("RUST_LOG").ok().filter(|v| !v.is_empty());
    let mut builder = env_logger::Builder::new();
    match &from_env {
        Some(spec) => {
            builder.parse_filters(spec);
        }
        None => {
            builder.filter_level(log::LevelFilter::Trace);
        }
    }
    if builder.try_init().is_ok() && from_env.is_none() {
        log::set_max_level(level);
    }
    let _ = SINK.set(Sink::Log);
}

/// Why the daemon's log files cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum LogSetupError {
    #[error("cannot open {}: {source}", path.display())]
    Open {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("logging was already set up")]
    AlreadySetUp,
    #[error("cannot install the logger: {0}")]
    Install(log::SetLoggerError),
}

/// Daemon: `errors.log` and `access.log` in `dir`, created if missing.
pub fn init_files(dir: &Path, level: log::LevelFilter) -> Result<(), LogSetupError> {
    let open = |name: &str| {
        let path = dir.join(name);
        open_log(&path).map_err(|source| LogSetupError::Open { path, source })
    };
    let logs = FileLogs {
        dir: dir.to_path_buf(),
        errors: Mutex::new(open(ERROR_LOG)?),
        access: Mutex::new(open(ACCESS_LOG)?),
    };
    if SINK.set(Sink::Files(logs)).is_err() {
        return Err(LogSetupError::AlreadySetUp);
    }
    log::set_logger(&FILE_LOGGER).map_err(LogSetupError::Install)?;
    log::set_max_level(level);
    Ok(())
}

/// Applies a new level (SIGHUP); ignored when RUST_LOG rules the foreground.
pub fn set_level(level: log::LevelFilter) {
    if matches!(SINK.get(), Some(Sink::Log)) && std::env::var_os("RUST_LOG").is_some() {
        return;
    }
    log::set_max_level(level);
}

/// Reopens the log files (SIGUSR1). A file that cannot be reopened keeps the old handle.
pub fn reopen() {
    let Some(Sink::Files(logs)) = SINK.get() else {
        return;
    };
    for (name, slot) in [(ERROR_LOG, &logs.errors), (ACCESS_LOG, &logs.access)] {
        let path = logs.dir.join(name);
        match open_log(&path) {
            Ok(file) => {
                if let Ok(mut current) = slot.lock() {
                    *current = file;
                }
            }
            Err(e) => log::error!(
                "cannot reopen {}: {e}; still writing to the old file",
                path.display()
            ),
        }
    }
    log::info!("reopened the log files in {}", logs.dir.display());
}

/// Writes one access line, with one write call.
pub fn access(line: &str) {
    match SINK.get() {
        Some(Sink::Files(logs)) => {
            let mut text = String::with_capacity(line.len() + 1);
            text.push_str(line);
            text.push('\n');
            if let Ok(mut file) = logs.access.lock() {
                let _ = file.write_all(text.as_bytes());
            }
        }
        // env_logger's filter (RUST_LOG) and line format, without its formatting machinery,
        // which cost more than the rest of a small GET's logging.
        _ if log::log_enabled!(target: "access", log::Level::Info) => {
            let _ = std::io::stderr().write_all(foreground_line(line).as_bytes());
        }
        _ => {}
    }
}

thread_local! {
    /// The last second this thread stamped and its text.
    static LAST_STAMP: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// `[2026-12-04T19:27:22Z INFO  access] LINE\n`, as env_logger prints it.
fn foreground_line(line: &str) -> String {
    let now = SystemTime::now();
    let second = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    LAST_STAMP.with(|cell| {
        let mut last = cell.borrow_mut();
        if last.0 != second {
            let stamp = crate::time::iso8601(now);
            // env_logger's default stamp has whole seconds: drop ".mmm" before the Z.
            let whole = match stamp.rsplit_once('.') {
                Some((seconds, _)) => format!("{seconds}Z"),
                None => stamp,
            };
            *last = (second, whole);
        }
        let mut text = String::with_capacity(line.len() + 48);
        text.push('[');
        text.push_str(&last.1);
        text.push_str(" INFO  access] ");
        text.push_str(line);
        text.push('\n');
        text
    })
}

struct FileLogger;

static FILE_LOGGER: FileLogger = FileLogger;

impl log::Log for FileLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let Some(Sink::Files(logs)) = SINK.get() else {
            return;
        };
        let line = format!(
            "{} {} [{}] {} {}\n",
            crate::time::iso8601(std::time::SystemTime::now()),
            std::process::id(),
            record.level(),
            record.target(),
            record.args()
        );
        if let Ok(mut file) = logs.errors.lock() {
            let _ = file.write_all(line.as_bytes());
        }
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreground_lines_look_like_env_loggers() {
        let text = foreground_line("127.0.0.1 - AK [x] \"GET / HTTP/1.1\" 200");
        let (stamp, rest) = text
            .strip_prefix('[')
            .and_then(|t| t.split_once(' '))
            .expect("a stamp");
        assert_eq!(
            rest,
            "INFO  access] 127.0.0.1 - AK [x] \"GET / HTTP/1.1\" 200\n"
        );
        // 2026-12-04T19:27:22Z: whole seconds, as env_logger's default format.
        assert_eq!(stamp.len(), 20, "{stamp}");
        assert!(crate::time::parse_iso8601(stamp).is_some(), "{stamp}");
    }
}
