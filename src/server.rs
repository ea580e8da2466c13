//! The HTTP server: one catch-all service that hands every request to `s3::dispatch`.

use std::io::Write;
use std::net::TcpListener;

use actix_web::{web, App, HttpServer};

use crate::s3::{dispatch, AppState, S3Config};
use crate::store::ObjectStore;

/// Binds every address first, so a port that is taken fails before anything starts.
pub fn bind(addrs: &[std::net::SocketAddr]) -> Result<Vec<TcpListener>, String> {
    addrs
        .iter()
        .map(|addr| {
            TcpListener::bind(addr).map_err(|e| {
                format!("cannot listen on {addr}: {e}; choose another address with --listen")
            })
        })
        .collect()
}

/// Serves S3 on `listeners` until SIGINT or SIGTERM.
pub async fn run<S>(store: S, config: S3Config, listeners: Vec<TcpListener>) -> std::io::Result<()>
where
    S: ObjectStore + Send + Sync,
{
    let state = web::Data::new(AppState { store, config });
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .default_service(web::to(dispatch::<S>))
    })
    // Headers and a small body leave in separate writes: without this, Nagle's algorithm and
    // the client's delayed ACK hold every small GET for ~40 ms.
    .tcp_nodelay(true);
    let mut bound = Vec::new();
    for listener in listeners {
        bound.push(listener.local_addr()?);
        server = server.listen(listener)?;
    }
    let running = server.run();
    // Printed once the sockets are served, so whoever started us may connect now.
    let mut stdout = std::io::stdout().lock();
    for addr in bound {
        writeln!(stdout, "libres3: listening on http://{addr}")?;
    }
    stdout.flush()?;
    drop(stdout);
    running.await
}
