//! The embedded store: SQLite index and content-addressed block files.
//!
//! On disk, for storage directories `d0 d1 ...` (`d0` holds the index):
//!
//! ```text
//! d0/index.sqlite (+ -wal, -shm)   users, buckets, objects, uploads, parts, block records
//! dN/libres3-dir                   identity: this store's id and the directory's id
//! dN/blocks/ab/cd/<hex sha-256>    block files (4 MiB, the last of an object shorter); named by
//!                                  HMAC-SHA256 and sealed when the store is encrypted
//! dN/tmp/                          blocks being written; emptied at startup
//! ```
//!
//! Small bodies (≤ `staging::INLINE_MAX`, 64 KiB) live in their object row. Larger ones are
//! cut into `blocks::BLOCK_SIZE` (4 MiB) blocks, deduplicated by content; a block is durable before the row naming
//! it commits, and refcounts change in the same transaction as the rows. Unreferenced blocks
//! are collected by the writer thread once no reader or upload can need them.
//!
//! With a key (`encryption_key_file`), block files and inline data are sealed and blocks are
//! named by a keyed hash instead of SHA-256 (`sealing`); the index records it at creation.

mod blocks;
mod index;
mod reader;
mod sealing;
mod staging;
mod state;
mod users;
mod writer;

pub use users::UserAdmin;

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use ring::rand::SystemRandom;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

pub use reader::LocalReader;
pub use sealing::StoreKey;
pub use staging::LocalStaged;
pub use writer::GcStats;

use self::blocks::{random_hex, BlockGuards, StorageDir};
use self::index::{
    check_condition, check_owner, check_upload, decode_blocks, encode_blocks, existing_object,
    from_ms, headers_to_json, key_from_db, meta_from_db, now_ms, prefix_successor, size_from_db,
    size_to_db, DbResult, ReadPool, INDEX_FILE,
};
use nix::errno::Errno;

use self::index::ExistingObject;
use self::writer::Tx;
use nix::fcntl::{Flock, FlockArg};

use self::reader::{Body, LocatedBlock, ReaderRegistry, ReaderTicket};
use self::sealing::Sealing;
use self::writer::Writer;
use super::{
    AbortedUpload, BodyStream, BucketDocuments, BucketInfo, CopySource, ListStart, ObjectInfo,
    ObjectMeta, ObjectStore, ObjectSummary, PartInfo, Principal, SecretKey, Staged, StoreError,
    UploadInfo, User, WriteCondition,
};

/// Name of the identity file in each storage directory.
const IDENTITY_FILE: &str = "libres3-dir";

/// Why the store cannot open. Each message names the path involved and what to do.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("no storage directory given: pass at least one --data-dir")]
    NoDirectory,
    #[error("cannot create storage directory {path}: {source}; create it or make its parent writable by the server's user")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot use {path}: {source}; check that it exists and that the server's user may read and write it")]
    Access { path: PathBuf, source: io::Error },
    #[error("{path} is locked by another running libres3; stop it first, or give this one other --data-dir directories")]
    Locked { path: PathBuf },
    #[error("index {path}: {source}; if the file is damaged, restore it from a backup")]
    Index {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("storage directory {path} holds an index ({INDEX_FILE}) but is not the first; list it first among the --data-dir directories")]
    IndexNotFirst { path: PathBuf },
    #[error("storage directory {path} belongs to another store (store {found}, this index is store {expected}); remove it from the --data-dir list")]
    ForeignDir {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("identity file {path} is damaged; restore it from a backup or, if the directory holds nothing of value, empty the directory")]
    BadIdentity { path: PathBuf },
    #[error("storage directory {path} holds block files but no identity file ({IDENTITY_FILE}); restore that file, or empty the directory if its blocks are not needed")]
    Unidentified { path: PathBuf },
    #[error(
        "storage directories {first} and {second} are the same directory; give each only once"
    )]
    Duplicate { first: PathBuf, second: PathBuf },
    #[error("the index references storage directory {last_path} (id {ident}), which is not among the given directories; add it back with --data-dir")]
    MissingDir { last_path: String, ident: String },
    #[error(
        "crash recovery in {path}: {source}; check the permissions and the health of that disk"
    )]
    Recovery { path: PathBuf, source: StoreError },
    #[error("cannot start the index writer thread: {0}")]
    Thread(io::Error),
    #[error("{index}: this store is encrypted (key id {key_id}) but no encryption_key_file is set; set encryption_key_file in libres3.conf to the key file the store was created with")]
    KeyMissing { index: PathBuf, key_id: String },
    #[error("{key}: not the key of the encrypted store {index} (this key's id is {found}, the store's is {expected}); set encryption_key_file to the key file the store was created with")]
    WrongKey {
        key: String,
        index: PathBuf,
        found: String,
        expected: String,
    },
    #[error("{key}: the store {index} was created without encryption, and libres3 does not encrypt existing data in place; remove encryption_key_file, or give an empty data_dir for a new encrypted store and copy the objects over (e.g. with rclone sync)")]
    NotEncrypted { key: String, index: PathBuf },
    #[error("{index}: the store is encrypted with {scheme}, which this version of libres3 does not know; run the version that created the store")]
    UnknownEncryption { index: PathBuf, scheme: String },
    #[error("encryption at rest: {0}")]
    Crypto(String),
}

/// State shared by the store, its blocking tasks, staged values and readers.
pub(crate) struct Shared {
    dirs: Vec<StorageDir>,
    guards: Mutex<BlockGuards>,
    readers: ReaderRegistry,
    reads: ReadPool,
    rng: SystemRandom,
    /// Seals block files and inline data, and names blocks; a pass-through without a key.
    sealing: Sealing,
    /// Transactions the writer committed (each holds a group of requests).
    commits: AtomicU64,
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
    /// Opens or initialises an unencrypted store: [`LocalStore::open_with_key`] without a key.
    pub fn open(dirs: &[PathBuf]) -> Result<LocalStore, LocalError> {
        LocalStore::open_with_key(dirs, None)
    }

    /// Opens or initialises the store over one or more storage directories (the first holds
    /// the SQLite index), creating missing ones, and runs crash recovery. With `key`, data is
    /// encrypted at rest; a new store records whether it is encrypted and with which key, and
    /// an existing one refuses to open with another key, or with a key when it was created
    /// without one (and the reverse).
    pub fn open_with_key(
        dirs: &[PathBuf],
        key: Option<&StoreKey>,
    ) -> Result<LocalStore, LocalError> {
        let Some(first) = dirs.first() else {
            return Err(LocalError::NoDirectory);
        };
        for dir in dirs {
            for path in [dir.clone(), dir.join("blocks"), dir.join("tmp")] {
                fs::create_dir_all(&path)
                    .map_err(|source| LocalError::CreateDir { path, source })?;
            }
            // The entries just made must survive a power loss before blocks go below them.
            blocks::sync_dir(dir).map_err(|source| LocalError::Access {
                path: dir.clone(),
                source,
            })?;
        }
        for dir in &dirs[1..] {
            if dir.join(INDEX_FILE).exists() {
                return Err(LocalError::IndexNotFirst { path: dir.clone() });
            }
        }

        let index_path = first.join(INDEX_FILE);
        prepare_private_file(&index_path).map_err(|source| LocalError::Access {
            path: index_path.clone(),
            source,
        })?;
        let index_error = |source| LocalError::Index {
            path: index_path.clone(),
            source,
        };
        let conn = index::open_write_connection(&index_path).map_err(index_error)?;
        let rng = SystemRandom::new();
        let fresh_id = random_hex(&rng, 16).map_err(|e| LocalError::Access {
            path: index_path.clone(),
            source: io::Error::other(e.to_string()),
        })?;
        let store_id = store_id(&conn, fresh_id).map_err(index_error)?;

        let mut identities: Vec<(PathBuf, String)> = Vec::new();
        let mut locks = Vec::new();
        for dir in dirs {
            let (ident, lock) = dir_identity(dir, &store_id, &rng)?;
            if let Some((other, _)) = identities.iter().find(|(_, known)| *known == ident) {
                return Err(LocalError::Duplicate {
                    first: other.clone(),
                    second: dir.clone(),
                });
            }
            identities.push((dir.clone(), ident));
            locks.push(lock);
        }
        // Checked once the directories are locked, before recovery touches anything.
        let sealing = Sealing::new(key)?;
        sealing::check_store(&conn, &index_path, key, &sealing)?;
        if let Some(key) = key {
            log::info!("{}", sealing::describe(key, &sealing));
        }
        let storage = register_dirs(&conn, &identities).map_err(index_error)?;
        check_missing_dirs(&conn, &identities).map_err(|e| match e {
            Missing::Dir(e) => e,
            Missing::Db(source) => index_error(source),
        })?;
        recover(&conn, &storage)?;

        let shared = Arc::new(Shared {
            dirs: storage,
            guards: Mutex::new(BlockGuards::default()),
            readers: ReaderRegistry::default(),
            reads: ReadPool::new(index_path.clone()),
            rng,
            sealing,
            commits: AtomicU64::new(0),
            _locks: locks,
        });
        let writer = Writer::start(conn, shared.clone()).map_err(LocalError::Thread)?;
        Ok(LocalStore { shared, writer })
    }

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
            .await
    }

    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        self.read(users::list).await
    }

    /// Removes unreferenced blocks that no reader or upload can still need (the writer also
    /// does this by itself when idle).
    pub async fn collect_garbage(&self) -> Result<GcStats, StoreError> {
        self.writer.collect_garbage().await
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

// ---------------------------------------------------------------------------------------------
// Opening

/// Creates `path` readable by its owner only, or narrows an existing file to that.
pub(crate) fn prepare_private_file(path: &Path) -> io::Result<()> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
}

/// This store's id, set to `fresh` when the index is new.
fn store_id(conn: &Connection, fresh: String) -> rusqlite::Result<String> {
    let found: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE name = 'store_id'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(id) = found {
        return Ok(id);
    }
    conn.execute(
        "INSERT INTO meta(name, value) VALUES ('store_id', ?1)",
        params![fresh],
    )?;
    Ok(fresh)
}

/// Reads (or creates) the identity file of `dir` and locks it. Returns the directory's id.
fn dir_identity(
    dir: &Path,
    store_id: &str,
    rng: &SystemRandom,
) -> Result<(String, Flock<File>), LocalError> {
    let path = dir.join(IDENTITY_FILE);
    let access = |source| LocalError::Access {
        path: path.clone(),
        source,
    };
    let ident = match fs::read_to_string(&path) {
        Ok(text) => {
            let field = |name: &str| {
                text.lines()
                    .find_map(|line| line.strip_prefix(name))
                    .map(|value| value.trim().to_owned())
                    .filter(|value| !value.is_empty())
            };
            let (Some(found_store), Some(ident)) = (field("store "), field("dir ")) else {
                return Err(LocalError::BadIdentity { path });
            };
            if found_store != store_id {
                return Err(LocalError::ForeignDir {
                    path: dir.to_path_buf(),
                    found: found_store,
                    expected: store_id.to_owned(),
                });
            }
            ident
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let has_blocks = fs::read_dir(dir.join("blocks"))
                .map_err(access)?
                .next()
                .is_some();
            if has_blocks {
                return Err(LocalError::Unidentified {
                    path: dir.to_path_buf(),
                });
            }
            let ident = random_hex(rng, 16).map_err(|e| access(io::Error::other(e.to_string())))?;
            write_identity(dir, store_id, &ident).map_err(access)?;
            ident
        }
        Err(e) => return Err(access(e)),
    };
    let lock = File::open(&path).map_err(access)?;
    match Flock::lock(lock, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok((ident, lock)),
        Err((_, Errno::EWOULDBLOCK)) => Err(LocalError::Locked { path }),
        Err((_, e)) => Err(access(e.into())),
    }
}

fn write_identity(dir: &Path, store_id: &str, ident: &str) -> io::Result<()> {
    let tmp = dir.join(format!("{IDENTITY_FILE}.new"));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    writeln!(file, "libres3 storage directory")?;
    writeln!(file, "store {store_id}")?;
    writeln!(file, "dir {ident}")?;
    file.sync_all()?;
    fs::rename(&tmp, dir.join(IDENTITY_FILE))?;
    blocks::sync_dir(dir)
}

/// Records each directory (by identity) in the index and returns them with their ids.
fn register_dirs(
    conn: &Connection,
    identities: &[(PathBuf, String)],
) -> rusqlite::Result<Vec<StorageDir>> {
    let mut storage = Vec::new();
    for (path, ident) in identities {
        let id: i64 = conn.query_row(
            "INSERT INTO dirs(ident, last_path) VALUES (?1, ?2)
             ON CONFLICT(ident) DO UPDATE SET last_path = excluded.last_path
             RETURNING dir_id",
            params![ident, path.to_string_lossy()],
            |row| row.get(0),
        )?;
        storage.push(StorageDir::new(id, path.clone()));
    }
    Ok(storage)
}

enum Missing {
    Dir(LocalError),
    Db(rusqlite::Error),
}

/// Fails when a directory the index has blocks in was not given.
fn check_missing_dirs(conn: &Connection, given: &[(PathBuf, String)]) -> Result<(), Missing> {
    let known: Vec<(i64, String, String)> = conn
        .prepare("SELECT dir_id, ident, last_path FROM dirs")
        .and_then(|mut stmt| {
            stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                .collect()
        })
        .map_err(Missing::Db)?;
    for (dir_id, ident, last_path) in known {
        if given.iter().any(|(_, given)| *given == ident) {
            continue;
        }
        let used: bool = conn
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM blocks WHERE dir_id = ?1)",
                params![dir_id],
                |row| row.get(0),
            )
            .map_err(Missing::Db)?;
        if used {
            return Err(Missing::Dir(LocalError::MissingDir { last_path, ident }));
        }
    }
    Ok(())
}

/// Crash recovery: empties `tmp/`, drops unreferenced blocks, sweeps files no row names.
fn recover(conn: &Connection, dirs: &[StorageDir]) -> Result<(), LocalError> {
    for dir in dirs {
        let tmp = dir.tmp_dir();
        let removed = blocks::clear_tmp(&tmp).map_err(|source| LocalError::Recovery {
            path: tmp.clone(),
            source: source.into(),
        })?;
        if removed > 0 {
            log::info!(
                "recovery: removed {removed} unfinished block writes in {}",
                tmp.display()
            );
        }
    }

    let index_failure = |source: StoreError| LocalError::Recovery {
        path: dirs
            .first()
            .map(|d| d.path.join(INDEX_FILE))
            .unwrap_or_default(),
        source,
    };
    let unreferenced: Vec<(Vec<u8>, i64)> = conn
        .prepare("SELECT hash, dir_id FROM blocks WHERE refcount <= 0")
        .and_then(|mut stmt| {
            stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })
        .db()
        .map_err(index_failure)?;
    if !unreferenced.is_empty() {
        conn.execute("DELETE FROM blocks WHERE refcount <= 0", [])
            .db()
            .map_err(index_failure)?;
        for (hash, dir_id) in &unreferenced {
            let (Ok(hash), Some(dir)) = (
                <[u8; 32]>::try_from(hash.as_slice()),
                dirs.iter().find(|d| d.id == *dir_id),
            ) else {
                continue;
            };
            blocks::remove_block_file(dir, &hash);
        }
        log::info!(
            "recovery: removed {} unreferenced blocks",
            unreferenced.len()
        );
    }

    let mut located = conn
        .prepare("SELECT dir_id FROM blocks WHERE hash = ?1")
        .db()
        .map_err(index_failure)?;
    for dir in dirs {
        log::info!("recovery: checking block files in {}", dir.path.display());
        let (seen, removed) = blocks::sweep_unreferenced(dir, |hash| {
            let recorded: Option<i64> = located
                .query_row(params![&hash[..]], |row| row.get(0))
                .optional()
                .db()?;
            Ok(recorded == Some(dir.id))
        })
        .map_err(|source| LocalError::Recovery {
            path: dir.blocks_root(),
            source,
        })?;
        log::info!(
            "recovery: {seen} block files in {}, removed {removed} that no object uses",
            dir.path.display()
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Object store

fn user_name(who: &Principal) -> Result<&str, StoreError> {
    match who {
        Principal::User(name) => Ok(name),
        Principal::Anonymous => Err(StoreError::AccessDenied),
    }
}

/// Releases every part of an upload and removes it.
fn drop_upload(tx: &mut writer::Tx<'_>, upload_id: &str) -> Result<(), StoreError> {
    let lists: Vec<Vec<u8>> = tx
        .conn
        .prepare_cached("SELECT blocks FROM parts WHERE upload_id = ?1")
        .db()?
        .query_map(params![upload_id], |row| row.get(0))
        .db()?
        .collect::<rusqlite::Result<_>>()
        .db()?;
    for list in lists {
        tx.release(&decode_blocks(&list)?)?;
    }
    tx.conn
        .execute("DELETE FROM parts WHERE upload_id = ?1", params![upload_id])
        .db()?;
    tx.conn
        .execute(
            "DELETE FROM uploads WHERE upload_id = ?1",
            params![upload_id],
        )
        .db()?;
    Ok(())
}

/// Lower bound (value, inclusive) and exclusive upper bound for keys under `prefix` from
/// `start`; None when nothing can match.
fn key_range(prefix: &str, start: &ListStart) -> Option<(Vec<u8>, bool, Option<Vec<u8>>)> {
    let prefix = prefix.as_bytes();
    let upper = prefix_successor(prefix);
    let (lower, inclusive) = match start {
        ListStart::Beginning => (prefix.to_vec(), true),
        ListStart::After(key) if key.as_bytes() >= prefix => (key.as_bytes().to_vec(), false),
        ListStart::After(_) => (prefix.to_vec(), true),
        ListStart::AfterPrefix(skipped) => {
            let next = prefix_successor(skipped.as_bytes())?;
            if next.as_slice() >= prefix {
                (next, true)
            } else {
                (prefix.to_vec(), true)
            }
        }
    };
    if let Some(upper) = &upper {
        if lower >= *upper {
            return None;
        }
    }
    Some((lower, inclusive, upper))
}

fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Writes `key`'s row in place of `existing`, whose blocks lose the references it held (the
/// caller has referenced the new blocks first, so shared blocks never reach 0). Returns the
/// modification time written.
#[allow(clippy::too_many_arguments)]
fn replace_object_row(
    tx: &mut Tx<'_>,
    existing: Option<&ExistingObject>,
    bucket: &str,
    key: &str,
    size: i64,
    (etag, headers_json): (&str, &str),
    inline: Option<&[u8]>,
    blocks: Option<&[u8]>,
) -> Result<i64, StoreError> {
    if let Some(old) = existing.and_then(|e| e.blocks.as_deref()) {
        tx.release(&decode_blocks(old)?)?;
    }
    let mtime = now_ms();
    tx.conn
        .prepare_cached(
            "INSERT OR REPLACE INTO objects
             (bucket, key, size, etag, meta_json, mtime_ms, inline_data, blocks)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .db()?
        .execute(params![
            bucket,
            key.as_bytes(),
            size,
            etag,
            headers_json,
            mtime,
            inline,
            blocks
        ])
        .db()?;
    Ok(mtime)
}

impl ObjectStore for LocalStore {
    type Staged = LocalStaged;
    type Reader = LocalReader;

    fn encrypts_at_rest(&self) -> bool {
        self.shared.sealing.is_on()
    }

    async fn backend_state(&self) -> crate::store::BackendState {
        state::backend_state(self).await
    }

    async fn user_by_access_key(&self, access_key: &str) -> Result<Option<User>, StoreError> {
        let access_key = access_key.to_owned();
        self.read(move |conn| {
            conn.prepare_cached("SELECT name, access_key, secret FROM users WHERE access_key = ?1")
                .db()?
                .query_row(params![access_key], users::user_from_row)
                .optional()
                .db()
        })
        .await
    }

    async fn list_buckets(&self, who: &Principal) -> Result<Vec<BucketInfo>, StoreError> {
        let owner = user_name(who)?.to_owned();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT name, owner, created_ms FROM buckets WHERE owner = ?1 ORDER BY name",
                )
                .db()?;
            let rows = stmt
                .query_map(params![owner], |row| {
                    Ok(BucketInfo {
                        name: row.get(0)?,
                        owner: row.get(1)?,
                        created: from_ms(row.get(2)?),
                    })
                })
                .db()?;
            rows.collect::<rusqlite::Result<Vec<_>>>().db()
        })
        .await
    }

    async fn create_bucket(&self, who: &Principal, bucket: &str) -> Result<(), StoreError> {
        let owner = user_name(who)?.to_owned();
        let bucket = bucket.to_owned();
        self.writer
            .run(None, move |tx| {
                let existing: Option<String> = tx
                    .conn
                    .query_row(
                        "SELECT owner FROM buckets WHERE name = ?1",
                        params![bucket],
                        |row| row.get(0),
                    )
                    .optional()
                    .db()?;
                match existing {
                    Some(existing) if existing == owner => Err(StoreError::BucketAlreadyOwnedByYou),
                    Some(_) => Err(StoreError::BucketAlreadyExists),
                    None => {
                        tx.conn
                            .execute(
                                "INSERT INTO buckets(name, owner, created_ms) VALUES (?1, ?2, ?3)",
                                params![bucket, owner, now_ms()],
                            )
                            .db()?;
                        Ok(())
                    }
                }
            })
            .await
    }

    async fn bucket_info(&self, who: &Principal, bucket: &str) -> Result<BucketInfo, StoreError> {
        let (who, bucket) = (who.clone(), bucket.to_owned());
        self.read(move |conn| {
            check_owner(conn, &who, &bucket)?;
            conn.query_row(
                "SELECT name, owner, created_ms FROM buckets WHERE name = ?1",
                params![bucket],
                |row| {
                    Ok(BucketInfo {
                        name: row.get(0)?,
                        owner: row.get(1)?,
                        created: from_ms(row.get(2)?),
                    })
                },
            )
            .db()
        })
        .await
    }

    async fn delete_bucket(&self, who: &Principal, bucket: &str) -> Result<(), StoreError> {
        let (who, bucket) = (who.clone(), bucket.to_owned());
        self.writer
            .run(None, move |tx| {
                check_owner(tx.conn, &who, &bucket)?;
                let has_objects: bool = tx
                    .conn
                    .query_row(
                        "SELECT EXISTS(SELECT 1 FROM objects WHERE bucket = ?1)",
                        params![bucket],
                        |row| row.get(0),
                    )
                    .db()?;
                if has_objects {
                    return Err(StoreError::BucketNotEmpty);
                }
                let uploads: Vec<String> = tx
                    .conn
                    .prepare("SELECT upload_id FROM uploads WHERE bucket = ?1")
                    .db()?
                    .query_map(params![bucket], |row| row.get(0))
                    .db()?
                    .collect::<rusqlite::Result<_>>()
                    .db()?;
                for upload_id in uploads {
                    drop_upload(tx, &upload_id)?;
                }
                tx.conn
                    .execute(
                        "DELETE FROM bucket_documents WHERE bucket = ?1",
                        params![bucket],
                    )
                    .db()?;
                tx.conn
                    .execute("DELETE FROM buckets WHERE name = ?1", params![bucket])
                    .db()?;
                Ok(())
            })
            .await
    }

    async fn stage(
        &self,
        who: &Principal,
        bucket: &str,
        body: BodyStream,
        size: Option<u64>,
    ) -> Result<LocalStaged, StoreError> {
        // Refuse before taking any disk space from a bucket the caller may not write to.
        let (owner, name) = (who.clone(), bucket.to_owned());
        self.read(move |conn| check_owner(conn, &owner, &name))
            .await?;
        let staged = staging::stage(&self.shared, body, size).await;
        if let Err(StoreError::OutOfSpace(why)) = &staged {
            // Give back now what this upload wrote and what deleted objects left, rather than
            // when the writer is next idle, so that a retry finds the space.
            match self.collect_garbage().await {
                Ok(gc) => log::warn!(
                    "out of space ({why}); collected garbage at once: {} blocks and {} stray \
                     files removed",
                    gc.deleted_blocks,
                    gc.removed_strays
                ),
                Err(e) => log::error!("out of space ({why}); garbage collection failed: {e}"),
            }
        }
        staged
    }

    async fn commit_object(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        data: LocalStaged,
        meta: ObjectMeta,
        condition: WriteCondition,
    ) -> Result<ObjectInfo, StoreError> {
        let (who, bucket, key) = (who.clone(), bucket.to_owned(), key.to_owned());
        let size = data.size();
        let db_size = size_to_db(size)?;
        let headers_json = headers_to_json(&meta)?;
        let new_blocks = data.located_blocks();
        let inline = match &data.content {
            staging::StagedContent::Inline(bytes) => {
                Some(self.shared.sealing.seal_inline(bytes.clone())?)
            }
            staging::StagedContent::Blocks(_) => None,
        };
        self.writer
            .run(Some(data), move |tx| {
                check_owner(tx.conn, &who, &bucket)?;
                let existing = existing_object(tx.conn, &bucket, &key)?;
                check_condition(&condition, existing.as_ref())?;
                // Reference the new blocks before releasing the old ones, so a block both
                // versions share never reaches refcount 0.
                let encoded = match &new_blocks {
                    Some(blocks) => {
                        tx.reference_staged(blocks)?;
                        let list: Vec<_> = blocks.iter().map(|(block, _)| *block).collect();
                        Some(encode_blocks(&list))
                    }
                    None => None,
                };
                let mtime = replace_object_row(
                    tx,
                    existing.as_ref(),
                    &bucket,
                    &key,
                    db_size,
                    (&meta.etag, &headers_json),
                    inline.as_deref(),
                    encoded.as_deref(),
                )?;
                Ok(ObjectInfo {
                    key,
                    size,
                    last_modified: from_ms(mtime),
                    meta,
                })
            })
            .await
    }

    async fn open_object(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
    ) -> Result<LocalReader, StoreError> {
        // Registered before the index read: the blocks it finds stay until the ticket drops.
        let ticket = ReaderTicket::new(&self.shared);
        let shared = self.shared.clone();
        let (who, bucket, key) = (who.clone(), bucket.to_owned(), key.to_owned());
        let (info, body) = self
            .read(move |conn| {
                check_owner(conn, &who, &bucket)?;
                type Row = (i64, String, String, i64, Option<Vec<u8>>, Option<Vec<u8>>);
                let row: Option<Row> = conn
                    .prepare_cached(
                        "SELECT size, etag, meta_json, mtime_ms, inline_data, blocks
                         FROM objects WHERE bucket = ?1 AND key = ?2",
                    )
                    .db()?
                    .query_row(params![bucket, key.as_bytes()], |row| {
                        Ok((
                            row.get(0)?,
                            row.get(1)?,
                            row.get(2)?,
                            row.get(3)?,
                            row.get(4)?,
                            row.get(5)?,
                        ))
                    })
                    .optional()
                    .db()?;
                let Some((size, etag, meta_json, mtime, inline, block_list)) = row else {
                    return Err(StoreError::NoSuchKey);
                };
                let body = match (inline, block_list) {
                    (Some(data), _) => {
                        Body::Inline(shared.sealing.open_inline(data).map_err(|e| {
                            log::error!(
                                "object {bucket}/{key}: inline data in {}: {e}",
                                shared.index_path().display()
                            );
                            StoreError::Internal(format!("object {bucket}/{key}: {e}"))
                        })?)
                    }
                    (None, Some(list)) => Body::Blocks(locate_blocks(conn, &shared, &list)?),
                    (None, None) => {
                        return Err(StoreError::Internal(format!(
                            "index: object {key} has no data"
                        )))
                    }
                };
                let info = ObjectInfo {
                    key,
                    size: size_from_db(size)?,
                    last_modified: from_ms(mtime),
                    meta: meta_from_db(etag, &meta_json)?,
                };
                Ok((info, body))
            })
            .await?;
        Ok(LocalReader { info, body, ticket })
    }

    async fn delete_object(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        let (who, bucket, key) = (who.clone(), bucket.to_owned(), key.to_owned());
        self.writer
            .run(None, move |tx| {
                check_owner(tx.conn, &who, &bucket)?;
                let Some(existing) = existing_object(tx.conn, &bucket, &key)? else {
                    return Ok(());
                };
                if let Some(list) = &existing.blocks {
                    tx.release(&decode_blocks(list)?)?;
                }
                tx.conn
                    .execute(
                        "DELETE FROM objects WHERE bucket = ?1 AND key = ?2",
                        params![bucket, key.as_bytes()],
                    )
                    .db()?;
                Ok(())
            })
            .await
    }

    async fn list_objects(
        &self,
        who: &Principal,
        bucket: &str,
        prefix: &str,
        start: &ListStart,
        limit: usize,
    ) -> Result<Vec<ObjectSummary>, StoreError> {
        let (who, bucket) = (who.clone(), bucket.to_owned());
        let range = key_range(prefix, start);
        self.read(move |conn| {
            check_owner(conn, &who, &bucket)?;
            let Some((lower, inclusive, upper)) = range.filter(|_| limit > 0) else {
                return Ok(Vec::new());
            };
            let mut sql = String::from(
                "SELECT key, size, mtime_ms, etag FROM objects WHERE bucket = ? AND key ",
            );
            sql.push_str(if inclusive { ">= ?" } else { "> ?" });
            let mut values = vec![Value::Text(bucket), Value::Blob(lower)];
            if let Some(upper) = upper {
                sql.push_str(" AND key < ?");
                values.push(Value::Blob(upper));
            }
            sql.push_str(" ORDER BY key LIMIT ?");
            values.push(Value::Integer(sql_limit(limit)));
            let mut stmt = conn.prepare_cached(&sql).db()?;
            let mut rows = stmt.query(params_from_iter(values)).db()?;
            let mut listed = Vec::new();
            while let Some(row) = rows.next().db()? {
                listed.push(ObjectSummary {
                    key: key_from_db(row.get(0).db()?)?,
                    size: size_from_db(row.get(1).db()?)?,
                    last_modified: from_ms(row.get(2).db()?),
                    etag: row.get(3).db()?,
                });
            }
            Ok(listed)
        })
        .await
    }

    async fn create_multipart(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        meta: ObjectMeta,
    ) -> Result<String, StoreError> {
        let (who, bucket, key) = (who.clone(), bucket.to_owned(), key.to_owned());
        let upload_id = random_hex(&self.shared.rng, 16)?;
        let headers_json = headers_to_json(&meta)?;
        self.writer
            .run(None, move |tx| {
                check_owner(tx.conn, &who, &bucket)?;
                tx.conn
                    .execute(
                        "INSERT INTO uploads(upload_id, bucket, key, meta_json, initiated_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![upload_id, bucket, key.as_bytes(), headers_json, now_ms()],
                    )
                    .db()?;
                Ok(upload_id)
            })
            .await
    }

    async fn commit_part(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        data: LocalStaged,
        etag: String,
    ) -> Result<PartInfo, StoreError> {
        let (who, bucket, key) = (who.clone(), bucket.to_owned(), key.to_owned());
        let upload_id = upload_id.to_owned();
        let data = staging::into_blocks(&self.shared, data).await?;
        let size = data.size();
        let db_size = size_to_db(size)?;
        let new_blocks = data.located_blocks().unwrap_or_default();
        self.writer
            .run(Some(data), move |tx| {
                check_owner(tx.conn, &who, &bucket)?;
                check_upload(tx.conn, &bucket, &key, &upload_id)?;
                let old: Option<Vec<u8>> = tx
                    .conn
                    .query_row(
                        "SELECT blocks FROM parts WHERE upload_id = ?1 AND number = ?2",
                        params![upload_id, part_number],
                        |row| row.get(0),
                    )
                    .optional()
                    .db()?;
                tx.reference_staged(&new_blocks)?;
                if let Some(old) = old {
                    tx.release(&decode_blocks(&old)?)?;
                }
                let list: Vec<_> = new_blocks.iter().map(|(block, _)| *block).collect();
                let mtime = now_ms();
                tx.conn
                    .execute(
                        "INSERT OR REPLACE INTO parts
                         (upload_id, number, size, etag, mtime_ms, blocks)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![
                            upload_id,
                            part_number,
                            db_size,
                            etag,
                            mtime,
                            encode_blocks(&list)
                        ],
                    )
                    .db()?;
                Ok(PartInfo {
                    number: part_number,
                    size,
                    etag,
                    last_modified: from_ms(mtime),
                })
            })
            .await
    }

    async fn list_parts(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(UploadInfo, Vec<PartInfo>), StoreError> {
        let (who, bucket, key) = (who.clone(), bucket.to_owned(), key.to_owned());
        let upload_id = upload_id.to_owned();
        self.read(move |conn| {
            check_owner(conn, &who, &bucket)?;
            check_upload(conn, &bucket, &key, &upload_id)?;
            let (meta_json, initiated): (String, i64) = conn
                .query_row(
                    "SELECT meta_json, initiated_ms FROM uploads WHERE upload_id = ?1",
                    params![upload_id],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .db()?;
            let mut stmt = conn
                .prepare_cached(
                    "SELECT number, size, etag, mtime_ms FROM parts
                     WHERE upload_id = ?1 ORDER BY number",
                )
                .db()?;
            let mut rows = stmt.query(params![upload_id]).db()?;
            let mut parts = Vec::new();
            while let Some(row) = rows.next().db()? {
                parts.push(PartInfo {
                    number: row.get(0).db()?,
                    size: size_from_db(row.get(1).db()?)?,
                    etag: row.get(2).db()?,
                    last_modified: from_ms(row.get(3).db()?),
                });
            }
            let upload = UploadInfo {
                upload_id,
                key,
                initiated: from_ms(initiated),
                meta: meta_from_db(String::new(), &meta_json)?,
            };
            Ok((upload, parts))
        })
        .await
    }

    async fn complete_multipart(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
        meta: ObjectMeta,
        condition: WriteCondition,
    ) -> Result<ObjectInfo, StoreError> {
        let (who, bucket, key) = (who.clone(), bucket.to_owned(), key.to_owned());
        let upload_id = upload_id.to_owned();
        let parts = parts.to_vec();
        let headers_json = headers_to_json(&meta)?;
        self.writer
            .run(None, move |tx| {
                check_owner(tx.conn, &who, &bucket)?;
                check_upload(tx.conn, &bucket, &key, &upload_id)?;
                let mut joined = Vec::new();
                let mut size: u64 = 0;
                {
                    let mut part_row = tx
                        .conn
                        .prepare_cached(
                            "SELECT etag, size, blocks FROM parts
                             WHERE upload_id = ?1 AND number = ?2",
                        )
                        .db()?;
                    for (number, etag) in &parts {
                        let found: Option<(String, i64, Vec<u8>)> = part_row
                            .query_row(params![upload_id, number], |row| {
                                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                            })
                            .optional()
                            .db()?;
                        match found {
                            Some((found_etag, part_size, list)) if found_etag == *etag => {
                                size += size_from_db(part_size)?;
                                joined.extend(decode_blocks(&list)?);
                            }
                            _ => return Err(StoreError::InvalidPart(*number)),
                        }
                    }
                }
                let existing = existing_object(tx.conn, &bucket, &key)?;
                check_condition(&condition, existing.as_ref())?;
                // The object takes its own references; then the parts and any previous
                // version let go of theirs. No data is copied.
                tx.reference_existing(&joined)?;
                drop_upload(tx, &upload_id)?;
                let mtime = replace_object_row(
                    tx,
                    existing.as_ref(),
                    &bucket,
                    &key,
                    size_to_db(size)?,
                    (&meta.etag, &headers_json),
                    None,
                    Some(&encode_blocks(&joined)),
                )?;
                Ok(ObjectInfo {
                    key,
                    size,
                    last_modified: from_ms(mtime),
                    meta,
                })
            })
            .await
    }

    async fn abort_multipart(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), StoreError> {
        let (who, bucket, key) = (who.clone(), bucket.to_owned(), key.to_owned());
        let upload_id = upload_id.to_owned();
        self.writer
            .run(None, move |tx| {
                check_owner(tx.conn, &who, &bucket)?;
                check_upload(tx.conn, &bucket, &key, &upload_id)?;
                drop_upload(tx, &upload_id)
            })
            .await
    }

    async fn copy_object(
        &self,
        who: &Principal,
        source: &CopySource<'_>,
        dst_bucket: &str,
        dst_key: &str,
        meta: ObjectMeta,
        condition: WriteCondition,
    ) -> Result<ObjectInfo, StoreError> {
        let who = who.clone();
        let (src_bucket, src_key) = (source.bucket.to_owned(), source.key.to_owned());
        let if_etag = source.if_etag.map(str::to_owned);
        let (bucket, key) = (dst_bucket.to_owned(), dst_key.to_owned());
        let headers_json = headers_to_json(&meta)?;
        self.writer
            .run(None, move |tx| {
                check_owner(tx.conn, &who, &src_bucket)?;
                check_owner(tx.conn, &who, &bucket)?;
                type Row = (i64, String, Option<Vec<u8>>, Option<Vec<u8>>);
                let row: Option<Row> = tx
                    .conn
                    .prepare_cached(
                        "SELECT size, etag, inline_data, blocks
                         FROM objects WHERE bucket = ?1 AND key = ?2",
                    )
                    .db()?
                    .query_row(params![src_bucket, src_key.as_bytes()], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                    })
                    .optional()
                    .db()?;
                let Some((size, src_etag, inline, block_list)) = row else {
                    return Err(StoreError::NoSuchKey);
                };
                if if_etag.as_ref().is_some_and(|wanted| *wanted != src_etag) {
                    return Err(StoreError::SourceChanged);
                }
                let existing = existing_object(tx.conn, &bucket, &key)?;
                check_condition(&condition, existing.as_ref())?;
                // The copy takes its own references before the destination's previous
                // version lets go of its own: a block both name never reaches 0. No data
                // is written.
                if let Some(list) = &block_list {
                    tx.reference_existing(&decode_blocks(list)?)?;
                }
                let mtime = replace_object_row(
                    tx,
                    existing.as_ref(),
                    &bucket,
                    &key,
                    size,
                    (&meta.etag, &headers_json),
                    inline.as_deref(),
                    block_list.as_deref(),
                )?;
                Ok(ObjectInfo {
                    key,
                    size: size_from_db(size)?,
                    last_modified: from_ms(mtime),
                    meta,
                })
            })
            .await
    }

    async fn bucket_documents(&self, bucket: &str) -> Result<BucketDocuments, StoreError> {
        let bucket = bucket.to_owned();
        self.read(move |conn| {
            let info: Option<BucketInfo> = conn
                .prepare_cached("SELECT name, owner, created_ms FROM buckets WHERE name = ?1")
                .db()?
                .query_row(params![bucket], |row| {
                    Ok(BucketInfo {
                        name: row.get(0)?,
                        owner: row.get(1)?,
                        created: from_ms(row.get(2)?),
                    })
                })
                .optional()
                .db()?;
            let info = info.ok_or(StoreError::NoSuchBucket)?;
            let documents = conn
                .prepare_cached(
                    "SELECT name, document FROM bucket_documents WHERE bucket = ?1 ORDER BY name",
                )
                .db()?
                .query_map(params![bucket], |row| Ok((row.get(0)?, row.get(1)?)))
                .db()?
                .collect::<rusqlite::Result<Vec<_>>>()
                .db()?;
            Ok(BucketDocuments { info, documents })
        })
        .await
    }

    async fn put_bucket_document(
        &self,
        who: &Principal,
        bucket: &str,
        name: &str,
        document: Option<String>,
    ) -> Result<(), StoreError> {
        let (who, bucket, name) = (who.clone(), bucket.to_owned(), name.to_owned());
        self.writer
            .run(None, move |tx| {
                check_owner(tx.conn, &who, &bucket)?;
                match document {
                    Some(document) => tx.conn.execute(
                        "INSERT OR REPLACE INTO bucket_documents(bucket, name, document)
                         VALUES (?1, ?2, ?3)",
                        params![bucket, name, document],
                    ),
                    None => tx.conn.execute(
                        "DELETE FROM bucket_documents WHERE bucket = ?1 AND name = ?2",
                        params![bucket, name],
                    ),
                }
                .db()?;
                Ok(())
            })
            .await
    }

    async fn abort_uploads_initiated_before(
        &self,
        cutoff: std::time::SystemTime,
        limit: usize,
    ) -> Result<Vec<AbortedUpload>, StoreError> {
        let cutoff = index::to_ms(cutoff);
        self.writer
            .run(None, move |tx| {
                type Row = (String, String, Vec<u8>, i64, String);
                let rows: Vec<Row> = tx
                    .conn
                    .prepare_cached(
                        "SELECT upload_id, bucket, key, initiated_ms, meta_json FROM uploads
                         WHERE initiated_ms < ?1 ORDER BY initiated_ms LIMIT ?2",
                    )
                    .db()?
                    .query_map(params![cutoff, sql_limit(limit)], |row| {
                        Ok((
                            row.get(0)?,
                            row.get(1)?,
                            row.get(2)?,
                            row.get(3)?,
                            row.get(4)?,
                        ))
                    })
                    .db()?
                    .collect::<rusqlite::Result<_>>()
                    .db()?;
                let mut aborted = Vec::with_capacity(rows.len());
                for (upload_id, bucket, key, initiated, meta_json) in rows {
                    drop_upload(tx, &upload_id)?;
                    aborted.push(AbortedUpload {
                        bucket,
                        upload: UploadInfo {
                            upload_id,
                            key: key_from_db(key)?,
                            initiated: from_ms(initiated),
                            meta: meta_from_db(String::new(), &meta_json)?,
                        },
                    });
                }
                Ok(aborted)
            })
            .await
    }

    async fn list_multipart_uploads(
        &self,
        who: &Principal,
        bucket: &str,
        prefix: &str,
        after: Option<(&str, Option<&str>)>,
        limit: usize,
    ) -> Result<Vec<UploadInfo>, StoreError> {
        let (who, bucket) = (who.clone(), bucket.to_owned());
        let prefix = prefix.as_bytes().to_vec();
        let after = after.map(|(key, id)| (key.as_bytes().to_vec(), id.map(str::to_owned)));
        self.read(move |conn| {
            check_owner(conn, &who, &bucket)?;
            if limit == 0 {
                return Ok(Vec::new());
            }
            let mut sql = String::from(
                "SELECT upload_id, key, initiated_ms, meta_json FROM uploads
                 WHERE bucket = ? AND key >= ?",
            );
            let upper = prefix_successor(&prefix);
            let mut values = vec![Value::Text(bucket), Value::Blob(prefix)];
            if let Some(upper) = upper {
                sql.push_str(" AND key < ?");
                values.push(Value::Blob(upper));
            }
            match after {
                None => {}
                Some((key, None)) => {
                    sql.push_str(" AND key > ?");
                    values.push(Value::Blob(key));
                }
                Some((key, Some(upload_id))) => {
                    sql.push_str(" AND (key > ? OR (key = ? AND upload_id > ?))");
                    values.push(Value::Blob(key.clone()));
                    values.push(Value::Blob(key));
                    values.push(Value::Text(upload_id));
                }
            }
            sql.push_str(" ORDER BY key, upload_id LIMIT ?");
            values.push(Value::Integer(sql_limit(limit)));
            let mut stmt = conn.prepare_cached(&sql).db()?;
            let mut rows = stmt.query(params_from_iter(values)).db()?;
            let mut uploads = Vec::new();
            while let Some(row) = rows.next().db()? {
                let meta_json: String = row.get(3).db()?;
                uploads.push(UploadInfo {
                    upload_id: row.get(0).db()?,
                    key: key_from_db(row.get(1).db()?)?,
                    initiated: from_ms(row.get(2).db()?),
                    meta: meta_from_db(String::new(), &meta_json)?,
                });
            }
            Ok(uploads)
        })
        .await
    }
}

/// The file of each block of an encoded block list, from the same read snapshot.
fn locate_blocks(
    conn: &Connection,
    shared: &Shared,
    encoded: &[u8],
) -> Result<Vec<LocatedBlock>, StoreError> {
    let list = decode_blocks(encoded)?;
    let mut dir_of: HashMap<[u8; 32], i64> = HashMap::new();
    let mut lookup = conn
        .prepare_cached("SELECT dir_id FROM blocks WHERE hash = ?1")
        .db()?;
    let mut located = Vec::with_capacity(list.len());
    for block in list {
        let dir_id = match dir_of.get(&block.hash) {
            Some(dir_id) => *dir_id,
            None => {
                let dir_id: i64 = lookup
                    .query_row(params![&block.hash[..]], |row| row.get(0))
                    .optional()
                    .db()?
                    .ok_or_else(|| {
                        StoreError::Internal(format!(
                            "index: block {} has no record",
                            blocks::to_hex(&block.hash)
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

#[cfg(test)]
mod tests;
