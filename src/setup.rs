//! `libres3 setup`: writes `libres3.conf` (mode 0600), creates the store and its admin user,
//! and writes a ready s3cmd configuration and aws profile beside it. Interactive by default
//! (each question shows its default; Enter keeps it), or `--batch` with flags.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::cli::Args;
use crate::config::{self, Config};
use crate::credentials;
use crate::store::local::UserAdmin;
use crate::store::SecretKey;

/// The answers setup needs, with their defaults.
struct Answers {
    data_dirs: String,
    s3_host: String,
    listen_ip: String,
    http_port: String,
    https_port: String,
    certificate: String,
    private_key: String,
    run_as: String,
    admin_listen: String,
}

fn default_answers(args: &Args) -> Answers {
    let (ip, port) = match args
        .listen
        .first()
        .and_then(|l| l.parse::<std::net::SocketAddr>().ok())
    {
        Some(addr) => (addr.ip().to_string(), addr.port().to_string()),
        None => (
            config::DEFAULT_LISTEN_IP.into(),
            config::DEFAULT_PORT.to_string(),
        ),
    };
    let dirs = if args.data_dirs.is_empty() {
        vec![config::default_data_dir()]
    } else {
        args.data_dirs.clone()
    };
    let path = |p: &Option<PathBuf>| {
        p.as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    Answers {
        data_dirs: dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(" "),
        s3_host: args.s3_host.clone().unwrap_or_default(),
        listen_ip: ip,
        http_port: port,
        https_port: args
            .https_listen
            .as_ref()
            .and_then(|l| l.parse::<std::net::SocketAddr>().ok())
            .map_or("off".into(), |a| a.port().to_string()),
        certificate: path(&args.tls_cert),
        private_key: path(&args.tls_key),
        run_as: args.run_as.clone().unwrap_or_default(),
        admin_listen: args
            .admin_listen
            .clone()
            .unwrap_or_else(|| config::DEFAULT_ADMIN_LISTEN.into()),
    }
}

fn ask(input: &mut impl BufRead, question: &str, value: &mut String) -> Result<(), String> {
    print!("{question} [{value}]: ");
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the answer: {e}"))?;
    let line = line.trim();
    if line == "-" {
        value.clear();
    } else if !line.is_empty() {
        *value = line.to_string();
    }
    Ok(())
}

fn interview(answers: &mut Answers) -> Result<(), String> {
    println!("libres3 setup: Enter keeps the value in brackets, - clears it.");
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    ask(
        &mut input,
        "Storage directories (space-separated; the first holds the index)",
        &mut answers.data_dirs,
    )?;
    ask(
        &mut input,
        "S3 host name, for bucket.HOST addressing (- for none)",
        &mut answers.s3_host,
    )?;
    ask(&mut input, "Address to listen on", &mut answers.listen_ip)?;
    ask(
        &mut input,
        "HTTP port (off to disable)",
        &mut answers.http_port,
    )?;
    ask(
        &mut input,
        "HTTPS port (off to disable)",
        &mut answers.https_port,
    )?;
    if answers.https_port != "off" {
        ask(
            &mut input,
            "TLS certificate file (PEM)",
            &mut answers.certificate,
        )?;
        ask(
            &mut input,
            "TLS private key file (PEM, mode 0600)",
            &mut answers.private_key,
        )?;
    }
    ask(
        &mut input,
        "Run as USER[:GROUP] (- to stay who starts it)",
        &mut answers.run_as,
    )?;
    ask(
        &mut input,
        "Admin endpoint address (off to disable)",
        &mut answers.admin_listen,
    )?;
    Ok(())
}

fn config_text(a: &Answers) -> String {
    let mut out = String::from(
        "# libres3.conf written by `libres3 setup`; see `libres3 check-config --keys`\n",
    );
    for dir in a.data_dirs.split_whitespace() {
        let _ = writeln!(out, "data_dir = {dir}");
    }
    let mut line = |key: &str, value: &str| {
        if !value.is_empty() {
            let _ = writeln!(out, "{key} = {value}");
        }
    };
    line("s3_host", &a.s3_host);
    line("s3_listen_ip", &a.listen_ip);
    line("s3_http_port", &a.http_port);
    line("s3_https_port", &a.https_port);
    if a.https_port != "off" {
        line("s3_ssl_certificate_file", &a.certificate);
        line("s3_ssl_privatekey_file", &a.private_key);
    }
    line("run-as", &a.run_as);
    line("admin_listen", &a.admin_listen);
    out
}

fn write_private(path: &Path, text: &str) -> Result<(), String> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    file.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Gives a directory tree to the run-as user (setup runs as root, the workers do not).
fn chown_tree(dir: &Path, uid: nix::unistd::Uid, gid: nix::unistd::Gid) -> Result<(), String> {
    nix::unistd::chown(dir, Some(uid), Some(gid))
        .map_err(|e| format!("cannot give {} to the run-as user: {e}", dir.display()))?;
    if dir.is_dir() {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
            chown_tree(&entry.path(), uid, gid)?;
        }
    }
    Ok(())
}

pub fn run(args: &Args) -> Result<(), String> {
    let target = args.config.clone().unwrap_or_else(|| {
        if nix::unistd::geteuid().is_root() {
            PathBuf::from("/etc/libres3/libres3.conf")
        } else {
            PathBuf::from("libres3.conf")
        }
    });
    let target = std::path::absolute(&target).map_err(|e| format!("{}: {e}", target.display()))?;
    if target.exists() && !args.force {
        return Err(format!(
            "{} exists; give --force to replace it, or another --config FILE",
            target.display()
        ));
    }
    let mut answers = default_answers(args);
    let interactive = !args.batch && std::io::stdin().is_terminal();
    if interactive {
        interview(&mut answers)?;
    } else if !args.batch {
        return Err(
            "standard input is not a terminal: give --batch and the settings as flags".into(),
        );
    }

    // The same checks as `check-config`, on the text about to be written.
    let text = config_text(&answers);
    let check_args = Args {
        config: Some(target.clone()),
        ..Args::default()
    };
    let config = Config::from_text(&check_args, &text)
        .map_err(|e| format!("the answers do not make a valid configuration: {e}"))?;
    let checked = crate::preflight(&config)?;
    // Ports must be free (and bindable by us) now.
    drop(crate::server::bind(&config)?);

    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    write_private(&target, &text)?;
    println!("wrote {}", target.display());

    // The store and its admin user.
    let admin = UserAdmin::open(&config.data_dirs).map_err(|e| e.to_string())?;
    let users = admin.list().map_err(|e| e.to_string())?;
    let keys = if users.is_empty() {
        let access_key = credentials::generate_access_key()?;
        let secret: SecretKey = credentials::generate_secret_key()?;
        admin
            .add("admin", &access_key, &secret)
            .map_err(|e| e.to_string())?;
        println!(
            "created the store in {} with the user \"admin\"",
            config.data_dirs[0].display()
        );
        Some((access_key, secret))
    } else {
        println!(
            "the store in {} already has users; keeping them (see `libres3 user list`)",
            config.data_dirs[0].display()
        );
        None
    };
    drop(admin);
    if let Some((user, gid)) = &checked.run_as {
        if nix::unistd::geteuid().is_root() {
            for dir in &config.data_dirs {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                chown_tree(dir, user.uid, *gid)?;
            }
        }
    }

    let (access_key, secret) = match &keys {
        Some((a, s)) => (a.clone(), s.expose().to_string()),
        None => ("ACCESS_KEY".into(), "SECRET_KEY".into()),
    };
    let (scheme, addr) = match (config.https_listen.first(), config.listen.first()) {
        (Some(a), _) => ("https", a.to_string()),
        (None, Some(a)) => ("http", a.to_string()),
        (None, None) => ("http", String::new()),
    };
    let host = config.s3.s3_host.clone().map_or(addr.clone(), |h| {
        let port = addr.rsplit(':').next().unwrap_or_default();
        format!("{h}:{port}")
    });
    let host_bucket = match &config.s3.s3_host {
        Some(_) => format!("%(bucket)s.{host}"),
        None => host.clone(),
    };
    let dir = target.parent().unwrap_or(Path::new("."));
    let s3cmd = dir.join("s3cmd.cfg");
    write_private(
        &s3cmd,
        &format!(
            "[default]\naccess_key = {access_key}\nsecret_key = {secret}\nhost_base = {host}\n\
             host_bucket = {host_bucket}\nuse_https = {}\nbucket_location = {}\n",
            if scheme == "https" { "True" } else { "False" },
            config.s3.region
        ),
    )?;
    let aws = dir.join("aws-profile.example");
    write_private(
        &aws,
        &format!(
            "# Append to ~/.aws/credentials and ~/.aws/config, then:\n\
             #   aws --profile libres3 --endpoint-url {scheme}://{host} s3 ls\n\
             [libres3]\naws_access_key_id = {access_key}\naws_secret_access_key = {secret}\n\n\
             # ~/.aws/config\n[profile libres3]\nregion = {}\n",
            config.s3.region
        ),
    )?;
    println!(
        "wrote {} (s3cmd -c {} ls)",
        s3cmd.display(),
        s3cmd.display()
    );
    println!("wrote {}", aws.display());
    if keys.is_some() {
        println!("admin access key: {access_key}\nadmin secret key: {secret}");
    }
    println!(
        "start it: libres3 serve --daemon --config {}   (check: libres3 status --config {})",
        target.display(),
        target.display()
    );
    Ok(())
}
