//! The `users` table.

use rusqlite::{params, Connection, OptionalExtension};

use super::DbResult;
use crate::store::{SecretKey, StoreError, User};

/// The `meta` entry counting user changes. Triggers on `users` (schema.rs) bump it in the
/// transaction of every change, whoever makes it, so a server that caches users sees a change
/// `libres3 user` made from another process at its next request.
const GENERATION: &str = "users_generation";

fn user_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        name: row.get(0)?,
        access_key: row.get(1)?,
        secret: SecretKey::new(row.get(2)?),
    })
}

fn exists(conn: &Connection, sql: &str, value: &str) -> Result<bool, StoreError> {
    conn.query_row(sql, params![value], |_| Ok(()))
        .optional()
        .db()
        .map(|found| found.is_some())
}

pub fn name_taken(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    exists(conn, "SELECT 1 FROM users WHERE name = ?1", name)
}

pub fn access_key_taken(conn: &Connection, access_key: &str) -> Result<bool, StoreError> {
    exists(
        conn,
        "SELECT 1 FROM users WHERE access_key = ?1",
        access_key,
    )
}

pub fn insert(
    conn: &Connection,
    name: &str,
    access_key: &str,
    secret: &SecretKey,
) -> Result<(), StoreError> {
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

/// Deletes a user; the number of rows removed.
pub fn delete(conn: &Connection, name: &str) -> Result<usize, StoreError> {
    conn.execute("DELETE FROM users WHERE name = ?1", params![name])
        .db()
}

/// How many times users changed (0 in an index where they never did). One statement: read
/// on every signed request, from a connection of its own.
pub fn generation(conn: &Connection) -> Result<i64, StoreError> {
    conn.prepare_cached("SELECT CAST(value AS INTEGER) FROM meta WHERE name = ?1")
        .db()?
        .query_row(params![GENERATION], |row| row.get(0))
        .optional()
        .db()
        .map(Option::unwrap_or_default)
}

/// The user an access key belongs to (every signed request asks).
pub fn by_access_key(conn: &Connection, access_key: &str) -> Result<Option<User>, StoreError> {
    conn.prepare_cached("SELECT name, access_key, secret FROM users WHERE access_key = ?1")
        .db()?
        .query_row(params![access_key], user_from_row)
        .optional()
        .db()
}
