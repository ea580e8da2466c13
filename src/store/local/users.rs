//! The users table: shared by the running store and by `libres3 user ...`, which must work
//! while a server holds the storage directories (SQLite arbitrates the index between them).

use std::path::PathBuf;

use rusqlite::{params, Connection, OptionalExtension};

use super::index::{self, DbResult};
use super::{prepare_private_file, LocalError, INDEX_FILE};
use crate::store::{SecretKey, StoreError, User};

pub fn user_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        name: row.get(0)?,
        access_key: row.get(1)?,
        secret: SecretKey::new(row.get(2)?),
    })
}

/// Adds a user; fails with a message saying so when the name or access key is taken.
pub fn add(
    conn: &Connection,
    name: &str,
    access_key: &str,
    secret: &SecretKey,
) -> Result<(), StoreError> {
    let taken = |sql: &str, value: &str| -> Result<bool, StoreError> {
        conn.query_row(sql, params![value], |_| Ok(()))
            .optional()
            .db()
            .map(|found| found.is_some())
    };
    if taken("SELECT 1 FROM users WHERE name = ?1", name)? {
        return Err(StoreError::Internal(format!("user {name} already exists")));
    }
    if taken("SELECT 1 FROM users WHERE access_key = ?1", access_key)? {
        return Err(StoreError::Internal(format!(
            "access key {access_key} is already in use"
        )));
    }
    conn.execute(
        "INSERT INTO users(name, access_key, secret) VALUES (?1, ?2, ?3)",
        params![name, access_key, secret.expose()],
    )
    .db()?;
    Ok(())
}

/// Every user, sorted by name.
pub fn list(conn: &Connection) -> Result<Vec<User>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT name, access_key, secret FROM users ORDER BY name")
        .db()?;
    let rows = stmt.query_map([], user_from_row).db()?;
    rows.collect::<rusqlite::Result<Vec<User>>>().db()
}

/// Removes a user; false if there was none. Their buckets stay, owned by the old name.
pub fn remove(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    let removed = conn
        .execute("DELETE FROM users WHERE name = ?1", params![name])
        .db()?;
    Ok(removed > 0)
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
