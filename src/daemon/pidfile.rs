//! The pid file: created and locked by the daemon, read by `stop`, `status` and `reload`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{Gid, Pid, Uid};

/// Why the pid file (or a directory the daemon needs) cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum PidfileError {
    #[error("cannot create {}: {source}", dir.display())]
    CreateDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot give {} to the run-as user: {source}", dir.display())]
    GiveDir { dir: PathBuf, source: nix::Error },
    #[error("cannot open the pid file {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("libres3 is already running as pid {pid} (pid file {} is locked)", path.display())]
    AlreadyRunning { pid: String, path: PathBuf },
    #[error("cannot lock the pid file {}: {source}", path.display())]
    Lock { path: PathBuf, source: Errno },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the pid file {} is locked but holds no pid", path.display())]
    NoPid { path: PathBuf },
    #[error("cannot check the pid file {}: {source}", path.display())]
    Check { path: PathBuf, source: Errno },
}

/// For the callers that still report errors as text.
impl From<PidfileError> for String {
    fn from(e: PidfileError) -> String {
        e.to_string()
    }
}

/// The locked pid file. The lock lives as long as the open file, in every process of the
/// daemon (the fork shares it), and disappears with the last of them.
pub struct Pidfile {
    path: PathBuf,
    file: Flock<File>,
}

/// Makes a missing directory, owned by the run-as user when we run as root (so that the
/// daemon can still write there after dropping privileges).
pub fn prepare_dir(dir: &Path, owner: Option<(Uid, Gid)>) -> Result<(), PidfileError> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|source| PidfileError::CreateDir {
        dir: dir.to_path_buf(),
        source,
    })?;
    if let Some((uid, gid)) = owner {
        nix::unistd::chown(dir, Some(uid), Some(gid)).map_err(|source| PidfileError::GiveDir {
            dir: dir.to_path_buf(),
            source,
        })?;
    }
    Ok(())
}

impl Pidfile {
    /// Creates and locks the pid file, or says which pid holds it.
    pub fn lock(path: &Path, owner: Option<(Uid, Gid)>) -> Result<Pidfile, PidfileError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            prepare_dir(parent, owner)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(path)
            .map_err(|source| PidfileError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(file) => Ok(Pidfile {
                path: path.to_path_buf(),
                file,
            }),
            Err((mut file, Errno::EWOULDBLOCK)) => {
                let pid = read_pid(&mut file).map_or("unknown".into(), |p| p.to_string());
                Err(PidfileError::AlreadyRunning {
                    pid,
                    path: path.to_path_buf(),
                })
            }
            Err((_, source)) => Err(PidfileError::Lock {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Writes this process's pid.
    pub fn write_pid(&mut self) -> Result<(), PidfileError> {
        let pid = std::process::id();
        let error = |source| PidfileError::Write {
            path: self.path.clone(),
            source,
        };
        self.file.set_len(0).map_err(error)?;
        self.file.rewind().map_err(error)?;
        writeln!(&*self.file, "{pid}").map_err(error)?;
        self.file.sync_all().map_err(error)
    }

    /// Removes the file (while still holding the lock, so nobody sees a half-gone daemon).
    pub fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn read_pid(file: &mut File) -> Option<i32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok().filter(|p| *p > 0)
}

/// What a pid file says about the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PidState {
    /// A daemon holds the lock: it runs, with this pid.
    Running(Pid),
    /// Nobody holds the lock, but the file still names a pid: the daemon died without
    /// removing it (killed with SIGKILL, a crash of the machine...).
    Stale(Pid),
    /// No file, or an unlocked file naming no pid.
    NotRunning,
}

/// Reads `path` and its lock.
pub fn pid_state(path: &Path) -> Result<PidState, PidfileError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(PidState::NotRunning),
        Err(source) => {
            return Err(PidfileError::Open {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(mut unlocked_on_drop) => Ok(match read_pid(&mut unlocked_on_drop) {
            Some(pid) => PidState::Stale(Pid::from_raw(pid)),
            None => PidState::NotRunning,
        }),
        Err((mut file, Errno::EWOULDBLOCK)) => match read_pid(&mut file) {
            Some(pid) => Ok(PidState::Running(Pid::from_raw(pid))),
            None => Err(PidfileError::NoPid {
                path: path.to_path_buf(),
            }),
        },
        Err((_, source)) => Err(PidfileError::Check {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The pid of the daemon holding `path`'s lock; None when no daemon holds it.
pub fn running_pid(path: &Path) -> Result<Option<Pid>, PidfileError> {
    Ok(match pid_state(path)? {
        PidState::Running(pid) => Some(pid),
        PidState::Stale(_) | PidState::NotRunning => None,
    })
}
