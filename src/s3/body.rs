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
use tokio::sync::{OwnedSemaphorePermit, Semaphore, SemaphorePermit};

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
    /// runs beside the receiving worker instead of in series with it; see [`OffloadedHasher`].
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
        let (done, digest) = tokio::sync::oneshot::channel();
        let hasher = OffloadedHasher::new(state);
        let stream = stream::unfold(
            (self.stream, Some((hasher, done))),
            |(mut inner, hashing)| async move {
                let (mut hasher, done) = hashing?;
                match inner.next().await {
                    Some(Ok(chunk)) => match hasher.queue(chunk.clone()).await {
                        Ok(()) => Some((Ok(chunk), (inner, Some((hasher, done))))),
                        Err(e) => Some((Err(e.into()), (inner, None))),
                    },
                    // Dropping `done` leaves the digest handle without a digest.
                    Some(Err(e)) => Some((Err(e.into()), (inner, None))),
                    None => match hasher.finish().await {
                        Ok(state) => {
                            let _ = done.send(state);
                            None
                        }
                        Err(e) => Some((Err(e.into()), (inner, None))),
                    },
                }
            },
        );
        let handle = DigestHandle {
            hashing: Hashing::Offloaded(digest),
            expected: self.checksum,
        };
        (Box::pin(stream), handle)
    }
}

/// Bodies of at least this size (or of unknown size) are hashed off the worker thread.
const OFFLOAD_MIN: u64 = 1024 * 1024;
/// Bytes a body may always queue for its hashing task (or one chunk, whatever its size).
const HASH_QUEUE_OWN: u32 = 1024 * 1024;
/// Bytes a body may queue while the shared reserve lends it what is beyond its own (a chunk
/// counts for at most this much, so that it can always be queued alone). With
/// 1 MiB, the queue of a lone 1 GiB upload ran dry 46-180 times (the receiving worker shares
/// the other core with the client and the block writes), and each time MD5, which bounds the
/// upload, stopped; with 4 MiB, 1-8 times.
const HASH_QUEUE_MOST: u32 = 4 * 1024 * 1024;
/// What all bodies borrow beyond their own: two at a time get whole 4 MiB queues. A body never
/// waits for the reserve, only for its own queue, which its own hashing empties; so a body
/// whose hashing stopped (its task ended just before a chunk came) holds up no other.
static HASH_QUEUE_RESERVE: Semaphore =
    Semaphore::const_new(2 * (HASH_QUEUE_MOST - HASH_QUEUE_OWN) as usize);

/// A chunk on its way to the hashing task, with its share of the body's queue and what it
/// borrowed from [`HASH_QUEUE_RESERVE`]: both are given back once it is hashed.
type Queued = (
    Bytes,
    OwnedSemaphorePermit,
    Option<SemaphorePermit<'static>>,
);
type Queue = tokio::sync::mpsc::UnboundedReceiver<Queued>;

/// Hashes a large body on the blocking pool beside the worker that receives it. The task
/// hashes what is queued and ends when the queue is empty, to be started again by the next
/// chunk: while bytes keep coming it keeps its thread, and a body that waits, unread (for a
/// share of the store's memory, say), holds none, so waiting uploads cannot use up the pool
/// that the uploads being received need for their own hashing.
struct OffloadedHasher {
    sender: tokio::sync::mpsc::UnboundedSender<Queued>,
    /// [`HASH_QUEUE_MOST`] bytes, taken by the chunks queued.
    budget: Arc<Semaphore>,
    /// The state and the queue, when no task has them.
    idle: Option<(HashState, Queue)>,
    running: Option<tokio::task::JoinHandle<(HashState, Queue)>>,
}

impl OffloadedHasher {
    fn new(state: HashState) -> OffloadedHasher {
        let (sender, queue) = tokio::sync::mpsc::unbounded_channel();
        OffloadedHasher {
            sender,
            budget: Arc::new(Semaphore::new(HASH_QUEUE_MOST as usize)),
            idle: Some((state, queue)),
            running: None,
        }
    }

    async fn queue(&mut self, chunk: Bytes) -> Result<(), S3Error> {
        let bytes = u32::try_from(chunk.len()).map_or(HASH_QUEUE_MOST, |n| n.min(HASH_QUEUE_MOST));
        let share = match self.budget.clone().try_acquire_many_owned(bytes) {
            Ok(share) => share,
            Err(_) => self.wait_for_queue(bytes).await?,
        };
        let own = HASH_QUEUE_OWN.max(bytes);
        let queued = HASH_QUEUE_MOST.saturating_sub(self.queue_room());
        let beyond_own = queued.saturating_sub(own).min(bytes);
        let mut borrowed = None;
        if beyond_own > 0 {
            match HASH_QUEUE_RESERVE.try_acquire_many(beyond_own) {
                Ok(lent) => borrowed = Some(lent),
                // Nothing to borrow: wait until the queue, this chunk included, is within
                // the body's own share.
                Err(_) => drop(self.wait_for_queue(HASH_QUEUE_MOST - own).await?),
            }
        }
        self.sender
            .send((chunk, share, borrowed))
            .map_err(|_| S3Error::internal("the body hashing queue closed"))?;
        self.restart_if_ended().await
    }

    fn queue_room(&self) -> u32 {
        u32::try_from(self.budget.available_permits()).unwrap_or(HASH_QUEUE_MOST)
    }

    /// Waits until `bytes` of this body's queue are free, as its task hashes what is queued.
    /// The task may end without seeing what was queued last: then it is started again.
    async fn wait_for_queue(&mut self, bytes: u32) -> Result<OwnedSemaphorePermit, S3Error> {
        let acquire = self.budget.clone().acquire_many_owned(bytes);
        let mut acquire = std::pin::pin!(acquire);
        loop {
            self.restart_if_ended().await?;
            let Some(task) = self.running.as_mut() else {
                // Nothing is queued, so all the room but what the caller holds is free.
                return acquire.await.map_err(S3Error::internal);
            };
            tokio::select! {
                permit = &mut acquire => return permit.map_err(S3Error::internal),
                ended = task => {
                    self.running = None;
                    self.idle = Some(ended.map_err(S3Error::internal)?);
                }
            }
        }
    }

    /// Starts a task over the queue unless one runs or nothing is queued; one that has ended is
    /// taken back first.
    async fn restart_if_ended(&mut self) -> Result<(), S3Error> {
        if self.running.as_ref().is_some_and(|task| task.is_finished()) {
            self.take_back().await?;
        }
        if self
            .idle
            .as_ref()
            .is_some_and(|(_, queue)| queue.is_empty())
        {
            return Ok(());
        }
        if let Some((mut state, mut queue)) = self.idle.take() {
            self.running = Some(tokio::task::spawn_blocking(move || {
                // The shares go with the hashed chunk: its bytes may be queued again.
                while let Ok((chunk, _share, _borrowed)) = queue.try_recv() {
                    state.update(&chunk);
                }
                (state, queue)
            }));
        }
        Ok(())
    }

    async fn take_back(&mut self) -> Result<(), S3Error> {
        if let Some(task) = self.running.take() {
            self.idle = Some(task.await.map_err(S3Error::internal)?);
        }
        Ok(())
    }

    /// The digests, once every queued chunk is hashed.
    async fn finish(mut self) -> Result<HashState, S3Error> {
        loop {
            self.take_back().await?;
            match self.idle.as_ref() {
                Some((_, queue)) if !queue.is_empty() => self.restart_if_ended().await?,
                _ => break,
            }
        }
        let Some((mut state, _)) = self.idle.take() else {
            return Err(S3Error::internal("the body hasher has no state"));
        };
        state.finish();
        Ok(state)
    }
}

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
    /// The state at the end of the body; the sender is dropped if the body is not read to it.
    Offloaded(tokio::sync::oneshot::Receiver<HashState>),
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
            Hashing::Offloaded(done) => match done.await {
                Ok(state) => (state.digest, state.length, state.computed_checksum),
                Err(_) => (None, 0, None),
            },
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
        let chunk = Bytes::from(vec![7u8; HASH_QUEUE_MOST as usize * 3 / 2]);
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

    fn unsized_body(chunks: Vec<Bytes>) -> RequestBody {
        RequestBody {
            stream: stream::iter(chunks.into_iter().map(Ok)).boxed_local(),
            length: None,
            checksum: None,
            content_md5: None,
        }
    }

    /// Chunks of many sizes, each its own bytes, hashed in order whatever the task's restarts.
    #[actix_web::test]
    async fn chunks_of_every_size_are_hashed_in_order() {
        let sizes = [
            1, 70_000, 300_000, 2_000_000, 5, 600_000, 1_048_576, 16_384, 3,
        ];
        let chunks: Vec<Bytes> = (0u8..)
            .zip(sizes.iter().cycle().take(40))
            .map(|(seed, &size)| {
                Bytes::from((0..size).map(|i| (i as u8) ^ seed).collect::<Vec<_>>())
            })
            .collect();
        let whole: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        let (mut stream, digest) = unsized_body(chunks).into_hashed();
        while stream.next().await.is_some() {}
        let done = digest.finish().await.unwrap();
        assert_eq!(done.md5, Md5::digest(&whole));
        assert_eq!(done.length, whole.len() as u64);
    }

    /// A body that waits, unread, holds no blocking thread: another body is hashed to its end
    /// with a pool of one thread.
    #[test]
    fn a_waiting_body_holds_no_blocking_thread() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .max_blocking_threads(1)
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            let batch = Bytes::from(vec![1u8; HASH_QUEUE_OWN as usize]);
            let (mut waiting, _) = unsized_body(vec![batch.clone(), batch]).into_hashed();
            assert!(waiting.next().await.is_some());
            let other = Bytes::from(vec![2u8; 4 * HASH_QUEUE_OWN as usize]);
            let done = digest_in_time(
                vec![other.clone()],
                "the second body waited for the first one's thread",
            )
            .await;
            assert_eq!(done.md5, Md5::digest(&other));
        });
    }

    /// With the whole reserve borrowed by others, a body is hashed to its end in its own queue.
    #[actix_web::test]
    async fn a_body_never_waits_for_the_reserve() {
        let _taken = HASH_QUEUE_RESERVE
            .acquire_many(2 * (HASH_QUEUE_MOST - HASH_QUEUE_OWN))
            .await
            .unwrap();
        let mib = HASH_QUEUE_OWN as usize;
        let sizes = [
            mib,
            mib,
            5 * mib / 2,
            6 * mib,
            300_000,
            mib,
            4 * mib,
            mib / 2,
            mib,
        ];
        let chunks: Vec<Bytes> = (0u8..)
            .zip(sizes)
            .map(|(seed, size)| Bytes::from(vec![seed; size]))
            .collect();
        let whole: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        let done = digest_in_time(chunks, "the body waited for the reserve").await;
        assert_eq!(done.md5, Md5::digest(&whole));
    }

    /// Reads a body to its end and gives its digests; fails with `waited` after 30 s.
    async fn digest_in_time(chunks: Vec<Bytes>, waited: &str) -> BodyDigest {
        let (mut stream, digest) = unsized_body(chunks).into_hashed();
        let received = async move {
            while stream.next().await.is_some() {}
            digest.finish().await
        };
        tokio::time::timeout(std::time::Duration::from_secs(30), received)
            .await
            .expect(waited)
            .unwrap()
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
