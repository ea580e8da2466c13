//! libres3: an Amazon S3 compatible server. The binary (src/main.rs) only calls [`run`]; the
//! library form lets the fuzz targets (fuzz/) reach the parsers that see network bytes.

pub mod access_line;
pub mod admin;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod daemon;
pub mod encoding;
pub mod front;
pub mod health;
pub mod http;
pub mod logging;
pub mod md5_digest;
pub mod process;
pub mod s3;
pub mod serve;
pub mod server;
pub mod setup;
pub mod store;
pub mod time;
pub mod tls;

use std::path::PathBuf;
use std::process::ExitCode;

use cli::{Args, Command};
use config::Config;
use s3::sse::keys::KeyStore;
use serve::{check_backend, preflight, serve};
use store::local::UserAdmin;
use store::SecretKey;

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
                Ok(config) => daemon::control(command, &config.pidfile, config.shutdown_timeout),
                // A reload of a broken file would be refused: say so now, signal nothing.
                Err(e) if matches!(command, Command::Reload) => fail(e.to_string(), 1),
                Err(e) => {
                    eprintln!("libres3: warning: {e}");
                    let timeout = std::time::Duration::from_secs(300);
                    daemon::control(command, &config::pidfile_leniently(&args), timeout)
                }
            }
        }
        command @ (Command::KmsCreateKey | Command::KmsListKeys) => {
            match Config::load(&args, check_backend)
                .map_err(|e| e.to_string())
                .and_then(|config| manage_keys(command, &args, &config))
            {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => fail(message, 1),
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
                // The canonical ID and ARN are what ACL grants and bucket policies name.
                let identity = s3::identity::Identity::of(&user.name);
                let secret = if args.show_secrets {
                    format!("\t{}", user.secret.expose())
                } else {
                    String::new()
                };
                println!(
                    "{}\t{}{secret}\t{}\t{}",
                    user.name,
                    user.access_key,
                    identity.canonical_id,
                    identity.arn()
                );
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

/// `kms create-key|list-keys`: works on the key directory alone, so also while a server runs
/// (keys are only ever added, each with link(2)).
fn manage_keys(command: &Command, args: &cli::Args, config: &Config) -> Result<(), String> {
    let dir = &config.kms_key_dir;
    let store = KeyStore::open(dir).map_err(|e| e.to_string())?;
    match command {
        Command::KmsCreateKey => {
            let description = args.description.as_deref().unwrap_or_default();
            let key = store.create_key(description).map_err(|e| e.to_string())?;
            // Run as root for a server that runs as another user: give it the keys.
            if let (true, Some(run_as)) = (nix::unistd::geteuid().is_root(), &config.run_as) {
                let (user, gid) = daemon::resolve_run_as(run_as)
                    .map_err(|e| format!("{e}; the key was created in {}", dir.display()))?;
                setup::chown_tree(dir, user.uid, gid)?;
            }
            println!("{}", key.id);
        }
        Command::KmsListKeys => {
            let default = store.existing_default_key_id().map_err(|e| e.to_string())?;
            for key in store.list().map_err(|e| e.to_string())? {
                let mark = if default.as_deref() == Some(key.id.as_str()) {
                    "default"
                } else {
                    "-"
                };
                println!(
                    "{}\t{}\t{mark}\t{}",
                    key.id,
                    time::iso8601(key.created),
                    key.description
                );
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::check_backend;

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
