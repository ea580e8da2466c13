//! The supervisor: detached, it keeps root, starts a worker (which drops privileges), restarts
//! it when it dies (with a backoff), hands it a re-read configuration on SIGHUP and stops it on
//! SIGTERM.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{alarm, ForkResult, Gid, Pid, Uid, User};

use super::pidfile::prepare_dir;
use super::privileges::drop_privileges;
use super::{Daemon, Service};
use crate::config::Config;
use crate::http::listen::Sockets;
use crate::logging;
use crate::process::{send_frame, signals, Notify};

fn detach() -> Result<(), String> {
    nix::unistd::setsid().map_err(|e| format!("setsid failed: {e}"))?;
    let null = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("cannot open /dev/null: {e}"))?;
    for fd in 0..=2 {
        nix::unistd::dup2(null.as_raw_fd(), fd).map_err(|e| format!("dup2 failed: {e}"))?;
    }
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o027));
    std::env::set_current_dir("/").map_err(|e| format!("cannot chdir to /: {e}"))
}

/// The supervisor: detaches, drops privileges, starts the worker and keeps it running.
pub(super) fn supervise(daemon: Daemon, report: File) -> i32 {
    let Daemon {
        mut config,
        mut sockets,
        mut pidfile,
        run_as,
        mut service,
    } = daemon;
    let mut report = Notify::Pipe(Some(report));
    let fail = |report: &mut Notify, message: String| {
        if !report.fail(&message) {
            log::error!("{message}");
        }
        1
    };
    if let Err(e) = detach().and_then(|()| pidfile.write_pid().map_err(String::from)) {
        return fail(&mut report, e);
    }
    // The supervisor keeps root, like nginx's master process: it serves nobody, and needs
    // root to re-read a 0600 configuration on SIGHUP and to reopen logs. Each worker drops
    // to the run-as user right after it is forked, before it opens anything.
    let owner = run_as.as_ref().map(|(user, gid)| (user.uid, *gid));
    if let Some((uid, gid)) = owner {
        logging::set_owner(uid, gid);
    }
    if let Err(e) = prepare_logs(&config.logdir, owner) {
        return fail(&mut report, e);
    }
    if let Err(e) = logging::init_files(&config.logdir, config.live.log_level) {
        return fail(&mut report, e.to_string());
    }
    let mask = signals();
    if let Err(e) = mask.thread_block() {
        return fail(&mut report, format!("cannot block signals: {e}"));
    }
    log::info!(
        "supervisor {} started (config {})",
        std::process::id(),
        config
            .source
            .as_ref()
            .map_or("none".into(), |p| p.display().to_string())
    );

    let mut worker = match start_worker(&*service, &config, &sockets, run_as.as_ref()) {
        Ok(Worker {
            pid,
            lines,
            control,
        }) => {
            for line in &lines {
                report.line(line);
            }
            report.ready();
            log::info!("worker {pid} is serving");
            Some((pid, Instant::now(), control))
        }
        Err(e) => {
            let code = fail(&mut report, e);
            pidfile.remove();
            return code;
        }
    };
    drop(report);

    let mut backoff = Duration::from_secs(1);
    let mut stopping = false;
    loop {
        let signal = match mask.wait() {
            Ok(signal) => signal,
            Err(e) => {
                log::error!("sigwait failed: {e}");
                continue;
            }
        };
        match signal {
            Signal::SIGCHLD => {
                while let Ok(status) = waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
                    let Some(pid) = status.pid() else { break };
                    if worker.as_ref().is_some_and(|(w, ..)| *w == pid) {
                        let lived = worker
                            .as_ref()
                            .map_or(Duration::ZERO, |(_, since, _)| since.elapsed());
                        worker = None;
                        if stopping {
                            log::info!("worker {pid} stopped ({}); exiting", describe(status));
                            pidfile.remove();
                            return 0;
                        }
                        if lived > Duration::from_secs(60) {
                            backoff = Duration::from_secs(1);
                        }
                        log::error!(
                            "worker {pid} died ({}); restarting it in {}s",
                            describe(status),
                            backoff.as_secs()
                        );
                        alarm::set(backoff.as_secs().max(1) as u32);
                        backoff = (backoff * 2).min(Duration::from_secs(60));
                    }
                }
            }
            Signal::SIGALRM => {
                if stopping {
                    if let Some((pid, ..)) = worker {
                        log::error!("worker {pid} did not stop in time; killing it");
                        let _ = kill(pid, Signal::SIGKILL);
                    }
                } else if worker.is_none() {
                    match start_worker(&*service, &config, &sockets, run_as.as_ref()) {
                        Ok(Worker { pid, control, .. }) => {
                            log::warn!("worker {pid} restarted and serving");
                            worker = Some((pid, Instant::now(), control));
                        }
                        Err(e) => {
                            log::error!(
                                "the new worker failed to start: {e}; trying again in {}s",
                                backoff.as_secs()
                            );
                            alarm::set(backoff.as_secs().max(1) as u32);
                            backoff = (backoff * 2).min(Duration::from_secs(60));
                        }
                    }
                }
            }
            Signal::SIGTERM | Signal::SIGINT => {
                stopping = true;
                // Our copies of the listening sockets would keep the ports accepting
                // connections nobody serves once the worker closes its own.
                sockets = Sockets {
                    http: Vec::new(),
                    https: Vec::new(),
                    admin: None,
                };
                match worker {
                    Some((pid, ..)) => {
                        log::info!("{signal}: stopping worker {pid}");
                        let _ = kill(pid, Signal::SIGTERM);
                        let grace = config.shutdown_timeout.as_secs().saturating_add(5);
                        alarm::set(u32::try_from(grace).unwrap_or(u32::MAX));
                    }
                    None => {
                        log::info!("{signal}: exiting");
                        pidfile.remove();
                        return 0;
                    }
                }
            }
            Signal::SIGHUP => {
                // Read here, as root, then handed to the worker (which may not be allowed to
                // read a 0600 file any more). A broken file changes nothing.
                match service.reread() {
                    Ok((new, message)) => {
                        config = new;
                        if let Some((pid, _, control)) = &mut worker {
                            if let Some(message) = message {
                                if let Err(e) = send_frame(control, &message) {
                                    log::error!("SIGHUP: cannot hand the configuration to worker {pid}: {e}");
                                }
                            }
                            let _ = kill(*pid, Signal::SIGHUP);
                        }
                    }
                    Err(e) => log::error!(
                        "SIGHUP: the configuration is not valid, keeping the running one: {e}"
                    ),
                }
            }
            Signal::SIGUSR1 => {
                logging::reopen();
                if let Some((pid, ..)) = worker {
                    let _ = kill(pid, Signal::SIGUSR1);
                }
            }
            _ => {}
        }
    }
}

fn prepare_logs(logdir: &Path, owner: Option<(Uid, Gid)>) -> Result<(), String> {
    prepare_dir(logdir, owner)?;
    if let Some((uid, gid)) = owner {
        for name in [logging::ERROR_LOG, logging::ACCESS_LOG] {
            let path = logdir.join(name);
            if path.exists() {
                nix::unistd::chown(&path, Some(uid), Some(gid)).map_err(|e| {
                    format!("cannot give {} to the run-as user: {e}", path.display())
                })?;
            }
        }
    }
    Ok(())
}

fn describe(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exit code {code}"),
        WaitStatus::Signaled(_, signal, core) => {
            format!(
                "killed by {signal}{}",
                if core { ", core dumped" } else { "" }
            )
        }
        other => format!("{other:?}"),
    }
}

/// A running worker, as its supervisor knows it.
struct Worker {
    pid: Pid,
    /// What it printed while starting (listening addresses, the first user's keys).
    lines: Vec<String>,
    /// Where the supervisor writes the configuration text before a SIGHUP.
    control: File,
}

/// Forks a worker (which drops privileges first) and waits until it listens.
fn start_worker(
    service: &dyn Service,
    config: &Config,
    sockets: &Sockets,
    run_as: Option<&(User, Gid)>,
) -> Result<Worker, String> {
    let pipe = || nix::unistd::pipe().map_err(|e| format!("cannot create a pipe: {e}"));
    let (read_end, write_end): (OwnedFd, OwnedFd) = pipe()?;
    let (control_read, control_write) = pipe()?;
    let originals = sockets.raw_fds();
    let sockets = sockets
        .try_clone()
        .map_err(|e| format!("cannot share the listening sockets: {e}"))?;
    // SAFETY: the supervisor is single-threaded (it never starts a runtime or a thread), so
    // the child is a full copy of a single-threaded process.
    #[allow(unsafe_code)]
    let forked = unsafe { nix::unistd::fork() };
    match forked.map_err(|e| format!("cannot fork a worker: {e}"))? {
        ForkResult::Child => {
            drop(read_end);
            drop(control_write);
            // The supervisor's own copies of the listening sockets came along with the fork:
            // close them, or the ports would keep accepting after this worker stops serving.
            for fd in originals.iter().copied() {
                let _ = nix::unistd::close(fd);
            }
            // A panic outside a request aborts the worker; the supervisor then starts a
            // fresh one.
            crate::http::panics::install(true);
            let mut notify = Notify::Pipe(Some(File::from(write_end)));
            if let Some((user, gid)) = run_as {
                if let Err(e) = drop_privileges(user, *gid) {
                    let _ = notify.fail(&e.to_string());
                    std::process::exit(1);
                }
            }
            let control = File::from(control_read);
            if let Err(e) = set_nonblocking(&control) {
                let _ = notify.fail(&e);
                std::process::exit(1);
            }
            let code = service.serve(config, sockets, control, notify);
            std::process::exit(code)
        }
        ForkResult::Parent { child } => {
            drop(write_end);
            drop(control_read);
            drop(sockets);
            let control = File::from(control_write);
            set_nonblocking(&control)?;
            let mut lines = Vec::new();
            for line in BufReader::new(File::from(read_end)).lines() {
                let Ok(line) = line else { break };
                if line == "ok" {
                    return Ok(Worker {
                        pid: child,
                        lines,
                        control,
                    });
                } else if let Some(text) = line.strip_prefix("line:") {
                    lines.push(text.to_string());
                } else if let Some(message) = line.strip_prefix("error:") {
                    let _ = waitpid(child, None);
                    return Err(message.to_string());
                }
            }
            let status = waitpid(child, None).map_or("unknown".into(), describe);
            Err(format!("the worker exited while starting ({status})"))
        }
    }
}

fn set_nonblocking(file: &File) -> Result<(), String> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = fcntl(file.as_raw_fd(), FcntlArg::F_GETFL).map_err(|e| format!("fcntl: {e}"))?;
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    fcntl(file.as_raw_fd(), FcntlArg::F_SETFL(flags)).map_err(|e| format!("fcntl: {e}"))?;
    Ok(())
}
