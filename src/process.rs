//! What a worker process and its supervisor share, below both the server and the daemon:
//! start-up notices up one pipe, reload messages down another, and the signals the supervisor
//! keeps blocked for itself.

use std::fs::File;
use std::io::{Read, Write};

use nix::sys::signal::{SigSet, Signal};

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

/// The signals a supervisor waits for with `sigwait` (blocked in it, so in a fresh worker).
pub fn signals() -> SigSet {
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

/// Sends one message down the control pipe, framed `LEN\nTEXT`.
pub fn send_frame(control: &mut File, text: &str) -> std::io::Result<()> {
    write!(control, "{}\n{text}", text.len())
}

/// The newest message a supervisor sent down the control pipe, if any (older ones are
/// superseded: each carries the whole configuration).
pub fn latest_frame(control: &mut File) -> Option<Vec<u8>> {
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
        latest = Some(body.to_vec());
        rest = &rest[newline + 1 + len..];
    }
    latest
}
