//! `libres3 check-config`: the effective settings, one `key = value` per line.

use std::net::SocketAddr;
use std::time::Duration;

use super::keys::find_key;
use super::settings::{Backend, Config};

/// `libres3 check-config`: a summary of the effective settings, one `key = value` per line.
pub fn describe(config: &Config) -> String {
    let list = |addrs: &[SocketAddr]| {
        if addrs.is_empty() {
            "off".to_string()
        } else {
            addrs
                .iter()
                .map(SocketAddr::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        }
    };
    let seconds = |d: Duration| format!("{}s", d.as_secs());
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k} = {v}\n"));
    line(
        "backend",
        match config.backend {
            Backend::Embedded => "embedded".into(),
            Backend::Sx => "sx".into(),
        },
    );
    for dir in &config.data_dirs {
        line("data_dir", dir.display().to_string());
    }
    if let Some(key_file) = &config.encryption_key_file {
        line("encryption_key_file", key_file.display().to_string());
    }
    line("kms_key_dir", config.kms_key_dir.display().to_string());
    line("http", list(&config.listen));
    line("https", list(&config.https_listen));
    if let Some(tls) = &config.tls {
        line(
            "s3_ssl_certificate_file",
            tls.certificate.display().to_string(),
        );
        line(
            "s3_ssl_privatekey_file",
            tls.private_key.display().to_string(),
        );
    }
    line(
        "admin_listen",
        config.admin_listen.map_or("off".into(), |a| a.to_string()),
    );
    line(
        "admin_auth",
        if config.live.admin_auth.is_some() {
            "(set)"
        } else {
            "off"
        }
        .into(),
    );
    line("s3_host", config.s3.s3_host.clone().unwrap_or_default());
    line("s3_region", config.s3.region.clone());
    line(
        "allow_sse_c_over_http",
        if config.s3.allow_sse_c_over_http {
            "yes"
        } else {
            "no"
        }
        .into(),
    );
    line(
        "public_access_block",
        config.s3.public_access_block.describe(),
    );
    line(
        "object_ownership",
        config.s3.object_ownership.as_str().into(),
    );
    line("lifecycle_interval", seconds(config.s3.lifecycle_interval));
    line("lifecycle_day_seconds", seconds(config.s3.lifecycle_day));
    line(
        "daemonize",
        if config.daemonize { "yes" } else { "no" }.into(),
    );
    line(
        "run-as",
        config
            .run_as
            .as_ref()
            .map_or(String::new(), |r| match &r.group {
                Some(g) => format!("{}:{g}", r.user),
                None => r.user.clone(),
            }),
    );
    line("pidfile", config.pidfile.display().to_string());
    line("logdir", config.logdir.display().to_string());
    line(
        "log_level",
        config.live.log_level.to_string().to_lowercase(),
    );
    line("shutdown_timeout", seconds(config.shutdown_timeout));
    line("max_connections", config.limits.max_connections.to_string());
    line("max_parallel", config.limits.max_parallel.to_string());
    line("workers", config.limits.workers.to_string());
    line(
        "client_request_timeout",
        seconds(config.limits.client_request_timeout),
    );
    line("keep_alive", seconds(config.limits.keep_alive));
    line("max_header_size", config.live.max_header_size.to_string());
    line("max_object_size", config.live.max_object_size.to_string());
    line(
        "client_body_timeout",
        seconds(config.live.client_body_timeout),
    );
    for entry in &config.sx {
        let value = if find_key(entry.key).is_some_and(|k| k.secret) {
            "(set)".to_string()
        } else {
            entry.value.clone()
        };
        line(entry.key, value);
    }
    out
}
