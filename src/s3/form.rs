//! A streaming `multipart/form-data` reader for POST Object: the small fields before the
//! file are read into memory (capped), the file is streamed with memory bounded by one
//! network chunk plus the boundary.

use bytes::{Buf, Bytes, BytesMut};
use futures_util::stream::{self, LocalBoxStream, StreamExt};

use crate::s3::error::{S3Error, S3ErrorCode};

/// Bytes of all fields before the file, together (AWS: 20 KB of form fields; we allow more).
pub const MAX_FIELDS_SIZE: usize = 64 * 1024;
const MAX_PART_HEADERS: usize = 8 * 1024;

pub fn malformed(why: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::MalformedPOSTRequest,
        format!("The body of your POST request is not well-formed multipart/form-data: {why}"),
    )
}

/// The boundary of a `multipart/form-data` Content-Type.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let kind = params.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (name, value) = p.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty() && b.len() <= 70)
    })
}

/// One part's Content-Disposition name and filename, and its Content-Type.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PartHeaders {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
}

fn disposition_param(value: &str, param: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (name, v) = p.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case(param)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

fn parse_part_headers(block: &[u8]) -> Result<PartHeaders, S3Error> {
    let text = std::str::from_utf8(block).map_err(|_| malformed("part headers are not UTF-8"))?;
    let mut headers = PartHeaders::default();
    let mut named = false;
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| malformed("bad part header"))?;
        if name.trim().eq_ignore_ascii_case("content-disposition") {
            headers.name = disposition_param(value, "name")
                .ok_or_else(|| malformed("a part without a name"))?;
            headers.filename = disposition_param(value, "filename");
            named = true;
        } else if name.trim().eq_ignore_ascii_case("content-type") {
            headers.content_type = Some(value.trim().to_string());
        }
    }
    if !named {
        return Err(malformed("a part without Content-Disposition"));
    }
    Ok(headers)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub struct FormReader {
    body: LocalBoxStream<'static, Result<Bytes, S3Error>>,
    buf: BytesMut,
    /// `\r\n--boundary`
    delimiter: Vec<u8>,
    eof: bool,
}

impl FormReader {
    pub fn new(body: LocalBoxStream<'static, Result<Bytes, S3Error>>, boundary: &str) -> Self {
        let mut buf = BytesMut::new();
        // The first delimiter has no CRLF before it: add one so all look alike.
        buf.extend_from_slice(b"\r\n");
        FormReader {
            body,
            buf,
            delimiter: format!("\r\n--{boundary}").into_bytes(),
            eof: false,
        }
    }

    /// Reads more input; false at the end of the body.
    async fn fill(&mut self) -> Result<bool, S3Error> {
        if self.eof {
            return Ok(false);
        }
        match self.body.next().await {
            Some(chunk) => {
                self.buf.extend_from_slice(&chunk?);
                Ok(true)
            }
            None => {
                self.eof = true;
                Ok(false)
            }
        }
    }

    /// At a delimiter: the next part's headers, or None after the closing delimiter.
    pub async fn next_part(&mut self) -> Result<Option<PartHeaders>, S3Error> {
        // Skip a preamble (or the rest of a part we did not read) up to the delimiter.
        let at = loop {
            if let Some(at) = find(&self.buf, &self.delimiter) {
                break at;
            }
            let keep = self.delimiter.len();
            if self.buf.len() > keep {
                self.buf.advance(self.buf.len() - keep);
            }
            if !self.fill().await? {
                return Err(malformed("no closing boundary"));
            }
        };
        self.buf.advance(at + self.delimiter.len());
        while self.buf.len() < 2 {
            if !self.fill().await? {
                return Err(malformed("truncated boundary"));
            }
        }
        if self.buf.starts_with(b"--") {
            return Ok(None);
        }
        let end = loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                break end;
            }
            if self.buf.len() > MAX_PART_HEADERS {
                return Err(malformed("part headers too long"));
            }
            if !self.fill().await? {
                return Err(malformed("truncated part headers"));
            }
        };
        // After the delimiter comes CRLF (transport padding is not sent by browsers).
        let block = self.buf.split_to(end + 4);
        let headers = block
            .strip_prefix(b"\r\n")
            .ok_or_else(|| malformed("no line break after a boundary"))?;
        parse_part_headers(headers).map(Some)
    }

    /// The current part's content, up to `cap` bytes.
    pub async fn read_value(&mut self, cap: usize) -> Result<Bytes, S3Error> {
        loop {
            if let Some(at) = find(&self.buf, &self.delimiter) {
                if at > cap {
                    return Err(too_many_fields());
                }
                // Leave the delimiter in the buffer for next_part.
                return Ok(self.buf.split_to(at).freeze());
            }
            if self.buf.len() > cap + self.delimiter.len() {
                return Err(too_many_fields());
            }
            if !self.fill().await? {
                return Err(malformed("no closing boundary"));
            }
        }
    }

    /// The current part's content as a stream; it ends at the next delimiter. Later parts are
    /// ignored, as S3 ignores fields after the file.
    pub fn into_file_stream(self) -> LocalBoxStream<'static, Result<Bytes, S3Error>> {
        stream::unfold(Some(self), |state| async move {
            let mut reader = state?;
            loop {
                if let Some(at) = find(&reader.buf, &reader.delimiter) {
                    let data = reader.buf.split_to(at).freeze();
                    return if data.is_empty() {
                        None
                    } else {
                        Some((Ok(data), None))
                    };
                }
                // Everything but a possible start of the delimiter can go.
                let safe = reader.buf.len().saturating_sub(reader.delimiter.len() - 1);
                if safe > 0 {
                    let data = reader.buf.split_to(safe).freeze();
                    return Some((Ok(data), Some(reader)));
                }
                match reader.fill().await {
                    Ok(true) => {}
                    Ok(false) => return Some((Err(malformed("no closing boundary")), None)),
                    Err(e) => return Some((Err(e), None)),
                }
            }
        })
        .boxed_local()
    }
}

fn too_many_fields() -> S3Error {
    S3Error::new(
        S3ErrorCode::MaxMessageLengthExceeded,
        format!(
            "Your POST request fields preceding the upload file exceed {MAX_FIELDS_SIZE} bytes"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(raw: &[u8], chunk: usize) -> LocalBoxStream<'static, Result<Bytes, S3Error>> {
        let chunks: Vec<Result<Bytes, S3Error>> = raw
            .chunks(chunk)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        stream::iter(chunks).boxed_local()
    }

    fn form(file: &[u8]) -> Vec<u8> {
        let mut raw = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nuploads/${filename}\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"x-amz-meta-a\"\r\n\r\n1\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a b.txt\"\r\nContent-Type: text/plain\r\n\r\n"
            .to_vec();
        raw.extend_from_slice(file);
        raw.extend_from_slice(
            b"\r\n--XyZ\r\nContent-Disposition: form-data; name=\"after\"\r\n\r\nx\r\n--XyZ--\r\n",
        );
        raw
    }

    #[actix_web::test]
    async fn fields_then_streamed_file_at_every_chunk_size() {
        // The file holds near-delimiters and CRLFs that must pass through.
        let file: Vec<u8> = b"line\r\n--Xy\r\n--XyY not a boundary? \r\n-".repeat(50);
        let raw = form(&file);
        for chunk in [1, 2, 3, 7, 16, 100, raw.len()] {
            let mut reader = FormReader::new(body(&raw, chunk), "XyZ");
            let p = reader.next_part().await.unwrap().unwrap();
            assert_eq!(p.name, "key");
            assert_eq!(
                &reader.read_value(1000).await.unwrap()[..],
                b"uploads/${filename}"
            );
            let p = reader.next_part().await.unwrap().unwrap();
            assert_eq!(p.name, "x-amz-meta-a");
            assert_eq!(&reader.read_value(1000).await.unwrap()[..], b"1");
            let p = reader.next_part().await.unwrap().unwrap();
            assert_eq!(
                p,
                PartHeaders {
                    name: "file".into(),
                    filename: Some("a b.txt".into()),
                    content_type: Some("text/plain".into())
                }
            );
            let mut got = Vec::new();
            let mut stream = reader.into_file_stream();
            while let Some(data) = stream.next().await {
                let data = data.unwrap();
                assert!(data.len() <= chunk.max(100) + 16, "bounded chunks");
                got.extend_from_slice(&data);
            }
            assert_eq!(got, file, "chunk size {chunk}");
        }
    }

    #[actix_web::test]
    async fn broken_forms() {
        let raw = form(b"FILEBODY");
        // Cut inside the file: its closing delimiter never comes.
        let at = raw.windows(8).position(|w| w == b"FILEBODY").unwrap();
        let cut = &raw[..at + 6];
        let mut reader = FormReader::new(body(cut, 5), "XyZ");
        for _ in 0..3 {
            let p = reader.next_part().await.unwrap().unwrap();
            if p.name == "file" {
                break;
            }
            reader.read_value(1000).await.unwrap();
        }
        let results: Vec<_> = reader.into_file_stream().collect().await;
        assert!(results.iter().any(|r| r.is_err()));
        let mut reader = FormReader::new(body(&raw, 5), "XyZ");
        reader.next_part().await.unwrap();
        assert_eq!(
            reader.read_value(3).await.unwrap_err().code,
            S3ErrorCode::MaxMessageLengthExceeded
        );
        assert_eq!(
            boundary("multipart/form-data; boundary=\"ab c\"").as_deref(),
            Some("ab c")
        );
        assert_eq!(boundary("text/plain; boundary=x"), None);
        assert_eq!(boundary("multipart/form-data"), None);
    }
}
