//! The `objects` table: one row per object, with its inline data or its block list.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use super::{
    from_ms, header_from_json, key_from_db, prefix_successor, size_from_db, sql_limit, DbResult,
};
use crate::store::{ListStart, ObjectSummary, StoreError, WriteCondition};

/// The parts of an object row a write needs: its ETag and its block list, if any.
pub struct ExistingObject {
    pub etag: String,
    pub blocks: Option<Vec<u8>>,
    /// None: the version `null`.
    pub version_id: Option<String>,
    pub mtime_ms: i64,
}

pub fn existing_object(
    conn: &Connection,
    bucket: &str,
    key: &str,
) -> Result<Option<ExistingObject>, StoreError> {
    conn.prepare_cached(
        "SELECT etag, blocks, version_id, mtime_ms FROM objects WHERE bucket = ?1 AND key = ?2",
    )
    .db()?
    .query_row(params![bucket, key.as_bytes()], |row| {
        Ok(ExistingObject {
            etag: row.get(0)?,
            blocks: row.get(1)?,
            version_id: row.get(2)?,
            mtime_ms: row.get(3)?,
        })
    })
    .optional()
    .db()
}

pub fn check_condition(
    condition: &WriteCondition,
    existing: Option<&ExistingObject>,
) -> Result<(), StoreError> {
    match (condition, existing) {
        (WriteCondition::None, _) => Ok(()),
        (WriteCondition::IfAbsent, None) => Ok(()),
        (WriteCondition::IfAbsent, Some(_)) => Err(StoreError::PreconditionFailed),
        (WriteCondition::IfEtag(etag), Some(existing)) if existing.etag == *etag => Ok(()),
        (WriteCondition::IfEtag(_), _) => Err(StoreError::PreconditionFailed),
    }
}

/// An object row as written.
pub struct NewObject<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub size: i64,
    pub etag: &'a str,
    pub headers_json: &'a str,
    pub inline: Option<&'a [u8]>,
    pub blocks: Option<&'a [u8]>,
    /// [`crate::store::ObjectMeta::size`].
    pub reported_size: Option<i64>,
    /// None: the version `null`.
    pub version_id: Option<&'a str>,
    /// Its number among its key's versions (see `index::versions`); None in an unversioned
    /// bucket.
    pub seq: Option<i64>,
}

/// Writes an object row modified at `mtime_ms`, replacing the one of the same key.
pub fn replace(conn: &Connection, row: &NewObject<'_>, mtime_ms: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO objects
         (bucket, key, size, etag, meta_json, mtime_ms, inline_data, blocks, reported_size,
          version_id, seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )
    .db()?
    .execute(params![
        row.bucket,
        row.key.as_bytes(),
        row.size,
        row.etag,
        row.headers_json,
        mtime_ms,
        row.inline,
        row.blocks,
        row.reported_size,
        row.version_id,
        row.seq
    ])
    .db()?;
    Ok(())
}

/// An object row (or a version row) as read for a GET or a copy.
pub struct StoredObject {
    pub size: i64,
    pub etag: String,
    pub meta_json: String,
    pub mtime_ms: i64,
    pub inline: Option<Vec<u8>>,
    pub blocks: Option<Vec<u8>>,
    pub reported_size: Option<i64>,
    /// None: the version `null`.
    pub version_id: Option<String>,
}

/// A bucket's owner and the object row of a key in it, as one statement reads them.
pub struct OwnedObject {
    pub owner: String,
    /// None when the bucket has no such key.
    pub object: Option<StoredObject>,
}

/// The owner of `bucket` with the row of `key`, None when there is no such bucket: a GET
/// learns both from one statement instead of a bucket lookup and then an object lookup.
pub fn stored_object_with_owner(
    conn: &Connection,
    bucket: &str,
    key: &str,
) -> Result<Option<OwnedObject>, StoreError> {
    conn.prepare_cached(
        "SELECT b.owner, o.size, o.etag, o.meta_json, o.mtime_ms, o.inline_data, o.blocks,
                o.reported_size, o.version_id
         FROM buckets AS b LEFT JOIN objects AS o ON o.bucket = b.name AND o.key = ?2
         WHERE b.name = ?1",
    )
    .db()?
    .query_row(params![bucket, key.as_bytes()], |row| {
        // Every column of an object row is NOT NULL but its data: a NULL size is no row.
        let object = match row.get::<_, Option<i64>>(1)? {
            Some(size) => Some(StoredObject {
                size,
                etag: row.get(2)?,
                meta_json: row.get(3)?,
                mtime_ms: row.get(4)?,
                inline: row.get(5)?,
                blocks: row.get(6)?,
                reported_size: row.get(7)?,
                version_id: row.get(8)?,
            }),
            None => None,
        };
        Ok(OwnedObject {
            owner: row.get(0)?,
            object,
        })
    })
    .optional()
    .db()
}

pub fn delete(conn: &Connection, bucket: &str, key: &str) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM objects WHERE bucket = ?1 AND key = ?2",
        params![bucket, key.as_bytes()],
    )
    .db()?;
    Ok(())
}

/// Whether `bucket` holds any object.
pub fn any_in_bucket(conn: &Connection, bucket: &str) -> Result<bool, StoreError> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM objects WHERE bucket = ?1)",
        params![bucket],
        |row| row.get(0),
    )
    .db()
}

/// Lower bound, whether it is inclusive, and exclusive upper bound of the keys a listing
/// reads.
pub struct KeyRange {
    pub(super) lower: Vec<u8>,
    pub(super) inclusive: bool,
    pub(super) upper: Option<Vec<u8>>,
}

/// The keys under `prefix` from `start`; None when nothing can match.
pub fn key_range(prefix: &str, start: &ListStart) -> Option<KeyRange> {
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
    Some(KeyRange {
        lower,
        inclusive,
        upper,
    })
}

/// Up to `limit` objects of `bucket` in `range`, by key, with their value of the stored
/// header `header` when one is asked for (read from the metadata only then).
pub fn list(
    conn: &Connection,
    bucket: String,
    range: KeyRange,
    limit: usize,
    header: Option<&str>,
) -> Result<Vec<ObjectSummary>, StoreError> {
    let mut sql = String::from("SELECT key, coalesce(reported_size, size), mtime_ms, etag");
    sql.push_str(if header.is_some() { ", meta_json" } else { "" });
    sql.push_str(" FROM objects WHERE bucket = ? AND key ");
    sql.push_str(if range.inclusive { ">= ?" } else { "> ?" });
    let mut values = vec![Value::Text(bucket), Value::Blob(range.lower)];
    if let Some(upper) = range.upper {
        sql.push_str(" AND key < ?");
        values.push(Value::Blob(upper));
    }
    sql.push_str(" ORDER BY key LIMIT ?");
    values.push(Value::Integer(sql_limit(limit)));
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut rows = stmt.query(params_from_iter(values)).db()?;
    let mut listed = Vec::new();
    while let Some(row) = rows.next().db()? {
        let header = match header {
            Some(name) => header_from_json(&row.get::<_, String>(4).db()?, name)?,
            None => None,
        };
        listed.push(ObjectSummary {
            key: key_from_db(row.get(0).db()?)?,
            size: size_from_db(row.get(1).db()?)?,
            last_modified: from_ms(row.get(2).db()?),
            etag: row.get(3).db()?,
            header,
        });
    }
    Ok(listed)
}
