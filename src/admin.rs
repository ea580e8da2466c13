//! The admin endpoint, on its own listener (loopback by default): `/health`, `/stats` (JSON,
//! or CSV with `?format=csv`) and `/metrics` (Prometheus text format).
//!
//! With `admin_auth = USER:PASSWORD`, `/stats` and `/metrics` want those credentials (HTTP
//! Basic); `/health` stays open, for load balancers and container health checks, and says no
//! more than that the worker serves (its pid and version).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;

use crate::front::{refusal, Front};
use crate::s3::AppState;
use crate::store::{BackendPart, BackendState, ObjectStore, PartTraffic, SecretKey};

/// Counters of one S3 operation.
#[derive(Debug, Default, Clone, Copy)]
pub struct OpStats {
    pub requests: u64,
    /// Responses with a 4xx or 5xx status.
    pub errors: u64,
    /// Request bodies, as declared by the clients (Content-Length or the decoded length).
    pub bytes_in: u64,
    /// Response bodies, as sent in Content-Length.
    pub bytes_out: u64,
}

/// What the S3 listeners count; one per worker process.
pub struct Stats {
    started: Instant,
    ops: Mutex<BTreeMap<&'static str, OpStats>>,
    open_connections: AtomicI64,
    in_flight: AtomicI64,
    in_flight_uploads: AtomicI64,
    connections_total: AtomicU64,
    data_dirs: Vec<PathBuf>,
    backend: &'static str,
}

/// Decrements a gauge when dropped, so a request or connection that ends any way counts.
pub struct Gauge<'a>(&'a AtomicI64);

impl<'a> Gauge<'a> {
    fn enter(counter: &'a AtomicI64) -> Gauge<'a> {
        counter.fetch_add(1, Ordering::Relaxed);
        Gauge(counter)
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Held in a connection's extensions for as long as the connection lives.
pub struct ConnectionGuard(std::sync::Arc<Stats>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Space of one storage directory's file system.
#[derive(Debug, Clone)]
pub struct DirUsage {
    pub path: PathBuf,
    pub total_bytes: u64,
    pub free_bytes: u64,
    pub error: Option<String>,
}

impl Stats {
    pub fn new(data_dirs: Vec<PathBuf>, backend: &'static str) -> Stats {
        Stats {
            started: Instant::now(),
            ops: Mutex::new(BTreeMap::new()),
            open_connections: AtomicI64::new(0),
            in_flight: AtomicI64::new(0),
            in_flight_uploads: AtomicI64::new(0),
            connections_total: AtomicU64::new(0),
            data_dirs,
            backend,
        }
    }

    pub fn connection(self: &std::sync::Arc<Self>) -> ConnectionGuard {
        self.open_connections.fetch_add(1, Ordering::Relaxed);
        self.connections_total.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(self.clone())
    }

    pub fn request(&self, upload: bool) -> (Gauge<'_>, Option<Gauge<'_>>) {
        (
            Gauge::enter(&self.in_flight),
            upload.then(|| Gauge::enter(&self.in_flight_uploads)),
        )
    }

    pub fn record(&self, operation: &'static str, error: bool, bytes_in: u64, bytes_out: u64) {
        if let Ok(mut ops) = self.ops.lock() {
            let op = ops.entry(operation).or_default();
            op.requests += 1;
            op.errors += u64::from(error);
            op.bytes_in += bytes_in;
            op.bytes_out += bytes_out;
        }
    }

    fn ops(&self) -> BTreeMap<&'static str, OpStats> {
        self.ops.lock().map(|ops| ops.clone()).unwrap_or_default()
    }

    fn usage(&self) -> Vec<DirUsage> {
        self.data_dirs.iter().map(|path| usage_of(path)).collect()
    }

    fn gauges(&self) -> [(&'static str, &'static str, i64); 4] {
        [
            (
                "open_connections",
                "client connections open now",
                self.open_connections.load(Ordering::Relaxed),
            ),
            (
                "in_flight_requests",
                "S3 requests being served now",
                self.in_flight.load(Ordering::Relaxed),
            ),
            (
                "in_flight_uploads",
                "PUT and POST requests being served now",
                self.in_flight_uploads.load(Ordering::Relaxed),
            ),
            (
                "connections_total",
                "client connections accepted",
                self.connections_total.load(Ordering::Relaxed) as i64,
            ),
        ]
    }

    pub fn json(&self, backend: &BackendState) -> serde_json::Value {
        let ops: serde_json::Map<String, serde_json::Value> = self
            .ops()
            .into_iter()
            .map(|(name, s)| {
                (
                    name.to_string(),
                    serde_json::json!({
                        "requests": s.requests,
                        "errors": s.errors,
                        "bytes_in": s.bytes_in,
                        "bytes_out": s.bytes_out,
                    }),
                )
            })
            .collect();
        let mut out = serde_json::json!({
            "pid": std::process::id(),
            "uptime_seconds": self.started.elapsed().as_secs(),
            "backend": self.backend,
            "operations": ops,
            "storage": self.usage().iter().map(|u| serde_json::json!({
                "path": u.path.display().to_string(),
                "total_bytes": u.total_bytes,
                "free_bytes": u.free_bytes,
                "used_bytes": u.total_bytes.saturating_sub(u.free_bytes),
                "error": u.error,
            })).collect::<Vec<_>>(),
        });
        for (name, _, value) in self.gauges() {
            out[name] = value.into();
        }
        out["backend_state"] = serde_json::json!({
            "status": backend.status(),
            "parts": backend.parts.iter().map(part_json).collect::<Vec<_>>(),
        });
        out
    }

    /// One table: `kind,name,requests,errors,bytes_in,bytes_out` for operations, then gauges
    /// and storage directories in the same columns where they fit.
    pub fn csv(&self, backend: &BackendState) -> String {
        let mut out = String::from("kind,name,requests,errors,bytes_in,bytes_out,value\n");
        for (name, s) in self.ops() {
            out.push_str(&format!(
                "operation,{name},{},{},{},{},\n",
                s.requests, s.errors, s.bytes_in, s.bytes_out
            ));
        }
        for (name, _, value) in self.gauges() {
            out.push_str(&format!("gauge,{name},,,,,{value}\n"));
        }
        for u in self.usage() {
            let path = csv_field(&u.path.display().to_string());
            out.push_str(&format!(
                "storage_total_bytes,{path},,,,,{}\n",
                u.total_bytes
            ));
            out.push_str(&format!("storage_free_bytes,{path},,,,,{}\n", u.free_bytes));
        }
        out.push_str(&format!(
            "backend_status,{},,,,,{}\n",
            self.backend,
            backend.status()
        ));
        for part in &backend.parts {
            out.push_str(&format!(
                "backend_{},{},,,,,{}\n",
                part.kind,
                csv_field(&part.name),
                part_word(part)
            ));
        }
        out
    }

    pub fn prometheus(&self, backend: &BackendState) -> String {
        let mut out = String::new();
        let ops = self.ops();
        for (metric, help, get) in [
            (
                "libres3_requests_total",
                "S3 requests served, by operation",
                (|s: &OpStats| s.requests) as fn(&OpStats) -> u64,
            ),
            (
                "libres3_request_errors_total",
                "S3 requests answered with 4xx or 5xx",
                |s| s.errors,
            ),
            (
                "libres3_received_bytes_total",
                "request body bytes declared by clients",
                |s| s.bytes_in,
            ),
            ("libres3_sent_bytes_total", "response body bytes", |s| {
                s.bytes_out
            }),
        ] {
            out.push_str(&format!(
                "# HELP {metric} {help}\n# TYPE {metric} counter\n"
            ));
            for (name, s) in &ops {
                out.push_str(&format!("{metric}{{operation=\"{name}\"}} {}\n", get(s)));
            }
        }
        for (name, help, value) in self.gauges() {
            let kind = if name.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            out.push_str(&format!(
                "# HELP libres3_{name} {help}\n# TYPE libres3_{name} {kind}\nlibres3_{name} {value}\n"
            ));
        }
        let usage = self.usage();
        for (metric, help, get) in [
            (
                "libres3_storage_total_bytes",
                "size of the file system of a storage directory",
                (|u: &DirUsage| u.total_bytes) as fn(&DirUsage) -> u64,
            ),
            (
                "libres3_storage_free_bytes",
                "space left for libres3 on a storage directory's file system",
                |u| u.free_bytes,
            ),
        ] {
            out.push_str(&format!("# HELP {metric} {help}\n# TYPE {metric} gauge\n"));
            for u in &usage {
                let path = label(&u.path.display().to_string());
                out.push_str(&format!("{metric}{{dir=\"{path}\"}} {}\n", get(u)));
            }
        }
        out.push_str(&format!(
            "# HELP libres3_uptime_seconds seconds since this worker started\n# TYPE libres3_uptime_seconds gauge\nlibres3_uptime_seconds {}\n",
            self.started.elapsed().as_secs()
        ));
        let status = backend.status();
        out.push_str(&format!(
            "# HELP libres3_backend_up 0 when the storage backend is down, else 1 (status: ok, degraded or unknown)\n\
             # TYPE libres3_backend_up gauge\n\
             libres3_backend_up{{backend=\"{}\",status=\"{status}\"}} {}\n",
            self.backend,
            u8::from(status != "down")
        ));
        out.push_str(
            "# HELP libres3_backend_part_up whether a part of the backend (index, storage_dir, node) worked when last used or checked\n\
             # TYPE libres3_backend_part_up gauge\n",
        );
        for part in backend.parts.iter().filter(|p| p.ok.is_some()) {
            out.push_str(&format!(
                "libres3_backend_part_up{{kind=\"{}\",name=\"{}\"}} {}\n",
                part.kind,
                label(&part.name),
                u8::from(part.ok == Some(true))
            ));
        }
        let counted: Vec<_> = backend
            .parts
            .iter()
            .filter_map(|p| p.traffic.map(|t| (p, t)))
            .collect();
        if !counted.is_empty() {
            let mut counter = |metric: &str, help: &str, value: &dyn Fn(&PartTraffic) -> String| {
                out.push_str(&format!(
                    "# HELP {metric} {help}\n# TYPE {metric} counter\n"
                ));
                for (part, traffic) in &counted {
                    out.push_str(&format!(
                        "{metric}{{kind=\"{}\",name=\"{}\"}} {}\n",
                        part.kind,
                        label(&part.name),
                        value(traffic)
                    ));
                }
            };
            counter(
                "libres3_backend_requests_total",
                "requests this worker sent to a part of the backend (an SX node)",
                &|t| t.requests.to_string(),
            );
            counter(
                "libres3_backend_errors_total",
                "of those, the ones without an answer (connection error, timeout) or with a 5xx",
                &|t| t.errors.to_string(),
            );
            counter(
                "libres3_backend_request_seconds_total",
                "the time those requests took, in seconds (divided by the requests: the mean latency)",
                &|t| format!("{:.6}", t.seconds),
            );
        }
        out
    }
}

/// The size and free space of the file system holding `path`.
// The statvfs field types differ between systems (u64 on Linux, not everywhere).
#[allow(clippy::unnecessary_cast)]
fn usage_of(path: &std::path::Path) -> DirUsage {
    match nix::sys::statvfs::statvfs(path) {
        Ok(vfs) => {
            let frag = vfs.fragment_size() as u64;
            DirUsage {
                path: path.to_path_buf(),
                total_bytes: (vfs.blocks() as u64).saturating_mul(frag),
                free_bytes: (vfs.blocks_available() as u64).saturating_mul(frag),
                error: None,
            }
        }
        Err(e) => DirUsage {
            path: path.to_path_buf(),
            total_bytes: 0,
            free_bytes: 0,
            error: Some(e.to_string()),
        },
    }
}

fn part_word(part: &BackendPart) -> &'static str {
    match part.ok {
        Some(true) => "up",
        Some(false) => "down",
        None => "unknown",
    }
}

fn part_json(part: &BackendPart) -> serde_json::Value {
    let mut out = serde_json::json!({
        "kind": part.kind,
        "name": part.name,
        "state": part_word(part),
    });
    if part.required {
        out["required"] = true.into();
    }
    if let Some(error) = &part.error {
        out["error"] = error.as_str().into();
    }
    if let Some(age) = part.age {
        out["seconds_ago"] = age.as_secs().into();
    }
    if let Some(path) = &part.path {
        let u = usage_of(path);
        out["total_bytes"] = u.total_bytes.into();
        out["free_bytes"] = u.free_bytes.into();
        out["used_bytes"] = u.total_bytes.saturating_sub(u.free_bytes).into();
    }
    out
}

/// A Prometheus label value.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Whether a request to `/stats` or `/metrics` may see them: always without `admin_auth`,
/// else only with its credentials (compared in constant time).
fn authorized(req: &HttpRequest, expected: Option<&SecretKey>) -> bool {
    let Some(expected) = expected else {
        return true;
    };
    let presented = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then_some(rest.trim())
        })
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok());
    let Some(presented) = presented else {
        return false;
    };
    same_secret(&presented, expected.expose().as_bytes())
}

/// Constant-time equality, whatever the lengths: both sides go through HMAC under a key
/// made for this process, and `ring::hmac::verify` compares the tags in constant time.
fn same_secret(presented: &[u8], expected: &[u8]) -> bool {
    use ring::hmac;
    use std::sync::OnceLock;
    static KEY: OnceLock<Option<hmac::Key>> = OnceLock::new();
    let key = KEY.get_or_init(|| {
        hmac::Key::generate(hmac::HMAC_SHA256, &ring::rand::SystemRandom::new()).ok()
    });
    let Some(key) = key else {
        // No randomness for a key: refuse rather than compare in variable time.
        return false;
    };
    let tag = hmac::sign(key, expected);
    hmac::verify(key, presented, tag.as_ref()).is_ok()
}

/// The admin App's one handler.
pub async fn handle<S: ObjectStore>(
    req: HttpRequest,
    stats: web::Data<Stats>,
    front: web::Data<Front>,
    state: web::Data<AppState<S>>,
) -> HttpResponse {
    if let Some(rejection) = req
        .conn_data::<std::rc::Rc<crate::http::Connection>>()
        .and_then(|c| c.request_started())
    {
        return HttpResponse::build(refusal(&rejection).code.status())
            .content_type("text/plain")
            .body(format!("{}\n", rejection.message));
    }
    let path = req.path();
    if matches!(path, "/stats" | "/metrics") {
        let expected = front.live.read().ok().and_then(|l| l.admin_auth.clone());
        if !authorized(&req, expected.as_ref()) {
            return HttpResponse::Unauthorized()
                .insert_header((
                    actix_web::http::header::WWW_AUTHENTICATE,
                    "Basic realm=\"libres3 admin\", charset=\"UTF-8\"",
                ))
                .content_type("text/plain")
                .body("admin_auth is set: give its user and password (HTTP Basic)\n");
        }
    }
    match path {
        "/health" => HttpResponse::Ok().json(serde_json::json!({
            "status": "ok",
            "pid": std::process::id(),
            "version": env!("CARGO_PKG_VERSION"),
        })),
        "/stats" => {
            let backend = state.store.backend_state().await;
            if req.query_string().split('&').any(|p| p == "format=csv") {
                HttpResponse::Ok()
                    .content_type("text/csv; charset=utf-8")
                    .body(stats.csv(&backend))
            } else {
                HttpResponse::Ok().json(stats.json(&backend))
            }
        }
        "/metrics" => {
            let backend = state.store.backend_state().await;
            HttpResponse::Ok()
                .content_type("text/plain; version=0.0.4; charset=utf-8")
                .body(stats.prometheus(&backend) + &state.lifecycle.prometheus())
        }
        _ => HttpResponse::NotFound()
            .content_type("text/plain")
            .body("not found: try /health, /stats, /stats?format=csv or /metrics\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let stats = Stats::new(vec![std::env::temp_dir()], "embedded");
        let backend = BackendState::default();
        stats.record("PutObject", false, 10, 0);
        stats.record("PutObject", true, 5, 100);
        {
            let _g = stats.request(true);
            let j = stats.json(&backend);
            assert_eq!(j["in_flight_uploads"], 1);
            assert_eq!(j["operations"]["PutObject"]["requests"], 2);
            assert_eq!(j["operations"]["PutObject"]["bytes_in"], 15);
        }
        assert_eq!(stats.json(&backend)["in_flight_uploads"], 0);
        assert!(stats
            .csv(&backend)
            .contains("operation,PutObject,2,1,15,100,\n"));
        let p = stats.prometheus(&backend);
        assert!(
            p.contains("libres3_requests_total{operation=\"PutObject\"} 2\n"),
            "{p}"
        );
        assert!(p.contains("libres3_storage_free_bytes{dir="), "{p}");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }

    #[test]
    fn backend_state_in_every_format() {
        let stats = Stats::new(Vec::new(), "sx");
        let backend = BackendState {
            parts: vec![
                BackendPart::new("node", "10.0.0.1", Some(true)),
                BackendPart {
                    error: Some("connection refused".into()),
                    age: Some(std::time::Duration::from_secs(3)),
                    traffic: Some(PartTraffic {
                        requests: 7,
                        errors: 2,
                        seconds: 0.25,
                    }),
                    ..BackendPart::new("node", "10.0.0.2", Some(false))
                },
                BackendPart::new("node", "10.0.0.3", None),
            ],
        };
        let j = stats.json(&backend);
        assert_eq!(j["backend_state"]["status"], "degraded");
        assert_eq!(j["backend_state"]["parts"][1]["state"], "down");
        assert_eq!(
            j["backend_state"]["parts"][1]["error"],
            "connection refused"
        );
        assert_eq!(j["backend_state"]["parts"][1]["seconds_ago"], 3);
        assert_eq!(j["backend_state"]["parts"][2]["state"], "unknown");
        let csv = stats.csv(&backend);
        assert!(csv.contains("backend_status,sx,,,,,degraded\n"), "{csv}");
        assert!(csv.contains("backend_node,10.0.0.2,,,,,down\n"), "{csv}");
        let p = stats.prometheus(&backend);
        assert!(
            p.contains("libres3_backend_up{backend=\"sx\",status=\"degraded\"} 1\n"),
            "{p}"
        );
        assert!(
            p.contains("libres3_backend_part_up{kind=\"node\",name=\"10.0.0.2\"} 0\n"),
            "{p}"
        );
        assert!(
            !p.contains("10.0.0.3"),
            "a node never asked has no sample: {p}"
        );
        for line in [
            "libres3_backend_requests_total{kind=\"node\",name=\"10.0.0.2\"} 7\n",
            "libres3_backend_errors_total{kind=\"node\",name=\"10.0.0.2\"} 2\n",
            "libres3_backend_request_seconds_total{kind=\"node\",name=\"10.0.0.2\"} 0.250000\n",
            "# TYPE libres3_backend_requests_total counter\n",
        ] {
            assert!(p.contains(line), "{line} in {p}");
        }
    }

    #[test]
    fn basic_auth() {
        let secret = SecretKey::new("ops:s3cr3t pass".into());
        let with = |value: &str| {
            actix_web::test::TestRequest::default()
                .insert_header(("authorization", value))
                .to_http_request()
        };
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert!(authorized(
            &with(&format!("Basic {}", b64("ops:s3cr3t pass"))),
            Some(&secret)
        ));
        assert!(authorized(
            &with(&format!("basic  {}", b64("ops:s3cr3t pass"))),
            Some(&secret)
        ));
        assert!(!authorized(
            &with(&format!("Basic {}", b64("ops:s3cr3t"))),
            Some(&secret)
        ));
        assert!(!authorized(
            &with(&format!("Basic {}", b64("ops:s3cr3t passX"))),
            Some(&secret)
        ));
        assert!(!authorized(
            &with(&format!("Bearer {}", b64("ops:s3cr3t pass"))),
            Some(&secret)
        ));
        assert!(!authorized(&with("Basic !!!"), Some(&secret)));
        let none = actix_web::test::TestRequest::default().to_http_request();
        assert!(!authorized(&none, Some(&secret)));
        assert!(authorized(&none, None));
    }
}
