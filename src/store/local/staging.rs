//! Staging: a request body becomes durable, invisible data with bounded memory.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use futures_util::stream::{FuturesOrdered, StreamExt};
use tokio::task::JoinHandle;

use super::blocks::{
    aligned_buffer, is_direct_io_aligned, store_block, sync_block_dirs, BlockRef, Hash,
    PinnedBlock, BLOCK_SIZE,
};
use super::Shared;
use crate::store::{BodyStream, Staged, StoreError};

/// Whole bodies up to this size live in their index row: no block file, no extra fsync.
pub const INLINE_MAX: usize = 64 * 1024;

/// Blocks of one upload being hashed and written at once: their fsyncs overlap, and the
/// filesystem commits them together. With the block being filled, this bounds an upload's
/// memory to about 20 MiB whatever the object size (4 measured as fast as 8).
pub const MAX_BLOCKS_IN_FLIGHT: usize = 4;

/// Block buffers (being filled or being written) of all uploads together: 40 MiB, so that
/// many concurrent uploads share a bounded amount of memory (16 uploads with 5 buffers each
/// took the server to 279 MiB). Two uploads still run at full speed.
pub const BLOCK_BUFFERS: usize = 10;

/// The block buffers of all uploads, at most [`BLOCK_BUFFERS`] at once. A written block's
/// buffer is handed to the next block instead of going back to the allocator, which kept
/// freed buffers resident beside fresh ones: 16 concurrent uploads held 16 buffers' worth of
/// memory instead of 10, and each fresh buffer costs a page fault per 4 KiB. The idle buffers
/// are freed when no upload holds one.
pub struct BlockBuffers(Arc<Pool>);

struct Pool {
    shares: Arc<tokio::sync::Semaphore>,
    idle: Mutex<Vec<BytesMut>>,
}

impl Pool {
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<BytesMut>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl BlockBuffers {
    pub fn new() -> BlockBuffers {
        BlockBuffers(Arc::new(Pool {
            shares: Arc::new(tokio::sync::Semaphore::new(BLOCK_BUFFERS)),
            idle: Mutex::new(Vec::with_capacity(BLOCK_BUFFERS)),
        }))
    }

    /// An empty, aligned buffer for a block, once one of the shares is free.
    async fn take(&self) -> Result<(BytesMut, BufferShare), StoreError> {
        let permit = self
            .0
            .shares
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| StoreError::Internal(format!("block buffers: {e}")))?;
        let share = BufferShare {
            permit: Some(permit),
            pool: self.0.clone(),
        };
        let reused = self.0.idle().pop();
        Ok((reused.unwrap_or_else(|| aligned_buffer(BLOCK_SIZE)), share))
    }
}

/// A block buffer's share of [`BLOCK_BUFFERS`], held until its block is written (or its
/// upload ends). The last share to go frees the idle buffers.
pub struct BufferShare {
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    pool: Arc<Pool>,
}

impl BufferShare {
    /// Hands the buffer of a written block to the next block, unless something else still
    /// refers to it; the share goes with it.
    fn give_back(self, block: Bytes) {
        if let Ok(mut buffer) = block.try_into_mut() {
            buffer.clear();
            if buffer.capacity() >= BLOCK_SIZE && is_direct_io_aligned(&buffer) {
                self.pool.idle().push(buffer);
            }
        }
    }
}

impl Drop for BufferShare {
    fn drop(&mut self) {
        drop(self.permit.take());
        if self.pool.shares.available_permits() == BLOCK_BUFFERS {
            self.pool.idle().clear();
        }
    }
}

/// Data staged by [`LocalStore::stage`](super::LocalStore). Dropping it uncommitted hands its
/// block files to the garbage collector.
pub struct LocalStaged {
    size: u64,
    pub(super) content: StagedContent,
}

pub(super) enum StagedContent {
    Inline(Bytes),
    Blocks(Vec<PinnedBlock>),
}

impl Staged for LocalStaged {
    fn size(&self) -> u64 {
        self.size
    }
}

impl LocalStaged {
    /// The block list with the directory each block was written to or found in.
    pub(super) fn located_blocks(&self) -> Option<Vec<(BlockRef, i64)>> {
        match &self.content {
            StagedContent::Inline(_) => None,
            StagedContent::Blocks(blocks) => Some(
                blocks
                    .iter()
                    .map(|pinned| (pinned.block, pinned.dir_id))
                    .collect(),
            ),
        }
    }

    /// Called once the index references the blocks: dropping no longer frees them.
    pub(super) fn mark_referenced(&mut self) {
        if let StagedContent::Blocks(blocks) = &mut self.content {
            for pinned in blocks {
                pinned.mark_referenced();
            }
        }
    }
}

type BlockTask = JoinHandle<Result<PinnedBlock, StoreError>>;

/// Reads `body` into inline data (≤ INLINE_MAX) or durable block files. On failure, returns
/// only once no block write of this upload runs any more, so that every block it wrote is
/// already garbage (see `LocalStore::stage`, which collects it when the disk is full).
pub async fn stage(
    shared: &Arc<Shared>,
    body: BodyStream,
    size_hint: Option<u64>,
) -> Result<LocalStaged, StoreError> {
    let mut in_flight: FuturesOrdered<BlockTask> = FuturesOrdered::new();
    let staged = stage_into(shared, body, size_hint, &mut in_flight).await;
    if staged.is_err() {
        while in_flight.next().await.is_some() {}
    }
    staged
}

async fn stage_into(
    shared: &Arc<Shared>,
    mut body: BodyStream,
    size_hint: Option<u64>,
    in_flight: &mut FuturesOrdered<BlockTask>,
) -> Result<LocalStaged, StoreError> {
    let first_capacity = size_hint
        .and_then(|size| usize::try_from(size).ok())
        .unwrap_or(INLINE_MAX)
        .min(BLOCK_SIZE);
    let (mut buffer, mut share) = if first_capacity == BLOCK_SIZE {
        let (buffer, share) = shared.block_buffers.take().await?;
        (buffer, Some(share))
    } else {
        (BytesMut::with_capacity(first_capacity), None)
    };
    let mut done: Vec<PinnedBlock> = Vec::new();
    let mut any_block = false;
    let mut size: u64 = 0;
    // The block being filled is named as it fills, each piece right after its copy while the
    // CPU's cache still holds it (the block task used to read all 4 MiB again), from the
    // moment the body is too large to stay inline.
    let mut namer = shared.sealing.block_namer();
    let mut named = 0;

    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(StoreError::Body)?;
        size += chunk.len() as u64;
        while !chunk.is_empty() {
            if buffer.capacity() == 0 {
                let (fresh, granted) = shared.block_buffers.take().await?;
                buffer = fresh;
                share = Some(granted);
            }
            let take = (BLOCK_SIZE - buffer.len()).min(chunk.len());
            buffer.extend_from_slice(&chunk.split_to(take));
            if any_block || buffer.len() > INLINE_MAX {
                namer.update(&buffer[named..]);
                named = buffer.len();
            }
            if buffer.len() == BLOCK_SIZE {
                // Take the full block out first so at most one block buffer exists besides
                // those in flight; the next one is allocated when bytes arrive.
                let full = std::mem::take(&mut buffer).freeze();
                let name = std::mem::replace(&mut namer, shared.sealing.block_namer()).finish();
                named = 0;
                any_block = true;
                start_block(shared, in_flight, &mut done, (full, name), share.take()).await?;
            }
        }
    }

    if !any_block && buffer.len() <= INLINE_MAX {
        return Ok(LocalStaged {
            size,
            content: StagedContent::Inline(buffer.freeze()),
        });
    }
    if !buffer.is_empty() {
        namer.update(&buffer[named..]);
        let last = (buffer.freeze(), namer.finish());
        start_block(shared, in_flight, &mut done, last, share.take()).await?;
    }
    while !in_flight.is_empty() {
        finish_one(in_flight, &mut done).await?;
    }
    let done = sync_dirs(done).await?;
    Ok(LocalStaged {
        size,
        content: StagedContent::Blocks(done),
    })
}

/// Makes the new blocks' directory entries durable, once for the whole upload.
async fn sync_dirs(mut blocks: Vec<PinnedBlock>) -> Result<Vec<PinnedBlock>, StoreError> {
    tokio::task::spawn_blocking(move || sync_block_dirs(&mut blocks).map(|()| blocks))
        .await
        .map_err(|e| StoreError::Internal(format!("directory sync task failed: {e}")))?
        .map_err(StoreError::from)
}

/// Makes staged data block-based: parts of a multipart upload are joined by block lists, so a
/// small part that was staged inline gets written as one block.
pub async fn into_blocks(
    shared: &Arc<Shared>,
    staged: LocalStaged,
) -> Result<LocalStaged, StoreError> {
    let data = match staged.content {
        StagedContent::Blocks(_) => return Ok(staged),
        StagedContent::Inline(data) => data,
    };
    let mut blocks = Vec::new();
    if !data.is_empty() {
        let shared = shared.clone();
        let stored = tokio::task::spawn_blocking(move || {
            store_block(&shared, &data, shared.sealing.block_id(&data))
        })
        .await
        .map_err(|e| StoreError::Internal(format!("block write task failed: {e}")))?;
        blocks.push(stored?);
    }
    let blocks = sync_dirs(blocks).await?;
    Ok(LocalStaged {
        size: staged.size,
        content: StagedContent::Blocks(blocks),
    })
}

async fn start_block(
    shared: &Arc<Shared>,
    in_flight: &mut FuturesOrdered<BlockTask>,
    done: &mut Vec<PinnedBlock>,
    (data, name): (Bytes, Hash),
    share: Option<BufferShare>,
) -> Result<(), StoreError> {
    while in_flight.len() >= MAX_BLOCKS_IN_FLIGHT {
        finish_one(in_flight, done).await?;
    }
    let shared = shared.clone();
    // A task that outlives an abandoned upload still drops its PinnedBlock when it ends, which
    // hands the file to the garbage collector.
    in_flight.push_back(tokio::task::spawn_blocking(move || {
        let stored = store_block(&shared, &data, name);
        // The buffer and its share go to the next block that needs one.
        match share {
            Some(share) => share.give_back(data),
            None => drop(data),
        }
        stored
    }));
    Ok(())
}

async fn finish_one(
    in_flight: &mut FuturesOrdered<BlockTask>,
    done: &mut Vec<PinnedBlock>,
) -> Result<(), StoreError> {
    match in_flight.next().await {
        Some(Ok(Ok(pinned))) => {
            done.push(pinned);
            Ok(())
        }
        Some(Ok(Err(e))) => Err(e),
        Some(Err(e)) => Err(StoreError::Internal(format!(
            "block write task failed: {e}"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn block_buffers_are_reused_then_freed_when_idle() {
        let buffers = BlockBuffers::new();
        let idle = || buffers.0.idle().len();
        let (mut first, first_share) = buffers.take().await.unwrap();
        let (second, second_share) = buffers.take().await.unwrap();
        let first_start = first.as_ptr();
        first.extend_from_slice(&[1; 100]);
        first_share.give_back(first.freeze());
        assert_eq!(idle(), 1, "a written block's buffer is kept");

        let (again, again_share) = buffers.take().await.unwrap();
        assert_eq!(
            again.as_ptr(),
            first_start,
            "the kept buffer is handed out again"
        );
        assert!(again.is_empty() && again.capacity() >= BLOCK_SIZE);
        assert!(is_direct_io_aligned(&again));

        // A block something else still refers to is left to it.
        let block = again.freeze();
        let still_read = block.clone();
        again_share.give_back(block);
        assert_eq!(idle(), 0);
        drop(still_read);

        // The last share back: no upload holds a buffer, so none stays allocated.
        second_share.give_back(second.freeze());
        assert_eq!(idle(), 0);
        assert_eq!(buffers.0.shares.available_permits(), BLOCK_BUFFERS);
    }

    /// An upload that ends without writing its block (an error, a client gone) still frees
    /// the idle buffers when its share was the last one held.
    #[actix_web::test]
    async fn the_last_share_dropped_frees_the_idle_buffers() {
        let buffers = BlockBuffers::new();
        let (written, written_share) = buffers.take().await.unwrap();
        let (_abandoned, abandoned_share) = buffers.take().await.unwrap();
        written_share.give_back(written.freeze());
        assert_eq!(buffers.0.idle().len(), 1);
        drop(abandoned_share);
        assert_eq!(buffers.0.idle().len(), 0);
    }
}
