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

use super::sigv4::EMPTY_SHA256_HEX;
use super::{hex_decode, hex_encode, signature_does_not_match};
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
            hex_encode(data_hash)
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
            hex_encode(hash.as_ref())
        );
        self.verify(&to_sign, provided)
    }

    fn verify(&mut self, to_sign: &str, provided: &[u8; 32]) -> Result<(), S3Error> {
        log::trace!("aws-chunked string to sign:\n{to_sign}");
        hmac::verify(&self.signing.key, to_sign.as_bytes(), provided).map_err(|_| {
            signature_does_not_match().with_detail("StringToSign", to_sign.to_owned())
        })?;
        self.previous = hex_encode(provided);
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
            previous: hex_encode(&signing.seed_signature),
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
                                Some(hex_decode(&value).ok_or_else(signature_does_not_match)?);
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
    let signature = hex_decode(signature).ok_or_else(signature_does_not_match)?;
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
mod tests {
    use super::*;
    use crate::s3::auth::sigv4::signing_key;
    use crate::s3::auth::test_support::*;
    use crate::s3::auth::{self, PayloadCheck, SignedRequest};
    use crate::store::SecretKey;
    use futures_util::FutureExt;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
    const SIG1: &str = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648";
    const SIG2: &str = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497";
    const SIG3: &str = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9";
    const SCOPE: &str = "20130524/us-east-1/s3/aws4_request";

    fn example_time() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_369_353_600)
    }

    fn secret() -> SecretKey {
        SecretKey::new(SECRET.to_owned())
    }

    fn signing(seed: &str) -> ChunkSigning {
        ChunkSigning {
            key: signing_key(&secret(), "20130524", "us-east-1"),
            amz_date: "20130524T000000Z".to_owned(),
            scope: SCOPE.to_owned(),
            seed_signature: hex_decode(seed).expect("hex"),
        }
    }

    /// The 65 KiB body of the AWS chunked-upload example, encoded.
    fn example_body() -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(format!("10000;chunk-signature={SIG1}\r\n").as_bytes());
        body.extend_from_slice(&[b'a'; 65_536]);
        body.extend_from_slice(format!("\r\n400;chunk-signature={SIG2}\r\n").as_bytes());
        body.extend_from_slice(&[b'a'; 1024]);
        body.extend_from_slice(format!("\r\n0;chunk-signature={SIG3}\r\n\r\n").as_bytes());
        body
    }

    fn run(body: ChunkedBody, parts: Vec<Vec<u8>>) -> (Vec<u8>, Vec<usize>, Option<S3Error>) {
        let input: Vec<Result<Bytes, S3Error>> =
            parts.into_iter().map(|p| Ok(Bytes::from(p))).collect();
        let out = body
            .decode(stream::iter(input).boxed_local())
            .collect::<Vec<_>>()
            .now_or_never()
            .expect("test streams are always ready");
        let mut data = Vec::new();
        let mut sizes = Vec::new();
        let mut error = None;
        for item in out {
            match item {
                Ok(bytes) => {
                    sizes.push(bytes.len());
                    data.extend_from_slice(&bytes);
                }
                Err(e) => {
                    assert!(error.is_none(), "only one error, at the end");
                    error = Some(e);
                }
            }
        }
        (data, sizes, error)
    }

    // S3 API reference, "Transferring Payload in Multiple Chunks", example "PUT Object":
    // the seed signature from the headers, then the chained chunk signatures.
    #[test]
    fn aws_example_seed_and_chunks() {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{SCOPE},SignedHeaders=content-encoding;\
             content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;\
             x-amz-storage-class,Signature={SEED}"
        );
        let h = headers(&[
            ("host", "s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("authorization", &auth),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"),
            ("content-length", "66824"),
        ]);
        let req = SignedRequest {
            method: "PUT",
            raw_path: "/examplebucket/chunkObject.txt",
            raw_query: "",
            headers: &h,
            virtual_bucket: None,
        };
        let creds = auth::parse(&req, example_time(), "us-east-1").expect("parses");
        let check = auth::verify(&creds, &req, &secret()).expect("seed signature verifies");
        assert_eq!(check.decoded_length(), Some(66_560));
        let PayloadCheck::Chunked(body) = check else {
            panic!("expected a chunked body");
        };
        let encoded = example_body();
        assert_eq!(encoded.len(), 66_824);
        let (data, sizes, error) = run(body, vec![encoded]);
        assert!(error.is_none(), "{error:?}");
        assert_eq!(sizes, vec![65_536, 1024]);
        assert!(data.len() == 66_560 && data.iter().all(|&b| b == b'a'));
    }

    fn small_signed_body() -> (Vec<u8>, String, Vec<u8>) {
        // Builds a small valid body with our own chain, checked against the AWS example
        // by the test above.
        let seed = SEED;
        let mut chain = Chain {
            signing: Box::new(signing(seed)),
            previous: seed.to_owned(),
        };
        let mut body = Vec::new();
        let mut data = Vec::new();
        for chunk in [&b"hello "[..], b"world", b""] {
            let hash = digest::digest(&digest::SHA256, chunk);
            let to_sign = format!(
                "AWS4-HMAC-SHA256-PAYLOAD\n20130524T000000Z\n{SCOPE}\n{}\n{EMPTY_SHA256_HEX}\n{}",
                chain.previous,
                hex_encode(hash.as_ref())
            );
            let sig = hmac::sign(&chain.signing.key, to_sign.as_bytes());
            chain.previous = hex_encode(sig.as_ref());
            body.extend_from_slice(
                format!("{:x};chunk-signature={}\r\n", chunk.len(), chain.previous).as_bytes(),
            );
            body.extend_from_slice(chunk);
            body.extend_from_slice(b"\r\n");
            data.extend_from_slice(chunk);
        }
        (body, seed.to_owned(), data)
    }

    #[test]
    fn every_split_of_the_stream() {
        let (body, seed, expected) = small_signed_body();
        for split in 0..=body.len() {
            let parts = vec![body[..split].to_vec(), body[split..].to_vec()];
            let decoder = ChunkedBody::signed(signing(&seed), false, expected.len() as u64);
            let (data, _, error) = run(decoder, parts);
            assert!(error.is_none(), "split at {split}: {error:?}");
            assert_eq!(data, expected, "split at {split}");
        }
        // One byte at a time.
        let parts = body.iter().map(|&b| vec![b]).collect();
        let decoder = ChunkedBody::signed(signing(&seed), false, expected.len() as u64);
        let (data, sizes, error) = run(decoder, parts);
        assert!(error.is_none(), "{error:?}");
        assert_eq!(data, expected);
        assert_eq!(
            sizes,
            vec![6, 5],
            "signed data comes whole chunk by whole chunk"
        );
    }

    #[test]
    fn bad_chunk_signature_yields_nothing() {
        let (mut body, seed, expected) = small_signed_body();
        // Flip one data byte of the first chunk.
        let at = body.windows(5).position(|w| w == b"hello").expect("data");
        body[at] = b'j';
        let decoder = ChunkedBody::signed(signing(&seed), false, expected.len() as u64);
        let (data, _, error) = run(decoder, vec![body]);
        assert!(data.is_empty());
        assert_eq!(
            error.map(|e| e.code),
            Some(S3ErrorCode::SignatureDoesNotMatch)
        );

        // A wrong seed breaks the chain from the start.
        let (body, _, expected) = small_signed_body();
        let decoder = ChunkedBody::signed(signing(SIG1), false, expected.len() as u64);
        let (data, _, error) = run(decoder, vec![body]);
        assert!(data.is_empty());
        assert_eq!(
            error.map(|e| e.code),
            Some(S3ErrorCode::SignatureDoesNotMatch)
        );
    }

    #[test]
    fn truncated_body() {
        let (body, seed, expected) = small_signed_body();
        for cut in 0..body.len() - 2 {
            let decoder = ChunkedBody::signed(signing(&seed), false, expected.len() as u64);
            let (_, _, error) = run(decoder, vec![body[..cut].to_vec()]);
            let error = error.unwrap_or_else(|| panic!("cut at {cut} accepted"));
            assert_eq!(error.code, S3ErrorCode::IncompleteBody, "cut at {cut}");
        }
        // Only the final CRLF missing: tolerated.
        let decoder = ChunkedBody::signed(signing(&seed), false, expected.len() as u64);
        let (data, _, error) = run(decoder, vec![body[..body.len() - 2].to_vec()]);
        assert!(error.is_none());
        assert_eq!(data, expected);
    }

    #[test]
    fn decoded_length_mismatch() {
        let (body, seed, expected) = small_signed_body();
        for declared in [expected.len() as u64 - 1, expected.len() as u64 + 1, 0] {
            let decoder = ChunkedBody::signed(signing(&seed), false, declared);
            let (_, _, error) = run(decoder, vec![body.clone()]);
            assert_eq!(
                error.map(|e| e.code),
                Some(S3ErrorCode::IncompleteBody),
                "{declared}"
            );
        }
    }

    #[test]
    fn garbage_framing() {
        let (body, seed, expected) = small_signed_body();
        let cases: Vec<Vec<u8>> = vec![
            b"zz;chunk-signature=00\r\n".to_vec(),
            b"6\r\nhello \r\n".to_vec(),
            vec![b'1'; 5000],
            [&body[..], b"extra"].concat(),
            body.iter()
                .map(|&b| if b == b'\r' { b'\n' } else { b })
                .collect(),
        ];
        for case in cases {
            let decoder = ChunkedBody::signed(signing(&seed), false, expected.len() as u64);
            let (data, _, error) = run(decoder, vec![case.clone()]);
            let code = error.map(|e| e.code);
            assert!(
                matches!(
                    code,
                    Some(S3ErrorCode::InvalidRequest | S3ErrorCode::IncompleteBody)
                ),
                "{:?}: {code:?}",
                String::from_utf8_lossy(&case[..case.len().min(40)])
            );
            assert!(data.len() <= expected.len());
        }
        let oversized = format!("1000001;chunk-signature={SIG1}\r\n");
        let decoder = ChunkedBody::signed(signing(&seed), false, 1 << 30);
        let (_, _, error) = run(decoder, vec![oversized.into_bytes()]);
        assert_eq!(error.map(|e| e.code), Some(S3ErrorCode::InvalidRequest));
    }

    #[test]
    fn unsigned_with_trailer() {
        let body = b"6\r\nhello \r\n5\r\nworld\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
        for split in 0..=body.len() {
            let mut decoder = ChunkedBody::unsigned_with_trailer(11);
            decoder
                .declare_trailers(Some("x-amz-checksum-crc32"))
                .expect("declared");
            let trailers = decoder.trailers();
            let (data, _, error) = run(
                decoder,
                vec![body[..split].to_vec(), body[split..].to_vec()],
            );
            assert!(error.is_none(), "split at {split}: {error:?}");
            assert_eq!(data, b"hello world");
            assert_eq!(
                trailers.get("x-amz-checksum-crc32").as_deref(),
                Some("AAAAAA==")
            );
        }
        // No trailers at all is fine too.
        let decoder = ChunkedBody::unsigned_with_trailer(5);
        let (data, _, error) = run(decoder, vec![b"5\r\nworld\r\n0\r\n\r\n".to_vec()]);
        assert!(error.is_none());
        assert_eq!(data, b"world");
    }

    /// A trailer must be announced in x-amz-trailer, and an announced one must come: either
    /// way the body fails at its end, before the store commits anything.
    #[test]
    fn trailers_must_match_their_declaration() {
        let with_crc = b"5\r\nworld\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n".to_vec();
        let without = b"5\r\nworld\r\n0\r\n\r\n".to_vec();
        let cases: [(Option<&str>, &Vec<u8>, bool); 5] = [
            (None, &with_crc, false),
            (Some("x-amz-checksum-sha256"), &with_crc, false),
            (Some("x-amz-checksum-crc32"), &without, false),
            (Some("x-amz-checksum-crc32"), &with_crc, true),
            (Some(" X-Amz-Checksum-CRC32 "), &with_crc, true),
        ];
        for (declared, body, ok) in cases {
            let mut decoder = ChunkedBody::unsigned_with_trailer(5);
            decoder.declare_trailers(declared).expect("declared");
            let (_, _, error) = run(decoder, vec![body.clone()]);
            match error {
                None => assert!(ok, "{declared:?} accepted"),
                Some(e) => {
                    assert!(!ok, "{declared:?}: {e}");
                    assert_eq!(e.code, S3ErrorCode::InvalidRequest, "{declared:?}");
                }
            }
        }
        // Announcing a trailer on a body that cannot carry one.
        let mut plain = ChunkedBody::signed(signing(SEED), false, 5);
        let e = plain
            .declare_trailers(Some("x-amz-checksum-crc32"))
            .unwrap_err();
        assert_eq!(e.code, S3ErrorCode::InvalidRequest);
    }

    fn signed_trailer_body(tamper: bool) -> (Vec<u8>, Vec<u8>) {
        let (body, seed, data) = small_signed_body();
        // Replace the final "\r\n" by trailers and their signature.
        let mut body = body[..body.len() - 2].to_vec();
        let last_sig_at = body.len() - 2 - 64;
        let previous = String::from_utf8(body[last_sig_at..body.len() - 2].to_vec()).expect("hex");
        let trailer = "x-amz-checksum-crc32c:sOO8/Q==\n";
        let hash = digest::digest(&digest::SHA256, trailer.as_bytes());
        let to_sign = format!(
            "AWS4-HMAC-SHA256-TRAILER\n20130524T000000Z\n{SCOPE}\n{previous}\n{}",
            hex_encode(hash.as_ref())
        );
        let key = signing(&seed).key;
        let sig = hex_encode(hmac::sign(&key, to_sign.as_bytes()).as_ref());
        let value = if tamper { "AAAAAA==" } else { "sOO8/Q==" };
        body.extend_from_slice(
            format!("x-amz-checksum-crc32c:{value}\r\nx-amz-trailer-signature:{sig}\r\n\r\n")
                .as_bytes(),
        );
        (body, data)
    }

    #[test]
    fn signed_with_trailer() {
        let (body, expected) = signed_trailer_body(false);
        let declared = |mut decoder: ChunkedBody| {
            decoder
                .declare_trailers(Some("x-amz-checksum-crc32c"))
                .expect("declared");
            decoder
        };
        for split in 0..=body.len() {
            let decoder = declared(ChunkedBody::signed(
                signing(SEED),
                true,
                expected.len() as u64,
            ));
            let trailers = decoder.trailers();
            let (data, _, error) = run(
                decoder,
                vec![body[..split].to_vec(), body[split..].to_vec()],
            );
            assert!(error.is_none(), "split at {split}: {error:?}");
            assert_eq!(data, expected);
            assert_eq!(
                trailers.all(),
                vec![("x-amz-checksum-crc32c".to_owned(), "sOO8/Q==".to_owned())]
            );
        }
        let (body, expected) = signed_trailer_body(true);
        let decoder = declared(ChunkedBody::signed(
            signing(SEED),
            true,
            expected.len() as u64,
        ));
        let trailers = decoder.trailers();
        let (_, _, error) = run(decoder, vec![body]);
        assert_eq!(
            error.map(|e| e.code),
            Some(S3ErrorCode::SignatureDoesNotMatch)
        );
        assert!(trailers.all().is_empty());

        // Trailers without their signature.
        let (body, seed, expected) = small_signed_body();
        let mut body = body[..body.len() - 2].to_vec();
        body.extend_from_slice(b"x-amz-checksum-crc32c:sOO8/Q==\r\n\r\n");
        let decoder = declared(ChunkedBody::signed(
            signing(&seed),
            true,
            expected.len() as u64,
        ));
        let (_, _, error) = run(decoder, vec![body]);
        assert_eq!(
            error.map(|e| e.code),
            Some(S3ErrorCode::SignatureDoesNotMatch)
        );
    }

    #[test]
    fn upstream_errors_pass_through() {
        let (body, seed, expected) = small_signed_body();
        let input: Vec<Result<Bytes, S3Error>> = vec![
            Ok(Bytes::from(body[..10].to_vec())),
            Err(S3Error::new(S3ErrorCode::RequestTimeout, "slow")),
        ];
        let out = ChunkedBody::signed(signing(&seed), false, expected.len() as u64)
            .decode(stream::iter(input).boxed_local())
            .collect::<Vec<_>>()
            .now_or_never()
            .expect("ready");
        assert_eq!(out.len(), 1);
        assert!(matches!(&out[0], Err(e) if e.code == S3ErrorCode::RequestTimeout));
    }
}
