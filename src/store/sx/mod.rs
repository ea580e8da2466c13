//! The SX backend: an [`ObjectStore`] on a Skylable SX cluster (sx-protocol.md).
//!
//! - Bucket = volume; key = file path ([`mapping`] escapes what SX cannot hold).
//! - S3 access key = SX user name, S3 secret = that user's SX token, resolved with the admin
//!   token and cached; every request then runs as that user, so SX's own ACLs apply.
//! - Everything the gateway must remember lives on the cluster, under the reserved
//!   `.libres3/` directory of each volume: staged bodies (`tmp/`), multipart uploads (`up/`) and
//!   their parts (`parts/`). Several gateways in front of one cluster share no other state.
//! - `stage` keeps a body of up to [`PART_BYTES`] in memory, and the commit uploads it under
//!   its real name. A larger body is hashed block by block as it arrives, SX is sent only the
//!   blocks it lacks, in parts of [`PART_BYTES`] so memory stays bounded, and the staged body
//!   becomes a hidden file; the commit re-creates the file under its real name from the same
//!   block hashes (no data moves). Either way the S3 metadata and ETag go in the SX file
//!   meta. Multipart completion joins the parts' block lists where they line up.

pub mod auth;
pub mod client;
pub mod config;
mod live;
pub mod mapping;
pub mod proto;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::Method;
use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, StreamExt};

pub use self::config::SxConfig;
pub use self::live::SxStore;

use self::auth::Token;
use self::client::{Response, SxClient, SxError};
use self::mapping::{
    block_count, block_size, escaped_prefix, key_to_path, meta_from_sx, meta_to_sx, path_to_key,
    successor_of_prefix, url_encode, Listed, SxPath, ESC_DIR, RESERVED, RESERVED_END,
};
use self::proto::{CreateFile, CreateVolume, ExtendFile, HexMeta, Listing, Locate, Upload};
use super::{
    AbortedUpload, BodyError, BodyStream, BucketDocuments, BucketInfo, ByteRange, CopySource,
    DataStream, ListStart, ObjectInfo, ObjectMeta, ObjectReader, ObjectStore, ObjectSummary,
    PartInfo, Principal, SecretKey, Staged, StoreError, UploadInfo, User, WriteCondition,
};

/// Block data held in memory per upload before asking SX which blocks it lacks.
pub const PART_BYTES: u64 = 8 << 20;
/// Bodies up to this size are staged in memory (see [`SxStaged`]): no more than an upload
/// holds anyway while it waits for SX to say which blocks it lacks.
const HELD_BYTES: u64 = PART_BYTES;
/// Largest `.data` upload (SX `UPLOAD_CHUNK_SIZE`).
const UPLOAD_BATCH: u64 = 4 << 20;
/// Most blocks per `.data` download (SX `DOWNLOAD_MAX_BLOCKS`).
const DOWNLOAD_BLOCKS: usize = 30;
/// Block downloads in flight per object read.
const DOWNLOADS_IN_FLIGHT: usize = 4;
/// Block uploads in flight per object write.
const UPLOADS_IN_FLIGHT: usize = 4;
/// Hashes per create/extend request when re-creating a file from known blocks.
const HASHES_PER_REQUEST: usize = 8192;
/// Entries asked per listing request.
const LIST_PAGE: usize = 1000;
/// Multipart uploads: one record file each.
const UPLOADS_DIR: &str = ".libres3/up/";
/// Multipart parts: `PARTS_DIR<upload id>/<5-digit part number>`.
const PARTS_DIR: &str = ".libres3/parts/";
/// Staged bodies.
const TMP_DIR: &str = mapping::TMP_DIR;
/// Volume meta key holding the bucket's creation time (decimal Unix seconds).
const CREATED_KEY: &str = "libres3-created";
/// File meta key of a conditional write: a random id that tells the writer whether the file
/// SX holds after its flush is its own.
const WRITE_ID_KEY: &str = "libres3-wid";
/// Staged bodies older than this were left by a gateway that stopped before committing.
const STAGED_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Uploads older than this are removed when a new one starts.
const ABANDONED_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// Everything one request needs to talk to a volume as a user.
#[derive(Clone)]
struct Vol {
    token: Token,
    name: String,
    loc: Arc<Locate>,
    /// `loc` was located for this request, not taken from the cache.
    fresh: bool,
}

struct Inner {
    cfg: SxConfig,
    client: SxClient,
    /// SX user name -> token.
    users: moka::sync::Cache<String, Token>,
    /// Names SX did not know a moment ago (requests with a bad access key stay cheap).
    unknown_users: moka::sync::Cache<String, ()>,
    /// (user, volume) -> locate answer.
    volumes: moka::sync::Cache<(String, String), Arc<Locate>>,
    /// (volume, path) -> the lock its writes through this gateway take in turn (see
    /// [`Cluster::write_file`]).
    writing: moka::sync::Cache<(String, String), Arc<tokio::sync::Mutex<()>>>,
}

#[derive(Clone)]
struct Cluster {
    inner: Arc<Inner>,
}

/// How long a flush job runs before the volume's nodes are checked (see
/// [`Cluster::volume_node_down`]); then again at this interval while it runs.
const FLUSH_PATIENCE: Duration = Duration::from_secs(3);

/// How an SX flush job ends when a newer revision of the file was committed meanwhile.
const NEWER_COPY: &str = "Newer copies of this file already exist";

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn from_secs(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64)
}

fn random_hex(bytes: usize) -> Result<String, StoreError> {
    use ring::rand::SecureRandom;
    let mut buf = vec![0u8; bytes];
    ring::rand::SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| StoreError::Internal("no randomness".into()))?;
    Ok(mapping::hex(&buf))
}

/// An SX failure as S3 sees it; `not_found` says what a 404 means here.
fn store_error(e: SxError, not_found: StoreError) -> StoreError {
    match e {
        SxError::Unavailable(why) => StoreError::Unavailable(why),
        // Seen when a node fails mid-answer, e.g. a file create while a replica is down: the
        // answer cannot be used; the cluster may serve it again later.
        e @ SxError::Partial { .. } => StoreError::Unavailable(e.to_string()),
        // A job SX gave up on because a node it needed did not answer in time.
        SxError::Job(message) if message.contains("Cluster timeout") => {
            StoreError::Unavailable(format!("SX job failed: {message}"))
        }
        SxError::Status { status: 404, .. } => not_found,
        SxError::Status {
            status: 401 | 403, ..
        } => StoreError::AccessDenied,
        SxError::Status {
            status: 429,
            message,
        } => StoreError::Unavailable(message),
        // SX answers 413 when a volume's size or a user's quota would be exceeded.
        SxError::Status {
            status: 413,
            message,
        } => StoreError::QuotaExceeded(format!("SX: {message}")),
        SxError::Status {
            status: 507,
            message,
        } => StoreError::OutOfSpace(format!("SX: {message}")),
        other => StoreError::Internal(other.to_string()),
    }
}

/// A 404 about the volume rather than a file in it: "No such volume", or a node saying the
/// volume is not one of its own.
fn names_no_volume(resp: &Response) -> bool {
    resp.status == 404
        && serde_json::from_slice::<proto::ErrorBody>(&resp.body)
            .is_ok_and(|e| e.message.to_ascii_lowercase().contains("volume"))
}

fn internal(e: SxError) -> StoreError {
    store_error(e, StoreError::Internal("SX: not found".into()))
}

fn json_body<T: serde::Serialize>(value: &T) -> Bytes {
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}

fn body_error(message: &str) -> StoreError {
    StoreError::Body(BodyError(message.to_owned().into()))
}

impl Cluster {
    /// Connects to the cluster: learns its node list and UUID with the admin key. The error is
    /// one line naming the hosts tried and why they failed.
    pub async fn connect(cfg: SxConfig) -> Result<Cluster, String> {
        let client = SxClient::new(&cfg)?;
        let hosts = format!("{} port {}", cfg.hosts.join(", "), cfg.port);
        client
            .discover(&cfg.admin_token)
            .await
            .map_err(|e| match e {
                SxError::Status { status: 401, .. } => {
                    format!("SX cluster at {hosts}: secret_key is not a valid admin key (401)")
                }
                other => format!("SX cluster at {hosts}: {other}"),
            })?;
        if client.uuid().is_none() {
            return Err(format!(
                "SX cluster at {hosts}: the node did not send its SX-Cluster identity (is it an SX node?)"
            ));
        }
        let me: proto::SelfInfo = client
            .request(
                &client.nodes(),
                Method::GET,
                "/.self",
                Bytes::new(),
                &cfg.admin_token,
            )
            .await
            .and_then(Response::json)
            .map_err(|e| format!("SX cluster at {hosts}: {e}"))?;
        if !me.values().any(|u| u.admin) {
            return Err(format!(
                "SX cluster at {hosts}: secret_key is a key of a user who is not an admin"
            ));
        }
        Ok(Cluster {
            inner: Arc::new(Inner {
                cfg,
                client,
                users: moka::sync::Cache::builder()
                    .max_capacity(10_000)
                    .time_to_live(Duration::from_secs(60))
                    .build(),
                unknown_users: moka::sync::Cache::builder()
                    .max_capacity(10_000)
                    .time_to_live(Duration::from_secs(5))
                    .build(),
                volumes: moka::sync::Cache::builder()
                    .max_capacity(10_000)
                    .time_to_live(Duration::from_secs(30))
                    .build(),
                writing: moka::sync::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_idle(Duration::from_secs(600))
                    .build(),
            }),
        })
    }

    /// Which cluster this is, for the log.
    fn describe(&self) -> String {
        let cfg = &self.inner.cfg;
        let mut nodes = self.client().nodes();
        nodes.sort();
        format!(
            "SX cluster {} with nodes {} (port {}, {})",
            self.client().uuid().unwrap_or_default(),
            nodes.join(", "),
            cfg.port,
            if cfg.use_ssl { "HTTPS" } else { "HTTP" }
        )
    }

    fn client(&self) -> &SxClient {
        &self.inner.client
    }

    fn admin(&self) -> &Token {
        &self.inner.cfg.admin_token
    }

    /// The SX user a principal runs as.
    fn sx_user<'a>(&self, who: &'a Principal) -> Result<&'a str, StoreError> {
        match who {
            Principal::User(name) if *name == self.inner.cfg.admin_key_id => Ok("admin"),
            Principal::User(name) => Ok(name),
            Principal::Anonymous => Err(StoreError::AccessDenied),
        }
    }

    fn is_admin(&self, who: &Principal) -> bool {
        matches!(who, Principal::User(name) if *name == self.inner.cfg.admin_key_id)
    }

    /// A user's token (`GET /.users/<name>` with the admin key), cached.
    async fn user_token(&self, name: &str) -> Result<Option<Token>, StoreError> {
        if let Some(token) = self.inner.users.get(name) {
            return Ok(Some(token));
        }
        if name.len() < 2
            || name.len() > 64
            || name.starts_with('.')
            || name.contains('/')
            || self.inner.unknown_users.contains_key(name)
        {
            return Ok(None);
        }
        let path = format!("/.users/{}", url_encode(name, false));
        let resp = self
            .client()
            .request(
                &self.client().nodes(),
                Method::GET,
                &path,
                Bytes::new(),
                self.admin(),
            )
            .await
            .map_err(internal)?;
        if resp.status == 404 {
            self.inner.unknown_users.insert(name.to_owned(), ());
            return Ok(None);
        }
        let record: proto::UserRecord = resp.json().map_err(internal)?;
        let token = Token::from_parts(&record.user_id, &record.user_key)
            .map_err(|e| StoreError::Internal(format!("SX user {name}: {e}")))?;
        self.inner.users.insert(name.to_owned(), token.clone());
        Ok(Some(token))
    }

    async fn token_of(&self, who: &Principal) -> Result<Token, StoreError> {
        if self.is_admin(who) {
            return Ok(self.admin().clone());
        }
        let name = self.sx_user(who)?;
        self.user_token(name).await?.ok_or(StoreError::AccessDenied)
    }

    /// Locates a volume as `who` (cached): NoSuchBucket or AccessDenied when it cannot be used.
    async fn volume(&self, who: &Principal, bucket: &str) -> Result<Vol, StoreError> {
        let token = self.token_of(who).await?;
        let user = self.sx_user(who)?.to_owned();
        let key = (user, bucket.to_owned());
        let (loc, fresh) = match self.inner.volumes.get(&key) {
            Some(loc) => (loc, false),
            None => {
                let loc = Arc::new(self.locate(&token, bucket, None).await?);
                self.inner.volumes.insert(key, loc.clone());
                (loc, true)
            }
        };
        Ok(Vol {
            token,
            name: bucket.to_owned(),
            loc,
            fresh,
        })
    }

    /// Like [`Self::volume`], refusing volumes whose data SX clients filter (encryption,
    /// compression): their bytes would reach S3 clients scrambled.
    async fn data_volume(&self, who: &Principal, bucket: &str) -> Result<Vol, StoreError> {
        let vol = self.volume(who, bucket).await?;
        if let Some(filter) = vol
            .loc
            .volume_meta
            .as_ref()
            .filter(|m| m.contains(mapping::FILTER_KEY))
        {
            let name = mapping::filter_name(&filter.get(mapping::FILTER_KEY).unwrap_or_default());
            log::warn!(
                "bucket {bucket}: the SX volume uses the client-side filter {name}; S3 access \
                 to its objects is refused"
            );
            return Err(StoreError::Unsupported(format!(
                "The SX volume {bucket} uses the SX client-side filter {name}, which LibreS3 \
                 does not implement: its objects can only be read and written with SX clients \
                 (sxcp, sxls)."
            )));
        }
        Ok(vol)
    }

    async fn locate(
        &self,
        token: &Token,
        bucket: &str,
        size: Option<u64>,
    ) -> Result<Locate, StoreError> {
        if bucket.is_empty() || bucket.starts_with('.') || bucket.contains('/') {
            return Err(StoreError::NoSuchBucket);
        }
        let mut path = format!("/{}?o=locate&volumeMeta", url_encode(bucket, false));
        if let Some(size) = size {
            path.push_str(&format!("&size={size}"));
        }
        self.client()
            .request(
                &self.client().nodes(),
                Method::GET,
                &path,
                Bytes::new(),
                token,
            )
            .await
            .and_then(Response::json)
            .map_err(|e| store_error(e, StoreError::NoSuchBucket))
    }

    /// A request to the volume's nodes. When none answers, or they no longer hold the volume
    /// (it was moved by a rebalance, or deleted and created again elsewhere, after its
    /// location was cached), the volume is located again once.
    async fn vol_request(
        &self,
        vol: &Vol,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> Result<Response, SxError> {
        let first = self
            .client()
            .request(
                &vol.loc.node_list,
                method.clone(),
                path,
                body.clone(),
                &vol.token,
            )
            .await;
        // A file request (GET, PUT, DELETE of /<vol>/<path>) sent to a node that no longer
        // holds the volume gets a bare 404 "Not Found" from real SX, as for a missing file: a
        // 404 with a location from the cache is checked against a fresh one too (one locate
        // per such 404; none when the location was just found).
        let stale = match &first {
            Err(SxError::Unavailable(_)) => true,
            Ok(resp) => names_no_volume(resp) || (resp.status == 404 && !vol.fresh),
            Err(_) => false,
        };
        if !stale {
            return first;
        }
        // SX lists a volume's nodes in random order: compare them as sets.
        let sorted = |nodes: &[String]| {
            let mut nodes = nodes.to_vec();
            nodes.sort();
            nodes
        };
        let fresh = match self.locate(&vol.token, &vol.name, None).await {
            Ok(loc) if sorted(&loc.node_list) != sorted(&vol.loc.node_list) => loc,
            _ => return first,
        };
        self.inner.volumes.invalidate_all();
        log::info!(
            "SX volume {} is now on {}; asking there",
            vol.name,
            fresh.node_list.join(", ")
        );
        self.client()
            .request(&fresh.node_list, method, path, body, &vol.token)
            .await
    }

    fn file_url(vol: &Vol, path: &SxPath) -> String {
        format!("/{}/{}", url_encode(&vol.name, false), path.url())
    }

    /// Starts an SX job on the volume and waits for its end.
    async fn vol_job(
        &self,
        vol: &Vol,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> Result<(), SxError> {
        let resp = self.vol_request(vol, method, path, body).await?.ok()?;
        self.client().wait_job(resp, &vol.token).await
    }

    /// Sends one create (first) or extend (later) request; returns the blocks SX lacks.
    #[allow(clippy::too_many_arguments)]
    async fn create_or_extend(
        &self,
        vol: &Vol,
        path: &SxPath,
        session: &mut Option<(String, String)>,
        size: u64,
        seq: u64,
        hashes: &[String],
        meta: Option<&HexMeta>,
    ) -> Result<Upload, StoreError> {
        let resp = match session {
            None => {
                let body = json_body(&CreateFile {
                    file_size: size,
                    file_data: hashes,
                    file_meta: meta,
                });
                self.vol_request(vol, Method::PUT, &Self::file_url(vol, path), body)
                    .await
            }
            Some((token, node)) => {
                let body = json_body(&ExtendFile {
                    extend_seq: seq,
                    file_data: hashes,
                });
                self.client()
                    .request(
                        std::slice::from_ref(node),
                        Method::PUT,
                        &format!("/.upload/{token}"),
                        body,
                        &vol.token,
                    )
                    .await
            }
        };
        let resp = resp.map_err(|e| store_error(e, StoreError::NoSuchBucket))?;
        let node = resp.node.clone();
        let upload: Upload = resp
            .json()
            .map_err(|e| store_error(e, StoreError::NoSuchBucket))?;
        if session.is_none() {
            *session = Some((upload.upload_token.clone(), node));
        }
        Ok(upload)
    }

    /// Makes an upload visible: flush on the token's node, then wait for the job.
    async fn flush(&self, vol: &Vol, session: &(String, String)) -> Result<(), StoreError> {
        let (token, node) = session;
        let resp = self
            .client()
            .request(
                std::slice::from_ref(node),
                Method::PUT,
                &format!("/.upload/{token}"),
                Bytes::new(),
                &vol.token,
            )
            .await
            .and_then(Response::ok)
            .map_err(internal)?;
        let job = std::pin::pin!(self.client().wait_job(resp, &vol.token));
        let down = std::pin::pin!(self.volume_node_down(vol));
        let ended = match futures_util::future::select(job, down).await {
            futures_util::future::Either::Left((ended, _)) => ended,
            futures_util::future::Either::Right((node, _)) => {
                log::warn!(
                    "SX node {node} of volume {} does not answer: the flush cannot complete",
                    vol.name
                );
                return Err(StoreError::Unavailable(format!(
                    "SX node {node} of volume {} is down; SX cannot complete writes to the \
                     volume until it is back",
                    vol.name
                )));
            }
        };
        match ended {
            // Another writer's flush of the same name landed first with a newer revision: S3
            // is last-writer-wins, and this write happened (and was overwritten at once).
            Err(SxError::Job(message)) if message.contains(NEWER_COPY) => {
                log::debug!("SX: {message}: a concurrent write of the same name won");
                Ok(())
            }
            other => other.map_err(internal),
        }
    }

    /// Resolves, with its address, once a node of the volume is seen down; never while they
    /// all answer. A flush that needs a node which is down does not fail on its own until
    /// SX's cluster timeout (a minute, seen with an empty file on a replica-2 volume), so a
    /// flush still running after [`FLUSH_PATIENCE`] looks at the volume's nodes.
    async fn volume_node_down(&self, vol: &Vol) -> String {
        actix_web::rt::time::sleep(FLUSH_PATIENCE).await;
        loop {
            for node in vol.loc.node_list.iter() {
                let asked = self
                    .client()
                    .request(
                        std::slice::from_ref(node),
                        Method::GET,
                        "/?nodeList",
                        Bytes::new(),
                        self.admin(),
                    )
                    .await;
                if let Err(SxError::Unavailable(_)) = asked {
                    return node.clone();
                }
            }
            actix_web::rt::time::sleep(FLUSH_PATIENCE).await;
        }
    }

    /// Sends the blocks SX asked for, grouped per node in batches of at most 4 MiB.
    async fn send_blocks(
        &self,
        vol: &Vol,
        upload_token: &str,
        bs: u64,
        missing: &std::collections::BTreeMap<String, Vec<String>>,
        data: &HashMap<&str, Bytes>,
    ) -> Result<(), StoreError> {
        let mut per_node: HashMap<&[String], Vec<Bytes>> = HashMap::new();
        for (hash, nodes) in missing {
            let block = data.get(hash.as_str()).ok_or_else(|| {
                StoreError::Internal(format!("SX no longer holds block {hash} of a staged body"))
            })?;
            if nodes.is_empty() {
                return Err(StoreError::Internal(format!(
                    "SX named no node for block {hash}"
                )));
            }
            per_node
                .entry(nodes.as_slice())
                .or_default()
                .push(block.clone());
        }
        let per_batch = (UPLOAD_BATCH / bs).max(1) as usize;
        let mut batches = Vec::new();
        for (nodes, blocks) in per_node {
            for chunk in blocks.chunks(per_batch) {
                let mut body = BytesMut::with_capacity(chunk.len() * bs as usize);
                for block in chunk {
                    body.extend_from_slice(block);
                }
                batches.push((nodes.to_vec(), body.freeze()));
            }
        }
        let path = format!("/.data/{bs}/{upload_token}");
        let mut sent = stream::iter(batches.into_iter().map(|(nodes, body)| {
            let path = &path;
            async move {
                self.client()
                    .request(&nodes, Method::PUT, path, body, &vol.token)
                    .await
                    .and_then(Response::ok)
                    .map(|_| ())
            }
        }))
        .buffer_unordered(UPLOADS_IN_FLIGHT);
        while let Some(result) = sent.next().await {
            result.map_err(internal)?;
        }
        Ok(())
    }

    /// Writes a new SX file of `size` bytes at `path` from segments: data is cut into blocks
    /// and hashed as it arrives, known block hashes are used as they are; only the blocks SX
    /// lacks are sent, in parts so memory stays bounded. Returns the block size and hashes.
    ///
    /// Writes of one name through this gateway go one at a time. SX 2.3 races when flushes of
    /// one file overlap: besides refusing the older revision ("Newer copies of this file
    /// already exist", which is fine), its job manager can hit a foreign-key failure on the
    /// file meta and retry the flush job every second for over a minute before dropping it
    /// (seen with sixteen concurrent writers of one key on two nodes), leaving the S3 client
    /// without an answer. In turn, each write takes one flush (tens to hundreds of ms).
    #[allow(clippy::too_many_arguments)]
    async fn write_file(
        &self,
        vol: &Vol,
        path: &SxPath,
        size: u64,
        segments: Vec<Segment>,
        meta: Option<&HexMeta>,
        recheck: Option<&WriteCondition>,
    ) -> Result<(u64, Vec<String>), StoreError> {
        let lock = self
            .inner
            .writing
            .get_with((vol.name.clone(), path.as_str().to_owned()), || {
                Arc::new(tokio::sync::Mutex::new(()))
            });
        let _turn = lock.lock().await;
        self.write_file_now(vol, path, size, segments, meta, recheck)
            .await
    }

    async fn write_file_now(
        &self,
        vol: &Vol,
        path: &SxPath,
        size: u64,
        segments: Vec<Segment>,
        meta: Option<&HexMeta>,
        recheck: Option<&WriteCondition>,
    ) -> Result<(u64, Vec<String>), StoreError> {
        let located = self.locate(&vol.token, &vol.name, Some(size)).await?;
        let bs = located
            .block_size
            .unwrap_or_else(|| block_size(size))
            .max(1);
        let uuid = self
            .client()
            .uuid()
            .ok_or_else(|| StoreError::Internal("SX cluster UUID unknown".into()))?;
        let mut w = PartWriter {
            store: self,
            vol,
            path,
            size,
            bs,
            meta,
            session: None,
            all: Vec::with_capacity(block_count(size, bs) as usize),
            part: Vec::new(),
            held: 0,
        };
        let mut block = BytesMut::with_capacity(bs as usize);
        let mut total = 0u64;
        for segment in segments {
            match segment {
                Segment::Hashes(hashes, len) => {
                    if !block.is_empty() {
                        return Err(StoreError::Internal("unaligned block list".into()));
                    }
                    for hash in hashes {
                        w.push(hash, None).await?;
                    }
                    total += len;
                }
                Segment::Data(mut body, len) => {
                    let mut received = 0u64;
                    while let Some(chunk) = body.next().await {
                        let mut chunk = chunk.map_err(StoreError::Body)?;
                        received += chunk.len() as u64;
                        if received > len {
                            return Err(body_error("the body is longer than its declared length"));
                        }
                        while !chunk.is_empty() {
                            let take = (bs as usize - block.len()).min(chunk.len());
                            block.extend_from_slice(&chunk.split_to(take));
                            if block.len() == bs as usize {
                                let full = block.split().freeze();
                                w.push(mapping::block_hash(&uuid, &full), Some(full))
                                    .await?;
                            }
                        }
                    }
                    if received != len {
                        return Err(body_error("the body is shorter than its declared length"));
                    }
                    total += len;
                }
            }
        }
        if !block.is_empty() {
            block.resize(bs as usize, 0);
            let last = block.split().freeze();
            w.push(mapping::block_hash(&uuid, &last), Some(last))
                .await?;
        }
        if total != size || w.all.len() + w.part.len() != block_count(size, bs) as usize {
            return Err(StoreError::Internal(format!(
                "{} blocks of {bs} bytes for a file of {size} bytes",
                w.all.len() + w.part.len()
            )));
        }
        w.send().await?;
        let session = w.session.take();
        let all = std::mem::take(&mut w.all);
        if let Some(condition) = recheck {
            // As late as possible: the flush below is what makes the write visible. If the
            // condition no longer holds, the upload is dropped unflushed (SX forgets it).
            self.check_condition(vol, path, condition).await?;
        }
        match &session {
            Some(session) => self.flush(vol, session).await?,
            None => return Err(StoreError::Internal("no SX upload was started".into())),
        }
        Ok((bs, all))
    }

    /// Creates a file from blocks SX already holds (commit, parts, multipart completion).
    async fn create_from_hashes(
        &self,
        vol: &Vol,
        path: &SxPath,
        size: u64,
        hashes: &[String],
        meta: Option<&HexMeta>,
    ) -> Result<(), StoreError> {
        self.write_file(
            vol,
            path,
            size,
            vec![Segment::Hashes(hashes.to_vec(), size)],
            meta,
            None,
        )
        .await
        .map(|_| ())
    }

    /// Writes an object's file, with its S3 metadata, under a write condition.
    ///
    /// SX has no compare-and-swap, so the condition is checked three times: before the upload
    /// starts, again just before the flush that makes the file visible, and after the flush,
    /// through a random write id stored in the file meta: a write that another writer replaced
    /// in the meantime reports PreconditionFailed (the other write is the one visible). Two
    /// conditional writers whose flushes overlap (each checked before the other's flush
    /// ended, and each re-read its own write id before the other's flush) can both succeed;
    /// the README documents that window.
    async fn write_object(
        &self,
        vol: &Vol,
        path: &SxPath,
        size: u64,
        segments: Vec<Segment>,
        meta: &ObjectMeta,
        condition: &WriteCondition,
    ) -> Result<(), StoreError> {
        let mut sx_meta = meta_to_sx(meta);
        if *condition == WriteCondition::None {
            self.write_file(vol, path, size, segments, Some(&sx_meta), None)
                .await?;
            return Ok(());
        }
        let write_id = random_hex(16)?;
        sx_meta.insert(WRITE_ID_KEY, write_id.as_bytes());
        self.check_condition(vol, path, condition).await?;
        self.write_file(vol, path, size, segments, Some(&sx_meta), Some(condition))
            .await?;
        match self.file_meta(vol, path).await {
            Ok(m) if m.get(WRITE_ID_KEY).as_deref() == Some(write_id.as_bytes()) => Ok(()),
            Ok(_) | Err(StoreError::NoSuchKey) => {
                log::info!(
                    "SX: conditional write of {} in {} was replaced by a concurrent write",
                    path.as_str(),
                    vol.name
                );
                Err(StoreError::PreconditionFailed)
            }
            Err(e) => Err(e),
        }
    }

    /// Deletes a file; Ok when it does not exist.
    async fn delete_path(&self, vol: &Vol, path: &SxPath) -> Result<(), StoreError> {
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
    async fn delete_tree(&self, vol: &Vol, dir: &str) -> Result<(), StoreError> {
        let path = format!(
            "/{}?filter={}&recursive",
            url_encode(&vol.name, false),
            url_encode(dir, true)
        );
        match self.vol_job(vol, Method::DELETE, &path, Bytes::new()).await {
            Ok(()) | Err(SxError::Status { status: 404, .. }) => Ok(()),
            Err(e) => Err(internal(e)),
        }
    }

    /// A file's block list (`GET /<vol>/<path>`).
    async fn file(&self, vol: &Vol, path: &SxPath) -> Result<proto::File, StoreError> {
        self.vol_request(vol, Method::GET, &Self::file_url(vol, path), Bytes::new())
            .await
            .and_then(Response::json)
            .map_err(|e| store_error(e, StoreError::NoSuchKey))
    }

    async fn file_meta(&self, vol: &Vol, path: &SxPath) -> Result<HexMeta, StoreError> {
        self.file_meta_at(vol, path, "").await
    }

    /// The custom meta of one revision of a file (`rev` empty: the newest).
    async fn file_meta_at(
        &self,
        vol: &Vol,
        path: &SxPath,
        rev: &str,
    ) -> Result<HexMeta, StoreError> {
        let mut url = format!("{}?fileMeta", Self::file_url(vol, path));
        if !rev.is_empty() {
            url.push_str("&rev=");
            url.push_str(&url_encode(rev, false));
        }
        self.vol_request(vol, Method::GET, &url, Bytes::new())
            .await
            .and_then(Response::json::<proto::FileMeta>)
            .map(|m| m.file_meta)
            .map_err(|e| store_error(e, StoreError::NoSuchKey))
    }

    /// A file's block list and the meta of that same revision. The two are separate requests:
    /// asking for the meta of the revision the block list came from keeps a concurrent
    /// overwrite from pairing one version's data with another's ETag. A revision dropped in
    /// between (the overwrite won) is read again, a few times.
    async fn file_with_meta(
        &self,
        vol: &Vol,
        path: &SxPath,
    ) -> Result<(proto::File, HexMeta), StoreError> {
        let mut attempt = 1;
        loop {
            let file = self.file(vol, path).await?;
            match self.file_meta_at(vol, path, &file.file_revision).await {
                Ok(meta) => return Ok((file, meta)),
                Err(StoreError::NoSuchKey) if attempt < 4 => attempt += 1,
                Err(StoreError::NoSuchKey) => return Err(StoreError::SourceChanged),
                Err(e) => return Err(e),
            }
        }
    }

    /// One page of a recursive listing with meta, from names >= `after`.
    async fn list_page(&self, vol: &Vol, after: &str, limit: usize) -> Result<Listing, StoreError> {
        let mut url = format!(
            "/{}?recursive&meta&limit={limit}",
            url_encode(&vol.name, false)
        );
        // A name SX could not hold (control bytes) is cut before them: a smaller bound that
        // SX accepts; the caller skips what comes before its own bound.
        let after = match after.find(|c: char| c.is_control()) {
            Some(cut) => &after[..cut],
            None => after,
        };
        if !after.is_empty() {
            url.push_str("&after=");
            url.push_str(&url_encode(after, false));
        }
        self.vol_request(vol, Method::GET, &url, Bytes::new())
            .await
            .and_then(Response::json)
            .map_err(|e| store_error(e, StoreError::NoSuchBucket))
    }

    /// Visits the entries of a recursive listing in name order (names without their leading
    /// `/`), from `from` (inclusive), until the visitor stops or `want` entries were taken.
    async fn scan(
        &self,
        vol: &Vol,
        from: String,
        want: usize,
        mut visit: impl FnMut(&str, &proto::ListEntry) -> Scan,
    ) -> Result<(), StoreError> {
        let mut after = from;
        // `after` is inclusive: the name a page ended on comes again first.
        let mut seen: Option<String> = None;
        let mut taken = 0usize;
        loop {
            // Small listings ask for little; one more than wanted covers the repeated name.
            let ask = want.saturating_sub(taken).saturating_add(2).min(LIST_PAGE);
            let page = self.list_page(vol, &after, ask).await?;
            let full = page.file_list.len() >= ask;
            let mut jump = None;
            let mut last = None;
            for (name, entry) in &page.file_list {
                let name = name.strip_prefix('/').unwrap_or(name);
                if seen.as_deref() == Some(name) {
                    continue;
                }
                last = Some(name);
                match visit(name, entry) {
                    Scan::Take => {
                        taken += 1;
                        if taken >= want {
                            return Ok(());
                        }
                    }
                    Scan::Skip => {}
                    Scan::Jump(to) => {
                        jump = Some(to);
                        break;
                    }
                    Scan::Stop => return Ok(()),
                }
            }
            match (jump, last) {
                (Some(to), _) if to.as_str() > after.as_str() => {
                    after = to;
                    seen = None;
                }
                (None, Some(last)) if full => {
                    after = last.to_owned();
                    seen = Some(after.clone());
                }
                _ => return Ok(()),
            }
        }
    }
}

/// What a new SX file is made of.
enum Segment {
    /// Blocks SX already holds, covering the given number of bytes.
    Hashes(Vec<String>, u64),
    /// Bytes to cut into blocks, of the given length.
    Data(BodyStream, u64),
}

/// The part of an upload not yet announced to SX: hashes, with the data of the blocks we have.
struct PartWriter<'a> {
    store: &'a Cluster,
    vol: &'a Vol,
    path: &'a SxPath,
    size: u64,
    bs: u64,
    meta: Option<&'a HexMeta>,
    /// Upload token and the node that issued it.
    session: Option<(String, String)>,
    all: Vec<String>,
    part: Vec<(String, Option<Bytes>)>,
    held: u64,
}

impl PartWriter<'_> {
    async fn push(&mut self, hash: String, data: Option<Bytes>) -> Result<(), StoreError> {
        if data.is_some() {
            self.held += self.bs;
        }
        self.part.push((hash, data));
        if self.held >= PART_BYTES || self.part.len() >= HASHES_PER_REQUEST {
            self.send().await?;
        }
        Ok(())
    }

    /// Announces the held blocks (create, then extend) and sends those SX lacks.
    async fn send(&mut self) -> Result<(), StoreError> {
        if self.part.is_empty() && self.session.is_some() {
            return Ok(());
        }
        let hashes: Vec<String> = self.part.iter().map(|(h, _)| h.clone()).collect();
        let seq = self.all.len() as u64;
        let upload = self
            .store
            .create_or_extend(
                self.vol,
                self.path,
                &mut self.session,
                self.size,
                seq,
                &hashes,
                self.meta,
            )
            .await?;
        if !upload.upload_data.is_empty() {
            let data: HashMap<&str, Bytes> = self
                .part
                .iter()
                .filter_map(|(h, b)| b.as_ref().map(|b| (h.as_str(), b.clone())))
                .collect();
            self.store
                .send_blocks(
                    self.vol,
                    &upload.upload_token,
                    self.bs,
                    &upload.upload_data,
                    &data,
                )
                .await?;
        }
        self.all.extend(hashes);
        self.part.clear();
        self.held = 0;
        Ok(())
    }
}

/// What a listing visitor does with an entry.
enum Scan {
    Take,
    Skip,
    /// Continue from this name (inclusive).
    Jump(String),
    Stop,
}

/// A staged body: held in memory when small, else the hidden file `path`, deleted on drop.
pub struct SxStaged {
    store: Cluster,
    /// Set while the hidden file exists.
    vol: Option<Vol>,
    path: SxPath,
    size: u64,
    hashes: Vec<String>,
    /// A body of at most [`HELD_BYTES`]: the commit uploads it under its final name, so a
    /// small PUT is one SX upload and one job instead of three (stage, commit, removal).
    held: Option<Bytes>,
}

impl SxStaged {
    /// What a file made of this body is made of: its bytes when held, else the blocks of
    /// the hidden file (no data moves).
    fn segments(&self) -> Vec<Segment> {
        match &self.held {
            Some(bytes) => {
                let bytes = bytes.clone();
                let body = stream::once(async move { Ok(bytes) }).boxed_local();
                vec![Segment::Data(body, self.size)]
            }
            None => vec![Segment::Hashes(self.hashes.clone(), self.size)],
        }
    }
}

impl Staged for SxStaged {
    fn size(&self) -> u64 {
        self.size
    }
}

impl Drop for SxStaged {
    fn drop(&mut self) {
        if let Some(vol) = self.vol.take() {
            let store = self.store.clone();
            let path = self.path.clone();
            actix_web::rt::spawn(async move {
                if let Err(e) = store.delete_path(&vol, &path).await {
                    log::warn!("SX: could not remove staged {}: {e}", path.as_str());
                }
            });
        }
    }
}

/// An opened object: its block list is fixed when opened.
pub struct SxReader {
    client: SxClient,
    token: Token,
    info: ObjectInfo,
    block_size: u64,
    blocks: Vec<(String, Vec<String>)>,
}

impl ObjectReader for SxReader {
    fn info(&self) -> &ObjectInfo {
        &self.info
    }

    fn stream(self, range: Option<ByteRange>) -> DataStream {
        let size = self.info.size;
        let (first, end) = match range {
            Some(r) => (r.first, r.last.saturating_add(1).min(size)),
            None => (0, size),
        };
        if first >= end || self.blocks.is_empty() {
            return stream::empty().boxed_local();
        }
        let bs = self.block_size;
        let first_block = (first / bs) as usize;
        let end_block = (end.div_ceil(bs) as usize).min(self.blocks.len());
        // Runs of up to 30 consecutive blocks held by the same nodes: the request goes to the
        // first and, when it fails, to the next, which must hold every block of the run too.
        let mut batches: Vec<(usize, usize)> = Vec::new();
        let mut i = first_block;
        while i < end_block {
            let nodes = &self.blocks[i].1;
            let mut j = i + 1;
            while j < end_block && j - i < DOWNLOAD_BLOCKS && self.blocks[j].1 == *nodes {
                j += 1;
            }
            batches.push((i, j));
            i = j;
        }
        let reader = Arc::new(self);
        stream::iter(batches)
            .map(move |(i, j)| {
                let reader = reader.clone();
                async move {
                    let mut path = format!("/.data/{bs}/");
                    for (hash, _) in &reader.blocks[i..j] {
                        path.push_str(hash);
                    }
                    let resp = reader
                        .client
                        .request(
                            &reader.blocks[i].1,
                            Method::GET,
                            &path,
                            Bytes::new(),
                            &reader.token,
                        )
                        .await
                        .and_then(Response::ok)
                        .map_err(internal)?;
                    let data = resp.body;
                    if data.len() as u64 != (j - i) as u64 * bs {
                        return Err(StoreError::Internal(format!(
                            "SX sent {} bytes for {} blocks of {bs}",
                            data.len(),
                            j - i
                        )));
                    }
                    let start = i as u64 * bs;
                    let from = first.max(start) - start;
                    let to = end.min(j as u64 * bs) - start;
                    Ok(data.slice(from as usize..to as usize))
                }
            })
            .buffered(DOWNLOADS_IN_FLIGHT)
            .boxed_local()
    }
}

/// A body of `size` bytes, read into memory (at most [`HELD_BYTES`]).
async fn read_exactly(mut body: BodyStream, size: u64) -> Result<Bytes, StoreError> {
    let mut all = BytesMut::with_capacity(size as usize);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(StoreError::Body)?;
        if (all.len() + chunk.len()) as u64 > size {
            return Err(body_error("the body is longer than its declared length"));
        }
        all.extend_from_slice(&chunk);
    }
    if (all.len() as u64) < size {
        return Err(body_error("the body is shorter than its declared length"));
    }
    Ok(all.freeze())
}

/// Reads a body of unknown length until it ends or passes `limit` bytes: the whole body,
/// or what was read and the rest of the stream.
async fn read_up_to(
    mut body: BodyStream,
    limit: u64,
) -> Result<(Bytes, Option<BodyStream>), StoreError> {
    let mut start = BytesMut::new();
    while let Some(chunk) = body.next().await {
        start.extend_from_slice(&chunk.map_err(StoreError::Body)?);
        if start.len() as u64 > limit {
            return Ok((start.freeze(), Some(body)));
        }
    }
    Ok((start.freeze(), None))
}

/// A body of unknown length goes to an unlinked temporary file first: SX needs a file's size
/// before its first block (the size decides the block size).
async fn spool(mut body: BodyStream) -> Result<(BodyStream, u64), StoreError> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
    let path = std::env::temp_dir().join(format!("libres3-sx-{}", random_hex(12)?));
    let mut file = tokio::fs::OpenOptions::new()
        .create_new(true)
        .read(true)
        .write(true)
        .mode(0o600)
        .open(&path)
        .await?;
    // Unlinked at once: nothing is left behind whatever happens next.
    tokio::fs::remove_file(&path).await?;
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(StoreError::Body)?;
        size += chunk.len() as u64;
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    file.seek(std::io::SeekFrom::Start(0)).await?;
    let stream = stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 256 << 10];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(BodyError(Box::new(e))), None)),
        }
    });
    Ok((stream.boxed_local(), size))
}

fn part_path(upload_id: &str, number: u32) -> SxPath {
    SxPath::internal(format!("{PARTS_DIR}{upload_id}/{number:05}"))
}

fn upload_path(upload_id: &str) -> SxPath {
    SxPath::internal(format!("{UPLOADS_DIR}{upload_id}"))
}

fn valid_upload_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
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

    async fn parts(&self, vol: &Vol, upload_id: &str) -> Result<Vec<PartInfo>, StoreError> {
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
            parts.push(PartInfo {
                number,
                size: entry.file_size.unwrap_or(0),
                etag,
                last_modified: from_secs(entry.created_at.unwrap_or(0)),
            });
            Scan::Take
        })
        .await?;
        parts.sort_by_key(|p| p.number);
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

    async fn check_condition(
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

    fn staged_from(&self, vol: Vol, path: SxPath, size: u64, hashes: Vec<String>) -> SxStaged {
        SxStaged {
            store: self.clone(),
            vol: Some(vol),
            path,
            size,
            hashes,
            held: None,
        }
    }

    fn staged_held(&self, bytes: Bytes) -> SxStaged {
        SxStaged {
            store: self.clone(),
            vol: None,
            path: SxPath::internal(String::new()),
            size: bytes.len() as u64,
            hashes: Vec::new(),
            held: Some(bytes),
        }
    }

    /// What a completed upload is made of: the block lists of the parts that line up with
    /// the final file's blocks (no data moves), and the bytes of what does not, which are
    /// copied: the partial last block of an aligned part, every part after it (their bytes
    /// sit at offsets that are no longer block boundaries), and parts stored with another
    /// block size (SX derives a file's block size from its size: a part of up to 128 MiB has
    /// blocks of 16 KiB, a final file over 128 MiB blocks of 1 MiB).
    async fn completion_segments(
        &self,
        vol: &Vol,
        upload_id: &str,
        parts: &[PartInfo],
        total: u64,
    ) -> Result<Vec<Segment>, StoreError> {
        let bs = block_size(total);
        let mut segments = Vec::with_capacity(parts.len());
        let mut offset = 0u64;
        let mut copied = 0u64;
        for (i, part) in parts.iter().enumerate() {
            if part.size == 0 {
                continue;
            }
            let last = i + 1 == parts.len();
            let file = self.file(vol, &part_path(upload_id, part.number)).await?;
            if file.file_size != part.size {
                return Err(StoreError::InvalidPart(part.number));
            }
            let aligned = offset % bs == 0 && file.block_size == bs;
            // Bytes of this part whose blocks are reused as they are.
            let reused = match (aligned, last) {
                (false, _) => 0,
                (true, true) => part.size,
                (true, false) => part.size / bs * bs,
            };
            if reused > 0 {
                let hashes: Vec<String> = file
                    .file_data
                    .iter()
                    .take(block_count(reused, bs) as usize)
                    .filter_map(|b| b.keys().next().cloned())
                    .collect();
                segments.push(Segment::Hashes(hashes, reused));
            }
            if reused < part.size {
                copied += part.size - reused;
                let range = ByteRange {
                    first: reused,
                    last: part.size - 1,
                };
                let body = self
                    .reader(vol, String::new(), file, ObjectMeta::default())
                    .stream(Some(range))
                    .map(|chunk| chunk.map_err(|e| BodyError(Box::new(e))))
                    .boxed_local();
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
        Ok(segments)
    }

    fn reader(&self, vol: &Vol, key: String, file: proto::File, meta: ObjectMeta) -> SxReader {
        SxReader {
            client: self.client().clone(),
            token: vol.token.clone(),
            info: ObjectInfo {
                key,
                size: file.file_size,
                last_modified: from_secs(file.created_at),
                meta,
            },
            block_size: file.block_size.max(1),
            blocks: file
                .file_data
                .into_iter()
                .filter_map(|b| b.into_iter().next())
                .collect(),
        }
    }

    fn path_of(key: &str) -> Result<SxPath, StoreError> {
        key_to_path(key).ok_or_else(|| {
            StoreError::KeyTooLong(format!(
                "This key cannot be stored on the SX cluster: a key SX cannot hold as a file \
                 name (an empty, \".\" or \"..\" path part, a control character, or a key \
                 starting with {RESERVED}) is stored hex-encoded, which limits it to {} bytes.",
                mapping::max_escaped_key_len()
            ))
        })
    }
}

impl Cluster {
    /// CopyObject without moving data: the new file is made of the source's blocks (blocks are
    /// cluster-wide, so this works across volumes too).
    #[allow(clippy::too_many_arguments)]
    async fn copy_from_hashes(
        &self,
        who: &Principal,
        source: &CopySource<'_>,
        dst_bucket: &str,
        dst_key: &str,
        meta: ObjectMeta,
        condition: WriteCondition,
    ) -> Result<ObjectInfo, StoreError> {
        let (src_bucket, src_key) = (source.bucket, source.key);
        let src = self.data_volume(who, src_bucket).await?;
        let dst = if src_bucket == dst_bucket {
            src.clone()
        } else {
            self.data_volume(who, dst_bucket).await?
        };
        let src_path = Self::path_of(src_key).map_err(|_| StoreError::NoSuchKey)?;
        // The ETag is checked against the very revision whose blocks are copied.
        let file = match source.if_etag {
            Some(etag) => {
                let (file, src_meta) = self.file_with_meta(&src, &src_path).await?;
                if meta_from_sx(Some(&src_meta), &file.file_revision).etag != etag {
                    return Err(StoreError::SourceChanged);
                }
                file
            }
            None => self.file(&src, &src_path).await?,
        };
        let size = file.file_size;
        let hashes: Vec<String> = file
            .file_data
            .into_iter()
            .filter_map(|b| b.into_keys().next())
            .collect();
        let dst_path = Self::path_of(dst_key)?;
        let blocks = vec![Segment::Hashes(hashes, size)];
        self.write_object(&dst, &dst_path, size, blocks, &meta, &condition)
            .await?;
        Ok(ObjectInfo {
            key: dst_key.to_owned(),
            size,
            last_modified: SystemTime::now(),
            meta,
        })
    }
}

/// Bucket documents (ACL, policy, CORS, tags): an empty hidden file per document, the
/// document itself in the file's meta (SX meta values hold up to 64 KiB).
const DOCS_DIR: &str = ".libres3/doc/";
const DOC_KEY: &str = "doc";

impl Cluster {
    fn admin_principal(&self) -> Principal {
        Principal::User(self.inner.cfg.admin_key_id.clone())
    }
}

impl ObjectStore for Cluster {
    type Staged = SxStaged;
    type Reader = SxReader;

    /// Each node as the last request to it went: no probe, so `/stats` costs the cluster
    /// nothing.
    async fn backend_state(&self) -> crate::store::BackendState {
        let parts = self
            .inner
            .client
            .node_outcomes()
            .into_iter()
            .map(|(node, seen)| {
                let ok = seen.as_ref().map(|(result, _)| result.is_ok());
                let mut part = crate::store::BackendPart::new("node", node, ok);
                if let Some((result, age)) = seen {
                    part.error = result.err();
                    part.age = Some(age);
                }
                part
            })
            .collect();
        crate::store::BackendState { parts }
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
        self.copy_from_hashes(who, source, dst_bucket, dst_key, meta, condition)
            .await
    }

    async fn bucket_documents(&self, bucket: &str) -> Result<BucketDocuments, StoreError> {
        let admin = self.admin_principal();
        let info = self.bucket_info(&admin, bucket).await?;
        let vol = self.volume(&admin, bucket).await?;
        let mut names = Vec::new();
        self.scan(
            &vol,
            DOCS_DIR.to_owned(),
            usize::MAX,
            |name, _| match name.strip_prefix(DOCS_DIR) {
                Some(doc) => {
                    names.push(doc.to_owned());
                    Scan::Take
                }
                None => Scan::Stop,
            },
        )
        .await?;
        let mut documents = Vec::new();
        for name in names {
            let path = SxPath::internal(format!("{DOCS_DIR}{name}"));
            let meta = self.file_meta(&vol, &path).await?;
            if let Some(doc) = meta.get(DOC_KEY).and_then(|d| String::from_utf8(d).ok()) {
                documents.push((name, doc));
            }
        }
        Ok(BucketDocuments { info, documents })
    }

    async fn put_bucket_document(
        &self,
        who: &Principal,
        bucket: &str,
        name: &str,
        document: Option<String>,
    ) -> Result<(), StoreError> {
        let vol = self.volume(who, bucket).await?;
        if !self.is_admin(who) && vol.loc.owner != self.sx_user(who)? {
            return Err(StoreError::AccessDenied);
        }
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(StoreError::Internal(format!(
                "bad bucket document name {name:?}"
            )));
        }
        let path = SxPath::internal(format!("{DOCS_DIR}{name}"));
        match document {
            Some(doc) => {
                let mut meta = HexMeta::default();
                meta.insert(DOC_KEY, doc.as_bytes());
                self.create_from_hashes(&vol, &path, 0, &[], Some(&meta))
                    .await
            }
            None => match self.delete_path(&vol, &path).await {
                Err(StoreError::NoSuchKey) => Ok(()),
                other => other,
            },
        }
    }

    async fn abort_uploads_initiated_before(
        &self,
        cutoff: SystemTime,
        limit: usize,
    ) -> Result<Vec<AbortedUpload>, StoreError> {
        let admin = self.admin_principal();
        let mut aborted = Vec::new();
        for bucket in self.list_buckets(&admin).await? {
            let vol = self.volume(&admin, &bucket.name).await?;
            for (id, record) in self.uploads(&vol).await? {
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

    async fn user_by_access_key(&self, access_key: &str) -> Result<Option<User>, StoreError> {
        let token = if access_key == self.inner.cfg.admin_key_id {
            Some(self.admin().clone())
        } else {
            self.user_token(access_key).await?
        };
        Ok(token.map(|token| User {
            name: access_key.to_owned(),
            access_key: access_key.to_owned(),
            secret: SecretKey::new(token.to_ascii()),
        }))
    }

    async fn list_buckets(&self, who: &Principal) -> Result<Vec<BucketInfo>, StoreError> {
        let token = self.token_of(who).await?;
        let user = self.sx_user(who)?;
        let list: proto::VolumeList = self
            .client()
            .request(
                &self.client().nodes(),
                Method::GET,
                "/?volumeList&volumeMeta",
                Bytes::new(),
                &token,
            )
            .await
            .and_then(Response::json)
            .map_err(internal)?;
        let all = self.inner.cfg.allow_list_all_volumes || self.is_admin(who);
        Ok(list
            .volume_list
            .into_iter()
            .filter(|(_, v)| all || v.owner == user)
            .map(|(name, v)| BucketInfo {
                name,
                created: created_of(v.volume_meta.as_ref()),
                owner: v.owner,
            })
            .collect())
    }

    async fn create_bucket(&self, who: &Principal, bucket: &str) -> Result<(), StoreError> {
        let user = self.sx_user(who)?.to_owned();
        if !self.inner.cfg.allow_volume_create_any_user && !self.is_admin(who) {
            return Err(StoreError::AccessDenied);
        }
        match self.locate(self.admin(), bucket, None).await {
            Ok(loc) if loc.owner == user => return Err(StoreError::BucketAlreadyOwnedByYou),
            Ok(_) => return Err(StoreError::BucketAlreadyExists),
            Err(StoreError::NoSuchBucket) => {}
            Err(e) => return Err(e),
        }
        let mut meta = HexMeta::default();
        meta.insert(CREATED_KEY, now_secs().to_string().as_bytes());
        let body = json_body(&CreateVolume {
            volume_size: self.inner.cfg.volume_size,
            owner: &user,
            replica_count: self.inner.cfg.replica_count,
            max_revisions: 1,
            volume_meta: &meta,
        });
        let path = format!("/{}", url_encode(bucket, false));
        let resp = self
            .client()
            .request(
                &self.client().nodes(),
                Method::PUT,
                &path,
                body,
                self.admin(),
            )
            .await
            .and_then(Response::ok)
            .map_err(internal)?;
        match self.client().wait_job(resp, self.admin()).await {
            Ok(()) => Ok(()),
            Err(SxError::Job(message)) if message.contains("already exists") => {
                Err(StoreError::BucketAlreadyExists)
            }
            Err(e) => Err(internal(e)),
        }
    }

    async fn bucket_info(&self, who: &Principal, bucket: &str) -> Result<BucketInfo, StoreError> {
        let vol = self.volume(who, bucket).await?;
        Ok(BucketInfo {
            name: bucket.to_owned(),
            owner: vol.loc.owner.clone(),
            created: created_of(vol.loc.volume_meta.as_ref()),
        })
    }

    async fn delete_bucket(&self, who: &Principal, bucket: &str) -> Result<(), StoreError> {
        let vol = self.volume(who, bucket).await?;
        if !self.is_admin(who) && vol.loc.owner != self.sx_user(who)? {
            return Err(StoreError::AccessDenied);
        }
        // Any object, plain or escaped, keeps the bucket; the gateway's own files do not.
        let mut any = false;
        self.scan(&vol, String::new(), 1, |name, _| {
            if !name.starts_with(RESERVED) || name.starts_with(ESC_DIR) {
                any = true;
                Scan::Take
            } else if name < ESC_DIR {
                Scan::Jump(ESC_DIR.to_owned())
            } else {
                Scan::Jump(RESERVED_END.to_owned())
            }
        })
        .await?;
        if any {
            return Err(StoreError::BucketNotEmpty);
        }
        self.delete_tree(&vol, RESERVED).await?;
        // SX removes a volume only when asked on one of its own nodes; another node answers
        // 404 "This volume does not belong here". Volume removal needs the admin key.
        let as_admin = Vol {
            token: self.admin().clone(),
            name: vol.name.clone(),
            loc: vol.loc.clone(),
            fresh: vol.fresh,
        };
        let path = format!("/{}", url_encode(bucket, false));
        let resp = self
            .vol_request(&as_admin, Method::DELETE, &path, Bytes::new())
            .await
            .and_then(Response::ok)
            .map_err(|e| match e {
                SxError::Status { status: 409, .. } => StoreError::BucketNotEmpty,
                other => store_error(other, StoreError::NoSuchBucket),
            })?;
        self.client()
            .wait_job(resp, self.admin())
            .await
            .map_err(internal)?;
        self.inner.volumes.invalidate_all();
        Ok(())
    }

    async fn stage(
        &self,
        who: &Principal,
        bucket: &str,
        body: BodyStream,
        size: Option<u64>,
    ) -> Result<SxStaged, StoreError> {
        let vol = self.data_volume(who, bucket).await?;
        let (body, size) = match size {
            Some(size) if size <= HELD_BYTES => {
                return Ok(self.staged_held(read_exactly(body, size).await?))
            }
            Some(size) => (body, size),
            None => match read_up_to(body, HELD_BYTES).await? {
                (whole, None) => return Ok(self.staged_held(whole)),
                (start, Some(rest)) => {
                    let start = stream::once(async move { Ok(start) });
                    spool(start.chain(rest).boxed_local()).await?
                }
            },
        };
        let path = SxPath::internal(format!("{TMP_DIR}{}", random_hex(16)?));
        // Armed before the first byte goes out: if this future is dropped (the client went
        // away) after the hidden file became visible, the drop removes it.
        let mut staged = self.staged_from(vol.clone(), path.clone(), size, Vec::new());
        let (_, hashes) = self
            .write_file(
                &vol,
                &path,
                size,
                vec![Segment::Data(body, size)],
                None,
                None,
            )
            .await?;
        staged.hashes = hashes;
        Ok(staged)
    }

    async fn commit_object(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        data: SxStaged,
        meta: ObjectMeta,
        condition: WriteCondition,
    ) -> Result<ObjectInfo, StoreError> {
        let vol = self.data_volume(who, bucket).await?;
        let path = Self::path_of(key)?;
        self.write_object(&vol, &path, data.size, data.segments(), &meta, &condition)
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
        let vol = self.data_volume(who, bucket).await?;
        let path = Self::path_of(key).map_err(|_| StoreError::NoSuchKey)?;
        let (file, meta) = self.file_with_meta(&vol, &path).await?;
        let meta = meta_from_sx(Some(&meta), &file.file_revision);
        Ok(self.reader(&vol, key.to_owned(), file, meta))
    }

    async fn delete_object(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        let vol = self.data_volume(who, bucket).await?;
        match key_to_path(key) {
            Some(path) => self.delete_path(&vol, &path).await,
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
        let vol = self.data_volume(who, bucket).await?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let accept = |key: &str| -> bool {
            key.starts_with(prefix)
                && match start {
                    ListStart::Beginning => true,
                    ListStart::After(k) => key > k.as_str(),
                    ListStart::AfterPrefix(p) => key > p.as_str() && !key.starts_with(p.as_str()),
                }
        };
        let summary = |key: String, entry: &proto::ListEntry| ObjectSummary {
            key,
            size: entry.file_size.unwrap_or(0),
            last_modified: from_secs(entry.created_at.unwrap_or(0)),
            etag: meta_from_sx(
                entry.file_meta.as_ref(),
                entry.file_revision.as_deref().unwrap_or(""),
            )
            .etag,
        };
        let start_name = match start {
            ListStart::Beginning => String::new(),
            ListStart::After(k) => k.clone(),
            ListStart::AfterPrefix(p) => successor_of_prefix(p),
        };
        // Plain names: SX order is key order.
        let mut plain = Vec::new();
        if !prefix.starts_with(RESERVED) {
            let from = start_name.clone().max(prefix.to_owned());
            self.scan(&vol, from, limit, |name, entry| {
                if name.starts_with(RESERVED) {
                    return Scan::Jump(RESERVED_END.to_owned());
                }
                if !name.starts_with(prefix) && name > prefix {
                    return Scan::Stop;
                }
                match path_to_key(name) {
                    Listed::Key(key) if accept(&key) => {
                        plain.push(summary(key, entry));
                        Scan::Take
                    }
                    _ => Scan::Skip,
                }
            })
            .await?;
        }
        // Escaped names: hex order is key order too.
        let mut escaped = Vec::new();
        let esc_prefix = escaped_prefix(prefix);
        let esc_start = match start {
            ListStart::Beginning => String::new(),
            ListStart::After(k) => escaped_prefix(k),
            ListStart::AfterPrefix(p) => successor_of_prefix(&escaped_prefix(p)),
        };
        self.scan(
            &vol,
            esc_start.max(esc_prefix.clone()),
            limit,
            |name, entry| {
                if !name.starts_with(&esc_prefix) {
                    return if name > esc_prefix.as_str() {
                        Scan::Stop
                    } else {
                        Scan::Skip
                    };
                }
                match path_to_key(name) {
                    Listed::Key(key) if accept(&key) => {
                        escaped.push(summary(key, entry));
                        Scan::Take
                    }
                    _ => Scan::Skip,
                }
            },
        )
        .await?;
        let mut all = plain;
        all.extend(escaped);
        all.sort_by(|a, b| a.key.cmp(&b.key));
        all.truncate(limit);
        Ok(all)
    }

    async fn create_multipart(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        meta: ObjectMeta,
    ) -> Result<String, StoreError> {
        let vol = self.data_volume(who, bucket).await?;
        Self::path_of(key)?;
        if let Err(e) = self.clean_abandoned(&vol).await {
            log::warn!("SX: cleaning abandoned uploads of {bucket}: {e}");
        }
        let id = random_hex(16)?;
        self.create_from_hashes(
            &vol,
            &upload_path(&id),
            0,
            &[],
            Some(&upload_record_meta(key, &meta)),
        )
        .await?;
        Ok(id)
    }

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
        let vol = self.data_volume(who, bucket).await?;
        self.upload_record(&vol, key, upload_id).await?;
        let mut meta = HexMeta::default();
        meta.insert("etag", etag.as_bytes());
        self.write_file(
            &vol,
            &part_path(upload_id, part_number),
            data.size,
            data.segments(),
            Some(&meta),
            None,
        )
        .await?;
        Ok(PartInfo {
            number: part_number,
            size: data.size,
            etag,
            last_modified: SystemTime::now(),
        })
    }

    async fn list_parts(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(UploadInfo, Vec<PartInfo>), StoreError> {
        let vol = self.data_volume(who, bucket).await?;
        let record = self.upload_record(&vol, key, upload_id).await?;
        let parts = self.parts(&vol, upload_id).await?;
        Ok((
            UploadInfo {
                upload_id: upload_id.to_owned(),
                key: record.key,
                initiated: record.initiated,
                meta: record.meta,
            },
            parts,
        ))
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
        let vol = self.data_volume(who, bucket).await?;
        self.upload_record(&vol, key, upload_id).await?;
        let stored = self.parts(&vol, upload_id).await?;
        let mut chosen = Vec::with_capacity(parts.len());
        for (number, etag) in parts {
            match stored.iter().find(|p| p.number == *number) {
                Some(p) if p.etag == *etag => chosen.push(p.clone()),
                _ => return Err(StoreError::InvalidPart(*number)),
            }
        }
        let path = Self::path_of(key)?;
        // Checked before any data moves; write_object checks again.
        self.check_condition(&vol, &path, &condition).await?;
        let total: u64 = chosen.iter().map(|p| p.size).sum();
        let segments = self
            .completion_segments(&vol, upload_id, &chosen, total)
            .await?;
        self.write_object(&vol, &path, total, segments, &meta, &condition)
            .await?;
        self.delete_tree(&vol, &format!("{PARTS_DIR}{upload_id}"))
            .await?;
        self.delete_path(&vol, &upload_path(upload_id)).await?;
        Ok(ObjectInfo {
            key: key.to_owned(),
            size: total,
            last_modified: SystemTime::now(),
            meta,
        })
    }

    async fn abort_multipart(
        &self,
        who: &Principal,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), StoreError> {
        let vol = self.data_volume(who, bucket).await?;
        self.upload_record(&vol, key, upload_id).await?;
        self.delete_tree(&vol, &format!("{PARTS_DIR}{upload_id}"))
            .await?;
        self.delete_path(&vol, &upload_path(upload_id)).await
    }

    async fn list_multipart_uploads(
        &self,
        who: &Principal,
        bucket: &str,
        prefix: &str,
        after: Option<(&str, Option<&str>)>,
        limit: usize,
    ) -> Result<Vec<UploadInfo>, StoreError> {
        let vol = self.data_volume(who, bucket).await?;
        Ok(self
            .uploads(&vol)
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
}

fn created_of(meta: Option<&HexMeta>) -> SystemTime {
    meta.and_then(|m| m.get(CREATED_KEY))
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
        .unwrap_or_else(SystemTime::now)
}
