//! [`SxStore`], the [`ObjectStore`] the server holds: one cluster connection at a time,
//! replaced whole when SIGHUP brings new settings (hosts, port, admin key, TLS, volume
//! defaults).
//!
//! Every request takes the connection in use when it starts and keeps it to the end, so a
//! request never mixes two clusters' nodes, keys or block-hash salts. A new connection is
//! checked (node list, cluster identity, admin key) before it replaces the old one; if the
//! check fails the running connection stays.

use std::sync::{PoisonError, RwLock};
use std::time::SystemTime;

use super::access::path_of;
use super::cluster::Cluster;
use super::mapping::key_to_path;
use super::{SxConfig, SxReader, SxStaged};
use crate::config::Config;
use crate::store::{
    AbortedUpload, BackendState, BodyStream, BucketDocuments, BucketInfo, CopySource, ListStart,
    ObjectInfo, ObjectMeta, ObjectStore, ObjectSummary, PartInfo, Principal, StoreError,
    UploadInfo, User, WriteCondition,
};

pub struct SxStore {
    current: RwLock<Cluster>,
    /// One reload at a time, so that the last SIGHUP's settings are the ones that stay.
    reloading: tokio::sync::Mutex<()>,
}

impl SxStore {
    /// Connects to the cluster: learns its node list and UUID with the admin key. The error is
    /// one line naming the hosts tried and why they failed (a `String`: the startup code
    /// that calls this reports its errors as text).
    pub async fn connect(cfg: SxConfig) -> Result<SxStore, String> {
        let cluster = Cluster::connect(cfg).await.map_err(|e| e.to_string())?;
        log::info!("{}", cluster.describe());
        Ok(SxStore {
            current: RwLock::new(cluster),
            reloading: tokio::sync::Mutex::new(()),
        })
    }

    /// The connection a request starts with.
    pub(super) fn cluster(&self) -> Cluster {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl ObjectStore for SxStore {
    type Staged = SxStaged;
    type Reader = SxReader;

    /// Connects anew with the file's settings, even unchanged ones: a replaced CA file or a
    /// node that moved is then picked up too.
    async fn reload(&self, config: &Config) -> Result<Option<String>, String> {
        let cfg = SxConfig::from_config(config)?;
        let _one_at_a_time = self.reloading.lock().await;
        let fresh = Cluster::connect(cfg).await.map_err(|e| e.to_string())?;
        let summary = fresh.describe();
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(Some(summary))
    }

    async fn backend_state(&self) -> BackendState {
        self.cluster().backend_state()
    }

    async fn user_by_access_key(&self, access_key: &str) -> Result<Option<User>, StoreError> {
        self.cluster().user_by_access_key(access_key).await
    }

    async fn list_buckets(&self, who: &Principal) -> Result<Vec<BucketInfo>, StoreError> {
        self.cluster().list_buckets(who).await
    }

    async fn create_bucket(&self, who: &Principal, bucket: &str) -> Result<(), StoreError> {
        self.cluster().create_bucket(who, bucket).await
    }

    async fn bucket_info(&self, who: &Principal, bucket: &str) -> Result<BucketInfo, StoreError> {
        self.cluster().bucket_info(who, bucket).await
    }

    async fn delete_bucket(&self, who: &Principal, bucket: &str) -> Result<(), StoreError> {
        self.cluster().delete_bucket(who, bucket).await
    }

    async fn stage(
        &self,
        who: &Principal,
        bucket: &str,
        body: BodyStream,
        size: Option<u64>,
    ) -> Result<SxStaged, StoreError> {
        let cluster = self.cluster();
        let vol = cluster.data_volume(who, bucket).await?;
        cluster.stage(vol, body, size).await
    }

    /// The object is written on the cluster its body was staged on.
    async fn commit_object(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        mut data: SxStaged,
        meta: ObjectMeta,
        condition: WriteCondition,
    ) -> Result<ObjectInfo, StoreError> {
        let cluster = data.cluster.clone();
        let vol = cluster.data_volume(who, bucket).await?;
        let path = path_of(key)?;
        // The object may take the space of its staged copy (issue 14 item 7).
        data.remove_hidden_copy().await;
        cluster
            .write_object(&vol, &path, data.size, data.segments(), &meta, &condition)
            .await?;
        Ok(ObjectInfo {
            key: key.to_owned(),
            size: data.size,
            last_modified: SystemTime::now(),
            meta,
        })
    }

    async fn open_object(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
    ) -> Result<SxReader, StoreError> {
        let cluster = self.cluster();
        let vol = cluster.data_volume(who, bucket).await?;
        cluster.open(&vol, key).await
    }

    async fn delete_object(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        let cluster = self.cluster();
        let vol = cluster.data_volume(who, bucket).await?;
        match key_to_path(key) {
            Some(path) => cluster.delete_path(&vol, &path).await,
            // A key SX cannot hold was never stored.
            None => Ok(()),
        }
    }

    async fn list_objects(
        &self,
        who: &Principal,
        bucket: &str,
        prefix: &str,
        start: &ListStart,
        limit: usize,
    ) -> Result<Vec<ObjectSummary>, StoreError> {
        let cluster = self.cluster();
        let vol = cluster.data_volume(who, bucket).await?;
        cluster.list_keys(&vol, prefix, start, limit).await
    }

    async fn create_multipart(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        meta: ObjectMeta,
    ) -> Result<String, StoreError> {
        let cluster = self.cluster();
        let vol = cluster.data_volume(who, bucket).await?;
        cluster.create_multipart(&vol, key, meta).await
    }

    /// The part is recorded on the cluster its body was staged on.
    async fn commit_part(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        data: SxStaged,
        etag: String,
    ) -> Result<PartInfo, StoreError> {
        let cluster = data.cluster.clone();
        let vol = cluster.data_volume(who, bucket).await?;
        cluster
            .commit_part(&vol, key, upload_id, part_number, data, etag)
            .await
    }

    async fn list_parts(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(UploadInfo, Vec<PartInfo>), StoreError> {
        let cluster = self.cluster();
        let vol = cluster.data_volume(who, bucket).await?;
        cluster.list_parts(&vol, key, upload_id).await
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
    ) -> Result<ObjectInfo, StoreError> {
        let cluster = self.cluster();
        let vol = cluster.data_volume(who, bucket).await?;
        cluster
            .complete_multipart(&vol, key, upload_id, parts, meta, condition)
            .await
    }

    async fn abort_multipart(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), StoreError> {
        let cluster = self.cluster();
        let vol = cluster.data_volume(who, bucket).await?;
        cluster.abort_multipart(&vol, key, upload_id).await
    }

    async fn copy_object(
        &self,
        who: &Principal,
        source: &CopySource<'_>,
        dst_bucket: &str,
        dst_key: &str,
        meta: ObjectMeta,
        condition: WriteCondition,
    ) -> Result<ObjectInfo, StoreError> {
        self.cluster()
            .copy_from_hashes(who, source, dst_bucket, dst_key, meta, condition)
            .await
    }

    async fn bucket_documents(&self, bucket: &str) -> Result<BucketDocuments, StoreError> {
        self.cluster().bucket_documents(bucket).await
    }

    async fn put_bucket_document(
        &self,
        who: &Principal,
        bucket: &str,
        name: &str,
        document: Option<String>,
    ) -> Result<(), StoreError> {
        self.cluster()
            .put_bucket_document(who, bucket, name, document)
            .await
    }

    async fn abort_uploads_initiated_before(
        &self,
        cutoff: SystemTime,
        limit: usize,
    ) -> Result<Vec<AbortedUpload>, StoreError> {
        self.cluster()
            .abort_uploads_initiated_before(cutoff, limit)
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
        let cluster = self.cluster();
        let vol = cluster.data_volume(who, bucket).await?;
        cluster
            .list_multipart_uploads(&vol, prefix, after, limit)
            .await
    }
}
