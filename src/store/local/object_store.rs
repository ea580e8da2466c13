//! The [`ObjectStore`] operations of the embedded store: each checks access, asks the index
//! (reads on a pooled connection, writes on the writer thread) and hands blocks to the
//! staging, writer and reader modules.

use crate::store::Judged;
use rusqlite::Connection;

use super::blocks::random_hex;
use super::index::completed::NewCompletion;
use super::index::objects::{check_condition, existing_object, NewObject};
use super::index::uploads::{check_upload, NewPart, PartLookup};
use super::index::{
    self, buckets::check_owned_by, buckets::check_owner, decode_blocks, encode_blocks, from_ms,
    headers_to_json, key_from_db, meta_from_db, now_ms, size_from_db, size_to_db,
};
use super::reader::{read_object, LocalReader, ReaderTicket, IN_PLACE_BLOCKS};
use super::staging::{self, LocalStaged};
use super::version_rows;
use super::writer::Tx;
use super::{state, LocalStore};
use crate::store::{
    part_list_digest, AbortedUpload, BodyStream, BucketDocuments, BucketInfo, CompletedUpload,
    CopySource, Deleted, ListStart, ObjectInfo, ObjectMeta, ObjectStore, ObjectSummary, PartInfo,
    Principal, Staged, StoreError, UploadInfo, User, VersionStart, VersionSummary, Versioning,
    WriteCondition, COMPLETED_UPLOAD_KEPT,
};

fn user_name(who: &Principal) -> Result<&str, StoreError> {
    match who {
        Principal::User(name) => Ok(name),
        Principal::Anonymous => Err(StoreError::AccessDenied),
    }
}

/// [`COMPLETED_UPLOAD_KEPT`] in the index's milliseconds.
fn completed_kept_ms() -> i64 {
    COMPLETED_UPLOAD_KEPT.as_millis() as i64
}

/// Releases every part of an upload and removes it.
fn drop_upload(tx: &mut Tx<'_>, upload_id: &str) -> Result<(), StoreError> {
    let lists = index::uploads::part_block_lists(tx.conn, upload_id)?;
    for list in lists {
        tx.release(&decode_blocks(&list)?)?;
    }
    index::uploads::delete(tx.conn, upload_id)
}

/// An upload of `key` in a bucket `who` owns.
fn upload_info(
    conn: &Connection,
    who: &Principal,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<UploadInfo, StoreError> {
    check_owner(conn, who, bucket)?;
    check_upload(conn, bucket, key, upload_id)?;
    let (meta_json, initiated) = index::uploads::meta_and_initiated(conn, upload_id)?;
    Ok(UploadInfo {
        upload_id: upload_id.to_owned(),
        key: key.to_owned(),
        initiated: from_ms(initiated),
        meta: meta_from_db(String::new(), &meta_json)?,
    })
}

impl ObjectStore for LocalStore {
    type Staged = LocalStaged;
    type Reader = LocalReader;

    fn encrypts_at_rest(&self) -> bool {
        self.shared.sealing.is_on()
    }

    async fn backend_state(&self) -> crate::store::BackendState {
        state::backend_state(self).await
    }

    async fn user_by_access_key(&self, access_key: &str) -> Result<Option<User>, StoreError> {
        let cache = &self.shared.users;
        // Read before the lookup: an entry is never older than the generation it carries.
        let generation = cache.generation();
        if let Some(user) = generation.and_then(|now| cache.get(access_key, now)) {
            return Ok(Some(user));
        }
        let key = access_key.to_owned();
        let found = self
            .read(move |conn| index::users::by_access_key(conn, &key))
            .await?;
        if let (Some(user), Some(read_at)) = (&found, generation) {
            cache.insert(user.clone(), read_at);
        }
        Ok(found)
    }

    async fn list_buckets(&self, who: &Principal) -> Result<Vec<BucketInfo>, StoreError> {
        let owner = user_name(who)?.to_owned();
        self.read(move |conn| index::buckets::list_owned(conn, &owner))
            .await
    }

    async fn create_bucket(&self, who: &Principal, bucket: &str) -> Result<(), StoreError> {
        let owner = user_name(who)?.to_owned();
        let bucket = bucket.to_owned();
        self.writer
            .run(None, move |tx| {
                match index::buckets::owner(tx.conn, &bucket)? {
                    Some(existing) if existing == owner => Err(StoreError::BucketAlreadyOwnedByYou),
                    Some(_) => Err(StoreError::BucketAlreadyExists),
                    None => index::buckets::insert(tx.conn, &bucket, &owner, now_ms()),
                }
            })
            .await
    }

    async fn bucket_info(&self, who: &Principal, bucket: &str) -> Result<BucketInfo, StoreError> {
        let (who, bucket) = (who.clone(), bucket.to_owned());
        self.read(move |conn| {
            check_owner(conn, &who, &bucket)?;
            index::buckets::info(conn, &bucket)
        })
        .await
    }

    async fn delete_bucket(&self, who: &Principal, name: &str) -> Result<(), StoreError> {
        let (who, bucket) = (who.clone(), name.to_owned());
        self.writer
            .run(None, move |tx| {
                check_owner(tx.conn, &who, &bucket)?;
                if index::objects::any_in_bucket(tx.conn, &bucket)?
                    || index::versions::any_in_bucket(tx.conn, &bucket)?
                {
                    return Err(StoreError::BucketNotEmpty);
                }
                for upload_id in index::uploads::ids_in_bucket(tx.conn, &bucket)? {
                    drop_upload(tx, &upload_id)?;
                }
                index::completed::forget_bucket(tx.conn, &bucket)?;
                index::buckets::delete(tx.conn, &bucket)
            })
            .await?;
        // A stage that read the owner just before this commit may put it back: harmless,
        // the hint never refuses nor commits anything.
        self.shared.bucket_owners.invalidate(name);
        Ok(())
    }

    async fn stage(
        &self,
        who: &Principal,
        bucket: &str,
        body: BodyStream,
        size: Option<u64>,
    ) -> Result<LocalStaged, StoreError> {
        // Refuse before taking any disk space from a bucket the caller may not write to. A
        // bucket this caller was seen to own needs no read (one blocking task less per PUT);
        // anything else is read, and the commit checks again in any case.
        let known = self.shared.bucket_owners.get(bucket);
        let known_owned = matches!((known.as_deref(), who), (Some(owner), Principal::User(name)) if owner == name);
        if !known_owned {
            let name = bucket.to_owned();
            let owner = self
                .read(move |conn| index::buckets::owner(conn, &name))
                .await?;
            check_owned_by(owner.as_deref(), who)?;
            if let Some(owner) = owner {
                self.shared.bucket_owners.insert(bucket.to_owned(), owner);
            }
        }
        let staged = staging::stage(&self.shared, body, size).await;
        if let Err(StoreError::OutOfSpace(why)) = &staged {
            // Give back now what this upload wrote and what deleted objects left, rather than
            // when the writer is next idle, so that a retry finds the space.
            match self.collect_garbage().await {
                Ok(gc) => log::warn!(
                    "out of space ({why}); collected garbage at once: {} blocks and {} stray \
                     files removed",
                    gc.deleted_blocks,
                    gc.removed_strays
                ),
                Err(e) => log::error!("out of space ({why}); garbage collection failed: {e}"),
            }
        }
        staged
    }

    async fn commit_object(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        data: LocalStaged,
        meta: ObjectMeta,
        condition: WriteCondition,
        versioning: Versioning,
    ) -> Result<ObjectInfo, StoreError> {
        let (who, bucket, key) = (who.clone(), bucket.to_owned(), key.to_owned());
        let fresh = self.fresh_version_id(versioning)?;
        let size = data.size();
        let db_size = size_to_db(size)?;
        let headers_json = headers_to_json(&meta)?;
        let reported_size = meta.size.map(size_to_db).transpose()?;
        let new_blocks = data.located_blocks();
        let inline = match &data.content {
            staging::StagedContent::Inline(bytes) => {
                Some(self.shared.sealing.seal_inline(bytes.clone())?)
            }
            staging::StagedContent::Blocks(_) => None,
        };
        self.writer
            .run(Some(data), move |tx| {
                check_owner(tx.conn, &who, &bucket)?;
                let existing = existing_object(tx.conn, &bucket, &key)?;
                check_condition(&condition, existing.as_ref())?;
                // Reference the new blocks before releasing the old ones, so a block both
                // versions share never reaches refcount 0.
                let encoded = match &new_blocks {
                    Some(blocks) => {
                        tx.reference_staged(blocks)?;
                        let list: Vec<_> = blocks.iter().map(|(block, _)| *block).collect();
                        Some(encode_blocks(&list))
                    }
                    None => None,
                };
                let (mtime, version_id) = version_rows::write_current_row(
                    tx,
                    (versioning, &fresh),
                    existing,
                    NewObject {
                        bucket: &bucket,
                        key: &key,
                        size: db_size,
                        etag: &meta.etag,
                        headers_json: &headers_json,
                        inline: inline.as_deref(),
                        blocks: encoded.as_deref(),
                        reported_size,
                        version_id: None,
                        seq: None,
                    },
                )?;
                Ok(ObjectInfo {
                    version_id,
                    key,
                    size,
                    last_modified: from_ms(mtime),
                    meta,
                })
            })
            .await
    }

    async fn open_object(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<LocalReader, StoreError> {
        // Registered before the index read: the blocks it finds stay until the ticket drops.
        let ticket = ReaderTicket::new(&self.shared);
        let small = &self.shared.small_objects;
        // Loaded before the index read begins: see small_objects.
        let sequence = small.sequence();
        let latest = version_id.is_none();
        if let Some(hit) = latest.then(|| small.get(bucket, key, sequence)).flatten() {
            let (info, body) = hit.answer(who)?;
            return Ok(LocalReader { info, body, ticket });
        }
        let in_place = self.read_here(|conn| {
            let at = (bucket, key, version_id);
            read_object(conn, &self.shared, who, at, Some(IN_PLACE_BLOCKS))
        })?;
        let found = match in_place {
            Some(found) => found,
            // A large object: one index lookup per block, too many for a worker thread.
            None => {
                let shared = self.shared.clone();
                let (who, bucket, key) = (who.clone(), bucket.to_owned(), key.to_owned());
                let version_id = version_id.map(str::to_owned);
                self.read(move |conn| {
                    let at = (bucket.as_str(), key.as_str(), version_id.as_deref());
                    read_object(conn, &shared, &who, at, None)
                })
                .await?
                .ok_or_else(|| StoreError::Internal("object read without a limit".into()))?
            }
        };
        if latest {
            small.remember((bucket, key), sequence, &found);
        }
        let (info, body) = (found.info, found.body);
        Ok(LocalReader { info, body, ticket })
    }

    async fn delete_object(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        versioning: Versioning,
    ) -> Result<Deleted, StoreError> {
        self.delete_latest(who, bucket, key, versioning).await
    }

    async fn delete_version(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        version_id: &str,
        if_meta: Option<&ObjectMeta>,
    ) -> Result<Deleted, StoreError> {
        self.remove_version(who, bucket, key, version_id, if_meta)
            .await
    }

    async fn update_meta(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        meta: ObjectMeta,
        if_meta: &ObjectMeta,
    ) -> Result<ObjectInfo, StoreError> {
        self.replace_meta(who, bucket, key, version_id, meta, if_meta)
            .await
    }

    async fn list_object_versions(
        &self,
        who: &Principal,
        bucket: &str,
        prefix: &str,
        start: &VersionStart,
        limit: usize,
        header: Option<&str>,
    ) -> Result<Vec<VersionSummary>, StoreError> {
        self.versions(who, bucket, prefix, start, limit, header)
            .await
    }

    async fn delete_object_if_etag(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        etag: &str,
    ) -> Result<(), StoreError> {
        self.delete_if_etag(who, bucket, key, etag).await
    }

    async fn delete_object_if_unchanged(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        judged: &Judged,
        versioning: Versioning,
    ) -> Result<Deleted, StoreError> {
        self.delete_latest_if_unchanged(who, bucket, key, judged, versioning)
            .await
    }

    async fn list_objects(
        &self,
        who: &Principal,
        bucket: &str,
        prefix: &str,
        start: &ListStart,
        limit: usize,
        header: Option<&str>,
    ) -> Result<Vec<ObjectSummary>, StoreError> {
        let (who, bucket) = (who.clone(), bucket.to_owned());
        let header = header.map(str::to_owned);
        let range = index::objects::key_range(prefix, start);
        self.read(move |conn| {
            check_owner(conn, &who, &bucket)?;
            let Some(range) = range.filter(|_| limit > 0) else {
                return Ok(Vec::new());
            };
            index::objects::list(conn, bucket, range, limit, header.as_deref())
        })
        .await
    }

    async fn create_multipart(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        meta: ObjectMeta,
    ) -> Result<String, StoreError> {
        let (who, bucket, key) = (who.clone(), bucket.to_owned(), key.to_owned());
        let upload_id = random_hex(&self.shared.rng, 16)?;
        let headers_json = headers_to_json(&meta)?;
        self.writer
            .run(None, move |tx| {
                check_owner(tx.conn, &who, &bucket)?;
                index::uploads::insert(
                    tx.conn,
                    &upload_id,
                    &bucket,
                    &key,
                    &headers_json,
                    now_ms(),
                )?;
                Ok(upload_id)
            })
            .await
    }

    async fn commit_part(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        data: LocalStaged,
        etag: String,
        checksum: Option<String>,
    ) -> Result<PartInfo, StoreError> {
        let (who, bucket, key) = (who.clone(), bucket.to_owned(), key.to_owned());
        let upload_id = upload_id.to_owned();
        let data = staging::into_blocks(&self.shared, data).await?;
        let size = data.size();
        let db_size = size_to_db(size)?;
        let new_blocks = data.located_blocks().unwrap_or_default();
        self.writer
            .run(Some(data), move |tx| {
                check_owner(tx.conn, &who, &bucket)?;
                check_upload(tx.conn, &bucket, &key, &upload_id)?;
                let old = index::uploads::part_block_list(tx.conn, &upload_id, part_number)?;
                tx.reference_staged(&new_blocks)?;
                if let Some(old) = old {
                    tx.release(&decode_blocks(&old)?)?;
                }
                let list: Vec<_> = new_blocks.iter().map(|(block, _)| *block).collect();
                let mtime = now_ms();
                index::uploads::replace_part(
                    tx.conn,
                    &NewPart {
                        upload_id: &upload_id,
                        number: part_number,
                        size: db_size,
                        etag: &etag,
                        mtime_ms: mtime,
                        blocks: &encode_blocks(&list),
                        checksum: checksum.as_deref(),
                    },
                )?;
                Ok(PartInfo {
                    number: part_number,
                    size,
                    etag,
                    last_modified: from_ms(mtime),
                    checksum,
                })
            })
            .await
    }

    async fn upload(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<UploadInfo, StoreError> {
        let (who, bucket, key) = (who.clone(), bucket.to_owned(), key.to_owned());
        let upload_id = upload_id.to_owned();
        self.read(move |conn| upload_info(conn, &who, &bucket, &key, &upload_id))
            .await
    }

    async fn list_parts(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(UploadInfo, Vec<PartInfo>), StoreError> {
        let (who, bucket, key) = (who.clone(), bucket.to_owned(), key.to_owned());
        let upload_id = upload_id.to_owned();
        self.read(move |conn| {
            let upload = upload_info(conn, &who, &bucket, &key, &upload_id)?;
            Ok((upload, index::uploads::list_parts(conn, &upload_id)?))
        })
        .await
    }

    async fn complete_multipart(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
        meta: ObjectMeta,
        condition: WriteCondition,
        versioning: Versioning,
    ) -> Result<ObjectInfo, StoreError> {
        let (who, bucket, key) = (who.clone(), bucket.to_owned(), key.to_owned());
        let fresh = self.fresh_version_id(versioning)?;
        let upload_id = upload_id.to_owned();
        let parts = parts.to_vec();
        let headers_json = headers_to_json(&meta)?;
        let reported_size = meta.size.map(size_to_db).transpose()?;
        self.writer
            .run(None, move |tx| {
                check_owner(tx.conn, &who, &bucket)?;
                check_upload(tx.conn, &bucket, &key, &upload_id)?;
                let mut joined = Vec::new();
                let mut size: u64 = 0;
                {
                    let mut part_row = PartLookup::new(tx.conn)?;
                    for (number, etag) in &parts {
                        match part_row.get(&upload_id, *number)? {
                            Some(part) if part.etag == *etag => {
                                size += size_from_db(part.size)?;
                                joined.extend(decode_blocks(&part.blocks)?);
                            }
                            _ => return Err(StoreError::InvalidPart(*number)),
                        }
                    }
                }
                let existing = existing_object(tx.conn, &bucket, &key)?;
                check_condition(&condition, existing.as_ref())?;
                // The object takes its own references; then the parts and any previous
                // version let go of theirs. No data is copied.
                tx.reference_existing(&joined)?;
                drop_upload(tx, &upload_id)?;
                let now = now_ms();
                index::completed::forget_before(tx.conn, now - completed_kept_ms())?;
                index::completed::insert(
                    tx.conn,
                    &NewCompletion {
                        upload_id: &upload_id,
                        bucket: &bucket,
                        key: &key,
                        etag: &meta.etag,
                        parts_digest: &part_list_digest(&parts),
                        completed_ms: now,
                    },
                )?;
                let (mtime, version_id) = version_rows::write_current_row(
                    tx,
                    (versioning, &fresh),
                    existing,
                    NewObject {
                        bucket: &bucket,
                        key: &key,
                        size: size_to_db(size)?,
                        etag: &meta.etag,
                        headers_json: &headers_json,
                        inline: None,
                        blocks: Some(&encode_blocks(&joined)),
                        reported_size,
                        version_id: None,
                        seq: None,
                    },
                )?;
                Ok(ObjectInfo {
                    version_id,
                    key,
                    size,
                    last_modified: from_ms(mtime),
                    meta,
                })
            })
            .await
    }

    async fn completed_upload(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<CompletedUpload>, StoreError> {
        let (who, bucket, key) = (who.clone(), bucket.to_owned(), key.to_owned());
        let upload_id = upload_id.to_owned();
        self.read(move |conn| {
            check_owner(conn, &who, &bucket)?;
            let since = now_ms() - completed_kept_ms();
            index::completed::find(conn, &upload_id, &bucket, &key, since)
        })
        .await
    }

    async fn abort_multipart(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), StoreError> {
        let (who, bucket, key) = (who.clone(), bucket.to_owned(), key.to_owned());
        let upload_id = upload_id.to_owned();
        self.writer
            .run(None, move |tx| {
                check_owner(tx.conn, &who, &bucket)?;
                check_upload(tx.conn, &bucket, &key, &upload_id)?;
                drop_upload(tx, &upload_id)
            })
            .await
    }

    async fn copy_object(
        &self,
        who: &Principal,
        source: &CopySource<'_>,
        dst_bucket: &str,
        dst_key: &str,
        meta: ObjectMeta,
        condition: WriteCondition,
        versioning: Versioning,
    ) -> Result<ObjectInfo, StoreError> {
        let who = who.clone();
        let fresh = self.fresh_version_id(versioning)?;
        let src_version = source.version_id.map(str::to_owned);
        let (src_bucket, src_key) = (source.bucket.to_owned(), source.key.to_owned());
        // The row the source must still have, as the index holds it.
        let if_row = match source.if_meta {
            Some(wanted) => Some((
                wanted.etag.clone(),
                headers_to_json(wanted)?,
                wanted.size.map(size_to_db).transpose()?,
            )),
            None => None,
        };
        let (bucket, key) = (dst_bucket.to_owned(), dst_key.to_owned());
        let headers_json = headers_to_json(&meta)?;
        let reported_size = meta.size.map(size_to_db).transpose()?;
        self.writer
            .run(None, move |tx| {
                check_owner(tx.conn, &who, &src_bucket)?;
                check_owner(tx.conn, &who, &bucket)?;
                let current =
                    index::objects::stored_object_with_owner(tx.conn, &src_bucket, &src_key)?
                        .and_then(|found| found.object);
                let (src, _) = version_rows::find(
                    tx.conn,
                    &src_bucket,
                    &src_key,
                    current,
                    src_version.as_deref(),
                )?;
                let same = |(etag, headers, size): &(String, String, Option<i64>)| {
                    *etag == src.etag && *headers == src.meta_json && *size == src.reported_size
                };
                if if_row.as_ref().is_some_and(|wanted| !same(wanted)) {
                    return Err(StoreError::SourceChanged);
                }
                let existing = existing_object(tx.conn, &bucket, &key)?;
                check_condition(&condition, existing.as_ref())?;
                // The copy takes its own references before the destination's previous
                // version lets go of its own: a block both name never reaches 0. No data
                // is written.
                if let Some(list) = &src.blocks {
                    tx.reference_existing(&decode_blocks(list)?)?;
                }
                let (mtime, version_id) = version_rows::write_current_row(
                    tx,
                    (versioning, &fresh),
                    existing,
                    NewObject {
                        bucket: &bucket,
                        key: &key,
                        size: src.size,
                        etag: &meta.etag,
                        headers_json: &headers_json,
                        inline: src.inline.as_deref(),
                        blocks: src.blocks.as_deref(),
                        reported_size,
                        version_id: None,
                        seq: None,
                    },
                )?;
                Ok(ObjectInfo {
                    version_id,
                    key,
                    size: size_from_db(src.size)?,
                    last_modified: from_ms(mtime),
                    meta,
                })
            })
            .await
    }

    async fn bucket_documents(&self, bucket: &str) -> Result<BucketDocuments, StoreError> {
        let bucket = bucket.to_owned();
        self.read(move |conn| {
            let info = index::buckets::find(conn, &bucket)?.ok_or(StoreError::NoSuchBucket)?;
            let documents = index::buckets::documents(conn, &bucket)?;
            Ok(BucketDocuments {
                info,
                documents,
                backend_grants: Vec::new(),
            })
        })
        .await
    }

    async fn put_bucket_document(
        &self,
        who: &Principal,
        bucket: &str,
        name: &str,
        document: Option<String>,
    ) -> Result<(), StoreError> {
        let (who, bucket, name) = (who.clone(), bucket.to_owned(), name.to_owned());
        self.writer
            .run(None, move |tx| {
                check_owner(tx.conn, &who, &bucket)?;
                index::buckets::put_document(tx.conn, &bucket, &name, document)
            })
            .await
    }

    async fn all_buckets(&self) -> Result<Vec<BucketInfo>, StoreError> {
        self.read(index::buckets::list_all).await
    }

    /// Always true: this process holds the store's lock on its data directory, so no other
    /// server works on these buckets.
    async fn try_lease(
        &self,
        _bucket: &str,
        _name: &str,
        _holder: &str,
        _ttl: std::time::Duration,
    ) -> Result<bool, StoreError> {
        Ok(true)
    }

    async fn abort_uploads_initiated_before(
        &self,
        cutoff: std::time::SystemTime,
        limit: usize,
    ) -> Result<Vec<AbortedUpload>, StoreError> {
        let cutoff = index::to_ms(cutoff);
        self.writer
            .run(None, move |tx| {
                index::completed::forget_before(tx.conn, now_ms() - completed_kept_ms())?;
                let rows = index::uploads::initiated_before(tx.conn, cutoff, limit)?;
                let mut aborted = Vec::with_capacity(rows.len());
                for row in rows {
                    drop_upload(tx, &row.upload_id)?;
                    aborted.push(AbortedUpload {
                        bucket: row.bucket,
                        upload: UploadInfo {
                            upload_id: row.upload_id,
                            key: key_from_db(row.key)?,
                            initiated: from_ms(row.initiated_ms),
                            meta: meta_from_db(String::new(), &row.meta_json)?,
                        },
                    });
                }
                Ok(aborted)
            })
            .await
    }

    async fn list_multipart_uploads(
        &self,
        who: &Principal,
        bucket: &str,
        prefix: &str,
        after: Option<(&str, Option<&str>)>,
        limit: usize,
    ) -> Result<Vec<UploadInfo>, StoreError> {
        let (who, bucket) = (who.clone(), bucket.to_owned());
        let prefix = prefix.as_bytes().to_vec();
        let after = after.map(|(key, id)| (key.as_bytes().to_vec(), id.map(str::to_owned)));
        self.read(move |conn| {
            check_owner(conn, &who, &bucket)?;
            if limit == 0 {
                return Ok(Vec::new());
            }
            index::uploads::list(conn, bucket, prefix, after, limit)
        })
        .await
    }
}
