//! What versioning does to the embedded store's rows: which version a write retires, what a
//! delete leaves, which row a version id names. Each function runs inside the writer's (or a
//! reader's) transaction; the SQL is in `index::versions`.

use rusqlite::Connection;

use super::index::objects::key_range;
use super::index::objects::{ExistingObject, KeyRange, NewObject, StoredObject};
use super::index::versions::{self, VersionRow};
use super::index::{self, decode_blocks, from_ms, now_ms};
use super::writer::Tx;
use crate::store::{
    Deleted, ListStart, StoreError, VersionStart, VersionSummary, Versioning, NULL_VERSION,
};

/// Hex digits of the number at the start of a version id.
const SEQ_DIGITS: usize = 16;

/// The id a version numbered `seq` gets under `versioning`: its number and `fresh` (random
/// hex) when the bucket is versioned, else the version `null` (None in the index).
fn new_version_id(versioning: Versioning, seq: i64, fresh: &str) -> Option<String> {
    match versioning {
        Versioning::Enabled => Some(format!("{seq:0SEQ_DIGITS$x}{fresh}")),
        Versioning::Unversioned | Versioning::Suspended => None,
    }
}

/// The number a version id made by [`new_version_id`] starts with.
fn seq_in_id(version_id: &str) -> Option<i64> {
    let digits = version_id.get(..SEQ_DIGITS)?;
    let all_hex =
        version_id.len() > SEQ_DIGITS && version_id.bytes().all(|b| b.is_ascii_hexdigit());
    all_hex
        .then(|| i64::from_str_radix(digits, 16).ok())
        .flatten()
}

fn release_list(tx: &mut Tx<'_>, blocks: Option<&[u8]>) -> Result<(), StoreError> {
    if let Some(list) = blocks {
        tx.release(&decode_blocks(list)?)?;
    }
    Ok(())
}

/// Removes the version `null` of `key` among its noncurrent rows (a Suspended write or delete
/// replaces it), releasing its blocks.
fn drop_noncurrent_null(tx: &mut Tx<'_>, bucket: &str, key: &str) -> Result<(), StoreError> {
    if let Some(row) = versions::by_id(tx.conn, bucket, key, NULL_VERSION)? {
        release_list(tx, row.object.blocks.as_deref())?;
        versions::delete(tx.conn, bucket, key, row.seq)?;
    }
    Ok(())
}

/// Makes way for a new current version of `key` under `versioning`: the current row either
/// loses its blocks (it is about to be overwritten: unversioned, or the `null` version of a
/// suspended bucket) or becomes noncurrent. The caller then writes the new `objects` row.
/// The new version's blocks must already be referenced, so shared ones never reach 0.
/// `existing` is the key's current row as the caller read it in this transaction.
fn retire_for_write(
    tx: &mut Tx<'_>,
    (bucket, key): (&str, &str),
    versioning: Versioning,
    existing: Option<ExistingObject>,
) -> Result<(), StoreError> {
    match versioning {
        Versioning::Unversioned => {
            release_list(tx, existing.and_then(|e| e.blocks).as_deref())?;
        }
        Versioning::Enabled => {
            versions::retire_current(tx.conn, bucket, key)?;
        }
        Versioning::Suspended => match existing {
            Some(current) if current.version_id.is_none() => {
                release_list(tx, current.blocks.as_deref())?;
            }
            _ => {
                drop_noncurrent_null(tx, bucket, key)?;
                versions::retire_current(tx.conn, bucket, key)?;
            }
        },
    }
    Ok(())
}

/// A delete without a version id: unversioned, the object goes; otherwise a delete marker
/// becomes the latest version (`fresh` in its id when versioning is enabled).
pub fn delete_latest(
    tx: &mut Tx<'_>,
    bucket: &str,
    key: &str,
    versioning: Versioning,
    fresh: &str,
) -> Result<Deleted, StoreError> {
    let existing = index::objects::existing_object(tx.conn, bucket, key)?;
    let marker_id: String = match versioning {
        Versioning::Unversioned => {
            if let Some(existing) = existing {
                release_list(tx, existing.blocks.as_deref())?;
                index::objects::delete(tx.conn, bucket, key)?;
            }
            return Ok(Deleted {
                version_id: None,
                delete_marker: false,
            });
        }
        Versioning::Enabled => {
            versions::retire_current(tx.conn, bucket, key)?;
            let seq = versions::next_seq(tx.conn, bucket, key)?;
            new_version_id(versioning, seq, fresh).unwrap_or_default()
        }
        Versioning::Suspended => {
            match existing {
                Some(current) if current.version_id.is_none() => {
                    release_list(tx, current.blocks.as_deref())?;
                    index::objects::delete(tx.conn, bucket, key)?;
                }
                _ => {
                    drop_noncurrent_null(tx, bucket, key)?;
                    versions::retire_current(tx.conn, bucket, key)?;
                }
            }
            NULL_VERSION.to_owned()
        }
    };
    let seq = versions::next_seq(tx.conn, bucket, key)?;
    versions::insert_marker(tx.conn, (bucket, key, seq), &marker_id, index::now_ms())?;
    Ok(Deleted {
        version_id: Some(marker_id),
        delete_marker: true,
    })
}

/// Removes one version for good; when it was the latest, the next newest takes its place.
pub fn delete_version(
    tx: &mut Tx<'_>,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> Result<Deleted, StoreError> {
    let mut deleted = Deleted {
        version_id: Some(version_id.to_owned()),
        delete_marker: false,
    };
    let existing = index::objects::existing_object(tx.conn, bucket, key)?;
    let current_id = existing
        .as_ref()
        .map(|e| e.version_id.as_deref().unwrap_or(NULL_VERSION));
    if current_id == Some(version_id) {
        release_list(tx, existing.and_then(|e| e.blocks).as_deref())?;
        index::objects::delete(tx.conn, bucket, key)?;
    } else if let Some(row) = versions::by_id(tx.conn, bucket, key, version_id)? {
        release_list(tx, row.object.blocks.as_deref())?;
        versions::delete(tx.conn, bucket, key, row.seq)?;
        deleted.delete_marker = row.marker;
        if existing.is_some() {
            return Ok(deleted);
        }
    } else {
        return Ok(deleted);
    }
    // The key has no current row now: its newest remaining version, unless a marker, is.
    if let Some(newest) = versions::newest(tx.conn, bucket, key)? {
        if !newest.marker {
            versions::promote(tx.conn, bucket, key, newest.seq)?;
        }
    }
    Ok(deleted)
}

fn marker(row: VersionRow) -> StoreError {
    StoreError::DeleteMarker {
        version_id: row
            .object
            .version_id
            .unwrap_or_else(|| NULL_VERSION.to_owned()),
        last_modified: from_ms(row.object.mtime_ms),
    }
}

/// The version of `key` that `version_id` names (None: the latest), given its current row as
/// already read, with its `seq` (None: the current row). Errors: NoSuchKey (no version at
/// all), NoSuchVersion, DeleteMarker.
pub fn find(
    conn: &Connection,
    bucket: &str,
    key: &str,
    current: Option<StoredObject>,
    version_id: Option<&str>,
) -> Result<(StoredObject, Option<i64>), StoreError> {
    let current_id = current
        .as_ref()
        .map(|c| c.version_id.as_deref().unwrap_or(NULL_VERSION));
    match version_id {
        None => match current {
            Some(object) => Ok((object, None)),
            None => match versions::newest(conn, bucket, key)? {
                Some(row) if row.marker => Err(marker(row)),
                Some(row) => Ok((row.object, Some(row.seq))),
                None => Err(StoreError::NoSuchKey),
            },
        },
        Some(id) if current_id == Some(id) => Ok((current.ok_or(StoreError::NoSuchKey)?, None)),
        Some(id) => match versions::by_id(conn, bucket, key, id)? {
            Some(row) if row.marker => Err(marker(row)),
            Some(row) => Ok((row.object, Some(row.seq))),
            None if current.is_some() || versions::newest(conn, bucket, key)?.is_some() => {
                Err(StoreError::NoSuchVersion)
            }
            None => Err(StoreError::NoSuchKey),
        },
    }
}

/// Up to `limit` versions under `prefix` from `start`, in (key, newest first) order.
pub fn list(
    conn: &Connection,
    bucket: &str,
    prefix: &str,
    start: &VersionStart,
    limit: usize,
    header: Option<&str>,
) -> Result<Vec<VersionSummary>, StoreError> {
    let mut listed = Vec::new();
    let rest = match start {
        VersionStart::Beginning => ListStart::Beginning,
        VersionStart::AfterKey(key) => ListStart::After(key.clone()),
        VersionStart::AfterPrefix(prefix) => ListStart::AfterPrefix(prefix.clone()),
        VersionStart::AfterVersion { key, version_id } => {
            if key.starts_with(prefix) {
                let older = older_versions(conn, bucket, key, version_id, limit, header)?;
                listed.extend(older);
            }
            ListStart::After(key.clone())
        }
    };
    let left = limit - listed.len();
    let range: Option<KeyRange> = key_range(prefix, &rest);
    if let Some(range) = range.filter(|_| left > 0) {
        listed.extend(versions::list(conn, bucket, &range, left, header)?);
    }
    Ok(listed)
}

/// The versions of `key` older than `version_id`, also when that version was deleted since
/// the id was listed (its number is in the id); none when a `null` id names no version.
fn older_versions(
    conn: &Connection,
    bucket: &str,
    key: &str,
    version_id: &str,
    limit: usize,
    header: Option<&str>,
) -> Result<Vec<VersionSummary>, StoreError> {
    let current = index::objects::existing_object(conn, bucket, key)?;
    let current_id = current
        .as_ref()
        .map(|c| c.version_id.as_deref().unwrap_or(NULL_VERSION));
    // Every other version of the key is older than its current one.
    if current_id == Some(version_id) {
        return versions::older_than(conn, bucket, key, i64::MAX, limit, header);
    }
    let below = match seq_in_id(version_id) {
        Some(seq) => seq,
        None => match versions::seq_of(conn, bucket, key, version_id)? {
            Some(seq) => seq,
            None => return Ok(Vec::new()),
        },
    };
    let mut listed: Vec<VersionSummary> =
        versions::current_below(conn, bucket, key, below, header)?
            .into_iter()
            .collect();
    let left = limit - listed.len();
    listed.extend(versions::older_than(
        conn, bucket, key, below, left, header,
    )?);
    Ok(listed)
}

/// Writes `key`'s new current row (its version id and number filled in here), after making
/// way as `versioning` says: the current row either loses its blocks (it is overwritten) or
/// becomes a noncurrent version. The caller has referenced the new blocks first, so blocks
/// both share never reach 0. Returns the modification time and the version id written.
pub fn write_current_row(
    tx: &mut Tx<'_>,
    (versioning, fresh): (Versioning, &str),
    existing: Option<ExistingObject>,
    row: NewObject<'_>,
) -> Result<(i64, String), StoreError> {
    retire_for_write(tx, (row.bucket, row.key), versioning, existing)?;
    // Unversioned (the common case) costs no query on `versions`: the row keeps no number,
    // which `retire_current` gives it should the bucket ever be versioned.
    let (id, seq) = if versioning == Versioning::Unversioned {
        (None, None)
    } else {
        let seq = index::versions::next_seq(tx.conn, row.bucket, row.key)?;
        (new_version_id(versioning, seq, fresh), Some(seq))
    };
    let row = NewObject {
        version_id: id.as_deref(),
        seq,
        ..row
    };
    let mtime = now_ms();
    index::objects::replace(tx.conn, &row, mtime)?;
    Ok((mtime, id.unwrap_or_else(|| NULL_VERSION.to_owned())))
}
