//! Packaging: the man pages stay in step with the binary and the config parser,
//! render without warnings, and the files under debian/, rpm/ and freebsd/ are
//! consistent with each other. Building the static binary and the packages,
//! installing and running the .deb is `scripts/build-static` and
//! `scripts/test-packaging`, which `scripts/test` runs after the tests.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use crate::common::{libres3_bin, ServerOpts, TestServer};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_text(rel: &str) -> String {
    let path = repo().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The text of a troff page with the escapes that matter for names undone
/// (`\-` is a hyphen, `\&` a zero-width break).
fn unescape_troff(text: &str) -> String {
    text.replace("\\-", "-").replace("\\&", "")
}

/// Every `--flag` the words of `text` mention.
fn long_flags(text: &str) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 2 < bytes.len() {
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'-');
        if boundary && &bytes[i..i + 2] == b"--" && bytes[i + 2].is_ascii_lowercase() {
            let end = (i + 2..bytes.len())
                .find(|&j| {
                    !(bytes[j].is_ascii_lowercase()
                        || bytes[j].is_ascii_digit()
                        || bytes[j] == b'-')
                })
                .unwrap_or(bytes.len());
            flags.insert(text[i..end].trim_end_matches('-').to_string());
            i = end;
        } else {
            i += 1;
        }
    }
    flags
}

fn help_text() -> String {
    let out = Command::new(libres3_bin())
        .arg("--help")
        .output()
        .expect("run libres3 --help");
    assert!(out.status.success(), "libres3 --help failed: {out:?}");
    String::from_utf8(out.stdout).expect("--help is UTF-8")
}

#[test]
fn man_page_documents_every_flag_of_help() {
    let help = help_text();
    let flags = long_flags(&help);
    assert!(
        flags.contains("--help") && flags.len() > 3,
        "no flags parsed from --help:\n{help}"
    );
    let page = unescape_troff(&read_text("man/libres3.8"));
    let documented = long_flags(&page);
    let missing: Vec<&String> = flags.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "man/libres3.8 does not document {missing:?}, which `libres3 --help` lists"
    );
    // Each flag has its own entry in OPTIONS (a .TP heading line), not just a mention.
    let options = page
        .split("\n.SH OPTIONS")
        .nth(1)
        .and_then(|rest| rest.split("\n.SH ").next())
        .expect("man/libres3.8 has an OPTIONS section");
    let headings: BTreeSet<String> = options
        .split("\n.TP\n")
        .skip(1)
        .flat_map(|entry| long_flags(entry.lines().next().unwrap_or("")))
        .collect();
    let no_entry: Vec<&String> = flags.difference(&headings).collect();
    assert!(
        no_entry.is_empty(),
        "man/libres3.8 OPTIONS has no entry for {no_entry:?}"
    );
}

/// The keys libres3.conf accepts: from `libres3 check-config --keys` when the
/// binary has it (one `key = type` line per key), else from the `KEYS` table
/// of src/config.rs (the first string literal after each `(`).
fn config_keys() -> (BTreeSet<String>, &'static str) {
    let is_key = |w: &str| {
        w.starts_with(|c: char| c.is_ascii_lowercase())
            && w.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    };
    if let Ok(out) = Command::new(libres3_bin())
        .args(["check-config", "--keys"])
        .output()
    {
        if out.status.success() {
            let text = String::from_utf8_lossy(&out.stdout);
            let keys: BTreeSet<String> = text
                .lines()
                .filter(|l| !l.starts_with(char::is_whitespace))
                .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim().to_string()))
                .filter(|k| is_key(k))
                .collect();
            if !keys.is_empty() {
                return (keys, "libres3 check-config --keys");
            }
        }
    }
    let source = read_text("src/config.rs");
    let table = source
        .split("pub const KEYS")
        .nth(1)
        .and_then(|rest| rest.split("\n];").next())
        .expect("src/config.rs has a `pub const KEYS` table");
    let mut keys = BTreeSet::new();
    for (i, _) in table.match_indices('(') {
        let rest = table[i + 1..].trim_start();
        if let Some(lit) = rest.strip_prefix('"') {
            if let Some(end) = lit.find('"') {
                if is_key(&lit[..end]) {
                    keys.insert(lit[..end].to_string());
                }
            }
        }
    }
    (keys, "the KEYS table of src/config.rs")
}

#[test]
fn conf_page_documents_every_key() {
    let (keys, source) = config_keys();
    assert!(
        keys.contains("s3_http_port"),
        "no keys parsed from {source}: {keys:?}"
    );
    let page = unescape_troff(&read_text("man/libres3.conf.5"));
    // A key's entry is a heading line `.BI key " = type"` (or `.B key`).
    let documented: BTreeSet<String> = page
        .lines()
        .filter_map(|l| l.strip_prefix(".BI ").or_else(|| l.strip_prefix(".B ")))
        .filter_map(|l| l.split_whitespace().next())
        .map(|w| w.trim_matches('"').to_string())
        .collect();
    let missing: Vec<&String> = keys.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "man/libres3.conf.5 has no entry for {missing:?}, which {source} lists"
    );
    // Every documented key line also names a type, a default and an example.
    let keys_section = page
        .split("\n.SH KEYS")
        .nth(1)
        .and_then(|rest| rest.split("\n.SH ").next())
        .expect("man/libres3.conf.5 has a KEYS section");
    for entry in keys_section.split("\n.TP\n").skip(1) {
        let name = entry.split_whitespace().nth(1).unwrap_or("?");
        for word in ["Type:", "Example:"] {
            assert!(
                entry.contains(word),
                "libres3.conf(5) entry {name} lacks {word:?}"
            );
        }
        assert!(
            entry.contains("Default") || entry.contains("default"),
            "libres3.conf(5) entry {name} gives no default"
        );
    }
}

/// groff with every warning enabled must print nothing, and so must `man -l`
/// where man-db is installed.
#[test]
fn man_pages_render_without_warnings() {
    let Ok(version) = Command::new("groff").arg("--version").output() else {
        eprintln!("SKIP man_pages_render_without_warnings: groff is not installed (apt-get install groff-base)");
        return;
    };
    assert!(version.status.success());
    for page in ["man/libres3.8", "man/libres3.conf.5"] {
        let out = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(repo().join(page))
            .env("LC_ALL", "C.UTF-8")
            .output()
            .expect("run groff");
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && warnings.trim().is_empty(),
            "groff on {page}:\n{warnings}"
        );
        // What a reader runs: man-db's `man -l` at 80 columns, all warnings on.
        if let Ok(out) = Command::new("man")
            .args(["--warnings=w", "-l"])
            .arg(repo().join(page))
            .env("LC_ALL", "C.UTF-8")
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .output()
        {
            let warnings = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && warnings.trim().is_empty() && !out.stdout.is_empty(),
                "man -l {page}:\n{warnings}"
            );
        }
    }
}

/// `key = value` of a libres3.conf text, unquoted; None when the key is absent.
fn conf_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
}

/// The keys of the packaged files that tie the server to the service's layout
/// (its user, pid file and logs): the init scripts, logrotate and newsyslog
/// depend on them. scripts/test-packaging runs them for real on an installed
/// .deb; here they are compared with the files that use them.
const SERVICE_KEYS: [&str; 3] = ["run-as", "pidfile", "logdir"];

/// The configuration files the packages install are accepted by the server
/// (without the service keys, which need the package's user and directories),
/// and their service keys agree with the init scripts and the log rotation.
#[test]
fn packaged_config_is_accepted() {
    let debian = read_text("debian/libres3.conf");
    let freebsd = read_text("freebsd/files/libres3.conf.sample");
    for (text, conf) in [(&debian, "debian"), (&freebsd, "freebsd")] {
        assert_eq!(
            conf_value(text, "run-as").as_deref(),
            Some("libres3"),
            "{conf} run-as"
        );
        assert_eq!(
            conf_value(text, "logdir").as_deref(),
            Some("/var/log/libres3"),
            "{conf} logdir"
        );
    }
    // Debian: the systemd unit's RuntimeDirectory holds the pid file (the
    // unit's user must be able to lock it); the init script and logrotate ask
    // `libres3 status|stop` with the same configuration file.
    assert_eq!(
        conf_value(&debian, "pidfile").as_deref(),
        Some("/run/libres3/libres3.pid")
    );
    let unit = read_text("debian/libres3.service");
    assert!(
        unit.contains("\nRuntimeDirectory=libres3\n"),
        "the unit lacks RuntimeDirectory=libres3"
    );
    for file in [
        "debian/libres3.init",
        "debian/libres3.logrotate",
        "debian/libres3.service",
    ] {
        assert!(
            read_text(file).contains("--config /etc/libres3/libres3.conf")
                || read_text(file).contains("CONFIG=/etc/libres3/libres3.conf"),
            "{file} does not use /etc/libres3/libres3.conf"
        );
    }
    // FreeBSD: rc.d's default pid file and newsyslog's are the sample's.
    let pidfile = conf_value(&freebsd, "pidfile").expect("the FreeBSD sample names its pidfile");
    assert!(
        read_text("freebsd/files/libres3.in")
            .contains(&format!(": ${{libres3_pidfile:={pidfile}}}")),
        "rc.d's default libres3_pidfile is not {pidfile}"
    );
    let newsyslog = read_text("freebsd/files/libres3.newsyslog");
    for log in ["access.log", "errors.log"] {
        let line = newsyslog
            .lines()
            .find(|l| l.starts_with(&format!("/var/log/libres3/{log}")))
            .unwrap_or_else(|| panic!("newsyslog does not rotate {log}"));
        let fields: Vec<&str> = line.split_whitespace().collect();
        // FreeBSD's SIGUSR1 is 30.
        assert_eq!(
            fields[fields.len() - 2..],
            [pidfile.as_str(), "30"],
            "newsyslog: {line}"
        );
    }

    for (text, conf) in [
        (&debian, "debian/libres3.conf"),
        (&freebsd, "freebsd/files/libres3.conf.sample"),
    ] {
        let dir = crate::common::TempDir::new("packaged-conf");
        let copy = dir.join("libres3.conf");
        let kept: String = text
            .lines()
            .filter(|l| {
                !l.split_once('=')
                    .is_some_and(|(k, _)| SERVICE_KEYS.contains(&k.trim()))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&copy, kept).expect("write config copy");
        let mut server = TestServer::start_with(ServerOpts {
            extra_args: vec![
                "--config".into(),
                copy.to_str().unwrap().into(),
                "--admin-listen".into(),
                "127.0.0.1:0".into(),
            ],
            ..ServerOpts::default()
        });
        let status = server.raw().get("/").send().status;
        assert_eq!(status, 200, "ListBuckets with {conf}");
        server.stop();
    }
}

fn shell_syntax(shell: &str, rel: &str) {
    let out = Command::new(shell)
        .arg("-n")
        .arg(repo().join(rel))
        .output()
        .unwrap_or_else(|e| panic!("run {shell}: {e}"));
    assert!(
        out.status.success(),
        "{shell} -n {rel}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn scripts_parse() {
    for rel in [
        "debian/libres3.init",
        "debian/libres3.postinst",
        "debian/libres3.postrm",
        "freebsd/files/libres3.in",
    ] {
        shell_syntax("sh", rel);
    }
    for rel in ["scripts/build-static", "scripts/test-packaging"] {
        shell_syntax("bash", rel);
    }
}

/// The FreeBSD packing list matches the tree the port's do-install stages:
/// the recipe runs under sh with install(1) and mkdir(1) standing in for the
/// ports framework's macros, and every file staged under PREFIX must be in
/// pkg-plist (and in +MANIFEST) and every file of pkg-plist staged; the
/// `@dir` entries are the directories staged outside PREFIX.
#[test]
fn freebsd_plist_matches_install() {
    let plist_text = read_text("freebsd/pkg-plist");
    let mut plist = BTreeSet::new();
    let mut plist_dirs = BTreeSet::new();
    for line in plist_text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let path = line.rsplit(' ').next().unwrap_or(line);
        if line.starts_with("@dir") {
            plist_dirs.insert(path.to_string());
        } else if line.starts_with("@sample") {
            // `@sample(owner,group,mode) etc/x.sample`: the package installs the
            // .sample and copies it to etc/x when that does not exist.
            plist.insert(path.replace("%%ETCDIR%%", "etc/libres3"));
        } else {
            assert!(
                !line.starts_with('@'),
                "pkg-plist: unknown keyword in {line}"
            );
            plist.insert(path.to_string());
        }
    }

    let makefile = read_text("freebsd/Makefile");
    let recipe: Vec<&str> = makefile
        .split("\ndo-install:\n")
        .nth(1)
        .expect("freebsd/Makefile has do-install")
        .lines()
        .take_while(|l| l.starts_with('\t'))
        .collect();
    assert!(recipe.len() >= 3, "do-install: {recipe:?}");
    let stage = crate::common::TempDir::new("freebsd-stage");
    let stagedir = stage.join("stage");
    let wrkdir = stage.join("wrk");
    std::fs::create_dir_all(wrkdir.join("target/release")).unwrap();
    std::fs::write(wrkdir.join("target/release/libres3"), "binary").unwrap();
    // The framework lays out PREFIX in STAGEDIR (mtree's BSD.local.dist) first.
    for dir in ["sbin", "etc", "share/man/man5", "share/man/man8"] {
        std::fs::create_dir_all(stagedir.join("usr/local").join(dir)).unwrap();
    }
    let mut script = String::from("set -eu\n");
    for line in &recipe {
        let line = line
            .trim()
            .replace("${INSTALL_PROGRAM}", "install -m 555")
            .replace("${INSTALL_SCRIPT}", "install -m 555")
            .replace("${INSTALL_DATA}", "install -m 444")
            .replace("${INSTALL_MAN}", "install -m 444")
            .replace("${MKDIR}", "mkdir -p")
            .replace("${STAGEDIR}", &stagedir.display().to_string())
            .replace("${PREFIX}", "/usr/local")
            .replace(
                "${CARGO_TARGET_DIR}",
                &wrkdir.join("target").display().to_string(),
            )
            .replace(
                "${FILESDIR}",
                &repo().join("freebsd/files").display().to_string(),
            )
            .replace("${WRKSRC}", &repo().display().to_string());
        assert!(
            !line.contains("${"),
            "do-install uses a variable the test does not know: {line}"
        );
        script.push_str(&line);
        script.push('\n');
    }
    let out = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "do-install failed:\n{script}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    fn walk(
        dir: &std::path::Path,
        base: &std::path::Path,
        files: &mut BTreeSet<String>,
        dirs: &mut BTreeSet<String>,
    ) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(base).unwrap().display().to_string();
            if path.is_dir() {
                dirs.insert(rel);
                walk(&path, base, files, dirs);
            } else {
                files.insert(rel);
            }
        }
    }
    let (mut staged, mut staged_dirs) = (BTreeSet::new(), BTreeSet::new());
    walk(&stagedir, &stagedir, &mut staged, &mut staged_dirs);
    // The ports framework gzips man pages and installs the rc.d script
    // (USE_RC_SUBR) itself, outside pkg-plist.
    let under_prefix: BTreeSet<String> = staged
        .iter()
        .filter_map(|f| f.strip_prefix("usr/local/"))
        .map(|f| {
            if f.starts_with("share/man/") {
                format!("{f}.gz")
            } else {
                f.to_string()
            }
        })
        .collect();
    let outside: Vec<&String> = staged
        .iter()
        .filter(|f| !f.starts_with("usr/local/"))
        .collect();
    assert!(
        outside.is_empty(),
        "do-install stages files outside PREFIX: {outside:?}"
    );
    assert_eq!(
        under_prefix, plist,
        "staged by do-install (left) vs freebsd/pkg-plist (right)"
    );
    let outside_dirs: BTreeSet<String> = staged_dirs
        .iter()
        .filter(|d| {
            !d.starts_with("usr") && !staged_dirs.iter().any(|o| o.starts_with(&format!("{d}/")))
        })
        .map(|d| format!("/{d}"))
        .collect();
    assert_eq!(
        outside_dirs, plist_dirs,
        "directories staged outside PREFIX vs pkg-plist @dir"
    );
    assert!(
        makefile.contains("USE_RC_SUBR=\tlibres3"),
        "freebsd/Makefile does not install the rc.d script"
    );

    let manifest = read_text("freebsd/+MANIFEST");
    for p in &plist {
        assert!(
            manifest.contains(&format!("/usr/local/{p}:")),
            "freebsd/+MANIFEST lacks {p}"
        );
    }
    for d in &plist_dirs {
        assert!(
            manifest.contains(&format!("{d}:")),
            "freebsd/+MANIFEST lacks the directory {d}"
        );
    }
    assert!(
        manifest.contains("/usr/local/etc/rc.d/libres3:"),
        "freebsd/+MANIFEST lacks the rc.d script"
    );
    let rc = read_text("freebsd/files/libres3.in");
    for word in [
        "rcvar=libres3_enable",
        "libres3_config",
        "pidfile=",
        "libres3_runas",
        "serve --daemon",
    ] {
        assert!(rc.contains(word), "freebsd/files/libres3.in lacks {word}");
    }
}

/// A Containerfile instruction with its continuation lines joined.
fn instruction(containerfile: &str, name: &str) -> Option<String> {
    let joined = containerfile.replace("\\\n", " ");
    joined
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .map(|rest| rest.trim().to_string())
}

/// The image is FROM scratch, runs as a numeric non-root user, and its
/// HEALTHCHECK runs the binary itself (exec form: scratch has no shell)
/// against the admin address the ENTRYPOINT gives the server. The check needs
/// `libres3 health`; scripts/build-static runs it when the binary has it.
#[test]
fn containerfile_healthcheck_uses_the_admin_endpoint() {
    let file = read_text("Containerfile");
    assert_eq!(instruction(&file, "FROM").as_deref(), Some("scratch"));
    let user = instruction(&file, "USER").expect("Containerfile sets USER");
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("numeric USER");
    assert!(uid >= 1000, "USER {user}");
    assert!(instruction(&file, "VOLUME").is_some_and(|v| v.contains("\"/data\"")));
    assert!(instruction(&file, "EXPOSE").is_some_and(|v| v.split_whitespace().any(|p| p == "8008")));
    let exec_form = |text: &str| -> Vec<String> {
        serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("not an exec-form array ({e}): {text}"))
    };
    let healthcheck = instruction(&file, "HEALTHCHECK").expect("Containerfile has a HEALTHCHECK");
    let cmd = exec_form(
        healthcheck
            .split_once(" CMD ")
            .or_else(|| healthcheck.split_once("CMD "))
            .expect("HEALTHCHECK ... CMD [...]")
            .1,
    );
    let entrypoint = exec_form(&instruction(&file, "ENTRYPOINT").expect("ENTRYPOINT"));
    assert_eq!(cmd[..2], ["/usr/sbin/libres3", "health"], "{cmd:?}");
    assert_eq!(
        entrypoint[..2],
        ["/usr/sbin/libres3", "serve"],
        "{entrypoint:?}"
    );
    let admin = |args: &[String]| {
        args.windows(2)
            .find(|w| w[0] == "--admin-listen")
            .map(|w| w[1].clone())
    };
    let served = admin(&entrypoint).expect("the ENTRYPOINT names --admin-listen");
    assert!(
        served.starts_with("127.0.0.1:"),
        "the admin endpoint must stay on loopback: {served}"
    );
    assert_eq!(
        admin(&cmd),
        Some(served),
        "HEALTHCHECK and ENTRYPOINT disagree on the admin address"
    );
}

/// What the init files promise and no test here can run (there is no systemd
/// on the test machines; scripts/test-packaging runs the LSB script): the unit
/// runs the server in the foreground as libres3 with no capability and a
/// read-only system, and logrotate makes the daemon reopen its logs (SIGUSR1)
/// instead of truncating files under it.
#[test]
fn service_files_use_the_daemon_properly() {
    let unit = read_text("debian/libres3.service");
    let values = |key: &str| -> Vec<String> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(str::to_string)
            .collect()
    };
    let one = |key: &str| values(key).join(" ");
    assert_eq!(one("Type"), "simple");
    assert_eq!(one("User"), "libres3");
    assert!(one("ExecStart").starts_with("/usr/sbin/libres3 serve --foreground --config "));
    assert!(one("ExecReload").starts_with("/usr/sbin/libres3 reload --config "));
    for (key, value) in [
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("AmbientCapabilities", ""),
        ("PrivateTmp", "yes"),
        ("ProtectHome", "yes"),
    ] {
        assert_eq!(one(key), value, "libres3.service {key}");
    }
    let writable = one("ReadWritePaths");
    for dir in ["/var/lib/libres3", "/var/log/libres3"] {
        assert!(
            writable.split_whitespace().any(|d| d == dir),
            "ReadWritePaths lacks {dir}"
        );
    }

    let init = read_text("debian/libres3.init");
    assert!(init.contains("\"$DAEMON\" serve --daemon --config \"$CONFIG\""));
    for command in ["stop", "status", "reload"] {
        assert!(
            init.contains(&format!("\"$DAEMON\" {command} --config \"$CONFIG\"")),
            "the init script does not use libres3 {command}"
        );
    }
    assert!(
        !init.contains("start-stop-daemon"),
        "the daemon writes its own pid file"
    );

    let logrotate = read_text("debian/libres3.logrotate");
    assert!(!logrotate.contains("copytruncate"));
    let post = logrotate
        .split("\n\tpostrotate\n")
        .nth(1)
        .and_then(|r| r.split("\n\tendscript").next())
        .expect("logrotate has a postrotate script");
    assert!(post.contains("kill -USR1"), "postrotate: {post}");
    assert!(
        post.contains("libres3 status --config /etc/libres3/libres3.conf"),
        "postrotate: {post}"
    );
}

/// Both packages ship the same files.
#[test]
fn deb_and_rpm_ship_the_same_layout() {
    let spec = read_text("rpm/libres3.spec");
    for path in [
        "%{_sbindir}/libres3",
        "%{_mandir}/man8/libres3.8",
        "%{_mandir}/man5/libres3.conf.5",
        "%{_unitdir}/libres3.service",
        "%config(noreplace) %attr(0600,libres3,libres3) %{_sysconfdir}/libres3/libres3.conf",
        "%config(noreplace) %{_sysconfdir}/logrotate.d/libres3",
        "%dir %attr(0750,libres3,libres3) %{_localstatedir}/lib/libres3",
        "%dir %attr(0750,libres3,libres3) %{_localstatedir}/log/libres3",
    ] {
        assert!(spec.contains(path), "rpm/libres3.spec %files lacks {path}");
    }
    let install = read_text("debian/libres3.install");
    for path in ["usr/sbin/libres3", "debian/libres3.conf etc/libres3"] {
        assert!(
            install.contains(path),
            "debian/libres3.install lacks {path}"
        );
    }
    let pages = read_text("debian/libres3.manpages");
    for page in ["man/libres3.8", "man/libres3.conf.5"] {
        assert!(pages.contains(page), "debian/libres3.manpages lacks {page}");
    }
}

/// `libres3 --version` says `libres3 VERSION (commit COMMIT, TARGET)`: the crate version, the
/// abbreviated git commit (or "unknown" when built outside git without LIBRES3_COMMIT) and
/// the target triple. The binary cargo built here names this checkout's HEAD; a static
/// build (LIBRES3_EXPECT_STATIC) names the musl target.
#[test]
fn version_names_commit_and_target() {
    let bin = libres3_bin();
    let out = Command::new(&bin)
        .arg("--version")
        .output()
        .expect("run --version");
    assert!(out.status.success(), "{bin} --version: {out:?}");
    let text = String::from_utf8(out.stdout).expect("--version is UTF-8");
    let line = text.trim_end();
    assert_eq!(text.lines().count(), 1, "one line: {text:?}");
    let rest = line
        .strip_prefix(&format!("libres3 {} (commit ", env!("CARGO_PKG_VERSION")))
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not `libres3 VERSION (commit C, TARGET)`: {line:?}"));
    let (commit, target) = rest
        .split_once(", ")
        .unwrap_or_else(|| panic!("no `, TARGET` in {line:?}"));
    assert!(
        commit == "unknown" || (commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "commit {commit:?} in {line:?}"
    );
    let parts: Vec<&str> = target.split('-').collect();
    assert!(
        parts.len() >= 3 && parts.iter().all(|p| !p.is_empty()) && !target.contains(' '),
        "target {target:?} is not a triple in {line:?}"
    );
    if std::env::var_os("LIBRES3_EXPECT_STATIC").is_some() {
        assert!(
            target.ends_with("-linux-musl"),
            "the static binary names {target}, not a musl target"
        );
    }
    // The binary cargo built from this checkout names its HEAD (unless packaging set
    // LIBRES3_COMMIT for it).
    if std::env::var_os("LIBRES3_IT_BIN").is_none() && std::env::var_os("LIBRES3_COMMIT").is_none()
    {
        let top = Command::new("git")
            .arg("-C")
            .arg(repo())
            .args(["rev-parse", "--show-toplevel"])
            .output();
        let is_checkout = matches!(&top, Ok(o) if o.status.success()
            && std::path::Path::new(String::from_utf8_lossy(&o.stdout).trim()).canonicalize().ok()
                == repo().canonicalize().ok());
        if is_checkout {
            let head = Command::new("git")
                .arg("-C")
                .arg(repo())
                .args(["rev-parse", "HEAD"])
                .output()
                .expect("git rev-parse HEAD");
            let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
            assert!(
                commit != "unknown" && head.starts_with(commit),
                "--version names commit {commit}, HEAD is {head}"
            );
        } else {
            eprintln!("version_names_commit_and_target: not a git checkout, commit not compared");
        }
    }
}

/// `scripts/build-static` runs this with LIBRES3_IT_BIN set to the musl build
/// and LIBRES3_EXPECT_STATIC=1; elsewhere it says why it did not look.
#[test]
fn static_binary_is_static() {
    if std::env::var_os("LIBRES3_EXPECT_STATIC").is_none() {
        eprintln!("SKIP static_binary_is_static: LIBRES3_EXPECT_STATIC is not set (scripts/build-static sets it)");
        return;
    }
    let bin = libres3_bin();
    let file = Command::new("file")
        .arg("-L")
        .arg(&bin)
        .output()
        .expect("run file");
    let file = String::from_utf8_lossy(&file.stdout);
    assert!(
        file.contains("statically linked") || file.contains("static-pie linked"),
        "file {bin}: {file}"
    );
    let ldd = Command::new("ldd").arg(&bin).output().expect("run ldd");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&ldd.stdout),
        String::from_utf8_lossy(&ldd.stderr)
    );
    assert!(
        said.contains("not a dynamic executable") || said.contains("statically linked"),
        "ldd {bin}: {said}"
    );
    let version = Command::new(&bin)
        .arg("--version")
        .output()
        .expect("run --version");
    assert!(version.status.success(), "{bin} --version: {version:?}");
}
