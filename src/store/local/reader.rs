//! Reading objects, and the reader epochs that keep the garbage collector from deleting a
//! block an open reader still needs.
//!
//! Every reader takes a sequence number before it reads the index and keeps it registered
//! while it lives. After a commit that drops a block's refcount to 0, the writer stamps the
//! block with a fresh sequence number: a reader with a greater number started after that
//! commit and cannot name the block, so the block may go once every live reader is newer.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use tokio::task::JoinHandle;

use std::collections::HashMap;

use rusqlite::Connection;

use super::blocks::{read_exactly, BlockRef, BLOCK_SIZE};
use super::index::{
    self, buckets::check_owned_by, decode_blocks, from_ms, meta_from_db, size_from_db,
};
use super::sealing::Sealing;
use super::version_rows;
use super::Shared;
use crate::encoding::hex;
use crate::store::{
    ByteRange, DataStream, ObjectInfo, ObjectMeta, ObjectReader, Principal, StoreError,
};

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
                let plan = ReadPlan::new(blocks, first, end - first);
                // Every read holds the ticket, the stream's and a read ahead that outlives a
                // dropped stream alike: no block it reads is collected under it.
                let ticket = Arc::new(self.ticket);
                let read: ReadBlock =
                    Arc::new(move |read| read_block_range(&ticket.shared.sealing, read));
                let reads = ReadAhead::new(plan, read);
                stream::unfold(reads, ReadAhead::next).boxed_local()
            }
        }
    }
}

/// One read of a block stream: `len` bytes at `offset` of one block.
pub(super) struct BlockRead {
    pub located: LocatedBlock,
    pub offset: u64,
    pub len: u64,
}

/// Which reads a byte range of an object takes, one block (at most [`BLOCK_SIZE`]) each.
struct ReadPlan {
    blocks: Vec<LocatedBlock>,
    index: usize,
    offset_in_block: u64,
    remaining: u64,
}

impl ReadPlan {
    fn new(blocks: Vec<LocatedBlock>, first: u64, len: u64) -> ReadPlan {
        let mut index = 0;
        let mut offset = first;
        while index < blocks.len() && offset >= u64::from(blocks[index].block.len) {
            offset -= u64::from(blocks[index].block.len);
            index += 1;
        }
        ReadPlan {
            blocks,
            index,
            offset_in_block: offset,
            remaining: len,
        }
    }

    /// The next read, None once the range is covered; an error when the block list ends
    /// before the recorded size.
    fn next_read(&mut self) -> Option<Result<BlockRead, StoreError>> {
        if self.remaining == 0 {
            return None;
        }
        let Some(located) = self.blocks.get(self.index).cloned() else {
            self.remaining = 0;
            let error = StoreError::Internal("object shorter than its recorded size".into());
            return Some(Err(error));
        };
        let block_len = u64::from(located.block.len);
        let len = (block_len - self.offset_in_block)
            .min(self.remaining)
            .min(BLOCK_SIZE as u64);
        let offset = self.offset_in_block;
        self.remaining -= len;
        self.offset_in_block += len;
        if self.offset_in_block == block_len {
            self.index += 1;
            self.offset_in_block = 0;
        }
        Some(Ok(BlockRead {
            located,
            offset,
            len,
        }))
    }
}

/// How much of a block is handed to the HTTP layer at a time. actix-http copies each piece
/// into its write buffer, filled up to 128 KiB before it writes: small pieces keep that
/// buffer small and in the CPU cache, where a whole block grew it to 4 MiB. The pieces share
/// the block's allocation.
const SEND_PIECE: usize = 64 * 1024;

/// Reads one block range; blocking.
pub(super) type ReadBlock = Arc<dyn Fn(BlockRead) -> Result<Bytes, StoreError> + Send + Sync>;

/// A block stream that reads the next block while the consumer sends the current one. One
/// read at most is in flight, so a client that stops reading makes the stream hold two blocks
/// at most: the one it was given and the one read ahead.
struct ReadAhead {
    plan: ReadPlan,
    read: ReadBlock,
    ahead: Option<JoinHandle<Result<Bytes, StoreError>>>,
    /// What is left to hand on of the block read last.
    current: Bytes,
    failed: bool,
}

impl ReadAhead {
    fn new(plan: ReadPlan, read: ReadBlock) -> ReadAhead {
        ReadAhead {
            plan,
            read,
            ahead: None,
            current: Bytes::new(),
            failed: false,
        }
    }

    /// Starts the next read of the plan, if any, on a blocking thread.
    fn start_next(&mut self) {
        if let Some(next) = self.plan.next_read() {
            let read = self.read.clone();
            self.ahead = Some(tokio::task::spawn_blocking(move || read(next?)));
        }
    }

    async fn next(mut self) -> Option<(Result<Bytes, StoreError>, ReadAhead)> {
        if self.current.is_empty() {
            if self.failed {
                return None;
            }
            if self.ahead.is_none() {
                self.start_next();
            }
            let result = match self.ahead.take()?.await {
                Ok(result) => result,
                Err(e) => Err(StoreError::Internal(format!("block read task failed: {e}"))),
            };
            match result {
                Ok(block) => {
                    // The consumer sends this block while the next one is read.
                    self.start_next();
                    self.current = block;
                }
                Err(e) => {
                    self.failed = true;
                    return Some((Err(e), self));
                }
            }
        }
        let piece = self.current.split_to(SEND_PIECE.min(self.current.len()));
        Some((Ok(piece), self))
    }
}

/// Reads `len` bytes at `offset` of a block file, refusing a file shorter than recorded, or
/// a sealed one that fails authentication.
fn read_block_range(sealing: &Sealing, read: BlockRead) -> Result<Bytes, StoreError> {
    let BlockRead {
        located,
        offset,
        len,
    } = read;
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
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| fail(e.to_string()))?;
    let wanted = usize::try_from(len).map_err(|e| fail(e.to_string()))?;
    let buf = read_exactly(&mut file, wanted).map_err(|e| fail(e.to_string()))?;
    Ok(Bytes::from(buf))
}

/// Where each block of an object's list lies (its storage directory, from the index).
pub(super) fn locate_blocks(
    conn: &Connection,
    shared: &Shared,
    list: Vec<BlockRef>,
) -> Result<Vec<LocatedBlock>, StoreError> {
    let mut dir_of: HashMap<[u8; 32], i64> = HashMap::new();
    let mut lookup = index::blocks::DirLookup::new(conn)?;
    let mut located = Vec::with_capacity(list.len());
    for block in list {
        let dir_id = match dir_of.get(&block.hash) {
            Some(dir_id) => *dir_id,
            None => {
                let dir_id = lookup.get(&block.hash)?.ok_or_else(|| {
                    StoreError::Internal(format!(
                        "index: block {} has no record",
                        crate::encoding::hex(&block.hash)
                    ))
                })?;
                dir_of.insert(block.hash, dir_id);
                dir_id
            }
        };
        let dir = shared.dir(dir_id).ok_or_else(|| {
            StoreError::Internal(format!("index: unknown storage directory {dir_id}"))
        })?;
        located.push(LocatedBlock {
            block,
            path: dir.block_path(&block.hash),
        });
    }
    Ok(located)
}

/// Objects of more blocks than this are read on a blocking task rather than in place: each
/// block is one index lookup, a random read when the page cache does not hold it.
pub(super) const IN_PLACE_BLOCKS: usize = 16;

/// An object version read from the index, with its bucket's owner.
pub(super) struct FoundObject {
    pub info: ObjectInfo,
    pub body: Body,
    pub owner: String,
}

/// The version (`bucket`, `key`, version id; None: the latest) with its body located; None
/// when it has more than `max_blocks` blocks. The latest of a key is read with its bucket's
/// owner in one statement; an older version, a marker or a missing key takes more.
pub(super) fn read_object(
    conn: &Connection,
    shared: &Shared,
    who: &Principal,
    (bucket, key, version_id): (&str, &str, Option<&str>),
    max_blocks: Option<usize>,
) -> Result<Option<FoundObject>, StoreError> {
    let Some(found) = index::objects::stored_object_with_owner(conn, bucket, key)? else {
        return Err(StoreError::NoSuchBucket);
    };
    check_owned_by(Some(&found.owner), who)?;
    let (owner, current) = (found.owner, found.object);
    let (row, _) = version_rows::find(conn, bucket, key, current, version_id)?;
    let body = match (row.inline, row.blocks) {
        (Some(data), _) => Body::Inline(shared.sealing.open_inline(data).map_err(|e| {
            log::error!(
                "object {bucket}/{key}: inline data in {}: {e}",
                shared.index_path().display()
            );
            StoreError::Internal(format!("object {bucket}/{key}: {e}"))
        })?),
        (None, Some(list)) => {
            let list = decode_blocks(&list)?;
            if max_blocks.is_some_and(|max| list.len() > max) {
                return Ok(None);
            }
            Body::Blocks(locate_blocks(conn, shared, list)?)
        }
        (None, None) => {
            return Err(StoreError::Internal(format!(
                "index: object {key} has no data"
            )))
        }
    };
    let info = ObjectInfo {
        version_id: row
            .version_id
            .unwrap_or_else(|| crate::store::NULL_VERSION.to_owned()),
        key: key.to_owned(),
        size: size_from_db(row.size)?,
        last_modified: from_ms(row.mtime_ms),
        meta: ObjectMeta {
            size: row.reported_size.map(size_from_db).transpose()?,
            ..meta_from_db(row.etag, &row.meta_json)?
        },
    };
    Ok(Some(FoundObject { info, body, owner }))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    const BLOCKS: usize = 10;
    const LEN: u32 = 1000;

    fn blocks() -> Vec<LocatedBlock> {
        (0..BLOCKS)
            .map(|i| LocatedBlock {
                block: BlockRef {
                    hash: [i as u8; 32],
                    len: LEN,
                },
                path: PathBuf::from("unused"),
            })
            .collect()
    }

    /// Takes `items` blocks of a stream of ten whose reads are counted, waits until the reads
    /// it has started are running and stops; returns how many reads ran in all.
    fn reads_when_consuming(items: usize) -> usize {
        let reads = Arc::new(AtomicUsize::new(0));
        let counted = reads.clone();
        let (started, starts) = std::sync::mpsc::channel();
        let read: ReadBlock = Arc::new(move |read: BlockRead| {
            counted.fetch_add(1, Ordering::SeqCst);
            let _ = started.send(());
            Ok(Bytes::from(vec![
                read.located.block.hash[0];
                read.len as usize
            ]))
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let plan = ReadPlan::new(blocks(), 0, (BLOCKS as u64) * u64::from(LEN));
            let reads = ReadAhead::new(plan, read);
            let mut stream = stream::unfold(reads, ReadAhead::next).boxed_local();
            for i in 0..items {
                let block = stream.next().await.unwrap().unwrap();
                assert_eq!(block, vec![i as u8; LEN as usize]);
            }
            // The block read ahead has started: the client stops reading here.
            for _ in 0..(items + 1).min(BLOCKS) {
                starts.recv().unwrap();
            }
        });
        // Reads not yet started are dropped with the runtime; started ones run to the end.
        drop(runtime);
        reads.load(Ordering::SeqCst)
    }

    #[test]
    fn a_client_that_stops_reading_leaves_one_block_read_ahead() {
        assert_eq!(reads_when_consuming(1), 2);
        assert_eq!(reads_when_consuming(3), 4);
        assert_eq!(reads_when_consuming(BLOCKS), BLOCKS);
    }
}
