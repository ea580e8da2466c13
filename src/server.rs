//! The HTTP server: one catch-all service that hands every request to `s3::dispatch`, wrapped
//! by the limits, the counters and the access log; the admin endpoint on its own listener;
//! and the signals a running worker obeys.

use std::rc::Rc;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::Service;
use actix_web::http::Method;
use actix_web::rt::signal::unix::{signal, SignalKind};
use actix_web::{web, App, HttpRequest, HttpResponse};

use crate::admin::Stats;
use crate::cli::Args;
use crate::config::Config;
use crate::front::{refusal, Front};
use crate::process::Notify;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::sse::keys::KeyStore;
use crate::s3::sse::state::SseState;
use crate::s3::{dispatch, error_response, AppState, OperationName};
use crate::store::ObjectStore;
use crate::{logging, tls};

pub use crate::http::listen::{bind, BindError, Sockets};

/// Open connections the admin endpoint serves at once.
const ADMIN_MAX_CONNECTIONS: usize = 64;

/// What a supervisor hands its worker with a SIGHUP: what it read as root.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Reload {
    pub config: String,
    pub tls: Option<tls::Pem>,
}

impl Reload {
    /// The message as it goes down the control pipe.
    pub fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// The newest message the supervisor sent, if any.
    fn latest(control: &mut std::fs::File) -> Option<Reload> {
        serde_json::from_slice(&crate::process::latest_frame(control)?).ok()
    }
}

/// Where a SIGHUP takes the new settings from.
pub struct ReloadSource<'a> {
    /// The command line, which names the file and overrides it.
    pub args: &'a Args,
    /// The backends' say on their own keys (see [`crate::config::BackendCheck`]).
    pub check: crate::config::BackendCheck,
    /// Under a supervisor, the pipe down which it sends the text it read (and checked).
    pub control: Option<std::fs::File>,
}

/// Serves S3 (and the admin endpoint) on `sockets` until SIGTERM or SIGINT, obeying SIGHUP
/// (reload) and SIGUSR1 (reopen logs) meanwhile.
pub async fn run<S>(
    store: S,
    mut config: Config,
    sockets: Sockets,
    certificate: Option<Arc<rustls::sign::CertifiedKey>>,
    mut source: ReloadSource<'_>,
    notify: &mut Notify,
) -> Result<(), String>
where
    S: ObjectStore + Send + Sync,
{
    let io = |e: std::io::Error| format!("cannot start the server: {e}");
    let backend = match config.backend {
        crate::config::Backend::Embedded => "embedded",
        crate::config::Backend::Sx => "sx",
    };
    // Storage directories are the embedded store's; an SX worker has none to report.
    let dirs = match config.backend {
        crate::config::Backend::Embedded => config.data_dirs.clone(),
        crate::config::Backend::Sx => Vec::new(),
    };
    let stats = Arc::new(Stats::new(dirs, backend));
    let front = web::Data::new(Front {
        live: RwLock::new(config.live.clone()),
        guard: RwLock::new(None),
    });
    let stats_data = web::Data::from(stats.clone());
    let keys = KeyStore::open(&config.kms_key_dir).map_err(|e| {
        format!(
            "cannot open the key store {} (kms_key_dir): {e}",
            config.kms_key_dir.display()
        )
    })?;
    let state = web::Data::new(AppState {
        store,
        config: config.s3.clone(),
        sse: SseState::new(keys),
        rules: crate::s3::access::RulesCache::default(),
        lifecycle: Default::default(),
    });
    if !config.s3.lifecycle_interval.is_zero() {
        let lifecycle_state = state.clone();
        let settings = crate::s3::lifecycle::worker::WorkerSettings {
            interval: config.s3.lifecycle_interval,
            day: config.s3.lifecycle_day,
            holder: crate::s3::lifecycle::worker::holder_name(
                &[config.listen.clone(), config.https_listen.clone()].concat(),
            ),
            page: crate::s3::lifecycle::worker::PAGE,
        };
        actix_web::rt::spawn(async move {
            let state = &*lifecycle_state;
            crate::s3::lifecycle::worker::run(&state.store, &state.lifecycle, settings).await
        });
    }
    // Uploads abandoned for a week give their space back; checked hourly, in this worker.
    let cleaner_state = state.clone();
    actix_web::rt::spawn(async move {
        crate::s3::maintenance::run_upload_cleaner(
            &cleaner_state.store,
            crate::s3::maintenance::DEFAULT_UPLOAD_MAX_AGE,
            std::time::Duration::from_secs(3600),
        )
        .await
    });
    let certs = match (&config.tls, certificate) {
        (_, Some(key)) => Some(tls::Reloadable::new(key)),
        (Some(files), None) if !sockets.https.is_empty() => {
            Some(tls::Reloadable::new(tls::load(files)?))
        }
        _ => None,
    };

    // One descriptor per connection: raise the soft limit as far as the system allows, then
    // keep a share of it for everything but client connections.
    match crate::http::descriptors::raise() {
        Ok(r) if r.now > r.before => {
            log::info!("raised the open-files limit from {} to {}", r.before, r.now)
        }
        Ok(r) => log::info!("open-files limit: {}", r.now),
        Err(e) => log::warn!(
            "{e}; keeping the open-files limit of {}",
            crate::http::descriptors::current()
        ),
    }
    let max_connections = match config.limits.max_connections {
        0 => crate::http::descriptors::default_max_connections(crate::http::descriptors::current()),
        n => n,
    };
    let guard_settings = Arc::new(crate::http::Settings::new(
        usize::try_from(config.live.max_header_size).unwrap_or(usize::MAX),
        config.limits.client_request_timeout,
        max_connections,
    ));
    *front
        .guard
        .write()
        .map_err(|_| "the front settings are poisoned".to_string())? = Some(guard_settings.clone());
    let options = crate::http::Options {
        workers: config.limits.workers,
        // Without a per-worker cap, actix must still accept the connections over
        // max_connections, to answer them 503 rather than leave them in the queue.
        per_worker: match config.limits.max_parallel {
            0 => max_connections.saturating_add(1024),
            n => n,
        },
        keep_alive: config.limits.keep_alive,
        shutdown_timeout: config.shutdown_timeout.as_secs(),
    };
    let counted = stats.clone();
    let on_connect: crate::http::OnConnect = Arc::new(move |extensions| {
        extensions.insert(counted.connection());
    });
    let front_app = front.clone();
    let admin_state = state.clone();
    let reload_state = state.clone();
    let app = move || {
        App::new()
            .app_data(state.clone())
            .app_data(front_app.clone())
            .app_data(stats_data.clone())
            .wrap_fn(|mut req, service| {
                host_from_authority(&mut req);
                restore_expect(&mut req);
                service.call(req)
            })
            .default_service(web::to(serve_s3::<S>))
    };
    let mut lines = Vec::new();
    for listener in &sockets.http {
        lines.push(format!(
            "libres3: listening on http://{}",
            listener.local_addr().map_err(io)?
        ));
    }
    let mut tls_listeners = Vec::new();
    if let Some(certs) = &certs {
        for listener in sockets.https {
            lines.push(format!(
                "libres3: listening on https://{}",
                listener.local_addr().map_err(io)?
            ));
            tls_listeners.push((listener, tls::server_config(certs.clone())?));
        }
    }
    log::info!("accepting up to {max_connections} S3 connections at once");
    let s3 = crate::http::server(
        app,
        sockets.http,
        tls_listeners,
        guard_settings,
        &options,
        on_connect,
    )
    .map_err(io)?
    .run();
    let s3_handle = s3.handle();

    let admin = match sockets.admin {
        Some(listener) => {
            lines.push(format!(
                "libres3: admin endpoint on http://{}",
                listener.local_addr().map_err(io)?
            ));
            let stats = web::Data::from(stats.clone());
            let front = front.clone();
            let app = move || {
                App::new()
                    .app_data(stats.clone())
                    .app_data(front.clone())
                    .app_data(admin_state.clone())
                    .default_service(web::to(crate::admin::handle::<S>))
            };
            // Its own connection budget: a flood of S3 clients must not lock out the health
            // checks and metrics scrapers.
            let settings = Arc::new(crate::http::Settings::new(
                crate::s3::MAX_HEADER_BYTES,
                config.limits.client_request_timeout,
                ADMIN_MAX_CONNECTIONS,
            ));
            let admin_options = crate::http::Options {
                workers: 1,
                per_worker: ADMIN_MAX_CONNECTIONS + 16,
                keep_alive: config.limits.keep_alive,
                shutdown_timeout: 1,
            };
            let server = crate::http::server(
                app,
                vec![listener],
                Vec::new(),
                settings,
                &admin_options,
                Arc::new(|_| {}),
            )
            .map_err(io)?
            .run();
            let handle = server.handle();
            actix_web::rt::spawn(server);
            Some(handle)
        }
        None => None,
    };

    let sig = |kind| signal(kind).map_err(|e| format!("cannot handle signals: {e}"));
    let (mut term, mut int, mut hup, mut usr1) = (
        sig(SignalKind::terminate())?,
        sig(SignalKind::interrupt())?,
        sig(SignalKind::hangup())?,
        sig(SignalKind::user_defined1())?,
    );
    // A worker forked by the supervisor inherits its blocked signals: take them now that
    // the handlers above are in place.
    crate::process::unblock_signals();
    // Printed once the sockets are served, so whoever started us may connect now.
    for line in &lines {
        notify.line(line);
    }
    notify.ready();
    log::info!("serving ({}); pid {}", lines.join(", "), std::process::id());

    let mut s3 = std::pin::pin!(s3);
    let grace = config.shutdown_timeout.as_secs();
    let stop = |name: &str| {
        log::info!(
            "{name}: no new connections; letting in-flight requests finish (at most {grace}s)"
        );
        let s3_handle = s3_handle.clone();
        let admin = admin.clone();
        actix_web::rt::spawn(async move {
            s3_handle.stop(true).await;
            if let Some(admin) = admin {
                admin.stop(false).await;
            }
        });
    };
    loop {
        tokio::select! {
            result = &mut s3 => {
                logging::flush_access();
                log::info!("stopped");
                return result.map_err(|e| format!("the server stopped: {e}"));
            }
            _ = term.recv() => stop("SIGTERM"),
            _ = int.recv() => stop("SIGINT"),
            _ = usr1.recv() => logging::reopen(),
            _ = hup.recv() => {
                // Under a supervisor, the text it read (and checked) comes down the control
                // pipe; in the foreground, the file is read again here.
                let message = source.control.as_mut().and_then(Reload::latest);
                if let Some(new) = reload(&source, message, &mut config, &front, certs.as_deref()) {
                    // The backend may have to reach a cluster: requests go on meanwhile.
                    let state = reload_state.clone();
                    actix_web::rt::spawn(async move {
                        match state.store.reload(&new).await {
                            Ok(Some(now)) => log::info!("SIGHUP: backend now uses {now}"),
                            Ok(None) => {}
                            Err(e) => log::error!(
                                "SIGHUP: keeping the running backend settings: {e}"
                            ),
                        }
                    });
                }
            }
        }
    }
}

/// HTTP/2 has no Host header: the host is the `:authority` pseudo-header, which actix keeps in
/// the URI. actix offers h2 on HTTPS listeners, and Go's and curl's clients take it; the S3
/// layer finds the bucket of a virtual-hosted request, and SigV4 the signed `host`, in the
/// Puts back the `Expect` header the connection guard took out of the head (so that actix
/// does not answer `100 Continue` before the request is authenticated): clients may sign it.
fn restore_expect(req: &mut actix_web::dev::ServiceRequest) {
    let value = req
        .conn_data::<Rc<crate::http::Connection>>()
        .and_then(|c| c.take_expect())
        .and_then(|v| actix_web::http::header::HeaderValue::from_bytes(&v).ok());
    if let Some(value) = value {
        req.headers_mut()
            .insert(actix_web::http::header::EXPECT, value);
    }
}

/// Host header. Give them one.
fn host_from_authority(req: &mut actix_web::dev::ServiceRequest) {
    use actix_web::http::header::{HeaderValue, HOST};
    if req.headers().contains_key(HOST) {
        return;
    }
    if let Some(host) = req
        .uri()
        .authority()
        .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        req.headers_mut().insert(HOST, host);
    }
}

/// SIGHUP: re-reads the configuration; applies what can change live in the server; keeps the
/// running settings if the file is broken. Returns the new configuration for the backend.
fn reload(
    source: &ReloadSource<'_>,
    message: Option<Reload>,
    config: &mut Config,
    front: &Front,
    certs: Option<&tls::Reloadable>,
) -> Option<Config> {
    let (loaded, pem) = match message {
        Some(m) => (
            Config::from_text(source.args, &m.config, source.check),
            m.tls,
        ),
        None => (Config::load(source.args, source.check), None),
    };
    let new = match loaded {
        Ok(new) => new,
        Err(e) => {
            log::error!("SIGHUP: the configuration is not valid, keeping the running one: {e}");
            return None;
        }
    };
    let new_cert = match (certs, &new.tls) {
        (Some(_), Some(files)) => {
            match pem.map_or_else(|| tls::load(files), |p| tls::parse(files, &p)) {
                Ok(key) => Some(key),
                Err(e) => {
                    log::error!("SIGHUP: keeping the running configuration: {e}");
                    return None;
                }
            }
        }
        _ => None,
    };
    if let (Some(certs), Some(key)) = (certs, new_cert) {
        certs.replace(key);
        log::info!("SIGHUP: reloaded the TLS certificate");
    }
    logging::set_level(new.live.log_level);
    if let Ok(mut live) = front.live.write() {
        *live = new.live.clone();
    }
    if let Ok(Some(guard)) = front.guard.read().as_deref() {
        guard.set_max_header_size(usize::try_from(new.live.max_header_size).unwrap_or(usize::MAX));
    }
    let pending = new.restart_needed(config);
    if !pending.is_empty() {
        log::warn!(
            "SIGHUP: changed settings that apply only after a restart: {}",
            pending.join(", ")
        );
    }
    let source = source
        .args
        .config
        .as_ref()
        .map_or("the command line".into(), |p| p.display().to_string());
    log::info!(
        "SIGHUP: reloaded {source} (log_level {}, max_header_size {}, max_object_size {}, \
         client_body_timeout {}s)",
        new.live.log_level,
        new.live.max_header_size,
        new.live.max_object_size,
        new.live.client_body_timeout.as_secs()
    );
    // A backend of another kind takes a restart (said above); the same kind reloads its own.
    let same_backend = new.backend == config.backend;
    *config = Config {
        live: new.live.clone(),
        tls: new.tls.clone(),
        ..config.clone()
    };
    same_backend.then_some(new)
}

/// Declared request body size: the decoded length of aws-chunked bodies, else Content-Length.
fn declared_length(req: &HttpRequest) -> Option<u64> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    header("x-amz-decoded-content-length").or_else(|| header("content-length"))
}

/// Every S3 request: limits checked, counted, logged in the access log.
async fn serve_s3<S: ObjectStore>(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState<S>>,
    front: web::Data<Front>,
    stats: web::Data<Stats>,
) -> HttpResponse {
    let started = Instant::now();
    let request_id = crate::s3::next_request_id();
    // A request the connection guard refused: this is its stand-in, to be answered.
    let connection = req.conn_data::<Rc<crate::http::Connection>>().cloned();
    let rejection = connection.as_ref().and_then(|c| c.request_started());
    let (max_header, max_object, body_timeout) = front
        .live
        .read()
        .map(|l| (l.max_header_size, l.max_object_size, l.client_body_timeout))
        .unwrap_or((u64::MAX, u64::MAX, std::time::Duration::ZERO));
    let payload = match connection {
        // `100 Continue` when the handler reads the body: after authentication.
        Some(connection) => crate::http::announce_reads(payload.into_inner(), connection),
        None => payload.into_inner(),
    };
    let payload = if body_timeout.is_zero() {
        payload
    } else {
        crate::s3::idle::limit(payload, body_timeout)
    };
    let upload = matches!(*req.method(), Method::PUT | Method::POST);
    let _in_flight = stats.request(upload);
    let declared = declared_length(&req);
    let header_bytes: u64 = req
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().len() + v.len()) as u64)
        .sum();
    let refuse = |error: S3Error| {
        let mut response = error_response(&error, &req, &request_id);
        if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(
                actix_web::http::header::HeaderName::from_static("x-amz-request-id"),
                v,
            );
        }
        response
    };
    let response = if let Some(rejection) = rejection {
        let mut response = refuse(refusal(&rejection));
        response
            .extensions_mut()
            .insert(OperationName("RefusedRequest"));
        response
    } else if header_bytes > max_header {
        refuse(S3Error::new(
            S3ErrorCode::RequestHeaderSectionTooLarge,
            format!("Your request header section exceeds the maximum allowed size ({max_header} bytes)."),
        ))
    } else if upload && declared.is_some_and(|n| n > max_object) {
        refuse(S3Error::new(
            S3ErrorCode::EntityTooLarge,
            format!("Your proposed upload exceeds the maximum allowed size ({max_object} bytes)."),
        ))
    } else {
        // Boxed where it is made: the handlers' future is several KiB, and moving it (into
        // `catch`, and with this future into actix's box) cost a small GET more in memcpy
        // than its index read.
        let handled = Box::pin(async {
            #[cfg(debug_assertions)]
            panic_if_asked(&req);
            dispatch(req.clone(), payload, state, request_id.clone()).await
        });
        match crate::http::panics::catch(request_id.clone(), handled).await {
            Some(response) => response,
            None => refuse(S3Error::new(
                S3ErrorCode::InternalError,
                "We encountered an internal error. Please try again.",
            )),
        }
    };

    let operation = response
        .extensions()
        .get::<OperationName>()
        .map_or("-", |o| o.0);
    let status = response.status();
    let sent = match response.body().size() {
        BodySize::Sized(n) if *req.method() != Method::HEAD => Some(n),
        _ => None,
    };
    stats.record(
        operation,
        status.is_client_error() || status.is_server_error(),
        if upload { declared.unwrap_or(0) } else { 0 },
        sent.unwrap_or(0),
    );
    let request_id = response
        .headers()
        .get("x-amz-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let outcome = crate::access_line::Outcome {
        status: status.as_u16(),
        sent,
        request_id,
        operation,
        elapsed: started.elapsed(),
    };
    let line = crate::access_line::line(&req, &outcome);
    if status.is_server_error() {
        log::warn!("{request_id} {operation} {}: answered {status}", req.path());
    }
    logging::access(&line);
    let body_id = request_id.to_string();
    response.map_body(|_, body| crate::http::panics::CatchBody::wrap(body_id, body.boxed()))
}

/// Debug builds only (the integration tests run one): a request carrying the header
/// `x-libres3-test-panic` to a server started with `LIBRES3_TEST_PANICS=1` panics in its
/// handler, so the tests can check that a panic fails that request alone.
#[cfg(debug_assertions)]
fn panic_if_asked(req: &HttpRequest) {
    if req.headers().contains_key("x-libres3-test-panic")
        && std::env::var_os("LIBRES3_TEST_PANICS").is_some()
    {
        panic!("a test asked this request to panic");
    }
}
