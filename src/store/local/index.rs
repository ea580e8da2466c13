//! The SQLite index: schema, connections, the block-list encoding and the queries shared by
//! the read path and the writer thread.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::blocks::{BlockRef, Hash};
use crate::store::{ObjectMeta, Principal, StoreError, WriteCondition};

/// File name of the index inside the first storage directory.
pub const INDEX_FILE: &str = "index.sqlite";

/// Read connections kept open between requests; more are opened under load and closed after.
const IDLE_READ_CONNECTIONS: usize = 4;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta(
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dirs(
    dir_id INTEGER PRIMARY KEY,
    ident TEXT NOT NULL UNIQUE,
    last_path TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users(
    name TEXT PRIMARY KEY,
    access_key TEXT NOT NULL UNIQUE,
    secret TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS buckets(
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bucket_documents(
    bucket TEXT NOT NULL,
    name TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY(bucket, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS objects(
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    meta_json TEXT NOT NULL,
    mtime_ms INTEGER NOT NULL,
    inline_data BLOB,
    blocks BLOB,
    PRIMARY KEY(bucket, key));
CREATE TABLE IF NOT EXISTS uploads(
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    meta_json TEXT NOT NULL,
    initiated_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads(bucket, key, upload_id);
CREATE INDEX IF NOT EXISTS uploads_by_age ON uploads(initiated_ms);
CREATE TABLE IF NOT EXISTS parts(
    upload_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    mtime_ms INTEGER NOT NULL,
    blocks BLOB NOT NULL,
    PRIMARY KEY(upload_id, number)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blocks(
    hash BLOB PRIMARY KEY,
    dir_id INTEGER NOT NULL,
    size INTEGER NOT NULL,
    refcount INTEGER NOT NULL) WITHOUT ROWID;
";

/// Turns a SQLite error into a store error: a full disk is [`StoreError::OutOfSpace`], the
/// rest internal errors (the S3 layer logs them and answers InternalError).
pub trait DbResult<T> {
    fn db(self) -> Result<T, StoreError>;
}

impl<T> DbResult<T> for rusqlite::Result<T> {
    fn db(self) -> Result<T, StoreError> {
        self.map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::OutOfSpace(format!("index: {e}")),
            _ => StoreError::Internal(format!("index: {e}")),
        })
    }
}

/// Opens the connection the writer thread owns and creates the schema.
pub fn open_write_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // WAL lets readers run beside the writer; FULL makes every acknowledged commit survive a
    // power loss.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

fn open_read_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(conn)
}

/// A few read-only connections, used from blocking tasks.
pub struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    pub fn new(path: PathBuf) -> ReadPool {
        ReadPool {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` inside one read transaction, so everything it reads comes from one snapshot.
    pub fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let reused = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match reused {
            Some(conn) => conn,
            None => open_read_connection(&self.path).db()?,
        };
        conn.execute_batch("BEGIN").db()?;
        let result = f(&conn);
        // A read transaction has nothing to commit; ending it releases the snapshot.
        let ended = conn.execute_batch("COMMIT").db();
        if ended.is_ok() {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < IDLE_READ_CONNECTIONS {
                idle.push(conn);
            }
        }
        let value = result?;
        ended?;
        Ok(value)
    }
}

// ---------------------------------------------------------------------------------------------
// Encodings

/// Bytes of one entry of a block list: 32-byte SHA-256, then the length as u32 little-endian.
const BLOCK_ENTRY_LEN: usize = 36;

pub fn encode_blocks(blocks: &[BlockRef]) -> Vec<u8> {
    let mut out = Vec::with_capacity(blocks.len() * BLOCK_ENTRY_LEN);
    for block in blocks {
        out.extend_from_slice(&block.hash);
        out.extend_from_slice(&block.len.to_le_bytes());
    }
    out
}

pub fn decode_blocks(encoded: &[u8]) -> Result<Vec<BlockRef>, StoreError> {
    if encoded.len() % BLOCK_ENTRY_LEN != 0 {
        return Err(StoreError::Internal(format!(
            "index: corrupt block list of {} bytes",
            encoded.len()
        )));
    }
    let mut blocks = Vec::with_capacity(encoded.len() / BLOCK_ENTRY_LEN);
    for entry in encoded.chunks_exact(BLOCK_ENTRY_LEN) {
        let mut hash: Hash = [0; 32];
        hash.copy_from_slice(&entry[..32]);
        let mut len = [0u8; 4];
        len.copy_from_slice(&entry[32..]);
        blocks.push(BlockRef {
            hash,
            len: u32::from_le_bytes(len),
        });
    }
    Ok(blocks)
}

/// The smallest byte string greater than every string starting with `prefix`, or None when
/// there is none (empty prefix, or only 0xFF bytes).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut successor = prefix.to_vec();
    while let Some(last) = successor.pop() {
        if last < u8::MAX {
            successor.push(last + 1);
            return Some(successor);
        }
    }
    None
}

pub fn to_ms(time: SystemTime) -> i64 {
    let ms = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    i64::try_from(ms).unwrap_or(i64::MAX)
}

pub fn from_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

pub fn now_ms() -> i64 {
    to_ms(SystemTime::now())
}

pub fn size_to_db(size: u64) -> Result<i64, StoreError> {
    i64::try_from(size).map_err(|_| StoreError::Internal(format!("size {size} too large")))
}

pub fn size_from_db(size: i64) -> Result<u64, StoreError> {
    u64::try_from(size).map_err(|_| StoreError::Internal(format!("index: negative size {size}")))
}

pub fn key_from_db(key: Vec<u8>) -> Result<String, StoreError> {
    String::from_utf8(key).map_err(|_| StoreError::Internal("index: key is not UTF-8".into()))
}

pub fn headers_to_json(meta: &ObjectMeta) -> Result<String, StoreError> {
    serde_json::to_string(&meta.headers)
        .map_err(|e| StoreError::Internal(format!("encoding metadata: {e}")))
}

pub fn meta_from_db(etag: String, headers_json: &str) -> Result<ObjectMeta, StoreError> {
    let headers = serde_json::from_str(headers_json)
        .map_err(|e| StoreError::Internal(format!("index: corrupt metadata: {e}")))?;
    Ok(ObjectMeta { etag, headers })
}

// ---------------------------------------------------------------------------------------------
// Queries used both by readers and by the writer

/// NoSuchBucket, or AccessDenied unless `who` owns `bucket`.
pub fn check_owner(conn: &Connection, who: &Principal, bucket: &str) -> Result<(), StoreError> {
    let owner: Option<String> = conn
        .prepare_cached("SELECT owner FROM buckets WHERE name = ?1")
        .db()?
        .query_row(params![bucket], |row| row.get(0))
        .optional()
        .db()?;
    match (owner, who) {
        (None, _) => Err(StoreError::NoSuchBucket),
        (Some(owner), Principal::User(name)) if owner == *name => Ok(()),
        _ => Err(StoreError::AccessDenied),
    }
}

/// The parts of an object row a write needs: its ETag and its block list, if any.
pub struct ExistingObject {
    pub etag: String,
    pub blocks: Option<Vec<u8>>,
}

pub fn existing_object(
    conn: &Connection,
    bucket: &str,
    key: &str,
) -> Result<Option<ExistingObject>, StoreError> {
    conn.prepare_cached("SELECT etag, blocks FROM objects WHERE bucket = ?1 AND key = ?2")
        .db()?
        .query_row(params![bucket, key.as_bytes()], |row| {
            Ok(ExistingObject {
                etag: row.get(0)?,
                blocks: row.get(1)?,
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

/// The bucket and key of an upload; NoSuchUpload unless it exists for this bucket and key.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_list_round_trip() {
        let blocks = vec![
            BlockRef {
                hash: [7; 32],
                len: 1 << 20,
            },
            BlockRef {
                hash: [9; 32],
                len: 12,
            },
        ];
        let encoded = encode_blocks(&blocks);
        assert_eq!(encoded.len(), 72);
        assert_eq!(decode_blocks(&encoded).unwrap(), blocks);
        assert!(decode_blocks(&encoded[..40]).is_err());
        assert!(decode_blocks(&[]).unwrap().is_empty());
    }

    #[test]
    fn successor_of_prefixes() {
        assert_eq!(prefix_successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
        assert_eq!(prefix_successor(b""), None);
    }
}
