//! Versioned buckets on SX: writes, delete markers, version deletes and reads of one version
//! (names in `versions`). All state is in the volume, so gateways stay stateless:
//!
//! - Every version and delete marker has a record file under `.libres3/ver/`, made of the
//!   version's blocks (no data moves: SX deduplicates) with its S3 metadata, id and time in
//!   the file meta; a marker's record is empty and says it is a marker.
//! - The latest version, unless it is a marker, is also the file at the key's own path (with
//!   its id and time in the meta), so plain reads and listings, and native SX clients, see
//!   the current tree as in a plain bucket. An object written before versioning has no
//!   record: it is the key's null version until a versioned write gives it one.
//!
//! Write order keeps every acknowledged version whatever a crash interrupts: a version's
//! record before the current file; a marker's record before the current file's removal; a
//! version delete makes the current file the next newest version (or removes it) before it
//! removes the record, so a deleted version never comes back as current. Two gateways writing
//! one key each write their own record; whichever replaced the current file last then makes
//! sure it holds the newest record ([`Cluster::settle_current`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::access::path_of;
use super::cluster::{random_hex, Cluster, Vol};
use super::listing::Scan;
use super::mapping::{key_to_path, meta_from_sx, meta_to_sx, SxPath, META_KEY};
use super::proto::{self, HexMeta};
use super::reader::SxReader;
use super::upload::Segment;
use super::versions::{
    max_versioned_key_len, parse_record, record_path, records_prefix, tombstone_of,
    valid_version_id, version_id, RecordName, MARKER_KEY, TIME_KEY, VER_DIR, VID_KEY,
};
use crate::store::{
    Deleted, ObjectInfo, ObjectMeta, StoreError, Versioning, WriteCondition, NULL_VERSION,
};

/// How often settling the current file passes over a record deleted while it was copied.
const SETTLE_TRIES: usize = 4;

/// One record as listed.
pub(super) struct Record {
    pub name: RecordName,
    pub path: SxPath,
    pub marker: bool,
}

pub(super) fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

pub(super) fn from_micros(micros: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(micros)
}

/// The last-modified time of a file: the one its meta carries, else its SX creation time.
pub(super) fn file_micros(meta: Option<&HexMeta>, created_secs: i64) -> u64 {
    meta.and_then(|m| m.get(TIME_KEY))
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(created_secs.max(0) as u64 * 1_000_000)
}

/// The version id a file's meta names; the null version when it names none.
pub(super) fn file_version(meta: Option<&HexMeta>) -> String {
    meta.and_then(|m| m.get(VID_KEY))
        .and_then(|v| String::from_utf8(v).ok())
        .unwrap_or_else(|| NULL_VERSION.to_owned())
}

fn versioned_prefix(key: &str) -> Result<String, StoreError> {
    records_prefix(key).ok_or_else(|| {
        StoreError::KeyTooLong(format!(
            "In a versioned bucket on SX a key is at most {} bytes: each version is kept in a \
             file named after the key in hex. A longer key keeps only its null version: \
             delete it while versioning is suspended, or delete its null version.",
            max_versioned_key_len()
        ))
    })
}

/// The file meta of a version's record: its S3 metadata, id and time.
fn record_meta(meta: &ObjectMeta, id: &str, micros: u64) -> HexMeta {
    let mut sx = meta_to_sx(meta);
    sx.insert(VID_KEY, id.as_bytes());
    sx.insert(TIME_KEY, micros.to_string().as_bytes());
    sx
}

impl Cluster {
    /// Up to `want` records of the key whose records start with `prefix` that `keep` accepts,
    /// newest first.
    pub(super) async fn records(
        &self,
        vol: &Vol,
        prefix: &str,
        want: usize,
        keep: impl Fn(&RecordName) -> bool,
    ) -> Result<Vec<Record>, StoreError> {
        let mut found = Vec::new();
        self.scan(vol, prefix.to_owned(), want, |name, entry| {
            if !name.starts_with(prefix) {
                return if name > prefix {
                    Scan::Stop
                } else {
                    Scan::Skip
                };
            }
            match parse_record(name) {
                Some(record) if keep(&record) => {
                    found.push(Record {
                        marker: entry
                            .file_meta
                            .as_ref()
                            .is_some_and(|m| m.contains(MARKER_KEY)),
                        name: record,
                        path: SxPath::internal(name.to_owned()),
                    });
                    Scan::Take
                }
                _ => Scan::Skip,
            }
        })
        .await?;
        Ok(found)
    }

    /// The current file's meta, None when there is no current file.
    async fn current_meta(&self, vol: &Vol, path: &SxPath) -> Result<Option<HexMeta>, StoreError> {
        match self.file_meta(vol, path).await {
            Ok(meta) => Ok(Some(meta)),
            Err(StoreError::NoSuchKey) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Notes that the volume holds version records (see [`Cluster::may_have_versions`]).
    fn mark_versioned(&self, vol: &Vol) {
        self.inner.versioned.insert(vol.name.clone(), true);
    }

    /// Whether the volume may hold version records: one listing entry of `.libres3/ver/`,
    /// remembered per volume for a while. A read of a missing object in a bucket that never
    /// had versions then costs no second request but the first in that while.
    pub(super) async fn may_have_versions(&self, vol: &Vol) -> Result<bool, StoreError> {
        if let Some(known) = self.inner.versioned.get(&vol.name) {
            return Ok(known);
        }
        let mut any = false;
        self.scan(vol, VER_DIR.to_owned(), 1, |name, _| {
            any = name.starts_with(VER_DIR);
            Scan::Stop
        })
        .await?;
        self.inner.versioned.insert(vol.name.clone(), any);
        Ok(any)
    }

    /// Gives the current object written without versioning (the null version, which has no
    /// record) a record of its own blocks, so that a versioned write or a marker can replace
    /// its file. Returns its time.
    async fn record_unrecorded_null(
        &self,
        vol: &Vol,
        path: &SxPath,
        prefix: &str,
    ) -> Result<Option<u64>, StoreError> {
        let (file, meta) = match self.file_with_meta(vol, path).await {
            Ok(found) => found,
            Err(StoreError::NoSuchKey) => return Ok(None),
            Err(e) => return Err(e),
        };
        if meta.contains(VID_KEY) {
            return Ok(None); // a versioned write replaced it meanwhile
        }
        let micros = file_micros(Some(&meta), file.created_at);
        // The S3 metadata as it reads now (a native SX file's ETag comes from its revision).
        let s3 = meta_from_sx(Some(&meta), &file.file_revision);
        let hashes = file.hashes();
        let record = record_path(prefix, micros, NULL_VERSION);
        self.create_from_hashes(
            vol,
            &record,
            file.file_size,
            &hashes,
            Some(&record_meta(&s3, NULL_VERSION, micros)),
        )
        .await?;
        Ok(Some(micros))
    }

    /// The time and id of a new version: after the newest one, whatever this gateway's clock
    /// says, so that it sorts first.
    async fn next_version(
        &self,
        vol: &Vol,
        path: &SxPath,
        prefix: &str,
        versioning: Versioning,
    ) -> Result<(u64, String, Option<HexMeta>), StoreError> {
        let (current, newest) = futures_util::future::join(
            self.current_meta(vol, path),
            self.records(vol, prefix, 1, |_| true),
        )
        .await;
        let (current, newest) = (current?, newest?);
        let mut floor = newest.first().map_or(0, |r| r.name.micros);
        let unrecorded = current.as_ref().is_some_and(|m| !m.contains(VID_KEY));
        if unrecorded && versioning == Versioning::Enabled {
            if let Some(micros) = self.record_unrecorded_null(vol, path, prefix).await? {
                floor = floor.max(micros);
            }
        }
        let micros = now_micros().max(floor + 1);
        let id = match versioning {
            Versioning::Suspended => NULL_VERSION.to_owned(),
            _ => version_id(micros, &random_hex(8)?),
        };
        Ok((micros, id, current))
    }

    /// A write to a versioned bucket: the version's record, then the current file. Enabled:
    /// a fresh id; Suspended: the null version, replacing any other.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn write_version(
        &self,
        vol: &Vol,
        key: &str,
        size: u64,
        segments: Vec<Segment>,
        meta: &ObjectMeta,
        condition: &WriteCondition,
        versioning: Versioning,
    ) -> Result<ObjectInfo, StoreError> {
        let path = path_of(key)?;
        let prefix = versioned_prefix(key)?;
        let _turn = self
            .writing_turn(vol, &SxPath::internal(prefix.clone()))
            .await;
        self.mark_versioned(vol);
        self.check_condition(vol, &path, condition).await?;
        let (micros, id, _) = self.next_version(vol, &path, &prefix, versioning).await?;
        let record = record_path(&prefix, micros, &id);
        let sx_meta = record_meta(meta, &id, micros);
        let (_, hashes) = self
            .write_file(vol, &record, size, segments, Some(&sx_meta), None)
            .await?;
        let current = vec![Segment::Hashes(hashes, size)];
        if let Err(e) = self
            .write_object_meta(vol, &path, size, current, sx_meta, condition)
            .await
        {
            // Not acknowledged: its record goes too.
            if let Err(e) = self.delete_path(vol, &record).await {
                log::warn!("SX: record {} of a failed write kept: {e}", record.as_str());
            }
            // Its current file may have been written before the failure was seen.
            if let Err(e) = self.settle_current(vol, &path, &prefix).await {
                log::warn!("SX: current file of {key} not settled after a failed write: {e}");
            }
            return Err(e);
        }
        if versioning == Versioning::Suspended {
            self.drop_older_nulls(vol, &prefix).await?;
        }
        self.settle_unless_newest(vol, &path, &prefix, &record)
            .await?;
        Ok(ObjectInfo {
            key: key.to_owned(),
            size,
            last_modified: from_micros(micros),
            meta: meta.clone(),
            version_id: id,
        })
    }

    /// A delete in a versioned bucket: a marker's record, then the current file's removal.
    /// Suspended: the marker is the null version, replacing any other.
    pub(super) async fn add_delete_marker(
        &self,
        vol: &Vol,
        key: &str,
        versioning: Versioning,
    ) -> Result<Deleted, StoreError> {
        let path = path_of(key)?;
        if versioning == Versioning::Suspended && records_prefix(key).is_none() {
            // A key too long for records has only its null version: it goes, and no marker
            // can stand in its place.
            self.delete_path(vol, &path).await?;
            return Ok(Deleted {
                version_id: Some(NULL_VERSION.to_owned()),
                delete_marker: false,
            });
        }
        let prefix = versioned_prefix(key)?;
        let _turn = self
            .writing_turn(vol, &SxPath::internal(prefix.clone()))
            .await;
        self.mark_versioned(vol);
        let (micros, id, current) = self.next_version(vol, &path, &prefix, versioning).await?;
        let record = record_path(&prefix, micros, &id);
        let mut sx_meta = HexMeta::default();
        sx_meta.insert(VID_KEY, id.as_bytes());
        sx_meta.insert(TIME_KEY, micros.to_string().as_bytes());
        sx_meta.insert(MARKER_KEY, b"1");
        self.create_from_hashes(vol, &record, 0, &[], Some(&sx_meta))
            .await?;
        if current.is_some() {
            self.delete_path(vol, &path).await?;
        }
        if versioning == Versioning::Suspended {
            self.drop_older_nulls(vol, &prefix).await?;
        }
        self.settle_unless_newest(vol, &path, &prefix, &record)
            .await?;
        Ok(Deleted {
            version_id: Some(id),
            delete_marker: true,
        })
    }

    /// Removes every null record of a key but the newest: the null version is the newest
    /// null, so two gateways writing it at once keep the same one (never each the other's).
    async fn drop_older_nulls(&self, vol: &Vol, prefix: &str) -> Result<(), StoreError> {
        let nulls = self
            .records(vol, prefix, usize::MAX, |r| r.id == NULL_VERSION)
            .await?;
        for old in nulls.iter().skip(1) {
            self.delete_path(vol, &old.path).await?;
        }
        Ok(())
    }

    /// After a write of `ours`: unless it is still the newest record, another gateway's
    /// write came between, and the current file is made to match the newest record.
    async fn settle_unless_newest(
        &self,
        vol: &Vol,
        path: &SxPath,
        prefix: &str,
        ours: &SxPath,
    ) -> Result<(), StoreError> {
        let newest = self.records(vol, prefix, 1, |_| true).await?;
        if newest.first().is_some_and(|r| r.path == *ours) {
            return Ok(());
        }
        self.settle_current(vol, path, prefix).await
    }

    /// Makes the current file match the newest record: a copy of it, or none when it is a
    /// marker. A current file without a record (written without versioning) stays. A record
    /// that turns out deleted while it was copied (a version delete on another gateway) is
    /// passed over for the next.
    pub(super) async fn settle_current(
        &self,
        vol: &Vol,
        path: &SxPath,
        prefix: &str,
    ) -> Result<(), StoreError> {
        let mut gone: Vec<RecordName> = Vec::new();
        for _ in 0..SETTLE_TRIES {
            let skip = &gone;
            let (current, newest) = futures_util::future::join(
                self.current_meta(vol, path),
                self.records(vol, prefix, 1, |r| !skip.contains(r)),
            )
            .await;
            let (current, newest) = (current?, newest?);
            if current.as_ref().is_some_and(|m| !m.contains(VID_KEY)) {
                return Ok(());
            }
            // The id and time of the version the current file is (two null versions differ
            // only by their time).
            let current_id = current
                .as_ref()
                .map(|m| (file_version(Some(m)), file_micros(Some(m), 0)));
            let Some(newest) = newest.into_iter().next() else {
                // Only deleted records were left: their copy goes too.
                if current_id
                    .is_some_and(|(id, t)| gone.iter().any(|g| g.id == id && g.micros == t))
                {
                    self.delete_path(vol, path).await?;
                }
                return Ok(());
            };
            if newest.marker {
                if current.is_some() {
                    self.delete_path(vol, path).await?;
                }
                return Ok(());
            }
            if current_id == Some((newest.name.id.clone(), newest.name.micros))
                || self.copy_record_to(vol, &newest.path, path).await?
            {
                return Ok(());
            }
            gone.push(newest.name);
        }
        Ok(())
    }

    /// Whether the record was deleted (its tombstone exists).
    async fn is_tombstoned(&self, vol: &Vol, record: &SxPath) -> Result<bool, StoreError> {
        Ok(self
            .current_meta(vol, &tombstone_of(record))
            .await?
            .is_some())
    }

    /// Makes `path` a file of the record's blocks and meta. False when the record was
    /// deleted before or while it was copied (the copy is then stale).
    async fn copy_record_to(
        &self,
        vol: &Vol,
        record: &SxPath,
        path: &SxPath,
    ) -> Result<bool, StoreError> {
        let (file, meta) = match self.file_with_meta(vol, record).await {
            Ok(found) => found,
            Err(StoreError::NoSuchKey) => return Ok(false),
            Err(e) => return Err(e),
        };
        let hashes = file.hashes();
        self.create_from_hashes(vol, path, file.file_size, &hashes, Some(&meta))
            .await?;
        Ok(!self.is_tombstoned(vol, record).await?)
    }

    /// Removes one version or marker for good. When it was the latest, the current file
    /// first becomes the next newest version (or goes, when that is a marker or there is
    /// none), then the record goes: a crash in between leaves the version listed, never a
    /// deleted version current.
    pub(super) async fn delete_version(
        &self,
        vol: &Vol,
        key: &str,
        id: &str,
    ) -> Result<Deleted, StoreError> {
        let gone = |marker| {
            Ok(Deleted {
                version_id: Some(id.to_owned()),
                delete_marker: marker,
            })
        };
        let Some(path) = key_to_path(key) else {
            return gone(false);
        };
        let Some(prefix) = records_prefix(key) else {
            // A key too long for records has only its null version, the current file.
            if id == NULL_VERSION {
                let current = self.current_meta(vol, &path).await?;
                if current.is_some_and(|m| !m.contains(VID_KEY)) {
                    self.delete_path(vol, &path).await?;
                }
            }
            return gone(false);
        };
        if !valid_version_id(id) {
            return gone(false);
        }
        let _turn = self
            .writing_turn(vol, &SxPath::internal(prefix.clone()))
            .await;
        let current = self.current_meta(vol, &path).await?;
        let unrecorded_null =
            id == NULL_VERSION && current.as_ref().is_some_and(|m| !m.contains(VID_KEY));
        let targets: Vec<Record> = if id == NULL_VERSION {
            self.records(vol, &prefix, usize::MAX, |r| r.id == NULL_VERSION)
                .await?
        } else {
            let path = record_path(&prefix, 0, id);
            match self.file_meta(vol, &path).await {
                Ok(meta) => parse_record(path.as_str())
                    .map(|name| Record {
                        name,
                        path,
                        marker: meta.contains(MARKER_KEY),
                    })
                    .into_iter()
                    .collect(),
                Err(StoreError::NoSuchKey) => Vec::new(),
                Err(e) => return Err(e),
            }
        };
        if targets.is_empty() && !unrecorded_null {
            return gone(false);
        }
        let was_marker = !unrecorded_null && targets.first().is_some_and(|t| t.marker);
        // Tombstones first: a rewrite of these records racing with this delete (another
        // gateway's tagging, or its settling of the current file) sees them and backs off.
        for target in &targets {
            self.create_from_hashes(vol, &tombstone_of(&target.path), 0, &[], None)
                .await?;
        }
        let is_target = |p: &SxPath| targets.iter().any(|t| t.path == *p);
        let newest = self.records(vol, &prefix, 1, |_| true).await?;
        let latest = unrecorded_null
            || newest.first().is_some_and(|r| is_target(&r.path))
            || current
                .as_ref()
                .is_some_and(|m| m.contains(VID_KEY) && file_version(Some(m)) == id);
        if latest {
            let targets_ref = &targets;
            let next = self
                .records(vol, &prefix, 1, |r| {
                    !targets_ref.iter().any(|t| t.name == *r)
                })
                .await?;
            match next.first() {
                Some(next) if !next.marker => {
                    self.copy_record_to(vol, &next.path, &path).await?;
                }
                _ if current.is_some() => self.delete_path(vol, &path).await?,
                _ => {}
            }
        }
        for target in &targets {
            self.delete_path(vol, &target.path).await?;
        }
        if latest {
            // Another gateway may have written a newer version meanwhile, which this
            // replaced: the current file becomes the newest record again.
            self.settle_current(vol, &path, &prefix).await?;
        }
        gone(was_marker)
    }

    /// The block list and meta of one version (None: the latest), and whether they are the
    /// current file's. NoSuchKey when the key has no version, NoSuchVersion when `id` names
    /// none of its versions, DeleteMarker when the version addressed is a marker.
    pub(super) async fn version_file(
        &self,
        vol: &Vol,
        key: &str,
        id: Option<&str>,
    ) -> Result<(proto::File, HexMeta, bool), StoreError> {
        let missing = || match id {
            Some(_) => StoreError::NoSuchVersion,
            None => StoreError::NoSuchKey,
        };
        let path = path_of(key).map_err(|_| missing())?;
        if id.is_none() || id == Some(NULL_VERSION) {
            match self.file_with_meta(vol, &path).await {
                Ok((file, meta)) if id.is_none() || file_version(Some(&meta)) == NULL_VERSION => {
                    return Ok((file, meta, true))
                }
                Ok(_) | Err(StoreError::NoSuchKey) => {}
                Err(e) => return Err(e),
            }
        }
        let prefix = records_prefix(key).ok_or_else(missing)?;
        let record = match id {
            None if !self.may_have_versions(vol).await? => None,
            None => self.records(vol, &prefix, 1, |_| true).await?.pop(),
            Some(NULL_VERSION) => self
                .records(vol, &prefix, 1, |r| r.id == NULL_VERSION)
                .await?
                .pop(),
            Some(id) if valid_version_id(id) => {
                let path = record_path(&prefix, 0, id);
                parse_record(path.as_str()).map(|name| Record {
                    name,
                    path,
                    marker: false,
                })
            }
            Some(_) => None,
        };
        let record = record.ok_or_else(missing)?;
        let marker = || StoreError::DeleteMarker {
            version_id: record.name.id.clone(),
            last_modified: from_micros(record.name.micros),
        };
        if record.marker {
            return Err(marker());
        }
        match self.file_with_meta(vol, &record.path).await {
            Ok((_, meta)) if meta.contains(MARKER_KEY) => Err(marker()),
            Ok((file, meta)) => Ok((file, meta, false)),
            Err(StoreError::NoSuchKey) => Err(missing()),
            Err(e) => Err(e),
        }
    }

    /// Opens one version (None: the latest).
    pub(super) async fn open_version(
        &self,
        vol: &Vol,
        key: &str,
        id: Option<&str>,
    ) -> Result<SxReader, StoreError> {
        let (file, meta, _) = self.version_file(vol, key, id).await?;
        Ok(self.reader(vol, key.to_owned(), file, &meta))
    }

    /// Replaces one version's S3 metadata in place (same blocks, id and time), only while it
    /// still has `if_meta`: its record, and the current file when that is the same version.
    pub(super) async fn update_meta(
        &self,
        vol: &Vol,
        key: &str,
        id: Option<&str>,
        meta: ObjectMeta,
        if_meta: &ObjectMeta,
    ) -> Result<ObjectInfo, StoreError> {
        let path = path_of(key)?;
        let prefix = records_prefix(key);
        let _turn = match &prefix {
            Some(p) => Some(self.writing_turn(vol, &SxPath::internal(p.clone())).await),
            None => None,
        };
        let (file, found, is_current) = self.version_file(vol, key, id).await?;
        if meta_from_sx(Some(&found), &file.file_revision) != *if_meta {
            return Err(StoreError::SourceChanged);
        }
        let version = file_version(Some(&found));
        let micros = file_micros(Some(&found), file.created_at);
        let mut sx_meta = found.clone();
        sx_meta.insert(META_KEY, &serde_json::to_vec(&meta).unwrap_or_default());
        sx_meta.insert(TIME_KEY, micros.to_string().as_bytes());
        let hashes = file.hashes();
        let size = file.file_size;
        let record = match (&prefix, found.contains(VID_KEY)) {
            (Some(prefix), true) => Some(record_path(prefix, micros, &version)),
            _ => None,
        };
        if let Some(record) = &record {
            self.create_from_hashes(vol, record, size, &hashes, Some(&sx_meta))
                .await?;
        }
        // A record's version may be the current file too.
        let current_is_it = is_current
            || self
                .current_meta(vol, &path)
                .await?
                .is_some_and(|m| m.contains(VID_KEY) && file_version(Some(&m)) == version);
        if current_is_it {
            self.create_from_hashes(vol, &path, size, &hashes, Some(&sx_meta))
                .await?;
        }
        if let (Some(record), Some(prefix)) = (&record, &prefix) {
            if self.is_tombstoned(vol, record).await? {
                // Deleted by another gateway meanwhile: this rewrite must not bring it back
                // (the update counts as made before the delete).
                self.delete_path(vol, record).await?;
                self.settle_current(vol, &path, prefix).await?;
            } else if current_is_it {
                // A newer version written meanwhile stays the current file.
                self.settle_current(vol, &path, prefix).await?;
            }
        }
        Ok(ObjectInfo {
            key: key.to_owned(),
            size,
            last_modified: from_micros(micros),
            meta,
            version_id: version,
        })
    }
}
