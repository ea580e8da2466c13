//! Multipart uploads, kept on the cluster so that any gateway can continue one: a record file
//! per upload (`.libres3/up/<id>`, key and metadata in its meta) and a file per part
//! (`.libres3/parts/<id>/<number>`), or with `sx_fast_large_multipart`, a record of its
//! blocks (see [`unflushed`]); completion reuses the parts' blocks where they line up.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::stream::StreamExt;

use super::access::path_of;
use super::cluster::{from_secs, now_secs, random_hex, Cluster, Vol};
use super::listing::Scan;
use super::mapping::{self, block_count, block_size, SxPath};
use super::proto::{self, HexMeta};
use super::reader;
use super::staged::{streamed_window, SxStaged};
use super::unflushed;
use super::upload::Segment;
use crate::store::{
    part_list_digest, AbortedUpload, BodyError, ByteRange, CompletedUpload, ObjectInfo, ObjectMeta,
    ObjectReader, PartInfo, StoreError, UploadInfo, Versioning, WriteCondition,
};

/// Multipart uploads: one record file each.
const UPLOADS_DIR: &str = ".libres3/up/";
/// Multipart parts: `PARTS_DIR<upload id>/<5-digit part number>`.
const PARTS_DIR: &str = ".libres3/parts/";
/// The part file's meta entry holding the part's opaque checksum document.
const PART_CHECKSUM_META: &str = "checksum";
/// Staged bodies.
const TMP_DIR: &str = mapping::TMP_DIR;
/// Staged bodies older than this were left by a gateway that stopped before committing.
const STAGED_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Uploads older than this are removed when a new one starts.
const ABANDONED_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);
/// Parts without an upload record are swept once this old (by their first part's date), so
/// that a part committed as its upload ends is not taken for a leftover.
const ORPHANED_PARTS_AGE: Duration = Duration::from_secs(3600);

pub(super) fn part_path(upload_id: &str, number: u32) -> SxPath {
    SxPath::internal(format!("{PARTS_DIR}{upload_id}/{number:05}"))
}

fn upload_path(upload_id: &str) -> SxPath {
    SxPath::internal(format!("{UPLOADS_DIR}{upload_id}"))
}

pub(super) fn valid_upload_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A part file's meta: its ETag and, when the client sent one, its checksum document.
fn part_file_meta(etag: &str, checksum: Option<&str>) -> HexMeta {
    let mut meta = HexMeta::default();
    meta.insert("etag", etag.as_bytes());
    if let Some(checksum) = checksum {
        meta.insert(PART_CHECKSUM_META, checksum.as_bytes());
    }
    meta
}

/// Where a part's bytes are.
#[derive(Clone)]
enum PartData {
    /// A part file of its own.
    File(proto::File),
    /// Unflushed blocks of [`unflushed::BLOCK`] bytes, listed in the part's record.
    Kept(unflushed::KeptPart),
}

/// What [`Cluster::part_files`] does with a kept part SX may have dropped.
#[derive(Clone, Copy)]
enum Stale {
    Invalid,
    LeftOut,
}

impl PartData {
    fn block_size(&self) -> u64 {
        match self {
            PartData::File(file) => file.block_size,
            PartData::Kept(_) => unflushed::BLOCK,
        }
    }

    /// Bytes a read of this part's data holds at most.
    fn read_ahead(&self) -> u64 {
        match self {
            PartData::File(file) => reader::read_ahead(file.block_size),
            PartData::Kept(_) => unflushed::READ_AHEAD,
        }
    }

    fn hashes(&self) -> Vec<String> {
        match self {
            PartData::File(file) => file.hashes(),
            PartData::Kept(kept) => kept.hashes.clone(),
        }
    }
}

/// A multipart upload's record: key, metadata and start time in the file meta.
struct UploadRecord {
    key: String,
    meta: ObjectMeta,
    initiated: SystemTime,
}

fn upload_record_meta(key: &str, meta: &ObjectMeta) -> HexMeta {
    let mut m = HexMeta::default();
    m.insert("key", key.as_bytes());
    m.insert("meta", &serde_json::to_vec(meta).unwrap_or_default());
    m.insert("created", now_secs().to_string().as_bytes());
    m
}

fn parse_upload_record(meta: &HexMeta) -> Option<UploadRecord> {
    let key = String::from_utf8(meta.get("key")?).ok()?;
    let meta_json = meta.get("meta")?;
    let created: u64 = String::from_utf8(meta.get("created")?).ok()?.parse().ok()?;
    Some(UploadRecord {
        key,
        meta: serde_json::from_slice(&meta_json).ok()?,
        initiated: UNIX_EPOCH + Duration::from_secs(created),
    })
}

impl Cluster {
    async fn upload_record(
        &self,
        vol: &Vol,
        key: &str,
        upload_id: &str,
    ) -> Result<UploadRecord, StoreError> {
        if !valid_upload_id(upload_id) {
            return Err(StoreError::NoSuchUpload);
        }
        let meta = self
            .file_meta(vol, &upload_path(upload_id))
            .await
            .map_err(|e| match e {
                StoreError::NoSuchKey => StoreError::NoSuchUpload,
                other => other,
            })?;
        match parse_upload_record(&meta) {
            Some(record) if record.key == key => Ok(record),
            _ => Err(StoreError::NoSuchUpload),
        }
    }

    /// The parts ListParts shows: not kept parts SX may have dropped, so that a client that
    /// resumes an upload from this list uploads them again.
    async fn parts(&self, vol: &Vol, upload_id: &str) -> Result<Vec<PartInfo>, StoreError> {
        let parts = self.stored_parts(vol, upload_id).await?;
        Ok(parts
            .into_iter()
            .filter(|(_, kept)| !kept.as_ref().is_some_and(unflushed::KeptPart::stale))
            .map(|(part, _)| part)
            .collect())
    }

    /// The parts of an upload, with the blocks of those kept unflushed (their record's meta
    /// comes with the listing).
    async fn stored_parts(
        &self,
        vol: &Vol,
        upload_id: &str,
    ) -> Result<Vec<(PartInfo, Option<unflushed::KeptPart>)>, StoreError> {
        let dir = format!("{PARTS_DIR}{upload_id}/");
        let mut parts = Vec::new();
        self.scan(vol, dir.clone(), usize::MAX, |name, entry| {
            let Some(number) = name.strip_prefix(dir.as_str()) else {
                return Scan::Stop;
            };
            let Ok(number) = number.parse::<u32>() else {
                return Scan::Skip;
            };
            let etag = entry
                .file_meta
                .as_ref()
                .and_then(|m| m.get("etag"))
                .and_then(|e| String::from_utf8(e).ok())
                .unwrap_or_default();
            let checksum = entry
                .file_meta
                .as_ref()
                .and_then(|m| m.get(PART_CHECKSUM_META))
                .and_then(|c| String::from_utf8(c).ok());
            let kept = entry.file_meta.as_ref().and_then(unflushed::recorded);
            let size = kept.as_ref().map(|k| k.size);
            parts.push((
                PartInfo {
                    number,
                    size: size.unwrap_or(entry.file_size.unwrap_or(0)),
                    etag,
                    last_modified: from_secs(entry.created_at.unwrap_or(0)),
                    checksum,
                },
                kept,
            ));
            Scan::Take
        })
        .await?;
        parts.sort_by_key(|(p, _)| p.number);
        Ok(parts)
    }

    /// Every multipart upload of a volume, in (key, id) order.
    async fn uploads(&self, vol: &Vol) -> Result<Vec<(String, UploadRecord)>, StoreError> {
        let mut uploads = Vec::new();
        self.scan(vol, UPLOADS_DIR.to_owned(), usize::MAX, |name, entry| {
            let Some(id) = name.strip_prefix(UPLOADS_DIR) else {
                return Scan::Stop;
            };
            if let Some(record) = entry.file_meta.as_ref().and_then(parse_upload_record) {
                uploads.push((id.to_owned(), record));
            }
            Scan::Take
        })
        .await?;
        uploads.sort_by(|a, b| (&a.1.key, &a.0).cmp(&(&b.1.key, &b.0)));
        Ok(uploads)
    }

    /// Removes uploads nobody touched for [`ABANDONED_AFTER`].
    async fn clean_abandoned(&self, vol: &Vol) -> Result<(), StoreError> {
        // Staged bodies of a gateway that died between stage and commit.
        let stale = now_secs().saturating_sub(STAGED_MAX_AGE.as_secs()) as i64;
        let mut doomed = Vec::new();
        self.scan(vol, TMP_DIR.to_owned(), usize::MAX, |name, entry| {
            if !name.starts_with(TMP_DIR) {
                return Scan::Stop;
            }
            if entry.created_at.unwrap_or(0) < stale {
                doomed.push(SxPath::internal(name.to_owned()));
            }
            Scan::Take
        })
        .await?;
        for path in doomed {
            self.delete_path(vol, &path).await?;
        }
        self.forget_old_completions(vol).await?;
        let limit = SystemTime::now() - ABANDONED_AFTER;
        for (id, record) in self.uploads(vol).await? {
            if record.initiated < limit {
                log::info!("SX: removing abandoned upload {id} of {}", record.key);
                self.delete_tree(vol, &format!("{PARTS_DIR}{id}")).await?;
                self.delete_path(vol, &upload_path(&id)).await?;
            }
        }
        Ok(())
    }

    /// Where the bytes of `parts` are, checked against the sizes the parts were listed with.
    /// A kept part sent longer ago than [`unflushed::LIFETIME`] is missing (SX may have
    /// dropped its blocks): InvalidPart, or left out when `stale` says so.
    async fn part_files(
        &self,
        vol: &Vol,
        upload_id: &str,
        parts: &[(PartInfo, Option<unflushed::KeptPart>)],
        stale: Stale,
    ) -> Result<Vec<(PartInfo, PartData)>, StoreError> {
        let mut files = Vec::with_capacity(parts.len());
        for (part, kept) in parts {
            let data = match kept {
                Some(kept) if kept.stale() => {
                    log::warn!(
                        "SX: upload {upload_id}: part {} was kept as unflushed blocks {} h \
                         ago; SX drops those after a day, so it must be uploaded again",
                        part.number,
                        now_secs().saturating_sub(kept.sent) / 3600
                    );
                    match stale {
                        Stale::Invalid => return Err(StoreError::InvalidPart(part.number)),
                        Stale::LeftOut => continue,
                    }
                }
                Some(kept) => PartData::Kept(kept.clone()),
                None => {
                    let file = self.file(vol, &part_path(upload_id, part.number)).await?;
                    if file.file_size != part.size {
                        return Err(StoreError::InvalidPart(part.number));
                    }
                    PartData::File(file)
                }
            };
            files.push((part.clone(), data));
        }
        Ok(files)
    }

    /// What a completed upload is made of: the block lists of the parts that line up with
    /// the final file's blocks (no data moves), and the bytes of what does not, which are
    /// copied: the partial last block of an aligned part, every part after it (their bytes
    /// sit at offsets that are no longer block boundaries), and parts stored with another
    /// block size (SX derives a file's block size from its size: a part of up to 128 MiB has
    /// blocks of 16 KiB, a final file over 128 MiB blocks of 1 MiB). The copied bytes are
    /// read by block hash, so they stay readable after the parts' files are removed.
    fn completion_segments(
        &self,
        vol: &Vol,
        upload_id: &str,
        files: &[(PartInfo, PartData)],
        total: u64,
    ) -> Vec<Segment> {
        let bs = block_size(total);
        let mut segments = Vec::with_capacity(files.len());
        let mut offset = 0u64;
        let mut copied = 0u64;
        for (i, (part, file)) in files.iter().enumerate() {
            if part.size == 0 {
                continue;
            }
            let last = i + 1 == files.len();
            let aligned = offset % bs == 0 && file.block_size() == bs;
            // Bytes of this part whose blocks are reused as they are.
            let reused = match (aligned, last) {
                (false, _) => 0,
                (true, true) => part.size,
                (true, false) => part.size / bs * bs,
            };
            if reused > 0 {
                let mut hashes = file.hashes();
                hashes.truncate(block_count(reused, bs) as usize);
                segments.push(Segment::Hashes(hashes, reused));
            }
            if reused < part.size {
                copied += part.size - reused;
                let range = ByteRange {
                    first: reused,
                    last: part.size - 1,
                };
                let body = match file {
                    PartData::File(file) => self
                        .reader(vol, String::new(), file.clone(), &HexMeta::default())
                        .stream(Some(range))
                        .map(|chunk| chunk.map_err(|e| BodyError(Box::new(e))))
                        .boxed_local(),
                    PartData::Kept(kept) => self.unflushed_stream(vol, &kept.hashes, range),
                };
                segments.push(Segment::Data(body, part.size - reused));
            }
            offset += part.size;
        }
        if copied > 0 {
            log::info!(
                "SX: upload {upload_id}: {copied} of {total} bytes do not line up with the \
                 final file's {bs}-byte blocks and are copied"
            );
        }
        segments
    }

    /// Completes an upload whose object the volume cannot hold beside its parts (SX counts
    /// every file against its volume and checks a file's whole size when it is created):
    /// the parts' files are removed first and the object is made of their blocks, which
    /// outlive the files until SX's periodic GC (hourly). If the write fails all the same,
    /// the parts' files are made again of the same blocks, so the client can retry.
    #[allow(clippy::too_many_arguments)]
    async fn complete_in_room_of_parts(
        &self,
        vol: &Vol,
        upload_id: &str,
        key: &str,
        stored: &[(PartInfo, Option<unflushed::KeptPart>)],
        chosen: &[(PartInfo, PartData)],
        total: u64,
        meta: &ObjectMeta,
        condition: &WriteCondition,
        versioning: Versioning,
    ) -> Result<ObjectInfo, StoreError> {
        // Every part, chosen or not, is removed with the directory; all are restored on failure.
        let unchosen: Vec<_> = stored
            .iter()
            .filter(|(p, _)| !chosen.iter().any(|(c, _)| c.number == p.number))
            .cloned()
            .collect();
        // An unchosen part SX may have dropped is not worth restoring.
        let mut kept = self
            .part_files(vol, upload_id, &unchosen, Stale::LeftOut)
            .await?;
        kept.extend_from_slice(chosen);
        log::info!(
            "SX: upload {upload_id}: {} cannot hold the {total}-byte object beside its parts; \
             completing in the room of the parts",
            vol.name
        );
        self.delete_tree(vol, &format!("{PARTS_DIR}{upload_id}"))
            .await?;
        let segments = self.completion_segments(vol, upload_id, chosen, total);
        let written = self
            .write_in_bucket(vol, key, total, segments, meta, condition, versioning)
            .await;
        if let Err(e) = &written {
            log::warn!("SX: upload {upload_id}: completion failed ({e}); restoring its parts");
            for (part, data) in &kept {
                let mut part_meta = part_file_meta(&part.etag, part.checksum.as_deref());
                let path = part_path(upload_id, part.number);
                let restored = match data {
                    PartData::File(file) => {
                        let hashes = file.hashes();
                        self.create_from_hashes(vol, &path, part.size, &hashes, Some(&part_meta))
                            .await
                    }
                    PartData::Kept(kept) => {
                        // The same record: the time its blocks were sent still counts.
                        kept.record(&mut part_meta);
                        self.create_from_hashes(vol, &path, 0, &[], Some(&part_meta))
                            .await
                    }
                };
                if let Err(e) = restored {
                    log::error!(
                        "SX: upload {upload_id}: part {} could not be restored: {e}",
                        part.number
                    );
                }
            }
        }
        written
    }

    pub(super) async fn create_multipart(
        &self,
        vol: &Vol,
        key: &str,
        meta: ObjectMeta,
    ) -> Result<String, StoreError> {
        path_of(key)?;
        if let Err(e) = self.clean_abandoned(vol).await {
            log::warn!("SX: cleaning abandoned uploads of {}: {e}", vol.name);
        }
        let id = random_hex(16)?;
        self.create_from_hashes(
            vol,
            &upload_path(&id),
            0,
            &[],
            Some(&upload_record_meta(key, &meta)),
        )
        .await?;
        Ok(id)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn commit_part(
        &self,
        vol: &Vol,
        key: &str,
        upload_id: &str,
        part_number: u32,
        data: SxStaged,
        etag: String,
        checksum: Option<String>,
    ) -> Result<PartInfo, StoreError> {
        self.upload_record(vol, key, upload_id).await?;
        let mut meta = part_file_meta(&etag, checksum.as_deref());
        let path = part_path(upload_id, part_number);
        let keeps =
            |b: &&Bytes| self.inner.cfg.fast_large_multipart && unflushed::keeps(b.len() as u64);
        // None (a part file of its own) also when SX held some of the blocks already, or the
        // volume has less than 128 MiB of room.
        let kept = match data.held().filter(keeps) {
            Some(bytes) => match self.upload_unflushed(vol, bytes).await {
                Err(StoreError::QuotaExceeded(e)) => {
                    log::debug!("SX: upload {upload_id}: part {part_number} stored as a file: {e}");
                    None
                }
                other => other?,
            },
            None => None,
        };
        match kept {
            Some(kept) => {
                kept.record(&mut meta);
                self.create_from_hashes(vol, &path, 0, &[], Some(&meta))
                    .await?;
            }
            None => {
                self.write_file(vol, &path, data.size, data.segments(), Some(&meta), None)
                    .await?;
            }
        }
        Ok(PartInfo {
            number: part_number,
            size: data.size,
            etag,
            last_modified: SystemTime::now(),
            checksum,
        })
    }

    pub(super) async fn upload(
        &self,
        vol: &Vol,
        key: &str,
        upload_id: &str,
    ) -> Result<UploadInfo, StoreError> {
        let record = self.upload_record(vol, key, upload_id).await?;
        Ok(UploadInfo {
            upload_id: upload_id.to_owned(),
            key: record.key,
            initiated: record.initiated,
            meta: record.meta,
        })
    }

    pub(super) async fn list_parts(
        &self,
        vol: &Vol,
        key: &str,
        upload_id: &str,
    ) -> Result<(UploadInfo, Vec<PartInfo>), StoreError> {
        let upload = self.upload(vol, key, upload_id).await?;
        Ok((upload, self.parts(vol, upload_id).await?))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn complete_multipart(
        &self,
        vol: &Vol,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
        meta: ObjectMeta,
        condition: WriteCondition,
        versioning: Versioning,
    ) -> Result<ObjectInfo, StoreError> {
        self.upload_record(vol, key, upload_id).await?;
        let stored = self.stored_parts(vol, upload_id).await?;
        let mut chosen = Vec::with_capacity(parts.len());
        for (number, etag) in parts {
            match stored.iter().find(|(p, _)| p.number == *number) {
                Some(found) if found.0.etag == *etag => chosen.push(found.clone()),
                _ => return Err(StoreError::InvalidPart(*number)),
            }
        }
        let path = path_of(key)?;
        // Checked before any data moves; write_object checks again.
        self.check_condition(vol, &path, &condition).await?;
        let total: u64 = chosen.iter().map(|(p, _)| p.size).sum();
        let files = self
            .part_files(vol, upload_id, &chosen, Stale::Invalid)
            .await?;
        let segments = self.completion_segments(vol, upload_id, &files, total);
        // Copied bytes are read ahead and streamed into the object: that memory counts
        // against the budget of all SX writes, for both tries of the write.
        let copies = segments.iter().any(|s| matches!(s, Segment::Data(..)));
        let read_ahead = files.iter().map(|(_, d)| d.read_ahead()).max().unwrap_or(0);
        let window = match copies {
            true => Some(
                self.held_budget(streamed_window(total).saturating_add(read_ahead))
                    .await?,
            ),
            false => None,
        };
        let info = match self
            .write_in_bucket(vol, key, total, segments, &meta, &condition, versioning)
            .await
        {
            Err(StoreError::QuotaExceeded(_)) => {
                self.complete_in_room_of_parts(
                    vol, upload_id, key, &stored, &files, total, &meta, &condition, versioning,
                )
                .await?
            }
            other => other?,
        };
        drop(window);
        let done = CompletedUpload {
            key: key.to_owned(),
            etag: meta.etag.clone(),
            parts_digest: part_list_digest(parts),
            completed: SystemTime::now(),
        };
        self.record_completion(vol, upload_id, &done).await;
        self.delete_tree(vol, &format!("{PARTS_DIR}{upload_id}"))
            .await?;
        self.delete_path(vol, &upload_path(upload_id)).await?;
        Ok(info)
    }

    /// Removes parts whose upload record is gone (`live` names the uploads listed with one)
    /// once they are [`ORPHANED_PARTS_AGE`] old: the leftovers of a part that landed after
    /// its upload was completed or aborted. Each upload is checked again before its parts
    /// go; a failure is logged and the others are still tried.
    async fn remove_orphaned_parts(&self, vol: &Vol, live: &HashSet<&str>) {
        let old = now_secs().saturating_sub(ORPHANED_PARTS_AGE.as_secs()) as i64;
        let mut orphans: Vec<String> = Vec::new();
        let mut last_id = String::new();
        let listed = self
            .scan(vol, PARTS_DIR.to_owned(), usize::MAX, |name, entry| {
                let Some(rest) = name.strip_prefix(PARTS_DIR) else {
                    return Scan::Stop;
                };
                let Some((id, _)) = rest.split_once('/') else {
                    return Scan::Skip;
                };
                // The parts of one upload come together, the first one first.
                if id != last_id {
                    last_id = id.to_owned();
                    let old_enough = entry.created_at.unwrap_or(0) < old;
                    if !live.contains(id) && valid_upload_id(id) && old_enough {
                        orphans.push(id.to_owned());
                    }
                }
                Scan::Skip
            })
            .await;
        if let Err(e) = listed {
            log::warn!("SX: listing the parts of {} for leftovers: {e}", vol.name);
        }
        for id in orphans {
            match self.file_meta(vol, &upload_path(&id)).await {
                Err(StoreError::NoSuchKey) => {}
                Ok(_) => continue, // the upload is live after all
                Err(e) => {
                    log::warn!("SX: upload {id} in {}: {e}; its parts stay", vol.name);
                    continue;
                }
            }
            log::info!(
                "SX: removing the parts of ended upload {id} in {}",
                vol.name
            );
            if let Err(e) = self.delete_tree(vol, &format!("{PARTS_DIR}{id}")).await {
                log::warn!(
                    "SX: removing the parts of ended upload {id} in {}: {e}",
                    vol.name
                );
            }
        }
    }

    pub(super) async fn abort_multipart(
        &self,
        vol: &Vol,
        key: &str,
        upload_id: &str,
    ) -> Result<(), StoreError> {
        self.upload_record(vol, key, upload_id).await?;
        self.delete_tree(vol, &format!("{PARTS_DIR}{upload_id}"))
            .await?;
        self.delete_path(vol, &upload_path(upload_id)).await
    }

    pub(super) async fn list_multipart_uploads(
        &self,
        vol: &Vol,
        prefix: &str,
        after: Option<(&str, Option<&str>)>,
        limit: usize,
    ) -> Result<Vec<UploadInfo>, StoreError> {
        Ok(self
            .uploads(vol)
            .await?
            .into_iter()
            .filter(|(id, r)| {
                r.key.starts_with(prefix)
                    && match after {
                        None => true,
                        Some((k, None)) => r.key.as_str() > k,
                        Some((k, Some(after_id))) => {
                            r.key.as_str() > k || (r.key == k && id.as_str() > after_id)
                        }
                    }
            })
            .take(limit)
            .map(|(id, r)| UploadInfo {
                upload_id: id,
                key: r.key,
                initiated: r.initiated,
                meta: r.meta,
            })
            .collect())
    }

    /// Aborts up to `limit` uploads, of every bucket, started before `cutoff`.
    pub(super) async fn abort_uploads_initiated_before(
        &self,
        cutoff: SystemTime,
        limit: usize,
    ) -> Result<Vec<AbortedUpload>, StoreError> {
        let admin = self.admin_principal();
        let mut aborted = Vec::new();
        for bucket in self.list_buckets(&admin).await? {
            let vol = self.volume(&admin, &bucket.name).await?;
            self.forget_old_completions(&vol).await?;
            let uploads = self.uploads(&vol).await?;
            let live = uploads.iter().map(|(id, _)| id.as_str()).collect();
            self.remove_orphaned_parts(&vol, &live).await;
            for (id, record) in uploads {
                if aborted.len() >= limit {
                    return Ok(aborted);
                }
                if record.initiated >= cutoff {
                    continue;
                }
                self.delete_tree(&vol, &format!("{PARTS_DIR}{id}")).await?;
                self.delete_path(&vol, &upload_path(&id)).await?;
                aborted.push(AbortedUpload {
                    bucket: bucket.name.clone(),
                    upload: UploadInfo {
                        upload_id: id,
                        key: record.key,
                        initiated: record.initiated,
                        meta: record.meta,
                    },
                });
            }
        }
        Ok(aborted)
    }
}
