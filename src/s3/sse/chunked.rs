//! The sealed format of an encrypted object body: AES-256-GCM over 64 KiB chunks, so a range
//! read decrypts only the chunks it touches.
//!
//! ```text
//! part   = chunk*                        (an empty part has no chunk)
//! chunk  = nonce (12 random bytes) | ciphertext (1..=CHUNK bytes) | tag (16)
//! AAD    = part number (u32 BE) | chunk index within the part (u64 BE)
//! ```
//!
//! The AAD pins every chunk to its place: a chunk swapped with another, moved to another part
//! or dropped from the end fails authentication (the reader knows every part's plain size from
//! the object's metadata, so a missing last chunk is noticed too). A single PUT is part 0; a
//! multipart upload's part n is part n.
//!
//! Each object (or multipart upload) has its own key, HKDF-SHA256 of a 32-byte base key and a
//! random salt stored with the object, so random nonces are drawn under one object's key only:
//! a 5 TiB object is 2^26 chunks, far below the 2^32 messages NIST SP 800-38D 8.3 allows one
//! key with random 96-bit nonces.

use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, StreamExt};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};

use crate::store::{BodyError, BodyStream, ByteRange, DataStream, StoreError};

/// Plain bytes per chunk; the last chunk of a part may be shorter.
pub const CHUNK: u64 = 64 * 1024;
/// Sealed bytes added to each chunk: the nonce and the tag.
pub const OVERHEAD: u64 = NONCE_LEN as u64 + TAG_LEN as u64;
/// Sealed bytes of a full chunk.
const SEALED_CHUNK: u64 = CHUNK + OVERHEAD;
const TAG_LEN: usize = 16;
/// HKDF info of an object key: a new version of the format gets a new label.
const OBJECT_KEY_INFO: &[u8] = b"libres3 sse object key v1";

/// Sealed size of `plain` bytes of one part.
pub fn sealed_size(plain: u64) -> u64 {
    plain.saturating_add(plain.div_ceil(CHUNK).saturating_mul(OVERHEAD))
}

/// Plain size of one part from its sealed size; None when no plain size seals to it (a last
/// chunk of OVERHEAD bytes or fewer).
pub fn plain_size(sealed: u64) -> Option<u64> {
    let full = sealed / SEALED_CHUNK;
    match sealed % SEALED_CHUNK {
        0 => Some(full * CHUNK),
        rest if rest > OVERHEAD => Some(full * CHUNK + rest - OVERHEAD),
        _ => None,
    }
}

/// The AES-256-GCM key of one object or multipart upload. Debug never shows it.
pub struct ObjectKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ObjectKey(..)")
    }
}

impl ObjectKey {
    /// HKDF-SHA256 (salt = `salt`, input = `base`, info = "libres3 sse object key v1").
    pub fn derive(base: &[u8; 32], salt: &[u8]) -> ObjectKey {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(base);
        let okm = prk
            .expand(&[OBJECT_KEY_INFO], &AES_256_GCM)
            .expect("32 bytes is within HKDF-SHA256's output limit");
        ObjectKey {
            key: LessSafeKey::new(UnboundKey::from(okm)),
        }
    }
}

/// The associated data of chunk `index` of part `part`.
fn chunk_aad(part: u32, index: u64) -> [u8; 12] {
    let mut aad = [0u8; 12];
    aad[..4].copy_from_slice(&part.to_be_bytes());
    aad[4..].copy_from_slice(&index.to_be_bytes());
    aad
}

/// Seals a body stream as part `part`: re-chunks whatever piece sizes the input comes in.
/// Memory: at most about one chunk buffered (besides the input piece being cut). Errors of the
/// input pass through and end the stream.
pub fn seal(key: Rc<ObjectKey>, part: u32, body: BodyStream) -> BodyStream {
    let sealer = Sealer {
        key,
        part,
        index: 0,
        input: Some(body),
        pending: Bytes::new(),
        chunk: BytesMut::new(),
        rng: SystemRandom::new(),
        failed: false,
    };
    stream::unfold(sealer, |mut sealer| async move {
        if sealer.failed {
            return None;
        }
        let item = sealer.next_chunk().await?;
        sealer.failed = item.is_err();
        Some((item, sealer))
    })
    .boxed_local()
}

struct Sealer {
    key: Rc<ObjectKey>,
    part: u32,
    index: u64,
    /// None once the input ended or failed.
    input: Option<BodyStream>,
    /// The rest of the input piece last received.
    pending: Bytes,
    /// Plain bytes of the chunk being filled.
    chunk: BytesMut,
    rng: SystemRandom,
    /// Set after an error: the stream ends there.
    failed: bool,
}

impl Sealer {
    async fn next_chunk(&mut self) -> Option<Result<Bytes, BodyError>> {
        let chunk = CHUNK as usize;
        loop {
            // A whole chunk in the input piece is sealed from it directly, without a copy.
            if self.chunk.is_empty() && self.pending.len() >= chunk {
                let plain = self.pending.split_to(chunk);
                return Some(self.seal_chunk(&plain));
            }
            let take = (chunk - self.chunk.len()).min(self.pending.len());
            self.chunk.extend_from_slice(&self.pending.split_to(take));
            if self.chunk.len() == chunk {
                return Some(self.seal_buffered());
            }
            // The input ended (or never began) and the last chunk went out.
            let input = self.input.as_mut()?;
            match input.next().await {
                Some(Ok(piece)) => self.pending = piece,
                Some(Err(e)) => return Some(Err(e)),
                None => {
                    self.input = None;
                    if self.chunk.is_empty() {
                        return None;
                    }
                    return Some(self.seal_buffered());
                }
            }
        }
    }

    /// Seals the buffered chunk, keeping the buffer's allocation for the next one.
    fn seal_buffered(&mut self) -> Result<Bytes, BodyError> {
        let plain = std::mem::take(&mut self.chunk);
        let sealed = self.seal_chunk(&plain);
        self.chunk = plain;
        self.chunk.clear();
        sealed
    }

    /// Seals one chunk: nonce | ciphertext | tag.
    fn seal_chunk(&mut self, plain: &[u8]) -> Result<Bytes, BodyError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| BodyError(Box::from("sse: the system random generator failed")))?;
        let mut out = Vec::with_capacity(plain.len() + OVERHEAD as usize);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let tag = self
            .key
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(chunk_aad(self.part, self.index)),
                &mut out[NONCE_LEN..],
            )
            .map_err(|_| BodyError(Box::from("sse: AES-GCM refused to seal a chunk")))?;
        out.extend_from_slice(tag.as_ref());
        self.index += 1;
        Ok(Bytes::from(out))
    }
}

/// One part of an object as sealed, with its offsets in the object.
#[derive(Clone, Debug)]
struct Part {
    /// The part number used in the AAD.
    number: u32,
    plain_size: u64,
    plain_start: u64,
    sealed_start: u64,
}

/// The parts of an object as sealed: (part number used in the AAD, plain size), in object
/// order. A simple object is `[(0, size)]`.
#[derive(Clone, Debug)]
pub struct SealedLayout {
    parts: Vec<Part>,
    plain_size: u64,
    sealed_size: u64,
}

/// A chunk to open: where it is and which of its plain bytes are wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ChunkRef {
    /// Index into `SealedLayout::parts`.
    part: usize,
    index: u64,
}

impl SealedLayout {
    pub fn new(parts: Vec<(u32, u64)>) -> SealedLayout {
        let mut plain_at = 0u64;
        let mut sealed_at = 0u64;
        let parts = parts
            .into_iter()
            .map(|(number, plain_size)| {
                let part = Part {
                    number,
                    plain_size,
                    plain_start: plain_at,
                    sealed_start: sealed_at,
                };
                plain_at = plain_at.saturating_add(plain_size);
                sealed_at = sealed_at.saturating_add(sealed_size(plain_size));
                part
            })
            .collect();
        SealedLayout {
            parts,
            plain_size: plain_at,
            sealed_size: sealed_at,
        }
    }

    pub fn plain_size(&self) -> u64 {
        self.plain_size
    }

    pub fn sealed_size(&self) -> u64 {
        self.sealed_size
    }

    /// The sealed bytes to read for the plain range (None = whole object): whole chunks only.
    /// None when there is nothing to read: the object is empty, or the range does not fit in
    /// it (callers validate ranges against the plain size first).
    pub fn sealed_range(&self, plain: Option<ByteRange>) -> Option<ByteRange> {
        let (first, last) = self.chunk_span(plain)?;
        Some(ByteRange {
            first: self.chunk_sealed_start(first),
            last: self.chunk_sealed_start(last) + self.chunk_plain_len(last) + OVERHEAD - 1,
        })
    }

    /// The plain range asked for, checked: None for an empty object or a range outside it.
    fn plain_range(&self, plain: Option<ByteRange>) -> Option<ByteRange> {
        let range = match plain {
            Some(range) => range,
            None if self.plain_size == 0 => return None,
            None => ByteRange {
                first: 0,
                last: self.plain_size - 1,
            },
        };
        (range.first <= range.last && range.last < self.plain_size).then_some(range)
    }

    /// The first and last chunks holding the plain range.
    fn chunk_span(&self, plain: Option<ByteRange>) -> Option<(ChunkRef, ChunkRef)> {
        let range = self.plain_range(plain)?;
        Some((self.chunk_at(range.first)?, self.chunk_at(range.last)?))
    }

    /// The chunk holding plain byte `offset` (< plain_size).
    fn chunk_at(&self, offset: u64) -> Option<ChunkRef> {
        // The last part starting at or before `offset` that is not empty holds it.
        let after = self.parts.partition_point(|p| p.plain_start <= offset);
        let part = (0..after).rev().find(|&i| {
            self.parts[i].plain_size > 0
                && offset - self.parts[i].plain_start < self.parts[i].plain_size
        })?;
        Some(ChunkRef {
            part,
            index: (offset - self.parts[part].plain_start) / CHUNK,
        })
    }

    fn chunk_plain_start(&self, chunk: ChunkRef) -> u64 {
        self.parts[chunk.part].plain_start + chunk.index * CHUNK
    }

    fn chunk_sealed_start(&self, chunk: ChunkRef) -> u64 {
        self.parts[chunk.part].sealed_start + chunk.index * SEALED_CHUNK
    }

    fn chunk_plain_len(&self, chunk: ChunkRef) -> u64 {
        (self.parts[chunk.part].plain_size - chunk.index * CHUNK).min(CHUNK)
    }

    /// The chunk after `chunk`, skipping empty parts.
    fn next_chunk(&self, chunk: ChunkRef) -> Option<ChunkRef> {
        if (chunk.index + 1) * CHUNK < self.parts[chunk.part].plain_size {
            return Some(ChunkRef {
                part: chunk.part,
                index: chunk.index + 1,
            });
        }
        let part = (chunk.part + 1..self.parts.len()).find(|&i| self.parts[i].plain_size > 0)?;
        Some(ChunkRef { part, index: 0 })
    }

    /// Opens `sealed` (exactly the bytes of `sealed_range(plain)`) and yields exactly the plain
    /// bytes of `plain`. A chunk that fails authentication, or a stream that ends early or runs
    /// long, yields StoreError::Internal("... failed authentication ...") and nothing of that
    /// chunk; errors of `sealed` pass through. Either ends the stream. Memory: about one chunk
    /// (besides the input piece being cut).
    pub fn open(
        &self,
        key: Rc<ObjectKey>,
        plain: Option<ByteRange>,
        sealed: DataStream,
    ) -> DataStream {
        let range = self.plain_range(plain);
        let span = self.chunk_span(plain);
        if plain.is_some() && range.is_none() {
            return stream::once(async {
                Err(StoreError::Internal(
                    "sse: a range outside the object was asked of an encrypted object".into(),
                ))
            })
            .boxed_local();
        }
        let opener = Opener {
            layout: self.clone(),
            key,
            range: range.unwrap_or(ByteRange { first: 0, last: 0 }),
            next: span.map(|(first, _)| first),
            last: span.map(|(_, last)| last),
            input: Some(sealed),
            pending: Bytes::new(),
        };
        stream::unfold(opener, |mut opener| async move {
            let item = opener.next_piece().await?;
            Some((item, opener))
        })
        .boxed_local()
    }
}

struct Opener {
    layout: SealedLayout,
    key: Rc<ObjectKey>,
    /// The plain bytes to yield (meaningless when there is no chunk to open).
    range: ByteRange,
    /// The next chunk to open; None once the last one was yielded.
    next: Option<ChunkRef>,
    last: Option<ChunkRef>,
    /// None once the input ended or the stream failed.
    input: Option<DataStream>,
    pending: Bytes,
}

fn auth_failure(why: &str) -> StoreError {
    StoreError::Internal(format!(
        "sse: an encrypted chunk failed authentication ({why}): the stored object is damaged \
         or was written under another key"
    ))
}

impl Opener {
    async fn next_piece(&mut self) -> Option<Result<Bytes, StoreError>> {
        self.input.as_ref()?;
        let result = self.open_next().await;
        if !matches!(result, Some(Ok(_))) {
            self.input = None;
        }
        result
    }

    async fn open_next(&mut self) -> Option<Result<Bytes, StoreError>> {
        let Some(chunk) = self.next else {
            // Nothing (more) to open: the input must be exhausted too.
            return self.expect_end().await.err().map(Err);
        };
        let plain_len = self.layout.chunk_plain_len(chunk);
        let sealed_len = (plain_len + OVERHEAD) as usize;
        let mut sealed = match self.read_exactly(sealed_len).await {
            Ok(bytes) => bytes,
            Err(e) => return Some(Err(e)),
        };
        let is_last = Some(chunk) == self.last;
        if is_last {
            // Bytes past the last chunk fail the whole read before its plaintext goes out.
            if let Err(e) = self.expect_end().await {
                return Some(Err(e));
            }
        }
        let part = &self.layout.parts[chunk.part];
        let aad = chunk_aad(part.number, chunk.index);
        let (nonce, body) = sealed.split_at_mut(NONCE_LEN);
        let nonce = match Nonce::try_assume_unique_for_key(nonce) {
            Ok(nonce) => nonce,
            Err(_) => return Some(Err(auth_failure("bad nonce"))),
        };
        if self
            .key
            .key
            .open_in_place(nonce, Aad::from(aad), body)
            .is_err()
        {
            return Some(Err(auth_failure("tag mismatch")));
        }
        // The wanted plain bytes of this chunk, as offsets within its plaintext.
        let chunk_start = self.layout.chunk_plain_start(chunk);
        let from = self.range.first.saturating_sub(chunk_start);
        let to = (self.range.last - chunk_start).min(plain_len - 1) + 1;
        self.next = if is_last {
            None
        } else {
            self.layout.next_chunk(chunk)
        };
        let sealed = sealed.freeze();
        Some(Ok(
            sealed.slice(NONCE_LEN + from as usize..NONCE_LEN + to as usize)
        ))
    }

    /// The next `len` bytes of the input.
    async fn read_exactly(&mut self, len: usize) -> Result<BytesMut, StoreError> {
        let mut out = BytesMut::with_capacity(len);
        loop {
            let take = (len - out.len()).min(self.pending.len());
            out.extend_from_slice(&self.pending.split_to(take));
            if out.len() == len {
                return Ok(out);
            }
            let input = self
                .input
                .as_mut()
                .ok_or_else(|| auth_failure("ended early"))?;
            match input.next().await {
                Some(Ok(piece)) => self.pending = piece,
                Some(Err(e)) => return Err(e),
                None => {
                    self.input = None;
                    return Err(auth_failure("the stored data ends early"));
                }
            }
        }
    }

    /// Succeeds when the input has no byte left.
    async fn expect_end(&mut self) -> Result<(), StoreError> {
        loop {
            if !self.pending.is_empty() {
                return Err(auth_failure("the stored data runs long"));
            }
            let Some(input) = self.input.as_mut() else {
                return Ok(());
            };
            match input.next().await {
                Some(Ok(piece)) => self.pending = piece,
                Some(Err(e)) => return Err(e),
                None => {
                    // Never poll a finished stream again.
                    self.input = None;
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "chunked_tests.rs"]
mod tests;
