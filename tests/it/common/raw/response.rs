//! A signed request ready to send, and a response with its checks (status, S3 error code).

use super::*;

/// A signed request, ready to be sent.
#[derive(Debug)]
pub struct Prepared {
    pub method: String,
    /// Path and query as on the request line.
    pub target: String,
    pub host: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Prepared {
    /// The request line and headers as sent (`Connection: close`), without the body.
    pub fn head(&self) -> String {
        request_head(
            &self.method,
            &self.target,
            &self.host,
            &self.headers,
            self.body.len(),
        )
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A response read to EOF (requests are sent with `Connection: close`).
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// `METHOD target` of the request, for messages.
    pub request: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts a 2xx status, showing the body otherwise.
    #[track_caller]
    pub fn ok(self) -> Response {
        assert!(
            (200..300).contains(&self.status),
            "{} answered {} (expected 2xx):\n{}",
            self.request,
            self.status,
            self.text()
        );
        self
    }

    #[track_caller]
    pub fn status(self, status: u16) -> Response {
        assert_eq!(
            self.status,
            status,
            "{}: unexpected status; body:\n{}",
            self.request,
            self.text()
        );
        self
    }

    /// Asserts an S3 error: status, a well-formed `<Error>` document with this
    /// Code, a Message, a Resource and a RequestId, and the `x-amz-request-id`
    /// header carrying the same id. For HEAD, asserts the body is empty.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        let text = self.text();
        assert_eq!(
            self.status, status,
            "{}: expected {status} {code}, got {}:\n{text}",
            self.request, self.status
        );
        if self.request.starts_with("HEAD ") {
            assert!(
                self.body.is_empty(),
                "{}: an error to HEAD must have no body, got:\n{text}",
                self.request
            );
            return;
        }
        let doc = parse_xml(&text);
        let root = doc.root_element();
        assert_eq!(
            root.tag_name().name(),
            "Error",
            "{}: root element is not <Error>:\n{text}",
            self.request
        );
        let child = |name: &str| {
            root.children()
                .find(|c| c.is_element() && c.tag_name().name() == name)
                .map(|c| c.text().unwrap_or("").to_string())
        };
        assert_eq!(
            child("Code").as_deref(),
            Some(code),
            "{}: wrong <Code>:\n{text}",
            self.request
        );
        assert!(
            child("Message").is_some(),
            "{}: no <Message>:\n{text}",
            self.request
        );
        assert!(
            child("Resource").is_some(),
            "{}: no <Resource>:\n{text}",
            self.request
        );
        let id = child("RequestId").unwrap_or_default();
        assert!(!id.is_empty(), "{}: no <RequestId>:\n{text}", self.request);
        assert_eq!(
            self.header("x-amz-request-id"),
            Some(id.as_str()),
            "{}: x-amz-request-id header should carry the RequestId",
            self.request
        );
        let ct = self.header("content-type").unwrap_or("");
        assert!(
            ct.contains("xml"),
            "{}: error Content-Type should be XML, got {ct:?}",
            self.request
        );
    }

    /// The `<Code>` of an error body, if any.
    pub fn error_code(&self) -> Option<String> {
        roxmltree::Document::parse(&self.text()).ok().and_then(|d| {
            d.descendants()
                .find(|n| n.has_tag_name("Code"))
                .and_then(|n| n.text().map(str::to_string))
        })
    }
}
