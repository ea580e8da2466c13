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

use actix_web::http::Method;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use super::auth::{sha1_hex, Token};
use super::config::SxConfig;
use super::mapping::cluster_uuid;
use super::proto::{ErrorBody, Job, JobStatus, NodeList};

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
    pub fn status(&self) -> Option<u16> {
        match self {
            SxError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
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
pub type Outcome = Result<(), String>;

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
    /// How each node did the last time it was asked, and when: for the admin endpoint.
    outcomes: Mutex<HashMap<String, (Outcome, Instant)>>,
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

fn tls_config(cfg: &SxConfig) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let mut config = if cfg.verify_ssl {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let mut pinned = Vec::new();
        if let Some(path) = &cfg.ca_file {
            let pem =
                std::fs::read(path).map_err(|e| format!("sx_ca_file {}: {e}", path.display()))?;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert = cert.map_err(|e| format!("sx_ca_file {}: {e}", path.display()))?;
                roots
                    .add(cert.clone())
                    .map_err(|e| format!("sx_ca_file {}: {e}", path.display()))?;
                pinned.push(cert);
            }
            if pinned.is_empty() {
                return Err(format!("sx_ca_file {}: no PEM certificate", path.display()));
            }
        }
        if cfg.ca_file.is_some() {
            // A cluster CA (sxsetup makes one per cluster) pins the trust; nodes are reached
            // by IP address, which its certificates rarely name. Like libsxclient, the chain
            // is verified and the name is not.
            let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider.clone(),
            )
            .build()
            .map_err(|e| format!("TLS: {e}"))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ClusterCa { inner, pinned }))
                .with_no_client_auth()
        } else {
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    } else {
        log::warn!("sx_verify_ssl = no: the SX cluster's TLS certificate is NOT verified");
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// `sx_ca_file`: the node presents one of the file's certificates itself, or a chain leading
/// to one of them; the node's name is not checked.
///
/// `sxsetup` gives a new cluster one self-signed certificate (`basicConstraints=critical,
/// CA:true`, CN = the cluster name) that every node presents as its own, and SX's clients
/// trust it as the cluster's anchor. WebPKI refuses a CA certificate as a server's
/// (`CaUsedAsEndEntity`), so a node presenting exactly a configured certificate is accepted
/// here: the handshake's signature, which rustls still checks against that certificate's
/// key, proves the node holds its private key. Any other certificate goes through the
/// chain check.
#[derive(Debug)]
struct ClusterCa {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    pinned: Vec<rustls::pki_types::CertificateDer<'static>>,
}

impl rustls::client::danger::ServerCertVerifier for ClusterCa {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        if self
            .pinned
            .iter()
            .any(|c| c.as_ref() == end_entity.as_ref())
        {
            return Ok(rustls::client::danger::ServerCertVerified::assertion());
        }
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(NotValidForName))
            | Err(rustls::Error::InvalidCertificate(NotValidForNameContext { .. })) => {
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `sx_verify_ssl = no`: accept any certificate (signatures are still checked).
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

impl SxClient {
    pub fn new(cfg: &SxConfig) -> Result<SxClient, String> {
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
                outcomes: Mutex::new(HashMap::new()),
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

    /// Every known node with how it did when last asked (None: not asked yet) and how long
    /// ago that was.
    pub fn node_outcomes(&self) -> Vec<(String, Option<(Outcome, Duration)>)> {
        let nodes = self
            .shared
            .nodes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let outcomes = self
            .shared
            .outcomes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        nodes
            .into_iter()
            .map(|node| {
                let seen = outcomes
                    .get(&node)
                    .map(|(result, at)| (result.clone(), at.elapsed()));
                (node, seen)
            })
            .collect()
    }

    fn remember(&self, node: &str, outcome: Outcome) {
        self.shared
            .outcomes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(node.to_owned(), (outcome, Instant::now()));
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
        if nodes.is_empty() {
            return Err(SxError::Unavailable("no SX node to ask".into()));
        }
        let body_sha1 = sha1_hex(&body);
        let mut last = String::new();
        for node in nodes {
            let mut clock_retry = true;
            loop {
                let attempt = self
                    .once(node, &method, path, body.clone(), &body_sha1, token)
                    .await;
                self.remember(node, attempt.as_ref().map(|_| ()).map_err(String::clone));
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
        body: Bytes,
        body_sha1: &str,
        token: &Token,
    ) -> Result<Attempt, String> {
        let permit = self
            .limit(node)
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
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
                req.send_body(body)
            } else {
                req.send()
            };
            let mut resp = sent.await.map_err(|e| e.to_string())?;
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
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((status, cluster, api, date, realm, body))
        };
        let (status, cluster, api, date, realm, body) =
            actix_web::rt::time::timeout(REQUEST_TIMEOUT, exchange)
                .await
                .map_err(|_| format!("no answer in {}s", REQUEST_TIMEOUT.as_secs()))??;
        drop(permit);
        // 507: the cluster is full. Another node cannot help (blocks have their nodes, and
        // file creation is cluster-wide), so it is an answer, not a node failure.
        if status >= 500 && status != 507 {
            let why = serde_json::from_slice::<ErrorBody>(&body)
                .map(|e| e.message)
                .unwrap_or_default();
            return Err(format!("HTTP {status} {why}"));
        }
        if let Some(cluster) = cluster {
            self.check_cluster(node, &cluster)?;
        }
        if let Some(version) = api.and_then(|v| v.trim().parse::<u32>().ok()) {
            if version > 1 {
                return Err(format!("SX API version {version} is newer than ours (1)"));
            }
        }
        if status == 401 && realm.as_deref().is_some_and(|r| r.contains("SXCLOCK")) {
            let server = date
                .as_deref()
                .and_then(crate::time::parse_http_date)
                .ok_or("clock skew reported without a Date header")?;
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

    fn check_cluster(&self, node: &str, header: &str) -> Result<(), String> {
        let Some(uuid) = cluster_uuid(header) else {
            return Err(format!("bad SX-Cluster header {header:?}"));
        };
        let mut known = self
            .shared
            .uuid
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match known.as_deref() {
            None => *known = Some(uuid.to_owned()),
            Some(k) if k == uuid => {}
            Some(k) => return Err(format!("node {node} belongs to cluster {uuid}, not to {k}")),
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

    fn cfg(pairs: &[(&str, &str)]) -> SxConfig {
        let mut all = vec![
            ("sx_host".to_owned(), "10.0.0.1".to_owned()),
            (
                "secret_key".to_owned(),
                "0DPiKuNIrrVmD8IUCuw1hQxNqZcoceX1r/QsuVb6pkTJ+F2+D1ckogAA".to_owned(),
            ),
        ];
        all.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        SxConfig::from_pairs(&all).unwrap()
    }

    #[test]
    fn tls_settings() {
        assert!(tls_config(&cfg(&[])).is_ok());
        assert!(tls_config(&cfg(&[("sx_verify_ssl", "no")])).is_ok());
        let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/src/store/sx/testdata/ca.pem");
        assert!(tls_config(&cfg(&[("sx_ca_file", ca)])).is_ok());
        let e = tls_config(&cfg(&[("sx_ca_file", file!())])).unwrap_err();
        assert!(e.starts_with("sx_ca_file"), "{e}");
        let e = tls_config(&cfg(&[("sx_ca_file", "/nonexistent/ca.pem")])).unwrap_err();
        assert!(e.starts_with("sx_ca_file /nonexistent/ca.pem"), "{e}");
        let client = SxClient::new(&cfg(&[("sx_port", "8443")])).unwrap();
        assert_eq!(
            client.url("10.0.0.1", "/?nodeList"),
            "https://10.0.0.1:8443/?nodeList"
        );
        assert_eq!(client.url("::1", "/x"), "https://[::1]:8443/x");
    }
}
