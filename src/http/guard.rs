//! The connection wrapper between the socket (or TLS stream) and actix-http.
//!
//! Every byte a client sends passes [`Guard`] first. Request heads are held back until they
//! are complete and checked ([`super::framing`]); bodies pass through, straight into actix's
//! buffer where the framing allows. A head that breaks a limit, that is not HTTP/1 as actix
//! would take it, that does not come within `client_request_timeout`, or that arrives on a
//! connection over `max_connections`, never reaches actix: the guard hands actix a stand-in
//! request instead (`GET /`, `Connection: close`), and the S3 layer answers that with the XML
//! error the [`Connection`] holds. The answer thus leaves in order behind any response still
//! being sent on the connection, with a request id and an access-log line like any other.
//!
//! One descriptor per connection: the head timer lives here, so no watchdog needs a
//! duplicate of the socket.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::rt::time::{sleep, Sleep};
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::framing::{Framer, Limits, RejectKind, Rejection, Step};

/// Settings every connection of a listener shares; `max_header_size` may change on SIGHUP.
#[derive(Debug)]
pub struct Settings {
    max_header_size: AtomicUsize,
    /// Time a client has for a request head: from the connection's start for its first
    /// request, from the head's first byte for the next ones. Zero: no limit.
    pub head_timeout: Duration,
    /// Open connections beyond which a new one is answered 503 SlowDown at once.
    pub max_connections: usize,
    open: AtomicUsize,
}

impl Settings {
    pub fn new(max_header_size: usize, head_timeout: Duration, max_connections: usize) -> Self {
        Settings {
            max_header_size: AtomicUsize::new(max_header_size),
            head_timeout,
            max_connections,
            open: AtomicUsize::new(0),
        }
    }

    pub fn set_max_header_size(&self, bytes: usize) {
        self.max_header_size.store(bytes, Ordering::Relaxed);
    }

    fn limits(&self) -> Limits {
        Limits {
            header_bytes: self.max_header_size.load(Ordering::Relaxed),
        }
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
}

/// Counts one open connection while it lives.
struct Slot(Arc<Settings>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What the requests of one connection can learn from its guard.
#[derive(Debug, Default)]
pub struct Connection {
    /// A refusal, and the number of the request (counted from 1) that stands in for it:
    /// requests before it on the connection (pipelined) are served as usual.
    rejection: RefCell<Option<(u64, Rejection)>>,
    /// Requests that have reached the application so far.
    started: Cell<u64>,
    peer: Option<SocketAddr>,
}

impl Connection {
    /// Called once per request as it reaches the application, in order (HTTP/1 serves a
    /// connection's requests one after the other): the refusal this request stands in for,
    /// if it is the stand-in.
    pub fn request_started(&self) -> Option<Rejection> {
        let number = self.started.get() + 1;
        self.started.set(number);
        let mut rejection = self.rejection.borrow_mut();
        match rejection.as_ref() {
            Some((at, _)) if *at == number => rejection.take().map(|(_, r)| r),
            _ => None,
        }
    }

    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }
}

/// What actix reads in place of a refused request: a request the S3 layer recognises by the
/// [`Connection`]'s rejection, after which the connection closes.
fn stand_in(head_request: bool) -> &'static [u8] {
    if head_request {
        b"HEAD / HTTP/1.1\r\nhost: libres3\r\nconnection: close\r\n\r\n"
    } else {
        b"GET / HTTP/1.1\r\nhost: libres3\r\nconnection: close\r\n\r\n"
    }
}

/// Reads from the socket go through here for framing bytes; bodies mostly bypass it.
const SCRATCH: usize = 16 * 1024;

/// One client connection, checked on its way to actix-http.
pub struct Guard<T> {
    io: T,
    /// False for HTTP/2 (ALPN), which is not HTTP/1 framing: passed through untouched.
    checked: bool,
    framer: Framer,
    /// Read from the socket, not checked yet.
    unchecked: BytesMut,
    /// Checked, not yet read by actix.
    ready: BytesMut,
    scratch: Option<Box<[u8; SCRATCH]>>,
    connection: Rc<Connection>,
    settings: Arc<Settings>,
    /// Set once a stand-in request is handed over: nothing more is read from the client.
    refused: bool,
    head_timer: Option<Pin<Box<Sleep>>>,
    _slot: Slot,
}

impl<T> Guard<T> {
    /// Wraps a new connection. One over `max_connections` is refused at once.
    pub fn new(io: T, peer: Option<SocketAddr>, settings: Arc<Settings>, checked: bool) -> Self {
        let open = settings.open.fetch_add(1, Ordering::Relaxed) + 1;
        let mut guard = Guard {
            io,
            checked,
            framer: Framer::new(settings.limits()),
            unchecked: BytesMut::new(),
            ready: BytesMut::new(),
            scratch: None,
            connection: Rc::new(Connection {
                rejection: RefCell::new(None),
                started: Cell::new(0),
                peer,
            }),
            head_timer: None,
            refused: false,
            _slot: Slot(settings.clone()),
            settings,
        };
        // HTTP/2 connections are counted but not refused: the refusal is an HTTP/1 answer.
        if checked && open > guard.settings.max_connections {
            guard.refuse(Rejection::new(
                RejectKind::Overloaded,
                format!(
                    "The server holds its maximum of {} connections; please retry.",
                    guard.settings.max_connections
                ),
            ));
        } else if checked {
            // The first request's head is timed from the connection's start.
            guard.arm_head_timer();
        }
        guard
    }

    /// Shared with the connection's requests.
    pub fn connection(&self) -> Rc<Connection> {
        self.connection.clone()
    }

    pub fn get_ref(&self) -> &T {
        &self.io
    }

    fn arm_head_timer(&mut self) {
        let timeout = self.settings.head_timeout;
        if !timeout.is_zero() && self.head_timer.is_none() {
            self.head_timer = Some(Box::pin(sleep(timeout)));
        }
    }

    fn refuse(&mut self, rejection: Rejection) {
        let head_request = rejection.head_request;
        match rejection.kind {
            RejectKind::Overloaded => log::warn!(
                "refusing a connection from {}: {}",
                peer_text(self.connection.peer),
                rejection.message
            ),
            _ => log::info!(
                "refusing a request from {}: {}",
                peer_text(self.connection.peer),
                rejection.message
            ),
        }
        let stand_in_number = self.framer.requests() + 1;
        *self.connection.rejection.borrow_mut() = Some((stand_in_number, rejection));
        self.ready = BytesMut::from(stand_in(head_request));
        self.unchecked = BytesMut::new();
        self.scratch = None;
        self.head_timer = None;
        self.refused = true;
    }
}

fn peer_text(peer: Option<SocketAddr>) -> String {
    peer.map_or_else(|| "?".into(), |p| p.to_string())
}

impl<T: AsyncRead + Unpin> Guard<T> {
    /// A read through the scratch buffer, at most `limit` bytes: Ready(n), 0 at EOF.
    fn read_scratch(&mut self, cx: &mut Context<'_>, limit: usize) -> Poll<io::Result<usize>> {
        let scratch = self.scratch.get_or_insert_with(|| Box::new([0; SCRATCH]));
        let mut buf = ReadBuf::new(&mut scratch[..limit.min(SCRATCH)]);
        match Pin::new(&mut self.io).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_checked(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.ready.is_empty() {
                let n = self.ready.len().min(buf.remaining());
                buf.put_slice(&self.ready[..n]);
                self.ready.advance(n);
                return Poll::Ready(Ok(()));
            }
            if self.refused {
                // actix answers the stand-in request and closes the connection.
                return Poll::Pending;
            }
            if !self.unchecked.is_empty() {
                let was_head = self.framer.in_head();
                match self.framer.step(&self.unchecked) {
                    Step::Pass(n) => {
                        self.ready = self.unchecked.split_to(n);
                        if was_head {
                            self.head_timer = None;
                            self.framer.set_limits(self.settings.limits());
                        }
                        continue;
                    }
                    Step::Reject(rejection) => {
                        self.refuse(rejection);
                        continue;
                    }
                    Step::NeedMore => {}
                }
            }
            let opaque = self.framer.opaque_bytes();
            if opaque > 0 && self.unchecked.is_empty() {
                // Body bytes: straight into actix's buffer when the whole of it is body.
                if opaque >= buf.remaining() as u64 {
                    let before = buf.filled().len();
                    std::task::ready!(Pin::new(&mut self.io).poll_read(cx, buf))?;
                    let n = buf.filled().len() - before;
                    self.framer.consumed_opaque(n as u64);
                    return Poll::Ready(Ok(()));
                }
                let n = std::task::ready!(self.read_scratch(cx, opaque as usize))?;
                if let Some(scratch) = &self.scratch {
                    buf.put_slice(&scratch[..n]);
                }
                self.framer.consumed_opaque(n as u64);
                return Poll::Ready(Ok(()));
            }
            match self.read_scratch(cx, SCRATCH) {
                Poll::Ready(Ok(0)) => {
                    // EOF. An unfinished head is dropped: actix would only wait for more.
                    self.unchecked.clear();
                    return Poll::Ready(Ok(()));
                }
                Poll::Ready(Ok(n)) => {
                    if let Some(scratch) = &self.scratch {
                        self.unchecked.extend_from_slice(&scratch[..n]);
                    }
                    if self.framer.in_head() {
                        self.arm_head_timer();
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    if !self.framer.in_head() {
                        return Poll::Pending;
                    }
                    let Some(timer) = self.head_timer.as_mut() else {
                        return Poll::Pending;
                    };
                    if timer.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    self.head_timer = None;
                    if self.unchecked.is_empty() {
                        // Nothing was sent: close, as actix did for an idle first request.
                        log::debug!(
                            "closing a connection from {} that sent no request",
                            peer_text(self.connection.peer)
                        );
                        return Poll::Ready(Ok(()));
                    }
                    self.refuse(Rejection::new(
                        RejectKind::Timeout,
                        format!(
                            "Your request head did not arrive within {} s.",
                            self.settings.head_timeout.as_secs()
                        ),
                    ));
                }
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Guard<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.checked {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        }
        this.poll_checked(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guard<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
