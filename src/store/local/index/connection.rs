//! Connections to the index: the writer's, a pool of readers, and the transaction statements.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::schema::{ADDED_COLUMNS, SCHEMA};
use super::DbResult;
use crate::store::StoreError;

/// Read connections kept open between requests, at least: one per core is added, since every
/// worker thread reads in place (GET) besides the blocking tasks. More are opened under load
/// and closed after.
const IDLE_READ_CONNECTIONS: usize = 4;

/// Starts a write transaction, taking the write lock at once.
pub const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";
/// Starts a read transaction: one snapshot for everything read until its end.
const BEGIN_READ: &str = "BEGIN";
pub const COMMIT: &str = "COMMIT";
pub const ROLLBACK: &str = "ROLLBACK";
/// One request inside the writer's group transaction.
pub const BEGIN_REQUEST: &str = "SAVEPOINT request";
pub const END_REQUEST: &str = "RELEASE request";
pub const UNDO_REQUEST: &str = "ROLLBACK TO request; RELEASE request";

/// Statements each connection keeps prepared: the writer alone runs a few dozen, and an
/// evicted one is parsed again on its next use (rusqlite keeps 16 by default).
const CACHED_STATEMENTS: usize = 64;

/// Runs one transaction-control statement (BEGIN, COMMIT, SAVEPOINT, RELEASE) prepared once
/// per connection: `execute_batch` parses it again every time, on every request.
pub fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
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
    conn.set_prepared_statement_cache_capacity(CACHED_STATEMENTS);
    // WAL lets readers run beside the writer; FULL makes every acknowledged commit survive a
    // power loss.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(SCHEMA)?;
    add_missing_columns(&conn)?;
    Ok(conn)
}

/// Brings an index made by an older release up to [`ADDED_COLUMNS`].
fn add_missing_columns(conn: &Connection) -> rusqlite::Result<()> {
    for (table, column, kind) in ADDED_COLUMNS {
        let present = conn
            .prepare(&format!(
                "SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1"
            ))?
            .exists([column])?;
        if !present {
            log::info!("index: adding column {table}.{column}");
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))?;
        }
    }
    Ok(())
}

/// Opens the connection that copies the write-ahead log into the index beside the writer.
pub fn open_checkpoint_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // A checkpoint syncs the log before copying it and the index after, as the writer would.
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// Copies what the log holds into the index without waiting for readers or the writer,
/// which goes on appending meanwhile.
pub fn checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}

/// Log pages after which the writer's own commit checkpoints, should the checkpoint thread
/// fall that far behind (SQLite's default, 1000, would have it checkpoint all the time).
pub const WRITER_CHECKPOINT_PAGES: i64 = 20_000;

fn open_read_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(CACHED_STATEMENTS);
    Ok(conn)
}

/// Opens a read-only connection that never waits for a lock: it reads on a thread that
/// serves requests, and a caller that finds the index busy takes the slower way instead.
pub fn open_probe_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // rusqlite's default is to wait 5 s, which would hold a worker thread and its requests.
    conn.busy_timeout(Duration::ZERO)?;
    Ok(conn)
}

/// A few read-only connections, used from blocking tasks.
pub struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
}

impl ReadPool {
    pub fn new(path: PathBuf) -> ReadPool {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        ReadPool {
            path,
            idle: Mutex::new(Vec::new()),
            max_idle: IDLE_READ_CONNECTIONS + cores,
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
        control(&conn, BEGIN_READ).db()?;
        let result = f(&conn);
        // A read transaction has nothing to commit; ending it releases the snapshot.
        let ended = control(&conn, COMMIT).db();
        if ended.is_ok() {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < self.max_idle {
                idle.push(conn);
            }
        }
        let value = result?;
        ended?;
        Ok(value)
    }
}
