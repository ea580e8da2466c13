//! The aws-chunked body of `STREAMING-*` uploads.
//!
//! Signed:   `hex-size;chunk-signature=SIG\r\n` data `\r\n` ... `0;chunk-signature=SIG\r\n`,
//!           then `\r\n`, or with `-TRAILER` the trailer lines, `x-amz-trailer-signature:SIG`
//!           and `\r\n`.
//! Unsigned: `hex-size\r\n` data `\r\n` ... `0\r\n`, trailer lines, `\r\n`.
//!
//! Each chunk signature chains from the previous one (the first from the seed signature of
//! the Authorization header), so chunks can be neither altered, dropped nor reordered. A
//! signed chunk's data is yielded only once its signature verified: memory holds at most one
//! chunk (capped at 16 MiB) plus one header line (capped at 4 KiB).

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, LocalBoxStream, StreamExt};
use ring::{digest, hmac};

use super::signature_does_not_match;
use super::sigv4::EMPTY_SHA256_HEX;
use crate::encoding::{hex, unhex_array};
use crate::s3::error::{S3Error, S3ErrorCode};

/// The largest chunk we buffer to check its signature.
pub const MAX_CHUNK_SIZE: usize = 16 * 1024 * 1024;
/// The longest chunk header or trailer line.
pub const MAX_LINE: usize = 4 * 1024;
/// The most trailer lines we keep.
const MAX_TRAILERS: usize = 32;

/// What chains the chunk signatures: the request's signing key, date and scope, and the seed
/// signature of its Authorization header.
pub(crate) struct ChunkSigning {
    pub(crate) key: hmac::Key,
    pub(crate) amz_date: String,
    pub(crate) scope: String,
    pub(crate) seed_signature: [u8; 32],
}

impl fmt::Debug for ChunkSigning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkSigning")
            .field("amz_date", &self.amz_date)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// The trailer headers of an aws-chunked body (lower-case names, trimmed values), filled in
/// once the body has been read to its end and the trailer signature, if any, verified.
#[derive(Clone, Debug, Default)]
pub struct Trailers(Rc<RefCell<Vec<(String, String)>>>);

impl Trailers {
    /// The value of trailer `name` (lower case), e.g. `x-amz-checksum-crc32`.
    pub fn get(&self, name: &str) -> Option<String> {
        self.0
            .borrow()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    pub fn all(&self) -> Vec<(String, String)> {
        self.0.borrow().clone()
    }
}

/// An aws-chunked body still to be decoded.
#[derive(Debug)]
pub struct ChunkedBody {
    /// None for `STREAMING-UNSIGNED-PAYLOAD-TRAILER`.
    signing: Option<Box<ChunkSigning>>,
    with_trailer: bool,
    decoded_length: u64,
    trailers: Trailers,
    /// The trailer names `x-amz-trailer` announced (lower case): exactly these must come.
    declared: Vec<String>,
}

impl ChunkedBody {
    pub(crate) fn signed(signing: ChunkSigning, with_trailer: bool, decoded_length: u64) -> Self {
        ChunkedBody {
            signing: Some(Box::new(signing)),
            with_trailer,
            decoded_length,
            trailers: Trailers::default(),
            declared: Vec::new(),
        }
    }

    pub(crate) fn unsigned_with_trailer(decoded_length: u64) -> Self {
        ChunkedBody {
            signing: None,
            with_trailer: true,
            decoded_length,
            trailers: Trailers::default(),
            declared: Vec::new(),
        }
    }

    /// `x-amz-decoded-content-length`: what the decoded body must add up to.
    pub fn decoded_length(&self) -> u64 {
        self.decoded_length
    }

    /// Takes the request's `x-amz-trailer` header: the comma-separated trailer names the body
    /// will end with. A trailer not named there, or one named and not sent, fails the body
    /// (400) before anything is stored.
    pub fn declare_trailers(&mut self, header: Option<&str>) -> Result<(), S3Error> {
        let names = header
            .unwrap_or("")
            .split(',')
            .map(|n| n.trim().to_ascii_lowercase())
            .filter(|n| !n.is_empty());
        self.declared.clear();
        for name in names {
            if name.len() > MAX_LINE || self.declared.len() >= MAX_TRAILERS {
                return Err(malformed("x-amz-trailer names too many trailers"));
            }
            if !self.declared.contains(&name) {
                self.declared.push(name);
            }
        }
        if !self.declared.is_empty() && !self.with_trailer {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "x-amz-trailer needs a STREAMING-*-TRAILER payload (x-amz-content-sha256).",
            ));
        }
        Ok(())
    }

    /// A handle on the trailers, readable after the decoded stream has ended.
    pub fn trailers(&self) -> Trailers {
        self.trailers.clone()
    }

    /// Decodes `body`, yielding the data of each chunk once verified.
    pub fn decode(
        self,
        body: LocalBoxStream<'static, Result<Bytes, S3Error>>,
    ) -> LocalBoxStream<'static, Result<Bytes, S3Error>> {
        struct Driver {
            decoder: Decoder,
            body: LocalBoxStream<'static, Result<Bytes, S3Error>>,
            ended: bool,
        }
        let driver = Driver {
            decoder: Decoder::new(self),
            body,
            ended: false,
        };
        stream::unfold(driver, |mut d| async move {
            if d.ended {
                return None;
            }
            loop {
                let failure = match d.decoder.step() {
                    Ok(Step::Data(data)) => return Some((Ok(data), d)),
                    Ok(Step::NeedInput) => match d.body.next().await {
                        Some(Ok(bytes)) => {
                            d.decoder.feed(&bytes);
                            continue;
                        }
                        Some(Err(e)) => e,
                        None => match d.decoder.finish() {
                            Ok(()) => return None,
                            Err(e) => e,
                        },
                    },
                    Err(e) => e,
                };
                d.ended = true;
                return Some((Err(failure), d));
            }
        })
        .boxed_local()
    }
}

/// The running signature chain.
struct Chain {
    signing: Box<ChunkSigning>,
    /// Hex of the last verified signature.
    previous: String,
}

impl Chain {
    fn verify_chunk(&mut self, data_hash: &[u8], provided: &[u8; 32]) -> Result<(), S3Error> {
        let to_sign = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256_HEX}\n{}",
            self.signing.amz_date,
            self.signing.scope,
            self.previous,
            hex(data_hash)
        );
        self.verify(&to_sign, provided)
    }

    fn verify_trailer(
        &mut self,
        canonical_trailers: &[u8],
        provided: &[u8; 32],
    ) -> Result<(), S3Error> {
        let hash = digest::digest(&digest::SHA256, canonical_trailers);
        let to_sign = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
            self.signing.amz_date,
            self.signing.scope,
            self.previous,
            hex(hash.as_ref())
        );
        self.verify(&to_sign, provided)
    }

    fn verify(&mut self, to_sign: &str, provided: &[u8; 32]) -> Result<(), S3Error> {
        log::trace!("aws-chunked string to sign:\n{to_sign}");
        hmac::verify(&self.signing.key, to_sign.as_bytes(), provided).map_err(|_| {
            signature_does_not_match().with_detail("StringToSign", to_sign.to_owned())
        })?;
        self.previous = hex(provided);
        Ok(())
    }
}

enum State {
    /// Expecting `hex-size[;chunk-signature=SIG]\r\n`.
    ChunkHeader,
    /// Inside a chunk: `remaining` bytes of data still to come.
    ChunkData {
        remaining: usize,
        signature: Option<[u8; 32]>,
        collected: BytesMut,
    },
    /// Expecting the `\r\n` after a chunk's data.
    ChunkEnd,
    /// After the final chunk of a body without trailers: expecting `\r\n`.
    FinalLine,
    /// After the final chunk of a body with trailers: lines up to an empty line.
    Trailers {
        lines: Vec<(String, String)>,
        signature: Option<[u8; 32]>,
    },
    Done,
}

enum Step {
    Data(Bytes),
    NeedInput,
}

struct Decoder {
    state: State,
    /// Received and not yet decoded.
    input: BytesMut,
    /// None for unsigned chunks.
    chain: Option<Chain>,
    /// SHA-256 of the signed chunk being received.
    chunk_hasher: digest::Context,
    with_trailer: bool,
    expected_length: u64,
    decoded_so_far: u64,
    trailers: Trailers,
    declared: Vec<String>,
}

fn malformed(what: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidRequest,
        format!("Malformed aws-chunked body: {what}"),
    )
}

fn incomplete() -> S3Error {
    S3Error::new(
        S3ErrorCode::IncompleteBody,
        "You did not provide the number of bytes specified by the x-amz-decoded-content-length header.",
    )
}

impl Decoder {
    fn new(body: ChunkedBody) -> Decoder {
        let chain = body.signing.map(|signing| Chain {
            previous: hex(&signing.seed_signature),
            signing,
        });
        Decoder {
            state: State::ChunkHeader,
            input: BytesMut::new(),
            chain,
            chunk_hasher: digest::Context::new(&digest::SHA256),
            with_trailer: body.with_trailer,
            expected_length: body.decoded_length,
            decoded_so_far: 0,
            trailers: body.trailers,
            declared: body.declared,
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
    }

    /// Decodes as far as the input allows; returns verified data or asks for more input.
    fn step(&mut self) -> Result<Step, S3Error> {
        loop {
            match &mut self.state {
                State::ChunkHeader => {
                    let Some(line) = take_line(&mut self.input)? else {
                        return Ok(Step::NeedInput);
                    };
                    let (size, signature) = parse_chunk_header(&line, self.chain.is_some())?;
                    if size as u64 > self.expected_length - self.decoded_so_far {
                        return Err(incomplete());
                    }
                    if size > 0 {
                        self.state = State::ChunkData {
                            remaining: size,
                            signature,
                            collected: BytesMut::new(),
                        };
                        continue;
                    }
                    // The final chunk: the body must be complete.
                    if let (Some(chain), Some(signature)) = (&mut self.chain, signature) {
                        let empty = digest::digest(&digest::SHA256, b"");
                        chain.verify_chunk(empty.as_ref(), &signature)?;
                    }
                    if self.decoded_so_far != self.expected_length {
                        return Err(incomplete());
                    }
                    self.state = if self.with_trailer {
                        State::Trailers {
                            lines: Vec::new(),
                            signature: None,
                        }
                    } else {
                        State::FinalLine
                    };
                }
                State::ChunkData {
                    remaining,
                    signature,
                    collected,
                } => {
                    if self.input.is_empty() {
                        return Ok(Step::NeedInput);
                    }
                    let piece = self.input.split_to((*remaining).min(self.input.len()));
                    *remaining -= piece.len();
                    let Some(chain) = &mut self.chain else {
                        // Unsigned chunks: nothing to wait for.
                        self.decoded_so_far += piece.len() as u64;
                        if *remaining == 0 {
                            self.state = State::ChunkEnd;
                        }
                        return Ok(Step::Data(piece.freeze()));
                    };
                    self.chunk_hasher.update(&piece);
                    if collected.is_empty() && *remaining == 0 {
                        *collected = piece; // the whole chunk arrived in one piece: no copy
                    } else {
                        if collected.is_empty() {
                            // Exactly one chunk, not the doubling growth of extend.
                            collected.reserve(piece.len() + *remaining);
                        }
                        collected.extend_from_slice(&piece);
                    }
                    if *remaining > 0 {
                        continue;
                    }
                    let provided = signature.ok_or_else(|| malformed("missing chunk signature"))?;
                    let data_hash = std::mem::replace(
                        &mut self.chunk_hasher,
                        digest::Context::new(&digest::SHA256),
                    )
                    .finish();
                    chain.verify_chunk(data_hash.as_ref(), &provided)?;
                    let data = std::mem::take(collected).freeze();
                    self.decoded_so_far += data.len() as u64;
                    self.state = State::ChunkEnd;
                    return Ok(Step::Data(data));
                }
                State::ChunkEnd | State::FinalLine => {
                    if self.input.len() < 2 {
                        return Ok(Step::NeedInput);
                    }
                    if &self.input[..2] != b"\r\n" {
                        return Err(malformed("chunk data is not followed by CRLF"));
                    }
                    let _ = self.input.split_to(2);
                    self.state = match self.state {
                        State::ChunkEnd => State::ChunkHeader,
                        _ => State::Done,
                    };
                }
                State::Trailers { lines, signature } => {
                    let Some(line) = take_line(&mut self.input)? else {
                        return Ok(Step::NeedInput);
                    };
                    if !line.is_empty() {
                        let (name, value) = parse_trailer_line(&line)?;
                        if name == "x-amz-trailer-signature" {
                            if self.chain.is_none() || signature.is_some() {
                                return Err(malformed("unexpected x-amz-trailer-signature"));
                            }
                            *signature =
                                Some(unhex_array(&value).ok_or_else(signature_does_not_match)?);
                        } else if signature.is_some() {
                            return Err(malformed("trailer after x-amz-trailer-signature"));
                        } else if lines.len() >= MAX_TRAILERS {
                            return Err(malformed("too many trailers"));
                        } else if !self.declared.contains(&name) {
                            return Err(S3Error::new(
                                S3ErrorCode::InvalidRequest,
                                format!("The trailer {name} was not declared in x-amz-trailer."),
                            ));
                        } else if lines.iter().any(|(seen, _)| *seen == name) {
                            return Err(malformed("a trailer came twice"));
                        } else {
                            lines.push((name, value));
                        }
                        continue;
                    }
                    if let Some(chain) = &mut self.chain {
                        let provided = signature.ok_or_else(|| {
                            signature_does_not_match()
                                .with_detail("Reason", "missing x-amz-trailer-signature")
                        })?;
                        let mut canonical = Vec::new();
                        for (name, value) in lines.iter() {
                            canonical.extend_from_slice(name.as_bytes());
                            canonical.push(b':');
                            canonical.extend_from_slice(value.as_bytes());
                            canonical.push(b'\n');
                        }
                        chain.verify_trailer(&canonical, &provided)?;
                    }
                    if let Some(missing) = self
                        .declared
                        .iter()
                        .find(|name| !lines.iter().any(|(sent, _)| sent == *name))
                    {
                        return Err(S3Error::new(
                            S3ErrorCode::InvalidRequest,
                            format!("The trailer {missing} was announced but not sent."),
                        ));
                    }
                    *self.trailers.0.borrow_mut() = std::mem::take(lines);
                    self.state = State::Done;
                }
                State::Done => {
                    if !self.input.is_empty() {
                        return Err(malformed("data after the final chunk"));
                    }
                    return Ok(Step::NeedInput);
                }
            }
        }
    }

    /// The body ended: fine only after a complete final chunk.
    fn finish(&mut self) -> Result<(), S3Error> {
        match self.state {
            State::Done => Ok(()),
            // Tolerate a client that ends the body right after the final chunk header.
            State::FinalLine if self.input.is_empty() => Ok(()),
            _ => Err(S3Error::new(
                S3ErrorCode::IncompleteBody,
                "The request body terminated unexpectedly",
            )),
        }
    }
}

/// Takes one `\r\n`-terminated line from `input` (without its end), if complete.
fn take_line(input: &mut BytesMut) -> Result<Option<BytesMut>, S3Error> {
    let window = &input[..input.len().min(MAX_LINE + 2)];
    match window.windows(2).position(|w| w == b"\r\n") {
        Some(end) => {
            let line = input.split_to(end);
            let _ = input.split_to(2);
            Ok(Some(line))
        }
        None if input.len() >= MAX_LINE + 2 => Err(malformed(
            "a chunk header or trailer line is longer than 4 KiB",
        )),
        None => Ok(None),
    }
}

/// `hex-size;chunk-signature=SIG` (signed) or `hex-size[;extensions]` (unsigned).
fn parse_chunk_header(line: &[u8], signed: bool) -> Result<(usize, Option<[u8; 32]>), S3Error> {
    let line = std::str::from_utf8(line).map_err(|_| malformed("chunk header is not ASCII"))?;
    let (size, extension) = match line.split_once(';') {
        Some((size, extension)) => (size, Some(extension)),
        None => (line, None),
    };
    if size.is_empty() || size.len() > 8 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed("bad chunk size"));
    }
    let size = usize::from_str_radix(size, 16).map_err(|_| malformed("bad chunk size"))?;
    if size > MAX_CHUNK_SIZE {
        return Err(malformed("chunk larger than 16 MiB"));
    }
    if !signed {
        return Ok((size, None));
    }
    let signature = extension
        .and_then(|e| e.strip_prefix("chunk-signature="))
        .ok_or_else(|| malformed("missing chunk-signature"))?;
    let signature = unhex_array(signature).ok_or_else(signature_does_not_match)?;
    Ok((size, Some(signature)))
}

/// `name:value`, the name lower-cased and the value trimmed as they are signed.
fn parse_trailer_line(line: &[u8]) -> Result<(String, String), S3Error> {
    let line = std::str::from_utf8(line).map_err(|_| malformed("trailer is not UTF-8"))?;
    let (name, value) = line
        .split_once(':')
        .ok_or_else(|| malformed("trailer without ':'"))?;
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(malformed("bad trailer name"));
    }
    Ok((name.to_ascii_lowercase(), value.trim().to_owned()))
}

#[cfg(test)]
mod tests;
