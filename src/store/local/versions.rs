//! The versioning calls of [`ObjectStore`](crate::store::ObjectStore) on the embedded store:
//! `object_store` delegates to these. Each write is one transaction of the writer (group
//! committed); the row rules are in `version_rows`.

use super::blocks::random_hex;
use super::index::objects::StoredObject;
use super::index::{
    self, buckets::check_owner, from_ms, headers_to_json, size_from_db, size_to_db,
};
use super::version_rows;
use super::LocalStore;
use crate::store::{
    Deleted, Judged, ObjectInfo, ObjectMeta, Principal, StoreError, VersionStart, VersionSummary,
    Versioning, WriteCondition, NULL_VERSION,
};

/// Bytes of randomness in a version id, after the 16 hex digits of its number: 32 hex
/// characters in all, as upload ids.
const VERSION_ID_BYTES: usize = 8;

impl LocalStore {
    /// The random part of a version id, from the random source upload ids come from.
    /// The random part of a new version's id: only versioning-enabled writes make one.
    pub(super) fn fresh_version_id(&self, versioning: Versioning) -> Result<String, StoreError> {
        match versioning {
            Versioning::Enabled => random_hex(&self.shared.rng, VERSION_ID_BYTES),
            Versioning::Unversioned | Versioning::Suspended => Ok(String::new()),
        }
    }

    pub(super) async fn delete_latest(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        versioning: Versioning,
    ) -> Result<Deleted, StoreError> {
        let (who, bucket, key) = (who.clone(), bucket.to_owned(), key.to_owned());
        let fresh = self.fresh_version_id(versioning)?;
        self.writer
            .run(None, move |tx| {
                check_owner(tx.conn, &who, &bucket)?;
                version_rows::delete_latest(tx, &bucket, &key, versioning, &fresh)
            })
            .await
    }

    /// [`ObjectStore::delete_object_if_etag`](crate::store::ObjectStore): the object goes
    /// for good, whatever the bucket's versioning (the S3 layer uses it unversioned only).
    pub(super) async fn delete_if_etag(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        etag: &str,
    ) -> Result<(), StoreError> {
        let (who, bucket, key) = (who.clone(), bucket.to_owned(), key.to_owned());
        let condition = WriteCondition::IfEtag(etag.to_owned());
        self.writer
            .run(None, move |tx| {
                check_owner(tx.conn, &who, &bucket)?;
                let Some(existing) = index::objects::existing_object(tx.conn, &bucket, &key)?
                else {
                    return Err(StoreError::NoSuchKey);
                };
                index::objects::check_condition(&condition, Some(&existing))?;
                if let Some(list) = &existing.blocks {
                    tx.release(&index::decode_blocks(list)?)?;
                }
                index::objects::delete(tx.conn, &bucket, &key)
            })
            .await
    }

    /// [`ObjectStore::delete_object_if_unchanged`](crate::store::ObjectStore): the check and
    /// the delete (or marker) are one transaction.
    pub(super) async fn delete_latest_if_unchanged(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        judged: &Judged,
        versioning: Versioning,
    ) -> Result<Deleted, StoreError> {
        let (who, bucket, key) = (who.clone(), bucket.to_owned(), key.to_owned());
        let judged = judged.clone();
        let fresh = self.fresh_version_id(versioning)?;
        self.writer
            .run(None, move |tx| {
                check_owner(tx.conn, &who, &bucket)?;
                let Some(current) = index::objects::existing_object(tx.conn, &bucket, &key)? else {
                    return Err(StoreError::NoSuchKey);
                };
                if current.etag != judged.etag || from_ms(current.mtime_ms) != judged.last_modified
                {
                    return Err(StoreError::PreconditionFailed);
                }
                version_rows::delete_latest(tx, &bucket, &key, versioning, &fresh)
            })
            .await
    }

    pub(super) async fn remove_version(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        version_id: &str,
        if_meta: Option<&ObjectMeta>,
    ) -> Result<Deleted, StoreError> {
        let (who, bucket, key) = (who.clone(), bucket.to_owned(), key.to_owned());
        let version_id = version_id.to_owned();
        let wanted = if_meta.map(StoredMeta::of).transpose()?;
        self.writer
            .run(None, move |tx| {
                check_owner(tx.conn, &who, &bucket)?;
                if let Some(wanted) = &wanted {
                    let current = index::objects::stored_object_with_owner(tx.conn, &bucket, &key)?
                        .and_then(|found| found.object);
                    match version_rows::find(tx.conn, &bucket, &key, current, Some(&version_id)) {
                        Ok((row, _)) => wanted.check(&row)?,
                        // Gone already, or a marker: nothing the condition protects.
                        Err(
                            StoreError::NoSuchKey
                            | StoreError::NoSuchVersion
                            | StoreError::DeleteMarker { .. },
                        ) => {}
                        Err(e) => return Err(e),
                    }
                }
                version_rows::delete_version(tx, &bucket, &key, &version_id)
            })
            .await
    }

    pub(super) async fn replace_meta(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        meta: ObjectMeta,
        if_meta: &ObjectMeta,
    ) -> Result<ObjectInfo, StoreError> {
        let (who, bucket, key) = (who.clone(), bucket.to_owned(), key.to_owned());
        let version_id = version_id.map(str::to_owned);
        let wanted = StoredMeta::of(if_meta)?;
        let headers_json = headers_to_json(&meta)?;
        let reported_size = meta.size.map(size_to_db).transpose()?;
        self.writer
            .run(None, move |tx| {
                check_owner(tx.conn, &who, &bucket)?;
                let current = index::objects::stored_object_with_owner(tx.conn, &bucket, &key)?
                    .and_then(|found| found.object);
                let (row, seq) =
                    version_rows::find(tx.conn, &bucket, &key, current, version_id.as_deref())?;
                wanted.check(&row)?;
                let new = (meta.etag.as_str(), headers_json.as_str(), reported_size);
                index::versions::set_meta(tx.conn, &bucket, &key, seq, new)?;
                Ok(ObjectInfo {
                    key,
                    size: size_from_db(row.size)?,
                    last_modified: from_ms(row.mtime_ms),
                    meta,
                    version_id: row.version_id.unwrap_or_else(|| NULL_VERSION.to_owned()),
                })
            })
            .await
    }

    pub(super) async fn versions(
        &self,
        who: &Principal,
        bucket: &str,
        prefix: &str,
        start: &VersionStart,
        limit: usize,
        header: Option<&str>,
    ) -> Result<Vec<VersionSummary>, StoreError> {
        let (who, bucket, prefix) = (who.clone(), bucket.to_owned(), prefix.to_owned());
        let (start, header) = (start.clone(), header.map(str::to_owned));
        self.read(move |conn| {
            check_owner(conn, &who, &bucket)?;
            if limit == 0 {
                return Ok(Vec::new());
            }
            version_rows::list(conn, &bucket, &prefix, &start, limit, header.as_deref())
        })
        .await
    }
}

/// Metadata as the index stores it, to compare a version's row with what a caller read.
struct StoredMeta {
    etag: String,
    meta_json: String,
    reported_size: Option<i64>,
}

impl StoredMeta {
    fn of(meta: &ObjectMeta) -> Result<StoredMeta, StoreError> {
        Ok(StoredMeta {
            etag: meta.etag.clone(),
            meta_json: headers_to_json(meta)?,
            reported_size: meta.size.map(size_to_db).transpose()?,
        })
    }

    /// SourceChanged unless `row` still has this metadata.
    fn check(&self, row: &StoredObject) -> Result<(), StoreError> {
        if (&row.etag, &row.meta_json, &row.reported_size)
            != (&self.etag, &self.meta_json, &self.reported_size)
        {
            return Err(StoreError::SourceChanged);
        }
        Ok(())
    }
}
