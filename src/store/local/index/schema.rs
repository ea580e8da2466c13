//! The index schema: every table and index of the embedded store, created when missing.

/// Created on every open of the write connection (`IF NOT EXISTS`).
pub(super) const SCHEMA: &str = "
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
-- Every change to users moves the users generation (index/users.rs), whoever writes it: a
-- running server's user cache trusts an entry only at the generation it was read at.
CREATE TRIGGER IF NOT EXISTS users_inserted AFTER INSERT ON users BEGIN
    INSERT INTO meta(name, value) VALUES ('users_generation', 1)
    ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
END;
CREATE TRIGGER IF NOT EXISTS users_updated AFTER UPDATE ON users BEGIN
    INSERT INTO meta(name, value) VALUES ('users_generation', 1)
    ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
END;
CREATE TRIGGER IF NOT EXISTS users_deleted AFTER DELETE ON users BEGIN
    INSERT INTO meta(name, value) VALUES ('users_generation', 1)
    ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1;
END;
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
    reported_size INTEGER,
    version_id TEXT,
    seq INTEGER,
    PRIMARY KEY(bucket, key));
-- Noncurrent versions and every delete marker of versioned buckets; `objects` keeps the
-- current versions, so plain GET and LIST read nothing more. A key's versions are numbered
-- by `seq`, newest highest: a page of them, newest first, is a range of versions_by_key.
CREATE TABLE IF NOT EXISTS versions(
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    seq INTEGER NOT NULL,
    version_id TEXT NOT NULL,
    marker INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    meta_json TEXT NOT NULL,
    mtime_ms INTEGER NOT NULL,
    inline_data BLOB,
    blocks BLOB,
    reported_size INTEGER);
CREATE UNIQUE INDEX IF NOT EXISTS versions_by_key ON versions(bucket, key, seq DESC);
CREATE UNIQUE INDEX IF NOT EXISTS versions_by_id ON versions(bucket, key, version_id);
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
CREATE TABLE IF NOT EXISTS part_checksums(
    upload_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    checksum TEXT NOT NULL,
    PRIMARY KEY(upload_id, number)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS completed_uploads(
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    etag TEXT NOT NULL,
    parts_digest TEXT NOT NULL,
    completed_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS completed_uploads_by_age ON completed_uploads(completed_ms);
CREATE TABLE IF NOT EXISTS blocks(
    hash BLOB PRIMARY KEY,
    dir_id INTEGER NOT NULL,
    size INTEGER NOT NULL,
    refcount INTEGER NOT NULL) WITHOUT ROWID;
";

/// Columns added after the first release, as (table, column, type): an index made before them
/// gets them when it is opened for writing. Every one is NULL-able, so old rows stay valid.
/// `objects.version_id`: NULL is the version `null` (every object written before versioning);
/// `objects.seq`: the number the version keeps in `versions` (NULL: given when it moves).
pub(super) const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("objects", "reported_size", "INTEGER"),
    ("objects", "version_id", "TEXT"),
    ("objects", "seq", "INTEGER"),
];
