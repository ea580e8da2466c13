//! Subcommands and flags. The flag table is the one source of `--help`.

use std::ffi::OsString;
use std::path::PathBuf;

/// What the command line asks for, before the configuration file is read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Args {
    pub command: Command,
    pub config: Option<PathBuf>,
    pub data_dirs: Vec<PathBuf>,
    pub listen: Vec<String>,
    pub s3_host: Option<String>,
    pub region: Option<String>,
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    pub show_secrets: bool,
    pub description: Option<String>,
    pub daemon: bool,
    pub foreground: bool,
    pub pidfile: Option<PathBuf>,
    pub logdir: Option<PathBuf>,
    pub run_as: Option<String>,
    pub admin_listen: Option<String>,
    pub https_listen: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub show_keys: bool,
    pub batch: bool,
    pub force: bool,
    pub tls_self_signed: bool,
    pub backend: Option<String>,
    pub sx_host: Option<String>,
    pub sx_port: Option<String>,
    pub sx_key_file: Option<PathBuf>,
    pub sx_use_ssl: Option<String>,
    pub sx_ca_file: Option<PathBuf>,
    pub replica_count: Option<String>,
    pub volume_size: Option<String>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum Command {
    #[default]
    Serve,
    UserAdd(String),
    UserList,
    UserRemove(String),
    KmsCreateKey,
    KmsListKeys,
    CheckConfig,
    Setup,
    Stop,
    Status,
    Reload,
    Health,
    Help,
    Version,
}

/// What `--version` prints after the program name: the crate version, the git commit and the
/// target triple, stamped by build.rs (e.g. `0.1.0 (commit 0123456789ab, x86_64-unknown-linux-musl)`).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("LIBRES3_COMMIT"),
    ", ",
    env!("LIBRES3_TARGET"),
    ")"
);

/// (flag, value name, help). Every flag takes a value unless its value name is empty.
pub const FLAGS: &[(&str, &str, &str)] = &[
    ("--config", "FILE", "read settings from FILE (key = value lines)"),
    ("--data-dir", "DIR", "a storage directory of the embedded store; repeat for several (default: /var/lib/libres3 as root, else $XDG_DATA_HOME/libres3 or ~/.local/share/libres3)"),
    ("--listen", "ADDR:PORT", "listen for S3 requests there; repeatable (default: 127.0.0.1:8008)"),
    ("--daemon", "", "serve: detach into the background under a supervisor (like daemonize = yes)"),
    ("--foreground", "", "serve: stay in the foreground even if the file says daemonize = yes"),
    ("--pidfile", "FILE", "the daemon's pid file (default /run/libres3/libres3.pid as root)"),
    ("--logdir", "DIR", "where the daemon writes access.log and errors.log (default /var/log/libres3 as root)"),
    ("--run-as", "USER[:GROUP]", "drop to this user after binding the ports"),
    ("--admin-listen", "ADDR:PORT", "the admin endpoint (/health, /stats, /metrics), or off (default 127.0.0.1:8009); health: the endpoint to ask"),
    ("--https-listen", "ADDR:PORT", "listen for S3 over HTTPS there (needs --tls-cert and --tls-key or the file's keys)"),
    ("--tls-cert", "FILE", "PEM certificate chain for HTTPS"),
    ("--tls-key", "FILE", "PEM private key for HTTPS (mode 0600)"),
    ("--s3-host", "NAME", "answer virtual-hosted-style requests for bucket.NAME"),
    ("--region", "REGION", "the region clients sign requests for (default: us-east-1)"),
    ("--access-key", "KEY", "user add: the access key to give the user (default: generated)"),
    ("--secret-key", "SECRET", "user add: the secret key to give the user (default: generated)"),
    ("--secrets", "", "user list: also print secret keys"),
    ("--description", "TEXT", "kms create-key: a note on the key that kms list-keys shows"),
    ("--keys", "", "check-config: list every key libres3.conf accepts"),
    ("--batch", "", "setup: ask nothing; take the settings from the flags"),
    ("--force", "", "setup: replace an existing configuration file (and generated certificate)"),
    ("--tls-self-signed", "", "setup: make a self-signed certificate for the S3 host name (and *.host) and the listen address, beside the configuration file"),
    ("--backend", "NAME", "setup: embedded (data on local disks, the default) or sx (a Skylable SX cluster)"),
    ("--sx-host", "HOST[,HOST]", "setup: SX node addresses"),
    ("--sx-port", "PORT", "setup: the SX nodes' port (default 443 with HTTPS, else 80)"),
    ("--sx-key-file", "FILE", "setup: file holding the SX admin key (as sxsetup prints it)"),
    ("--sx-use-ssl", "yes|no", "setup: talk HTTPS to the SX nodes (default yes)"),
    ("--sx-ca-file", "FILE", "setup: PEM CA certificate of the SX cluster (default: public CAs)"),
    ("--replica-count", "N", "setup, SX: replicas of the volumes new buckets get (default 1)"),
    ("--volume-size", "SIZE", "setup, SX: size of the volumes new buckets get (default 10G)"),
    ("--help", "", "print this help and exit"),
    ("--version", "", "print the version and exit"),
];

pub fn usage() -> String {
    let mut out = String::from(
        "libres3: an Amazon S3 compatible server\n\n\
         Usage:\n  \
         libres3 [serve] [OPTIONS]          run the S3 server (the default command)\n  \
         libres3 user add NAME [OPTIONS]    create a user and print its keys\n  \
         libres3 user list [OPTIONS]        list users and their access keys\n  \
         libres3 user remove NAME [OPTIONS] delete a user\n  \
         libres3 kms create-key [OPTIONS]   add an SSE-S3/SSE-KMS master key and print its id\n  \
         libres3 kms list-keys [OPTIONS]    list the master keys: id, created, default or -, description\n  \
         libres3 check-config [OPTIONS]     validate the configuration and print the effective settings\n  \
         libres3 setup [--batch] [OPTIONS]  write --config FILE, create the store or check the SX cluster, and client examples\n  \
         libres3 stop [OPTIONS]             stop the daemon named by the pid file (waits for it)\n  \
         libres3 status [OPTIONS]           exit 0 if the daemon runs, 3 if not, 1 if it died leaving its pid file\n  \
         libres3 reload [OPTIONS]           make the daemon re-read its configuration (SIGHUP)\n  \
         libres3 health [OPTIONS]           exit 0 if the admin endpoint's /health answers 200, else 1\n\n\
         Options:\n",
    );
    for (flag, value, help) in FLAGS {
        let left = if value.is_empty() {
            flag.to_string()
        } else {
            format!("{flag} {value}")
        };
        out.push_str(&format!("  {left:<24} {help}\n"));
    }
    out.push_str(
        "\nEnvironment:\n  \
         LIBRES3_ACCESS_KEY, LIBRES3_SECRET_KEY  keys of the first user, used when the store has no user yet\n  \
         RUST_LOG                                log level (error, warn, info, debug, trace; default info)\n",
    );
    out
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Args, String> {
    let mut parsed = Args::default();
    let mut words = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let arg = arg
            .into_string()
            .map_err(|a| format!("argument {a:?} is not valid UTF-8"))?;
        let (flag, inline_value) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let flag = match flag.as_str() {
            "-h" => "--help",
            "-V" => "--version",
            f => f,
        };
        if !flag.starts_with('-') || flag == "-" {
            words.push(arg);
            continue;
        }
        let Some((_, value_name, _)) = FLAGS.iter().find(|(f, ..)| *f == flag) else {
            return Err(format!("unknown option {flag}; see libres3 --help"));
        };
        let value = if value_name.is_empty() {
            None
        } else {
            let value = match inline_value {
                Some(v) => v,
                None => args
                    .next()
                    .and_then(|v| v.into_string().ok())
                    .ok_or_else(|| format!("{flag} needs a value ({value_name})"))?,
            };
            Some(value)
        };
        match (flag, value) {
            ("--config", Some(v)) => parsed.config = Some(v.into()),
            ("--data-dir", Some(v)) => parsed.data_dirs.push(v.into()),
            ("--listen", Some(v)) => parsed.listen.push(v),
            ("--s3-host", Some(v)) => parsed.s3_host = Some(v),
            ("--region", Some(v)) => parsed.region = Some(v),
            ("--access-key", Some(v)) => parsed.access_key = Some(v),
            ("--secret-key", Some(v)) => parsed.secret_key = Some(v),
            ("--secrets", None) => parsed.show_secrets = true,
            ("--description", Some(v)) => parsed.description = Some(v),
            ("--keys", None) => parsed.show_keys = true,
            ("--batch", None) => parsed.batch = true,
            ("--force", None) => parsed.force = true,
            ("--tls-self-signed", None) => parsed.tls_self_signed = true,
            ("--backend", Some(v)) => parsed.backend = Some(v),
            ("--sx-host", Some(v)) => parsed.sx_host = Some(v),
            ("--sx-port", Some(v)) => parsed.sx_port = Some(v),
            ("--sx-key-file", Some(v)) => parsed.sx_key_file = Some(v.into()),
            ("--sx-use-ssl", Some(v)) => parsed.sx_use_ssl = Some(v),
            ("--sx-ca-file", Some(v)) => parsed.sx_ca_file = Some(v.into()),
            ("--replica-count", Some(v)) => parsed.replica_count = Some(v),
            ("--volume-size", Some(v)) => parsed.volume_size = Some(v),
            ("--daemon", None) => parsed.daemon = true,
            ("--foreground", None) => parsed.foreground = true,
            ("--pidfile", Some(v)) => parsed.pidfile = Some(v.into()),
            ("--logdir", Some(v)) => parsed.logdir = Some(v.into()),
            ("--run-as", Some(v)) => parsed.run_as = Some(v),
            ("--admin-listen", Some(v)) => parsed.admin_listen = Some(v),
            ("--https-listen", Some(v)) => parsed.https_listen = Some(v),
            ("--tls-cert", Some(v)) => parsed.tls_cert = Some(v.into()),
            ("--tls-key", Some(v)) => parsed.tls_key = Some(v.into()),
            ("--help", None) => parsed.command = Command::Help,
            ("--version", None) => parsed.command = Command::Version,
            (flag, _) => return Err(format!("{flag} is not handled")),
        }
    }
    if matches!(parsed.command, Command::Help | Command::Version) {
        return Ok(parsed);
    }
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    parsed.command = match words.as_slice() {
        [] | ["serve"] => Command::Serve,
        ["check-config"] => Command::CheckConfig,
        ["setup"] => Command::Setup,
        ["stop"] => Command::Stop,
        ["status"] => Command::Status,
        ["reload"] => Command::Reload,
        ["health"] => Command::Health,
        ["user", "add", name] => Command::UserAdd(name.to_string()),
        ["user", "list"] => Command::UserList,
        ["user", "remove", name] => Command::UserRemove(name.to_string()),
        ["user", ..] => {
            return Err("usage: libres3 user add NAME | user list | user remove NAME".into())
        }
        ["kms", "create-key"] => Command::KmsCreateKey,
        ["kms", "list-keys"] => Command::KmsListKeys,
        ["kms", ..] => {
            return Err("usage: libres3 kms create-key [--description TEXT] | kms list-keys".into())
        }
        [other, ..] => return Err(format!("unknown command {other:?}; see libres3 --help")),
    };
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(words: &[&str]) -> Result<Args, String> {
        parse(words.iter().map(OsString::from))
    }

    #[test]
    fn serve_flags() {
        let a = parse_words(&[
            "serve",
            "--data-dir",
            "/a",
            "--data-dir=/b",
            "--listen",
            "0.0.0.0:80",
            "--s3-host",
            "s3.local",
        ])
        .unwrap();
        assert_eq!(a.command, Command::Serve);
        assert_eq!(a.data_dirs, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(a.listen, vec!["0.0.0.0:80"]);
        assert_eq!(a.s3_host.as_deref(), Some("s3.local"));
        assert_eq!(parse_words(&[]).unwrap().command, Command::Serve);
    }

    #[test]
    fn user_commands() {
        let a = parse_words(&[
            "user",
            "add",
            "bob",
            "--access-key",
            "K",
            "--secret-key",
            "S",
        ])
        .unwrap();
        assert_eq!(a.command, Command::UserAdd("bob".into()));
        assert_eq!(
            (a.access_key.as_deref(), a.secret_key.as_deref()),
            (Some("K"), Some("S"))
        );
        assert_eq!(
            parse_words(&["user", "list"]).unwrap().command,
            Command::UserList
        );
        assert_eq!(
            parse_words(&["user", "remove", "bob"]).unwrap().command,
            Command::UserRemove("bob".into())
        );
    }

    #[test]
    fn kms_commands() {
        let a = parse_words(&["kms", "create-key", "--description", "archive 2027"]).unwrap();
        assert_eq!(a.command, Command::KmsCreateKey);
        assert_eq!(a.description.as_deref(), Some("archive 2027"));
        assert_eq!(
            parse_words(&["kms", "list-keys"]).unwrap().command,
            Command::KmsListKeys
        );
        for bad in [
            &["kms"][..],
            &["kms", "delete-key"],
            &["kms", "list-keys", "x"],
        ] {
            assert!(
                parse_words(bad).unwrap_err().contains("usage: libres3 kms"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn errors() {
        assert!(parse_words(&["--bogus"]).unwrap_err().contains("--bogus"));
        assert!(parse_words(&["--listen"])
            .unwrap_err()
            .contains("needs a value"));
        assert!(parse_words(&["frobnicate"]).is_err());
        assert!(parse_words(&["user", "add"]).is_err());
        assert_eq!(parse_words(&["-h"]).unwrap().command, Command::Help);
        assert!(usage().contains("--data-dir DIR"));
        assert!(parse_words(&["stop", "now"]).is_err());
    }

    #[test]
    fn service_commands() {
        let a = parse_words(&["serve", "--daemon", "--pidfile", "/p", "--run-as", "u:g"]).unwrap();
        assert!(a.daemon);
        assert_eq!(a.pidfile, Some(PathBuf::from("/p")));
        assert_eq!(a.run_as.as_deref(), Some("u:g"));
        for (word, command) in [
            ("stop", Command::Stop),
            ("status", Command::Status),
            ("reload", Command::Reload),
            ("check-config", Command::CheckConfig),
            ("health", Command::Health),
        ] {
            assert_eq!(
                parse_words(&[word, "--config", "/c"]).unwrap().command,
                command
            );
        }
    }
}
