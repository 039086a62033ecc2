//! `pushdetect serve`.

use crate::database::DatabaseArgs;
use crate::init::{create_first_account, print_credentials};
use anyhow::{Context, Result};
use pushdetect_server::{AppState, Config};
use std::time::Duration;

/// `pushdetect serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "PUSHDETECT_LISTEN")]
    listen: String,
    /// Seconds a session may stay unused before it expires.
    #[arg(long, default_value_t = 1800)]
    session_idle_secs: u64,
    /// Seconds within which the same push from the same credential is stored once.
    #[arg(long, default_value_t = 300)]
    dedup_window_secs: u64,
    /// Largest request body in bytes (larger answers 413).
    #[arg(long, default_value_t = 4 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Seconds before a request is answered 408.
    #[arg(long, default_value_t = 30)]
    request_timeout_secs: u64,
    /// Most TCP connections served at once.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Mark the session cookie Secure (when clients reach the server over HTTPS).
    #[arg(long)]
    secure_cookies: bool,
}

/// Opens the store (initialising an empty one), then serves until SIGINT or SIGTERM.
pub async fn run(args: ServeArgs) -> Result<()> {
    let store = args.db.open().await?;
    if !store.has_accounts().await? {
        let creds = create_first_account(store.as_ref()).await?;
        print_credentials(&creds, false, &args.db.describe());
    }
    let config = Config {
        session_idle: Duration::from_secs(args.session_idle_secs),
        dedup_window: Duration::from_secs(args.dedup_window_secs),
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_secs(args.request_timeout_secs),
        max_connections: args.max_connections,
        secure_cookies: args.secure_cookies,
    };
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, database = %args.db.describe(), "pushdetect listening");
    println!("pushdetect listening on http://{addr} (PAPI at http://{addr}/papi)");
    pushdetect_server::serve(listener, AppState::new(store, config), shutdown_signal()).await?;
    tracing::info!("pushdetect stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
