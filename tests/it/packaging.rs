//! Packaging: the man pages stay in step with the binary and the config parser,
//! render without warnings, and the files under debian/, rpm/ and freebsd/ are
//! consistent with each other. Building and installing the packages is
//! `scripts/test-packaging` (slow; opt-in with LIBRES3_TEST_PACKAGING=1).

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

/// groff with every warning enabled must print nothing.
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
    }
}

/// The configuration file the packages install is accepted by the server.
#[test]
fn packaged_config_is_accepted() {
    for conf in ["debian/libres3.conf", "freebsd/files/libres3.conf.sample"] {
        let path = repo().join(conf);
        let mut server = TestServer::start_with(ServerOpts {
            extra_args: vec!["--config".into(), path.to_str().unwrap().into()],
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

/// The FreeBSD packing list names exactly what the port's do-install stage
/// installs under PREFIX, and `+MANIFEST` lists the same files.
#[test]
fn freebsd_plist_matches_install() {
    let plist: BTreeSet<String> = read_text("freebsd/pkg-plist")
        .lines()
        .map(str::trim)
        .filter_map(|l| match l.strip_prefix("@sample") {
            // `@sample(owner,group,mode) path` or `@sample path`
            Some(rest) => rest.rsplit(' ').next().map(String::from),
            None if l.is_empty() || l.starts_with('@') => None,
            None => Some(l.to_string()),
        })
        .collect();
    let makefile = read_text("freebsd/Makefile");
    let installed: BTreeSet<String> = makefile
        .lines()
        .filter(|l| l.contains("${INSTALL_"))
        .filter_map(|l| l.split("${STAGEDIR}${PREFIX}/").nth(1))
        .map(|dest| dest.split_whitespace().next().unwrap_or("").to_string())
        .collect();
    // do-install stages pages uncompressed; the ports framework gzips them.
    let expected: BTreeSet<String> = plist
        .iter()
        .map(|p| {
            p.trim_end_matches(".gz")
                .replace("%%ETCDIR%%", "etc/libres3")
        })
        .collect();
    assert_eq!(
        installed, expected,
        "freebsd/Makefile do-install vs freebsd/pkg-plist"
    );
    for page in [
        "share/man/man8/libres3.8.gz",
        "share/man/man5/libres3.conf.5.gz",
    ] {
        assert!(plist.contains(page), "freebsd/pkg-plist lacks {page}");
    }
    let manifest = read_text("freebsd/+MANIFEST");
    for p in &plist {
        let p = p.replace("%%ETCDIR%%", "etc/libres3");
        assert!(
            manifest.contains(&format!("/usr/local/{p}:")),
            "freebsd/+MANIFEST lacks {p}"
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
    ] {
        assert!(rc.contains(word), "freebsd/files/libres3.in lacks {word}");
    }
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
