//! What the index records about encryption and block names: checked against the key given at
//! startup, and written once for a new store.

use std::path::Path;

use rusqlite::Connection;

use super::super::index;
use super::super::LocalError;
use super::{PlainNames, Sealing, StoreKey, PLAIN, SCHEME};

/// Checks the key given at startup against the encryption the store was created with, and
/// records it for a store that holds no data yet; then settles how a store without encryption
/// names its blocks.
pub fn check_store(
    conn: &Connection,
    index: &Path,
    key: Option<&StoreKey>,
    sealing: &mut Sealing,
) -> Result<(), LocalError> {
    check_encryption(conn, index, key, sealing)?;
    if !sealing.is_on() {
        sealing.plain_names = plain_names(conn, index)?;
    }
    Ok(())
}

/// The block names of a store without encryption, as recorded; recorded first when missing:
/// BLAKE3 for a store that holds no data yet, SHA-256 for one whose data is older than the
/// record (its blocks were named so). Decided once: blocks are never renamed.
fn plain_names(conn: &Connection, index: &Path) -> Result<PlainNames, LocalError> {
    let db = |source| LocalError::Index {
        path: index.to_path_buf(),
        source,
    };
    if let Some(recorded) = index::meta::value(conn, index::meta::BLOCK_NAMES).map_err(db)? {
        return PlainNames::from_recorded(&recorded).ok_or_else(|| LocalError::UnknownBlockNames {
            index: index.to_path_buf(),
            names: recorded,
        });
    }
    let names = match index::meta::holds_data(conn).map_err(db)? {
        true => PlainNames::Sha256,
        false => PlainNames::Blake3,
    };
    index::meta::record_block_names(conn, names.recorded()).map_err(db)?;
    Ok(names)
}

/// Encryption is decided once per store: data is never encrypted or decrypted in place, so a
/// store never mixes sealed and plain data.
fn check_encryption(
    conn: &Connection,
    index: &Path,
    key: Option<&StoreKey>,
    sealing: &Sealing,
) -> Result<(), LocalError> {
    let db = |source| LocalError::Index {
        path: index.to_path_buf(),
        source,
    };
    let meta = |name: &str| -> Result<Option<String>, LocalError> {
        index::meta::value(conn, name).map_err(db)
    };
    let recorded = match meta("encryption")? {
        Some(scheme) => scheme,
        None => {
            // A store made by `setup` or `user add` has users but no data yet: this start
            // decides. One that holds data comes from before encryption existed: it is plain.
            let holds_data = index::meta::holds_data(conn).map_err(db)?;
            let scheme = match sealing.key_id() {
                Some(id) if !holds_data => {
                    index::meta::record_encryption(conn, SCHEME, id).map_err(db)?;
                    return Ok(());
                }
                _ => PLAIN,
            };
            index::meta::record_scheme(conn, scheme).map_err(db)?;
            scheme.to_owned()
        }
    };
    let index = index.to_path_buf();
    match (recorded.as_str(), key, sealing.key_id()) {
        (PLAIN, None, _) => Ok(()),
        (PLAIN, Some(key), _) => Err(LocalError::NotEncrypted {
            key: key.setting().to_owned(),
            index,
        }),
        (SCHEME, key, found) => {
            let Some(expected) = meta("encryption_key_id")? else {
                return Err(LocalError::UnknownEncryption {
                    index,
                    scheme: format!("{SCHEME} without a key id"),
                });
            };
            match (key, found) {
                (Some(key), Some(found)) if found != expected => Err(LocalError::WrongKey {
                    key: key.setting().to_owned(),
                    index,
                    found: found.to_owned(),
                    expected,
                }),
                (Some(_), Some(_)) => Ok(()),
                _ => Err(LocalError::KeyMissing {
                    index,
                    key_id: expected,
                }),
            }
        }
        (other, _, _) => Err(LocalError::UnknownEncryption {
            index,
            scheme: other.to_owned(),
        }),
    }
}

/// Where the key of a store came from, for the startup log.
pub fn describe(key: &StoreKey, sealing: &Sealing) -> String {
    format!(
        "encryption at rest is on: AES-256-GCM, a key per block derived from the key in {} \
         (key id {})",
        key.file.display(),
        sealing.key_id().unwrap_or("?")
    )
}
