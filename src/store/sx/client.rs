//! The SX HTTP client: SKY signing, cluster identity, clock skew, failover, jobs.
//!
//! `SxClient` is `Send + Sync` (the server shares one store between its worker threads), but an
//! `awc::Client` belongs to the thread that made it; each worker thread builds its own, kept in
//! a thread-local map keyed by the client's id, and they share everything else.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use actix_web::body::SizedStream;
use actix_web::http::Method;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use super::auth::{sha1_hex, Token};
use super::config::SxConfig;
use super::mapping::cluster_uuid;
use super::proto::{ErrorBody, Job, JobStatus, NodeList};
use super::tls::{tls_config, SettingsError};
use crate::store::PartTraffic;

/// Connecting to a node.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// One request: headers and body, both ways.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// A job, from its first poll to its end.
const JOB_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a job is polled at its shortest interval before the interval doubles.
const JOB_EAGER_POLLING: Duration = Duration::from_secs(1);
/// Largest response body accepted (30 blocks of 1 MiB, big listings).
const BODY_LIMIT: usize = 256 << 20;
/// Requests in flight to one node from this process.
const PER_NODE: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum SxError {
    /// No node could serve the request (connection errors, timeouts, 5xx).
    #[error("{0}")]
    Unavailable(String),
    /// The node answered with an error.
    #[error("SX {status}: {message}")]
    Status { status: u16, message: String },
    /// An answer we cannot understand.
    #[error("SX protocol: {0}")]
    Protocol(String),
    /// A job ended in error.
    #[error("SX job failed: {0}")]
    Job(String),
    /// A node answered 200 and then reported that it failed while sending the answer (a
    /// top-level `ErrorMessage` in the JSON body): the answer is incomplete.
    #[error("SX node {node} failed during its answer: {message}")]
    Partial { node: String, message: String },
}

impl SxError {
    /// SX refused to start a job because another holds its lock: a mass job on the same
    /// volume ("A complex operation is already running on the cluster", as the job's
    /// failure), or a cluster-wide operation such as a rebalance (409 "...complex operation
    /// is being executed..." or "Resource is temporarily locked"). Trying later succeeds.
    pub fn is_job_lock(&self) -> bool {
        let locked = |message: &str| {
            message.contains("complex operation") || message.contains("temporarily locked")
        };
        match self {
            SxError::Job(message) => locked(message),
            SxError::Status {
                status: 409,
                message,
            } => locked(message),
            _ => false,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            SxError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Why one node could not serve a request (the next one is then tried).
#[derive(Clone, Debug, thiserror::Error)]
pub enum NodeError {
    /// Connecting, sending or receiving failed.
    #[error("{0}")]
    Transport(String),
    #[error("no answer in {}s", .0.as_secs())]
    NoAnswer(Duration),
    /// A 5xx other than 507, with SX's message if it sent one.
    #[error("HTTP {status} {message}")]
    Server { status: u16, message: String },
    #[error("bad SX-Cluster header {0:?}")]
    BadClusterHeader(String),
    #[error("node {node} belongs to cluster {uuid}, not to {known}")]
    OtherCluster {
        node: String,
        uuid: String,
        known: String,
    },
    #[error("SX API version {0} is newer than ours (1)")]
    NewerApi(u32),
    #[error("clock skew reported without a Date header")]
    SkewWithoutDate,
}

/// An answer with a status below 500, or 507 (the cluster is full).
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// The node that answered (jobs and upload tokens live there).
    pub node: String,
    pub body: Bytes,
}

impl Response {
    /// The body as JSON, or the SX error for a non-2xx status.
    pub fn json<T: DeserializeOwned>(self) -> Result<T, SxError> {
        let resp = self.ok()?;
        if let Some(message) = error_in_body(&resp.body) {
            log::warn!(
                "SX node {}: error inside a 200 answer: {message}",
                resp.node
            );
            return Err(SxError::Partial {
                node: resp.node,
                message,
            });
        }
        serde_json::from_slice(&resp.body)
            .map_err(|e| SxError::Protocol(format!("unexpected answer from {}: {e}", resp.node)))
    }

    pub fn ok(self) -> Result<Response, SxError> {
        if (200..300).contains(&self.status) {
            return Ok(self);
        }
        let message = serde_json::from_slice::<ErrorBody>(&self.body)
            .map(|e| e.message)
            .unwrap_or_else(|_| {
                String::from_utf8_lossy(&self.body)
                    .chars()
                    .take(200)
                    .collect()
            });
        Err(SxError::Status {
            status: self.status,
            message,
        })
    }
}

/// The error a node put into a 200 answer. SX streams its JSON answers (listings, block lists,
/// upload tokens) after sending the status; when it fails midway it ends the object with
/// `"ErrorMessage":...` (`send_partial_error` in fcgi-utils.c), and libsxclient fails the
/// whole operation on that key. Only a top-level key counts: a file may be named
/// `ErrorMessage`.
fn error_in_body(body: &[u8]) -> Option<String> {
    const KEY: &[u8] = b"\"ErrorMessage\"";
    if !body.windows(KEY.len()).any(|w| w == KEY) {
        return None;
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => map.get("ErrorMessage").map(|m| match m {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        }),
        _ => None,
    }
}

/// How a request to a node went: answered, or why not.
pub type Outcome = Result<(), NodeError>;
/// A node's last outcome, how long ago it was, and the requests sent to it.
pub type NodeSeen = (Outcome, Duration, PartTraffic);

struct Shared {
    id: u64,
    scheme: &'static str,
    port: u16,
    /// The cluster's nodes, as `?nodeList` gives them.
    nodes: RwLock<Vec<String>>,
    /// The cluster UUID from the first `SX-Cluster` header: the block-hash salt.
    uuid: RwLock<Option<String>>,
    /// Seconds to add to our clock to get the cluster's.
    skew: AtomicI64,
    next: AtomicUsize,
    tls: Option<Arc<rustls::ClientConfig>>,
    limits: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// What each node did when asked, for the admin endpoint.
    seen: Mutex<HashMap<String, NodeRecord>>,
}

/// How a node did the last time it was asked and when, and the requests sent to it so far.
struct NodeRecord {
    last: (Outcome, Instant),
    traffic: PartTraffic,
}

#[derive(Clone)]
pub struct SxClient {
    shared: Arc<Shared>,
}

thread_local! {
    /// Each worker thread's HTTP client per `SxClient`, with a handle telling whether that
    /// `SxClient` still exists (a reload replaces it).
    static CLIENTS: RefCell<HashMap<u64, (Weak<Shared>, awc::Client)>> =
        RefCell::new(HashMap::new());
}

impl SxClient {
    pub fn new(cfg: &SxConfig) -> Result<SxClient, SettingsError> {
        static IDS: AtomicU64 = AtomicU64::new(1);
        let tls = if cfg.use_ssl {
            Some(tls_config(cfg)?)
        } else {
            None
        };
        Ok(SxClient {
            shared: Arc::new(Shared {
                id: IDS.fetch_add(1, Ordering::Relaxed),
                scheme: if cfg.use_ssl { "https" } else { "http" },
                port: cfg.port,
                nodes: RwLock::new(cfg.hosts.clone()),
                uuid: RwLock::new(None),
                skew: AtomicI64::new(0),
                next: AtomicUsize::new(0),
                tls,
                limits: Mutex::new(HashMap::new()),
                seen: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The cluster UUID, once a node has answered.
    pub fn uuid(&self) -> Option<String> {
        self.shared
            .uuid
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every known node, starting from a different one each call to spread the load.
    pub fn nodes(&self) -> Vec<String> {
        let nodes = self
            .shared
            .nodes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        rotate(nodes, self.shared.next.fetch_add(1, Ordering::Relaxed))
    }

    /// Every known node with how it did when last asked and how long ago (None: not asked
    /// yet), and the requests sent to it.
    pub fn node_outcomes(&self) -> Vec<(String, Option<NodeSeen>)> {
        let nodes = self
            .shared
            .nodes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let seen = self
            .shared
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        nodes
            .into_iter()
            .map(|node| {
                let record = seen.get(&node).map(|r| {
                    let (outcome, at) = &r.last;
                    (outcome.clone(), at.elapsed(), r.traffic)
                });
                (node, record)
            })
            .collect()
    }

    /// Records one request to `node`: its outcome and how long it took.
    fn remember(&self, node: &str, outcome: Outcome, took: Duration) {
        let mut seen = self
            .shared
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let failed = u64::from(outcome.is_err());
        let last = (outcome, Instant::now());
        let record = match seen.get_mut(node) {
            Some(record) => {
                record.last = last;
                record
            }
            None => seen.entry(node.to_owned()).or_insert(NodeRecord {
                last,
                traffic: PartTraffic::default(),
            }),
        };
        record.traffic.requests += 1;
        record.traffic.errors += failed;
        record.traffic.seconds += took.as_secs_f64();
    }

    /// Learns the cluster's node list (`GET /?nodeList`).
    pub async fn discover(&self, admin: &Token) -> Result<Vec<String>, SxError> {
        let list: NodeList = self
            .request(
                &self.nodes(),
                Method::GET,
                "/?nodeList",
                Bytes::new(),
                admin,
            )
            .await?
            .json()?;
        if !list.node_list.is_empty() {
            *self
                .shared
                .nodes
                .write()
                .unwrap_or_else(PoisonError::into_inner) = list.node_list.clone();
        }
        Ok(list.node_list)
    }

    fn client(&self) -> awc::Client {
        CLIENTS.with(|clients| {
            let mut clients = clients.borrow_mut();
            if !clients.contains_key(&self.shared.id) {
                // Connection pools of replaced clients go with them.
                clients.retain(|_, (owner, _)| owner.strong_count() > 0);
            }
            clients
                .entry(self.shared.id)
                .or_insert_with(|| {
                    let mut connector = awc::Connector::new()
                        .timeout(CONNECT_TIMEOUT)
                        .conn_keep_alive(Duration::from_secs(30))
                        .limit(256);
                    if let Some(tls) = &self.shared.tls {
                        connector = connector.rustls_0_23(tls.clone());
                    }
                    let client = awc::Client::builder()
                        .connector(connector)
                        .timeout(REQUEST_TIMEOUT)
                        .disable_redirects()
                        .finish();
                    (Arc::downgrade(&self.shared), client)
                })
                .1
                .clone()
        })
    }

    fn limit(&self, node: &str) -> Arc<Semaphore> {
        self.shared
            .limits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(node.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(PER_NODE)))
            .clone()
    }

    fn url(&self, node: &str, path: &str) -> String {
        if node.contains(':') && !node.starts_with('[') {
            format!(
                "{}://[{node}]:{}{path}",
                self.shared.scheme, self.shared.port
            )
        } else {
            format!("{}://{node}:{}{path}", self.shared.scheme, self.shared.port)
        }
    }

    /// Sends a request to the first of `nodes` that can serve it: on a connection error, a
    /// timeout or a 5xx other than 507 the next one is tried. `path` is the request-URI as
    /// sent (encoded).
    pub async fn request(
        &self,
        nodes: &[String],
        method: Method,
        path: &str,
        body: Bytes,
        token: &Token,
    ) -> Result<Response, SxError> {
        self.request_parts(nodes, method, path, vec![body], token)
            .await
    }

    /// [`SxClient::request`] with a body sent as the concatenation of `parts`, which are
    /// not copied into one buffer (block uploads of several blocks).
    pub async fn request_parts(
        &self,
        nodes: &[String],
        method: Method,
        path: &str,
        body: Vec<Bytes>,
        token: &Token,
    ) -> Result<Response, SxError> {
        if nodes.is_empty() {
            return Err(SxError::Unavailable("no SX node to ask".into()));
        }
        let body_sha1 = sha1_hex(&body);
        let body_len: usize = body.iter().map(Bytes::len).sum();
        let mut last = String::new();
        for (tried, node) in nodes.iter().enumerate() {
            let mut clock_retry = true;
            loop {
                let started = Instant::now();
                let attempt = self
                    .once(node, &method, path, body.clone(), &body_sha1, token)
                    .await;
                let took = started.elapsed();
                self.remember(
                    node,
                    attempt.as_ref().map(|_| ()).map_err(NodeError::clone),
                    took,
                );
                if log::log_enabled!(log::Level::Debug) {
                    let outcome = match &attempt {
                        Ok(Attempt::Answer(resp)) => {
                            format!("{} ({} bytes)", resp.status, resp.body.len())
                        }
                        Ok(Attempt::Clock) => "401 clock skew".to_owned(),
                        Err(e) => e.to_string(),
                    };
                    let retry = match (tried, clock_retry) {
                        (0, true) => String::new(),
                        (0, false) => ", again after correcting the clock".to_owned(),
                        (n, _) => format!(", node {} of {}", n + 1, nodes.len()),
                    };
                    log::debug!(
                        "SX {method} {node} {path} ({body_len} bytes sent{retry}): {outcome} in {} ms",
                        took.as_millis()
                    );
                }
                match attempt {
                    Ok(Attempt::Answer(resp)) => return Ok(resp),
                    Ok(Attempt::Clock) if clock_retry => {
                        clock_retry = false;
                        continue;
                    }
                    Ok(Attempt::Clock) => {
                        last = format!("{node}: clock skew not corrected");
                        break;
                    }
                    Err(e) => {
                        log::warn!("SX {method} {path} on {node}: {e}");
                        last = format!("{node}: {e}");
                        break;
                    }
                }
            }
        }
        Err(SxError::Unavailable(last))
    }

    async fn once(
        &self,
        node: &str,
        method: &Method,
        path: &str,
        body: Vec<Bytes>,
        body_sha1: &str,
        token: &Token,
    ) -> Result<Attempt, NodeError> {
        let permit = self
            .limit(node)
            .acquire_owned()
            .await
            .map_err(|e| NodeError::Transport(e.to_string()))?;
        let now = SystemTime::now();
        let skew = self.shared.skew.load(Ordering::Relaxed);
        let when = if skew >= 0 {
            now + Duration::from_secs(skew as u64)
        } else {
            now - Duration::from_secs(skew.unsigned_abs())
        };
        let date = crate::time::http_date(when);
        let auth = token.authorization(method.as_str(), path, &date, body_sha1);
        let mut req = self
            .client()
            .request(method.clone(), self.url(node, path))
            .insert_header(("Date", date))
            .insert_header(("Authorization", auth))
            .timeout(REQUEST_TIMEOUT);
        if *method == Method::PUT {
            req = req.insert_header(("Content-Type", "application/octet-stream"));
        }
        let exchange = async {
            // Only PUT carries a body: SX refuses any other request that has one.
            let sent = if *method == Method::PUT {
                match <[Bytes; 1]>::try_from(body) {
                    Ok([whole]) => req.send_body(whole),
                    Err(parts) => {
                        let len = parts.iter().map(|p| p.len() as u64).sum();
                        let parts = parts.into_iter().map(Ok::<_, std::convert::Infallible>);
                        req.send_body(SizedStream::new(len, futures_util::stream::iter(parts)))
                    }
                }
            } else {
                req.send()
            };
            let mut resp = sent
                .await
                .map_err(|e| NodeError::Transport(e.to_string()))?;
            let status = resp.status().as_u16();
            let header = |name: &str| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let cluster = header("SX-Cluster");
            let api = header("SX-API-Version");
            let date = header("Date");
            let realm = header("WWW-Authenticate");
            let body = resp
                .body()
                .limit(BODY_LIMIT)
                .await
                .map_err(|e| NodeError::Transport(e.to_string()))?;
            Ok::<_, NodeError>((status, cluster, api, date, realm, body))
        };
        let (status, cluster, api, date, realm, body) =
            actix_web::rt::time::timeout(REQUEST_TIMEOUT, exchange)
                .await
                .map_err(|_| NodeError::NoAnswer(REQUEST_TIMEOUT))??;
        drop(permit);
        // 507: the cluster is full. Another node cannot help (blocks have their nodes, and
        // file creation is cluster-wide), so it is an answer, not a node failure.
        if status >= 500 && status != 507 {
            let message = serde_json::from_slice::<ErrorBody>(&body)
                .map(|e| e.message)
                .unwrap_or_default();
            return Err(NodeError::Server { status, message });
        }
        if let Some(cluster) = cluster {
            self.check_cluster(node, &cluster)?;
        }
        if let Some(version) = api.and_then(|v| v.trim().parse::<u32>().ok()) {
            if version > 1 {
                return Err(NodeError::NewerApi(version));
            }
        }
        if status == 401 && realm.as_deref().is_some_and(|r| r.contains("SXCLOCK")) {
            let server = date
                .as_deref()
                .and_then(crate::time::parse_http_date)
                .ok_or(NodeError::SkewWithoutDate)?;
            let offset = match server.duration_since(SystemTime::now()) {
                Ok(ahead) => ahead.as_secs() as i64,
                Err(behind) => -(behind.duration().as_secs() as i64),
            };
            log::warn!("SX node {node}: clock differs by {offset}s; correcting");
            self.shared.skew.store(offset, Ordering::Relaxed);
            return Ok(Attempt::Clock);
        }
        Ok(Attempt::Answer(Response {
            status,
            node: node.to_owned(),
            body,
        }))
    }

    fn check_cluster(&self, node: &str, header: &str) -> Result<(), NodeError> {
        let Some(uuid) = cluster_uuid(header) else {
            return Err(NodeError::BadClusterHeader(header.to_owned()));
        };
        let mut known = self
            .shared
            .uuid
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match known.as_deref() {
            None => *known = Some(uuid.to_owned()),
            Some(k) if k == uuid => {}
            Some(k) => {
                return Err(NodeError::OtherCluster {
                    node: node.to_owned(),
                    uuid: uuid.to_owned(),
                    known: k.to_owned(),
                })
            }
        }
        Ok(())
    }

    /// Waits for a job to end on the node that started it.
    pub async fn wait_job(&self, resp: Response, token: &Token) -> Result<(), SxError> {
        let node = resp.node.clone();
        let job: Job = resp.json()?;
        // Job ids (`<node uuid>:<n>`) go into the path as they are, as libsxclient sends them.
        let path = format!("/.results/{}", job.request_id);
        let deadline = Instant::now() + JOB_TIMEOUT;
        let max = Duration::from_millis(job.max_poll_interval.clamp(10, 10_000));
        let min = Duration::from_millis(job.min_poll_interval.clamp(1, 10_000)).min(max);
        let mut delay = min;
        let started = Instant::now();
        loop {
            let status: JobStatus = self
                .request(
                    std::slice::from_ref(&node),
                    Method::GET,
                    &path,
                    Bytes::new(),
                    token,
                )
                .await?
                .json()?;
            match status.request_status.as_str() {
                "OK" => return Ok(()),
                "PENDING" => {}
                _ => return Err(SxError::Job(status.request_message)),
            }
            if Instant::now() + delay > deadline {
                return Err(SxError::Unavailable(format!(
                    "job {} on {node} still pending after {}s",
                    job.request_id,
                    JOB_TIMEOUT.as_secs()
                )));
            }
            actix_web::rt::time::sleep(delay).await;
            // Most jobs (a flush, a delete) end within a few hundred ms: polling at the
            // shortest interval SX allows for the first second answers them without the
            // doubled waits (libsxclient's 100, 200, 400 ms made a small PUT take 300 ms when
            // its flush took 110). Longer jobs are then polled less and less often.
            if started.elapsed() >= JOB_EAGER_POLLING {
                delay = (delay * 2).min(max);
            } else {
                delay = min;
            }
        }
    }
}

enum Attempt {
    Answer(Response),
    /// `401 SXCLOCK`: the skew is corrected, send again.
    Clock,
}

fn rotate(mut nodes: Vec<String>, by: usize) -> Vec<String> {
    if !nodes.is_empty() {
        let n = by % nodes.len();
        nodes.rotate_left(n);
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sx::tls::tests::cfg;

    #[test]
    fn node_urls() {
        let client = SxClient::new(&cfg(&[("sx_port", "8443")])).unwrap();
        assert_eq!(
            client.url("10.0.0.1", "/?nodeList"),
            "https://10.0.0.1:8443/?nodeList"
        );
        assert_eq!(client.url("::1", "/x"), "https://[::1]:8443/x");
    }
}
