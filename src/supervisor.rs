//! The daemon: pid file, fork, setsid, privilege drop, a supervisor that restarts a worker
//! that dies, and the `stop`, `status` and `reload` commands.
//!
//! Fork safety by construction: the synchronous `main` parses, validates, locks the pid file
//! and binds the ports, then forks. Nothing before a fork starts a thread, a runtime, a client,
//! a cache or a SQLite handle: the supervisor is single-threaded (it waits for signals with
//! `sigwait`), and only a worker, once forked, builds the actix runtime and opens the store.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{alarm, ForkResult, Gid, Group, Pid, Uid, User};

use std::sync::Arc;

use rustls::sign::CertifiedKey;

use crate::cli::Args;
use crate::config::{Config, RunAs};
use crate::logging;
use crate::server::Sockets;

/// How a worker tells whoever waits for it what happened: the terminal in the foreground,
/// a pipe to the supervisor (and on to the command that started the daemon) otherwise.
pub enum Notify {
    Stdout,
    Pipe(Option<File>),
}

impl Notify {
    /// A message for the person who started the server (e.g. the first user's keys).
    pub fn line(&mut self, text: &str) {
        match self {
            Notify::Stdout => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}");
                let _ = out.flush();
            }
            Notify::Pipe(Some(pipe)) => {
                for line in text.lines() {
                    let _ = writeln!(pipe, "line:{line}");
                }
            }
            Notify::Pipe(None) => log::info!("{text}"),
        }
    }

    /// The server is listening.
    pub fn ready(&mut self) {
        if let Notify::Pipe(pipe) = self {
            if let Some(mut pipe) = pipe.take() {
                let _ = writeln!(pipe, "ok");
            }
        }
    }

    /// Start-up failed; false when nobody was told (the caller then prints or logs it).
    pub fn fail(&mut self, message: &str) -> bool {
        match self {
            Notify::Pipe(pipe) => match pipe.take() {
                Some(mut pipe) => {
                    let _ = writeln!(pipe, "error:{}", message.replace('\n', " "));
                    true
                }
                None => false,
            },
            Notify::Stdout => false,
        }
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
pub fn prepare_dir(dir: &Path, owner: Option<(Uid, Gid)>) -> Result<(), String> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    if let Some((uid, gid)) = owner {
        nix::unistd::chown(dir, Some(uid), Some(gid))
            .map_err(|e| format!("cannot give {} to the run-as user: {e}", dir.display()))?;
    }
    Ok(())
}

impl Pidfile {
    /// Creates and locks the pid file, or says which pid holds it.
    pub fn lock(path: &Path, owner: Option<(Uid, Gid)>) -> Result<Pidfile, String> {
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
            .map_err(|e| format!("cannot open the pid file {}: {e}", path.display()))?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(file) => Ok(Pidfile {
                path: path.to_path_buf(),
                file,
            }),
            Err((mut file, Errno::EWOULDBLOCK)) => {
                let pid = read_pid(&mut file).map_or("unknown".into(), |p| p.to_string());
                Err(format!(
                    "libres3 is already running as pid {pid} (pid file {} is locked)",
                    path.display()
                ))
            }
            Err((_, e)) => Err(format!("cannot lock the pid file {}: {e}", path.display())),
        }
    }

    /// Writes this process's pid.
    pub fn write_pid(&mut self) -> Result<(), String> {
        let pid = std::process::id();
        let error = |e: std::io::Error| format!("cannot write {}: {e}", self.path.display());
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
pub fn pid_state(path: &Path) -> Result<PidState, String> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(PidState::NotRunning),
        Err(e) => return Err(format!("cannot open the pid file {}: {e}", path.display())),
    };
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(mut unlocked_on_drop) => Ok(match read_pid(&mut unlocked_on_drop) {
            Some(pid) => PidState::Stale(Pid::from_raw(pid)),
            None => PidState::NotRunning,
        }),
        Err((mut file, Errno::EWOULDBLOCK)) => match read_pid(&mut file) {
            Some(pid) => Ok(PidState::Running(Pid::from_raw(pid))),
            None => Err(format!(
                "the pid file {} is locked but holds no pid",
                path.display()
            )),
        },
        Err((_, e)) => Err(format!("cannot check the pid file {}: {e}", path.display())),
    }
}

/// The pid of the daemon holding `path`'s lock; None when no daemon holds it.
pub fn running_pid(path: &Path) -> Result<Option<Pid>, String> {
    Ok(match pid_state(path)? {
        PidState::Running(pid) => Some(pid),
        PidState::Stale(_) | PidState::NotRunning => None,
    })
}

/// The uid and gid `run-as` names, checked before anything starts.
pub fn resolve_run_as(run_as: &RunAs) -> Result<(User, Gid), String> {
    let user = User::from_name(&run_as.user)
        .map_err(|e| format!("run-as: cannot look up user {:?}: {e}", run_as.user))?
        .ok_or_else(|| format!("run-as: there is no user {:?}", run_as.user))?;
    let gid = match &run_as.group {
        Some(name) => {
            Group::from_name(name)
                .map_err(|e| format!("run-as: cannot look up group {name:?}: {e}"))?
                .ok_or_else(|| format!("run-as: there is no group {name:?}"))?
                .gid
        }
        None => user.gid,
    };
    if user.uid.is_root() {
        return Err("run-as: names root; name the unprivileged user to run as".into());
    }
    let euid = nix::unistd::geteuid();
    if !euid.is_root() && euid != user.uid {
        return Err(format!(
            "run-as: switching to {:?} needs libres3 to start as root",
            run_as.user
        ));
    }
    Ok((user, gid))
}

/// initgroups, setgid, setuid; then makes sure root cannot be regained.
pub fn drop_privileges(user: &User, gid: Gid) -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let name = CString::new(user.name.as_bytes())
        .map_err(|_| format!("run-as: bad user name {:?}", user.name))?;
    nix::unistd::initgroups(&name, gid)
        .map_err(|e| format!("run-as: initgroups({}) failed: {e}", user.name))?;
    nix::unistd::setgid(gid).map_err(|e| format!("run-as: setgid({gid}) failed: {e}"))?;
    nix::unistd::setuid(user.uid)
        .map_err(|e| format!("run-as: setuid({}) failed: {e}", user.uid))?;
    if nix::unistd::setuid(Uid::from_raw(0)).is_ok() || nix::unistd::geteuid().is_root() {
        return Err("run-as: still root after dropping privileges; refusing to run".into());
    }
    Ok(())
}

fn signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGUSR1,
        Signal::SIGCHLD,
        Signal::SIGALRM,
    ] {
        set.add(s);
    }
    set
}

/// Lets a worker receive the signals its supervisor blocks (called once the worker has its
/// own handlers).
pub fn unblock_signals() {
    let _ = signals().thread_unblock();
}

/// Everything the daemon needs from `main`, owned so it can cross the forks.
pub struct Daemon {
    pub args: Args,
    pub config: Config,
    pub sockets: Sockets,
    pub pidfile: Pidfile,
    pub run_as: Option<(User, Gid)>,
    pub certificate: Option<Arc<CertifiedKey>>,
    /// Read once at startup: a restarted worker opens the store with the same key.
    pub store_key: Option<Arc<crate::store::local::StoreKey>>,
}

/// What a supervisor hands its worker with a SIGHUP: what it read as root.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Reload {
    pub config: String,
    pub tls: Option<crate::tls::Pem>,
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
            let code = supervise(daemon, File::from(write_end));
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
fn supervise(daemon: Daemon, report: File) -> i32 {
    let Daemon {
        args,
        mut config,
        mut sockets,
        mut pidfile,
        run_as,
        mut certificate,
        store_key,
    } = daemon;
    let mut report = Notify::Pipe(Some(report));
    let fail = |report: &mut Notify, message: String| {
        if !report.fail(&message) {
            log::error!("{message}");
        }
        1
    };
    if let Err(e) = detach().and_then(|()| pidfile.write_pid()) {
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
        return fail(&mut report, e);
    }
    let mask = signals();
    if let Err(e) = mask.thread_block() {
        return fail(&mut report, format!("cannot block signals: {e}"));
    }
    log::info!(
        "supervisor {} started (config {})",
        std::process::id(),
        args.config
            .as_ref()
            .map_or("none".into(), |p| p.display().to_string())
    );

    let mut worker = match start_worker(
        &args,
        &config,
        &sockets,
        run_as.as_ref(),
        certificate.clone(),
        store_key.as_deref(),
    ) {
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
                    match start_worker(
                        &args,
                        &config,
                        &sockets,
                        run_as.as_ref(),
                        certificate.clone(),
                        store_key.as_deref(),
                    ) {
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
                match reread(&args) {
                    Ok((new, message, key)) => {
                        config = new;
                        if key.is_some() {
                            certificate = key;
                        }
                        if let Some((pid, _, control)) = &mut worker {
                            if let Some(message) = message {
                                if let Err(e) = send(control, &message) {
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

/// SIGHUP in the supervisor: the file and the TLS files, read and checked.
type Reread = (Config, Option<Reload>, Option<Arc<CertifiedKey>>);

fn reread(args: &Args) -> Result<Reread, String> {
    let (config, text) =
        Config::load_with_text(args, crate::check_backend).map_err(|e| e.to_string())?;
    let (pem, key) = match &config.tls {
        Some(files) if !config.https_listen.is_empty() => {
            let pem = crate::tls::read(files)?;
            let key = crate::tls::parse(files, &pem)?;
            (Some(pem), Some(key))
        }
        _ => (None, None),
    };
    let message = text.map(|config| Reload { config, tls: pem });
    Ok((config, message, key))
}

fn send(control: &mut File, message: &Reload) -> Result<(), String> {
    let json = serde_json::to_string(message).map_err(|e| e.to_string())?;
    write!(control, "{}\n{json}", json.len()).map_err(|e| e.to_string())
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
    args: &Args,
    config: &Config,
    sockets: &Sockets,
    run_as: Option<&(User, Gid)>,
    certificate: Option<Arc<CertifiedKey>>,
    store_key: Option<&crate::store::local::StoreKey>,
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
                    let _ = notify.fail(&e);
                    std::process::exit(1);
                }
            }
            let control = File::from(control_read);
            if let Err(e) = set_nonblocking(&control) {
                let _ = notify.fail(&e);
                std::process::exit(1);
            }
            let code = crate::run_worker(
                args,
                config.clone(),
                sockets,
                certificate,
                store_key,
                Some(control),
                notify,
            );
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

/// The newest reload message a supervisor sent (`LEN\nJSON` frames), if any.
pub fn latest_reload(control: &mut File) -> Option<Reload> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match control.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    let mut latest = None;
    let mut rest = buffer.as_slice();
    while let Some(newline) = rest.iter().position(|b| *b == b'\n') {
        let len: usize = std::str::from_utf8(&rest[..newline]).ok()?.parse().ok()?;
        let body = rest.get(newline + 1..newline + 1 + len)?;
        latest = serde_json::from_slice(body).ok();
        rest = &rest[newline + 1 + len..];
    }
    latest
}

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
