use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::file::*;
use super::keys::*;
use super::settings::*;
use super::values::*;
use super::*;
use crate::cli::Args;
use crate::credentials::SecretKey;

/// No backend check: config's own rules only (the SX keys' check is the SX store's).
const NO_CHECK: BackendCheck = |_| Ok(());

fn parse(text: &str) -> Result<FileSettings, ConfigError> {
    parse_file(Path::new("t.conf"), text)
}

fn config(text: &str) -> Result<Config, ConfigError> {
    Config::from_settings(&Args::default(), &parse(text)?, NO_CHECK)
}

#[test]
fn file_keys() {
    let s = parse(
        "# comment\ndata_dir = /a\ndata_dir=/b\ns3_host = \"s3.example.com\"\ns3_http_port = 9000\n",
    )
    .unwrap();
    let c = Config::from_settings(&Args::default(), &s, NO_CHECK).unwrap();
    assert_eq!(c.data_dirs, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
    assert_eq!(c.s3.s3_host.as_deref(), Some("s3.example.com"));
    assert_eq!(c.listen, vec!["127.0.0.1:9000".parse().unwrap()]);
    assert!(c.https_listen.is_empty());
    assert_eq!(c.admin_listen, Some(DEFAULT_ADMIN_LISTEN.parse().unwrap()));
}

#[test]
fn encryption_key_origin_names_file_and_line() {
    let args = Args {
        config: Some(PathBuf::from("t.conf")),
        ..Args::default()
    };
    let file = parse("s3_http_port = 1\nencryption_key_file = /etc/k\n").unwrap();
    let c = Config::from_settings(&args, &file, NO_CHECK).unwrap();
    assert_eq!(c.encryption_key_file, Some(PathBuf::from("/etc/k")));
    assert_eq!(
        c.origin_of_encryption_key(),
        "t.conf:2: encryption_key_file"
    );
    assert!(describe(&c).contains("encryption_key_file = /etc/k\n"));
}

/// `check-config` promises the effective settings: every key but those it sums up otherwise.
#[test]
fn check_config_shows_every_setting() {
    let c = config(
        "encryption_key_file = /etc/k\ns3_ssl_certificate_file = /c.pem\n\
         s3_ssl_privatekey_file = /k.pem\nsx_fast_large_multipart = yes\n",
    )
    .unwrap();
    let shown = describe(&c);
    // The listeners are shown as `http` and `https`; the permission override only decides
    // whether the files load, and SX keys appear once set (one is, above).
    let summed_up = [
        "s3_listen_ip",
        "s3_http_port",
        "s3_https_port",
        "allow_insecure_permissions",
    ];
    for key in KEYS {
        let unset_sx = matches!(key.kind, Kind::Sx) && key.name != "sx_fast_large_multipart";
        if summed_up.contains(&key.name) || unset_sx {
            continue;
        }
        assert!(
            shown.contains(&format!("\n{} = ", key.name))
                || shown.starts_with(&format!("{} = ", key.name)),
            "check-config does not show {}:\n{shown}",
            key.name
        );
    }
}

#[test]
fn errors_name_file_and_line() {
    let e = parse("\n\ns3_htp_port = 1\n").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("t.conf:3: unknown key \"s3_htp_port\""),
        "{e}"
    );
    let e = parse("s3_http_port = x\n").unwrap_err();
    assert!(e.to_string().starts_with("t.conf:1: s3_http_port"), "{e}");
    let e = parse("junk\n").unwrap_err();
    assert!(e.to_string().contains("key = value"), "{e}");
    let e = parse("daemonize = perhaps\n").unwrap_err();
    assert!(
        e.to_string()
            .contains("t.conf:1: daemonize: \"perhaps\" is not yes or no"),
        "{e}"
    );
    let e = parse("pidfile = /a\npidfile = /b\n").unwrap_err();
    assert!(
        e.to_string().starts_with("t.conf:2: pidfile: set twice"),
        "{e}"
    );
    let e = parse("backend = s3\n").unwrap_err();
    assert!(e.to_string().contains("one of embedded, sx"), "{e}");
    assert!(parse("run-as = root:\n").is_err());
    let e = config("admin_auth = nopassword\n").unwrap_err();
    assert!(e.to_string().starts_with("t.conf:1: admin_auth"), "{e}");
    assert!(config("admin_auth = :pw\n").is_err());
    let c = config("admin_auth = ops:pw:with:colons\n").unwrap();
    assert_eq!(
        c.live.admin_auth.as_ref().map(SecretKey::expose),
        Some("ops:pw:with:colons")
    );
    assert!(describe(&c).contains("admin_auth = (set)\n"));
    assert!(!describe(&c).contains("with:colons"));
    assert!(parse("max_object_size = 5Q\n").is_err());
}

#[test]
fn values() {
    assert_eq!(parse_size("16K"), Some(16384));
    assert_eq!(parse_size("5G"), Some(5 << 30));
    assert_eq!(parse_size("12"), Some(12));
    assert_eq!(parse_size("99999999999T"), None);
    assert_eq!(parse_seconds("2m"), Some(Duration::from_secs(120)));
    assert_eq!(parse_seconds("7"), Some(Duration::from_secs(7)));
    assert_eq!(
        parse_run_as("libres3:nogroup"),
        Some(RunAs {
            user: "libres3".into(),
            group: Some("nogroup".into())
        })
    );
    assert_eq!(parse_port_or_off("off"), Some(None));
    assert_eq!(parse_port_or_off("0"), Some(Some(0)));
    assert_eq!(parse_bool("Yes"), Some(true));
}

#[test]
fn defaults_come_from_the_table() {
    let c = config("").unwrap();
    assert_eq!(c.backend, Backend::Embedded);
    assert_eq!(c.shutdown_timeout, Duration::from_secs(30));
    assert_eq!(c.live.max_object_size, 5 << 30);
    assert_eq!(c.live.max_header_size, 8 << 10);
    assert_eq!(c.limits.max_parallel, 0);
    assert_eq!(c.limits.max_connections, 0);
    assert_eq!(c.live.client_body_timeout, Duration::from_secs(60));
    assert_eq!(c.live.log_level, log::LevelFilter::Info);
    assert!(!c.daemonize);
    for k in KEYS {
        if !k.default.is_empty() {
            assert!(check_value(k.kind, k.default), "default of {}", k.name);
        }
    }
}

#[test]
fn listeners() {
    let c =
        config("s3_http_port = off\ns3_ssl_certificate_file = /c\ns3_ssl_privatekey_file = /k\n")
            .unwrap();
    assert!(c.listen.is_empty());
    assert_eq!(c.https_listen, vec!["127.0.0.1:8443".parse().unwrap()]);
    assert!(config("s3_http_port = off\n")
        .unwrap_err()
        .to_string()
        .contains("no listener"));
    assert!(config("s3_https_port = 8443\n").is_err());
    assert!(config("s3_ssl_certificate_file = /c\n").is_err());
    let c = config("s3_listen_ip = ::1\nadmin_listen = off\n").unwrap();
    assert_eq!(c.listen, vec!["[::1]:8008".parse().unwrap()]);
    assert_eq!(c.admin_listen, None);
}

#[test]
fn sx_keys_are_kept_verbatim() {
    let c = config(&format!(
        "backend = sx\nsx_host = sx.example.com\nsecret_key = {SX_KEY}\nreplica_count = 2\n"
    ))
    .unwrap();
    assert_eq!(c.backend, Backend::Sx);
    assert_eq!(c.sx_value("sx_host"), Some("sx.example.com"));
    assert_eq!(c.sx_value("secret_key"), Some(SX_KEY));
    assert_eq!(
        c.sx[2],
        Entry {
            key: "replica_count",
            value: "2".into(),
            line: 4
        }
    );
    assert!(describe(&c).contains("secret_key = (set)"));
    assert!(!describe(&c).contains(SX_KEY));
}

/// An admin key of the SX form (base64 of 42 bytes).
const SX_KEY: &str = "0DPiKuNIrrVmD8IUCuw1hQxNqZcoceX1r/QsuVb6pkTJ+F2+D1ckogAA";

#[test]
fn the_backend_check_refuses_with_its_message() {
    fn refuse(_: &Config) -> Result<(), String> {
        Err("t.conf:4: sx_port: not a port".into())
    }
    let args = Args::default();
    let e = Config::from_settings(&args, &parse("backend = sx\n").unwrap(), refuse)
        .unwrap_err()
        .to_string();
    assert_eq!(e, "t.conf:4: sx_port: not a port");
}

#[test]
fn flags_override_file() {
    let args = Args {
        listen: vec!["127.0.0.1:0".into()],
        data_dirs: vec!["/x".into()],
        daemon: true,
        ..Args::default()
    };
    let c = Config::from_settings(
        &args,
        &parse("data_dir = /y\ns3_http_port = 1\ndaemonize = no\n").unwrap(),
        NO_CHECK,
    )
    .unwrap();
    assert_eq!(c.listen[0].port(), 0);
    assert_eq!(c.data_dirs, vec![PathBuf::from("/x")]);
    assert!(c.daemonize);
    assert_eq!(c.s3.region, DEFAULT_REGION);
    let bad = Args {
        listen: vec!["localhost".into()],
        ..Args::default()
    };
    assert!(Config::load(&bad, NO_CHECK).is_err());
}

#[test]
fn readme_documents_every_key() {
    let readme = include_str!("../../README.md");
    for k in KEYS {
        assert!(
            readme.contains(&format!("`{}`", k.name)),
            "README.md lacks `{}`",
            k.name
        );
    }
}

#[test]
fn secret_files_must_be_private() {
    let dir = std::env::temp_dir().join(format!("libres3-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("libres3.conf");
    std::fs::write(&path, "secret_key = S\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let args = Args {
        config: Some(path.clone()),
        ..Args::default()
    };
    let e = Config::load(&args, NO_CHECK).unwrap_err().to_string();
    assert!(e.contains("readable by group or others"), "{e}");
    std::fs::write(&path, "secret_key = S\nallow_insecure_permissions = yes\n").unwrap();
    assert!(Config::load(&args, NO_CHECK).is_ok());
    std::fs::write(&path, "secret_key = S\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(Config::load(&args, NO_CHECK).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn kms_key_dir_defaults_to_the_first_data_dir() {
    let c = config("data_dir = /a\ndata_dir = /b\n").unwrap();
    assert_eq!(c.kms_key_dir, PathBuf::from("/a/kms"));
    assert!(describe(&c).contains("kms_key_dir = /a/kms\n"));
    let c = config("data_dir = /a\nkms_key_dir = /etc/libres3/kms\n").unwrap();
    assert_eq!(c.kms_key_dir, PathBuf::from("/etc/libres3/kms"));
    // Relative to the file's directory, as every path.
    let file = parse_file(
        Path::new("/etc/libres3/libres3.conf"),
        "kms_key_dir = keys\n",
    )
    .unwrap();
    let c = Config::from_settings(&Args::default(), &file, NO_CHECK).unwrap();
    assert_eq!(c.kms_key_dir, PathBuf::from("/etc/libres3/keys"));
    let other = config("data_dir = /a\nkms_key_dir = /elsewhere\n").unwrap();
    let c = config("data_dir = /a\n").unwrap();
    assert_eq!(c.restart_needed(&other), vec!["kms_key_dir"]);
}

#[test]
fn an_open_kms_key_dir_is_refused() {
    let dir = std::env::temp_dir().join(format!("libres3-cfg-kms-{}", std::process::id()));
    let keys = dir.join("kms");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.join("libres3.conf");
    std::fs::write(&path, "kms_key_dir = kms\n").unwrap();
    let args = Args {
        config: Some(path.clone()),
        ..Args::default()
    };
    let e = Config::load(&args, NO_CHECK).unwrap_err().to_string();
    assert!(e.contains("kms_key_dir") && e.contains("chmod 700"), "{e}");
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(Config::load(&args, NO_CHECK).unwrap().kms_key_dir, keys);
    // Absent: made on first use.
    std::fs::remove_dir(&keys).unwrap();
    assert!(Config::load(&args, NO_CHECK).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}
