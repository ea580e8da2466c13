//! libres3: an Amazon S3 compatible server. The binary (src/main.rs) only calls [`run`]; the
//! library form lets the fuzz targets (fuzz/) reach the parsers that see network bytes.
#![allow(dead_code)] // skeleton: removed once every module is wired into the server

pub mod admin;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod health;
pub mod http;
pub mod logging;
pub mod s3;
pub mod server;
pub mod setup;
pub mod store;
pub mod supervisor;
pub mod time;
pub mod tls;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use cli::{Args, Command};
use config::{Backend, Config};
use server::Sockets;
use store::local::{LocalStore, StoreKey, UserAdmin};
use store::sx::{SxConfig, SxStore};
use store::SecretKey;
use supervisor::{Daemon, Notify, Pidfile};

/// The whole program: parses the command line and runs the command it names.
pub fn run() -> ExitCode {
    let mut args = match cli::parse(std::env::args_os().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("libres3: {message}");
            return ExitCode::from(2);
        }
    };
    match args.command {
        Command::Help => {
            print!("{}", cli::usage());
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            println!("libres3 {}", cli::VERSION);
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    // The daemon works in `/`: pin every path given on the command line now.
    if let Err(message) = absolutize(&mut args) {
        eprintln!("libres3: {message}");
        return ExitCode::from(2);
    }
    let fail = |message: String, code: u8| {
        eprintln!("libres3: {message}");
        ExitCode::from(code)
    };
    match &args.command {
        Command::Serve => serve(args),
        Command::CheckConfig => check_config(&args),
        Command::Health => ExitCode::from(health::run(&args, check_backend)),
        Command::Setup => match setup::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => fail(message, 1),
        },
        command @ (Command::Stop | Command::Status | Command::Reload) => {
            match Config::load(&args, check_backend) {
                Ok(config) => {
                    supervisor::control(command, &config.pidfile, config.shutdown_timeout)
                }
                // A reload of a broken file would be refused: say so now, signal nothing.
                Err(e) if matches!(command, Command::Reload) => fail(e.to_string(), 1),
                Err(e) => {
                    eprintln!("libres3: warning: {e}");
                    let timeout = std::time::Duration::from_secs(300);
                    supervisor::control(command, &config::pidfile_leniently(&args), timeout)
                }
            }
        }
        command => {
            logging::init_stderr(log::LevelFilter::Info);
            match Config::load(&args, check_backend)
                .map_err(|e| e.to_string())
                .and_then(|config| manage_users(command, &args, config))
            {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => fail(message, 1),
            }
        }
    }
}

/// The backends' say on their own keys: the SX store checks the SX keys that config keeps
/// verbatim (config knows no backend).
pub fn check_backend(config: &Config) -> Result<(), String> {
    match config.backend {
        Backend::Sx => SxConfig::from_config(config).map(drop),
        Backend::Embedded => Ok(()),
    }
}

fn absolutize(args: &mut Args) -> Result<(), String> {
    let abs = |p: &mut PathBuf| -> Result<(), String> {
        *p = std::path::absolute(&*p).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(())
    };
    for path in args
        .config
        .iter_mut()
        .chain(args.data_dirs.iter_mut())
        .chain(args.pidfile.iter_mut())
        .chain(args.logdir.iter_mut())
        .chain(args.tls_cert.iter_mut())
        .chain(args.tls_key.iter_mut())
        .chain(args.sx_key_file.iter_mut())
        .chain(args.sx_ca_file.iter_mut())
    {
        abs(path)?;
    }
    Ok(())
}

/// What `serve` would refuse after the file parsed: backends and features not built, TLS
/// files that do not load, a run-as user that does not exist.
fn preflight(config: &Config) -> Result<Preflight, String> {
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
        .map(supervisor::resolve_run_as)
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

fn check_config(args: &Args) -> ExitCode {
    if args.show_keys {
        print!("{}", config::keys_help());
        return ExitCode::SUCCESS;
    }
    let result = Config::load(args, check_backend)
        .map_err(|e| e.to_string())
        .and_then(|config| preflight(&config).map(|_| config));
    match result {
        Ok(config) => {
            print!("{}", config::describe(&config));
            match &args.config {
                Some(path) => println!("# {}: OK", path.display()),
                None => println!("# no --config given: defaults and flags only: OK"),
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("libres3: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: Args) -> ExitCode {
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
            Err(e) => return fail(e),
        }
    } else {
        None
    };
    // Made before dropping privileges, so that /var/lib/libres3 can belong to the run-as user.
    for dir in &config.data_dirs {
        if let Err(e) = supervisor::prepare_dir(dir, owner) {
            return fail(e);
        }
    }
    let sockets = match server::bind(&config) {
        Ok(sockets) => sockets,
        Err(e) => return fail(e),
    };
    match (daemon, pidfile) {
        (true, Some(pidfile)) => supervisor::daemonize(Daemon {
            args,
            config,
            sockets,
            pidfile,
            run_as,
            certificate,
            store_key,
        }),
        (_, mut pidfile) => {
            if let Some(pidfile) = &mut pidfile {
                if let Err(e) = pidfile.write_pid() {
                    return fail(e);
                }
            }
            if let Some((user, gid)) = &run_as {
                if let Err(e) = supervisor::drop_privileges(user, *gid) {
                    return fail(e);
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
pub fn run_worker(
    args: &Args,
    config: Config,
    sockets: Sockets,
    certificate: Option<Arc<rustls::sign::CertifiedKey>>,
    store_key: Option<&StoreKey>,
    control: Option<std::fs::File>,
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
            let store = SxStore::connect(SxConfig::from_config(&config)?).await?;
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

/// `user add|list|remove`: works on the index alone, so also while a server runs.
fn manage_users(command: &Command, args: &cli::Args, config: Config) -> Result<(), String> {
    let admin = UserAdmin::open(&config.data_dirs).map_err(|e| e.to_string())?;
    match command {
        Command::UserAdd(name) => {
            let access_key = match &args.access_key {
                Some(key) => key.clone(),
                None => credentials::generate_access_key()?,
            };
            let secret = match &args.secret_key {
                Some(secret) => SecretKey::new(secret.clone()),
                None => credentials::generate_secret_key()?,
            };
            credentials::check_user(name, &access_key, &secret)?;
            admin
                .add(name, &access_key, &secret)
                .map_err(|e| e.to_string())?;
            println!(
                "user {name}\naccess key: {access_key}\nsecret key: {}",
                secret.expose()
            );
        }
        Command::UserList => {
            for user in admin.list().map_err(|e| e.to_string())? {
                if args.show_secrets {
                    println!(
                        "{}\t{}\t{}",
                        user.name,
                        user.access_key,
                        user.secret.expose()
                    );
                } else {
                    println!("{}\t{}", user.name, user.access_key);
                }
            }
        }
        Command::UserRemove(name) => {
            if !admin.remove(name).map_err(|e| e.to_string())? {
                return Err(format!("there is no user {name:?}"));
            }
            println!("removed user {name}");
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An admin key of the SX form (base64 of 42 bytes).
    const SX_KEY: &str = "0DPiKuNIrrVmD8IUCuw1hQxNqZcoceX1r/QsuVb6pkTJ+F2+D1ckogAA";

    fn config(text: &str) -> Result<Config, config::ConfigError> {
        Config::from_text(&Args::default(), text, check_backend)
    }

    #[test]
    fn bad_sx_values_are_refused_with_their_line() {
        let e = config(&format!(
            "backend = sx\nsx_host = h\nsecret_key = {SX_KEY}\nsx_port = x\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 4: sx_port: not a port"), "{e}");
        let e = config("backend = sx\nsecret_key = nope\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("secret_key"), "{e}");
        // The embedded store ignores SX keys.
        assert!(config("sx_port = x\n").is_ok());
    }
}
