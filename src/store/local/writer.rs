//! The writer thread: sole owner of the write connection, group commit, garbage collection.
//!
//! Requests arrive on a channel. The thread takes everything pending, runs each request in its
//! own SAVEPOINT inside one `BEGIN IMMEDIATE` transaction, commits once (one fsync for the
//! whole group) and only then answers each request. The garbage collector runs on the same
//! thread, so it never sees a transaction half done.
//!
//! Copying the write-ahead log into the index (a checkpoint: writes all over the index file
//! and an fsync of it) happens on a thread of its own, so that commits, and the requests
//! waiting on them, do not stop for it.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::blocks::{remove_block_file, BlockRef, Hash};
use super::index::{self, DbResult};
use super::staging::LocalStaged;
use super::Shared;
use crate::store::StoreError;

/// Most requests committed in one transaction.
const MAX_BATCH: usize = 512;
/// How long the thread waits for work before it collects garbage. Tests collect explicitly,
/// so their counts do not depend on timing.
const IDLE_TICK: Duration = if cfg!(test) {
    Duration::from_secs(3600)
} else {
    Duration::from_secs(1)
};
/// Unreferenced blocks remembered before a collection runs even though the thread is busy.
const GC_BACKLOG: usize = 4096;
/// Commits after which the checkpoint thread is woken (a few thousand log pages of small
/// PUTs; SQLite's own default is 1000 pages).
const COMMITS_PER_CHECKPOINT: u32 = 32;

/// The transaction a request runs in, with the refcount changes it makes.
pub struct Tx<'c> {
    pub conn: &'c Connection,
    /// Blocks whose refcount reached 0.
    zeroed: Vec<Hash>,
    /// (hash, dir id) of staged copies made redundant by a copy in another directory.
    redundant: Vec<(Hash, i64)>,
}

impl<'c> Tx<'c> {
    fn new(conn: &'c Connection) -> Tx<'c> {
        Tx {
            conn,
            zeroed: Vec::new(),
            redundant: Vec::new(),
        }
    }

    /// References blocks that an upload staged (their rows may not exist yet).
    pub fn reference_staged(&mut self, blocks: &[(BlockRef, i64)]) -> Result<(), StoreError> {
        index::blocks::reference_staged(self.conn, blocks, &mut self.redundant)
    }

    /// Adds a reference to blocks the index already knows (multipart completion).
    pub fn reference_existing(&mut self, blocks: &[BlockRef]) -> Result<(), StoreError> {
        index::blocks::reference_existing(self.conn, blocks)
    }

    /// Drops one reference per entry.
    pub fn release(&mut self, blocks: &[BlockRef]) -> Result<(), StoreError> {
        index::blocks::release(self.conn, blocks, &mut self.zeroed)
    }

    fn mark(&self) -> (usize, usize) {
        (self.zeroed.len(), self.redundant.len())
    }

    fn rewind(&mut self, (zeroed, redundant): (usize, usize)) {
        self.zeroed.truncate(zeroed);
        self.redundant.truncate(redundant);
    }
}

/// Why a group transaction did not commit; every request in it gets the same answer.
#[derive(Clone, Debug, thiserror::Error)]
#[error("index commit failed: {0}")]
struct CommitFailed(Arc<rusqlite::Error>);

/// A request as the writer thread sees it.
trait Job: Send {
    /// Runs inside the request's savepoint; false rolls the savepoint back.
    fn run(&mut self, tx: &mut Tx<'_>) -> bool;
    /// Answers the request once its transaction committed, or failed with this message.
    fn finish(self: Box<Self>, committed: Result<(), CommitFailed>);
}

struct Pending<T, F> {
    work: Option<F>,
    outcome: Option<Result<T, StoreError>>,
    /// Kept until after the commit, so its pins outlive the transaction that references its
    /// blocks, even when the requester has gone away.
    staged: Option<LocalStaged>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnOnce(&mut Tx<'_>) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, tx: &mut Tx<'_>) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let outcome = work(tx);
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn finish(self: Box<Self>, committed: Result<(), CommitFailed>) {
        let Pending {
            outcome,
            mut staged,
            reply,
            ..
        } = *self;
        let result = match (committed, outcome) {
            (Err(failed), _) => Err(StoreError::Internal(failed.to_string())),
            (Ok(()), Some(outcome)) => outcome,
            (Ok(()), None) => Err(StoreError::Internal("index request did not run".into())),
        };
        if result.is_ok() {
            if let Some(staged) = staged.as_mut() {
                staged.mark_referenced();
            }
        }
        let _ = reply.send(result);
        drop(staged);
    }
}

/// What one garbage collection did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GcStats {
    /// Unreferenced blocks whose record and file were removed.
    pub deleted_blocks: usize,
    /// Block files no record names (abandoned uploads, redundant copies) removed.
    pub removed_strays: usize,
    /// Unreferenced blocks left for later because a reader or an upload may still need them.
    pub deferred: usize,
}

enum Message {
    Job(Box<dyn Job>),
    CollectGarbage(oneshot::Sender<GcStats>),
}

/// Handle to the writer thread; dropping it lets the thread finish queued work and waits.
pub struct Writer {
    sender: Option<mpsc::Sender<Message>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub fn start(conn: Connection, shared: Arc<Shared>) -> io::Result<Writer> {
        let checkpoints = Checkpointer::start(&shared.index_path())?;
        conn.pragma_update(None, "wal_autocheckpoint", index::WRITER_CHECKPOINT_PAGES)
            .map_err(io::Error::other)?;
        let (sender, receiver) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("libres3-index-writer".into())
            .spawn(move || {
                WriterThread {
                    conn,
                    shared,
                    unreferenced: HashMap::new(),
                    backlog_limit: GC_BACKLOG,
                    checkpoints,
                    commits_since_checkpoint: 0,
                }
                .run(receiver)
            })?;
        Ok(Writer {
            sender: Some(sender),
            thread: Some(thread),
        })
    }

    /// Runs `work` in the next group commit and returns its result once committed. `staged`
    /// is kept alive until then.
    pub async fn run<T, F>(&self, staged: Option<LocalStaged>, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Pending {
            work: Some(work),
            outcome: None,
            staged,
            reply,
        };
        self.send(Message::Job(Box::new(job)))?;
        answer.await.map_err(|_| stopped())?
    }

    pub async fn collect_garbage(&self) -> Result<GcStats, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Message::CollectGarbage(reply))?;
        answer.await.map_err(|_| stopped())
    }

    fn send(&self, message: Message) -> Result<(), StoreError> {
        self.sender
            .as_ref()
            .ok_or_else(stopped)?
            .send(message)
            .map_err(|_| stopped())
    }
}

fn stopped() -> StoreError {
    StoreError::Internal("the index writer has stopped".into())
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.sender = None;
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                log::error!("the index writer thread panicked");
            }
        }
    }
}

struct WriterThread {
    conn: Connection,
    shared: Arc<Shared>,
    /// Blocks whose refcount reached 0, with the reader sequence stamped after that commit.
    unreferenced: HashMap<Hash, u64>,
    /// Size of `unreferenced` that triggers a collection between batches (long-lived readers
    /// can keep blocks waiting; do not rescan them after every batch).
    backlog_limit: usize,
    checkpoints: Checkpointer,
    commits_since_checkpoint: u32,
}

impl WriterThread {
    fn run(mut self, receiver: mpsc::Receiver<Message>) {
        loop {
            let first = match receiver.recv_timeout(IDLE_TICK) {
                Ok(message) => message,
                Err(RecvTimeoutError::Timeout) => {
                    if self.has_garbage() {
                        self.collect_garbage();
                    }
                    if self.commits_since_checkpoint > 0 {
                        self.commits_since_checkpoint = 0;
                        self.checkpoints.wake();
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let mut jobs = Vec::new();
            let mut gc_requests = Vec::new();
            let mut next = Some(first);
            while let Some(message) = next {
                match message {
                    Message::Job(job) => jobs.push(job),
                    Message::CollectGarbage(reply) => gc_requests.push(reply),
                }
                next = if jobs.len() < MAX_BATCH {
                    receiver.try_recv().ok()
                } else {
                    None
                };
            }
            if !jobs.is_empty() {
                self.commit_batch(jobs);
            }
            if !gc_requests.is_empty() || self.unreferenced.len() >= self.backlog_limit {
                let stats = self.collect_garbage();
                self.backlog_limit = self.unreferenced.len() + GC_BACKLOG;
                for reply in gc_requests {
                    let _ = reply.send(stats);
                }
            }
        }
    }

    fn commit_batch(&mut self, mut jobs: Vec<Box<dyn Job>>) {
        let conn = &self.conn;
        let mut tx = Tx::new(conn);
        let stale_reads = self.shared.small_objects.writes_begin();
        let outcome = (|| -> rusqlite::Result<()> {
            index::control(conn, index::BEGIN_WRITE)?;
            for job in jobs.iter_mut() {
                index::control(conn, index::BEGIN_REQUEST)?;
                let mark = tx.mark();
                if job.run(&mut tx) {
                    index::control(conn, index::END_REQUEST)?;
                } else {
                    tx.rewind(mark);
                    conn.execute_batch(index::UNDO_REQUEST)?;
                }
            }
            index::control(conn, index::COMMIT)
        })();
        self.shared.small_objects.writes_end();
        let (zeroed, redundant) = (tx.zeroed, tx.redundant);
        let committed = match outcome {
            Ok(()) => {
                self.shared.commits.fetch_add(1, Ordering::Relaxed);
                self.commits_since_checkpoint += 1;
                if self.commits_since_checkpoint >= COMMITS_PER_CHECKPOINT {
                    self.commits_since_checkpoint = 0;
                    self.checkpoints.wake();
                }
                // Stamped after the commit: a reader numbered above this cannot see the blocks.
                let stamp = self.shared.readers.stamp();
                for hash in zeroed {
                    self.unreferenced.insert(hash, stamp);
                }
                if !redundant.is_empty() {
                    let mut guards = self
                        .shared
                        .guards
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    guards.maybe_orphans.extend(redundant);
                }
                Ok(())
            }
            Err(e) => {
                log::error!("index commit failed: {e}");
                if !self.conn.is_autocommit() {
                    if let Err(e) = self.conn.execute_batch(index::ROLLBACK) {
                        log::error!("index rollback failed: {e}");
                    }
                }
                Err(CommitFailed(Arc::new(e)))
            }
        };
        for job in jobs {
            job.finish(committed.clone());
        }
        drop(stale_reads);
    }

    fn has_garbage(&self) -> bool {
        !self.unreferenced.is_empty()
            || !self
                .shared
                .guards
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .maybe_orphans
                .is_empty()
    }

    /// Deletes unreferenced blocks no reader or upload can need, and stray files. Holds the
    /// pin lock from decision to unlink, so an upload cannot adopt a file being removed.
    fn collect_garbage(&mut self) -> GcStats {
        let shared = self.shared.clone();
        let mut guards = shared.guards.lock().unwrap_or_else(PoisonError::into_inner);
        let pins = &guards.pins;
        let oldest_reader = shared.readers.oldest_active();
        let ready: Vec<Hash> = self
            .unreferenced
            .iter()
            .filter(|(hash, stamp)| {
                let unseen = match oldest_reader {
                    Some(oldest) => oldest > **stamp,
                    None => true,
                };
                unseen && !pins.contains_key(*hash)
            })
            .map(|(hash, _)| *hash)
            .collect();
        let (pinned_strays, strays): (Vec<_>, Vec<_>) = std::mem::take(&mut guards.maybe_orphans)
            .into_iter()
            .partition(|(hash, _)| guards.pins.contains_key(hash));
        guards.maybe_orphans = pinned_strays;
        let mut stats = GcStats {
            deferred: self.unreferenced.len() - ready.len(),
            ..GcStats::default()
        };
        if ready.is_empty() && strays.is_empty() {
            return stats;
        }

        let conn = &self.conn;
        // (hash, dir id) of files to remove: unreferenced blocks, then strays.
        type Files = Vec<(Hash, i64)>;
        let decided = (|| -> Result<(Files, Files), StoreError> {
            conn.execute_batch(index::BEGIN_WRITE).db()?;
            let doomed = index::blocks::delete_unreferenced(conn, &ready)?;
            let mut unnamed = Vec::new();
            {
                let mut location = index::blocks::DirLookup::new(conn)?;
                for (hash, dir_id) in &strays {
                    if location.get(hash)? != Some(*dir_id) {
                        unnamed.push((*hash, *dir_id));
                    }
                }
            }
            conn.execute_batch(index::COMMIT).db()?;
            Ok((doomed, unnamed))
        })();

        match decided {
            Ok((doomed, unnamed)) => {
                for hash in &ready {
                    self.unreferenced.remove(hash);
                }
                // The rows are gone for good: now the files may go.
                for (hash, dir_id) in doomed.iter().chain(unnamed.iter()) {
                    match shared.dir(*dir_id) {
                        Some(dir) => remove_block_file(dir, hash),
                        None => log::error!("index names unknown storage directory {dir_id}"),
                    }
                }
                stats.deleted_blocks = doomed.len();
                stats.removed_strays = unnamed.len();
            }
            Err(e) => {
                log::error!("garbage collection failed: {e}");
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch(index::ROLLBACK);
                }
                guards.maybe_orphans.extend(strays);
            }
        }
        stats
    }
}

/// The thread that checkpoints the index's write-ahead log when the writer wakes it. It ends
/// when the writer thread does; SQLite checkpoints the rest when the last connection closes.
struct Checkpointer {
    /// Capacity 1: wake-ups while a checkpoint runs fold into one more.
    wake: mpsc::SyncSender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    fn start(index_path: &Path) -> io::Result<Checkpointer> {
        let conn = index::open_checkpoint_connection(index_path).map_err(io::Error::other)?;
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("libres3-index-checkpoint".into())
            .spawn(move || {
                while woken.recv().is_ok() {
                    // A failed checkpoint loses nothing: the log keeps every commit, and the
                    // next one (or the writer's own, past WRITER_CHECKPOINT_PAGES) retries.
                    if let Err(e) = index::checkpoint(&conn) {
                        log::warn!("index checkpoint failed: {e}");
                    }
                }
            })?;
        Ok(Checkpointer {
            wake,
            thread: Some(thread),
        })
    }

    fn wake(&self) {
        // Full: a checkpoint is already due, which will copy this commit too.
        let _ = self.wake.try_send(());
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Closing the channel ends the loop once the checkpoint under way is done.
        let (closed, _) = mpsc::sync_channel(0);
        drop(std::mem::replace(&mut self.wake, closed));
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                log::error!("the index checkpoint thread panicked");
            }
        }
    }
}
