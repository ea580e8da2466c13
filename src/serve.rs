//! `libres3 serve`: what is checked and loaded before the fork (as root), then a worker's
//! runtime, store and server; handed to the daemon as its [`daemon::Service`], or run in the
//! foreground.

use std::fs::File;
use std::process::ExitCode;
use std::sync::Arc;

use rustls::sign::CertifiedKey;

use crate::cli::Args;
use crate::config::{Backend, Config};
use crate::daemon::{self, Daemon, Notify, Pidfile};
use crate::http::listen::Sockets;
use crate::server::{self, Reload};
use crate::store::local::{LocalStore, StoreKey};
use crate::store::sx::{SxConfig, SxStore};
use crate::store::SecretKey;
use crate::{credentials, http, logging, tls};

/// The backends' say on their own keys: the SX store checks the SX keys that config keeps
/// verbatim (config knows no backend).
pub fn check_backend(config: &Config) -> Result<(), String> {
    match config.backend {
        Backend::Sx => SxConfig::from_config(config).map(drop),
        Backend::Embedded => Ok(()),
    }
}

/// What `serve` would refuse after the file parsed: backends and features not built, TLS
/// files that do not load, a run-as user that does not exist.
pub fn preflight(config: &Config) -> Result<Preflight, String> {
    // Read now, while we may still be root, like the TLS key: workers get it from memory.
    let store_key = match &config.encryption_key_file {
        None => None,
        Some(_) if config.backend == Backend::Sx => {
            return Err(format!(
                "{}: only the embedded store encrypts at rest (SX volumes have their own \
                 filters); remove encryption_key_file, or use backend = embedded",
                config.origin_of_encryption_key()
            ))
        }
        Some(path) => Some(Arc::new(StoreKey::load(
            path,
            &config.origin_of_encryption_key(),
        )?)),
    };
    // Loaded now, while we may still be root: the key file is usually readable by root only.
    let certificate = match &config.tls {
        Some(files) if !config.https_listen.is_empty() => Some(tls::load(files)?),
        _ => None,
    };
    let run_as = config
        .run_as
        .as_ref()
        .map(daemon::resolve_run_as)
        .transpose()?;
    Ok(Preflight {
        run_as,
        certificate,
        store_key,
    })
}

/// What `serve` learns before it forks.
pub struct Preflight {
    pub run_as: Option<(nix::unistd::User, nix::unistd::Gid)>,
    pub certificate: Option<Arc<rustls::sign::CertifiedKey>>,
    /// The embedded store's encryption key, when `encryption_key_file` is set.
    pub store_key: Option<Arc<StoreKey>>,
}

/// `libres3 serve`: checks, locks the pid file and binds, then hands over to the daemon or
/// serves in the foreground.
pub fn serve(args: Args) -> ExitCode {
    let fail = |message: String| {
        eprintln!("libres3: {message}");
        ExitCode::FAILURE
    };
    let config = match Config::load(&args, check_backend) {
        Ok(config) => config,
        Err(e) => return fail(e.to_string()),
    };
    let Preflight {
        run_as,
        certificate,
        store_key,
    } = match preflight(&config) {
        Ok(checked) => checked,
        Err(e) => return fail(e),
    };
    let daemon = config.daemonize && !args.foreground;
    if !daemon {
        logging::init_stderr(config.live.log_level);
    }
    let owner = run_as.as_ref().map(|(user, gid)| (user.uid, *gid));
    let pidfile = if daemon || config.pidfile_explicit {
        match Pidfile::lock(&config.pidfile, owner) {
            Ok(pidfile) => Some(pidfile),
            Err(e) => return fail(e.to_string()),
        }
    } else {
        None
    };
    // Made before dropping privileges, so that /var/lib/libres3 can belong to the run-as user.
    for dir in &config.data_dirs {
        if let Err(e) = daemon::prepare_dir(dir, owner) {
            return fail(e.to_string());
        }
    }
    let sockets = match server::bind(&config) {
        Ok(sockets) => sockets,
        Err(e) => return fail(e.to_string()),
    };
    match (daemon, pidfile) {
        (true, Some(pidfile)) => daemon::daemonize(Daemon {
            config,
            sockets,
            pidfile,
            run_as,
            service: Box::new(Worker {
                args,
                certificate,
                store_key,
            }),
        }),
        (_, mut pidfile) => {
            if let Some(pidfile) = &mut pidfile {
                if let Err(e) = pidfile.write_pid() {
                    return fail(e.to_string());
                }
            }
            if let Some((user, gid)) = &run_as {
                if let Err(e) = daemon::drop_privileges(user, *gid) {
                    return fail(e.to_string());
                }
            }
            // In the foreground a panic outside a request ends only its task, as before.
            http::panics::install(false);
            let code = run_worker(
                &args,
                config,
                sockets,
                certificate,
                store_key.as_deref(),
                None,
                Notify::Stdout,
            );
            if let Some(pidfile) = pidfile {
                pidfile.remove();
            }
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
    }
}

fn open_store(config: &Config, key: Option<&StoreKey>) -> Result<LocalStore, String> {
    LocalStore::open_with_key(&config.data_dirs, key).map_err(|e| e.to_string())
}

/// A worker: the actix runtime, the store and the server, created here and only here (after
/// any fork). Returns the process exit code.
fn run_worker(
    args: &Args,
    config: Config,
    sockets: Sockets,
    certificate: Option<Arc<rustls::sign::CertifiedKey>>,
    store_key: Option<&StoreKey>,
    control: Option<File>,
    mut notify: Notify,
) -> i32 {
    let source = server::ReloadSource {
        args,
        check: check_backend,
        control,
    };
    let result = actix_web::rt::System::new().block_on(async {
        if config.backend == Backend::Sx {
            // Users live on the cluster: there is no first user to create here.
            let store = SxStore::start(SxConfig::from_config(&config)?).await?;
            return server::run(store, config, sockets, certificate, source, &mut notify).await;
        }
        let store = open_store(&config, store_key)?;
        let endpoint = match (sockets.http.first(), sockets.https.first()) {
            (Some(l), _) => l.local_addr().map(|a| format!("http://{a}")),
            (None, Some(l)) => l.local_addr().map(|a| format!("https://{a}")),
            (None, None) => Ok(String::new()),
        }
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
        first_user(&store, &endpoint, &mut notify).await?;
        server::run(store, config, sockets, certificate, source, &mut notify).await
    });
    match result {
        Ok(()) => 0,
        Err(message) => {
            if !notify.fail(&message) {
                log::error!("{message}");
                if matches!(notify, Notify::Stdout) {
                    eprintln!("libres3: {message}");
                }
            }
            1
        }
    }
}

/// What a daemon's worker runs: kept by the supervisor, which forks it anew after a crash.
struct Worker {
    args: Args,
    /// Loaded as root before the fork; replaced when a SIGHUP re-reads the files.
    certificate: Option<Arc<CertifiedKey>>,
    /// Read once at startup: a restarted worker opens the store with the same key.
    store_key: Option<Arc<StoreKey>>,
}

impl daemon::Service for Worker {
    fn serve(&self, config: &Config, sockets: Sockets, control: File, notify: Notify) -> i32 {
        run_worker(
            &self.args,
            config.clone(),
            sockets,
            self.certificate.clone(),
            self.store_key.as_deref(),
            Some(control),
            notify,
        )
    }

    /// The file and the TLS files, read and checked as root; the worker gets both.
    fn reread(&mut self) -> Result<(Config, Option<String>), String> {
        let (config, text) =
            Config::load_with_text(&self.args, check_backend).map_err(|e| e.to_string())?;
        let (pem, key) = match &config.tls {
            Some(files) if !config.https_listen.is_empty() => {
                let pem = tls::read(files)?;
                let key = tls::parse(files, &pem)?;
                (Some(pem), Some(key))
            }
            _ => (None, None),
        };
        let message = text
            .map(|config| Reload { config, tls: pem }.encode())
            .transpose()
            .map_err(|e| e.to_string())?;
        if key.is_some() {
            self.certificate = key;
        }
        Ok((config, message))
    }
}

/// A store with no user gets one: from LIBRES3_ACCESS_KEY / LIBRES3_SECRET_KEY, or generated
/// and printed once with a command to try it.
async fn first_user(store: &LocalStore, endpoint: &str, notify: &mut Notify) -> Result<(), String> {
    if !store
        .list_users()
        .await
        .map_err(|e| e.to_string())?
        .is_empty()
    {
        return Ok(());
    }
    let from_env = (
        std::env::var("LIBRES3_ACCESS_KEY")
            .ok()
            .filter(|k| !k.is_empty()),
        std::env::var("LIBRES3_SECRET_KEY")
            .ok()
            .filter(|k| !k.is_empty()),
    );
    let (access_key, secret, generated) =
        match from_env {
            (Some(access), Some(secret)) => {
                let secret = SecretKey::new(secret);
                credentials::check_user("admin", &access, &secret)?;
                (access, secret, false)
            }
            (None, None) => (
                credentials::generate_access_key()?,
                credentials::generate_secret_key()?,
                true,
            ),
            _ => return Err(
                "set both LIBRES3_ACCESS_KEY and LIBRES3_SECRET_KEY, or neither to generate keys"
                    .into(),
            ),
        };
    store
        .add_user("admin", &access_key, &secret)
        .await
        .map_err(|e| e.to_string())?;
    log::info!("created the first user \"admin\" (access key {access_key})");
    if generated {
        notify.line(&format!(
            "libres3: created the first user \"admin\"; its keys are shown only this once:\n\
             \x20 access key: {access_key}\n\
             \x20 secret key: {secret}\n\
             Try it:\n\
             \x20 AWS_ACCESS_KEY_ID={access_key} AWS_SECRET_ACCESS_KEY={secret} aws --endpoint-url {endpoint} s3 ls",
            secret = secret.expose()
        ));
    }
    Ok(())
}
