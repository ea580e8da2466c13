//! `libres3 setup`: writes `libres3.conf` (mode 0600), creates the store and its admin user
//! (embedded backend) or checks that the SX cluster answers (SX backend), makes a self-signed
//! TLS certificate when asked, and writes a ready s3cmd configuration and aws profile beside
//! it. Interactive by default (each question shows its default; Enter keeps it), or `--batch`
//! with flags.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::cli::Args;
use crate::config::{self, Backend, Config};
use crate::credentials;
use crate::store::local::UserAdmin;
use crate::store::sx::SxStore;
use crate::store::SecretKey;
use crate::tls;

/// The answers setup needs, with their defaults.
struct Answers {
    /// `embedded` or `sx`.
    backend: String,
    data_dirs: String,
    /// SX: node addresses, comma separated.
    sx_host: String,
    sx_port: String,
    sx_use_ssl: String,
    sx_ca_file: String,
    /// SX: the admin key itself (read from a file when given one).
    sx_key: String,
    replica_count: String,
    volume_size: String,
    s3_host: String,
    listen_ip: String,
    http_port: String,
    https_port: String,
    /// Make a self-signed certificate (written beside the configuration file).
    self_signed: bool,
    certificate: String,
    private_key: String,
    run_as: String,
    admin_listen: String,
}

fn default_answers(args: &Args) -> Result<Answers, String> {
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
    let sx_key = match &args.sx_key_file {
        Some(file) => read_key_file(file)?,
        None => String::new(),
    };
    let https_port = args
        .https_listen
        .as_ref()
        .and_then(|l| l.parse::<std::net::SocketAddr>().ok())
        .map(|a| a.port().to_string());
    Ok(Answers {
        backend: args.backend.clone().unwrap_or_else(|| "embedded".into()),
        data_dirs: dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(" "),
        sx_host: args.sx_host.clone().unwrap_or_default(),
        sx_port: args.sx_port.clone().unwrap_or_default(),
        sx_use_ssl: args.sx_use_ssl.clone().unwrap_or_else(|| "yes".into()),
        sx_ca_file: path(&args.sx_ca_file),
        sx_key,
        replica_count: args.replica_count.clone().unwrap_or_else(|| "1".into()),
        volume_size: args.volume_size.clone().unwrap_or_else(|| "10G".into()),
        s3_host: args.s3_host.clone().unwrap_or_default(),
        listen_ip: ip,
        http_port: port,
        // Asking for a certificate implies HTTPS, on the usual port unless told otherwise.
        https_port: match (https_port, args.tls_self_signed) {
            (Some(port), _) => port,
            (None, true) => config::DEFAULT_HTTPS_PORT.to_string(),
            (None, false) => "off".into(),
        },
        self_signed: args.tls_self_signed,
        certificate: path(&args.tls_cert),
        private_key: path(&args.tls_key),
        run_as: args.run_as.clone().unwrap_or_default(),
        admin_listen: args
            .admin_listen
            .clone()
            .unwrap_or_else(|| config::DEFAULT_ADMIN_LISTEN.into()),
    })
}

/// The SX admin key in a file (e.g. written by `sxsetup --info`): its one word.
fn read_key_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read the SX admin key: {e}", path.display()))?;
    let key = text.trim();
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err(format!(
            "{}: expected the SX admin key alone in the file",
            path.display()
        ));
    }
    Ok(key.to_string())
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

/// Like [`ask`], without echoing what is typed when standard input is a terminal.
fn ask_secret(input: &mut impl BufRead, question: &str, value: &mut String) -> Result<(), String> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let shown = if value.is_empty() {
        ""
    } else {
        "keep the current one"
    };
    print!("{question} [{shown}]: ");
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    let stdin = std::io::stdin();
    let saved = tcgetattr(&stdin).ok();
    if let Some(saved) = &saved {
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, &quiet);
    }
    let mut line = String::new();
    let read = input.read_line(&mut line);
    if let Some(saved) = &saved {
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, saved);
        println!();
    }
    read.map_err(|e| format!("cannot read the answer: {e}"))?;
    let line = line.trim();
    if !line.is_empty() {
        *value = line.to_string();
    }
    Ok(())
}

fn yes(answer: &str) -> bool {
    config::parse_bool(answer).unwrap_or(false)
}

fn interview(answers: &mut Answers) -> Result<(), String> {
    println!("libres3 setup: Enter keeps the value in brackets, - clears it.");
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    loop {
        ask(
            &mut input,
            "Backend: embedded (data on this machine's disks) or sx (a Skylable SX cluster)",
            &mut answers.backend,
        )?;
        if matches!(answers.backend.as_str(), "embedded" | "sx") {
            break;
        }
        println!("  answer embedded or sx");
    }
    if answers.backend == "sx" {
        ask(
            &mut input,
            "SX node addresses (comma-separated; the others are learned from them)",
            &mut answers.sx_host,
        )?;
        ask(
            &mut input,
            "Talk HTTPS to the SX nodes (yes/no)",
            &mut answers.sx_use_ssl,
        )?;
        if answers.sx_port.is_empty() {
            answers.sx_port = if yes(&answers.sx_use_ssl) {
                "443"
            } else {
                "80"
            }
            .into();
        }
        ask(&mut input, "SX port", &mut answers.sx_port)?;
        if yes(&answers.sx_use_ssl) {
            ask(
                &mut input,
                "CA certificate of the cluster, PEM (- for public CAs)",
                &mut answers.sx_ca_file,
            )?;
        }
        let mut key = answers.sx_key.clone();
        ask_secret(
            &mut input,
            "SX admin key (sxsetup --info shows it), or the path of a file holding it",
            &mut key,
        )?;
        answers.sx_key = if Path::new(&key).is_file() {
            read_key_file(Path::new(&key))?
        } else {
            key
        };
        ask(
            &mut input,
            "Replicas of the volumes new buckets get",
            &mut answers.replica_count,
        )?;
        ask(
            &mut input,
            "Size of the volumes new buckets get (10G, 500M...)",
            &mut answers.volume_size,
        )?;
    } else {
        ask(
            &mut input,
            "Storage directories (space-separated; the first holds the index)",
            &mut answers.data_dirs,
        )?;
    }
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
        let mut generate = if answers.self_signed || answers.certificate.is_empty() {
            "yes".to_string()
        } else {
            "no".to_string()
        };
        ask(
            &mut input,
            "Make a self-signed certificate now (yes), or use your own files (no)",
            &mut generate,
        )?;
        answers.self_signed = yes(&generate);
        if !answers.self_signed {
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

/// The names a generated certificate must cover: the S3 host and its virtual-hosted buckets,
/// and the listening address (loopback names for a server listening everywhere).
fn certificate_names(a: &Answers) -> Vec<String> {
    let mut names = Vec::new();
    if !a.s3_host.is_empty() {
        names.push(a.s3_host.clone());
        names.push(format!("*.{}", a.s3_host));
    }
    match a.listen_ip.parse::<std::net::IpAddr>() {
        Ok(ip) if ip.is_unspecified() => {
            names.extend(["localhost", "127.0.0.1", "::1"].map(String::from));
        }
        Ok(ip) => names.push(ip.to_string()),
        Err(_) => {}
    }
    names
}

fn config_text(a: &Answers) -> String {
    let mut out = String::from(
        "# libres3.conf written by `libres3 setup`; see `libres3 check-config --keys`\n",
    );
    let sx = a.backend == "sx";
    if sx {
        out.push_str("backend = sx\n");
    } else {
        for dir in a.data_dirs.split_whitespace() {
            let _ = writeln!(out, "data_dir = {dir}");
        }
    }
    let mut line = |key: &str, value: &str| {
        if !value.is_empty() {
            let _ = writeln!(out, "{key} = {value}");
        }
    };
    if sx {
        line("sx_host", &a.sx_host);
        line("sx_port", &a.sx_port);
        line("sx_use_ssl", &a.sx_use_ssl);
        if yes(&a.sx_use_ssl) {
            line("sx_ca_file", &a.sx_ca_file);
        }
        line("secret_key", &a.sx_key);
        line("replica_count", &a.replica_count);
        line("volume_size", &a.volume_size);
    }
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
    write_file(path, text, 0o600)
}

/// Writes `text` to `path` with `mode`, also when the file existed with another mode.
fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let error = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(error)?;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(error)?;
    file.write_all(text.as_bytes()).map_err(error)
}

/// Gives a directory tree to the run-as user (setup runs as root, the workers do not).
pub(crate) fn chown_tree(
    dir: &Path,
    uid: nix::unistd::Uid,
    gid: nix::unistd::Gid,
) -> Result<(), String> {
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

/// The embedded store with its first user, `admin`, given to the run-as user; its keys, or
/// None when the store already had users.
fn create_store(
    config: &Config,
    run_as: Option<&(nix::unistd::User, nix::unistd::Gid)>,
) -> Result<Option<(String, SecretKey)>, String> {
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
    if let Some((user, gid)) = run_as {
        if nix::unistd::geteuid().is_root() {
            for dir in &config.data_dirs {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                chown_tree(dir, user.uid, *gid)?;
            }
        }
    }
    Ok(keys)
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
    let mut answers = default_answers(args)?;
    let interactive = !args.batch && std::io::stdin().is_terminal();
    if interactive {
        interview(&mut answers)?;
    } else if !args.batch {
        return Err(
            "standard input is not a terminal: give --batch and the settings as flags".into(),
        );
    }
    let dir = target.parent().unwrap_or(Path::new(".")).to_path_buf();

    // A generated certificate goes beside the configuration file; it is made now and checked
    // in memory, and written only once everything else checks too.
    let generated = if answers.self_signed && answers.https_port != "off" {
        let cert = dir.join("libres3-cert.pem");
        let key = dir.join("libres3-key.pem");
        for file in [&cert, &key] {
            if file.exists() && !args.force {
                return Err(format!(
                    "{} exists; give --force to replace it, or your own files with --tls-cert \
                     and --tls-key",
                    file.display()
                ));
            }
        }
        answers.certificate = cert.display().to_string();
        answers.private_key = key.display().to_string();
        let names = certificate_names(&answers);
        let pem = tls::self_signed(&names)?;
        Some((cert, key, pem, names))
    } else {
        None
    };

    // The same checks as `check-config`, on the text about to be written.
    let text = config_text(&answers);
    let check_args = Args {
        config: Some(target.clone()),
        ..Args::default()
    };
    let config = Config::from_text(&check_args, &text, crate::serve::check_backend)
        .map_err(|e| format!("the answers do not make a valid configuration: {e}"))?;
    let mut check = config.clone();
    if let (Some((.., pem, _)), Some(files)) = (&generated, &config.tls) {
        tls::parse(files, pem)?;
        check.tls = None;
    }
    let checked = crate::serve::preflight(&check)?;
    // Ports must be free (and bindable by us) now.
    drop(crate::http::listen::bind(&config).map_err(|e| e.to_string())?);
    if config.backend == Backend::Sx {
        // The cluster must answer, and take the key as an admin's: one line naming the
        // hosts and the cause otherwise.
        let sx = crate::store::sx::SxConfig::from_config(&config)?;
        let hosts = sx.hosts.join(", ");
        actix_web::rt::System::new()
            .block_on(async move { SxStore::connect(sx).await.map(drop) })?;
        println!("the SX cluster at {hosts} answers and accepts the admin key");
    }

    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    write_private(&target, &text)?;
    println!("wrote {}", target.display());
    if let Some((cert, key, pem, names)) = &generated {
        write_file(cert, &pem.certificate, 0o644)?;
        write_private(key, &pem.private_key)?;
        println!(
            "wrote {} and {} (self-signed for {}; clients must trust {})",
            cert.display(),
            key.display(),
            names.join(", "),
            cert.display()
        );
    }

    let keys = match config.backend {
        Backend::Embedded => create_store(&config, checked.run_as.as_ref())?,
        // SX users are the cluster's: the S3 admin is the SX admin, under its key id.
        Backend::Sx => Some((
            config.sx_value("keyid").unwrap_or("admin").to_string(),
            SecretKey::new(answers.sx_key.clone()),
        )),
    };
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
    // Clients must trust a self-signed certificate explicitly.
    let ca = match (&generated, scheme) {
        (Some((cert, ..)), "https") => Some(cert.display().to_string()),
        _ => None,
    };
    let s3cmd = dir.join("s3cmd.cfg");
    write_private(
        &s3cmd,
        &format!(
            "[default]\naccess_key = {access_key}\nsecret_key = {secret}\nhost_base = {host}\n\
             host_bucket = {host_bucket}\nuse_https = {}\nbucket_location = {}\n{}",
            if scheme == "https" { "True" } else { "False" },
            config.s3.region,
            ca.as_ref()
                .map_or(String::new(), |ca| format!("ca_certs_file = {ca}\n"))
        ),
    )?;
    let aws = dir.join("aws-profile.example");
    write_private(
        &aws,
        &format!(
            "# Append to ~/.aws/credentials and ~/.aws/config, then:\n\
             #   aws --profile libres3 --endpoint-url {scheme}://{host} s3 ls\n\
             [libres3]\naws_access_key_id = {access_key}\naws_secret_access_key = {secret}\n\n\
             # ~/.aws/config\n[profile libres3]\nregion = {}\n{}",
            config.s3.region,
            ca.as_ref()
                .map_or(String::new(), |ca| format!("ca_bundle = {ca}\n"))
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
