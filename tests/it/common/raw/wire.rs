//! Sending requests on a raw socket and parsing what comes back (truncated bodies,
//! `Expect: 100-continue`, chunked answers).

use super::*;

impl Req<'_> {
    /// Signs the request, sends its head and only the first `n` bytes of its
    /// body, then closes the connection: a client that disconnects mid-upload.
    pub fn send_truncated(self, n: usize) {
        let addr = self.client.addr;
        let p = self.prepare();
        let mut head = format!("{} {} HTTP/1.1\r\nHost: {}\r\n", p.method, p.target, p.host);
        for (k, v) in &p.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", p.body.len()));
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.write_all(head.as_bytes()).expect("write head");
        stream
            .write_all(&p.body[..n.min(p.body.len())])
            .expect("write body");
        stream.flush().expect("flush");
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
}

impl Req<'_> {
    /// Sends the head of a request carrying `Expect: 100-continue`, then waits
    /// (10 s at most) for an answer. With `send_body`, the body follows a
    /// `100 Continue`; without, the server must give a final answer on the
    /// head alone. Returns whether `100 Continue` came, and the final response.
    pub fn send_expect_continue(self, send_body: bool) -> (bool, Response) {
        let addr = self.client.addr;
        let p = self.prepare();
        let request = format!("{} {}", p.method, p.target);
        let mut head = format!("{} {} HTTP/1.1\r\nHost: {}\r\n", p.method, p.target, p.host);
        for (k, v) in &p.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            p.body.len()
        ));
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream.write_all(head.as_bytes()).expect("write head");
        let mut got: Vec<u8> = Vec::new();
        let mut buf = [0u8; 4096];
        let mut continued = false;
        loop {
            // Drop a complete `100 Continue` head from the front.
            if got.starts_with(b"HTTP/1.1 100") {
                if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                    got.drain(..end + 4);
                    continued = true;
                    if send_body {
                        stream.write_all(&p.body).expect("write body");
                        stream
                            .set_read_timeout(Some(Duration::from_secs(60)))
                            .expect("timeout");
                    }
                    continue;
                }
            }
            if got.windows(4).any(|w| w == b"\r\n\r\n") && !got.starts_with(b"HTTP/1.1 100") {
                // A final head: read the rest of the response.
                let _ = stream.read_to_end(&mut got);
                return (continued, parse_response(&got, false, request));
            }
            match stream.read(&mut buf) {
                Ok(0) => panic!(
                    "{request}: connection closed after {:?}",
                    String::from_utf8_lossy(&got)
                ),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => panic!("{request}: no final answer within the time limit: {e}"),
            }
        }
    }
}

/// Sends one HTTP/1.1 request with `Connection: close` and reads the response to EOF.
pub fn send_raw(
    addr: SocketAddr,
    method: &str,
    target: &str,
    host: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Response {
    let head = request_head(method, target, host, headers, body.len());

    let request = format!("{method} {target}");
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("set timeout");
    stream
        .set_write_timeout(Some(Duration::from_secs(60)))
        .expect("set timeout");
    // A server may answer and close before reading everything (oversized
    // headers, early errors): a failed write still leaves a response to read.
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|_| stream.write_all(body))
        .and_then(|_| stream.flush());
    let mut raw = Vec::new();
    if let Err(e) = stream.read_to_end(&mut raw) {
        if raw.is_empty() {
            panic!("{request}: reading the response failed: {e}");
        }
    }
    parse_response(&raw, method == "HEAD", request)
}

/// A request's line and headers with `Connection: close`, adding `Content-Length` for a
/// body of `body_len` bytes unless the headers already declare one.
pub(super) fn request_head(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(String, String)],
    body_len: usize,
) -> String {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let has_len = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"));
    if !has_len && (body_len > 0 || matches!(method, "PUT" | "POST")) {
        head.push_str(&format!("Content-Length: {body_len}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    head
}

/// Parses a whole HTTP/1.1 response read until the peer closed the connection.
pub fn parse_response(raw: &[u8], head_request: bool, request: String) -> Response {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "{request}: no complete HTTP response head in {} bytes: {:?}",
                raw.len(),
                String::from_utf8_lossy(&raw[..raw.len().min(400)])
            )
        });
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{request}: bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked")
    });
    let body = if head_request {
        rest.to_vec()
    } else if chunked {
        decode_chunked(rest, &request)
    } else if let Some(len) = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        assert!(
            rest.len() >= len,
            "{request}: body shorter ({}) than Content-Length {len}",
            rest.len()
        );
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    Response {
        status,
        headers,
        body,
        request,
    }
}

fn decode_chunked(mut rest: &[u8], request: &str) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or_else(|| panic!("{request}: truncated chunked body"));
        let size_str = String::from_utf8_lossy(&rest[..line_end]);
        let size_str = size_str.split(';').next().unwrap_or("").trim().to_string();
        let size = usize::from_str_radix(&size_str, 16)
            .unwrap_or_else(|_| panic!("{request}: bad chunk size {size_str:?}"));
        rest = &rest[line_end + 2..];
        if size == 0 {
            return out;
        }
        assert!(rest.len() >= size + 2, "{request}: truncated chunk");
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}
