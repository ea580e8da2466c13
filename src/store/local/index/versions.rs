//! The `versions` table: noncurrent versions and delete markers of versioned buckets.
//!
//! A key's current version, when it is not a delete marker, is its row in `objects`; every
//! other version is a row here, numbered by `seq` (newest highest, per key; a version keeps
//! its number, and the ids of versions made while versioning is enabled start with it, so a
//! listing can resume after a version deleted meanwhile). Rows move between the tables with
//! their block lists, so moving one changes no reference count.
//! Invariant kept by every write: a key without an `objects` row has a delete marker (or
//! nothing) as its newest row here.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use super::objects::{KeyRange, StoredObject};
use super::{from_ms, header_from_json, key_from_db, size_from_db, sql_limit, DbResult};
use crate::store::{StoreError, VersionSummary, NULL_VERSION};

/// The columns of a version row as [`stored_from_row`] reads them, from column 0.
const STORED_COLUMNS: &str = "size, etag, meta_json, mtime_ms, inline_data, blocks, \
     reported_size, nullif(version_id, 'null'), marker, seq";

fn stored_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<VersionRow> {
    Ok(VersionRow {
        object: StoredObject {
            size: row.get(0)?,
            etag: row.get(1)?,
            meta_json: row.get(2)?,
            mtime_ms: row.get(3)?,
            inline: row.get(4)?,
            blocks: row.get(5)?,
            reported_size: row.get(6)?,
            version_id: row.get(7)?,
        },
        marker: row.get(8)?,
        seq: row.get(9)?,
    })
}

/// A row of `versions`.
pub struct VersionRow {
    pub object: StoredObject,
    pub marker: bool,
    pub seq: i64,
}

/// The newest row of `key` in `versions`.
pub fn newest(
    conn: &Connection,
    bucket: &str,
    key: &str,
) -> Result<Option<VersionRow>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {STORED_COLUMNS} FROM versions WHERE bucket = ?1 AND key = ?2
         ORDER BY seq DESC LIMIT 1"
    ))
    .db()?
    .query_row(params![bucket, key.as_bytes()], stored_from_row)
    .optional()
    .db()
}

/// The row of version `version_id` of `key` in `versions`.
pub fn by_id(
    conn: &Connection,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> Result<Option<VersionRow>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {STORED_COLUMNS} FROM versions
         WHERE bucket = ?1 AND key = ?2 AND version_id = ?3"
    ))
    .db()?
    .query_row(params![bucket, key.as_bytes(), version_id], stored_from_row)
    .optional()
    .db()
}

/// The number a version of `key` added now gets: above every one it has.
pub fn next_seq(conn: &Connection, bucket: &str, key: &str) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "SELECT coalesce(max(seq), 0) + 1 FROM versions WHERE bucket = ?1 AND key = ?2",
    )
    .db()?
    .query_row(params![bucket, key.as_bytes()], |row| row.get(0))
    .db()
}

/// Moves the `objects` row of `key`, if any, here as its newest noncurrent version (with its
/// number, or the next one for a row written before numbers); returns whether there was one.
pub fn retire_current(conn: &Connection, bucket: &str, key: &str) -> Result<bool, StoreError> {
    let seq = next_seq(conn, bucket, key)?;
    let moved = conn
        .prepare_cached(
            "INSERT INTO versions (bucket, key, seq, version_id, marker, size, etag, meta_json,
                 mtime_ms, inline_data, blocks, reported_size)
             SELECT bucket, key, coalesce(seq, ?3), coalesce(version_id, 'null'), 0, size, etag,
                 meta_json, mtime_ms, inline_data, blocks, reported_size
             FROM objects WHERE bucket = ?1 AND key = ?2",
        )
        .db()?
        .execute(params![bucket, key.as_bytes(), seq])
        .db()?;
    if moved > 0 {
        super::objects::delete(conn, bucket, key)?;
    }
    Ok(moved > 0)
}

/// Adds a delete marker numbered `seq` as the newest version of `key` (whose `objects` row
/// is gone).
pub fn insert_marker(
    conn: &Connection,
    (bucket, key, seq): (&str, &str, i64),
    version_id: &str,
    mtime_ms: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO versions (bucket, key, seq, version_id, marker, size, etag, meta_json,
             mtime_ms)
         VALUES (?1, ?2, ?3, ?4, 1, 0, '', '[]', ?5)",
    )
    .db()?
    .execute(params![bucket, key.as_bytes(), seq, version_id, mtime_ms])
    .db()?;
    Ok(())
}

/// Deletes one row (its blocks are released already).
pub fn delete(conn: &Connection, bucket: &str, key: &str, seq: i64) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM versions WHERE bucket = ?1 AND key = ?2 AND seq = ?3")
        .db()?
        .execute(params![bucket, key.as_bytes(), seq])
        .db()?;
    Ok(())
}

/// Makes the row `seq` of `key` its current version again (moves it to `objects`, which has
/// no row for `key`).
pub fn promote(conn: &Connection, bucket: &str, key: &str, seq: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO objects (bucket, key, size, etag, meta_json, mtime_ms, inline_data, blocks,
             reported_size, version_id, seq)
         SELECT bucket, key, size, etag, meta_json, mtime_ms, inline_data, blocks,
             reported_size, nullif(version_id, 'null'), seq
         FROM versions WHERE bucket = ?1 AND key = ?2 AND seq = ?3",
    )
    .db()?
    .execute(params![bucket, key.as_bytes(), seq])
    .db()?;
    delete(conn, bucket, key, seq)
}

/// Replaces the stored metadata of one version: the current one (`seq` None) or a row here.
pub fn set_meta(
    conn: &Connection,
    bucket: &str,
    key: &str,
    seq: Option<i64>,
    meta: (&str, &str, Option<i64>),
) -> Result<(), StoreError> {
    let (etag, meta_json, reported_size) = meta;
    match seq {
        None => conn
            .prepare_cached(
                "UPDATE objects SET etag = ?3, meta_json = ?4, reported_size = ?5
                 WHERE bucket = ?1 AND key = ?2",
            )
            .db()?
            .execute(params![
                bucket,
                key.as_bytes(),
                etag,
                meta_json,
                reported_size
            ]),
        Some(seq) => conn
            .prepare_cached(
                "UPDATE versions SET etag = ?4, meta_json = ?5, reported_size = ?6
                 WHERE bucket = ?1 AND key = ?2 AND seq = ?3",
            )
            .db()?
            .execute(params![
                bucket,
                key.as_bytes(),
                seq,
                etag,
                meta_json,
                reported_size
            ]),
    }
    .db()?;
    Ok(())
}

/// Whether `bucket` holds any noncurrent version or delete marker.
pub fn any_in_bucket(conn: &Connection, bucket: &str) -> Result<bool, StoreError> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM versions WHERE bucket = ?1)",
        params![bucket],
        |row| row.get(0),
    )
    .db()
}

/// The `seq` a version id has among `key`'s rows here; None when it names none of them.
pub fn seq_of(
    conn: &Connection,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> Result<Option<i64>, StoreError> {
    conn.prepare_cached(
        "SELECT seq FROM versions WHERE bucket = ?1 AND key = ?2 AND version_id = ?3",
    )
    .db()?
    .query_row(params![bucket, key.as_bytes(), version_id], |row| {
        row.get(0)
    })
    .optional()
    .db()
}

/// Reads a listed version: key, version id, marker, size, mtime, etag, then the metadata when
/// a header is asked for.
fn listed_from_row(
    row: &rusqlite::Row<'_>,
    header: Option<&str>,
) -> Result<VersionSummary, StoreError> {
    let header = match header {
        Some(name) => header_from_json(&row.get::<_, String>(6).db()?, name)?,
        None => None,
    };
    Ok(VersionSummary {
        key: key_from_db(row.get(0).db()?)?,
        version_id: row.get(1).db()?,
        is_latest: false,
        delete_marker: row.get(2).db()?,
        size: size_from_db(row.get(3).db()?)?,
        last_modified: from_ms(row.get(4).db()?),
        etag: row.get(5).db()?,
        header,
    })
}

const LISTED_COLUMNS: &str =
    "key, version_id, marker, coalesce(reported_size, size), mtime_ms, etag";

/// The versions of `key` here older than `seq`, newest first, at most `limit`.
pub fn older_than(
    conn: &Connection,
    bucket: &str,
    key: &str,
    seq: i64,
    limit: usize,
    header: Option<&str>,
) -> Result<Vec<VersionSummary>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {LISTED_COLUMNS}, meta_json FROM versions
             WHERE bucket = ?1 AND key = ?2 AND seq < ?3 ORDER BY seq DESC LIMIT ?4"
        ))
        .db()?;
    let mut rows = stmt
        .query(params![bucket, key.as_bytes(), seq, sql_limit(limit)])
        .db()?;
    let mut listed = Vec::new();
    while let Some(row) = rows.next().db()? {
        listed.push(listed_from_row(row, header)?);
    }
    Ok(listed)
}

/// The current version of `key` as listed, when its number is below `seq`: after versions
/// newer than it were deleted, a listing resuming below one of them starts with it.
pub fn current_below(
    conn: &Connection,
    bucket: &str,
    key: &str,
    seq: i64,
    header: Option<&str>,
) -> Result<Option<VersionSummary>, StoreError> {
    let number: Option<Option<i64>> = conn
        .prepare_cached("SELECT seq FROM objects WHERE bucket = ?1 AND key = ?2")
        .db()?
        .query_row(params![bucket, key.as_bytes()], |row| row.get(0))
        .optional()
        .db()?;
    if !matches!(number, Some(Some(n)) if n < seq) {
        return Ok(None);
    }
    let mut upper = key.as_bytes().to_vec();
    upper.push(0);
    let only_key = KeyRange {
        lower: key.as_bytes().to_vec(),
        inclusive: true,
        upper: Some(upper),
    };
    Ok(list_table(conn, "objects", bucket, &only_key, 1, header)?.pop())
}

/// Up to `limit` rows of `table` (`objects` or `versions`) in `range`, by key then newest
/// first.
fn list_table(
    conn: &Connection,
    table: &str,
    bucket: &str,
    range: &KeyRange,
    limit: usize,
    header: Option<&str>,
) -> Result<Vec<VersionSummary>, StoreError> {
    let (columns, order) = match table {
        "objects" => (
            format!(
                "key, coalesce(version_id, '{NULL_VERSION}'), 0, coalesce(reported_size, size), \
                 mtime_ms, etag"
            ),
            "key",
        ),
        _ => (LISTED_COLUMNS.to_owned(), "key, seq DESC"),
    };
    let mut sql = format!("SELECT {columns}");
    sql.push_str(if header.is_some() { ", meta_json" } else { "" });
    sql.push_str(&format!(" FROM {table} WHERE bucket = ? AND key "));
    sql.push_str(if range.inclusive { ">= ?" } else { "> ?" });
    let mut values = vec![
        Value::Text(bucket.to_owned()),
        Value::Blob(range.lower.clone()),
    ];
    if let Some(upper) = &range.upper {
        sql.push_str(" AND key < ?");
        values.push(Value::Blob(upper.clone()));
    }
    sql.push_str(&format!(" ORDER BY {order} LIMIT ?"));
    values.push(Value::Integer(sql_limit(limit)));
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut rows = stmt.query(params_from_iter(values)).db()?;
    let mut listed = Vec::new();
    while let Some(row) = rows.next().db()? {
        let mut version = listed_from_row(row, header)?;
        version.is_latest = table == "objects";
        listed.push(version);
    }
    Ok(listed)
}

/// Up to `limit` versions of the keys in `range`, by key then newest first, each key's newest
/// marked latest: the current versions and the rows here merged.
pub fn list(
    conn: &Connection,
    bucket: &str,
    range: &KeyRange,
    limit: usize,
    header: Option<&str>,
) -> Result<Vec<VersionSummary>, StoreError> {
    let current = list_table(conn, "objects", bucket, range, limit, header)?;
    let older = list_table(conn, "versions", bucket, range, limit, header)?;
    // Either list, when it ends before `limit` rows, holds every row of the range; when it
    // has `limit` rows, the merge stops before it runs out.
    let mut current = current.into_iter().peekable();
    let mut older = older.into_iter().peekable();
    let mut merged: Vec<VersionSummary> = Vec::with_capacity(limit);
    while merged.len() < limit {
        let take_current = match (current.peek(), older.peek()) {
            (Some(c), Some(o)) => c.key.as_bytes() <= o.key.as_bytes(),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_current {
            current.next()
        } else {
            older.next().map(|mut version| {
                // A key with no current row: its newest row here (a marker) is the latest.
                version.is_latest = merged.last().is_none_or(|prev| prev.key != version.key);
                version
            })
        };
        merged.extend(next);
    }
    Ok(merged)
}
