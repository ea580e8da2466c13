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
//!
//! `Expect: 100-continue` is answered here too, not by actix (which would send `100 Continue`
//! as soon as the head arrives): the guard takes the header out of the head (the application
//! puts it back with [`Connection::take_expect`], as clients may have signed it) and sends
//! `100 Continue` only when the request's handler first reads the body, that is once the request
//! is authenticated and allowed, so a refused upload never transfers its body.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::rt::time::{sleep, Sleep};
use bytes::{Buf, BytesMut};
use futures_util::Stream;
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
    /// Where the request that asked for `100 Continue` stands.
    expect: Cell<Expect>,
    /// The `Expect` header taken out of that request's head, as sent.
    expect_header: RefCell<Option<(u64, Vec<u8>)>>,
    /// Wakes the connection's task when a handler wants the body (see [`Connection::body_wanted`]).
    reader: RefCell<Option<Waker>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Expect {
    /// No `100 Continue` is due.
    #[default]
    Nothing,
    /// This request (counted from 1) sent `Expect: 100-continue` and no body byte yet.
    Awaiting(u64),
    /// Its handler reads the body: `100 Continue` goes out with the next flush, after every
    /// byte actix wrote before it.
    Due,
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

    /// The `Expect` header the guard took out of the head of the request about to reach the
    /// application (the one after those started so far), to be put back in its headers.
    pub fn take_expect(&self) -> Option<Vec<u8>> {
        let mut header = self.expect_header.borrow_mut();
        match header.as_ref() {
            Some((number, _)) if *number == self.started.get() + 1 => header.take().map(|h| h.1),
            _ => None,
        }
    }

    /// Called when the current request's handler first reads the body: a client that waits
    /// for `100 Continue` gets it now.
    pub fn body_wanted(&self) {
        if self.expect.get() == Expect::Awaiting(self.started.get()) {
            self.expect.set(Expect::Due);
            if let Some(waker) = self.reader.borrow_mut().take() {
                waker.wake();
            }
        }
    }
}

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// A request body that tells the connection when the handler first reads it.
pub fn announce_reads(payload: Payload, connection: Rc<Connection>) -> Payload {
    let stream: Pin<Box<dyn Stream<Item = Result<bytes::Bytes, PayloadError>>>> =
        Box::pin(AnnouncedReads {
            inner: payload,
            connection: Some(connection),
        });
    Payload::from(stream)
}

struct AnnouncedReads {
    inner: Payload,
    /// Until the first read.
    connection: Option<Rc<Connection>>,
}

impl Stream for AnnouncedReads {
    type Item = Result<bytes::Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(connection) = self.connection.take() {
            connection.body_wanted();
        }
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

/// Takes `Expect: 100-continue` out of an HTTP/1.1 request head; its value as sent if it
/// was there.
fn strip_expect_continue(head: &mut BytesMut) -> Option<Vec<u8>> {
    let first_end = head.iter().position(|&b| b == b'\n')?;
    if !head[..first_end].trim_ascii_end().ends_with(b"HTTP/1.1") {
        return None;
    }
    let mut start = first_end + 1;
    while start < head.len() {
        let end = head[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(head.len(), |i| start + i + 1);
        let line = &head[start..end];
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
            if name.eq_ignore_ascii_case(b"expect") && value.eq_ignore_ascii_case(b"100-continue") {
                let value = value.to_vec();
                let rest = head.split_off(end);
                head.truncate(start);
                head.extend_from_slice(&rest);
                return Some(value);
            }
        }
        start = end;
    }
    None
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
    /// Bytes of a due `100 Continue` already written.
    continue_sent: usize,
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
                peer,
                ..Connection::default()
            }),
            continue_sent: 0,
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

impl<T> Guard<T> {
    /// The client sends the body it held back for `100 Continue` (or sent it without waiting):
    /// no `100 Continue` is due any more.
    fn body_arrives(&mut self) {
        // A `100 Continue` partly written is finished all the same.
        if self.continue_sent == 0 && self.connection.expect.get() != Expect::Nothing {
            self.connection.expect.set(Expect::Nothing);
            self.continue_sent = 0;
        }
    }

    /// Nothing to read: if a client waits for `100 Continue`, this task must wake when the
    /// handler asks for the body.
    fn await_body(&self, cx: &Context<'_>) {
        if let Expect::Awaiting(_) = self.connection.expect.get() {
            *self.connection.reader.borrow_mut() = Some(cx.waker().clone());
        }
    }
}

impl<T: AsyncWrite + Unpin> Guard<T> {
    /// Writes a due `100 Continue`. Called from `poll_flush`, which actix calls only once every
    /// byte it wrote before has been accepted, so the interim answer leaves in its place.
    fn poll_continue(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.connection.expect.get() == Expect::Due {
            let n = std::task::ready!(
                Pin::new(&mut self.io).poll_write(cx, &CONTINUE[self.continue_sent..])
            )?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.continue_sent += n;
            if self.continue_sent == CONTINUE.len() {
                self.connection.expect.set(Expect::Nothing);
                self.continue_sent = 0;
            }
        }
        Poll::Ready(Ok(()))
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
                            let number = self.framer.requests();
                            let header = strip_expect_continue(&mut self.ready);
                            self.connection.expect.set(match header {
                                Some(_) => Expect::Awaiting(number),
                                None => Expect::Nothing,
                            });
                            *self.connection.expect_header.borrow_mut() =
                                header.map(|value| (number, value));
                        } else {
                            self.body_arrives();
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
                let read = if opaque >= buf.remaining() as u64 {
                    let before = buf.filled().len();
                    Pin::new(&mut self.io)
                        .poll_read(cx, buf)
                        .map_ok(|()| buf.filled().len() - before)
                } else {
                    self.read_scratch(cx, opaque as usize).map_ok(|n| {
                        if let Some(scratch) = &self.scratch {
                            buf.put_slice(&scratch[..n]);
                        }
                        n
                    })
                };
                let n = match read {
                    Poll::Ready(n) => n?,
                    Poll::Pending => {
                        self.await_body(cx);
                        return Poll::Pending;
                    }
                };
                if n > 0 {
                    self.body_arrives();
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
                    self.await_body(cx);
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
        let this = self.get_mut();
        std::task::ready!(this.poll_continue(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripped(head: &str) -> (Option<&'static str>, String) {
        let mut bytes = BytesMut::from(head);
        let found = strip_expect_continue(&mut bytes).map(|v| {
            if v == b"100-Continue" {
                "100-Continue"
            } else {
                "100-continue"
            }
        });
        (found, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[test]
    fn expect_continue_is_taken_out_of_http_1_1_heads_only() {
        assert_eq!(
            stripped("PUT /b/k HTTP/1.1\r\nHost: h\r\nExpect:  100-Continue \r\nContent-Length: 3\r\n\r\n"),
            (
                Some("100-Continue"),
                "PUT /b/k HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n".into()
            )
        );
        assert_eq!(
            stripped("PUT /b/k HTTP/1.1\nexpect: 100-continue\n\n"),
            (Some("100-continue"), "PUT /b/k HTTP/1.1\n\n".into())
        );
        let http10 = "PUT /b/k HTTP/1.0\r\nExpect: 100-continue\r\n\r\n";
        assert_eq!(stripped(http10), (None, http10.into()));
        let other = "PUT /b/k HTTP/1.1\r\nExpect: something\r\nX-Expect: 100-continue\r\n\r\n";
        assert_eq!(stripped(other), (None, other.into()));
    }
}
