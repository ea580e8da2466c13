//! `libres3 health`: asks the admin endpoint's `/health` and exits 0 when it answers 200, 1
//! otherwise with a one-line reason. Made for health checks where there is no shell and no
//! curl (the container image is FROM scratch).

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use crate::cli::Args;
use crate::config::{self, Config};

/// How long the check waits to connect, and then for the answer.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Where to ask: `--admin-listen`, else the configuration's `admin_listen`.
fn address(args: &Args, check: config::BackendCheck) -> Result<SocketAddr, String> {
    let addr = match &args.admin_listen {
        Some(word) => config::parse_addr_or_off(word)
            .ok_or_else(|| format!("--admin-listen {word:?} is not ADDR:PORT"))?,
        None => {
            Config::load(args, check)
                .map_err(|e| e.to_string())?
                .admin_listen
        }
    };
    let mut addr = addr.ok_or("the admin endpoint is off (admin_listen = off): nothing to ask")?;
    if addr.port() == 0 {
        return Err(format!(
            "admin_listen is {addr}: port 0 is chosen at start; give --admin-listen ADDR:PORT"
        ));
    }
    // A server listening on every address answers on the loopback one.
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => addr.set_ip(Ipv4Addr::LOCALHOST.into()),
        IpAddr::V6(ip) if ip.is_unspecified() => addr.set_ip(Ipv6Addr::LOCALHOST.into()),
        _ => {}
    }
    Ok(addr)
}

/// The status code of `GET /health` on `addr`.
fn ask(addr: SocketAddr) -> Result<u16, String> {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)
        .map_err(|e| format!("cannot connect to the admin endpoint {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
        .map_err(|e| format!("{addr}: {e}"))?;
    let request =
        format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nUser-Agent: libres3-health\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("cannot ask {addr}: {e}"))?;
    // The status line is all we need; the answer is small anyway.
    let mut head = Vec::new();
    let mut chunk = [0u8; 512];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("no answer from {addr}: {e}")),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let line = line.lines().next().unwrap_or_default();
    match line.split_whitespace().collect::<Vec<_>>().as_slice() {
        [version, code, ..] if version.starts_with("HTTP/") => code
            .parse()
            .map_err(|_| format!("{addr} answered {line:?}, not HTTP")),
        _ if line.is_empty() => Err(format!("{addr} closed the connection without answering")),
        _ => Err(format!("{addr} answered {line:?}, not HTTP")),
    }
}

/// 0 healthy, 1 not; one line either way.
/// `check`: the backends' say on their keys, as for every command that reads the file.
pub fn run(args: &Args, check: config::BackendCheck) -> u8 {
    let result = address(args, check).and_then(|addr| ask(addr).map(|code| (addr, code)));
    match result {
        Ok((addr, 200)) => {
            println!("libres3: healthy ({addr}/health answered 200)");
            0
        }
        Ok((addr, code)) => {
            eprintln!("libres3: unhealthy: {addr}/health answered {code}");
            1
        }
        Err(reason) => {
            eprintln!("libres3: unhealthy: {reason}");
            1
        }
    }
}
