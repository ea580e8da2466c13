//! The admin endpoint, on its own listener (loopback by default): `/health`, `/stats` (JSON,
//! or CSV with `?format=csv`) and `/metrics` (Prometheus text format).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};

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

    // The statvfs field types differ between systems (u64 on Linux, not everywhere).
    #[allow(clippy::unnecessary_cast)]
    fn usage(&self) -> Vec<DirUsage> {
        self.data_dirs
            .iter()
            .map(|path| match nix::sys::statvfs::statvfs(path) {
                Ok(vfs) => {
                    let frag = vfs.fragment_size() as u64;
                    DirUsage {
                        path: path.clone(),
                        total_bytes: (vfs.blocks() as u64).saturating_mul(frag),
                        free_bytes: (vfs.blocks_available() as u64).saturating_mul(frag),
                        error: None,
                    }
                }
                Err(e) => DirUsage {
                    path: path.clone(),
                    total_bytes: 0,
                    free_bytes: 0,
                    error: Some(e.to_string()),
                },
            })
            .collect()
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

    pub fn json(&self) -> serde_json::Value {
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
        out
    }

    /// One table: `kind,name,requests,errors,bytes_in,bytes_out` for operations, then gauges
    /// and storage directories in the same columns where they fit.
    pub fn csv(&self) -> String {
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
        out
    }

    pub fn prometheus(&self) -> String {
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
                let path = u
                    .path
                    .display()
                    .to_string()
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"");
                out.push_str(&format!("{metric}{{dir=\"{path}\"}} {}\n", get(u)));
            }
        }
        out.push_str(&format!(
            "# HELP libres3_uptime_seconds seconds since this worker started\n# TYPE libres3_uptime_seconds gauge\nlibres3_uptime_seconds {}\n",
            self.started.elapsed().as_secs()
        ));
        out
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The admin App's one handler.
pub async fn handle(req: HttpRequest, stats: web::Data<Stats>) -> HttpResponse {
    match req.path() {
        "/health" => HttpResponse::Ok().json(serde_json::json!({
            "status": "ok",
            "pid": std::process::id(),
            "version": env!("CARGO_PKG_VERSION"),
        })),
        "/stats" => {
            if req.query_string().split('&').any(|p| p == "format=csv") {
                HttpResponse::Ok()
                    .content_type("text/csv; charset=utf-8")
                    .body(stats.csv())
            } else {
                HttpResponse::Ok().json(stats.json())
            }
        }
        "/metrics" => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(stats.prometheus()),
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
        stats.record("PutObject", false, 10, 0);
        stats.record("PutObject", true, 5, 100);
        {
            let _g = stats.request(true);
            let j = stats.json();
            assert_eq!(j["in_flight_uploads"], 1);
            assert_eq!(j["operations"]["PutObject"]["requests"], 2);
            assert_eq!(j["operations"]["PutObject"]["bytes_in"], 15);
        }
        assert_eq!(stats.json()["in_flight_uploads"], 0);
        assert!(stats.csv().contains("operation,PutObject,2,1,15,100,\n"));
        let p = stats.prometheus();
        assert!(
            p.contains("libres3_requests_total{operation=\"PutObject\"} 2\n"),
            "{p}"
        );
        assert!(p.contains("libres3_storage_free_bytes{dir="), "{p}");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }
}
