//! A fake Skylable SX cluster for tests, following sx-protocol.md §14.
//!
//! Several "nodes" share one in-memory state. Like real SX nodes they are addressed by IP
//! address on one cluster-wide port: node `i` listens on `127.0.0.<i+1>:<port>`, so stopping
//! one tests failover. Requests are SKY-signed and checked (clock skew included); mutations are
//! jobs that answer PENDING on the first poll and their outcome afterwards. The fake counts the
//! block bytes it receives, so tests can prove deduplication.
//!
//! Written from the protocol document only; it shares no code with the client it tests.

#![allow(dead_code)]

mod date;
mod glob;

use std::collections::{BTreeMap, HashMap};
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::dev::ServerHandle;
use actix_web::http::{Method, StatusCode};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use ring::{digest, hmac};
use serde_json::{json, Map, Value};

/// The cluster UUID of the document's vectors (§4, §7).
pub const CLUSTER_UUID: &str = "e78c2788-5488-4a43-a2c5-5635faa43903";
/// The admin token of the document's vectors (§3).
pub const ADMIN_TOKEN: &str = "0DPiKuNIrrVmD8IUCuw1hQxNqZcoceX1r/QsuVb6pkTJ+F2+D1ckogAA";
const MAX_DRIFT_SECS: i64 = 600;
const UPLOAD_CHUNK: usize = 4 << 20;
const DOWNLOAD_MAX_BLOCKS: usize = 30;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

fn sha1(parts: &[&[u8]]) -> Vec<u8> {
    let mut ctx = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
    for p in parts {
        ctx.update(p);
    }
    ctx.finish().as_ref().to_vec()
}

fn random_bytes(n: usize) -> Vec<u8> {
    use ring::rand::SecureRandom;
    let mut buf = vec![0u8; n];
    ring::rand::SystemRandom::new()
        .fill(&mut buf)
        .expect("randomness");
    buf
}

/// A block's id: hex SHA1(cluster UUID ‖ block) (§7).
pub fn block_hash(block: &[u8]) -> String {
    hex(&sha1(&[CLUSTER_UUID.as_bytes(), block]))
}

pub fn block_size_for(size: u64) -> u64 {
    if size < 128 * 1024 {
        4096
    } else if size <= 128 * 1024 * 1024 {
        16384
    } else {
        1 << 20
    }
}

#[derive(Clone)]
struct UserRec {
    uid: Vec<u8>,
    key: Vec<u8>,
    admin: bool,
}

#[derive(Clone)]
struct FileRec {
    size: u64,
    bs: u64,
    hashes: Vec<String>,
    meta: Map<String, Value>,
    created: u64,
    revision: String,
    /// When its upload began, in the order of [`State::next_revision`]: SX dates a revision
    /// from the file's creation (`PUT /<vol>/<path>`), not from its flush.
    order: u64,
}

struct VolumeRec {
    owner: String,
    size: u64,
    replicas: usize,
    meta: Map<String, Value>,
    readers: Vec<String>,
    writers: Vec<String>,
    nodes: Vec<usize>,
    files: BTreeMap<String, FileRec>,
}

struct Pending {
    user: String,
    volume: String,
    path: String,
    node: usize,
    size: u64,
    bs: u64,
    hashes: Vec<String>,
    meta: Map<String, Value>,
    /// The revision's place in time, taken when the upload began.
    order: u64,
}

struct JobRec {
    node: usize,
    user: String,
    polled: bool,
    error: Option<String>,
}

pub struct State {
    node_uuids: Vec<String>,
    ips: Vec<String>,
    users: BTreeMap<String, UserRec>,
    volumes: BTreeMap<String, VolumeRec>,
    blocks: HashMap<String, Bytes>,
    uploads: HashMap<String, Pending>,
    jobs: HashMap<String, JobRec>,
    next_job: u64,
    /// Orders revisions: a flush whose upload began before the current revision's did fails,
    /// like real SX's "Newer copies of this file already exist".
    next_revision: u64,
    /// Block bytes received by `PUT /.data`.
    pub block_bytes_in: u64,
    /// Seconds the fake's clock is ahead of the real one.
    pub clock_offset: i64,
    /// Requests served, per node.
    pub requests: Vec<u64>,
    /// The nodes' disks are full: block uploads answer 507.
    pub disks_full: bool,
    /// Actions run once around the next request that matches (see [`FakeSx::before_next`]).
    hooks: Vec<Hook>,
    /// The next 200 answer to a request that matches ends with this error, as real SX ends
    /// an answer it fails to finish (see [`FakeSx::fail_during_next`]).
    partial_errors: Vec<(HookMatch, String)>,
}

/// File meta with the values decoded.
pub type FileMeta = BTreeMap<String, Vec<u8>>;

/// Which requests a hook waits for: method, request-URI as sent, body.
pub type HookMatch = fn(&str, &str, &[u8]) -> bool;
/// What a hook does to the cluster, e.g. another client's write landing at that moment.
pub type HookAction = Box<dyn FnOnce(&mut State) + Send>;

struct Hook {
    after: bool,
    matches: HookMatch,
    action: HookAction,
}

/// The signed parts of a request, for [`State::authenticate`].
pub struct Signed<'a> {
    pub method: &'a str,
    /// Request-URI as sent.
    pub uri: &'a str,
    pub date: Option<&'a str>,
    pub body: &'a [u8],
    pub authorization: Option<&'a str>,
}

enum Auth {
    User(String),
    Anonymous,
}

struct Fail(StatusCode, String);

type Answer = Result<HttpResponse, Fail>;

fn fail<T>(status: u16, message: &str) -> Result<T, Fail> {
    Err(Fail(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        message.to_owned(),
    ))
}

fn json_ok(v: Value) -> Answer {
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(v.to_string()))
}

impl State {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
            + self.clock_offset
    }

    /// Stores a file as if another client had uploaded and flushed it (its blocks included).
    pub fn write_file(&mut self, volume: &str, path: &str, data: &[u8], meta: &[(&str, &[u8])]) {
        let bs = block_size_for(data.len() as u64) as usize;
        let mut hashes = Vec::new();
        for chunk in data.chunks(bs) {
            let mut block = chunk.to_vec();
            block.resize(bs, 0);
            let hash = block_hash(&block);
            self.blocks.insert(hash.clone(), Bytes::from(block));
            hashes.push(hash);
        }
        let created = self.now().max(0) as u64;
        let revision = format!(
            "{}:{}",
            date::revision_stamp(created),
            hex(&random_bytes(16))
        );
        let meta = meta
            .iter()
            .map(|(k, v)| (k.to_string(), json!(hex(v))))
            .collect();
        self.next_revision += 1;
        let order = self.next_revision;
        if let Some(vol) = self.volumes.get_mut(volume) {
            vol.files.insert(
                path.to_owned(),
                FileRec {
                    size: data.len() as u64,
                    bs: bs as u64,
                    hashes,
                    meta,
                    created,
                    revision,
                    order,
                },
            );
        }
    }

    /// Runs the hooks waiting for this request (`after`: once it was answered).
    fn run_hooks(&mut self, after: bool, method: &str, uri: &str, body: &[u8]) {
        let mut i = 0;
        while i < self.hooks.len() {
            if self.hooks[i].after == after && (self.hooks[i].matches)(method, uri, body) {
                let hook = self.hooks.remove(i);
                (hook.action)(self);
            } else {
                i += 1;
            }
        }
    }

    fn add_user(&mut self, name: &str, admin: bool) -> String {
        let uid = sha1(&[name.as_bytes()]);
        let key = random_bytes(20);
        let mut bin = uid.clone();
        bin.extend_from_slice(&key);
        bin.extend_from_slice(&[0, 0]);
        self.users
            .insert(name.to_owned(), UserRec { uid, key, admin });
        STANDARD_NO_PAD.encode(bin)
    }

    /// Checks a SKY signature (§3). `Err` carries the status, realm and message.
    pub fn authenticate(&self, s: &Signed) -> Result<Option<String>, (u16, &'static str, String)> {
        let Some(auth) = s.authorization else {
            return Ok(None);
        };
        let Some(b64) = auth.strip_prefix("SKY ") else {
            return Err((401, "SXAUTH", "Invalid credentials".into()));
        };
        let raw = STANDARD_NO_PAD
            .decode(b64.trim_end_matches('='))
            .map_err(|_| (401, "SXAUTH", "Invalid credentials".to_owned()))?;
        if raw.len() != 42 {
            return Err((401, "SXAUTH", "Invalid credentials".into()));
        }
        let Some((name, user)) = self.users.iter().find(|(_, u)| u.uid == raw[..20]) else {
            return Err((401, "SXAUTH", "Invalid credentials".into()));
        };
        let Some(date) = s.date else {
            return Err((401, "SXAUTH", "Missing Date".into()));
        };
        let uri = s.uri.strip_prefix('/').unwrap_or(s.uri);
        let to_sign = format!(
            "{}\n{}\n{}\n{}\n",
            s.method,
            uri,
            date,
            hex(&sha1(&[s.body]))
        );
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &user.key);
        if hmac::verify(&key, to_sign.as_bytes(), &raw[20..40]).is_err() {
            return Err((401, "SXAUTH", "Invalid credentials".into()));
        }
        match date::parse(date) {
            Some(t) if (t - self.now()).abs() <= MAX_DRIFT_SECS => Ok(Some(name.clone())),
            _ => Err((401, "SXCLOCK", "Request is too old or too new".into())),
        }
    }

    fn is_admin(&self, user: &str) -> bool {
        self.users.get(user).is_some_and(|u| u.admin)
    }

    fn privs(&self, user: &str, vol: &VolumeRec) -> (bool, bool) {
        if self.is_admin(user) || vol.owner == user {
            return (true, true);
        }
        (
            vol.readers.iter().any(|r| r == user),
            vol.writers.iter().any(|w| w == user),
        )
    }

    fn block_nodes(&self, hash: &str, replicas: usize) -> Vec<String> {
        let n = self.ips.len();
        let start = unhex(&hash[..2.min(hash.len())])
            .and_then(|b| b.first().copied())
            .unwrap_or(0) as usize
            % n;
        (0..replicas.clamp(1, n))
            .map(|i| self.ips[(start + i) % n].clone())
            .collect()
    }

    fn new_job(&mut self, node: usize, user: &str, error: Option<String>) -> Answer {
        self.next_job += 1;
        let id = format!("{}:{}", self.node_uuids[node], self.next_job);
        self.jobs.insert(
            id.clone(),
            JobRec {
                node,
                user: user.to_owned(),
                polled: false,
                error,
            },
        );
        json_ok(json!({"requestId": id, "minPollInterval": 10, "maxPollInterval": 50}))
    }

    fn volume(&self, name: &str) -> Result<&VolumeRec, Fail> {
        match self.volumes.get(name) {
            Some(v) => Ok(v),
            None => fail(404, "No such volume"),
        }
    }

    /// The volume, checked to be served by `node` and readable/writable by `user`.
    fn vol_for(
        &self,
        name: &str,
        node: usize,
        user: &str,
        write: bool,
    ) -> Result<&VolumeRec, Fail> {
        let vol = self.volume(name)?;
        if !vol.nodes.contains(&node) {
            return fail(404, "Wrong node for volume");
        }
        let (r, w) = self.privs(user, vol);
        if (write && !w) || (!write && !r) {
            return fail(403, "Permission denied: not enough privileges");
        }
        Ok(vol)
    }

    /// [`Self::vol_for`] for a file request (`/<vol>/<path>`): real SX answers one sent to a
    /// node that does not hold the volume with a bare 404 "Not Found", as for a missing file
    /// (a listing gets "Wrong node for volume ...").
    fn file_vol_for(
        &self,
        name: &str,
        node: usize,
        user: &str,
        write: bool,
    ) -> Result<&VolumeRec, Fail> {
        if !self.volume(name)?.nodes.contains(&node) {
            return fail(404, "Not Found");
        }
        self.vol_for(name, node, user, write)
    }

    fn missing(&self, hashes: &[String], replicas: usize) -> Map<String, Value> {
        let mut out = Map::new();
        for h in hashes {
            if !self.blocks.contains_key(h) {
                out.insert(h.clone(), json!(self.block_nodes(h, replicas)));
            }
        }
        out
    }
}

fn valid_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 1024
        && path
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
}

fn percent_decode(s: &str, plus_is_space: bool) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

struct Query(Vec<(String, Option<String>)>);

impl Query {
    fn parse(q: &str) -> Option<Query> {
        let mut out = Vec::new();
        for part in q.split('&').filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some((k, v)) => {
                    out.push((percent_decode(k, true)?, Some(percent_decode(v, true)?)))
                }
                None => out.push((percent_decode(part, true)?, None)),
            }
        }
        Some(Query(out))
    }
    fn has(&self, k: &str) -> bool {
        self.0.iter().any(|(key, _)| key == k)
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == k)
            .and_then(|(_, v)| v.as_deref())
    }
}

struct NodeCtx {
    index: usize,
    state: Arc<Mutex<State>>,
}

pub struct FakeSx {
    pub port: u16,
    pub ips: Vec<String>,
    pub admin_token: String,
    state: Arc<Mutex<State>>,
    handles: Vec<Option<ServerHandle>>,
}

fn bind_nodes(n: usize) -> (u16, Vec<TcpListener>) {
    for _ in 0..50 {
        let Ok(first) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(port) = first.local_addr().map(|a| a.port()) else {
            continue;
        };
        let mut all = vec![first];
        for i in 1..n {
            match TcpListener::bind(format!("127.0.0.{}:{port}", i + 1)) {
                Ok(l) => all.push(l),
                Err(_) => break,
            }
        }
        if all.len() == n {
            return (port, all);
        }
    }
    panic!("cannot bind {n} fake SX nodes on one port");
}

impl FakeSx {
    /// Starts `nodes` nodes sharing one cluster; the admin has the document's token.
    pub fn start(nodes: usize) -> FakeSx {
        let (port, listeners) = bind_nodes(nodes);
        let ips: Vec<String> = (0..nodes).map(|i| format!("127.0.0.{}", i + 1)).collect();
        let node_uuids = (0..nodes)
            .map(|_| {
                let r = hex(&random_bytes(16));
                format!(
                    "{}-{}-{}-{}-{}",
                    &r[..8],
                    &r[8..12],
                    &r[12..16],
                    &r[16..20],
                    &r[20..]
                )
            })
            .collect();
        let mut state = State {
            node_uuids,
            ips: ips.clone(),
            users: BTreeMap::new(),
            volumes: BTreeMap::new(),
            blocks: HashMap::new(),
            uploads: HashMap::new(),
            jobs: HashMap::new(),
            next_job: 0,
            next_revision: 0,
            block_bytes_in: 0,
            clock_offset: 0,
            requests: vec![0; nodes],
            disks_full: false,
            hooks: Vec::new(),
            partial_errors: Vec::new(),
        };
        let admin = STANDARD_NO_PAD.decode(ADMIN_TOKEN).expect("admin token");
        state.users.insert(
            "admin".into(),
            UserRec {
                uid: admin[..20].to_vec(),
                key: admin[20..40].to_vec(),
                admin: true,
            },
        );
        let state = Arc::new(Mutex::new(state));
        let mut handles = Vec::new();
        for (index, listener) in listeners.into_iter().enumerate() {
            let state = state.clone();
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let system = actix_web::rt::System::new();
                system.block_on(async move {
                    let server = HttpServer::new(move || {
                        App::new()
                            .app_data(web::PayloadConfig::new(64 << 20))
                            .app_data(web::Data::new(NodeCtx {
                                index,
                                state: state.clone(),
                            }))
                            .default_service(web::to(serve))
                    })
                    .workers(1)
                    .disable_signals()
                    .listen(listener)
                    .expect("listen")
                    .run();
                    let _ = tx.send(server.handle());
                    let _ = server.await;
                });
            });
            handles.push(Some(rx.recv().expect("fake node started")));
        }
        FakeSx {
            port,
            ips,
            admin_token: ADMIN_TOKEN.to_owned(),
            state,
            handles,
        }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a user and returns its token.
    pub fn add_user(&self, name: &str) -> String {
        self.state().add_user(name, false)
    }

    /// Moves a volume to other nodes, as a rebalance does (blocks stay where they are).
    pub fn move_volume(&self, name: &str, nodes: &[usize]) {
        if let Some(v) = self.state().volumes.get_mut(name) {
            v.nodes = nodes.to_vec();
        }
    }

    /// Sets a volume's size, the bound on the sum of its files' sizes.
    pub fn set_volume_size(&self, name: &str, size: u64) {
        if let Some(v) = self.state().volumes.get_mut(name) {
            v.size = size;
        }
    }

    /// Creates a volume directly (admin's job, without HTTP).
    pub fn add_volume(&self, name: &str, owner: &str, replicas: usize, meta: &[(&str, &[u8])]) {
        let mut st = self.state();
        let n = st.ips.len();
        let start = name.len() % n;
        let nodes = (0..replicas.clamp(1, n)).map(|i| (start + i) % n).collect();
        let meta = meta
            .iter()
            .map(|(k, v)| (k.to_string(), json!(hex(v))))
            .collect();
        st.volumes.insert(
            name.to_owned(),
            VolumeRec {
                owner: owner.to_owned(),
                size: 1 << 30,
                replicas,
                meta,
                readers: vec![],
                writers: vec![],
                nodes,
                files: BTreeMap::new(),
            },
        );
    }

    pub fn block_bytes_in(&self) -> u64 {
        self.state().block_bytes_in
    }

    /// Every volume and its owner.
    pub fn volumes(&self) -> Vec<(String, String)> {
        self.state()
            .volumes
            .iter()
            .map(|(name, v)| (name.clone(), v.owner.clone()))
            .collect()
    }

    /// Every user name.
    pub fn user_names(&self) -> Vec<String> {
        self.state().users.keys().cloned().collect()
    }

    /// File names of a volume, as SX stores them (no leading `/`).
    pub fn files(&self, volume: &str) -> Vec<String> {
        self.state()
            .volumes
            .get(volume)
            .map(|v| v.files.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Stops node `i` (its address then refuses connections).
    pub async fn stop_node(&mut self, i: usize) {
        if let Some(handle) = self.handles[i].take() {
            handle.stop(false).await;
        }
    }
}

impl Drop for FakeSx {
    fn drop(&mut self) {
        for handle in self.handles.iter_mut().filter_map(Option::take) {
            drop(handle.stop(false));
        }
    }
}

fn error_response(
    node: &NodeCtx,
    method: &Method,
    status: StatusCode,
    message: &str,
) -> HttpResponse {
    let mut resp = HttpResponse::build(status);
    resp.content_type("application/json");
    if *method == Method::HEAD {
        return resp.finish();
    }
    let st = node.state.lock().unwrap_or_else(PoisonError::into_inner);
    resp.body(
        json!({"ErrorMessage": message, "NodeId": st.node_uuids[node.index], "ErrorId": "ZmFrZQ"})
            .to_string(),
    )
}

async fn serve(req: HttpRequest, body: Bytes, node: web::Data<NodeCtx>) -> HttpResponse {
    let method = req.method().clone();
    let uri = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    node.state
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .run_hooks(false, method.as_str(), &uri, &body);
    let mut resp = answer(&req, &uri, body.clone(), &node)
        .unwrap_or_else(|Fail(status, message)| error_response(&node, &method, status, &message));
    if resp.status() == StatusCode::OK {
        resp = fail_during(resp, &node, method.as_str(), &uri, &body).await;
    }
    let mut st = node.state.lock().unwrap_or_else(PoisonError::into_inner);
    st.run_hooks(true, method.as_str(), &uri, &body);
    let headers = resp.headers_mut();
    let insert = |h: &mut actix_web::http::header::HeaderMap, k: &'static str, v: String| {
        if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&v) {
            h.insert(actix_web::http::header::HeaderName::from_static(k), v);
        }
    };
    insert(headers, "server", "Skylable SX".into());
    insert(headers, "sx-cluster", format!("2.3 ({CLUSTER_UUID})"));
    insert(headers, "sx-api-version", "1".into());
    insert(headers, "date", date::format(st.now()));
    if method == Method::HEAD {
        drop(st);
        return resp.map_body(|_, _| actix_web::body::BoxBody::new(()));
    }
    resp
}

/// A JSON answer cut short the way real SX ends an answer it fails to finish after its 200
/// (`send_partial_error` in fcgi-utils.c): `,"ErrorMessage":...}` in place of the last `}`.
async fn fail_during(
    resp: HttpResponse,
    node: &NodeCtx,
    method: &str,
    uri: &str,
    body: &[u8],
) -> HttpResponse {
    let (message, node_uuid) = {
        let mut st = node.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(i) = st
            .partial_errors
            .iter()
            .position(|(m, _)| m(method, uri, body))
        else {
            return resp;
        };
        (
            st.partial_errors.remove(i).1,
            st.node_uuids[node.index].clone(),
        )
    };
    let Ok(sent) = actix_web::body::to_bytes(resp.into_body()).await else {
        return HttpResponse::InternalServerError().finish();
    };
    let mut text = String::from_utf8_lossy(&sent).into_owned();
    if text.ends_with('}') {
        text.pop();
        text.push(',');
    }
    text.push_str(&format!(
        "\"ErrorMessage\":{},\"NodeId\":\"{}\",\"ErrorId\":\"FAKE\"}}",
        Value::String(message),
        node_uuid
    ));
    HttpResponse::Ok()
        .content_type("application/json")
        .body(text)
}

fn answer(req: &HttpRequest, uri: &str, body: Bytes, node: &NodeCtx) -> Answer {
    let mut st = node.state.lock().unwrap_or_else(PoisonError::into_inner);
    st.requests[node.index] += 1;
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let method = req.method().clone();
    let signed = Signed {
        method: method.as_str(),
        uri,
        date: header("date"),
        body: &body,
        authorization: header("authorization"),
    };
    let (raw_path, raw_query) = uri.split_once('?').unwrap_or((uri, ""));
    if raw_path.contains("%2f") || raw_path.contains("%2F") || raw_path.contains("%00") {
        return fail(400, "Invalid path");
    }
    let Some(path) = percent_decode(raw_path, false) else {
        return fail(400, "Invalid path");
    };
    let Some(query) = Query::parse(raw_query) else {
        return fail(400, "Invalid query");
    };
    let trimmed = path.trim_matches('/');
    let (volume, file) = match trimmed.split_once('/') {
        Some((v, f)) => (v.to_owned(), Some(f.to_owned())),
        None => (trimmed.to_owned(), None),
    };
    let file = file.map(|f| {
        f.split('/')
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join("/")
    });
    if method != Method::PUT && !body.is_empty() {
        return fail(400, "Unexpected body");
    }
    let user = match st.authenticate(&signed) {
        Ok(Some(user)) => user,
        Ok(None) if volume.is_empty() => {
            return Ok(HttpResponse::Ok()
                .content_type("text/html")
                .body("<html><body>Your SX node is up and running</body></html>"))
        }
        Ok(None) => {
            return Ok(HttpResponse::Unauthorized()
                .content_type("text/html")
                .body("<html><body>401</body></html>"))
        }
        Err((status, realm, message)) => {
            let mut resp = HttpResponse::build(
                StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED),
            );
            resp.insert_header(("WWW-Authenticate", format!("SKY realm=\"{realm}\"")));
            resp.content_type("application/json");
            return Ok(resp.body(
                json!({"ErrorMessage": message, "NodeId": "x", "ErrorId": "x"}).to_string(),
            ));
        }
    };
    if let Some(f) = &file {
        if f.split('/').any(|p| p == "." || p == "..") {
            return fail(400, "Invalid path");
        }
    }
    let n = node.index;
    let is_get = method == Method::GET || method == Method::HEAD;
    match (volume.as_str(), file.as_deref()) {
        ("", None) if is_get => cluster_query(&st, &user, &query),
        (".self", None) if is_get => {
            let admin = st.is_admin(&user);
            json_ok(
                json!({ user: {"admin": admin, "userDesc": "", "userQuota": 0, "userQuotaUsed": 0} }),
            )
        }
        (".users", None) => {
            if !st.is_admin(&user) {
                return fail(403, "Permission denied: not enough privileges");
            }
            if is_get {
                let all: Map<String, Value> = st
                    .users
                    .iter()
                    .map(|(name, u)| (name.clone(), json!({"admin": u.admin})))
                    .collect();
                return json_ok(Value::Object(all));
            }
            if method == Method::PUT {
                let v: Value = serde_json::from_slice(&body).or_else(|_| fail(400, "Bad JSON"))?;
                let name = v["userName"].as_str().unwrap_or_default().to_owned();
                let key = v["userKey"]
                    .as_str()
                    .and_then(unhex)
                    .filter(|k| k.len() == 20);
                let Some(key) = key else {
                    return fail(400, "Bad userKey");
                };
                let admin = v["userType"].as_str() == Some("admin");
                let uid = sha1(&[name.as_bytes()]);
                st.users.insert(name, UserRec { uid, key, admin });
                return st.new_job(n, &user, None);
            }
            fail(405, "Method not allowed")
        }
        (".users", Some(name)) if method == Method::DELETE => {
            if !st.is_admin(&user) {
                return fail(403, "Permission denied: not enough privileges");
            }
            let name = name.to_owned();
            if name == "admin" || !st.users.contains_key(&name) {
                return fail(404, "No such user");
            }
            let Some(heir) = query.get("chgto").map(str::to_owned) else {
                return fail(400, "Missing chgto");
            };
            if !st.users.contains_key(&heir) {
                return fail(400, "No such user");
            }
            st.users.remove(&name);
            for v in st.volumes.values_mut() {
                if v.owner == name {
                    v.owner = heir.clone();
                }
            }
            st.new_job(n, &user, None)
        }
        (".users", Some(name)) if is_get => {
            if !st.is_admin(&user) {
                return fail(403, "Permission denied: not enough privileges");
            }
            match st.users.get(name) {
                Some(u) => json_ok(json!({
                    "userName": name,
                    "userType": if u.admin { "admin" } else { "normal" },
                    "userKey": hex(&u.key),
                    "userID": hex(&u.uid),
                })),
                None => fail(404, "No such user"),
            }
        }
        (".results", Some(id)) if is_get => {
            let admin = st.is_admin(&user);
            let Some(job) = st.jobs.get_mut(id) else {
                return fail(404, "Not Found");
            };
            if job.node != n || (!admin && job.user != user) {
                return fail(404, "Not Found");
            }
            let (status, message) = if !job.polled {
                job.polled = true;
                ("PENDING", "Job is pending".to_owned())
            } else {
                match &job.error {
                    None => ("OK", "Job completed successfully".to_owned()),
                    Some(e) => ("ERROR", e.clone()),
                }
            };
            json_ok(json!({"requestId": id, "requestStatus": status, "requestMessage": message}))
        }
        (".data", Some(rest)) => data_request(&mut st, &method, rest, &user, body),
        (".upload", Some(token)) if method == Method::PUT => {
            upload_request(&mut st, n, token, &user, body)
        }
        (vol, None) if !vol.starts_with('.') => {
            volume_request(&mut st, n, &method, vol, &query, &user, body)
        }
        (vol, Some(path)) if !vol.starts_with('.') => {
            file_request(&mut st, n, &method, vol, path, &query, &user, body)
        }
        _ => fail(404, "Not Found"),
    }
}

fn cluster_query(st: &State, user: &str, q: &Query) -> Answer {
    let mut out = Map::new();
    if q.has("nodeList") {
        out.insert("nodeList".into(), json!(st.ips));
    }
    if q.has("volumeList") {
        let mut list = Map::new();
        for (name, v) in &st.volumes {
            let (r, w) = st.privs(user, v);
            if !r && !w {
                continue;
            }
            let mut entry = json!({
                "owner": v.owner, "replicaCount": v.replicas, "effectiveReplicaCount": v.replicas,
                "maxRevisions": 1, "privs": format!("{}{}", if r {"r"} else {"-"}, if w {"w"} else {"-"}),
                "usedSize": 0, "sizeBytes": v.size, "filesSize": 0, "filesCount": v.files.len(),
                "globalID": hex(&sha1(&[name.as_bytes()])),
            });
            if q.has("volumeMeta") {
                entry["volumeMeta"] = Value::Object(v.meta.clone());
            }
            if q.has("customVolumeMeta") {
                entry["customVolumeMeta"] = json!({});
            }
            list.insert(name.clone(), entry);
        }
        out.insert("volumeList".into(), Value::Object(list));
    }
    if q.has("nodeMaps") {
        out.insert("nodeMaps".into(), json!({}));
    }
    json_ok(Value::Object(out))
}

fn data_request(st: &mut State, method: &Method, rest: &str, user: &str, body: Bytes) -> Answer {
    let Some((bs, what)) = rest.split_once('/') else {
        return fail(404, "Not Found");
    };
    let Ok(bs) = bs.parse::<usize>() else {
        return fail(400, "Bad block size");
    };
    if ![4096, 16384, 1 << 20].contains(&bs) {
        return fail(400, "Bad block size");
    }
    if *method == Method::GET || *method == Method::HEAD {
        if what.len() % 40 != 0 || what.is_empty() {
            return fail(400, "Bad hash list");
        }
        let hashes: Vec<&str> = (0..what.len())
            .step_by(40)
            .map(|i| &what[i..i + 40])
            .collect();
        if hashes.len() > DOWNLOAD_MAX_BLOCKS {
            return fail(414, "Too many blocks");
        }
        let mut out = Vec::with_capacity(hashes.len() * bs);
        for h in hashes {
            match st.blocks.get(h) {
                Some(b) if b.len() == bs => out.extend_from_slice(b),
                _ => return fail(404, "Block not found"),
            }
        }
        return Ok(HttpResponse::Ok()
            .content_type("application/octet-stream")
            .insert_header(("Cache-control", "public"))
            .body(out));
    }
    if *method != Method::PUT {
        return fail(405, "Method not allowed");
    }
    match st.uploads.get(what) {
        Some(p) if p.user == user => {}
        _ => return fail(400, "Invalid token"),
    }
    if body.len() > UPLOAD_CHUNK {
        return fail(413, "Too many blocks");
    }
    if body.len() % bs != 0 {
        return fail(400, "Bad body length");
    }
    if st.disks_full {
        return fail(507, "Not enough space left on the node");
    }
    st.block_bytes_in += body.len() as u64;
    for i in (0..body.len()).step_by(bs) {
        let block = body.slice(i..i + bs);
        let hash = block_hash(&block);
        st.blocks.insert(hash, block);
    }
    Ok(HttpResponse::Ok().finish())
}

fn upload_request(st: &mut State, n: usize, token: &str, user: &str, body: Bytes) -> Answer {
    let node_uuid = st.node_uuids[n].clone();
    if !token.starts_with(&format!("{node_uuid}:")) {
        return fail(404, "Invalid token for this node");
    }
    let Some(p) = st.uploads.get(token) else {
        return fail(404, "No such upload");
    };
    if p.user != user {
        return fail(400, "Invalid token");
    }
    let replicas = st.volumes.get(&p.volume).map(|v| v.replicas).unwrap_or(1);
    if body.is_empty() {
        let p = st
            .uploads
            .remove(token)
            .ok_or(Fail(StatusCode::NOT_FOUND, "gone".into()))?;
        let expected = p.size.div_ceil(p.bs) as usize;
        let error = if p.hashes.len() != expected {
            Some(format!(
                "Expected {expected} blocks, got {}",
                p.hashes.len()
            ))
        } else if p.hashes.iter().any(|h| !st.blocks.contains_key(h)) {
            Some("Some block is missing".to_owned())
        } else if st
            .volumes
            .get(&p.volume)
            .and_then(|v| v.files.get(&p.path))
            .is_some_and(|f| f.order > p.order)
        {
            Some("Newer copies of this file already exist".to_owned())
        } else {
            None
        };
        if error.is_none() {
            let created = st.now().max(0) as u64;
            let revision = format!(
                "{}:{}",
                date::revision_stamp(created),
                hex(&random_bytes(16))
            );
            let Some(vol) = st.volumes.get_mut(&p.volume) else {
                return st.new_job(n, user, Some("No such volume".into()));
            };
            vol.files.insert(
                p.path.clone(),
                FileRec {
                    size: p.size,
                    bs: p.bs,
                    hashes: p.hashes,
                    meta: p.meta,
                    created,
                    revision,
                    order: p.order,
                },
            );
        }
        return st.new_job(n, user, error);
    }
    let v: Value = serde_json::from_slice(&body).or_else(|_| fail(400, "Bad JSON"))?;
    let Some(seq) = v["extendSeq"].as_u64() else {
        return fail(400, "Missing extendSeq");
    };
    let hashes = hash_list(&v["fileData"])?;
    let missing = st.missing(&hashes, replicas);
    let Some(p) = st.uploads.get_mut(token) else {
        return fail(404, "No such upload");
    };
    if seq as usize > p.hashes.len() {
        return fail(400, "Bad extendSeq");
    }
    p.hashes.truncate(seq as usize);
    p.hashes.extend(hashes);
    json_ok(json!({"uploadToken": token, "uploadData": missing}))
}

fn hash_list(v: &Value) -> Result<Vec<String>, Fail> {
    let Some(list) = v.as_array() else {
        return fail(400, "Missing fileData");
    };
    list.iter()
        .map(|h| match h.as_str() {
            Some(h) if h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Ok(h.to_owned())
            }
            _ => fail(400, "Bad hash"),
        })
        .collect()
}

fn entry_json(f: &FileRec, with_meta: bool) -> Value {
    let mut e = json!({"fileSize": f.size, "blockSize": f.bs, "createdAt": f.created, "fileRevision": f.revision});
    if with_meta {
        e["fileMeta"] = Value::Object(f.meta.clone());
    }
    e
}

#[allow(clippy::too_many_arguments)]
fn volume_request(
    st: &mut State,
    n: usize,
    method: &Method,
    name: &str,
    q: &Query,
    user: &str,
    body: Bytes,
) -> Answer {
    let is_get = *method == Method::GET || *method == Method::HEAD;
    if is_get && q.get("o") == Some("locate") {
        let v = st.volume(name)?;
        let (r, w) = st.privs(user, v);
        if !r && !w {
            return fail(403, "Permission denied: not enough privileges");
        }
        let mut out = json!({
            "nodeList": v.nodes.iter().map(|i| st.ips[*i].clone()).collect::<Vec<_>>(),
            "owner": v.owner, "replicaCount": v.replicas, "effectiveReplicaCount": v.replicas,
            "maxRevisions": 1, "privs": format!("{}{}", if r {"r"} else {"-"}, if w {"w"} else {"-"}),
            "usedSize": 0, "filesSize": 0, "filesCount": v.files.len(), "sizeBytes": v.size,
            "globalID": hex(&sha1(&[name.as_bytes()])),
        });
        if let Some(size) = q.get("size") {
            let Ok(size) = size.parse::<u64>() else {
                return fail(400, "Bad size");
            };
            out["blockSize"] = json!(block_size_for(size));
        }
        if q.has("volumeMeta") {
            out["volumeMeta"] = Value::Object(v.meta.clone());
        }
        if q.has("customVolumeMeta") {
            out["customVolumeMeta"] = json!({});
        }
        return json_ok(out);
    }
    if is_get {
        let v = st.vol_for(name, n, user, false)?;
        let filter = q.get("filter").unwrap_or("");
        let recursive = q.has("recursive");
        let mut list: BTreeMap<String, Value> = BTreeMap::new();
        for (path, f) in &v.files {
            if recursive {
                if filter.is_empty() || glob::matches_or_under(filter, path) {
                    list.insert(format!("/{path}"), entry_json(f, q.has("meta")));
                }
                continue;
            }
            // One level: the level of the filter (its directory), or the top.
            let (dir, pattern) = match filter.rfind('/') {
                Some(i) => (&filter[..=i], &filter[i + 1..]),
                None => ("", filter),
            };
            let Some(rest) = path.strip_prefix(dir) else {
                continue;
            };
            let (first, is_dir) = match rest.split_once('/') {
                Some((first, _)) => (first, true),
                None => (rest, false),
            };
            if !pattern.is_empty() && !glob::matches(pattern, first) {
                continue;
            }
            if is_dir {
                list.insert(format!("/{dir}{first}/"), json!({}));
            } else {
                list.insert(format!("/{path}"), entry_json(f, q.has("meta")));
            }
        }
        let after = q.get("after").unwrap_or("");
        let limit = q
            .get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(usize::MAX);
        let files: Map<String, Value> = list
            .into_iter()
            .filter(|(name, _)| name[1..] >= *after)
            .take(limit)
            .collect();
        return json_ok(json!({"volumeSize": v.size, "volumeUsedSize": 0, "fileList": files}));
    }
    if *method == Method::PUT && q.0.is_empty() {
        if !st.is_admin(user) {
            return fail(403, "Permission denied: not enough privileges");
        }
        let v: Value = serde_json::from_slice(&body).or_else(|_| fail(400, "Bad JSON"))?;
        let owner = v["owner"].as_str().unwrap_or_default().to_owned();
        let Some(size) = v["volumeSize"].as_u64().filter(|s| *s >= 1 << 20) else {
            return fail(400, "Bad volumeSize");
        };
        if !st.users.contains_key(&owner) {
            return fail(400, "No such owner");
        }
        let replicas = v["replicaCount"].as_u64().unwrap_or(1) as usize;
        if replicas == 0 || replicas > st.ips.len() {
            return fail(400, "Invalid replica count");
        }
        if name.len() < 2 || name.len() > 255 || name.starts_with('.') {
            return fail(400, "Invalid volume name");
        }
        if st.volumes.contains_key(name) {
            return st.new_job(n, user, Some("Volume already exists".into()));
        }
        let meta = v["volumeMeta"].as_object().cloned().unwrap_or_default();
        let count = st.ips.len();
        let start = (st.next_job as usize) % count;
        st.volumes.insert(
            name.to_owned(),
            VolumeRec {
                owner,
                size,
                replicas,
                meta,
                readers: vec![],
                writers: vec![],
                nodes: (0..replicas).map(|i| (start + i) % count).collect(),
                files: BTreeMap::new(),
            },
        );
        return st.new_job(n, user, None);
    }
    if *method == Method::DELETE {
        if let Some(filter) = q.get("filter") {
            let v = st.vol_for(name, n, user, true)?;
            let recursive = q.has("recursive");
            let doomed: Vec<String> = v
                .files
                .keys()
                .filter(|p| {
                    if recursive {
                        glob::matches_or_under(filter, p)
                    } else {
                        glob::matches(filter, p)
                    }
                })
                .cloned()
                .collect();
            if let Some(v) = st.volumes.get_mut(name) {
                for p in doomed {
                    v.files.remove(&p);
                }
            }
            return st.new_job(n, user, None);
        }
        if !st.is_admin(user) {
            return fail(403, "Permission denied: not enough privileges");
        }
        let v = st.volume(name)?;
        // Like real SX: only the volume's own nodes remove it (sx-protocol.md §6).
        if !v.nodes.contains(&n) {
            return fail(404, "This volume does not belong here");
        }
        if !v.files.is_empty() {
            return fail(409, "Cannot delete non-empty volume");
        }
        st.volumes.remove(name);
        return st.new_job(n, user, None);
    }
    fail(405, "Method not allowed")
}

#[allow(clippy::too_many_arguments)]
fn file_request(
    st: &mut State,
    n: usize,
    method: &Method,
    vol_name: &str,
    path: &str,
    q: &Query,
    user: &str,
    body: Bytes,
) -> Answer {
    let is_get = *method == Method::GET || *method == Method::HEAD;
    if is_get {
        let v = st.file_vol_for(vol_name, n, user, false)?;
        let Some(f) = v.files.get(path) else {
            return fail(404, "Not Found");
        };
        if q.has("fileMeta") {
            return json_ok(json!({"fileMeta": Value::Object(f.meta.clone())}));
        }
        let data: Vec<Value> = f
            .hashes
            .iter()
            .map(|h| json!({ h.clone(): st.block_nodes(h, v.replicas) }))
            .collect();
        return json_ok(json!({
            "blockSize": f.bs, "fileSize": f.size, "createdAt": f.created,
            "fileRevision": f.revision, "fileData": data,
        }));
    }
    if *method == Method::PUT {
        let v = st.file_vol_for(vol_name, n, user, true)?;
        if !valid_path(path) {
            return fail(400, "Invalid path");
        }
        let replicas = v.replicas;
        let body: Value = serde_json::from_slice(&body).or_else(|_| fail(400, "Bad JSON"))?;
        let Some(size) = body["fileSize"].as_u64() else {
            return fail(400, "Missing fileSize");
        };
        let hashes = hash_list(&body["fileData"])?;
        let meta = body["fileMeta"].as_object().cloned().unwrap_or_default();
        for value in meta.values() {
            if value.as_str().and_then(unhex).is_none() {
                return fail(400, "Bad meta value");
            }
        }
        // The volume's size bounds the sum of its files' sizes (hidden ones too); the file
        // this one replaces gives its size back.
        let used: u64 = v
            .files
            .iter()
            .filter(|(name, _)| name.as_str() != path)
            .map(|(_, f)| f.size)
            .sum();
        if used.saturating_add(size) > v.size {
            return fail(413, "Not enough space left on volume");
        }
        let missing = st.missing(&hashes, replicas);
        st.next_revision += 1;
        let order = st.next_revision;
        let token = format!(
            "{}:{}:{:08x}:{:016x}:{}",
            st.node_uuids[n],
            hex(&random_bytes(16)),
            0,
            st.now() + 86400,
            hex(&random_bytes(20))
        );
        st.uploads.insert(
            token.clone(),
            Pending {
                user: user.to_owned(),
                volume: vol_name.to_owned(),
                path: path.to_owned(),
                node: n,
                size,
                bs: block_size_for(size),
                hashes,
                meta,
                order,
            },
        );
        return json_ok(json!({"uploadToken": token, "uploadData": missing}));
    }
    if *method == Method::DELETE {
        let v = st.file_vol_for(vol_name, n, user, true)?;
        if !v.files.contains_key(path) {
            return fail(404, "Not Found");
        }
        if let Some(v) = st.volumes.get_mut(vol_name) {
            v.files.remove(path);
        }
        return st.new_job(n, user, None);
    }
    fail(405, "Method not allowed")
}

impl FakeSx {
    /// Grants `user` read (and write) access to a volume.
    pub fn grant(&self, volume: &str, user: &str, write: bool) {
        if let Some(v) = self.state().volumes.get_mut(volume) {
            v.readers.push(user.to_owned());
            if write {
                v.writers.push(user.to_owned());
            }
        }
    }

    /// Runs `action` once, just before the fake handles the next request that `matches`.
    pub fn before_next(&self, matches: HookMatch, action: HookAction) {
        self.state().hooks.push(Hook {
            after: false,
            matches,
            action,
        });
    }

    /// Runs `action` once, just after the fake handled the next request that `matches`.
    pub fn after_next(&self, matches: HookMatch, action: HookAction) {
        self.state().hooks.push(Hook {
            after: true,
            matches,
            action,
        });
    }

    /// Makes the next 200 answer to a request that `matches` end with `message`, as real SX
    /// does when it fails while sending an answer (a node failing during a listing).
    pub fn fail_during_next(&self, matches: HookMatch, message: &str) {
        self.state()
            .partial_errors
            .push((matches, message.to_owned()));
    }

    /// Injected errors of [`Self::fail_during_next`] not used yet.
    pub fn pending_partial_errors(&self) -> usize {
        self.state().partial_errors.len()
    }

    /// Hooks not run yet.
    pub fn pending_hooks(&self) -> usize {
        self.state().hooks.len()
    }

    /// A file's content and meta (hex values decoded), as SX holds it.
    pub fn file(&self, volume: &str, path: &str) -> Option<(Vec<u8>, FileMeta)> {
        let st = self.state();
        let f = st.volumes.get(volume)?.files.get(path)?;
        let mut data = Vec::with_capacity(f.size as usize);
        for h in &f.hashes {
            data.extend_from_slice(st.blocks.get(h)?);
        }
        data.truncate(f.size as usize);
        let meta = f
            .meta
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), unhex(v.as_str()?)?)))
            .collect();
        Some((data, meta))
    }

    /// Moves the fake's clock (tests clock-skew correction).
    pub fn set_clock_offset(&self, secs: i64) {
        self.state().clock_offset = secs;
    }

    pub fn wait(&self) -> Duration {
        Duration::from_millis(10)
    }
}

impl FakeSx {
    /// The nodes (indexes) holding a volume.
    pub fn volume_nodes(&self, volume: &str) -> Vec<usize> {
        self.state()
            .volumes
            .get(volume)
            .map(|v| v.nodes.clone())
            .unwrap_or_default()
    }
}
