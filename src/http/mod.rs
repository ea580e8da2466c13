//! The HTTP layer: listeners, TLS, the connection guard and connection limits, under an
//! actix-web App that knows nothing of them.
//!
//! actix-web's `HttpServer` hands sockets straight to actix-http's decoder; here every
//! connection is wrapped in a [`guard::Guard`] first (see there why), then served by the same
//! actix-http service `HttpServer` would build.

pub mod descriptors;
pub mod framing;
pub mod guard;
pub mod listen;
pub mod panics;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_http::{Protocol, Request, Response};
use actix_service::{
    fn_service, map_config, IntoServiceFactory, ServiceFactory, ServiceFactoryExt,
};
use actix_tls::accept::rustls_0_23::{Acceptor, TlsStream};
use actix_tls::accept::TlsError;
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, Extensions};
use actix_web::rt::net::TcpStream;

pub use guard::{announce_reads, Connection, Settings};

/// In the `conn_data` of requests that came over TLS.
#[derive(Clone, Copy, Debug)]
pub struct Tls {
    /// `1.2` or `1.3`, as the `s3:TlsVersion` policy key has it.
    pub version: Option<&'static str>,
}

/// Did `req` come over TLS? (actix's `AppConfig::secure` is not set by these listeners.)
pub fn is_secure(req: &actix_web::HttpRequest) -> bool {
    req.conn_data::<Tls>().is_some()
}

fn tls_version(version: rustls::ProtocolVersion) -> Option<&'static str> {
    match version {
        rustls::ProtocolVersion::TLSv1_2 => Some("1.2"),
        rustls::ProtocolVersion::TLSv1_3 => Some("1.3"),
        _ => None,
    }
}

/// Called for each new connection, to put what its requests need in their `conn_data`.
pub type OnConnect = Arc<dyn Fn(&mut Extensions) + Send + Sync>;

/// How a server runs, besides its listeners.
pub struct Options {
    /// Worker threads; 0: one per core.
    pub workers: usize,
    /// Connections one worker accepts at once before new ones wait in the kernel's queue.
    pub per_worker: usize,
    pub keep_alive: Duration,
    /// Seconds in-flight requests get to finish on a graceful stop.
    pub shutdown_timeout: u64,
}

/// The ALPN protocols HTTPS listeners offer: HTTP/2 first, as actix-web's own listeners do.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Builds a server for `app` on `plain` and `tls` listeners; `run()` it to serve.
pub fn server<F, I, S, B>(
    app: F,
    plain: Vec<TcpListener>,
    tls: Vec<(TcpListener, rustls::ServerConfig)>,
    settings: Arc<Settings>,
    options: &Options,
    on_connect: OnConnect,
) -> std::io::Result<actix_server::ServerBuilder>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as actix_service::Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let mut builder = actix_server::Server::build()
        .disable_signals()
        .shutdown_timeout(options.shutdown_timeout)
        .max_concurrent_connections(options.per_worker.max(1));
    if options.workers > 0 {
        builder = builder.workers(options.workers);
    }
    let keep_alive = options.keep_alive;
    let shutdown = builder.graceful_shutdown_signal();
    let app = move || {
        app()
            .into_factory()
            .map_err(|err| err.into().error_response())
    };
    for listener in plain {
        let addr = listener.local_addr()?;
        let (app, settings, on_connect, shutdown) = (
            app.clone(),
            settings.clone(),
            on_connect.clone(),
            shutdown.clone(),
        );
        builder = builder.listen(format!("http-{addr}"), listener, move || {
            let settings = settings.clone();
            let on_connect = on_connect.clone();
            let service = http_service(keep_alive, &shutdown)
                .on_connect_ext(move |io: &guard::Guard<TcpStream>, ext: &mut Extensions| {
                    ext.insert(io.connection());
                    on_connect(ext);
                })
                .finish(map_config(app(), |_| AppConfig::default()));
            fn_service(move |io: TcpStream| {
                let settings = settings.clone();
                async move {
                    // Headers and a small body leave in separate writes: without this,
                    // Nagle's algorithm and delayed ACKs hold every small GET for ~40 ms.
                    let _ = io.set_nodelay(true);
                    let peer = io.peer_addr().ok();
                    let guarded = guard::Guard::new(io, peer, settings, true);
                    Ok::<_, actix_http::error::DispatchError>((guarded, Protocol::Http1, peer))
                }
            })
            .and_then(service)
        })?;
    }
    for (listener, mut config) in tls {
        let addr = listener.local_addr()?;
        config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        let (app, settings, on_connect, shutdown) = (
            app.clone(),
            settings.clone(),
            on_connect.clone(),
            shutdown.clone(),
        );
        builder = builder.listen(format!("https-{addr}"), listener, move || {
            let settings = settings.clone();
            let on_connect = on_connect.clone();
            let service = http_service(keep_alive, &shutdown)
                .on_connect_ext(
                    move |io: &guard::Guard<TlsStream<TcpStream>>, ext: &mut Extensions| {
                        ext.insert(io.connection());
                        let (_, session) = io.get_ref().get_ref();
                        ext.insert(Tls {
                            version: session.protocol_version().and_then(tls_version),
                        });
                        on_connect(ext);
                    },
                )
                .finish(map_config(app(), |_| AppConfig::default()))
                .map_err(TlsError::Service);
            Acceptor::new(config.clone())
                .map_init_err(|_| ())
                .map_err(TlsError::into_service_error)
                .and_then(move |io: TlsStream<TcpStream>| {
                    let settings = settings.clone();
                    async move {
                        let (tcp, session) = io.get_ref();
                        let _ = tcp.set_nodelay(true);
                        let peer = tcp.peer_addr().ok();
                        // HTTP/2 is framed by the h2 crate, which has its own limits.
                        let h2 = session.alpn_protocol() == Some(b"h2");
                        let protocol = if h2 { Protocol::Http2 } else { Protocol::Http1 };
                        Ok((guard::Guard::new(io, peer, settings, !h2), protocol, peer))
                    }
                })
                .and_then(service)
        })?;
    }
    Ok(builder)
}

/// The actix-http service of one connection. The guard times request heads itself
/// (`client_request_timeout`), so actix's own head timer, which would answer an empty 408, is
/// off. On a graceful stop, idle kept-alive connections are told to close, as actix-web's own
/// listeners do.
fn http_service<T, S>(
    keep_alive: Duration,
    shutdown: &actix_server::GracefulShutdownSignal,
) -> actix_http::HttpServiceBuilder<T, S>
where
    S: ServiceFactory<Request, Config = ()>,
    S::Error: Into<Response<actix_web::body::BoxBody>> + 'static,
    S::InitError: std::fmt::Debug,
    <S::Service as actix_service::Service<Request>>::Future: 'static,
{
    let shutdown = shutdown.clone();
    actix_http::HttpServiceBuilder::default()
        .graceful_shutdown_signal(move || {
            let shutdown = shutdown.clone();
            async move { shutdown.notified().await }
        })
        .keep_alive(keep_alive)
        .client_request_timeout(Duration::ZERO)
        .client_disconnect_timeout(Duration::from_secs(1))
}
