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
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

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
    // Lines of requests answered before the signal go to the file being rotated out.
    flush_access();
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

/// Queues one access line; the flusher thread writes the queue out (see [`PENDING`]).
pub fn access(line: &str) {
    let foreground = match SINK.get() {
        Some(Sink::Files(_)) => false,
        // env_logger's filter (RUST_LOG) and line format, without its formatting machinery,
        // which cost more than the rest of a small GET's logging.
        _ if log::log_enabled!(target: "access", log::Level::Info) => true,
        _ => return,
    };
    let full = queue_line(foreground, line);
    if full || !flusher_runs() {
        flush_access();
    }
}

/// Appends a line to [`PENDING`]; true when the queue has reached [`FLUSH_AT_BYTES`].
fn queue_line(foreground: bool, line: &str) -> bool {
    let mut lines = PENDING.lines.lock().unwrap_or_else(PoisonError::into_inner);
    if lines.is_empty() {
        PENDING.arrived.notify_one();
    }
    if foreground {
        push_foreground_line(&mut lines, line);
    } else {
        lines.extend_from_slice(line.as_bytes());
        lines.push(b'\n');
    }
    lines.len() >= FLUSH_AT_BYTES
}

/// Access lines not yet written. A write call per line cost a 4 KiB GET about 6 % of the
/// server's CPU, so requests only append here, and a thread of its own writes what gathered
/// in one call, [`FLUSH_DELAY`] after the first line. A request that finds
/// [`FLUSH_AT_BYTES`] queued writes them itself, which bounds the queue. `kill -9` loses
/// the lines of that last moment; a shutdown, a log reopen and a full queue write them out.
static PENDING: Pending = Pending {
    lines: Mutex::new(Vec::new()),
    arrived: Condvar::new(),
};

struct Pending {
    lines: Mutex<Vec<u8>>,
    /// Signalled when a line arrives in an empty queue.
    arrived: Condvar,
}

/// How long the flusher lets lines gather after the first one: at 20,000 requests a
/// second, 20 lines a write.
const FLUSH_DELAY: Duration = Duration::from_millis(1);
/// Queued bytes at which the request that adds them writes the queue itself.
const FLUSH_AT_BYTES: usize = 64 * 1024;

/// The buffer the lines being written sit in, swapped with the queue's. Held while they are
/// written, so that batches reach the file in the order they were taken.
static WRITING: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Whether the flusher thread is running; started by the first line, so in the process
/// that serves (a daemon's worker is forked before it serves). Without it, every request
/// writes its own line.
fn flusher_runs() -> bool {
    static STARTED: OnceLock<bool> = OnceLock::new();
    *STARTED.get_or_init(|| {
        let spawned = std::thread::Builder::new()
            .name("libres3-access-log".into())
            .spawn(|| loop {
                {
                    let mut lines = PENDING.lines.lock().unwrap_or_else(PoisonError::into_inner);
                    while lines.is_empty() {
                        lines = PENDING
                            .arrived
                            .wait(lines)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                }
                std::thread::sleep(FLUSH_DELAY);
                flush_access();
            });
        match spawned {
            Ok(_) => true,
            Err(e) => {
                log::warn!("no thread for the access log ({e}): each request writes its line");
                false
            }
        }
    })
}

/// Writes every queued access line, with one write call.
pub fn flush_access() {
    flush_with(|batch| match SINK.get() {
        Some(Sink::Files(logs)) => {
            if let Ok(mut file) = logs.access.lock() {
                let _ = file.write_all(batch);
            }
        }
        _ => {
            let _ = std::io::stderr().write_all(batch);
        }
    });
}

/// Takes the queued lines and hands them to `write`, in turn with other flushes.
fn flush_with(write: impl FnOnce(&[u8])) {
    let mut batch = WRITING.lock().unwrap_or_else(PoisonError::into_inner);
    std::mem::swap(
        &mut *batch,
        &mut *PENDING.lines.lock().unwrap_or_else(PoisonError::into_inner),
    );
    if !batch.is_empty() {
        write(&batch);
        batch.clear();
    }
}

thread_local! {
    /// The last second this thread stamped and its text.
    static LAST_STAMP: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// Appends `[2026-12-04T19:27:22Z INFO  access] LINE\n`, as env_logger prints it.
fn push_foreground_line(out: &mut Vec<u8>, line: &str) {
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
        out.push(b'[');
        out.extend_from_slice(last.1.as_bytes());
        out.extend_from_slice(b" INFO  access] ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
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
    fn queued_lines_are_written_once_each_in_order() {
        const THREADS: usize = 4;
        const LINES: usize = 5_000;
        let written = Mutex::new(Vec::new());
        let keep = |batch: &[u8]| written.lock().expect("lock").extend_from_slice(batch);
        std::thread::scope(|scope| {
            for thread in 0..THREADS {
                scope.spawn(move || {
                    for n in 0..LINES {
                        // Past FLUSH_AT_BYTES the request writes the queue itself.
                        if queue_line(false, &format!("{thread} {n}")) {
                            flush_with(keep);
                        }
                    }
                });
            }
            // Flushes race the requests, as the flusher thread's do.
            scope.spawn(move || {
                for _ in 0..200 {
                    flush_with(keep);
                    std::thread::yield_now();
                }
            });
        });
        flush_with(keep);
        let written = String::from_utf8(written.into_inner().expect("lock")).expect("text");
        let mut next = [0; THREADS];
        for line in written.lines() {
            let (thread, n) = line.split_once(' ').expect("thread and number");
            let thread: usize = thread.parse().expect("thread");
            assert_eq!(n.parse::<usize>().expect("number"), next[thread], "{line}");
            next[thread] += 1;
        }
        assert_eq!(next, [LINES; THREADS]);
    }

    #[test]
    fn foreground_lines_look_like_env_loggers() {
        let mut out = Vec::new();
        push_foreground_line(&mut out, "127.0.0.1 - AK [x] \"GET / HTTP/1.1\" 200");
        let text = String::from_utf8(out).expect("text");
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
