//! The `blocks` table: where each block file lives and how many rows reference it.

use rusqlite::{params, CachedStatement, Connection, OptionalExtension};

use super::DbResult;
use crate::encoding::hex;
use crate::store::local::blocks::{BlockRef, Hash};
use crate::store::StoreError;

/// Adds a reference to each block an upload staged in the directory given with it, recording
/// the blocks new to the index. A block the index already has in another directory keeps
/// that one: the staged copy is pushed to `redundant` as (hash, dir id).
pub fn reference_staged(
    conn: &Connection,
    blocks: &[(BlockRef, i64)],
    redundant: &mut Vec<(Hash, i64)>,
) -> Result<(), StoreError> {
    let mut upsert = conn
        .prepare_cached(
            "INSERT INTO blocks(hash, dir_id, size, refcount) VALUES (?1, ?2, ?3, 1)
             ON CONFLICT(hash) DO UPDATE SET refcount = refcount + 1
             RETURNING dir_id",
        )
        .db()?;
    for (block, dir_id) in blocks {
        let recorded: i64 = upsert
            .query_row(params![&block.hash[..], dir_id, block.len], |row| {
                row.get(0)
            })
            .db()?;
        if recorded != *dir_id {
            redundant.push((block.hash, *dir_id));
        }
    }
    Ok(())
}

/// Adds a reference to blocks the index already records; an error names the first that it
/// does not.
pub fn reference_existing(conn: &Connection, blocks: &[BlockRef]) -> Result<(), StoreError> {
    let mut increment = conn
        .prepare_cached("UPDATE blocks SET refcount = refcount + 1 WHERE hash = ?1")
        .db()?;
    for block in blocks {
        if increment.execute(params![&block.hash[..]]).db()? == 0 {
            return Err(StoreError::Internal(format!(
                "index: block {} is referenced but has no record",
                hex(&block.hash)
            )));
        }
    }
    Ok(())
}

/// Drops one reference per entry; the blocks left with none are pushed to `zeroed`.
pub fn release(
    conn: &Connection,
    blocks: &[BlockRef],
    zeroed: &mut Vec<Hash>,
) -> Result<(), StoreError> {
    let mut decrement = conn
        .prepare_cached(
            "UPDATE blocks SET refcount = refcount - 1 WHERE hash = ?1 RETURNING refcount",
        )
        .db()?;
    for block in blocks {
        let left: Option<i64> = decrement
            .query_row(params![&block.hash[..]], |row| row.get(0))
            .optional()
            .db()?;
        match left {
            Some(0) => zeroed.push(block.hash),
            Some(_) => {}
            None => log::error!("index: released block {} has no record", hex(&block.hash)),
        }
    }
    Ok(())
}

/// Deletes the records of those `candidates` that still have no reference; returns them as
/// (hash, dir id).
pub fn delete_unreferenced(
    conn: &Connection,
    candidates: &[Hash],
) -> Result<Vec<(Hash, i64)>, StoreError> {
    let mut lookup = conn
        .prepare_cached("SELECT refcount, dir_id FROM blocks WHERE hash = ?1")
        .db()?;
    let mut delete = conn
        .prepare_cached("DELETE FROM blocks WHERE hash = ?1")
        .db()?;
    let mut deleted = Vec::new();
    for hash in candidates {
        let row: Option<(i64, i64)> = lookup
            .query_row(params![&hash[..]], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()
            .db()?;
        if let Some((0, dir_id)) = row {
            delete.execute(params![&hash[..]]).db()?;
            deleted.push((*hash, dir_id));
        }
    }
    Ok(deleted)
}

/// Finds the directory the index records each block in, with one prepared statement.
pub struct DirLookup<'c>(CachedStatement<'c>);

impl<'c> DirLookup<'c> {
    pub fn new(conn: &'c Connection) -> Result<DirLookup<'c>, StoreError> {
        conn.prepare_cached("SELECT dir_id FROM blocks WHERE hash = ?1")
            .db()
            .map(DirLookup)
    }

    /// The id of the directory that holds `hash`, None when the index has no record of it.
    pub fn get(&mut self, hash: &Hash) -> Result<Option<i64>, StoreError> {
        self.0
            .query_row(params![&hash[..]], |row| row.get(0))
            .optional()
            .db()
    }
}

/// Every block no row references, as (hash, dir id); crash recovery removes them.
pub fn unreferenced(conn: &Connection) -> Result<Vec<(Vec<u8>, i64)>, StoreError> {
    conn.prepare("SELECT hash, dir_id FROM blocks WHERE refcount <= 0")
        .and_then(|mut stmt| {
            stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })
        .db()
}

/// Deletes the record of every block no row references.
pub fn delete_all_unreferenced(conn: &Connection) -> Result<(), StoreError> {
    conn.execute("DELETE FROM blocks WHERE refcount <= 0", [])
        .db()?;
    Ok(())
}

/// Whether the index records any block in directory `dir_id`.
pub fn any_in_dir(conn: &Connection, dir_id: i64) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM blocks WHERE dir_id = ?1)",
        params![dir_id],
        |row| row.get(0),
    )
}
