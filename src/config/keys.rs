//! The table of every key `libres3.conf` accepts: the parser, `check-config` and the
//! documentation all read it, so a key cannot be known to one and missing from another.

use super::DEFAULT_ADMIN_LISTEN;
use super::{DEFAULT_LISTEN_IP, DEFAULT_REGION};

/// What a value must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any text.
    Text,
    Path,
    /// yes/no, true/false, on/off, 1/0.
    Bool,
    /// A port number (0: any free port); `off` disables the listener.
    PortOrOff,
    Ip,
    /// ADDR:PORT, or `off`.
    AddrOrOff,
    /// A count.
    Count,
    /// Bytes, with an optional K, M, G or T suffix (powers of 1024).
    Size,
    /// Seconds, with an optional s, m or h suffix.
    Seconds,
    OneOf(&'static [&'static str]),
    /// `user` or `user:group`.
    RunAs,
    /// The Block Public Access flags: `all`, `none`, or a comma-separated list of them.
    PublicAccessFlags,
    /// Kept verbatim for the SX backend, which validates it.
    Sx,
}

impl Kind {
    pub(crate) fn describe(self) -> String {
        match self {
            Kind::Text => "text".into(),
            Kind::Path => "a path".into(),
            Kind::Bool => "yes or no".into(),
            Kind::PortOrOff => "a port number (0-65535) or off".into(),
            Kind::Ip => "an IP address".into(),
            Kind::AddrOrOff => "ADDR:PORT or off".into(),
            Kind::Count => "a whole number".into(),
            Kind::Size => "a size in bytes (suffix K, M, G or T allowed)".into(),
            Kind::Seconds => "a duration in seconds (suffix s, m or h allowed)".into(),
            Kind::OneOf(words) => format!("one of {}", words.join(", ")),
            Kind::RunAs => "USER or USER:GROUP".into(),
            Kind::PublicAccessFlags => format!(
                "all, none, or a comma-separated list of {}",
                super::PUBLIC_ACCESS_FLAGS.join(", ")
            ),
            Kind::Sx => "text".into(),
        }
    }
}

/// One key of `libres3.conf`.
#[derive(Debug)]
pub struct Key {
    pub name: &'static str,
    pub kind: Kind,
    /// Shown in help and check-config; empty when there is none or it depends on others.
    pub default: &'static str,
    /// May appear on several lines, each adding a value.
    pub repeat: bool,
    /// Applied by SIGHUP without a restart.
    pub live: bool,
    /// Its value is a secret (the file holding it must not be readable by others).
    pub secret: bool,
    pub help: &'static str,
}

const fn key(name: &'static str, kind: Kind, default: &'static str, help: &'static str) -> Key {
    Key {
        name,
        kind,
        default,
        repeat: false,
        live: false,
        secret: false,
        help,
    }
}

const fn live(k: Key) -> Key {
    Key { live: true, ..k }
}

pub const LOG_LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace"];

/// Every key `libres3.conf` accepts.
pub const KEYS: &[Key] = &[
    key("backend", Kind::OneOf(&["embedded", "sx"]), "embedded", "where data lives: the embedded store on local disks, or an SX cluster"),
    Key { repeat: true, ..key("data_dir", Kind::Path, "", "a storage directory of the embedded store; one line per directory, the first holds the index (default /var/lib/libres3 as root, else $XDG_DATA_HOME/libres3)") },
    key("encryption_key_file", Kind::Path, "", "key file for encryption at rest of the embedded store: 64 hex digits, e.g. from openssl rand -hex 32 (mode 0600); decided when the store is created"),
    key("kms_key_dir", Kind::Path, "", "directory of the master keys of SSE-S3 and SSE-KMS, made (mode 0700) on first use (default the first data_dir's kms/); back it up, and give every gateway of one SX cluster the same copy"),
    key("s3_host", Kind::Text, "", "host name of the S3 service; enables virtual-hosted-style requests (bucket.s3_host)"),
    key("s3_listen_ip", Kind::Ip, DEFAULT_LISTEN_IP, "address the S3 listeners bind"),
    key("s3_http_port", Kind::PortOrOff, "8008", "HTTP port (off: no HTTP listener)"),
    key("s3_https_port", Kind::PortOrOff, "", "HTTPS port (default 8443 when a certificate is configured, else off)"),
    key("s3_ssl_certificate_file", Kind::Path, "", "PEM certificate chain for HTTPS (re-read on SIGHUP)"),
    Key { secret: true, ..key("s3_ssl_privatekey_file", Kind::Path, "", "PEM private key for HTTPS, mode 0600 (re-read on SIGHUP)") },
    key("s3_region", Kind::Text, DEFAULT_REGION, "the region clients sign requests for"),
    key("allow_sse_c_over_http", Kind::Bool, "no", "accept SSE-C keys (x-amz-server-side-encryption-customer-key) over plain HTTP, e.g. behind a TLS proxy; otherwise they are refused there as AWS refuses them"),
    key("public_access_block", Kind::PublicAccessFlags, "none", "Block Public Access flags applied to every bucket, on top of each bucket's own (as AWS's account-level setting); all blocks public ACLs and public bucket policies everywhere"),
    key("object_ownership", Kind::OneOf(super::OBJECT_OWNERSHIPS), "ObjectWriter", "Object Ownership given to buckets created without x-amz-object-ownership: ObjectWriter (the writer owns an object, ACLs apply), BucketOwnerPreferred, or BucketOwnerEnforced (the bucket owner owns everything, ACLs disabled; AWS's default since 2023)"),
    key("lifecycle_interval", Kind::Seconds, "1h", "how often the lifecycle worker applies the buckets' lifecycle rules (expiration, abort of incomplete multipart uploads); 0 turns it off. With several gateways over one SX cluster, one at a time works on a bucket"),
    key("lifecycle_day_seconds", Kind::Seconds, "86400", "the length of one day in lifecycle rules (Days, DaysAfterInitiation, x-amz-expiration); shorten it only for tests (1 to 86400)"),
    key("admin_listen", Kind::AddrOrOff, DEFAULT_ADMIN_LISTEN, "address of the admin endpoint (/health, /stats, /metrics); off disables it"),
    live(Key { secret: true, ..key("admin_auth", Kind::Text, "", "USER:PASSWORD that /stats and /metrics of the admin endpoint require (HTTP Basic); /health stays open; the file must then have mode 0600") }),
    key("daemonize", Kind::Bool, "no", "detach and run in the background under a supervisor (like --daemon)"),
    key("run-as", Kind::RunAs, "", "USER[:GROUP] to run as after binding ports (required to start as root in daemon mode)"),
    key("pidfile", Kind::Path, "", "pid file of the daemon (default /run/libres3/libres3.pid as root, else $XDG_RUNTIME_DIR/libres3.pid)"),
    key("logdir", Kind::Path, "", "directory of access.log and errors.log in daemon mode (default /var/log/libres3 as root, else the first data_dir's log/)"),
    live(key("log_level", Kind::OneOf(LOG_LEVELS), "info", "errors.log / stderr verbosity (RUST_LOG overrides it in the foreground)")),
    key("shutdown_timeout", Kind::Seconds, "30", "on SIGTERM, how long in-flight requests may take to finish"),
    key("max_connections", Kind::Count, "0", "open S3 client connections beyond which a new one is answered 503 SlowDown and closed (0: three quarters of the open-files limit less 256, at most 65536)"),
    key("max_parallel", Kind::Count, "0", "connections one worker thread accepts at once; more wait in the kernel's accept queue (0: no cap besides max_connections)"),
    key("workers", Kind::Count, "0", "worker threads (0: one per CPU)"),
    live(key("max_header_size", Kind::Size, "8K", "maximum total size of a request's header names and values (S3's own limit, 8K, also applies)")),
    key("client_request_timeout", Kind::Seconds, "30", "time a client has to send a request head: from the connection's start for its first request, from the first byte of each later one (slow clients get 400 RequestTimeout and are cut off)"),
    live(key("client_body_timeout", Kind::Seconds, "60", "longest pause between two pieces of a request body; a client quiet for longer gets 400 RequestTimeout, its upload is discarded and the connection closed (0: no limit)")),
    key("keep_alive", Kind::Seconds, "60", "idle time before a kept-alive connection is closed"),
    live(key("max_object_size", Kind::Size, "5G", "largest object or part a single PUT may upload")),
    key("allow_insecure_permissions", Kind::Bool, "no", "accept secret-bearing files (this file with secret_key, the TLS key, the encryption key file) readable by group or others"),
    live(key("sx_host", Kind::Sx, "", "SX backend: a cluster node; repeat the key or separate names with commas for several")),
    live(key("sx_port", Kind::Sx, "", "SX backend: the nodes' port (default 443 with sx_use_ssl, else 80)")),
    live(Key { secret: true, ..key("secret_key", Kind::Sx, "", "SX backend: the admin key (required)") }),
    live(key("keyid", Kind::Sx, "admin", "SX backend: the S3 access key that acts as the SX admin")),
    live(key("sx_use_ssl", Kind::Sx, "yes", "SX backend: talk to the cluster over HTTPS")),
    live(key("sx_ca_file", Kind::Sx, "", "SX backend: CA certificate of the cluster (default: the public roots)")),
    live(key("sx_verify_ssl", Kind::Sx, "yes", "SX backend: verify the cluster's certificate")),
    live(key("replica_count", Kind::Sx, "1", "SX backend: replicas of new volumes")),
    live(key("volume_size", Kind::Sx, "10G", "SX backend: size of new volumes")),
    live(key("allow_volume_create_any_user", Kind::Sx, "yes", "SX backend: any user may create buckets")),
    live(key("allow_list_all_volumes", Kind::Sx, "no", "SX backend: list every volume a user can read")),
    live(key("sx_node_refresh", Kind::Sx, "60", "SX backend: seconds between two readings of the cluster's node list, so that nodes added to the cluster are used")),
    live(key("sx_fast_large_multipart", Kind::Sx, "no", "SX backend: keep multipart parts made of whole MiB as unflushed 1 MiB blocks, so completing an object over 128 MiB moves no data (a smaller one is copied); such an upload must be completed within 20 hours of those parts")),
];

pub fn find_key(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// The key table as text, for `libres3 check-config --keys` and the man page.
pub fn keys_help() -> String {
    let mut out = String::new();
    for k in KEYS {
        let mut notes = Vec::new();
        if !k.default.is_empty() {
            notes.push(format!("default {}", k.default));
        }
        if k.repeat {
            notes.push("repeatable".into());
        }
        if k.live {
            notes.push("reloaded by SIGHUP".into());
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        };
        out.push_str(&format!(
            "{} = {}\n    {}{notes}\n",
            k.name,
            k.kind.describe(),
            k.help
        ));
    }
    out
}
