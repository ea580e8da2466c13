//! The SX cluster behind an `sx` test server: the fake of `tests/it/sx_fake/` running in the
//! test process, or a real SX cluster when `LIBRES3_TEST_SX_URL` and
//! `LIBRES3_TEST_SX_ADMIN_KEY` are set.
//!
//! The tests reach the cluster only through the SX protocol, with the admin key and a small
//! synchronous client of their own (SKY signing here, HTTP in `raw.rs`, TLS by rustls): users
//! are created with `PUT /.users` as sx-protocol.md §13 describes, so the same code works on
//! the fake and on a real cluster. On a real cluster, what a test server created (its users
//! and their volumes) is removed when the server is dropped.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use ring::{digest, hmac};
use serde_json::Value;

use super::raw::{http_date, parse_response, Response};
use super::{hex, now_secs, random_suffix};
use crate::sx_fake::FakeSx;

/// How often a test's clean-up asks a real cluster to delete a volume before giving up.
const VOLUME_DELETE_ATTEMPTS: u32 = 4;
/// How long it keeps starting a mass delete refused because another holds SX's job lock,
/// which is the whole cluster's: the gateways of the tests running beside it complete and
/// abort multipart uploads (a mass delete of the parts, seconds each).
const MASS_JOB_PATIENCE: Duration = Duration::from_secs(120);

/// Nodes of the fake cluster: enough for per-volume routing to matter.
const FAKE_NODES: usize = 2;
/// Volume size the gateway gives new buckets on a real cluster (`LIBRES3_TEST_SX_VOLUME_SIZE`).
const REAL_VOLUME_SIZE: &str = "512M";

/// Where the SX side of a test server lives.
pub struct SxCluster {
    nodes: Vec<String>,
    port: u16,
    ssl: bool,
    tls: Option<Arc<rustls::ClientConfig>>,
    ca_file: Option<PathBuf>,
    verify_ssl: bool,
    admin_key: String,
    volume_size: Option<String>,
    /// `replica_count` of the gateway's new volumes on a real cluster: 2 when it has two
    /// nodes or more (`LIBRES3_TEST_SX_REPLICA_COUNT` overrides).
    replica_count: Option<usize>,
    /// More `libres3.conf` lines.
    settings: String,
    /// How many of `nodes` the gateway is given as `sx_host` (all when None).
    gateway_hosts: Option<usize>,
    fake: Option<FakeSx>,
    /// Users made by this test (removed with their volumes on a real cluster).
    users: Mutex<Vec<String>>,
}

/// Whether the opt-in real-cluster run is on.
pub fn real_cluster_configured() -> bool {
    std::env::var_os("LIBRES3_TEST_SX_URL").is_some()
        && std::env::var_os("LIBRES3_TEST_SX_ADMIN_KEY").is_some()
}

impl SxCluster {
    /// The real cluster named by the environment, else a new fake one.
    pub fn for_tests() -> SxCluster {
        match (
            std::env::var("LIBRES3_TEST_SX_URL"),
            std::env::var("LIBRES3_TEST_SX_ADMIN_KEY"),
        ) {
            (Ok(url), Ok(key)) => SxCluster::real(&url, key.trim()),
            _ => SxCluster::start_fake(),
        }
    }

    fn start_fake() -> SxCluster {
        SxCluster::on_fake(FakeSx::start(FAKE_NODES))
    }

    /// A cluster made of a fake the test started itself.
    pub fn on_fake(fake: FakeSx) -> SxCluster {
        SxCluster {
            nodes: fake.ips.clone(),
            port: fake.port,
            ssl: false,
            tls: None,
            ca_file: None,
            verify_ssl: true,
            admin_key: fake.admin_token.clone(),
            volume_size: None,
            replica_count: None,
            settings: String::new(),
            gateway_hosts: None,
            fake: Some(fake),
            users: Mutex::new(Vec::new()),
        }
    }

    /// A cluster reached as a real one: through `url` only, cleaned up when dropped.
    pub fn real(url: &str, key: &str) -> SxCluster {
        let (ssl, rest) = match url.split_once("://") {
            Some(("https", rest)) => (true, rest),
            Some(("http", rest)) => (false, rest),
            _ => panic!("LIBRES3_TEST_SX_URL must be http://NODE[:PORT] or https://NODE[:PORT]"),
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => (
                h.trim_matches(|c| c == '[' || c == ']').to_string(),
                p.parse()
                    .expect("LIBRES3_TEST_SX_URL: the port is not a number"),
            ),
            _ => (rest.to_string(), if ssl { 443 } else { 80 }),
        };
        let ca_file = std::env::var_os("LIBRES3_TEST_SX_CA_FILE").map(PathBuf::from);
        let verify_ssl = std::env::var("LIBRES3_TEST_SX_VERIFY_SSL").as_deref() != Ok("no");
        let tls = ssl.then(|| tls_config(ca_file.as_ref(), verify_ssl));
        let mut cluster = SxCluster {
            nodes: vec![host],
            port,
            ssl,
            tls,
            ca_file,
            verify_ssl,
            admin_key: key.to_string(),
            volume_size: Some(
                std::env::var("LIBRES3_TEST_SX_VOLUME_SIZE")
                    .unwrap_or_else(|_| REAL_VOLUME_SIZE.to_string()),
            ),
            replica_count: None,
            settings: String::new(),
            gateway_hosts: None,
            fake: None,
            users: Mutex::new(Vec::new()),
        };
        cluster.replica_count = Some(match std::env::var("LIBRES3_TEST_SX_REPLICA_COUNT") {
            Ok(n) => n
                .parse()
                .expect("LIBRES3_TEST_SX_REPLICA_COUNT is not a number"),
            Err(_) => cluster.node_count().clamp(1, 2),
        });
        cluster
    }

    /// Sets the replica count of the gateway's new volumes.
    pub fn with_replica_count(mut self, n: usize) -> SxCluster {
        self.replica_count = Some(n);
        self
    }

    /// The replica count of the gateway's new volumes (1 on the fake), for volumes a test
    /// makes itself.
    pub fn replica_count(&self) -> usize {
        self.replica_count.unwrap_or(1)
    }

    /// How many nodes the cluster has (`GET /?nodeList`).
    pub fn node_count(&self) -> usize {
        let answer = self.admin("GET", "/?nodeList", b"");
        let v: Value = serde_json::from_slice(&answer.response.body).unwrap_or_else(|e| {
            panic!("SX /?nodeList: {e}: {}", answer.response.text());
        });
        v["nodeList"].as_array().map_or(0, Vec::len)
    }

    /// The fake cluster, when this is one (tests that stop nodes or count bytes).
    pub fn fake(&self) -> Option<&FakeSx> {
        self.fake.as_ref()
    }

    pub fn fake_mut(&mut self) -> Option<&mut FakeSx> {
        self.fake.as_mut()
    }

    /// A real cluster reached over HTTPS with a CA file: its first node, port and CA file.
    pub fn real_https(&self) -> Option<(&str, u16, &PathBuf)> {
        match (&self.fake, self.ssl, &self.ca_file) {
            (None, true, Some(ca)) => Some((self.nodes[0].as_str(), self.port, ca)),
            _ => None,
        }
    }

    /// The admin key the gateway is given.
    pub fn admin_key(&self) -> &str {
        &self.admin_key
    }

    /// The `libres3.conf` lines of the SX backend for this cluster.
    /// The `volume_size` the gateway creates buckets with.
    pub fn with_volume_size(mut self, size: &str) -> SxCluster {
        self.volume_size = Some(size.to_owned());
        self
    }

    /// Gives the gateway only the first `n` nodes as `sx_host`.
    pub fn with_hosts(mut self, n: usize) -> SxCluster {
        self.gateway_hosts = Some(n);
        self
    }

    /// Adds `key = value` to the gateway's `libres3.conf`.
    pub fn with_setting(mut self, key: &str, value: &str) -> SxCluster {
        self.settings.push_str(&format!("{key} = {value}\n"));
        self
    }

    pub fn config(&self) -> String {
        let mut c = format!(
            "backend = sx\nsx_host = {}\nsx_port = {}\nsecret_key = {}\nsx_use_ssl = {}\n",
            self.nodes[..self.gateway_hosts.unwrap_or(self.nodes.len())].join(","),
            self.port,
            self.admin_key,
            if self.ssl { "yes" } else { "no" }
        );
        if let Some(ca) = &self.ca_file {
            c.push_str(&format!("sx_ca_file = {}\n", ca.display()));
        }
        if !self.verify_ssl {
            c.push_str("sx_verify_ssl = no\n");
        }
        if let Some(size) = &self.volume_size {
            c.push_str(&format!("volume_size = {size}\n"));
        }
        if let Some(n) = self.replica_count {
            c.push_str(&format!("replica_count = {n}\n"));
        }
        c.push_str(&self.settings);
        c
    }

    /// Creates an SX user with a fresh key (`PUT /.users`); returns its name and token, which
    /// are its S3 access key and secret key.
    pub fn add_user(&self, prefix: &str) -> (String, String) {
        use ring::rand::SecureRandom;
        let mut key = [0u8; 20];
        ring::rand::SystemRandom::new()
            .fill(&mut key)
            .expect("system randomness");
        let name = format!("{prefix}-{}", random_suffix());
        let body = serde_json::json!({
            "userName": name, "userType": "normal", "userKey": hex(&key),
        });
        let answer = self.admin("PUT", "/.users", body.to_string().as_bytes());
        self.wait_job(&answer, &format!("creating SX user {name}"));
        self.users
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(name.clone());
        // token = uid ‖ key ‖ 00 00 with uid = SHA1(name) (sx-protocol.md §2).
        let mut token = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, name.as_bytes())
            .as_ref()
            .to_vec();
        token.extend_from_slice(&key);
        token.extend_from_slice(&[0, 0]);
        (name, STANDARD_NO_PAD.encode(token))
    }

    /// Gives `user` the `rights` ("read", "write", "manager") on volume `vol` with the admin
    /// key: `PUT /<vol>?o=acl&manager` (sx-protocol.md §6), a job.
    pub fn grant(&self, vol: &str, user: &str, rights: &[&str]) {
        let mut body = serde_json::Map::new();
        for right in ["read", "write", "manager"] {
            let users: Vec<&str> = if rights.contains(&right) {
                vec![user]
            } else {
                vec![]
            };
            body.insert(format!("grant-{right}"), serde_json::json!(users));
            body.insert(format!("revoke-{right}"), serde_json::json!([]));
        }
        let answer = self.admin(
            "PUT",
            &format!("/{}?o=acl&manager", encode(vol)),
            serde_json::Value::Object(body).to_string().as_bytes(),
        );
        self.wait_job(&answer, &format!("granting {rights:?} on {vol} to {user}"));
    }

    /// A request signed with the admin key, to the first node that answers.
    pub fn admin(&self, method: &str, path: &str, body: &[u8]) -> SxAnswer {
        self.request(&self.nodes, method, path, body)
    }

    fn request(&self, nodes: &[String], method: &str, path: &str, body: &[u8]) -> SxAnswer {
        let mut errors = Vec::new();
        for node in nodes {
            match self.once(node, method, path, body) {
                Ok(response) if response.status < 500 => {
                    return SxAnswer {
                        node: node.clone(),
                        response,
                    }
                }
                Ok(response) => errors.push(format!("{node}: HTTP {}", response.status)),
                Err(e) => errors.push(format!("{node}: {e}")),
            }
        }
        panic!("SX {method} {path}: no node answered: {errors:?}");
    }

    fn once(&self, node: &str, method: &str, path: &str, body: &[u8]) -> Result<Response, String> {
        let date = http_date(now_secs());
        let auth = sky_authorization(&self.admin_key, method, path, &date, body);
        let host = if node.contains(':') {
            format!("[{node}]:{}", self.port)
        } else {
            format!("{node}:{}", self.port)
        };
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nDate: {date}\r\nAuthorization: {auth}\r\nConnection: close\r\n"
        );
        if method == "PUT" {
            head.push_str(&format!(
                "Content-Type: application/octet-stream\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        let addr = (node.trim_matches(|c| c == '[' || c == ']'), self.port)
            .to_socket_addrs()
            .map_err(|e| e.to_string())?
            .next()
            .ok_or("no address")?;
        let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        let exchange = |stream: &mut dyn ReadWrite, raw: &mut Vec<u8>| -> std::io::Result<()> {
            stream.write_all(head.as_bytes())?;
            stream.write_all(body)?;
            stream.flush()?;
            stream.read_to_end(raw).map(|_| ())
        };
        match &self.tls {
            Some(tls) => {
                let name = rustls::pki_types::ServerName::try_from(
                    node.trim_matches(|c| c == '[' || c == ']').to_string(),
                )
                .map_err(|e| e.to_string())?;
                let conn =
                    rustls::ClientConnection::new(tls.clone(), name).map_err(|e| e.to_string())?;
                let mut stream = rustls::StreamOwned::new(conn, tcp);
                // A peer closing without close_notify still delivered the whole answer.
                if let Err(e) = exchange(&mut stream, &mut raw) {
                    if raw.is_empty() {
                        return Err(e.to_string());
                    }
                }
            }
            None => {
                let mut tcp = tcp;
                if let Err(e) = exchange(&mut tcp, &mut raw) {
                    if raw.is_empty() {
                        return Err(e.to_string());
                    }
                }
            }
        }
        Ok(parse_response(
            &raw,
            method == "HEAD",
            format!("SX {method} {path}"),
        ))
    }

    /// Waits for the job an answer started, on the node that started it (§12).
    pub fn wait_job(&self, answer: &SxAnswer, what: &str) {
        if let Err(e) = self.try_wait_job(answer, what) {
            panic!("{e}");
        }
    }

    /// [`SxCluster::wait_job`], returning a failed job's answer instead of panicking.
    pub fn try_wait_job(&self, answer: &SxAnswer, what: &str) -> Result<(), String> {
        assert_eq!(
            answer.response.status,
            200,
            "{what}: {}",
            answer.response.text()
        );
        let job: Value = serde_json::from_slice(&answer.response.body)
            .unwrap_or_else(|e| panic!("{what}: not a job ({e}): {}", answer.response.text()));
        let id = job["requestId"].as_str().expect("requestId");
        let mut delay = job["minPollInterval"].as_u64().unwrap_or(100).max(1);
        let max = job["maxPollInterval"].as_u64().unwrap_or(1000).max(delay);
        for _ in 0..200 {
            let status = self.request(
                std::slice::from_ref(&answer.node),
                "GET",
                &format!("/.results/{id}"),
                b"",
            );
            let v: Value = serde_json::from_slice(&status.response.body).unwrap_or_default();
            match v["requestStatus"].as_str() {
                Some("OK") => return Ok(()),
                Some("PENDING") => {}
                _ => return Err(format!("{what}: job {id}: {}", status.response.text())),
            }
            // The protocol's poll interval (sx-protocol.md §12), doubling up to the maximum.
            std::thread::sleep(Duration::from_millis(delay));
            delay = (delay * 2).min(max);
        }
        panic!("{what}: job {id} still pending");
    }

    /// Stores `data` as `path` in volume `vol` the way sxcp does (sx-protocol.md §10), with
    /// the admin key and no file meta: locate, hash the padded blocks with the cluster UUID,
    /// create the temporary file, upload the blocks SX asks for, flush and wait for the job.
    pub fn put_file_as_sxcp(&self, vol: &str, path: &str, data: &[u8]) {
        let located = self.admin(
            "GET",
            &format!("/{}?o=locate&size={}", encode(vol), data.len()),
            b"",
        );
        assert_eq!(located.response.status, 200, "{}", located.response.text());
        let loc: Value = serde_json::from_slice(&located.response.body).expect("locate JSON");
        let block_size = loc["blockSize"].as_u64().expect("blockSize") as usize;
        let volnodes: Vec<String> = loc["nodeList"]
            .as_array()
            .expect("nodeList")
            .iter()
            .filter_map(|n| n.as_str().map(String::from))
            .collect();
        // The hash salt is the cluster UUID of `SX-Cluster: 2.3 (<uuid>)` (§4, §7).
        let cluster = located.response.header("sx-cluster").expect("SX-Cluster");
        let uuid = cluster
            .split_once('(')
            .and_then(|(_, rest)| rest.split_once(')'))
            .map(|(uuid, _)| uuid.to_owned())
            .expect("a cluster UUID");
        let blocks: Vec<Vec<u8>> = data
            .chunks(block_size)
            .map(|chunk| {
                let mut block = chunk.to_vec();
                block.resize(block_size, 0);
                block
            })
            .collect();
        let hash = |block: &[u8]| {
            let mut ctx = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
            ctx.update(uuid.as_bytes());
            ctx.update(block);
            hex(ctx.finish().as_ref())
        };
        let hashes: Vec<String> = blocks.iter().map(|b| hash(b)).collect();
        let file_path = path.split('/').map(encode).collect::<Vec<_>>().join("/");
        let body = serde_json::json!({"fileSize": data.len(), "fileData": hashes});
        let created = self.request(
            &volnodes,
            "PUT",
            &format!("/{}/{file_path}", encode(vol)),
            body.to_string().as_bytes(),
        );
        assert_eq!(created.response.status, 200, "{}", created.response.text());
        let upload: Value = serde_json::from_slice(&created.response.body).expect("upload JSON");
        let token = upload["uploadToken"].as_str().expect("uploadToken");
        let missing = upload["uploadData"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (wanted, nodes) in missing {
            let block = hashes
                .iter()
                .position(|h| *h == wanted)
                .map(|i| &blocks[i])
                .unwrap_or_else(|| panic!("SX asked for block {wanted}, not in the file"));
            let nodes: Vec<String> = nodes
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str().map(String::from))
                .collect();
            let sent = self.request(
                &nodes,
                "PUT",
                &format!("/.data/{block_size}/{token}"),
                block,
            );
            assert_eq!(sent.response.status, 200, "{}", sent.response.text());
        }
        // The flush goes to the node that issued the token.
        let flushed = self.request(
            std::slice::from_ref(&created.node),
            "PUT",
            &format!("/.upload/{token}"),
            b"",
        );
        self.wait_job(&flushed, &format!("flushing {vol}/{path}"));
    }

    /// Removes, on a real cluster, the users this test made and every volume they own (their
    /// files first). The fake cluster just goes away with the test.
    fn remove_test_data(&self) {
        if self.fake.is_some() {
            return;
        }
        let users = std::mem::take(&mut *self.users.lock().unwrap_or_else(|e| e.into_inner()));
        if users.is_empty() {
            return;
        }
        let list = self.admin("GET", "/?volumeList", b"");
        let v: Value = serde_json::from_slice(&list.response.body).unwrap_or_default();
        let volumes = v["volumeList"].as_object().cloned().unwrap_or_default();
        for (name, vol) in volumes {
            let owner = vol["owner"].as_str().unwrap_or("");
            if !users.iter().any(|u| u == owner) {
                continue;
            }
            let located = self.admin("GET", &format!("/{}?o=locate", encode(&name)), b"");
            let loc: Value = serde_json::from_slice(&located.response.body).unwrap_or_default();
            let volnodes: Vec<String> = loc["nodeList"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|n| n.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            for filter in ["*", ".libres3"] {
                let path = format!("/{}?filter={}&recursive", encode(&name), encode(filter));
                // SX runs one mass job at a time on the whole cluster: one of a gateway's (a
                // multipart completion, a lifecycle abort) makes this one fail, and it is
                // asked again.
                let what = format!("emptying volume {name}");
                let give_up = std::time::Instant::now() + MASS_JOB_PATIENCE;
                loop {
                    let answer = self.request(&volnodes, "DELETE", &path, b"");
                    let result = match answer.response.status {
                        200 => self.try_wait_job(&answer, &what),
                        // Refused at once: a cluster-wide operation holds the lock.
                        409 => Err(String::from_utf8_lossy(&answer.response.body).into_owned()),
                        _ => break,
                    };
                    let locked = |e: &str| {
                        e.contains("complex operation") || e.contains("temporarily locked")
                    };
                    match result {
                        Ok(()) => break,
                        Err(e) if locked(&e) && std::time::Instant::now() < give_up => {
                            std::thread::sleep(Duration::from_millis(200));
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            // Only the volume's own nodes remove it; another node answers 404 "This volume
            // does not belong here" (sx-protocol.md §6).
            // A real cluster busy with other jobs fails a volume delete now and then ("Failed
            // to disable volume", "Failed to query cluster"): the delete is asked again.
            let what = format!("deleting volume {name}");
            let mut attempt = 1;
            loop {
                let answer = self.request(&volnodes, "DELETE", &format!("/{}", encode(&name)), b"");
                // The failed job may have got as far as removing it.
                if attempt > 1 && answer.response.status == 404 {
                    break;
                }
                match self.try_wait_job(&answer, &what) {
                    Ok(()) => break,
                    Err(e) if attempt < VOLUME_DELETE_ATTEMPTS => {
                        eprintln!("{e}; asking again");
                        attempt += 1;
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        }
        for user in users {
            let answer = self.admin(
                "DELETE",
                &format!("/.users/{}?chgto=admin", encode(&user)),
                b"",
            );
            self.wait_job(&answer, &format!("deleting SX user {user}"));
        }
    }
}

impl Drop for SxCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Cleaning up a real cluster after a failure must not abort the test process.
            let _ =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.remove_test_data()));
        } else {
            self.remove_test_data();
        }
    }
}

/// An SX answer and the node that gave it (jobs are polled there).
pub struct SxAnswer {
    pub node: String,
    pub response: Response,
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// libsxclient's encoding: `A-Za-z0-9-._~` kept, the rest `%xx` in lower case.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

/// `Authorization: SKY ...` for a request (sx-protocol.md §3).
pub fn sky_authorization(token: &str, method: &str, uri: &str, date: &str, body: &[u8]) -> String {
    let token = STANDARD_NO_PAD
        .decode(token.trim_end_matches('='))
        .expect("the SX key is base64");
    assert_eq!(token.len(), 42, "an SX key is 42 bytes");
    let body_sha1 = hex(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, body).as_ref());
    let uri = uri.strip_prefix('/').unwrap_or(uri);
    let text = format!("{method}\n{uri}\n{date}\n{body_sha1}\n");
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &token[20..40]);
    let sig = hmac::sign(&key, text.as_bytes());
    let mut out = token[..20].to_vec();
    out.extend_from_slice(sig.as_ref());
    out.extend_from_slice(&token[40..]);
    format!("SKY {}", STANDARD_NO_PAD.encode(out))
}

/// TLS to a real cluster: public roots plus `LIBRES3_TEST_SX_CA_FILE`; like libsxclient, the
/// chain is verified and the node's name is not (nodes are addressed by IP).
fn tls_config(ca_file: Option<&PathBuf>, verify: bool) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("TLS versions");
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let mut pinned = Vec::new();
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.expect("PEM certificate");
            roots.add(cert.clone()).expect("CA certificate");
            pinned.push(cert);
        }
    }
    let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .expect("verifier");
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ChainOnly {
            inner,
            pinned,
            verify,
            provider,
        }))
        .with_no_client_auth();
    Arc::new(config)
}

/// Like the gateway's `sx_ca_file` check: a node presenting exactly a certificate of the file
/// (sxsetup's self-signed CA:true certificate, which every node of a cluster presents) is
/// accepted; other certificates must chain to the file's; names are not checked.
#[derive(Debug)]
struct ChainOnly {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    pinned: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// `LIBRES3_TEST_SX_VERIFY_SSL=no`: accept any certificate, like `sx_verify_ssl = no`.
    verify: bool,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        if !self.verify
            || self
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
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
