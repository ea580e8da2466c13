//! Opening the embedded store: storage directories, their identity files and locks, the
//! index, and the check of the encryption key against what the store was created with.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use ring::rand::SystemRandom;
use rusqlite::Connection;

use super::blocks::{self, random_hex, BlockGuards, StorageDir};
use super::index::{self, ReadPool, INDEX_FILE};
use super::reader::ReaderRegistry;
use super::sealing::{self, Sealing, StoreKey};
use super::small_objects::SmallObjects;
use super::writer::Writer;
use super::{recover, staging, users, LocalError, LocalStore, Shared};

/// Buckets whose owner the store remembers for the check before staging.
const BUCKET_OWNER_HINTS: u64 = 4096;

/// Name of the identity file in each storage directory.
pub const IDENTITY_FILE: &str = "libres3-dir";

impl LocalStore {
    /// Opens or initialises an unencrypted store: [`LocalStore::open_with_key`] without a key.
    pub fn open(dirs: &[PathBuf]) -> Result<LocalStore, LocalError> {
        LocalStore::open_with_key(dirs, None)
    }

    /// Opens or initialises the store over one or more storage directories (the first holds
    /// the SQLite index), creating missing ones, and runs crash recovery. With `key`, data is
    /// encrypted at rest; a new store records whether it is encrypted and with which key, and
    /// an existing one refuses to open with another key, or with a key when it was created
    /// without one (and the reverse).
    pub fn open_with_key(
        dirs: &[PathBuf],
        key: Option<&StoreKey>,
    ) -> Result<LocalStore, LocalError> {
        let Some(first) = dirs.first() else {
            return Err(LocalError::NoDirectory);
        };
        for dir in dirs {
            for path in [dir.clone(), dir.join("blocks"), dir.join("tmp")] {
                fs::create_dir_all(&path)
                    .map_err(|source| LocalError::CreateDir { path, source })?;
            }
            // The entries just made must survive a power loss before blocks go below them.
            blocks::sync_dir(dir).map_err(|source| LocalError::Access {
                path: dir.clone(),
                source,
            })?;
        }
        for dir in &dirs[1..] {
            if dir.join(INDEX_FILE).exists() {
                return Err(LocalError::IndexNotFirst { path: dir.clone() });
            }
        }

        let index_path = first.join(INDEX_FILE);
        prepare_private_file(&index_path).map_err(|source| LocalError::Access {
            path: index_path.clone(),
            source,
        })?;
        let index_error = |source| LocalError::Index {
            path: index_path.clone(),
            source,
        };
        let conn = index::open_write_connection(&index_path).map_err(index_error)?;
        let rng = SystemRandom::new();
        let fresh_id = random_hex(&rng, 16).map_err(|e| LocalError::Access {
            path: index_path.clone(),
            source: io::Error::other(e.to_string()),
        })?;
        let store_id = index::meta::store_id(&conn, fresh_id).map_err(index_error)?;

        let mut identities: Vec<(PathBuf, String)> = Vec::new();
        let mut locks = Vec::new();
        for dir in dirs {
            let (ident, lock) = dir_identity(dir, &store_id, &rng)?;
            if let Some((other, _)) = identities.iter().find(|(_, known)| *known == ident) {
                return Err(LocalError::Duplicate {
                    first: other.clone(),
                    second: dir.clone(),
                });
            }
            identities.push((dir.clone(), ident));
            locks.push(lock);
        }
        // Checked once the directories are locked, before recovery touches anything.
        let mut sealing = Sealing::new(key)?;
        sealing::check_store(&conn, &index_path, key, &mut sealing)?;
        if let Some(key) = key {
            log::info!("{}", sealing::describe(key, &sealing));
        }
        let storage = register_dirs(&conn, &identities).map_err(index_error)?;
        check_missing_dirs(&conn, &identities).map_err(|e| match e {
            Missing::Dir(e) => e,
            Missing::Db(source) => index_error(source),
        })?;
        recover::recover(&conn, &storage)?;

        let shared = Arc::new(Shared {
            dirs: storage,
            guards: Mutex::new(BlockGuards::default()),
            readers: ReaderRegistry::default(),
            reads: ReadPool::new(index_path.clone()),
            rng,
            sealing,
            bucket_owners: moka::sync::Cache::new(BUCKET_OWNER_HINTS),
            users: users::UserCache::new(&index_path),
            block_buffers: staging::BlockBuffers::new(),
            commits: AtomicU64::new(0),
            small_objects: SmallObjects::new(),
            _locks: locks,
        });
        let writer = Writer::start(conn, shared.clone()).map_err(LocalError::Thread)?;
        Ok(LocalStore { shared, writer })
    }
}

/// Creates `path` readable by its owner only, or narrows an existing file to that.
pub(super) fn prepare_private_file(path: &Path) -> io::Result<()> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
}

/// Reads (or creates) the identity file of `dir` and locks it. Returns the directory's id.
fn dir_identity(
    dir: &Path,
    store_id: &str,
    rng: &SystemRandom,
) -> Result<(String, Flock<File>), LocalError> {
    let path = dir.join(IDENTITY_FILE);
    let access = |source| LocalError::Access {
        path: path.clone(),
        source,
    };
    let ident = match fs::read_to_string(&path) {
        Ok(text) => {
            let field = |name: &str| {
                text.lines()
                    .find_map(|line| line.strip_prefix(name))
                    .map(|value| value.trim().to_owned())
                    .filter(|value| !value.is_empty())
            };
            let (Some(found_store), Some(ident)) = (field("store "), field("dir ")) else {
                return Err(LocalError::BadIdentity { path });
            };
            if found_store != store_id {
                return Err(LocalError::ForeignDir {
                    path: dir.to_path_buf(),
                    found: found_store,
                    expected: store_id.to_owned(),
                });
            }
            ident
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let has_blocks = fs::read_dir(dir.join("blocks"))
                .map_err(access)?
                .next()
                .is_some();
            if has_blocks {
                return Err(LocalError::Unidentified {
                    path: dir.to_path_buf(),
                });
            }
            let ident = random_hex(rng, 16).map_err(|e| access(io::Error::other(e.to_string())))?;
            write_identity(dir, store_id, &ident).map_err(access)?;
            ident
        }
        Err(e) => return Err(access(e)),
    };
    let lock = File::open(&path).map_err(access)?;
    match Flock::lock(lock, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok((ident, lock)),
        Err((_, Errno::EWOULDBLOCK)) => Err(LocalError::Locked { path }),
        Err((_, e)) => Err(access(e.into())),
    }
}

fn write_identity(dir: &Path, store_id: &str, ident: &str) -> io::Result<()> {
    let tmp = dir.join(format!("{IDENTITY_FILE}.new"));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    writeln!(file, "libres3 storage directory")?;
    writeln!(file, "store {store_id}")?;
    writeln!(file, "dir {ident}")?;
    file.sync_all()?;
    fs::rename(&tmp, dir.join(IDENTITY_FILE))?;
    blocks::sync_dir(dir)
}

/// Records each directory (by identity) in the index and returns them with their ids.
fn register_dirs(
    conn: &Connection,
    identities: &[(PathBuf, String)],
) -> rusqlite::Result<Vec<StorageDir>> {
    let mut storage = Vec::new();
    for (path, ident) in identities {
        let id = index::meta::register_dir(conn, ident, &path.to_string_lossy())?;
        storage.push(StorageDir::new(id, path.clone()));
    }
    Ok(storage)
}

enum Missing {
    Dir(LocalError),
    Db(rusqlite::Error),
}

/// Fails when a directory the index has blocks in was not given.
fn check_missing_dirs(conn: &Connection, given: &[(PathBuf, String)]) -> Result<(), Missing> {
    let known = index::meta::known_dirs(conn).map_err(Missing::Db)?;
    for dir in known {
        if given.iter().any(|(_, given)| *given == dir.ident) {
            continue;
        }
        let used = index::blocks::any_in_dir(conn, dir.dir_id).map_err(Missing::Db)?;
        if used {
            return Err(Missing::Dir(LocalError::MissingDir {
                last_path: dir.last_path,
                ident: dir.ident,
            }));
        }
    }
    Ok(())
}
