//! Staged bodies ([`SxStaged`]): small ones held in memory, larger ones uploaded as a hidden
//! file under `.libres3/tmp/` that is removed when the staged body is dropped.

use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, StreamExt};
use tokio::sync::OwnedSemaphorePermit;

use super::cluster::{random_hex, Cluster, Vol};
use super::mapping::{block_size, SxPath, TMP_DIR};
use super::upload::{body_error, Segment, PART_BYTES};
use crate::store::{BodyError, BodyStream, Staged, StoreError};

/// Bodies up to this size are staged in memory (see [`SxStaged`]): no more than an upload
/// holds anyway while it waits for SX to say which blocks it lacks, and room for what
/// encryption adds (28 bytes per 64 KiB: an 8 MiB part sealed by SSE is 3.5 KiB longer), so
/// that clients' usual 8 MiB parts are held when encrypted too.
pub(super) const HELD_BYTES: u64 = PART_BYTES + PART_BYTES / 1024;

/// Bytes of request data SX writes hold in memory at once, all requests together: bodies
/// staged in memory, and the window of every body streamed into a file (see
/// [`streamed_window`]). Sixteen parallel part uploads of 8 MiB each took the gateway to
/// 152-154 MiB without it, 89-90 MiB with it; sixteen of 8 MiB encrypted by SSE-S3, each
/// streamed, to 202 MiB when only held bodies counted. A body beyond it waits, unread (TCP
/// slows its client), until another is done; its share is taken whole before reading, and
/// no request holds a share while it waits for another, so shares cannot deadlock.
pub(super) const HELD_BUDGET: usize = 64 << 20;

/// What a body streamed into a file of `size` bytes holds in memory at most: one round of
/// blocks announced to SX together ([`PART_BYTES`]) and the block being filled.
pub(super) fn streamed_window(size: u64) -> u64 {
    PART_BYTES.saturating_add(block_size(size))
}

/// A staged body: held in memory when small, else the hidden file `path`, deleted on drop.
pub struct SxStaged {
    /// The cluster the body was staged on, which its commit must use.
    pub(super) cluster: Cluster,
    /// Set while the hidden file exists.
    vol: Option<Vol>,
    path: SxPath,
    pub(super) size: u64,
    hashes: Vec<String>,
    /// A body of at most [`HELD_BYTES`]: the commit uploads it under its final name, so a
    /// small PUT is one SX upload and one job instead of three (stage, commit, removal).
    held: Option<Bytes>,
    /// Its share of [`HELD_BUDGET`], given back with the body.
    _budget: Option<OwnedSemaphorePermit>,
}

impl SxStaged {
    /// The body, when it is held in memory.
    pub(super) fn held(&self) -> Option<&Bytes> {
        self.held.as_ref()
    }

    /// What a file made of this body is made of: its bytes when held, else the blocks of
    /// the hidden file (no data moves).
    pub(super) fn segments(&self) -> Vec<Segment> {
        match &self.held {
            Some(bytes) => {
                let bytes = bytes.clone();
                let body = stream::once(async move { Ok(bytes) }).boxed_local();
                vec![Segment::Data(body, self.size)]
            }
            None => vec![Segment::Hashes(self.hashes.clone(), self.size)],
        }
    }
}

impl SxStaged {
    /// Removes the hidden file before the object is made of its blocks. SX counts every file
    /// against its volume and checks the whole size of a file when it is created, so while
    /// the hidden copy exists an object larger than half the free space would not fit. The
    /// blocks outlive the hidden file: SX collects unreferenced blocks only in its periodic
    /// GC (hourly), and the object's creation right after references them again; were one
    /// collected in between, SX asks for it and the write fails, it never stores a gap.
    /// When the removal fails the hidden file is left to the drop, as before.
    pub(super) async fn remove_hidden_copy(&mut self) {
        if let Some(vol) = self.vol.take() {
            if let Err(e) = self.cluster.delete_path(&vol, &self.path).await {
                log::warn!("SX: could not remove staged {}: {e}", self.path.as_str());
                self.vol = Some(vol);
            }
        }
    }
}

impl Staged for SxStaged {
    fn size(&self) -> u64 {
        self.size
    }
}

impl Drop for SxStaged {
    fn drop(&mut self) {
        if let Some(vol) = self.vol.take() {
            let cluster = self.cluster.clone();
            let path = self.path.clone();
            actix_web::rt::spawn(async move {
                if let Err(e) = cluster.delete_path(&vol, &path).await {
                    log::warn!("SX: could not remove staged {}: {e}", path.as_str());
                }
            });
        }
    }
}

/// A body of `size` bytes, read into memory (at most [`HELD_BYTES`]).
async fn read_exactly(mut body: BodyStream, size: u64) -> Result<Bytes, StoreError> {
    let mut all = BytesMut::with_capacity(size as usize);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(StoreError::Body)?;
        if (all.len() + chunk.len()) as u64 > size {
            return Err(body_error("the body is longer than its declared length"));
        }
        all.extend_from_slice(&chunk);
    }
    if (all.len() as u64) < size {
        return Err(body_error("the body is shorter than its declared length"));
    }
    Ok(all.freeze())
}

/// Reads a body of unknown length until it ends or passes `limit` bytes: the whole body,
/// or what was read and the rest of the stream.
async fn read_up_to(
    mut body: BodyStream,
    limit: u64,
) -> Result<(Bytes, Option<BodyStream>), StoreError> {
    let mut start = BytesMut::new();
    while let Some(chunk) = body.next().await {
        start.extend_from_slice(&chunk.map_err(StoreError::Body)?);
        if start.len() as u64 > limit {
            return Ok((start.freeze(), Some(body)));
        }
    }
    Ok((start.freeze(), None))
}

/// A body of unknown length goes to an unlinked temporary file first: SX needs a file's size
/// before its first block (the size decides the block size).
async fn spool(mut body: BodyStream) -> Result<(BodyStream, u64), StoreError> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
    let path = std::env::temp_dir().join(format!("libres3-sx-{}", random_hex(12)?));
    let mut file = tokio::fs::OpenOptions::new()
        .create_new(true)
        .read(true)
        .write(true)
        .mode(0o600)
        .open(&path)
        .await?;
    // Unlinked at once: nothing is left behind whatever happens next.
    tokio::fs::remove_file(&path).await?;
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(StoreError::Body)?;
        size += chunk.len() as u64;
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    file.seek(std::io::SeekFrom::Start(0)).await?;
    let stream = stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 256 << 10];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(BodyError(Box::new(e))), None)),
        }
    });
    Ok((stream.boxed_local(), size))
}

impl Cluster {
    fn staged_from(&self, vol: Vol, path: SxPath, size: u64, hashes: Vec<String>) -> SxStaged {
        SxStaged {
            cluster: self.clone(),
            vol: Some(vol),
            path,
            size,
            hashes,
            held: None,
            _budget: None,
        }
    }

    fn staged_held(&self, bytes: Bytes, budget: OwnedSemaphorePermit) -> SxStaged {
        SxStaged {
            cluster: self.clone(),
            vol: None,
            path: SxPath::internal(String::new()),
            size: bytes.len() as u64,
            hashes: Vec::new(),
            held: Some(bytes),
            _budget: Some(budget),
        }
    }

    /// `bytes` of [`HELD_BUDGET`] (at most all of it), once other requests leave that much.
    pub(super) async fn held_budget(&self, bytes: u64) -> Result<OwnedSemaphorePermit, StoreError> {
        // At most HELD_BUDGET, far below u32::MAX.
        let bytes = u32::try_from(bytes.min(HELD_BUDGET as u64)).unwrap_or(u32::MAX);
        self.inner
            .held_bodies
            .clone()
            .acquire_many_owned(bytes)
            .await
            .map_err(|e| StoreError::Internal(format!("held bodies: {e}")))
    }

    /// Stages a body for a write to `vol`.
    pub(super) async fn stage(
        &self,
        vol: Vol,
        body: BodyStream,
        size: Option<u64>,
    ) -> Result<SxStaged, StoreError> {
        let (body, size) = match size {
            Some(size) if size <= HELD_BYTES => {
                let budget = self.held_budget(size).await?;
                let whole = read_exactly(body, size).await?;
                return Ok(self.staged_held(whole, budget));
            }
            Some(size) => (body, size),
            None => {
                // Taken before the first byte is read: a body of unknown length may be that long.
                let budget = self.held_budget(HELD_BYTES).await?;
                match read_up_to(body, HELD_BYTES).await? {
                    (whole, None) => return Ok(self.staged_held(whole, budget)),
                    (start, Some(rest)) => {
                        let start = stream::once(async move { Ok(start) });
                        spool(start.chain(rest).boxed_local()).await?
                    }
                }
            }
        };
        let _window = self.held_budget(streamed_window(size)).await?;
        let path = SxPath::internal(format!("{TMP_DIR}{}", random_hex(16)?));
        // Armed before the first byte goes out: if this future is dropped (the client went
        // away) after the hidden file became visible, the drop removes it.
        let mut staged = self.staged_from(vol.clone(), path.clone(), size, Vec::new());
        let (_, hashes) = self
            .write_file(
                &vol,
                &path,
                size,
                vec![Segment::Data(body, size)],
                None,
                None,
            )
            .await?;
        staged.hashes = hashes;
        Ok(staged)
    }
}
