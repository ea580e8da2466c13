//! The `uploads` and `parts` tables: multipart uploads in progress and their parts.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, CachedStatement, Connection, OptionalExtension};

use super::{
    from_ms, key_from_db, meta_from_db, prefix_successor, size_from_db, sql_limit, DbResult,
};
use crate::store::{PartInfo, StoreError, UploadInfo};

pub fn insert(
    conn: &Connection,
    upload_id: &str,
    bucket: &str,
    key: &str,
    headers_json: &str,
    initiated_ms: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO uploads(upload_id, bucket, key, meta_json, initiated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            upload_id,
            bucket,
            key.as_bytes(),
            headers_json,
            initiated_ms
        ],
    )
    .db()?;
    Ok(())
}

/// NoSuchUpload unless the upload exists for this bucket and key.
pub fn check_upload(
    conn: &Connection,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<(), StoreError> {
    let found: Option<(String, Vec<u8>)> = conn
        .prepare_cached("SELECT bucket, key FROM uploads WHERE upload_id = ?1")
        .db()?
        .query_row(params![upload_id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .db()?;
    match found {
        Some((found_bucket, found_key))
            if found_bucket == bucket && found_key == key.as_bytes() =>
        {
            Ok(())
        }
        _ => Err(StoreError::NoSuchUpload),
    }
}

/// The ids of the uploads into `bucket`.
pub fn ids_in_bucket(conn: &Connection, bucket: &str) -> Result<Vec<String>, StoreError> {
    conn.prepare("SELECT upload_id FROM uploads WHERE bucket = ?1")
        .db()?
        .query_map(params![bucket], |row| row.get(0))
        .db()?
        .collect::<rusqlite::Result<_>>()
        .db()
}

/// The encoded block list of every part of an upload.
pub fn part_block_lists(conn: &Connection, upload_id: &str) -> Result<Vec<Vec<u8>>, StoreError> {
    conn.prepare_cached("SELECT blocks FROM parts WHERE upload_id = ?1")
        .db()?
        .query_map(params![upload_id], |row| row.get(0))
        .db()?
        .collect::<rusqlite::Result<_>>()
        .db()
}

/// Deletes an upload and its parts (their blocks are released already).
pub fn delete(conn: &Connection, upload_id: &str) -> Result<(), StoreError> {
    conn.execute("DELETE FROM parts WHERE upload_id = ?1", params![upload_id])
        .db()?;
    conn.execute(
        "DELETE FROM part_checksums WHERE upload_id = ?1",
        params![upload_id],
    )
    .db()?;
    conn.execute(
        "DELETE FROM uploads WHERE upload_id = ?1",
        params![upload_id],
    )
    .db()?;
    Ok(())
}

/// The encoded block list of one part, if it was uploaded.
pub fn part_block_list(
    conn: &Connection,
    upload_id: &str,
    number: u32,
) -> Result<Option<Vec<u8>>, StoreError> {
    conn.query_row(
        "SELECT blocks FROM parts WHERE upload_id = ?1 AND number = ?2",
        params![upload_id, number],
        |row| row.get(0),
    )
    .optional()
    .db()
}

/// A part row as written.
pub struct NewPart<'a> {
    pub upload_id: &'a str,
    pub number: u32,
    pub size: i64,
    pub etag: &'a str,
    pub mtime_ms: i64,
    pub blocks: &'a [u8],
    pub checksum: Option<&'a str>,
}

/// Writes a part row, replacing the one of the same number.
pub fn replace_part(conn: &Connection, part: &NewPart<'_>) -> Result<(), StoreError> {
    conn.execute(
        "INSERT OR REPLACE INTO parts
         (upload_id, number, size, etag, mtime_ms, blocks)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            part.upload_id,
            part.number,
            part.size,
            part.etag,
            part.mtime_ms,
            part.blocks
        ],
    )
    .db()?;
    // A separate table, so that indexes written before part checksums existed still open.
    match part.checksum {
        Some(checksum) => conn.execute(
            "INSERT OR REPLACE INTO part_checksums (upload_id, number, checksum)
             VALUES (?1, ?2, ?3)",
            params![part.upload_id, part.number, checksum],
        ),
        None => conn.execute(
            "DELETE FROM part_checksums WHERE upload_id = ?1 AND number = ?2",
            params![part.upload_id, part.number],
        ),
    }
    .db()?;
    Ok(())
}

/// The metadata JSON and initiation time of an upload known to exist.
pub fn meta_and_initiated(conn: &Connection, upload_id: &str) -> Result<(String, i64), StoreError> {
    conn.query_row(
        "SELECT meta_json, initiated_ms FROM uploads WHERE upload_id = ?1",
        params![upload_id],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .db()
}

/// The parts of an upload, by number.
pub fn list_parts(conn: &Connection, upload_id: &str) -> Result<Vec<PartInfo>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT p.number, p.size, p.etag, p.mtime_ms, c.checksum FROM parts p
             LEFT JOIN part_checksums c ON c.upload_id = p.upload_id AND c.number = p.number
             WHERE p.upload_id = ?1 ORDER BY p.number",
        )
        .db()?;
    let mut rows = stmt.query(params![upload_id]).db()?;
    let mut parts = Vec::new();
    while let Some(row) = rows.next().db()? {
        parts.push(PartInfo {
            number: row.get(0).db()?,
            size: size_from_db(row.get(1).db()?)?,
            etag: row.get(2).db()?,
            last_modified: from_ms(row.get(3).db()?),
            checksum: row.get(4).db()?,
        });
    }
    Ok(parts)
}

/// A part as completion reads it.
pub struct CompletedPart {
    pub etag: String,
    pub size: i64,
    pub blocks: Vec<u8>,
}

/// Looks up the parts a completion names, with one prepared statement for all of them.
pub struct PartLookup<'c>(CachedStatement<'c>);

impl<'c> PartLookup<'c> {
    pub fn new(conn: &'c Connection) -> Result<PartLookup<'c>, StoreError> {
        conn.prepare_cached(
            "SELECT etag, size, blocks FROM parts
             WHERE upload_id = ?1 AND number = ?2",
        )
        .db()
        .map(PartLookup)
    }

    pub fn get(
        &mut self,
        upload_id: &str,
        number: u32,
    ) -> Result<Option<CompletedPart>, StoreError> {
        self.0
            .query_row(params![upload_id, number], |row| {
                Ok(CompletedPart {
                    etag: row.get(0)?,
                    size: row.get(1)?,
                    blocks: row.get(2)?,
                })
            })
            .optional()
            .db()
    }
}

/// An upload row as the expiry reads it.
pub struct ExpiredUpload {
    pub upload_id: String,
    pub bucket: String,
    pub key: Vec<u8>,
    pub initiated_ms: i64,
    pub meta_json: String,
}

/// Up to `limit` uploads initiated before `cutoff_ms`, oldest first.
pub fn initiated_before(
    conn: &Connection,
    cutoff_ms: i64,
    limit: usize,
) -> Result<Vec<ExpiredUpload>, StoreError> {
    conn.prepare_cached(
        "SELECT upload_id, bucket, key, initiated_ms, meta_json FROM uploads
         WHERE initiated_ms < ?1 ORDER BY initiated_ms LIMIT ?2",
    )
    .db()?
    .query_map(params![cutoff_ms, sql_limit(limit)], |row| {
        Ok(ExpiredUpload {
            upload_id: row.get(0)?,
            bucket: row.get(1)?,
            key: row.get(2)?,
            initiated_ms: row.get(3)?,
            meta_json: row.get(4)?,
        })
    })
    .db()?
    .collect::<rusqlite::Result<_>>()
    .db()
}

/// Up to `limit` uploads into `bucket` under `prefix`, after the (key, upload id) `after`, by
/// key then upload id.
pub fn list(
    conn: &Connection,
    bucket: String,
    prefix: Vec<u8>,
    after: Option<(Vec<u8>, Option<String>)>,
    limit: usize,
) -> Result<Vec<UploadInfo>, StoreError> {
    let mut sql = String::from(
        "SELECT upload_id, key, initiated_ms, meta_json FROM uploads
                 WHERE bucket = ? AND key >= ?",
    );
    let upper = prefix_successor(&prefix);
    let mut values = vec![Value::Text(bucket), Value::Blob(prefix)];
    if let Some(upper) = upper {
        sql.push_str(" AND key < ?");
        values.push(Value::Blob(upper));
    }
    match after {
        None => {}
        Some((key, None)) => {
            sql.push_str(" AND key > ?");
            values.push(Value::Blob(key));
        }
        Some((key, Some(upload_id))) => {
            sql.push_str(" AND (key > ? OR (key = ? AND upload_id > ?))");
            values.push(Value::Blob(key.clone()));
            values.push(Value::Blob(key));
            values.push(Value::Text(upload_id));
        }
    }
    sql.push_str(" ORDER BY key, upload_id LIMIT ?");
    values.push(Value::Integer(sql_limit(limit)));
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut rows = stmt.query(params_from_iter(values)).db()?;
    let mut uploads = Vec::new();
    while let Some(row) = rows.next().db()? {
        let meta_json: String = row.get(3).db()?;
        uploads.push(UploadInfo {
            upload_id: row.get(0).db()?,
            key: key_from_db(row.get(1).db()?)?,
            initiated: from_ms(row.get(2).db()?),
            meta: meta_from_db(String::new(), &meta_json)?,
        });
    }
    Ok(uploads)
}
