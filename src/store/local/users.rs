//! The users table: shared by the running store and by `libres3 user ...`, which must work
//! while a server holds the storage directories (SQLite arbitrates the index between them).

use std::path::PathBuf;

use rusqlite::Connection;

use super::index::{self, INDEX_FILE};
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
        add(&self.conn, name, access_key, secret)
    }

    pub fn list(&self) -> Result<Vec<User>, StoreError> {
        list(&self.conn)
    }

    pub fn remove(&self, name: &str) -> Result<bool, StoreError> {
        remove(&self.conn, name)
    }
}
