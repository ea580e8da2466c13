//! `libres3 stop|status|reload`: what the pid file says, the signal sent, and the LSB exit
//! codes.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::pidfile::{pid_state, running_pid, PidState};

/// LSB exit codes of `status`.
pub const STATUS_RUNNING: u8 = 0;
/// "program is dead and /var/run pid file exists".
pub const STATUS_DEAD_PIDFILE: u8 = 1;
pub const STATUS_NOT_RUNNING: u8 = 3;
pub const STATUS_UNKNOWN: u8 = 4;
/// LSB: "program is not running" for actions other than status.
pub const NOT_RUNNING: u8 = 7;

/// `libres3 stop|status|reload`.
pub fn control(command: &crate::cli::Command, path: &Path, shutdown_timeout: Duration) -> ExitCode {
    use crate::cli::Command;
    let state = match pid_state(path) {
        Ok(state) => state,
        Err(e) => {
            eprintln!("libres3: {e}");
            return ExitCode::from(if matches!(command, Command::Status) {
                STATUS_UNKNOWN
            } else {
                1
            });
        }
    };
    let stale = |pid: Pid| {
        format!(
            "libres3 is not running, but its pid file {} still names pid {pid} (the daemon \
             died without removing it; `libres3 stop` or the next start clears it)",
            path.display()
        )
    };
    match (command, state) {
        (Command::Status, PidState::Running(pid)) => {
            println!("libres3 is running (pid {pid})");
            ExitCode::from(STATUS_RUNNING)
        }
        (Command::Status, PidState::Stale(pid)) => {
            println!("{}", stale(pid));
            ExitCode::from(STATUS_DEAD_PIDFILE)
        }
        (Command::Status, PidState::NotRunning) => {
            println!("libres3 is not running (no lock on {})", path.display());
            ExitCode::from(STATUS_NOT_RUNNING)
        }
        (Command::Reload, PidState::Running(pid)) => match kill(pid, Signal::SIGHUP) {
            Ok(()) => {
                println!("libres3 (pid {pid}) is reloading its configuration");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("libres3: cannot signal pid {pid}: {e}");
                ExitCode::FAILURE
            }
        },
        (Command::Reload, _) => {
            eprintln!("libres3: not running (no lock on {})", path.display());
            ExitCode::from(NOT_RUNNING)
        }
        (Command::Stop, PidState::NotRunning) => {
            println!("libres3 is not running");
            ExitCode::SUCCESS
        }
        (Command::Stop, PidState::Stale(pid)) => {
            // Never signal a pid nobody vouches for: it may belong to another program now.
            match std::fs::remove_file(path) {
                Ok(()) => println!(
                    "libres3 is not running; removed its stale pid file {} (pid {pid})",
                    path.display()
                ),
                Err(e) => println!(
                    "libres3 is not running; its stale pid file {} (pid {pid}) stays: {e}",
                    path.display()
                ),
            }
            ExitCode::SUCCESS
        }
        (Command::Stop, PidState::Running(pid)) => {
            if let Err(e) = kill(pid, Signal::SIGTERM) {
                eprintln!("libres3: cannot signal pid {pid}: {e}");
                return ExitCode::FAILURE;
            }
            let deadline = Instant::now() + shutdown_timeout + Duration::from_secs(10);
            while Instant::now() < deadline {
                if matches!(running_pid(path), Ok(None)) {
                    let _ = std::fs::remove_file(path);
                    println!("libres3 (pid {pid}) stopped");
                    return ExitCode::SUCCESS;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            eprintln!("libres3: pid {pid} is still running after SIGTERM");
            ExitCode::FAILURE
        }
        _ => ExitCode::FAILURE,
    }
}
