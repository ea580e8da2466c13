//! The listening sockets: bound by the synchronous main before any fork or privilege drop,
//! so that a port that is taken fails before anything starts.

use std::net::{SocketAddr, TcpListener};

use crate::config::Config;

/// The listening sockets, bound by the synchronous main before any fork or privilege drop.
#[derive(Debug)]
pub struct Sockets {
    pub http: Vec<TcpListener>,
    pub https: Vec<TcpListener>,
    pub admin: Option<TcpListener>,
}

impl Sockets {
    pub fn raw_fds(&self) -> Vec<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.http
            .iter()
            .chain(&self.https)
            .chain(&self.admin)
            .map(AsRawFd::as_raw_fd)
            .collect()
    }

    /// Duplicates the sockets for a worker process.
    pub fn try_clone(&self) -> std::io::Result<Sockets> {
        let dup = |all: &[TcpListener]| -> std::io::Result<Vec<TcpListener>> {
            all.iter().map(TcpListener::try_clone).collect()
        };
        Ok(Sockets {
            http: dup(&self.http)?,
            https: dup(&self.https)?,
            admin: self
                .admin
                .as_ref()
                .map(TcpListener::try_clone)
                .transpose()?,
        })
    }
}

fn bind_one(addr: &SocketAddr, hint: &str) -> Result<TcpListener, BindError> {
    let listener = TcpListener::bind(addr)
        .map_err(|e| BindError(format!("cannot listen on {addr}: {e}; {hint}")))?;
    // std listens with a queue of 128: a burst of new connections overflowed it and the
    // kernel dropped connection attempts, which clients retry only after a second. Listening
    // again on the bound socket only lengthens the queue, to the system's SOMAXCONN.
    nix::sys::socket::listen(&listener, nix::sys::socket::Backlog::MAXCONN)
        .map_err(|e| BindError(format!("cannot listen on {addr}: {e}")))?;
    Ok(listener)
}

/// Binds every address first, so a port that is taken fails before anything starts.
pub fn bind(config: &Config) -> Result<Sockets, BindError> {
    let http = config
        .listen
        .iter()
        .map(|a| bind_one(a, "choose another address with --listen or s3_http_port"))
        .collect::<Result<_, _>>()?;
    let https = config
        .https_listen
        .iter()
        .map(|a| {
            bind_one(
                a,
                "choose another port with s3_https_port or --https-listen",
            )
        })
        .collect::<Result<_, _>>()?;
    let admin = match config.admin_listen {
        None => None,
        Some(addr) => match TcpListener::bind(addr) {
            Ok(listener) => Some(listener),
            // The default address is only a convenience: a second instance on one host, or a
            // test run, still starts, without the admin endpoint.
            Err(e) if !config.admin_listen_explicit => {
                eprintln!(
                    "libres3: warning: the admin endpoint cannot listen on {addr} ({e}); \
                     running without it (set admin_listen to another address, or off)"
                );
                None
            }
            Err(e) => {
                return Err(BindError(format!(
                    "cannot listen on {addr}: {e}; change admin_listen"
                )))
            }
        },
    };
    Ok(Sockets { http, https, admin })
}

/// A listener that cannot be bound: the address, the cause and which setting to change.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BindError(String);
