//! The daemon: pid file, fork, setsid, privilege drop, a supervisor that restarts a worker
//! that dies, and the `stop`, `status` and `reload` commands.
//!
//! Fork safety by construction: the synchronous `main` parses, validates, locks the pid file
//! and binds the ports, then forks. Nothing before a fork starts a thread, a runtime, a client,
//! a cache or a SQLite handle: the supervisor is single-threaded (it waits for signals with
//! `sigwait`), and only a worker, once forked, builds the actix runtime and opens the store.
//!
//! The daemon knows no store, TLS or server: what a worker runs, and what a SIGHUP re-reads
//! besides the file, is a [`Service`] handed over by the wiring (lib.rs).

mod control;
mod pidfile;
mod privileges;
mod supervise;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::process::ExitCode;

use nix::unistd::{ForkResult, Gid, User};

pub use crate::process::{unblock_signals, Notify};
pub use control::{
    control, NOT_RUNNING, STATUS_DEAD_PIDFILE, STATUS_NOT_RUNNING, STATUS_RUNNING, STATUS_UNKNOWN,
};
pub use pidfile::{pid_state, prepare_dir, running_pid, PidState, Pidfile, PidfileError};
pub use privileges::{drop_privileges, resolve_run_as, RunAsError};

use crate::config::Config;
use crate::http::listen::Sockets;

/// What the daemon runs, given by the wiring: the daemon forks, drops privileges and restarts;
/// the service opens the store and serves.
pub trait Service {
    /// In a freshly forked worker, privileges already dropped: serves until stopped and
    /// returns the exit code. `control` brings the messages of [`Service::reread`].
    fn serve(&self, config: &Config, sockets: Sockets, control: File, notify: Notify) -> i32;

    /// SIGHUP in the supervisor, which may still read what the worker no longer can: the new
    /// settings, and the message the worker gets down its control pipe (None: it reads the
    /// file itself). An error keeps the running settings.
    fn reread(&mut self) -> Result<(Config, Option<String>), String>;
}

/// Everything the daemon needs from `main`, owned so it can cross the forks.
pub struct Daemon {
    pub config: Config,
    pub sockets: Sockets,
    pub pidfile: Pidfile,
    pub run_as: Option<(User, Gid)>,
    pub service: Box<dyn Service>,
}

/// `serve --daemon`: forks; the parent waits until the worker listens (exit 0) or fails
/// (exit 1, with the reason), the child becomes the supervisor.
pub fn daemonize(daemon: Daemon) -> ExitCode {
    let (read_end, write_end) = match nix::unistd::pipe() {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("libres3: cannot create a pipe: {e}");
            return ExitCode::FAILURE;
        }
    };
    // SAFETY: main has started no thread (no runtime, logger thread, client or SQLite handle
    // exists yet: see the module comment), so the child is a full copy of a single-threaded
    // process and may run arbitrary code.
    #[allow(unsafe_code)]
    let forked = unsafe { nix::unistd::fork() };
    match forked {
        Err(e) => {
            eprintln!("libres3: cannot fork: {e}");
            ExitCode::FAILURE
        }
        Ok(ForkResult::Parent { .. }) => {
            drop(write_end);
            // Dropping the pid file here would unlock it for the child too (flock locks
            // belong to the open file, which both share): leave it to the exit.
            std::mem::forget(daemon);
            wait_until_ready(File::from(read_end))
        }
        Ok(ForkResult::Child) => {
            drop(read_end);
            let code = supervise::supervise(daemon, File::from(write_end));
            std::process::exit(code)
        }
    }
}

fn wait_until_ready(pipe: File) -> ExitCode {
    for line in BufReader::new(pipe).lines() {
        let Ok(line) = line else { break };
        if line == "ok" {
            return ExitCode::SUCCESS;
        } else if let Some(text) = line.strip_prefix("line:") {
            println!("{text}");
        } else if let Some(message) = line.strip_prefix("error:") {
            eprintln!("libres3: {message}");
            return ExitCode::FAILURE;
        }
    }
    eprintln!("libres3: the daemon exited before it was ready; see its errors.log");
    ExitCode::FAILURE
}
