//! The users table: shared by the running store and by `libres3 user ...`, which must work
//! while a server holds the storage directories (SQLite arbitrates the index between them).
//!
//! A running server learns of another process's change through the users stamp, a small file
//! beside the index that every change rewrites after its commit: reading it costs one `pread`
//! per request, where reading the users generation from the index took a read transaction
//! whose locks the worker threads contended for.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior};

use super::index::{self, DbResult, INDEX_FILE};
use super::open::prepare_private_file;
use super::LocalError;
use crate::store::{SecretKey, StoreError, User};

/// Adds a user; fails with a message saying so when the name or access key is taken.
pub fn add(
    conn: &Connection,
    name: &str,
    access_key: &str,
    secret: &SecretKey,
) -> Result<(), StoreError> {
    if index::users::name_taken(conn, name)? {
        return Err(StoreError::Internal(format!("user {name} already exists")));
    }
    if index::users::access_key_taken(conn, access_key)? {
        return Err(StoreError::Internal(format!(
            "access key {access_key} is already in use"
        )));
    }
    index::users::insert(conn, name, access_key, secret)
}

/// Every user, sorted by name.
pub fn list(conn: &Connection) -> Result<Vec<User>, StoreError> {
    index::users::list(conn)
}

/// Removes a user; false if there was none. Their buckets stay, owned by the old name.
pub fn remove(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    Ok(index::users::delete(conn, name)? > 0)
}

/// The users of a store, opened without its storage directories.
pub struct UserAdmin {
    conn: Connection,
    /// The users stamp a running server reads.
    stamp: PathBuf,
}

impl UserAdmin {
    /// Opens (or creates) the index in the first storage directory.
    pub fn open(dirs: &[PathBuf]) -> Result<UserAdmin, LocalError> {
        let Some(first) = dirs.first() else {
            return Err(LocalError::NoDirectory);
        };
        std::fs::create_dir_all(first).map_err(|source| LocalError::CreateDir {
            path: first.clone(),
            source,
        })?;
        let path = first.join(INDEX_FILE);
        prepare_private_file(&path).map_err(|source| LocalError::Access {
            path: path.clone(),
            source,
        })?;
        let conn = index::open_write_connection(&path)
            .map_err(|source| LocalError::Index { path, source })?;
        Ok(UserAdmin {
            conn,
            stamp: first.join(USERS_STAMP),
        })
    }

    pub fn add(&self, name: &str, access_key: &str, secret: &SecretKey) -> Result<(), StoreError> {
        self.write(|conn| add(conn, name, access_key, secret))
    }

    pub fn list(&self) -> Result<Vec<User>, StoreError> {
        list(&self.conn)
    }

    pub fn remove(&self, name: &str) -> Result<bool, StoreError> {
        self.write(|conn| remove(conn, name))
    }

    /// Runs `f` in one write transaction: the change and the users generation a running
    /// server checks commit together.
    fn write<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .db()?;
        let value = f(&tx)?;
        tx.commit().db()?;
        if let Err(e) = touch_stamp(&self.stamp) {
            log::warn!(
                "cannot write {}: {e}; a running server may accept the old users for up to {} s",
                self.stamp.display(),
                STAMP_TRUST.as_secs()
            );
        }
        Ok(value)
    }
}

/// The users stamp's file name, beside the index.
pub const USERS_STAMP: &str = "users.stamp";

/// How long a server trusts an unchanged stamp before it reads the generation anyway: the
/// bound for a change made without rewriting the stamp (an older `libres3`, the sqlite3 shell).
const STAMP_TRUST: Duration = Duration::from_secs(1);

/// Bytes of the stamp: random, so that no change writes back a value a server has seen.
const STAMP_LEN: usize = 16;

/// Opens the users stamp for reading, writing a first value when there is none.
fn open_stamp(path: &Path) -> std::io::Result<File> {
    match File::open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            touch_stamp(path)?;
            File::open(path)
        }
        opened => opened,
    }
}

/// Rewrites the users stamp in place (a server keeps it open, so it is never replaced).
pub fn touch_stamp(path: &Path) -> std::io::Result<()> {
    let mut value = [0; STAMP_LEN];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut value)
        .map_err(|_| std::io::Error::other("the system random generator failed"))?;
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(path)?
        .write_all_at(&value, 0)
}

/// Most users a server keeps in memory.
const CACHED_USERS: u64 = 10_000;

/// The users signed requests named, for the request path. An entry counts only while the
/// index's users generation is the one it was read at, so a user removed or re-keyed by
/// `libres3 user` in another process is refused from the next request on. The generation is
/// read again when the users stamp changed (or after [`STAMP_TRUST`]): one statement on a
/// connection of its own, run on the calling thread, far cheaper than the blocking task a
/// lookup takes.
pub(super) struct UserCache {
    index_path: PathBuf,
    /// The users stamp, open for reading; None when it cannot be opened (then every request
    /// reads the generation).
    stamp: Option<File>,
    /// The stamp and the generation read after it, and when.
    trusted: Mutex<Option<Trusted>>,
    /// Connections for the generation read, one per thread reading at once.
    probes: Mutex<Vec<Connection>>,
    /// The generation last read: when it moves, every entry goes (removed users' secrets too).
    seen: AtomicI64,
    users: moka::sync::Cache<String, (i64, User)>,
}

struct Trusted {
    stamp: [u8; STAMP_LEN],
    generation: i64,
    read_at: Instant,
}

/// Most idle probe connections kept (about one per worker thread).
const IDLE_PROBES: usize = 16;

impl UserCache {
    pub fn new(index_path: &Path) -> UserCache {
        let stamp_path = index_path.with_file_name(USERS_STAMP);
        let stamp = open_stamp(&stamp_path)
            .map_err(|e| {
                log::warn!(
                    "cannot open {}: {e}; every request will read the users generation",
                    stamp_path.display()
                )
            })
            .ok();
        UserCache {
            index_path: index_path.to_owned(),
            stamp,
            trusted: Mutex::new(None),
            probes: Mutex::new(Vec::new()),
            seen: AtomicI64::new(i64::MIN),
            users: moka::sync::Cache::new(CACHED_USERS),
        }
    }

    /// The users generation now, or None when the index cannot answer at once (the caller
    /// then looks the user up without the cache).
    pub fn generation(&self) -> Option<i64> {
        let stamp = self.read_stamp();
        if let Some(stamp) = stamp {
            let trusted = self.trusted.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(t) = trusted.as_ref() {
                if t.stamp == stamp && t.read_at.elapsed() < STAMP_TRUST {
                    return Some(t.generation);
                }
            }
        }
        // Read after the stamp: a change that rewrites the stamp later is seen next time.
        let read_at = Instant::now();
        let generation = self.read_generation()?;
        if let Some(stamp) = stamp {
            *self.trusted.lock().unwrap_or_else(PoisonError::into_inner) = Some(Trusted {
                stamp,
                generation,
                read_at,
            });
        }
        Some(generation)
    }

    /// This process changed the users: the stamp moves as for any other writer, so that a
    /// generation read before the change is not trusted after it.
    pub fn changed(&self) {
        let path = self.index_path.with_file_name(USERS_STAMP);
        if let Err(e) = touch_stamp(&path) {
            log::debug!("cannot write {}: {e}", path.display());
        }
        *self.trusted.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn read_stamp(&self) -> Option<[u8; STAMP_LEN]> {
        let mut value = [0; STAMP_LEN];
        // A short or failed read is no stamp: the generation is read instead.
        match self.stamp.as_ref()?.read_at(&mut value, 0) {
            Ok(STAMP_LEN) => Some(value),
            _ => None,
        }
    }

    fn read_generation(&self) -> Option<i64> {
        let idle = self
            .probes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let probe = match idle {
            Some(conn) => conn,
            None => index::open_probe_connection(&self.index_path)
                .map_err(|e| log::debug!("users generation: {e}"))
                .ok()?,
        };
        let read = index::users::generation(&probe);
        let mut idle = self.probes.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE_PROBES {
            idle.push(probe);
        }
        drop(idle);
        let generation = read
            .map_err(|e| log::debug!("users generation: {e}"))
            .ok()?;
        if self.seen.swap(generation, Ordering::Relaxed) != generation {
            self.users.invalidate_all();
        }
        Some(generation)
    }

    /// The user of `access_key` if it was read at `generation`.
    pub fn get(&self, access_key: &str, generation: i64) -> Option<User> {
        self.users
            .get(access_key)
            .filter(|(read_at, _)| *read_at == generation)
            .map(|(_, user)| user)
    }

    /// Keeps `user`, read from the index after `generation` was.
    pub fn insert(&self, user: User, generation: i64) {
        self.users
            .insert(user.access_key.clone(), (generation, user));
    }
}
