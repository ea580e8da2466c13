//! The reliability suite of issue 12: the server killed with SIGKILL while clients upload and
//! overwrite, and slow or idle clients beside a normal one.
//!
//! Bounded for CI (a few kill cycles per backend); a long run for manual use:
//! `LIBRES3_RELIABILITY_CYCLES=200 cargo nextest run --test integration -E 'test(/reliability::/)'`.
//! The randomness (operations, sizes, when to kill) comes from one seed, printed at the start
//! and taken from `LIBRES3_RELIABILITY_SEED` when set, so a failing run can be replayed (the
//! threads' interleaving still differs from run to run).

mod kill;
mod lifecycle;
mod slow;
mod versions;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::common::raw::{Prepared, Response};

const MIB: usize = 1024 * 1024;

/// How long anything in this file may wait for the server before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// Why a request got no answer.
#[derive(Debug)]
pub struct NoAnswer {
    /// Whether any byte may have reached the server (false: the connection was refused).
    sent: bool,
    why: String,
}

/// The head `send_raw` would write for a prepared request.
pub fn head_of(p: &Prepared) -> String {
    let mut head = format!("{} {} HTTP/1.1\r\nHost: {}\r\n", p.method, p.target, p.host);
    for (k, v) in &p.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if p.header("content-length").is_none() {
        head.push_str(&format!("Content-Length: {}\r\n", p.body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    head
}

/// Parses a response read to EOF; None when it is incomplete (no head, or a body shorter
/// than its Content-Length).
pub fn parse_complete(raw: &[u8], request: String) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let rest = &raw[end + 4..];
    let body = match length {
        Some(len) if rest.len() < len => return None,
        Some(len) => rest[..len].to_vec(),
        None => rest.to_vec(),
    };
    Some(Response {
        status,
        headers,
        body,
        request,
    })
}

/// Sends a prepared request on a new connection; an error instead of a panic when the
/// server is gone (the writers see their server killed under them).
pub fn try_send(addr: SocketAddr, p: &Prepared) -> Result<Response, NoAnswer> {
    let request = format!("{} {}", p.method, p.target);
    let mut stream = TcpStream::connect(addr).map_err(|e| NoAnswer {
        sent: false,
        why: format!("{request}: connect: {e}"),
    })?;
    let _ = stream.set_read_timeout(Some(PATIENCE));
    let _ = stream.set_write_timeout(Some(PATIENCE));
    // A failed write may still leave an answer to read.
    let _ = stream
        .write_all(head_of(p).as_bytes())
        .and_then(|_| stream.write_all(&p.body));
    let mut raw = Vec::new();
    let read = stream.read_to_end(&mut raw);
    parse_complete(&raw, request.clone()).ok_or_else(|| NoAnswer {
        sent: true,
        why: format!(
            "{request}: incomplete answer ({} bytes, {read:?})",
            raw.len()
        ),
    })
}

// ---- the history of writes and the checker -----------------------------------------------
