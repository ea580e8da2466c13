//! The `meta` and `dirs` tables: the store's id, how it is encrypted and names its blocks, and
//! its storage directories.

use rusqlite::{params, Connection, OptionalExtension};

/// This store's id, set to `fresh` when the index is new.
pub fn store_id(conn: &Connection, fresh: String) -> rusqlite::Result<String> {
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

/// The value recorded under `name`, if any.
pub fn value(conn: &Connection, name: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT value FROM meta WHERE name = ?1",
        params![name],
        |row| row.get(0),
    )
    .optional()
}

/// Whether any object, version, part or block is recorded (a version kept in its row, behind
/// a delete marker, is data too).
pub fn holds_data(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM objects) OR EXISTS(SELECT 1 FROM versions)
         OR EXISTS(SELECT 1 FROM parts) OR EXISTS(SELECT 1 FROM blocks)",
        [],
        |row| row.get(0),
    )
}

/// Records that the store is encrypted with `scheme` under the key `key_id`.
pub fn record_encryption(conn: &Connection, scheme: &str, key_id: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta(name, value)
         VALUES ('encryption', ?1), ('encryption_key_id', ?2)",
        params![scheme, key_id],
    )?;
    Ok(())
}

/// The `meta` row naming the hash a store without encryption names its blocks by.
pub const BLOCK_NAMES: &str = "block_names";

/// Records how a store without encryption names its blocks.
pub fn record_block_names(conn: &Connection, names: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta(name, value) VALUES (?1, ?2)",
        params![BLOCK_NAMES, names],
    )?;
    Ok(())
}

/// Records the store's encryption scheme alone (the plain one needs no key id).
pub fn record_scheme(conn: &Connection, scheme: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta(name, value) VALUES ('encryption', ?1)",
        params![scheme],
    )?;
    Ok(())
}

/// Records a storage directory by identity (updating the path it was last seen at) and
/// returns its id.
pub fn register_dir(conn: &Connection, ident: &str, path: &str) -> rusqlite::Result<i64> {
    conn.query_row(
        "INSERT INTO dirs(ident, last_path) VALUES (?1, ?2)
         ON CONFLICT(ident) DO UPDATE SET last_path = excluded.last_path
         RETURNING dir_id",
        params![ident, path],
        |row| row.get(0),
    )
}

/// A storage directory the index knows.
pub struct KnownDir {
    pub dir_id: i64,
    pub ident: String,
    pub last_path: String,
}

/// Every storage directory the index knows.
pub fn known_dirs(conn: &Connection) -> rusqlite::Result<Vec<KnownDir>> {
    conn.prepare("SELECT dir_id, ident, last_path FROM dirs")
        .and_then(|mut stmt| {
            stmt.query_map([], |row| {
                Ok(KnownDir {
                    dir_id: row.get(0)?,
                    ident: row.get(1)?,
                    last_path: row.get(2)?,
                })
            })?
            .collect()
        })
}
