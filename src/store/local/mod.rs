//! The embedded store: SQLite index and content-addressed block files.
//!
//! On disk, for storage directories `d0 d1 ...` (`d0` holds the index):
//!
//! ```text
//! d0/index.sqlite (+ -wal, -shm)   users, buckets, objects, uploads, parts, block records
//! dN/libres3-dir                   identity: this store's id and the directory's id
//! dN/blocks/ab/cd/<hex hash>       block files (4 MiB, the last of an object shorter); named by
//!                                  BLAKE3 (SHA-256 in stores older than the index's
//!                                  `block_names` row), or by HMAC-SHA256 and sealed when the
//!                                  store is encrypted
//! dN/tmp/                          blocks being written; emptied at startup
//! ```
//!
//! Small bodies (≤ `staging::INLINE_MAX`, 64 KiB) live in their object row. Larger ones are
//! cut into `blocks::BLOCK_SIZE` (4 MiB) blocks, deduplicated by content; a block is durable before the row naming
//! it commits, and refcounts change in the same transaction as the rows. Unreferenced blocks
//! are collected by the writer thread once no reader or upload can need them.
//!
//! With a key (`encryption_key_file`), block files and inline data are sealed and blocks are
//! named by a keyed hash instead of a plain one (`sealing`); the index records it at creation.
//!
//! Map: `open` (directories, identity files, locks, key check) then `recover` (crash
//! recovery); `index` holds every SQL statement; `object_store` implements
//! [`ObjectStore`](crate::store::ObjectStore) over `staging` (bodies to blocks), `blocks` (block files, pins), `writer` (the writer
//! thread, group commit, GC) and `reader` (object bodies), with `small_objects` answering
//! repeated reads of small objects until the next write; `sealing` is encryption at rest;
//! `users` the user table for `libres3 user ...` and the request path's user cache; `state`
//! the admin health report.

mod blocks;
mod error;
mod index;
mod object_store;
mod open;
mod reader;
mod recover;
mod sealing;
mod small_objects;
mod staging;
mod state;
mod users;
mod version_rows;
mod versions;
mod writer;

pub use error::LocalError;
pub use reader::LocalReader;
pub use sealing::StoreKey;
pub use staging::LocalStaged;
pub use users::UserAdmin;
pub use writer::GcStats;

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use nix::fcntl::Flock;
use ring::rand::SystemRandom;
use rusqlite::Connection;

use self::blocks::{BlockGuards, StorageDir};
use self::index::{ReadPool, INDEX_FILE};
use self::reader::ReaderRegistry;
use self::sealing::Sealing;
use self::writer::Writer;
use super::{SecretKey, StoreError, User};

/// State shared by the store, its blocking tasks, staged values and readers.
pub(crate) struct Shared {
    dirs: Vec<StorageDir>,
    guards: Mutex<BlockGuards>,
    readers: ReaderRegistry,
    reads: ReadPool,
    rng: SystemRandom,
    /// Seals block files and inline data, and names blocks; a pass-through without a key.
    sealing: Sealing,
    /// Owners of buckets recent requests wrote to. Only a hint, to stage a body without a
    /// read first: the commit checks the owner again, so a stale entry can at worst let a
    /// doomed upload stage. Never consulted to refuse a request.
    bucket_owners: moka::sync::Cache<String, String>,
    /// Users by access key, checked against the index's users generation on every use.
    users: users::UserCache,
    /// The block buffers all uploads share (at most `staging::BLOCK_BUFFERS`).
    block_buffers: staging::BlockBuffers,
    /// Transactions the writer committed (each holds a group of requests).
    commits: AtomicU64,
    /// Small objects read since the writer's last transaction.
    small_objects: small_objects::SmallObjects,
    /// flock()ed identity files: one process per storage directory.
    _locks: Vec<Flock<File>>,
}

impl Shared {
    fn dir(&self, id: i64) -> Option<&StorageDir> {
        self.dirs.iter().find(|dir| dir.id == id)
    }

    fn index_path(&self) -> PathBuf {
        self.dirs
            .first()
            .map(|dir| dir.path.join(INDEX_FILE))
            .unwrap_or_default()
    }
}

/// The embedded store. `Send + Sync`: share it with an `Arc` between worker threads.
pub struct LocalStore {
    shared: Arc<Shared>,
    writer: Writer,
}

impl LocalStore {
    /// Adds a user; fails with a message saying so when the name or access key is taken.
    pub async fn add_user(
        &self,
        name: &str,
        access_key: &str,
        secret: &SecretKey,
    ) -> Result<(), StoreError> {
        let (name, access_key, secret) = (name.to_owned(), access_key.to_owned(), secret.clone());
        self.writer
            .run(None, move |tx| {
                users::add(tx.conn, &name, &access_key, &secret)
            })
            .await?;
        self.shared.users.changed();
        Ok(())
    }

    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        self.read(users::list).await
    }

    /// Removes unreferenced blocks that no reader or upload can still need (the writer also
    /// does this by itself when idle).
    pub async fn collect_garbage(&self) -> Result<GcStats, StoreError> {
        self.writer.collect_garbage().await
    }

    /// Runs `f` on a read connection on the calling thread, inside one read transaction: for
    /// the GET path's read of a few pages that the page cache holds, where the two thread
    /// switches of a blocking task cost more than the read itself (nginx, too, reads files on
    /// its event loop).
    fn read_here<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.shared.reads.with(f)
    }

    /// Runs `f` on a read connection in a blocking task, inside one read transaction.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || shared.reads.with(f))
            .await
            .map_err(|e| StoreError::Internal(format!("index read task failed: {e}")))?
    }
}

#[cfg(test)]
mod tests;
