//! The SQLite index: every SQL statement of the embedded store, one module per table family.
//! Callers outside this module run no SQL of their own.

mod codec;
mod connection;
mod schema;

pub mod blocks;
pub mod buckets;
pub mod completed;
pub mod meta;
pub mod objects;
pub mod uploads;
pub mod users;
pub mod versions;

pub use codec::{
    decode_blocks, encode_blocks, from_ms, header_from_json, headers_to_json, key_from_db,
    meta_from_db, now_ms, prefix_successor, size_from_db, size_to_db, sql_limit, to_ms,
};
pub use connection::{
    checkpoint, control, open_checkpoint_connection, open_probe_connection, open_write_connection,
    ReadPool, BEGIN_REQUEST, BEGIN_WRITE, COMMIT, END_REQUEST, ROLLBACK, UNDO_REQUEST,
    WRITER_CHECKPOINT_PAGES,
};

use crate::store::StoreError;

/// File name of the index inside the first storage directory.
pub const INDEX_FILE: &str = "index.sqlite";

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
