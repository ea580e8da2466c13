//! The `completed_uploads` table: what a completed multipart upload leaves behind for a while,
//! so that a repeated completion can be recognised.

use rusqlite::{params, Connection, OptionalExtension};

use super::{from_ms, key_from_db, DbResult};
use crate::store::{CompletedUpload, StoreError};

/// The record of a completion, written in the completion's transaction.
pub struct NewCompletion<'a> {
    pub upload_id: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
    pub etag: &'a str,
    pub parts_digest: &'a str,
    pub completed_ms: i64,
}

pub fn insert(conn: &Connection, done: &NewCompletion<'_>) -> Result<(), StoreError> {
    conn.execute(
        "INSERT OR REPLACE INTO completed_uploads
         (upload_id, bucket, key, etag, parts_digest, completed_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            done.upload_id,
            done.bucket,
            done.key.as_bytes(),
            done.etag,
            done.parts_digest,
            done.completed_ms
        ],
    )
    .db()?;
    Ok(())
}

/// The record of `upload_id` if it was completed into this bucket and key at or after
/// `since_ms`.
pub fn find(
    conn: &Connection,
    upload_id: &str,
    bucket: &str,
    key: &str,
    since_ms: i64,
) -> Result<Option<CompletedUpload>, StoreError> {
    let row: Option<(Vec<u8>, String, String, i64)> = conn
        .prepare_cached(
            "SELECT key, etag, parts_digest, completed_ms FROM completed_uploads
             WHERE upload_id = ?1 AND bucket = ?2 AND key = ?3 AND completed_ms >= ?4",
        )
        .db()?
        .query_row(
            params![upload_id, bucket, key.as_bytes(), since_ms],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .optional()
        .db()?;
    row.map(|(key, etag, parts_digest, completed_ms)| {
        Ok(CompletedUpload {
            key: key_from_db(key)?,
            etag,
            parts_digest,
            completed: from_ms(completed_ms),
        })
    })
    .transpose()
}

/// Forgets the completions made before `cutoff_ms`.
pub fn forget_before(conn: &Connection, cutoff_ms: i64) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM completed_uploads WHERE completed_ms < ?1")
        .db()?
        .execute(params![cutoff_ms])
        .db()?;
    Ok(())
}

/// Forgets the completions into a bucket being deleted (a small table: an hour of them).
pub fn forget_bucket(conn: &Connection, bucket: &str) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM completed_uploads WHERE bucket = ?1",
        params![bucket],
    )
    .db()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_found_until_forgotten() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(super::super::schema::SCHEMA).unwrap();
        for (id, completed_ms) in [("old", 1_000), ("new", 5_000)] {
            let done = NewCompletion {
                upload_id: id,
                bucket: "b",
                key: "k",
                etag: "e-1",
                parts_digest: "d",
                completed_ms,
            };
            insert(&conn, &done).unwrap();
        }
        assert!(find(&conn, "old", "b", "k", 0).unwrap().is_some());
        // Too old for the caller, another bucket, another key.
        assert!(find(&conn, "old", "b", "k", 2_000).unwrap().is_none());
        assert!(find(&conn, "new", "c", "k", 0).unwrap().is_none());
        assert!(find(&conn, "new", "b", "j", 0).unwrap().is_none());
        forget_before(&conn, 2_000).unwrap();
        forget_bucket(&conn, "c").unwrap();
        assert!(find(&conn, "old", "b", "k", 0).unwrap().is_none());
        let kept = find(&conn, "new", "b", "k", 0).unwrap().unwrap();
        assert_eq!((kept.key.as_str(), kept.etag.as_str()), ("k", "e-1"));
        forget_bucket(&conn, "b").unwrap();
        assert!(find(&conn, "new", "b", "k", 0).unwrap().is_none());
    }
}
