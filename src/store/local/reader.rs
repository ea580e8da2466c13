//! Reading objects, and the reader epochs that keep the garbage collector from deleting a
//! block an open reader still needs.
//!
//! Every reader takes a sequence number before it reads the index and keeps it registered
//! while it lives. After a commit that drops a block's refcount to 0, the writer stamps the
//! block with a fresh sequence number: a reader with a greater number started after that
//! commit and cannot name the block, so the block may go once every live reader is newer.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};

use super::blocks::{BlockRef, BLOCK_SIZE};
use super::sealing::Sealing;
use super::Shared;
use crate::encoding::hex;
use crate::store::{ByteRange, DataStream, ObjectInfo, ObjectReader, StoreError};

#[derive(Default)]
pub struct ReaderRegistry {
    next_sequence: AtomicU64,
    /// Sequence numbers of live readers. Taken and inserted under this lock, so the collector
    /// never misses a reader that has its number but is not registered yet.
    active: Mutex<BTreeSet<u64>>,
}

impl ReaderRegistry {
    /// A stamp for blocks whose refcount reached 0 in a commit that has completed.
    pub fn stamp(&self) -> u64 {
        self.next_sequence.fetch_add(1, Ordering::SeqCst)
    }

    /// The sequence number of the oldest live reader. A block stamped `s` may go when this
    /// is None or greater than `s`.
    pub fn oldest_active(&self) -> Option<u64> {
        let active = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        active.first().copied()
    }
}

/// Registration of one reader; deregisters on drop.
pub struct ReaderTicket {
    shared: Arc<Shared>,
    sequence: u64,
}

impl ReaderTicket {
    pub fn new(shared: &Arc<Shared>) -> ReaderTicket {
        let registry = &shared.readers;
        let mut active = registry
            .active
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let sequence = registry.next_sequence.fetch_add(1, Ordering::SeqCst);
        active.insert(sequence);
        ReaderTicket {
            shared: shared.clone(),
            sequence,
        }
    }
}

impl Drop for ReaderTicket {
    fn drop(&mut self) {
        self.shared
            .readers
            .active
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.sequence);
    }
}

/// A block of an object with the file it lives in.
#[derive(Clone, Debug)]
pub struct LocatedBlock {
    pub block: BlockRef,
    pub path: PathBuf,
}

pub enum Body {
    Inline(Bytes),
    Blocks(Vec<LocatedBlock>),
}

pub struct LocalReader {
    pub(super) info: ObjectInfo,
    pub(super) body: Body,
    pub(super) ticket: ReaderTicket,
}

impl ObjectReader for LocalReader {
    fn info(&self) -> &ObjectInfo {
        &self.info
    }

    fn stream(self, range: Option<ByteRange>) -> DataStream {
        let size = self.info.size;
        let (first, end) = match range {
            Some(range) => (range.first, range.last.saturating_add(1).min(size)),
            None => (0, size),
        };
        if first >= end {
            return stream::empty().boxed_local();
        }
        match self.body {
            Body::Inline(data) => {
                let slice = usize::try_from(first)
                    .ok()
                    .zip(usize::try_from(end).ok())
                    .filter(|(_, end)| *end <= data.len())
                    .map(|(first, end)| data.slice(first..end));
                let item = slice.ok_or_else(|| {
                    StoreError::Internal(format!(
                        "inline object {} shorter than recorded",
                        self.info.key
                    ))
                });
                stream::once(async move { item }).boxed_local()
            }
            Body::Blocks(blocks) => {
                let cursor = BlockCursor::new(blocks, first, end - first, self.ticket);
                stream::unfold(cursor, BlockCursor::next).boxed_local()
            }
        }
    }
}

/// Where a block stream stands: it owns the reader ticket, so the blocks it still has to read
/// stay on disk until it ends or is dropped.
struct BlockCursor {
    blocks: Vec<LocatedBlock>,
    index: usize,
    offset_in_block: u64,
    remaining: u64,
    failed: bool,
    ticket: ReaderTicket,
}

impl BlockCursor {
    fn new(blocks: Vec<LocatedBlock>, first: u64, len: u64, ticket: ReaderTicket) -> BlockCursor {
        let mut index = 0;
        let mut offset = first;
        while index < blocks.len() && offset >= u64::from(blocks[index].block.len) {
            offset -= u64::from(blocks[index].block.len);
            index += 1;
        }
        BlockCursor {
            blocks,
            index,
            offset_in_block: offset,
            remaining: len,
            failed: false,
            ticket,
        }
    }

    async fn next(mut self) -> Option<(Result<Bytes, StoreError>, BlockCursor)> {
        if self.remaining == 0 || self.failed {
            return None;
        }
        let Some(located) = self.blocks.get(self.index).cloned() else {
            self.failed = true;
            let error = StoreError::Internal("object shorter than its recorded size".into());
            return Some((Err(error), self));
        };
        let block_len = u64::from(located.block.len);
        let want = (block_len - self.offset_in_block)
            .min(self.remaining)
            .min(BLOCK_SIZE as u64);
        let offset = self.offset_in_block;
        let shared = self.ticket.shared.clone();
        let read = tokio::task::spawn_blocking(move || {
            read_block_range(&shared.sealing, &located, offset, want)
        })
        .await;
        let result = match read {
            Ok(result) => result,
            Err(e) => Err(StoreError::Internal(format!("block read task failed: {e}"))),
        };
        match result {
            Ok(bytes) => {
                self.remaining -= want;
                self.offset_in_block += want;
                if self.offset_in_block == block_len {
                    self.index += 1;
                    self.offset_in_block = 0;
                }
                Some((Ok(bytes), self))
            }
            Err(e) => {
                self.failed = true;
                Some((Err(e), self))
            }
        }
    }
}

/// Reads `len` bytes at `offset` of a block file, refusing a file shorter than recorded, or
/// a sealed one that fails authentication.
fn read_block_range(
    sealing: &Sealing,
    located: &LocatedBlock,
    offset: u64,
    len: u64,
) -> Result<Bytes, StoreError> {
    let hex = hex(&located.block.hash);
    let fail = |what: String| {
        log::error!("block {hex} ({}): {what}", located.path.display());
        StoreError::Internal(format!("block {hex}: {what}"))
    };
    let mut file = match File::open(&located.path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(fail("missing".into())),
        Err(e) => return Err(fail(e.to_string())),
    };
    if sealing.is_on() {
        return sealing
            .read_block(&mut file, &located.block, offset, len)
            .map_err(|e| fail(e.to_string()));
    }
    let on_disk = file.metadata().map_err(|e| fail(e.to_string()))?.len();
    if on_disk < u64::from(located.block.len) {
        return Err(fail(format!(
            "file has {on_disk} bytes, {} recorded",
            located.block.len
        )));
    }
    let len = usize::try_from(len).map_err(|e| fail(e.to_string()))?;
    let mut buf = vec![0; len];
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| fail(e.to_string()))?;
    file.read_exact(&mut buf).map_err(|e| fail(e.to_string()))?;
    Ok(Bytes::from(buf))
}
