//! HTTP/1 request framing, checked before actix-http sees a byte.
//!
//! actix-http's decoder panics on some heads (a header name of 64 KiB or more reaches an
//! `unwrap`) and answers the heads it refuses with an empty 400, 431 or 408. So every request
//! head is parsed here first, with the same parser (httparse) and at least the same rules, and
//! with our limits: a head refused here never reaches actix, and its client gets an S3 XML
//! error instead (see [`super::guard`]). To know where the next head starts, the bodies are
//! framed here too (Content-Length, or chunked, following actix's own chunked rules byte for
//! byte), without buffering them.
//!
//! Pure and synchronous: [`Framer::step`] looks at bytes and says how many may go on. That is
//! what the fuzz target drives.

use actix_web::http::{Method, Uri};

/// The most headers actix-http parses in one head; a request with more is refused here.
pub const MAX_HEADERS: usize = 96;
/// The longest request line (method, target, version). Presigned URLs with session tokens
/// run to a few KiB; nginx's default buffer for one line is 8 KiB.
pub const MAX_REQUEST_LINE: usize = 16 * 1024;
/// The largest head, whatever `max_header_size` says: it must stay below 64 KiB, the length
/// at which a single header name makes actix-http panic, and below actix's 128 KiB buffer.
pub const MAX_HEAD_CAP: usize = 60 * 1024;

/// What a head may hold.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The most bytes of header names and values (`max_header_size`, S3's own measure).
    pub header_bytes: usize,
}

impl Limits {
    /// The most bytes a whole head may take on the wire: request line, headers with their
    /// separators and line ends, and the blank line.
    pub fn head_bytes(&self) -> usize {
        (MAX_REQUEST_LINE + self.header_bytes + 4 * MAX_HEADERS + 4).min(MAX_HEAD_CAP)
    }
}

/// Why a request is refused before it reaches the S3 layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectKind {
    /// Not HTTP/1 as actix-http would accept it.
    BadRequest,
    /// The header section is larger than `max_header_size`, or has too many headers.
    HeadersTooLarge,
    /// The request line is longer than [`MAX_REQUEST_LINE`].
    UriTooLong,
    /// The target is not a URI.
    InvalidUri,
    /// An HTTP/1.0 POST without Content-Length.
    MissingLength,
    /// A Transfer-Encoding other than chunked.
    UnsupportedEncoding,
    /// The head did not come within `client_request_timeout`.
    Timeout,
    /// The server holds `max_connections` connections already.
    Overloaded,
}

/// A request refused here, answered by the S3 layer as an XML error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub kind: RejectKind,
    pub message: String,
    /// The request was a HEAD: its answer carries no body.
    pub head_request: bool,
}

impl Rejection {
    pub fn new(kind: RejectKind, message: impl Into<String>) -> Self {
        Rejection {
            kind,
            message: message.into(),
            head_request: false,
        }
    }
}

/// What [`Framer::step`] decided about the bytes it was shown.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// The first `n` bytes are checked and may go on (n > 0).
    Pass(usize),
    /// Nothing can be decided before more bytes come.
    NeedMore,
    /// The request is refused; nothing more of this connection may go on.
    Reject(Rejection),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    SizeFirst,
    SizeRest(u64),
    SizeLws(u64),
    Extension(u64),
    SizeLf(u64),
    Data(u64),
    DataCr,
    DataLf,
    EndCr,
    Trailer,
    TrailerLf,
    EndLf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Expecting (the rest of) a request head.
    Head,
    /// Inside a body of known length: this many bytes still to come.
    Length(u64),
    /// Inside a chunked body.
    Chunked(Chunk),
    /// The rest of the connection is a body up to EOF (a WebSocket upgrade, CONNECT): actix
    /// parses no further head on it.
    Opaque,
    /// A chunked body broke its framing: actix fails the request at the same byte and
    /// closes the connection, so nothing after it is passed on.
    Broken,
}

/// Tracks one connection's requests and bodies.
#[derive(Debug)]
pub struct Framer {
    state: State,
    limits: Limits,
    /// Heads passed on so far.
    requests: u64,
}

/// How the body of a checked head is framed.
enum Body {
    None,
    Length(u64),
    Chunked,
    UntilEof,
}

impl Framer {
    pub fn new(limits: Limits) -> Self {
        Framer {
            state: State::Head,
            limits,
            requests: 0,
        }
    }

    /// Limits for the heads still to come (`max_header_size` is reloadable).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Whether the next bytes start (or continue) a request head.
    pub fn in_head(&self) -> bool {
        self.state == State::Head
    }

    /// Heads passed on so far.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Bytes of body the connection may pass on without looking at them, straight from the
    /// socket: the rest of a Content-Length body or chunk, or everything once opaque. Zero
    /// while framing bytes must be looked at.
    pub fn opaque_bytes(&self) -> u64 {
        match self.state {
            State::Length(n) | State::Chunked(Chunk::Data(n)) => n,
            State::Opaque => u64::MAX,
            _ => 0,
        }
    }

    /// Records that `n` bytes were passed on straight from the socket (at most
    /// [`Framer::opaque_bytes`]).
    pub fn consumed_opaque(&mut self, n: u64) {
        match &mut self.state {
            State::Length(rest) => {
                *rest = rest.saturating_sub(n);
                if *rest == 0 {
                    self.state = State::Head;
                }
            }
            State::Chunked(Chunk::Data(rest)) => {
                *rest = rest.saturating_sub(n);
                if *rest == 0 {
                    self.state = State::Chunked(Chunk::DataCr);
                }
            }
            _ => {}
        }
    }

    /// Looks at `buf`, the bytes received and not passed on yet.
    pub fn step(&mut self, buf: &[u8]) -> Step {
        if buf.is_empty() {
            return Step::NeedMore;
        }
        match self.state {
            State::Head => match check_head(buf, self.limits) {
                Ok(None) => Step::NeedMore,
                Ok(Some((len, body))) => {
                    self.requests += 1;
                    self.state = match body {
                        Body::None => State::Head,
                        Body::Length(n) => State::Length(n),
                        Body::Chunked => State::Chunked(Chunk::SizeFirst),
                        Body::UntilEof => State::Opaque,
                    };
                    Step::Pass(len)
                }
                Err(rejection) => Step::Reject(rejection),
            },
            State::Length(rest) => {
                let n = rest.min(buf.len() as u64);
                self.consumed_opaque(n);
                Step::Pass(n as usize)
            }
            State::Opaque | State::Broken => Step::Pass(buf.len()),
            State::Chunked(chunk) => {
                let mut chunk = chunk;
                let mut at = 0;
                while at < buf.len() {
                    if let Chunk::Data(rest) = chunk {
                        let n = rest.min((buf.len() - at) as u64);
                        at += n as usize;
                        chunk = if n == rest {
                            Chunk::DataCr
                        } else {
                            Chunk::Data(rest - n)
                        };
                        continue;
                    }
                    let byte = buf[at];
                    at += 1;
                    match next_chunk_state(chunk, byte) {
                        Some(Some(next)) => chunk = next,
                        // The body ended: what follows is the next head.
                        Some(None) => {
                            self.state = State::Head;
                            return Step::Pass(at);
                        }
                        None => {
                            self.state = State::Broken;
                            return Step::Pass(at);
                        }
                    }
                }
                self.state = State::Chunked(chunk);
                Step::Pass(at)
            }
        }
    }
}

/// One byte of chunked framing, by actix-http's rules: `Some(Some(next))`, `Some(None)` when
/// the body ended with this byte, `None` when actix would refuse it.
fn next_chunk_state(state: Chunk, byte: u8) -> Option<Option<Chunk>> {
    let hex = |b: u8| match b {
        b'0'..=b'9' => Some(u64::from(b - b'0')),
        b'a'..=b'f' => Some(u64::from(b - b'a' + 10)),
        b'A'..=b'F' => Some(u64::from(b - b'A' + 10)),
        _ => None,
    };
    let after_size = |size: u64| match byte {
        b'\t' | b' ' => Some(Chunk::SizeLws(size)),
        b';' => Some(Chunk::Extension(size)),
        b'\r' => Some(Chunk::SizeLf(size)),
        _ => None,
    };
    let next = match state {
        Chunk::SizeFirst => Chunk::SizeRest(hex(byte)?),
        Chunk::SizeRest(size) => match hex(byte) {
            Some(digit) => Chunk::SizeRest(size.checked_mul(16)?.checked_add(digit)?),
            None => after_size(size)?,
        },
        Chunk::SizeLws(size) => after_size(size)?,
        Chunk::Extension(size) => match byte {
            b'\r' => Chunk::SizeLf(size),
            0x00..=0x08 | 0x0a..=0x1f | 0x7f => return None,
            _ => Chunk::Extension(size),
        },
        Chunk::SizeLf(size) => match (byte, size) {
            (b'\n', 0) => Chunk::EndCr,
            (b'\n', size) => Chunk::Data(size),
            _ => return None,
        },
        // Data is consumed in bulk by the caller.
        Chunk::Data(_) => return None,
        Chunk::DataCr => (byte == b'\r').then_some(Chunk::DataLf)?,
        Chunk::DataLf => (byte == b'\n').then_some(Chunk::SizeFirst)?,
        Chunk::EndCr => match byte {
            b'\r' => Chunk::EndLf,
            _ => Chunk::Trailer,
        },
        Chunk::Trailer => match byte {
            b'\r' => Chunk::TrailerLf,
            _ => Chunk::Trailer,
        },
        Chunk::TrailerLf => (byte == b'\n').then_some(Chunk::EndCr)?,
        Chunk::EndLf => return (byte == b'\n').then_some(None),
    };
    Some(Some(next))
}

/// Checks a head at the start of `buf`: `Ok(None)` while incomplete, else its length and how
/// its body is framed.
fn check_head(buf: &[u8], limits: Limits) -> Result<Option<(usize, Body)>, Rejection> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS + 1];
    let mut req = httparse::Request::new(&mut slots);
    let head_request = |req: &httparse::Request| req.method == Some("HEAD");
    let parsed = req.parse(buf);
    let reject = |kind, message: String, req: &httparse::Request| Rejection {
        kind,
        message,
        head_request: head_request(req),
    };
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return match oversize(buf, limits) {
                Some((kind, message)) => Err(reject(kind, message, &req)),
                None => Ok(None),
            };
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(reject(
                RejectKind::HeadersTooLarge,
                format!("A request may carry at most {MAX_HEADERS} headers."),
                &req,
            ))
        }
        Err(e) => {
            return Err(reject(
                RejectKind::BadRequest,
                format!("The request is not valid HTTP/1.1: {e}."),
                &req,
            ))
        }
    };
    if let Some((kind, message)) = oversize(&buf[..len], limits) {
        return Err(reject(kind, message, &req));
    }
    let bad = |message: &str| reject(RejectKind::BadRequest, message.to_string(), &req);
    let (Some(method), Some(path), Some(version)) = (req.method, req.path, req.version) else {
        return Err(bad("The request line is incomplete."));
    };
    if method.len() + path.len() + 10 > MAX_REQUEST_LINE {
        return Err(reject(
            RejectKind::UriTooLong,
            format!("The request line is longer than {MAX_REQUEST_LINE} bytes."),
            &req,
        ));
    }
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| bad("Invalid method."))?;
    if Uri::try_from(path).is_err() {
        return Err(reject(
            RejectKind::InvalidUri,
            "Couldn't parse the specified URI.".into(),
            &req,
        ));
    }
    let header_bytes: usize = req
        .headers
        .iter()
        .map(|h| h.name.len() + h.value.len())
        .sum();
    if header_bytes > limits.header_bytes {
        return Err(reject(
            RejectKind::HeadersTooLarge,
            format!(
                "Your request header section exceeds the maximum allowed size ({} bytes).",
                limits.header_bytes
            ),
            &req,
        ));
    }
    if req.headers.len() > MAX_HEADERS {
        return Err(reject(
            RejectKind::HeadersTooLarge,
            format!("A request may carry at most {MAX_HEADERS} headers."),
            &req,
        ));
    }

    let http11 = version == 1;
    let mut content_length = None;
    let mut transfer_encoding = None;
    let mut host = false;
    let mut websocket = false;
    for header in req.headers.iter() {
        let value = std::str::from_utf8(header.value).ok().map(str::trim);
        if header.name.eq_ignore_ascii_case("content-length") {
            if content_length.is_some() {
                return Err(bad("Content-Length is given twice."));
            }
            let length = value
                .filter(|v| !v.starts_with('+'))
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| bad("Content-Length is not a number."))?;
            content_length = Some(length);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            if transfer_encoding.is_some() {
                return Err(bad("Transfer-Encoding is given twice."));
            }
            transfer_encoding = Some(value.unwrap_or(""));
        } else if header.name.eq_ignore_ascii_case("host") {
            if host {
                return Err(bad("Host is given twice."));
            }
            host = true;
        } else if header.name.eq_ignore_ascii_case("upgrade") {
            websocket |= value.is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        }
    }
    if http11 && !host {
        return Err(bad("An HTTP/1.1 request must have a Host header."));
    }
    let chunked = match transfer_encoding {
        None => false,
        Some(_) if !http11 => return Err(bad("HTTP/1.0 has no Transfer-Encoding.")),
        Some(_) if content_length.is_some() => {
            return Err(bad(
                "A request may not have both Content-Length and Transfer-Encoding.",
            ))
        }
        Some(te) if te.eq_ignore_ascii_case("chunked") => true,
        Some(te) => {
            return Err(reject(
                RejectKind::UnsupportedEncoding,
                format!("Transfer-Encoding {te:?} is not implemented; only chunked is."),
                &req,
            ))
        }
    };
    if !http11 && method == Method::POST && content_length.is_none() {
        return Err(reject(
            RejectKind::MissingLength,
            "You must provide the Content-Length HTTP header.".into(),
            &req,
        ));
    }
    let body = if chunked {
        Body::Chunked
    } else if websocket {
        Body::UntilEof
    } else {
        match content_length {
            Some(0) | None if method == Method::CONNECT => Body::UntilEof,
            Some(0) | None => Body::None,
            Some(n) => Body::Length(n),
        }
    };
    Ok(Some((len, body)))
}

/// Whether the head bytes seen so far already break a limit.
fn oversize(head: &[u8], limits: Limits) -> Option<(RejectKind, String)> {
    let line_end = head.iter().skip_while(|&&b| b == b'\r' || b == b'\n');
    let first_line = line_end.take_while(|&&b| b != b'\n').count();
    if first_line > MAX_REQUEST_LINE {
        return Some((
            RejectKind::UriTooLong,
            format!("The request line is longer than {MAX_REQUEST_LINE} bytes."),
        ));
    }
    (head.len() > limits.head_bytes()).then(|| {
        (
            RejectKind::HeadersTooLarge,
            format!(
                "Your request header section exceeds the maximum allowed size ({} bytes).",
                limits.header_bytes
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { header_bytes: 8192 };

    fn framer() -> Framer {
        Framer::new(LIMITS)
    }

    /// Feeds `input` in pieces of `piece` bytes, as a connection would, and returns what
    /// was passed on and the rejection, if any.
    fn feed(input: &[u8], piece: usize) -> (Vec<u8>, Option<Rejection>) {
        let mut f = framer();
        let mut pending = Vec::new();
        let mut passed = Vec::new();
        for part in input.chunks(piece.max(1)) {
            pending.extend_from_slice(part);
            loop {
                match f.step(&pending) {
                    Step::Pass(n) => {
                        passed.extend(pending.drain(..n));
                    }
                    Step::NeedMore => break,
                    Step::Reject(r) => return (passed, Some(r)),
                }
            }
        }
        (passed, None)
    }

    fn rejected(input: &str) -> RejectKind {
        match feed(input.as_bytes(), input.len()) {
            (_, Some(r)) => r.kind,
            (passed, None) => panic!("accepted {:?}", String::from_utf8_lossy(&passed)),
        }
    }

    #[test]
    fn pipelined_requests_pass_in_any_split() {
        let input = b"PUT /b/k HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /b/k HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nTrailer: 1\r\n\r\nHEAD / HTTP/1.0\r\n\r\n";
        for piece in 1..input.len() {
            let (passed, rejection) = feed(input, piece);
            assert_eq!(rejection, None, "piece {piece}");
            assert_eq!(passed, input.to_vec(), "piece {piece}");
        }
    }

    #[test]
    fn heads_actix_would_refuse_are_refused_here() {
        use RejectKind::*;
        let huge_name = format!(
            "GET / HTTP/1.1\r\nHost: h\r\n{}: x\r\n\r\n",
            "a".repeat(70_000)
        );
        assert_eq!(rejected(&huge_name), HeadersTooLarge);
        let big = format!(
            "GET / HTTP/1.1\r\nHost: h\r\nx-a: {}\r\n\r\n",
            "v".repeat(8200)
        );
        assert_eq!(rejected(&big), HeadersTooLarge);
        let many: String = (0..97).map(|i| format!("x-{i}: v\r\n")).collect();
        assert_eq!(
            rejected(&format!("GET / HTTP/1.1\r\nHost: h\r\n{many}\r\n")),
            HeadersTooLarge
        );
        let long_target = format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "k".repeat(20_000));
        assert_eq!(rejected(&long_target), UriTooLong);
        assert_eq!(rejected("GET / HTTP/1.1\r\n\r\n"), BadRequest);
        assert_eq!(
            rejected("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            BadRequest
        );
        assert_eq!(rejected("G\0T / HTTP/1.1\r\n\r\n"), BadRequest);
        assert_eq!(rejected("GET / HTTP/9.1\r\n\r\n"), BadRequest);
        assert_eq!(
            rejected("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"),
            BadRequest
        );
        assert_eq!(
            rejected("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n"),
            BadRequest
        );
        assert_eq!(
            rejected("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n"),
            BadRequest
        );
        assert_eq!(
            rejected("PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n"),
            UnsupportedEncoding
        );
        assert_eq!(
            rejected("PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"),
            BadRequest
        );
        assert_eq!(rejected("POST / HTTP/1.0\r\n\r\n"), MissingLength);
        assert_eq!(
            rejected("GET /a\x7fb HTTP/1.1\r\nHost: h\r\n\r\n"),
            BadRequest
        );
    }

    #[test]
    fn head_requests_are_remembered_for_a_bodiless_answer() {
        let input = format!(
            "HEAD / HTTP/1.1\r\nHost: h\r\nx: {}\r\n\r\n",
            "v".repeat(9000)
        );
        let (_, rejection) = feed(input.as_bytes(), 100);
        assert!(rejection.expect("refused").head_request);
    }

    #[test]
    fn a_broken_chunk_stops_the_framing_where_actix_stops() {
        let input = b"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\nGET / HTTP/1.1\r\n\r\n";
        let mut f = framer();
        let head_len = input.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(f.step(input), Step::Pass(head_len));
        // "3\r\nabc" then the bad byte 'X' where CR belongs: passed on, then everything after
        // it, never parsed as a head.
        assert_eq!(f.step(&input[head_len..]), Step::Pass(7));
        assert_eq!(
            f.step(&input[head_len + 7..]),
            Step::Pass(input.len() - head_len - 7)
        );
        let size_overflow = b"POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n";
        let mut f = framer();
        assert!(matches!(f.step(size_overflow), Step::Pass(_)));
        assert!(matches!(f.step(&size_overflow[head_len..]), Step::Pass(_)));
        assert_eq!(f.opaque_bytes(), 0);
    }

    #[test]
    fn bodies_can_pass_straight_from_the_socket() {
        let mut f = framer();
        let head = b"PUT /b/k HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n";
        assert_eq!(f.step(head), Step::Pass(head.len()));
        assert_eq!(f.opaque_bytes(), 10);
        f.consumed_opaque(4);
        assert_eq!(f.opaque_bytes(), 6);
        f.consumed_opaque(6);
        assert!(f.in_head());
        assert_eq!(f.requests(), 1);
    }

    #[test]
    fn an_incomplete_head_waits_until_it_is_too_large() {
        let mut f = framer();
        assert_eq!(
            f.step(b"GET / HTTP/1.1\r\nHost: h\r\nx-a: "),
            Step::NeedMore
        );
        let endless = format!(
            "GET / HTTP/1.1\r\nHost: h\r\nx-a: {}",
            "v".repeat(MAX_HEAD_CAP)
        );
        assert!(matches!(f.step(endless.as_bytes()), Step::Reject(_)));
    }
}
