//! The users table: shared by the running store and by `libres3 user ...`, which must work
//! while a server holds the storage directories (SQLite arbitrates the index between them).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError};

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
        Ok(UserAdmin { conn })
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
        Ok(value)
    }
}

/// Most users a server keeps in memory.
const CACHED_USERS: u64 = 10_000;

/// The users signed requests named, for the request path. An entry counts only while the
/// index's users generation is the one it was read at, so a user removed or re-keyed by
/// `libres3 user` in another process is refused from the next request on. The generation is
/// one statement on a connection of its own, run on the calling thread: far cheaper than the
/// blocking task a lookup takes.
pub(super) struct UserCache {
    index_path: PathBuf,
    /// Connections for the generation read, one per thread reading at once.
    probes: Mutex<Vec<Connection>>,
    /// The generation last read: when it moves, every entry goes (removed users' secrets too).
    seen: AtomicI64,
    users: moka::sync::Cache<String, (i64, User)>,
}

/// Most idle probe connections kept (about one per worker thread).
const IDLE_PROBES: usize = 16;

impl UserCache {
    pub fn new(index_path: &Path) -> UserCache {
        UserCache {
            index_path: index_path.to_owned(),
            probes: Mutex::new(Vec::new()),
            seen: AtomicI64::new(i64::MIN),
            users: moka::sync::Cache::new(CACHED_USERS),
        }
    }

    /// The users generation now, or None when the index cannot answer at once (the caller
    /// then looks the user up without the cache).
    pub fn generation(&self) -> Option<i64> {
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
