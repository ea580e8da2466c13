//! A fake Skylable SX cluster for tests, following sx-protocol.md §14.
//!
//! Several "nodes" share one in-memory state. Like real SX nodes they are addressed by IP
//! address on one cluster-wide port: node `i` listens on `127.0.0.<i+1>:<port>`, so stopping
//! one tests failover. Requests are SKY-signed and checked (clock skew included); mutations are
//! jobs that answer PENDING on the first poll and their outcome afterwards. The fake counts the
//! block bytes it receives, so tests can prove deduplication.
//!
//! Written from the protocol document only; it shares no code with the client it tests.
//!
//! Here: the cluster's records and shared helpers. `server` starts the nodes, `routing` takes
//! a request to its handler (`volumes`, `files`, `blocks`), `state` holds what the protocol
//! changes, and `control` is what tests do beyond the protocol (hooks, injected faults).

#![allow(dead_code)] // compiled twice: the lib unit tests (src/store/sx/tests) use a subset

mod acl;
mod blocks;
mod control;
mod date;
mod files;
mod glob;
mod routing;
mod server;
mod state;
mod volumes;

use std::collections::{BTreeMap, HashMap};
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::dev::ServerHandle;
use actix_web::http::{Method, StatusCode};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use ring::{digest, hmac};
use serde_json::{json, Map, Value};

// The handlers the modules call across: request routing dispatches to the others.
use acl::{change_acl, list_acl};
use blocks::{data_request, hash_list, upload_request};
use control::fail_during;
use files::file_request;
use routing::{answer, Query};
use volumes::volume_request;

pub use server::FakeSx;

/// How long a mass job runs on the fake whether or not anyone polls it. Real SX runs a job
/// to its end by itself; a small mass delete ends within seconds. A gateway killed between
/// starting one and seeing it end must not leave the volume refusing mass jobs for ever.
const MASS_JOB_RUNS: Duration = Duration::from_secs(2);

/// The cluster UUID of the document's vectors (§4, §7).
pub const CLUSTER_UUID: &str = "e78c2788-5488-4a43-a2c5-5635faa43903";
/// The admin token of the document's vectors (§3).
pub const ADMIN_TOKEN: &str = "0DPiKuNIrrVmD8IUCuw1hQxNqZcoceX1r/QsuVb6pkTJ+F2+D1ckogAA";
const MAX_DRIFT_SECS: i64 = 600;
const UPLOAD_CHUNK: usize = 4 << 20;
const DOWNLOAD_MAX_BLOCKS: usize = 30;
/// SX 2.3's bounds on a volume's size (sxlimits.h).
const MIN_VOLUME_SIZE: u64 = 1 << 20;
const MAX_VOLUME_SIZE: u64 = 1 << 50;
/// What the fake's volumes may add up to (sizes times replicas), as a real cluster's capacity.
const CLUSTER_CAPACITY: u64 = 1 << 40;

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

/// A user's stored rights on a volume (SX's `privs` table). The owner's manage right and an
/// admin's rights come from who they are, not from here.
#[derive(Clone, Copy, Default)]
struct Privs {
    read: bool,
    write: bool,
    manager: bool,
}

impl Privs {
    /// What SX stores for a volume's owner (hashfs.c, volume creation and owner change).
    const OWNER: Privs = Privs {
        read: true,
        write: true,
        manager: false,
    };
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
    /// Each user's stored rights on the volume, the owner's (read and write) included.
    privs: BTreeMap<String, Privs>,
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
    /// The first this many nodes are the cluster's members, listed in `?nodeList`; the
    /// others run but have not joined yet (see [`FakeSx::set_members`]).
    pub members: usize,
    /// The nodes' disks are full: block uploads answer 507.
    pub disks_full: bool,
    /// This many next mass jobs (a DELETE with `filter`) fail as real SX fails one while
    /// another holds the cluster's job lock (`FAIL_LOCKED` in jobmgr.c).
    pub mass_jobs_locked: usize,
    /// Volume -> its mass job and when it started, until a poll sees its end or
    /// [`MASS_JOB_RUNS`] passes: like real SX, the fake refuses another mass job of the volume
    /// meanwhile.
    running_mass_jobs: HashMap<String, (String, Instant)>,
    /// Mass jobs refused because another one of their volume ran.
    pub mass_jobs_overlapping: usize,
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

/// What a node's handler knows: which node it is, and the cluster's shared state.
struct NodeCtx {
    index: usize,
    state: Arc<Mutex<State>>,
}
