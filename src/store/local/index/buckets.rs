//! The `buckets` and `bucket_documents` tables: buckets, their owners and their stored
//! documents (ACL, policy, ...).

use rusqlite::{params, Connection, OptionalExtension};

use super::{from_ms, DbResult};
use crate::store::{BucketInfo, Principal, StoreError};

const SELECT_OWNER: &str = "SELECT owner FROM buckets WHERE name = ?1";
const SELECT_BUCKET: &str = "SELECT name, owner, created_ms FROM buckets WHERE name = ?1";

fn bucket_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<BucketInfo> {
    Ok(BucketInfo {
        name: row.get(0)?,
        owner: row.get(1)?,
        created: from_ms(row.get(2)?),
    })
}

/// The owner of `bucket`, None when there is no such bucket.
pub fn owner(conn: &Connection, bucket: &str) -> Result<Option<String>, StoreError> {
    conn.prepare_cached(SELECT_OWNER)
        .db()?
        .query_row(params![bucket], |row| row.get(0))
        .optional()
        .db()
}

/// NoSuchBucket, or AccessDenied unless `who` owns `bucket`.
pub fn check_owner(conn: &Connection, who: &Principal, bucket: &str) -> Result<(), StoreError> {
    check_owned_by(owner(conn, bucket)?.as_deref(), who)
}

/// NoSuchBucket when a bucket has no `owner` (it does not exist), AccessDenied unless `who`
/// is its owner.
pub fn check_owned_by(owner: Option<&str>, who: &Principal) -> Result<(), StoreError> {
    match (owner, who) {
        (None, _) => Err(StoreError::NoSuchBucket),
        (Some(owner), Principal::User(name)) if owner == name => Ok(()),
        _ => Err(StoreError::AccessDenied),
    }
}

/// The buckets `owner` owns, by name.
pub fn list_owned(conn: &Connection, owner: &str) -> Result<Vec<BucketInfo>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT name, owner, created_ms FROM buckets WHERE owner = ?1 ORDER BY name",
        )
        .db()?;
    let rows = stmt.query_map(params![owner], bucket_from_row).db()?;
    rows.collect::<rusqlite::Result<Vec<_>>>().db()
}

/// Every bucket, by name (maintenance).
pub fn list_all(conn: &Connection) -> Result<Vec<BucketInfo>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT name, owner, created_ms FROM buckets ORDER BY name")
        .db()?;
    let rows = stmt.query_map([], bucket_from_row).db()?;
    rows.collect::<rusqlite::Result<Vec<_>>>().db()
}

pub fn insert(
    conn: &Connection,
    bucket: &str,
    owner: &str,
    created_ms: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO buckets(name, owner, created_ms) VALUES (?1, ?2, ?3)",
        params![bucket, owner, created_ms],
    )
    .db()?;
    Ok(())
}

/// A bucket known to exist (an internal error otherwise).
pub fn info(conn: &Connection, bucket: &str) -> Result<BucketInfo, StoreError> {
    conn.query_row(SELECT_BUCKET, params![bucket], bucket_from_row)
        .db()
}

/// A bucket, None when there is no such bucket.
pub fn find(conn: &Connection, bucket: &str) -> Result<Option<BucketInfo>, StoreError> {
    conn.prepare_cached(SELECT_BUCKET)
        .db()?
        .query_row(params![bucket], bucket_from_row)
        .optional()
        .db()
}

/// Deletes a bucket and its documents (its objects and uploads are gone already).
pub fn delete(conn: &Connection, bucket: &str) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM bucket_documents WHERE bucket = ?1",
        params![bucket],
    )
    .db()?;
    conn.execute("DELETE FROM buckets WHERE name = ?1", params![bucket])
        .db()?;
    Ok(())
}

/// How many buckets there are.
pub fn count(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("SELECT count(*) FROM buckets", [], |row| {
        row.get::<_, i64>(0)
    })
    .db()
}

/// The documents of `bucket` as (name, document), by name.
pub fn documents(conn: &Connection, bucket: &str) -> Result<Vec<(String, String)>, StoreError> {
    conn.prepare_cached(
        "SELECT name, document FROM bucket_documents WHERE bucket = ?1 ORDER BY name",
    )
    .db()?
    .query_map(params![bucket], |row| Ok((row.get(0)?, row.get(1)?)))
    .db()?
    .collect::<rusqlite::Result<Vec<_>>>()
    .db()
}

/// Stores the document `name` of `bucket`, or removes it when `document` is None.
pub fn put_document(
    conn: &Connection,
    bucket: &str,
    name: &str,
    document: Option<String>,
) -> Result<(), StoreError> {
    match document {
        Some(document) => conn.execute(
            "INSERT OR REPLACE INTO bucket_documents(bucket, name, document)
             VALUES (?1, ?2, ?3)",
            params![bucket, name, document],
        ),
        None => conn.execute(
            "DELETE FROM bucket_documents WHERE bucket = ?1 AND name = ?2",
            params![bucket, name],
        ),
    }
    .db()?;
    Ok(())
}
