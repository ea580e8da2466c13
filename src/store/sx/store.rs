//! [`SxStore`], the [`ObjectStore`] the server holds: one cluster connection at a time,
//! replaced whole when SIGHUP brings new settings (hosts, port, admin key, TLS, volume
//! defaults).
//!
//! Every request takes the connection in use when it starts and keeps it to the end, so a
//! request never mixes two clusters' nodes, keys or block-hash salts. A new connection is
//! checked (node list, cluster identity, admin key) before it replaces the old one; if the
//! check fails the running connection stays.

use crate::store::Judged;
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::{Duration, SystemTime};

use super::access::path_of;
use super::cluster::Cluster;
use super::mapping::key_to_path;
use super::{SxConfig, SxReader, SxStaged};
use crate::config::Config;
use crate::store::{
    AbortedUpload, BackendPart, BackendState, BodyStream, BucketDocuments, BucketInfo,
    CompletedUpload, CopySource, Deleted, ListStart, ObjectInfo, ObjectMeta, ObjectReader,
    ObjectStore, ObjectSummary, PartInfo, Principal, StoreError, UploadInfo, User, VersionStart,
    VersionSummary, Versioning, WriteCondition,
};

/// The first wait before connecting again to a cluster that did not answer; it doubles up to
/// [`RECONNECT_MAX`]; once connected, the node list is read again every `sx_node_refresh`.
const RECONNECT_FIRST: Duration = Duration::from_secs(1);
const RECONNECT_MAX: Duration = Duration::from_secs(30);

pub struct SxStore {
    live: Arc<Live>,
}

struct Live {
    /// None while no node has answered since the start: requests then get 503.
    current: RwLock<Option<Cluster>>,
    /// The settings of the newest start or reload, used to connect while `current` is None.
    settings: RwLock<SxConfig>,
    /// One reload or reconnection at a time, so that the last SIGHUP's settings are the ones
    /// that stay.
    reloading: tokio::sync::Mutex<()>,
}

impl Live {
    fn current(&self) -> Option<Cluster> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn install(&self, cluster: Cluster) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(cluster);
    }

    fn settings(&self) -> SxConfig {
        self.settings
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl SxStore {
    /// Connects to the cluster: learns its node list and UUID with the admin key. The error is
    /// one line naming the hosts tried and why they failed (a `String`: the startup code
    /// that calls this reports its errors as text). For checks (`libres3 setup`): the
    /// server starts with [`SxStore::start`].
    pub async fn connect(cfg: SxConfig) -> Result<SxStore, String> {
        let cluster = Cluster::connect(cfg.clone())
            .await
            .map_err(|e| e.to_string())?;
        log::info!("{}", cluster.describe());
        Ok(SxStore::with(cfg, Some(cluster)))
    }

    /// The server's store: like [`SxStore::connect`], but when no listed node answers (SX
    /// still starting after a reboot, a network outage) it starts anyway, answers 503 until a
    /// node does, and keeps trying. Settings the cluster refuses (TLS files, a key that is
    /// not an admin's) still fail here. Either way the node list is then read again every
    /// `sx_node_refresh`, so that nodes added to the cluster are used.
    pub async fn start(cfg: SxConfig) -> Result<SxStore, String> {
        let store = match Cluster::connect(cfg.clone()).await {
            Ok(cluster) => {
                log::info!("{}", cluster.describe());
                SxStore::with(cfg, Some(cluster))
            }
            Err(e) if e.is_unreachable() => {
                log::warn!(
                    "{e}; starting anyway: S3 requests get 503 ServiceUnavailable until a node \
                     answers (trying again in {} s, then up to every {} s)",
                    RECONNECT_FIRST.as_secs(),
                    RECONNECT_MAX.as_secs()
                );
                SxStore::with(cfg, None)
            }
            Err(e) => return Err(e.to_string()),
        };
        actix_web::rt::spawn(maintain(Arc::downgrade(&store.live)));
        Ok(store)
    }

    fn with(cfg: SxConfig, cluster: Option<Cluster>) -> SxStore {
        SxStore {
            live: Arc::new(Live {
                current: RwLock::new(cluster),
                settings: RwLock::new(cfg),
                reloading: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The connection a request starts with.
    pub(super) fn cluster(&self) -> Result<Cluster, StoreError> {
        self.live.current().ok_or_else(|| {
            let cfg = self.live.settings();
            StoreError::Unavailable(format!(
                "no SX node has answered since the start ({} port {}); retrying",
                cfg.hosts.join(", "),
                cfg.port
            ))
        })
    }
}

/// Connects while no node has answered, then keeps the node list fresh; ends with the store.
async fn maintain(store: Weak<Live>) {
    let mut wait = match store.upgrade() {
        Some(live) if live.current().is_some() => live.settings().node_refresh,
        Some(_) => RECONNECT_FIRST,
        None => return,
    };
    let mut attempts = 0u32;
    loop {
        actix_web::rt::time::sleep(wait).await;
        let Some(live) = store.upgrade() else {
            return;
        };
        if let Some(cluster) = live.current() {
            wait = live.settings().node_refresh;
            if let Err(e) = cluster.refresh_nodes().await {
                log::debug!("SX node list not refreshed: {e}");
            }
            continue;
        }
        let _one_at_a_time = live.reloading.lock().await;
        if live.current().is_some() {
            continue; // a reload connected meanwhile
        }
        attempts += 1;
        match Cluster::connect(live.settings()).await {
            Ok(cluster) => {
                log::info!(
                    "connected after {attempts} more attempt(s): {}",
                    cluster.describe()
                );
                live.install(cluster);
                wait = live.settings().node_refresh;
            }
            Err(e) => {
                wait = (wait * 2).min(RECONNECT_MAX);
                log::warn!(
                    "{e}; S3 requests get 503; trying again in {} s",
                    wait.as_secs()
                );
            }
        }
    }
}

impl ObjectStore for SxStore {
    type Staged = SxStaged;
    type Reader = SxReader;

    /// Connects anew with the file's settings, even unchanged ones: a replaced CA file or a
    /// node that moved is then picked up too.
    async fn reload(&self, config: &Config) -> Result<Option<String>, String> {
        let cfg = SxConfig::from_config(config)?;
        let _one_at_a_time = self.live.reloading.lock().await;
        *self
            .live
            .settings
            .write()
            .unwrap_or_else(PoisonError::into_inner) = cfg.clone();
        let fresh = Cluster::connect(cfg).await.map_err(|e| e.to_string())?;
        let summary = fresh.describe();
        self.live.install(fresh);
        Ok(Some(summary))
    }

    async fn backend_state(&self) -> BackendState {
        match self.live.current() {
            Some(cluster) => cluster.backend_state(),
            // Not one answer yet: each listed host, required and down.
            None => BackendState {
                parts: self
                    .live
                    .settings()
                    .hosts
                    .into_iter()
                    .map(|host| BackendPart {
                        required: true,
                        error: Some("no answer since the start".into()),
                        ..BackendPart::new("node", host, Some(false))
                    })
                    .collect(),
            },
        }
    }

    async fn user_by_access_key(&self, access_key: &str) -> Result<Option<User>, StoreError> {
        self.cluster()?.user_by_access_key(access_key).await
    }

    async fn list_buckets(&self, who: &Principal) -> Result<Vec<BucketInfo>, StoreError> {
        self.cluster()?.list_buckets(who).await
    }

    async fn create_bucket(&self, who: &Principal, bucket: &str) -> Result<(), StoreError> {
        self.cluster()?.create_bucket(who, bucket).await
    }

    async fn bucket_info(&self, who: &Principal, bucket: &str) -> Result<BucketInfo, StoreError> {
        self.cluster()?.bucket_info(who, bucket).await
    }

    async fn delete_bucket(&self, who: &Principal, bucket: &str) -> Result<(), StoreError> {
        self.cluster()?.delete_bucket(who, bucket).await
    }

    async fn stage(
        &self,
        who: &Principal,
        bucket: &str,
        body: BodyStream,
        size: Option<u64>,
    ) -> Result<SxStaged, StoreError> {
        let cluster = self.cluster()?;
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
        versioning: Versioning,
    ) -> Result<ObjectInfo, StoreError> {
        let cluster = data.cluster.clone();
        let vol = cluster.data_volume(who, bucket).await?;
        path_of(key)?;
        // The object may take the space of its staged copy (issue 14 item 7).
        data.remove_hidden_copy().await;
        let segments = data.segments();
        cluster
            .write_in_bucket(
                &vol, key, data.size, segments, &meta, &condition, versioning,
            )
            .await
    }

    async fn open_object(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<SxReader, StoreError> {
        let cluster = self.cluster()?;
        let vol = cluster.data_volume(who, bucket).await?;
        cluster.open_version(&vol, key, version_id).await
    }

    async fn delete_object(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        versioning: Versioning,
    ) -> Result<Deleted, StoreError> {
        let cluster = self.cluster()?;
        let vol = cluster.data_volume(who, bucket).await?;
        if versioning != Versioning::Unversioned {
            return cluster.add_delete_marker(&vol, key, versioning).await;
        }
        if let Some(path) = key_to_path(key) {
            cluster.delete_path(&vol, &path).await?;
        }
        // A key SX cannot hold was never stored.
        Ok(Deleted {
            version_id: None,
            delete_marker: false,
        })
    }

    async fn delete_version(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        version_id: &str,
        if_meta: Option<&ObjectMeta>,
    ) -> Result<Deleted, StoreError> {
        if let Some(wanted) = if_meta {
            // SX deletes unconditionally: the version is read again just before, which leaves
            // one request's window to a change made through another gateway (README, Limits).
            match self.open_object(who, bucket, key, Some(version_id)).await {
                Ok(reader) if reader.info().meta != *wanted => {
                    return Err(StoreError::SourceChanged)
                }
                Ok(_)
                | Err(
                    StoreError::NoSuchKey
                    | StoreError::NoSuchVersion
                    | StoreError::DeleteMarker { .. },
                ) => {}
                Err(e) => return Err(e),
            }
        }
        let cluster = self.cluster()?;
        let vol = cluster.data_volume(who, bucket).await?;
        cluster.delete_version(&vol, key, version_id).await
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
        let cluster = self.cluster()?;
        let vol = cluster.data_volume(who, bucket).await?;
        cluster
            .update_meta(&vol, key, version_id, meta, if_meta)
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
        let cluster = self.cluster()?;
        let vol = cluster.data_volume(who, bucket).await?;
        cluster
            .list_versions(&vol, prefix, start, limit, header)
            .await
    }

    async fn delete_object_if_etag(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        etag: &str,
    ) -> Result<(), StoreError> {
        let cluster = self.cluster()?;
        let vol = cluster.data_volume(who, bucket).await?;
        let path = key_to_path(key).ok_or(StoreError::NoSuchKey)?;
        cluster.delete_path_if_etag(&vol, &path, etag).await
    }

    /// Not atomic across gateways (SX has no conditional delete): the check and the delete
    /// are serialised within this gateway only; see README "Lifecycle".
    async fn delete_object_if_unchanged(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        judged: &Judged,
        versioning: Versioning,
    ) -> Result<Deleted, StoreError> {
        if versioning != Versioning::Unversioned {
            // Versioned SX keys keep their markers elsewhere (branch `sxver`): check, then
            // delete through the versioned path.
            let info = match self.open_object(who, bucket, key, None).await {
                Ok(reader) => crate::store::ObjectReader::info(&reader).clone(),
                Err(StoreError::DeleteMarker { .. }) => return Err(StoreError::NoSuchKey),
                Err(e) => return Err(e),
            };
            if info.meta.etag != judged.etag || info.last_modified != judged.last_modified {
                return Err(StoreError::PreconditionFailed);
            }
            return self.delete_object(who, bucket, key, versioning).await;
        }
        let cluster = self.cluster()?;
        let vol = cluster.data_volume(who, bucket).await?;
        let path = key_to_path(key).ok_or(StoreError::NoSuchKey)?;
        cluster
            .delete_path_if_unchanged(&vol, &path, judged)
            .await?;
        Ok(Deleted {
            version_id: None,
            delete_marker: false,
        })
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
        let cluster = self.cluster()?;
        let vol = cluster.data_volume(who, bucket).await?;
        cluster.list_keys(&vol, prefix, start, limit, header).await
    }

    async fn create_multipart(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        meta: ObjectMeta,
    ) -> Result<String, StoreError> {
        let cluster = self.cluster()?;
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
        checksum: Option<String>,
    ) -> Result<PartInfo, StoreError> {
        let cluster = data.cluster.clone();
        let vol = cluster.data_volume(who, bucket).await?;
        cluster
            .commit_part(&vol, key, upload_id, part_number, data, etag, checksum)
            .await
    }

    async fn upload(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<UploadInfo, StoreError> {
        let cluster = self.cluster()?;
        let vol = cluster.data_volume(who, bucket).await?;
        cluster.upload(&vol, key, upload_id).await
    }

    async fn list_parts(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(UploadInfo, Vec<PartInfo>), StoreError> {
        let cluster = self.cluster()?;
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
        versioning: Versioning,
    ) -> Result<ObjectInfo, StoreError> {
        let cluster = self.cluster()?;
        let vol = cluster.data_volume(who, bucket).await?;
        cluster
            .complete_multipart(&vol, key, upload_id, parts, meta, condition, versioning)
            .await
    }

    async fn completed_upload(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<CompletedUpload>, StoreError> {
        let cluster = self.cluster()?;
        let vol = cluster.data_volume(who, bucket).await?;
        cluster.completed_upload(&vol, key, upload_id).await
    }

    async fn abort_multipart(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), StoreError> {
        let cluster = self.cluster()?;
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
        versioning: Versioning,
    ) -> Result<ObjectInfo, StoreError> {
        self.cluster()?
            .copy_from_hashes(
                who, source, dst_bucket, dst_key, meta, condition, versioning,
            )
            .await
    }

    async fn bucket_documents(&self, bucket: &str) -> Result<BucketDocuments, StoreError> {
        self.cluster()?.bucket_documents(bucket).await
    }

    fn counts_as_owner(&self, who: &Principal, owner: &str) -> bool {
        self.cluster()
            .is_ok_and(|c| c.is_admin(who) || c.sx_user(who).is_ok_and(|name| name == owner))
    }

    async fn put_bucket_document(
        &self,
        who: &Principal,
        bucket: &str,
        name: &str,
        document: Option<String>,
    ) -> Result<(), StoreError> {
        self.cluster()?
            .put_bucket_document(who, bucket, name, document)
            .await
    }

    async fn all_buckets(&self) -> Result<Vec<BucketInfo>, StoreError> {
        let cluster = self.cluster()?;
        cluster.list_buckets(&cluster.admin_principal()).await
    }

    async fn try_lease(
        &self,
        bucket: &str,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError> {
        self.cluster()?.try_lease(bucket, name, holder, ttl).await
    }

    async fn abort_uploads_initiated_before(
        &self,
        cutoff: SystemTime,
        limit: usize,
    ) -> Result<Vec<AbortedUpload>, StoreError> {
        self.cluster()?
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
        let cluster = self.cluster()?;
        let vol = cluster.data_volume(who, bucket).await?;
        cluster
            .list_multipart_uploads(&vol, prefix, after, limit)
            .await
    }
}
