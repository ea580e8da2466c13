//! libres3: an Amazon S3 compatible server.
#![allow(dead_code)] // skeleton: removed once every module is wired into the server

mod cli;
mod config;
mod credentials;
mod s3;
mod server;
mod store;
mod time;

use std::process::ExitCode;

use cli::Command;
use config::Config;
use store::local::{LocalStore, UserAdmin};
use store::SecretKey;

fn main() -> ExitCode {
    let args = match cli::parse(std::env::args_os().skip(1)) {
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
            println!("libres3 {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let result = Config::load(&args)
        .map_err(|e| e.to_string())
        .and_then(|config| match &args.command {
            Command::Serve => serve(config),
            command => manage_users(command, &args, config),
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("libres3: {message}");
            ExitCode::FAILURE
        }
    }
}

fn open_store(config: &Config) -> Result<LocalStore, String> {
    LocalStore::open(&config.data_dirs).map_err(|e| e.to_string())
}

fn serve(config: Config) -> Result<(), String> {
    let listeners = server::bind(&config.listen)?;
    actix_web::rt::System::new().block_on(async move {
        let store = open_store(&config)?;
        let endpoint = listeners
            .first()
            .and_then(|l| l.local_addr().ok())
            .map(|a| format!("http://{a}"))
            .unwrap_or_default();
        first_user(&store, &endpoint).await?;
        server::run(store, config.s3, listeners)
            .await
            .map_err(|e| format!("the server stopped: {e}"))
    })
}

/// A store with no user gets one: from LIBRES3_ACCESS_KEY / LIBRES3_SECRET_KEY, or generated
/// and printed once with a command to try it.
async fn first_user(store: &LocalStore, endpoint: &str) -> Result<(), String> {
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
        println!(
            "libres3: created the first user \"admin\"; its keys are shown only this once:\n\
             \x20 access key: {access_key}\n\
             \x20 secret key: {secret}\n\
             Try it:\n\
             \x20 AWS_ACCESS_KEY_ID={access_key} AWS_SECRET_ACCESS_KEY={secret} aws --endpoint-url {endpoint} s3 ls",
            secret = secret.expose()
        );
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
        Command::Serve | Command::Help | Command::Version => {}
    }
    Ok(())
}
