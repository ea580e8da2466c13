//! The access log's line for one request, in the Apache combined format plus the request id,
//! the S3 operation and the time taken. Signatures and session tokens in the target are
//! blanked. Built in one buffer: this runs for every request.

use std::cell::RefCell;
use std::fmt::Write;
use std::time::{Duration, SystemTime};

use actix_web::HttpRequest;

/// What the server knows of a request once it answered.
pub struct Outcome<'a> {
    pub status: u16,
    /// Body bytes sent; None when there is no sized body (HEAD, streaming).
    pub sent: Option<u64>,
    pub request_id: &'a str,
    pub operation: &'a str,
    pub elapsed: Duration,
}

/// `peer - user [date] "METHOD target VERSION" status bytes "referer" "user-agent" id op Nms`.
pub fn line(req: &HttpRequest, outcome: &Outcome<'_>) -> String {
    let mut line = String::with_capacity(256 + req.query_string().len());
    match req.peer_addr() {
        Some(peer) => {
            let _ = write!(line, "{}", peer.ip());
        }
        None => line.push('-'),
    }
    line.push_str(" - ");
    push_quoted(&mut line, access_key(req));
    line.push_str(" [");
    push_apache_date(&mut line, SystemTime::now());
    let _ = write!(line, "] \"{} ", req.method());
    push_target(&mut line, req);
    let _ = write!(line, " {:?}\" {} ", req.version(), outcome.status);
    match outcome.sent {
        Some(n) => {
            let _ = write!(line, "{n}");
        }
        None => line.push('-'),
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    line.push_str(" \"");
    push_quoted(&mut line, header("referer"));
    line.push_str("\" \"");
    push_quoted(&mut line, header("user-agent"));
    let _ = write!(
        line,
        "\" {} {} {}ms",
        outcome.request_id,
        outcome.operation,
        outcome.elapsed.as_millis()
    );
    line
}

/// The access key a request is signed with, for the user field.
fn access_key(req: &HttpRequest) -> Option<&str> {
    if let Some(auth) = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    {
        if let Some(rest) = auth.split("Credential=").nth(1) {
            return rest.split('/').next();
        }
        if let Some(rest) = auth.strip_prefix("AWS ") {
            return rest.split(':').next();
        }
    }
    req.query_string().split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        match k {
            "X-Amz-Credential" => v.split("%2F").next(),
            "AWSAccessKeyId" => Some(v),
            _ => None,
        }
    })
}

/// The request target, quoted, with signatures and session tokens blanked: a presigned URL in
/// a log could otherwise be replayed until it expires.
fn push_target(line: &mut String, req: &HttpRequest) {
    push_quoted(line, Some(req.path()));
    let query = req.query_string();
    if query.is_empty() {
        return;
    }
    line.push('?');
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            line.push('&');
        }
        match pair.split_once('=') {
            Some((k, _))
                if ["signature", "x-amz-signature", "x-amz-security-token"]
                    .iter()
                    .any(|secret| k.eq_ignore_ascii_case(secret)) =>
            {
                push_quoted(line, Some(k));
                line.push_str("=REDACTED");
            }
            _ => push_quoted(line, Some(pair)),
        }
    }
}

/// `value` with `"` and `\` escaped and control characters as `?`; `-` when absent.
fn push_quoted(line: &mut String, value: Option<&str>) {
    let Some(value) = value else {
        line.push('-');
        return;
    };
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                line.push('\\');
                line.push(c);
            }
            c if c.is_control() => line.push('?'),
            c => line.push(c),
        }
    }
}

thread_local! {
    /// The last second formatted on this thread and its text: requests in the same second
    /// share it.
    static LAST_DATE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// `10/Oct/2000:13:55:36 +0000`, the Apache log date.
fn push_apache_date(line: &mut String, t: SystemTime) {
    let second = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    LAST_DATE.with(|cell| {
        let mut last = cell.borrow_mut();
        if last.0 != second {
            let http = crate::time::http_date(t); // "Sun, 06 Nov 1994 08:49:37 GMT"
            let parts: Vec<&str> = http.split_whitespace().collect();
            let text = match parts.as_slice() {
                [_, day, month, year, time, _] => format!("{day}/{month}/{year}:{time} +0000"),
                _ => http.clone(),
            };
            *last = (second, text);
        }
        line.push_str(&last.1);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn apache_date(t: SystemTime) -> String {
        let mut line = String::new();
        push_apache_date(&mut line, t);
        line
    }

    fn quoted(value: Option<&str>) -> String {
        let mut line = String::new();
        push_quoted(&mut line, value);
        line
    }

    fn target(req: &HttpRequest) -> String {
        let mut line = String::new();
        push_target(&mut line, req);
        line
    }

    #[test]
    fn fields() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(apache_date(t), "06/Nov/1994:08:49:37 +0000");
        // The same second again comes from the cache; the next one is formatted anew.
        assert_eq!(apache_date(t), "06/Nov/1994:08:49:37 +0000");
        assert_eq!(
            apache_date(t + Duration::from_secs(1)),
            "06/Nov/1994:08:49:38 +0000"
        );
        assert_eq!(quoted(Some("a\"b\n\u{85}\\")), "a\\\"b??\\\\");
        assert_eq!(quoted(None), "-");
        let req = TestRequest::default()
            .insert_header((
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x",
            ))
            .to_http_request();
        assert_eq!(access_key(&req), Some("AKID"));
        let req = TestRequest::with_uri("/b/k?AWSAccessKeyId=OLD&Signature=x").to_http_request();
        assert_eq!(access_key(&req), Some("OLD"));
        assert_eq!(target(&req), "/b/k?AWSAccessKeyId=OLD&Signature=REDACTED");
        let req =
            TestRequest::with_uri("/b?X-Amz-Signature=abc&list-type=2&x-amz-security-token=t")
                .to_http_request();
        assert_eq!(
            target(&req),
            "/b?X-Amz-Signature=REDACTED&list-type=2&x-amz-security-token=REDACTED"
        );
    }

    #[test]
    fn whole_line() {
        let req = TestRequest::with_uri("/b/k?X-Amz-Credential=AK%2F2013&X-Amz-Signature=s")
            .method(actix_web::http::Method::GET)
            .peer_addr("192.0.2.7:5000".parse().expect("address"))
            .insert_header(("user-agent", "curl/8 \"x\""))
            .to_http_request();
        let outcome = Outcome {
            status: 200,
            sent: Some(4096),
            request_id: "ABC",
            operation: "GetObject",
            elapsed: Duration::from_millis(3),
        };
        let line = line(&req, &outcome);
        let (head, rest) = line.split_once(" [").expect("date field");
        assert_eq!(head, "192.0.2.7 - AK");
        let (_, rest) = rest.split_once("] ").expect("date field");
        assert_eq!(
            rest,
            "\"GET /b/k?X-Amz-Credential=AK%2F2013&X-Amz-Signature=REDACTED HTTP/1.1\" 200 4096 \"-\" \"curl/8 \\\"x\\\"\" ABC GetObject 3ms"
        );
    }
}
