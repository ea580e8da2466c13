//! Request bodies: capped reads of XML documents, and the MD5 every stored byte passes through.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::md5_digest::Md5;
use base64::Engine;
use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, LocalBoxStream, Stream, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::s3::checksum::{Algorithm, Expected, Hasher};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::store::{BodyError, BodyStream};

/// The largest XML request body we read (DeleteObjects with 1000 long keys fits).
pub const MAX_XML_BODY: usize = 2 * 1024 * 1024;

/// A request body after signature checks: chunk signatures and the declared SHA-256 are
/// verified by the stream itself.
pub struct RequestBody {
    pub stream: LocalBoxStream<'static, Result<Bytes, S3Error>>,
    /// The length of the (decoded) body, when the request says it.
    pub length: Option<u64>,
    /// The flexible checksum (`x-amz-checksum-*`) the client sent, to verify at the end.
    pub checksum: Option<Expected>,
    /// The Content-MD5 the client sent, decoded: [`RequestBody::read_capped`] checks it;
    /// object data is checked by its handler, which hashes it on the way to the store.
    pub content_md5: Option<[u8; 16]>,
}

/// The Content-MD5 header decoded, if sent; InvalidDigest when it is not 16 bytes of base64.
pub fn parse_content_md5(value: Option<&str>) -> Result<Option<[u8; 16]>, S3Error> {
    let Some(value) = value else {
        return Ok(None);
    };
    let invalid = || {
        S3Error::new(
            S3ErrorCode::InvalidDigest,
            "The Content-MD5 you specified is not valid.",
        )
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| invalid())?;
    bytes.try_into().map(Some).map_err(|_| invalid())
}

impl RequestBody {
    /// An object uploaded in one request without a checksum gets S3's default one, CRC64NVME,
    /// computed as it is received (PutObject: "if it was uploaded without a checksum (and
    /// Amazon S3 added the default checksum, CRC64NVME, to the uploaded object)").
    pub fn with_default_checksum(mut self) -> RequestBody {
        if self.checksum.is_none() {
            self.checksum = Some(Expected::computed(Algorithm::Crc64Nvme));
        }
        self
    }

    /// Reads the whole body, refusing more than `cap` bytes.
    pub async fn read_capped(mut self, cap: usize) -> Result<Bytes, S3Error> {
        if self.length.is_some_and(|len| len > cap as u64) {
            return Err(too_long(cap));
        }
        let mut buf = BytesMut::new();
        while let Some(chunk) = self.stream.next().await {
            let chunk = chunk?;
            if buf.len() + chunk.len() > cap {
                return Err(too_long(cap));
            }
            buf.extend_from_slice(&chunk);
        }
        if let Some(expected) = &self.checksum {
            let mut hasher = expected.algorithm.hasher();
            hasher.update(&buf);
            expected.verify(&hasher.finish())?;
        }
        if let Some(expected) = self.content_md5 {
            if Md5::digest(&buf) != expected {
                return Err(S3Error::new(
                    S3ErrorCode::BadDigest,
                    "The Content-MD5 you specified did not match what we received.",
                ));
            }
        }
        Ok(buf.freeze())
    }

    /// The body as the store consumes it, hashed with MD5 (and the flexible checksum) on the
    /// way. Large bodies are hashed on a blocking thread fed with the chunks (no copy), so MD5
    /// runs beside the receiving worker instead of in series with it.
    pub fn into_hashed(self) -> (BodyStream, DigestHandle) {
        let state = HashState {
            md5: Some(Md5::new()),
            checksum: self.checksum.as_ref().map(|e| e.algorithm.hasher()),
            length: 0,
            digest: None,
            computed_checksum: None,
        };
        if self.length.is_some_and(|len| len < OFFLOAD_MIN) {
            let state = Rc::new(RefCell::new(state));
            let stream = HashingStream {
                inner: self.stream,
                state: state.clone(),
            };
            let handle = DigestHandle {
                hashing: Hashing::Inline(state),
                expected: self.checksum,
            };
            return (Box::pin(stream), handle);
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Option<Queued>>(HASH_QUEUE);
        let task = tokio::task::spawn_blocking(move || {
            let mut state = state;
            while let Some(item) = rx.blocking_recv() {
                match item {
                    // The permit goes with the hashed chunk: its bytes may be queued again.
                    Some((chunk, _permit)) => state.update(&chunk),
                    None => {
                        state.finish();
                        break;
                    }
                }
            }
            state
        });
        let budget = Arc::new(Semaphore::new(HASH_QUEUE_BYTES as usize));
        let stream = stream::unfold((self.stream, Some(tx)), move |(mut inner, tx)| {
            let budget = budget.clone();
            async move {
                let tx = tx?;
                match inner.next().await {
                    Some(Ok(chunk)) => {
                        let bytes = u32::try_from(chunk.len())
                            .map_or(HASH_QUEUE_BYTES, |n| n.min(HASH_QUEUE_BYTES));
                        let queued = match budget.acquire_many_owned(bytes).await {
                            Ok(permit) => tx.send(Some((chunk.clone(), permit))).await.is_ok(),
                            Err(_) => false,
                        };
                        if !queued {
                            let e = S3Error::internal("the body hashing task stopped");
                            return Some((Err(e.into()), (inner, None)));
                        }
                        Some((Ok(chunk), (inner, Some(tx))))
                    }
                    // Dropping the sender ends the hashing task without a digest.
                    Some(Err(e)) => Some((Err(e.into()), (inner, None))),
                    None => {
                        let _ = tx.send(None).await;
                        None
                    }
                }
            }
        });
        let handle = DigestHandle {
            hashing: Hashing::Offloaded(task),
            expected: self.checksum,
        };
        (Box::pin(stream), handle)
    }
}

/// Bodies of at least this size (or of unknown size) are hashed off the worker thread.
const OFFLOAD_MIN: u64 = 1024 * 1024;
/// Chunks queued for the hashing thread.
const HASH_QUEUE: usize = 64;
/// Bytes queued for one body's hashing thread: what a hasher that falls behind (16 uploads
/// share two cores) holds of the body, whatever the chunk size. 64 chunks held up to 4 MiB
/// per upload. MD5 hashes 1 MiB in about 1.5 ms, so one stream never waits on this.
const HASH_QUEUE_BYTES: u32 = 1024 * 1024;

/// A chunk on its way to the hashing thread, with its share of [`HASH_QUEUE_BYTES`].
type Queued = (Bytes, OwnedSemaphorePermit);

fn too_long(cap: usize) -> S3Error {
    S3Error::new(
        S3ErrorCode::MaxMessageLengthExceeded,
        format!("Your request body is too large: at most {cap} bytes are accepted here."),
    )
}

struct HashState {
    md5: Option<Md5>,
    checksum: Option<Hasher>,
    length: u64,
    digest: Option<[u8; 16]>,
    computed_checksum: Option<Vec<u8>>,
}

impl HashState {
    fn update(&mut self, chunk: &[u8]) {
        if let Some(md5) = self.md5.as_mut() {
            md5.update(chunk);
        }
        if let Some(hasher) = self.checksum.as_mut() {
            hasher.update(chunk);
        }
        self.length += chunk.len() as u64;
    }

    /// Called at the end of the body: the digests become available.
    fn finish(&mut self) {
        if let Some(md5) = self.md5.take() {
            self.digest = Some(md5.finalize());
        }
        if let Some(hasher) = self.checksum.take() {
            self.computed_checksum = Some(hasher.finish());
        }
    }
}

struct HashingStream {
    inner: LocalBoxStream<'static, Result<Bytes, S3Error>>,
    state: Rc<RefCell<HashState>>,
}

impl Stream for HashingStream {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.state.borrow_mut().update(&chunk);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => {
                self.state.borrow_mut().finish();
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// What a hashed body turned out to be, once the store has read it to the end.
pub struct BodyDigest {
    pub md5: [u8; 16],
    pub length: u64,
    /// The verified flexible checksum: (response header, base64 value).
    pub checksum: Option<(&'static str, String)>,
}

enum Hashing {
    Inline(Rc<RefCell<HashState>>),
    Offloaded(tokio::task::JoinHandle<HashState>),
}

/// Gives the digests of a hashed body once the store has read it to the end.
pub struct DigestHandle {
    hashing: Hashing,
    expected: Option<Expected>,
}

impl DigestHandle {
    /// The digests; BadDigest when the client's flexible checksum does not match.
    pub async fn finish(self) -> Result<BodyDigest, S3Error> {
        let (digest, length, computed) = match self.hashing {
            Hashing::Inline(state) => {
                let state = state.borrow();
                (state.digest, state.length, state.computed_checksum.clone())
            }
            Hashing::Offloaded(task) => {
                let state = task.await.map_err(S3Error::internal)?;
                (state.digest, state.length, state.computed_checksum)
            }
        };
        let Some(md5) = digest else {
            return Err(S3Error::internal(
                "the store did not read the body to its end",
            ));
        };
        let checksum = match (&self.expected, &computed) {
            (Some(expected), Some(computed)) => {
                Some((expected.algorithm.header(), expected.verify(computed)?))
            }
            _ => None,
        };
        Ok(BodyDigest {
            md5,
            length,
            checksum,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::hex;
    use futures_util::stream;

    #[actix_web::test]
    async fn md5_of_a_split_body() {
        // Unknown length: hashed off the worker thread; 11 bytes: hashed inline.
        for length in [None, Some(11)] {
            let chunks: Vec<Result<Bytes, S3Error>> = vec![
                Ok(Bytes::from_static(b"hello ")),
                Ok(Bytes::from_static(b"world")),
            ];
            let body = RequestBody {
                stream: stream::iter(chunks).boxed_local(),
                length,
                checksum: None,
                content_md5: None,
            };
            let (mut stream, digest) = body.into_hashed();
            while stream.next().await.is_some() {}
            let done = digest.finish().await.unwrap();
            assert_eq!(hex(&done.md5), "5eb63bbbe01eeed093cb22bb8f5acdc3");
            assert_eq!(done.length, 11);
        }
    }

    /// Chunks larger than the hashing queue's byte budget take all of it, one at a time.
    #[actix_web::test]
    async fn chunks_beyond_the_hash_queue_budget() {
        let chunk = Bytes::from(vec![7u8; HASH_QUEUE_BYTES as usize * 3 / 2]);
        let chunks: Vec<Result<Bytes, S3Error>> = (0..5).map(|_| Ok(chunk.clone())).collect();
        let body = RequestBody {
            stream: stream::iter(chunks).boxed_local(),
            length: None,
            checksum: None,
            content_md5: None,
        };
        let (mut stream, digest) = body.into_hashed();
        let mut whole = Vec::new();
        while let Some(chunk) = stream.next().await {
            whole.extend_from_slice(&chunk.unwrap());
        }
        let done = digest.finish().await.unwrap();
        assert_eq!(done.md5, Md5::digest(&whole));
        assert_eq!(done.length, whole.len() as u64);
    }

    #[actix_web::test]
    async fn no_digest_before_the_end() {
        for length in [None, Some(11)] {
            let chunks: Vec<Result<Bytes, S3Error>> = vec![Ok(Bytes::from_static(b"hello "))];
            let body = RequestBody {
                stream: stream::iter(chunks).boxed_local(),
                length,
                checksum: None,
                content_md5: None,
            };
            let (mut stream, digest) = body.into_hashed();
            assert!(stream.next().await.is_some());
            drop(stream);
            assert!(digest.finish().await.is_err(), "length {length:?}");
        }
    }

    #[actix_web::test]
    async fn capped_read() {
        let chunks: Vec<Result<Bytes, S3Error>> = vec![Ok(Bytes::from_static(b"0123456789"))];
        let body = RequestBody {
            stream: stream::iter(chunks).boxed_local(),
            length: None,
            checksum: None,
            content_md5: None,
        };
        let e = body.read_capped(5).await.unwrap_err();
        assert_eq!(e.code, S3ErrorCode::MaxMessageLengthExceeded);
    }
}
