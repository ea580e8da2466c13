//! One connection to an SX cluster: its client, caches and identity, and how a request
//! reaches the nodes of a volume (relocating it once when they no longer hold it).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::Method;
use bytes::Bytes;

use super::auth::Token;
use super::client::{Response, SxClient, SxError};
use super::config::SxConfig;
use super::mapping::{url_encode, SxPath};
use super::proto::{self, Locate};
use super::staged;
use super::tls::SettingsError;
use crate::store::{BackendPart, BackendState, StoreError};

/// Everything one request needs to talk to a volume as a user.
#[derive(Clone)]
pub(super) struct Vol {
    pub(super) token: Token,
    pub(super) name: String,
    pub(super) loc: Arc<Locate>,
    /// `loc` was located for this request, not taken from the cache.
    pub(super) fresh: bool,
}

/// Key -> a lock that the operations on that key through this gateway take in turn.
pub(super) type Turns<K> = moka::sync::Cache<K, Arc<tokio::sync::Mutex<()>>>;

/// Waits until no other holder of `key`'s lock in `turns` runs; the turn lasts as long as the
/// guard.
pub(super) async fn take_turn<K>(turns: &Turns<K>, key: K) -> tokio::sync::OwnedMutexGuard<()>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
{
    turns
        .get_with(key, || Arc::new(tokio::sync::Mutex::new(())))
        .lock_owned()
        .await
}

pub(super) struct Inner {
    pub(super) cfg: SxConfig,
    pub(super) client: SxClient,
    /// SX user name -> token.
    pub(super) users: moka::sync::Cache<String, Token>,
    /// Names SX did not know a moment ago (requests with a bad access key stay cheap).
    pub(super) unknown_users: moka::sync::Cache<String, ()>,
    /// (user, volume) -> locate answer.
    pub(super) volumes: moka::sync::Cache<(String, String), Arc<Locate>>,
    /// (volume, path) -> the lock its writes through this gateway take in turn (see
    /// [`Cluster::write_file`]).
    pub(super) writing: Turns<(String, String)>,
    /// Volume -> the lock this gateway's mass jobs in it take in turn (see
    /// [`Cluster::vol_mass_job`]).
    pub(super) mass_jobs: Turns<String>,
    /// Volume -> whether it may hold version records (see [`Cluster::may_have_versions`]).
    pub(super) versioned: moka::sync::Cache<String, bool>,
    /// Bytes of request bodies held in memory, all uploads together (see
    /// [`Cluster::stage`]).
    pub(super) held_bodies: Arc<tokio::sync::Semaphore>,
}

/// A checked connection to one cluster, cheap to clone; the operation modules add its
/// methods.
#[derive(Clone)]
pub(super) struct Cluster {
    pub(super) inner: Arc<Inner>,
}

/// Why [`Cluster::connect`] failed. Its text is one line naming the hosts tried.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The TLS settings cannot be used (`sx_ca_file`, ...).
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("SX cluster at {hosts}: {problem}")]
    Cluster {
        /// `host, host port N`.
        hosts: String,
        problem: ClusterProblem,
    },
}

impl ConnectError {
    /// No listed node answered (refused, timed out, 5xx): SX may come up later, unlike
    /// settings it refuses.
    pub(super) fn is_unreachable(&self) -> bool {
        matches!(
            self,
            ConnectError::Cluster {
                problem: ClusterProblem::Sx(SxError::Unavailable(_)),
                ..
            }
        )
    }
}

/// What was wrong with the cluster a connection was made to.
#[derive(Debug, thiserror::Error)]
pub enum ClusterProblem {
    #[error("secret_key is not a valid admin key (401)")]
    NotAnAdminKey,
    #[error("{0}")]
    Sx(SxError),
    #[error("the node did not send its SX-Cluster identity (is it an SX node?)")]
    NoIdentity,
    #[error("secret_key is a key of a user who is not an admin")]
    NotAnAdminUser,
}

/// How long a gateway trusts what it learned about whether a volume holds version records:
/// as long as it trusts a volume's location. AWS too asks for a wait after versioning is
/// first enabled.
const VERSIONED_KNOWN: Duration = Duration::from_secs(30);

pub(super) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(super) fn from_secs(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64)
}

pub(super) fn random_hex(bytes: usize) -> Result<String, StoreError> {
    use ring::rand::SecureRandom;
    let mut buf = vec![0u8; bytes];
    ring::rand::SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| StoreError::Internal("no randomness".into()))?;
    Ok(crate::encoding::hex(&buf))
}

/// An SX failure as S3 sees it; `not_found` says what a 404 means here.
pub(super) fn store_error(e: SxError, not_found: StoreError) -> StoreError {
    match e {
        SxError::Unavailable(why) => StoreError::Unavailable(why),
        // Seen when a node fails mid-answer, e.g. a file create while a replica is down: the
        // answer cannot be used; the cluster may serve it again later.
        e @ SxError::Partial { .. } => StoreError::Unavailable(e.to_string()),
        // A job SX gave up on because a node it needed did not answer in time.
        SxError::Job(message) if message.contains("Cluster timeout") => {
            StoreError::Unavailable(format!("SX job failed: {message}"))
        }
        e if e.is_job_lock() => StoreError::Unavailable(e.to_string()),
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

/// How long, in all, a mass job waits for the volume's job lock before the request fails
/// as unavailable (503, which clients retry).
pub(super) const JOB_LOCK_PATIENCE: Duration = Duration::from_secs(30);

/// A 404 about the volume rather than a file in it: "No such volume", or a node saying the
/// volume is not one of its own.
fn names_no_volume(resp: &Response) -> bool {
    resp.status == 404
        && serde_json::from_slice::<proto::ErrorBody>(&resp.body)
            .is_ok_and(|e| e.message.to_ascii_lowercase().contains("volume"))
}

pub(super) fn internal(e: SxError) -> StoreError {
    store_error(e, StoreError::Internal("SX: not found".into()))
}

pub(super) fn json_body<T: serde::Serialize>(value: &T) -> Bytes {
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}

impl Cluster {
    /// Connects to the cluster: learns its node list and UUID with the admin key.
    pub(super) async fn connect(cfg: SxConfig) -> Result<Cluster, ConnectError> {
        let client = SxClient::new(&cfg)?;
        let hosts = format!("{} port {}", cfg.hosts.join(", "), cfg.port);
        let failed = |problem| ConnectError::Cluster {
            hosts: hosts.clone(),
            problem,
        };
        client
            .discover(&cfg.admin_token)
            .await
            .map_err(|e| match e {
                SxError::Status { status: 401, .. } => failed(ClusterProblem::NotAnAdminKey),
                other => failed(ClusterProblem::Sx(other)),
            })?;
        if client.uuid().is_none() {
            return Err(failed(ClusterProblem::NoIdentity));
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
            .map_err(|e| failed(ClusterProblem::Sx(e)))?;
        if !me.values().any(|u| u.admin) {
            return Err(failed(ClusterProblem::NotAnAdminUser));
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
                mass_jobs: moka::sync::Cache::builder()
                    .max_capacity(10_000)
                    .time_to_idle(Duration::from_secs(600))
                    .build(),
                versioned: moka::sync::Cache::builder()
                    .max_capacity(10_000)
                    .time_to_live(VERSIONED_KNOWN)
                    .build(),
                held_bodies: Arc::new(tokio::sync::Semaphore::new(staged::HELD_BUDGET)),
            }),
        })
    }

    /// Which cluster this is, for the log.
    /// Asks the cluster for its node list again: nodes added since are then used.
    pub(super) async fn refresh_nodes(&self) -> Result<(), SxError> {
        let mut before = self.client().nodes();
        let mut after = self.client().discover(&self.inner.cfg.admin_token).await?;
        before.sort();
        after.sort();
        if before != after && !after.is_empty() {
            log::info!("SX node list now {}", after.join(", "));
        }
        Ok(())
    }

    pub(super) fn describe(&self) -> String {
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

    pub(super) fn client(&self) -> &SxClient {
        &self.inner.client
    }

    pub(super) fn admin(&self) -> &Token {
        &self.inner.cfg.admin_token
    }

    /// Each node as the last request to it went: no probe, so `/stats` costs the cluster
    /// nothing.
    pub(super) fn backend_state(&self) -> BackendState {
        let parts = self
            .client()
            .node_outcomes()
            .into_iter()
            .map(|(node, seen)| {
                let ok = seen.as_ref().map(|(result, _, _)| result.is_ok());
                let mut part = BackendPart::new("node", node, ok);
                if let Some((result, age, traffic)) = seen {
                    part.error = result.err().map(|e| e.to_string());
                    part.age = Some(age);
                    part.traffic = Some(traffic);
                }
                part
            })
            .collect();
        BackendState { parts }
    }

    /// A request to the volume's nodes. When none answers, or they no longer hold the volume
    /// (it was moved by a rebalance, or deleted and created again elsewhere, after its
    /// location was cached), the volume is located again once.
    pub(super) async fn vol_request(
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
        let fresh = match self.locate(&vol.token, &vol.name).await {
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

    pub(super) fn file_url(vol: &Vol, path: &SxPath) -> String {
        format!("/{}/{}", url_encode(&vol.name, false), path.url())
    }

    /// Starts an SX job on the volume and waits for its end.
    pub(super) async fn vol_job(
        &self,
        vol: &Vol,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> Result<(), SxError> {
        let resp = self.vol_request(vol, method, path, body).await?.ok()?;
        self.client().wait_job(resp, &vol.token).await
    }

    /// [`Cluster::vol_job`] for a mass job (a DELETE with `filter`): SX runs one at a time
    /// per volume and fails another started meanwhile ([`SxError::is_job_lock`]). Two
    /// started at once on different nodes can even fail half-way and leave every mass job of
    /// the volume, and volume creation on the whole cluster, refused for minutes (SX 2.3:
    /// "Some files were left in an inconsistent state after a failed mass job attempt"). So
    /// this gateway runs a volume's mass jobs (multipart completions and aborts, DeleteBucket,
    /// the clean-ups) one at a time; one refused all the same, by another gateway's or a
    /// cluster-wide operation, is started again after a pause, doubling from 50 ms to 2 s,
    /// for up to [`JOB_LOCK_PATIENCE`].
    pub(super) async fn vol_mass_job(
        &self,
        vol: &Vol,
        method: Method,
        path: &str,
    ) -> Result<(), SxError> {
        let _turn = take_turn(&self.inner.mass_jobs, vol.name.clone()).await;
        let give_up = std::time::Instant::now() + JOB_LOCK_PATIENCE;
        let mut pause = Duration::from_millis(50);
        loop {
            match self.vol_job(vol, method.clone(), path, Bytes::new()).await {
                Err(e) if e.is_job_lock() && std::time::Instant::now() + pause < give_up => {
                    log::debug!("SX {method} {path}: {e}; starting it again in {pause:?}");
                    actix_web::rt::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                result => return result,
            }
        }
    }
}
