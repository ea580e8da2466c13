//! Closes a kept-alive connection whose next request head never completes.
//!
//! actix's `client_request_timeout` times the head of a connection's first request only, and
//! its keep-alive timer stops at the first byte of the next one: a client that sends
//! `GET / HTTP/1.1\r\nHo` on a kept-alive connection and nothing more held the connection (and
//! one of `max_parallel` slots) for ever. So every S3 connection gets a watchdog: once no
//! request is in progress on it (the last response has been sent to its end), it may stay
//! so for `keep_alive + client_request_timeout`. actix closes a truly idle connection after
//! `keep_alive`, so one still there after that is sending a head too slowly; the watchdog shuts
//! its socket down, which actix sees as the client going away.
//!
//! The watchdog holds a duplicate of the socket's descriptor, so it never shuts down a
//! descriptor number that meanwhile went to another connection.

use std::any::Any;
use std::cell::Cell;
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::rt::time::{sleep_until, Instant};
use bytes::Bytes;

/// What the watchdog and the requests of one connection share.
pub struct Connection {
    /// Requests whose response has not been sent to its end yet.
    busy: Cell<u32>,
    /// When the last of them ended (or the connection opened).
    idle_since: Cell<Instant>,
    /// A duplicate of the connection's socket, to shut it down.
    socket: TcpStream,
}

/// Held in the connection's extensions: the watchdog stops once it is gone.
pub struct Watched(Rc<Connection>);

/// Starts the watchdog of a new connection (`io` is what actix's `on_connect` gives: a TCP
/// stream, or a TLS stream over one). None when the socket cannot be had, or no limit is set.
pub fn watch(io: &dyn Any, limit: Duration) -> Option<Watched> {
    if limit.is_zero() {
        return None;
    }
    let fd = if let Some(tcp) = io.downcast_ref::<actix_web::rt::net::TcpStream>() {
        tcp.as_fd().try_clone_to_owned()
    } else if let Some(tls) = io
        .downcast_ref::<actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>>()
    {
        tls.get_ref().0.as_fd().try_clone_to_owned()
    } else {
        return None;
    };
    let socket = match fd {
        Ok(fd) => TcpStream::from(fd),
        Err(e) => {
            log::warn!("cannot watch a connection for slow request heads: {e}");
            return None;
        }
    };
    let connection = Rc::new(Connection {
        busy: Cell::new(0),
        idle_since: Cell::new(Instant::now()),
        socket,
    });
    let weak = Rc::downgrade(&connection);
    actix_web::rt::spawn(run(weak, limit));
    Some(Watched(connection))
}

async fn run(connection: Weak<Connection>, limit: Duration) {
    loop {
        let Some(c) = connection.upgrade() else {
            return;
        };
        let wake = if c.busy.get() > 0 {
            Instant::now() + limit
        } else {
            let deadline = c.idle_since.get() + limit;
            if Instant::now() >= deadline {
                log::info!(
                    "closing a connection from {} whose request head did not come in {}s",
                    c.socket
                        .peer_addr()
                        .map_or_else(|_| "?".into(), |a| a.to_string()),
                    limit.as_secs()
                );
                let _ = c.socket.shutdown(Shutdown::Both);
                return;
            }
            deadline
        };
        drop(c);
        sleep_until(wake).await;
    }
}

impl Watched {
    /// A request started on this connection; the connection is busy until the guard (put in
    /// the response body by [`Busy::wrap`]) is dropped.
    pub fn busy(&self) -> Busy {
        self.0.busy.set(self.0.busy.get() + 1);
        Busy(self.0.clone())
    }
}

/// A request in progress on a watched connection.
pub struct Busy(Rc<Connection>);

impl Drop for Busy {
    fn drop(&mut self) {
        let busy = self.0.busy.get().saturating_sub(1);
        self.0.busy.set(busy);
        if busy == 0 {
            self.0.idle_since.set(Instant::now());
        }
    }
}

impl Busy {
    /// `body`, holding this guard until it has been sent (or dropped).
    pub fn wrap(self, body: BoxBody) -> BoxBody {
        BoxBody::new(Tracked { body, _busy: self })
    }
}

struct Tracked {
    body: BoxBody,
    _busy: Busy,
}

impl MessageBody for Tracked {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.body).poll_next(cx)
    }
}
