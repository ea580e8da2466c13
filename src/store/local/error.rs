//! Why the embedded store cannot open: each message names the path involved and what to do.

use std::io;
use std::path::PathBuf;

use super::index::INDEX_FILE;
use super::open::IDENTITY_FILE;
use crate::store::StoreError;

/// Why the store cannot open. Each message names the path involved and what to do.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("no storage directory given: pass at least one --data-dir")]
    NoDirectory,
    #[error("cannot create storage directory {path}: {source}; create it or make its parent writable by the server's user")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot use {path}: {source}; check that it exists and that the server's user may read and write it")]
    Access { path: PathBuf, source: io::Error },
    #[error("{path} is locked by another running libres3; stop it first, or give this one other --data-dir directories")]
    Locked { path: PathBuf },
    #[error("index {path}: {source}; if the file is damaged, restore it from a backup")]
    Index {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("storage directory {path} holds an index ({INDEX_FILE}) but is not the first; list it first among the --data-dir directories")]
    IndexNotFirst { path: PathBuf },
    #[error("storage directory {path} belongs to another store (store {found}, this index is store {expected}); remove it from the --data-dir list")]
    ForeignDir {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("identity file {path} is damaged; restore it from a backup or, if the directory holds nothing of value, empty the directory")]
    BadIdentity { path: PathBuf },
    #[error("storage directory {path} holds block files but no identity file ({IDENTITY_FILE}); restore that file, or empty the directory if its blocks are not needed")]
    Unidentified { path: PathBuf },
    #[error(
        "storage directories {first} and {second} are the same directory; give each only once"
    )]
    Duplicate { first: PathBuf, second: PathBuf },
    #[error("the index references storage directory {last_path} (id {ident}), which is not among the given directories; add it back with --data-dir")]
    MissingDir { last_path: String, ident: String },
    #[error(
        "crash recovery in {path}: {source}; check the permissions and the health of that disk"
    )]
    Recovery { path: PathBuf, source: StoreError },
    #[error("cannot start the index writer thread: {0}")]
    Thread(io::Error),
    #[error("{index}: this store is encrypted (key id {key_id}) but no encryption_key_file is set; set encryption_key_file in libres3.conf to the key file the store was created with")]
    KeyMissing { index: PathBuf, key_id: String },
    #[error("{key}: not the key of the encrypted store {index} (this key's id is {found}, the store's is {expected}); set encryption_key_file to the key file the store was created with")]
    WrongKey {
        key: String,
        index: PathBuf,
        found: String,
        expected: String,
    },
    #[error("{key}: the store {index} was created without encryption, and libres3 does not encrypt existing data in place; remove encryption_key_file, or give an empty data_dir for a new encrypted store and copy the objects over (e.g. with rclone sync)")]
    NotEncrypted { key: String, index: PathBuf },
    #[error("{index}: the store is encrypted with {scheme}, which this version of libres3 does not know; run the version that created the store")]
    UnknownEncryption { index: PathBuf, scheme: String },
    #[error("{index}: the store names its blocks by {names}, which this version of libres3 does not know; run the version that created the store")]
    UnknownBlockNames { index: PathBuf, names: String },
    #[error("encryption at rest: {0}")]
    Crypto(String),
}
