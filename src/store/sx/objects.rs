//! Object writes under a condition (SX has no compare-and-swap), copies made of the source's
//! blocks, and file deletion.

use super::versioned::{file_micros, from_micros};
use crate::store::Judged;
use std::time::SystemTime;

use actix_web::http::Method;
use bytes::Bytes;

use super::access::path_of;
use super::client::SxError;
use super::cluster::{internal, random_hex, Cluster, Vol};
use super::mapping::{meta_from_sx, meta_to_sx, url_encode, SxPath};
use super::proto::HexMeta;
use super::upload::Segment;
use crate::store::{
    CopySource, ObjectInfo, ObjectMeta, Principal, StoreError, Versioning, WriteCondition,
    NULL_VERSION,
};

/// A conditional write's checks around its flush: the condition again just before it, and
/// its write id just after.
pub(super) struct ConditionalWrite<'a> {
    pub condition: &'a WriteCondition,
    pub write_id: &'a str,
}

/// File meta key of a conditional write: a random id that tells the writer whether the file
/// SX holds after its flush is its own.
const WRITE_ID_KEY: &str = "libres3-wid";

impl Cluster {
    /// Writes an object's file, with its S3 metadata, under a write condition.
    ///
    /// SX has no compare-and-swap, so the condition is checked three times: before the upload
    /// starts, again just before the flush that makes the file visible, and after the flush,
    /// through a random write id stored in the file meta. Writes of one name through this
    /// gateway take turns (see `write_file`) from the second check to the third, so among
    /// them exactly one conditional writer wins, and a plain write that replaces ours after
    /// our flush does not make ours fail: it came later. Only another gateway's write can
    /// land between our flush and the id check; ours then reports PreconditionFailed (the
    /// other write is the one visible). Two conditional writers on different gateways whose
    /// flushes overlap can both succeed; the README documents that window.
    pub(super) async fn write_object(
        &self,
        vol: &Vol,
        path: &SxPath,
        size: u64,
        segments: Vec<Segment>,
        meta: &ObjectMeta,
        condition: &WriteCondition,
    ) -> Result<(), StoreError> {
        self.write_object_meta(vol, path, size, segments, meta_to_sx(meta), condition)
            .await
    }

    /// [`Cluster::write_object`] with the file meta made by the caller.
    pub(super) async fn write_object_meta(
        &self,
        vol: &Vol,
        path: &SxPath,
        size: u64,
        segments: Vec<Segment>,
        mut sx_meta: HexMeta,
        condition: &WriteCondition,
    ) -> Result<(), StoreError> {
        if *condition == WriteCondition::None {
            self.write_file(vol, path, size, segments, Some(&sx_meta), None)
                .await?;
            return Ok(());
        }
        let write_id = random_hex(16)?;
        sx_meta.insert(WRITE_ID_KEY, write_id.as_bytes());
        self.check_condition(vol, path, condition).await?;
        let conditional = ConditionalWrite {
            condition,
            write_id: &write_id,
        };
        self.write_file(
            vol,
            path,
            size,
            segments,
            Some(&sx_meta),
            Some(&conditional),
        )
        .await?;
        Ok(())
    }

    /// Writes an object as a bucket in `versioning` state does: replacing the current file,
    /// or as a new version.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn write_in_bucket(
        &self,
        vol: &Vol,
        key: &str,
        size: u64,
        segments: Vec<Segment>,
        meta: &ObjectMeta,
        condition: &WriteCondition,
        versioning: Versioning,
    ) -> Result<ObjectInfo, StoreError> {
        // A key too long for records keeps only its null version, written as in a plain
        // bucket (see `versioned_prefix`).
        let has_records = super::versions::records_prefix(key).is_some();
        if versioning == Versioning::Enabled || (versioning == Versioning::Suspended && has_records)
        {
            return self
                .write_version(vol, key, size, segments, meta, condition, versioning)
                .await;
        }
        let path = path_of(key)?;
        self.write_object(vol, &path, size, segments, meta, condition)
            .await?;
        Ok(ObjectInfo {
            key: key.to_owned(),
            size,
            last_modified: SystemTime::now(),
            meta: meta.clone(),
            version_id: NULL_VERSION.to_owned(),
        })
    }

    /// PreconditionFailed unless the file SX holds now carries `write_id`.
    pub(super) async fn verify_write_id(
        &self,
        vol: &Vol,
        path: &SxPath,
        write_id: &str,
    ) -> Result<(), StoreError> {
        match self.file_meta(vol, path).await {
            Ok(m) if m.get(WRITE_ID_KEY).as_deref() == Some(write_id.as_bytes()) => Ok(()),
            Ok(_) | Err(StoreError::NoSuchKey) => {
                log::info!(
                    "SX: conditional write of {} in {} was replaced by another gateway's write",
                    path.as_str(),
                    vol.name
                );
                Err(StoreError::PreconditionFailed)
            }
            Err(e) => Err(e),
        }
    }

    /// Deletes a file only while its object has ETag `etag`. Conditional deletes and writes of
    /// one name through this gateway take turns, so none lands between the check and the
    /// delete; another gateway's write can (SX has no compare-and-swap).
    pub(super) async fn delete_path_if_etag(
        &self,
        vol: &Vol,
        path: &SxPath,
        etag: &str,
    ) -> Result<(), StoreError> {
        let _turn = self.writing_turn(vol, path).await;
        let (file, meta) = self.file_with_meta(vol, path).await?;
        if meta_from_sx(Some(&meta), &file.file_revision).etag != etag {
            return Err(StoreError::PreconditionFailed);
        }
        self.delete_path(vol, path).await
    }

    /// Deletes a file only while it has `judged`'s ETag and last-modified time (as the
    /// listing shows it: a metadata change rewrites the file, and its creation time, but
    /// keeps that), serialised with this gateway's writes of the path.
    pub(super) async fn delete_path_if_unchanged(
        &self,
        vol: &Vol,
        path: &SxPath,
        judged: &Judged,
    ) -> Result<(), StoreError> {
        let _turn = self.writing_turn(vol, path).await;
        let (file, meta) = self.file_with_meta(vol, path).await?;
        if meta_from_sx(Some(&meta), &file.file_revision).etag != judged.etag
            || from_micros(file_micros(Some(&meta), file.created_at)) != judged.last_modified
        {
            return Err(StoreError::PreconditionFailed);
        }
        self.delete_path(vol, path).await
    }

    /// Deletes a file; Ok when it does not exist.
    pub(super) async fn delete_path(&self, vol: &Vol, path: &SxPath) -> Result<(), StoreError> {
        match self
            .vol_job(
                vol,
                Method::DELETE,
                &Self::file_url(vol, path),
                Bytes::new(),
            )
            .await
        {
            Ok(()) | Err(SxError::Status { status: 404, .. }) => Ok(()),
            Err(e) => Err(internal(e)),
        }
    }

    /// Deletes everything under a reserved directory (mass delete); Ok when it is empty.
    pub(super) async fn delete_tree(&self, vol: &Vol, dir: &str) -> Result<(), StoreError> {
        let path = format!(
            "/{}?filter={}&recursive",
            url_encode(&vol.name, false),
            url_encode(dir, true)
        );
        match self.vol_mass_job(vol, Method::DELETE, &path).await {
            Ok(()) | Err(SxError::Status { status: 404, .. }) => Ok(()),
            Err(e) => Err(internal(e)),
        }
    }

    /// Ok when `condition` holds for the file as SX holds it now, else PreconditionFailed.
    pub(super) async fn check_condition(
        &self,
        vol: &Vol,
        path: &SxPath,
        condition: &WriteCondition,
    ) -> Result<(), StoreError> {
        if *condition == WriteCondition::None {
            return Ok(());
        }
        let current = match self.file_with_meta(vol, path).await {
            Ok((file, meta)) => Some(meta_from_sx(Some(&meta), &file.file_revision).etag),
            Err(StoreError::NoSuchKey) => None,
            Err(e) => return Err(e),
        };
        match (condition, current) {
            (WriteCondition::IfAbsent, None) => Ok(()),
            (WriteCondition::IfEtag(want), Some(etag)) if *want == etag => Ok(()),
            _ => Err(StoreError::PreconditionFailed),
        }
    }

    /// CopyObject without moving data: the new file is made of the source's blocks (blocks are
    /// cluster-wide, so this works across volumes too).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn copy_from_hashes(
        &self,
        who: &Principal,
        source: &CopySource<'_>,
        dst_bucket: &str,
        dst_key: &str,
        meta: ObjectMeta,
        condition: WriteCondition,
        versioning: Versioning,
    ) -> Result<ObjectInfo, StoreError> {
        let (src_bucket, src_key) = (source.bucket, source.key);
        let src = self.data_volume(who, src_bucket).await?;
        let dst = if src_bucket == dst_bucket {
            src.clone()
        } else {
            self.data_volume(who, dst_bucket).await?
        };
        // The metadata is checked against the very revision whose blocks are copied.
        let file = match (source.if_meta, source.version_id) {
            (None, None) => {
                let src_path = path_of(src_key).map_err(|_| StoreError::NoSuchKey)?;
                match self.file(&src, &src_path).await {
                    Err(StoreError::NoSuchKey) => self.version_file(&src, src_key, None).await?.0,
                    other => other?,
                }
            }
            (wanted, version) => {
                let (file, src_meta, _) = self.version_file(&src, src_key, version).await?;
                if wanted.is_some_and(|w| meta_from_sx(Some(&src_meta), &file.file_revision) != *w)
                {
                    return Err(StoreError::SourceChanged);
                }
                file
            }
        };
        let size = file.file_size;
        let hashes: Vec<String> = file.file_data.into_iter().map(|b| b.hash).collect();
        let blocks = vec![Segment::Hashes(hashes, size)];
        self.write_in_bucket(&dst, dst_key, size, blocks, &meta, &condition, versioning)
            .await
    }
}
