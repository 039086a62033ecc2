//! `pushdetect serve`.

use crate::database::DatabaseArgs;
use crate::init::{create_first_account, print_credentials};
use anyhow::{Context, Result};
use pushdetect_analysis::{Engine, EngineConfig};
use pushdetect_server::analyst::content::ContentStore;
use pushdetect_server::analyst::Analysis;
use pushdetect_server::config::defaults;
use pushdetect_server::{AppState, Config};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The file in the data dir holding the serving process id.
pub const PID_FILE: &str = "pushdetect.pid";

/// `pushdetect serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// A TOML file of settings (default /etc/pushdetect/pushdetect.toml, when it exists):
    /// each key an option below, with '_' for '-'. Flags and environment variables win
    /// over it (`pushdetect config table`).
    #[arg(long, value_name = "FILE", env = "PUSHDETECT_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    db: DatabaseArgs,
    /// This node's name among the nodes sharing a database (forwarding leases); default
    /// HOSTNAME:PORT. Keep it across restarts: a restarted node then resumes forwarding
    /// at once.
    #[arg(long, env = "PUSHDETECT_NODE_NAME")]
    pub node_name: Option<String>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "PUSHDETECT_LISTEN")]
    listen: String,
    /// Seconds a session may stay unused before it expires.
    #[arg(long, default_value_t = defaults::SESSION_IDLE_SECS)]
    session_idle_secs: u64,
    /// Seconds within which the same push from the same credential is stored once.
    #[arg(long, default_value_t = defaults::DEDUP_WINDOW_SECS)]
    dedup_window_secs: u64,
    /// Seconds a push's idempotency key (header Idempotency-Key, or a batch item's
    /// idempotency_key) is remembered per license: a resend with the same key within it is
    /// stored once.
    #[arg(long, default_value_t = defaults::IDEMPOTENCY_WINDOW_SECS)]
    idempotency_window_secs: u64,
    /// Events about one host at most this many seconds apart form one incident. A change
    /// applies to events stored from then on.
    #[arg(long, default_value_t = defaults::INCIDENT_WINDOW_SECS)]
    incident_window_secs: u64,
    /// What a new event about the host of a closed incident does: `true` reopens the
    /// incident (status back to new, recorded in its history); `false` keeps it closed and
    /// starts a new incident.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "true|false")]
    reopen_closed: bool,
    /// Largest request body in bytes (larger answers 413).
    #[arg(long, default_value_t = defaults::MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Most items of one batch push (push_detection/batch/push_events).
    #[arg(long, default_value_t = defaults::MAX_BATCH_ITEMS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    max_batch_items: usize,
    /// Largest body of a batch push in bytes (larger answers 413).
    #[arg(long, default_value_t = defaults::MAX_BATCH_BYTES)]
    max_batch_bytes: usize,
    /// Bytes of batch-push bodies held in memory at once, together; beyond it a batch
    /// push answers 503 and the client sends it again later.
    #[arg(long, default_value_t = defaults::BATCH_BUDGET_BYTES)]
    batch_budget_bytes: usize,
    /// Seconds before a request is answered 408.
    #[arg(long, default_value_t = defaults::REQUEST_TIMEOUT_SECS)]
    request_timeout_secs: u64,
    /// Most TCP connections served at once; at the limit the connection idle longest is
    /// closed to make room (bounded by the process's open-file limit).
    #[arg(long, default_value_t = defaults::MAX_CONNECTIONS)]
    max_connections: usize,
    /// Seconds a new connection has to send its first complete request head.
    #[arg(long, default_value_t = defaults::HEADER_TIMEOUT_SECS)]
    header_timeout_secs: u64,
    /// Seconds an idle keep-alive connection stays open.
    #[arg(long, default_value_t = defaults::KEEPALIVE_TIMEOUT_SECS)]
    keepalive_timeout_secs: u64,
    /// Seconds in-flight requests get to finish after SIGTERM or SIGINT.
    #[arg(long, default_value_t = defaults::SHUTDOWN_GRACE_SECS)]
    shutdown_grace_secs: u64,
    /// A reverse proxy (address or CIDR network) whose X-Forwarded-For header names the
    /// client, for login throttling and logs; repeatable. Without one the header is ignored.
    #[arg(long = "trusted-proxy", value_name = "CIDR", env = "PUSHDETECT_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_network)]
    trusted_proxies: Vec<ipnet::IpNet>,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key. Read again on SIGHUP.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        env = "PUSHDETECT_TLS_CERT"
    )]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_cert",
        env = "PUSHDETECT_TLS_KEY"
    )]
    tls_key: Option<PathBuf>,
    /// Mark the session cookie Secure (when clients reach the server over HTTPS).
    #[arg(long)]
    secure_cookies: bool,
    /// A directory of YARA-X rules (.yar, .yara) to add to the shipped pack; repeatable.
    #[arg(long = "rules", value_name = "DIR")]
    rule_dirs: Vec<PathBuf>,
    /// A CSV of known-bad hashes: sha256 or md5, score, description.
    #[arg(long, value_name = "FILE")]
    hash_list: Option<PathBuf>,
    /// A URL blocklist: one host or URL prefix a line.
    #[arg(long, value_name = "FILE")]
    url_blocklist: Option<PathBuf>,
    /// Largest file accepted by the Analyst API, in bytes (larger answers error 109).
    #[arg(long, default_value_t = pushdetect_server::analyst::DEFAULT_MAX_UPLOAD_BYTES)]
    max_upload_bytes: u64,
    /// Tasks one license may have waiting for analysis; beyond it a submission answers
    /// error 115 (submission limit exceeded) until the queue drains.
    #[arg(long, default_value_t = pushdetect_server::analyst::DEFAULT_MAX_QUEUED_PER_LICENSE)]
    max_queued_per_license: u32,
    /// Bytes all Analyst API uploads in flight on this node may hold together; beyond it
    /// an upload answers 107 (retry later) instead of filling the disk.
    #[arg(long, default_value_t = pushdetect_server::analyst::content::DEFAULT_UPLOAD_BUDGET)]
    upload_budget_bytes: u64,
    /// Analysis workers (default: one per core; 0 only queues, for API-only nodes).
    #[arg(long)]
    workers: Option<usize>,
}

/// Binds the listener and loads what serving needs, then opens the store (initialising an
/// empty one, its first credentials printed), then serves until SIGINT or SIGTERM. A port
/// that is taken, or a TLS file or rule that does not load, fails before a database is
/// initialised, so that its credentials are never printed by a server that then stops.
pub async fn run(args: ServeArgs) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(Arc::new(
            pushdetect_server::tls::Tls::load(cert, key).context("cannot serve HTTPS")?,
        )),
        _ => None,
    };
    let mut config = Config {
        session_idle: Duration::from_secs(args.session_idle_secs),
        dedup_window: Duration::from_secs(args.dedup_window_secs),
        idempotency_window: Duration::from_secs(args.idempotency_window_secs),
        incident_window: Duration::from_secs(args.incident_window_secs),
        reopen_closed: args.reopen_closed,
        max_body_bytes: args.max_body_bytes,
        max_batch_items: args.max_batch_items,
        max_batch_bytes: args.max_batch_bytes,
        batch_budget_bytes: args.batch_budget_bytes,
        request_timeout: Duration::from_secs(args.request_timeout_secs),
        max_connections: connection_budget(args.max_connections),
        header_timeout: Duration::from_secs(args.header_timeout_secs),
        keepalive_timeout: Duration::from_secs(args.keepalive_timeout_secs),
        shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
        secure_cookies: args.secure_cookies,
        trusted_proxies: args.trusted_proxies.clone(),
        tls: tls.clone(),
        node_name: String::new(),
        hostname: pushdetect_server::config::system_hostname(),
        ..Config::default()
    };
    let engine = Engine::new(EngineConfig {
        rule_dirs: args.rule_dirs.clone(),
        hash_list: args.hash_list.clone(),
        url_blocklist: args.url_blocklist.clone(),
        ..EngineConfig::default()
    })
    .context("cannot load the analysis rules")?;
    let engine = Arc::new(engine);
    tracing::info!(
        rules = engine.snapshot().rules.len(),
        "analysis rules loaded"
    );
    let analysis = Analysis {
        engine: engine.clone(),
        content: ContentStore::open(&args.db.data_dir.join("content"))
            .with_context(|| {
                format!(
                    "cannot create {}",
                    args.db.data_dir.join("content").display()
                )
            })?
            .with_upload_budget(args.upload_budget_bytes),
        wake: Notify::new(),
        max_upload_bytes: args.max_upload_bytes,
        max_queued_per_license: args.max_queued_per_license,
        workers: args.workers.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }),
    };
    let store = args.db.open().await?;
    if !store.has_accounts().await? {
        let creds = create_first_account(store.as_ref()).await?;
        print_credentials(&creds, false, &args.db.describe());
    }
    let addr = listener.local_addr()?;
    config.node_name = args
        .node_name
        .clone()
        .unwrap_or_else(|| format!("{}:{}", config.hostname, addr.port()));
    tracing::info!(%addr, database = %args.db.describe(), "pushdetect listening");
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("pushdetect listening on {scheme}://{addr} (PAPI at {scheme}://{addr}/papi)");
    let state = AppState::new(store, config, analysis);
    spawn_reload_on_sighup(engine.clone(), tls.clone(), state.metrics.clone());
    // `pushdetect admin rules reload` finds the server through this file.
    let pid_file = args.db.data_dir.join(PID_FILE);
    std::fs::write(&pid_file, std::process::id().to_string())
        .with_context(|| format!("cannot write {}", pid_file.display()))?;
    let served = pushdetect_server::serve(listener, state, shutdown_signal()).await;
    let _ = std::fs::remove_file(&pid_file);
    served?;
    tracing::info!("pushdetect stopped");
    Ok(())
}

/// A `--trusted-proxy` value: a network, or one address.
fn parse_network(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{s:?} is not an IP address or CIDR network (10.0.0.0/8, ::1)"))
}

/// File descriptors kept for the database, content files and rule loading.
const RESERVED_FILES: u64 = 128;

/// Raises the open-file limit as far as the system allows and returns how many
/// connections fit under it: a server that runs out of descriptors cannot accept anyone.
fn connection_budget(wanted: usize) -> usize {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let limit = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => hard,
            Err(_) => soft,
        },
        Ok((soft, _)) => soft,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the open-file limit");
            return wanted;
        }
    };
    let fits = usize::try_from(limit.saturating_sub(RESERVED_FILES).max(1)).unwrap_or(usize::MAX);
    if fits < wanted {
        tracing::warn!(
            wanted,
            fits,
            open_file_limit = limit,
            "--max-connections lowered to fit the open-file limit"
        );
    }
    wanted.min(fits)
}

/// Reloads rules, hash list and blocklist, and the TLS certificate, on SIGHUP. Scans in
/// progress finish with the set they started with, connections with the certificate they
/// began with; what fails to load is reported and the previous one stays.
fn spawn_reload_on_sighup(
    engine: Arc<Engine>,
    tls: Option<Arc<pushdetect_server::tls::Tls>>,
    metrics: Arc<pushdetect_server::metrics::Metrics>,
) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::warn!("cannot listen for SIGHUP; rules reload only at start");
            return;
        };
        while hup.recv().await.is_some() {
            if let Some(tls) = &tls {
                let reloaded = tls.reload();
                metrics.reloaded("tls", reloaded.is_ok());
                match reloaded {
                    Ok(()) => tracing::info!("TLS certificate reloaded"),
                    Err(e) => {
                        tracing::error!(error = %e, "TLS certificate not reloaded; the previous one stays")
                    }
                }
            }
            let engine = engine.clone();
            let reloaded = tokio::task::spawn_blocking(move || engine.reload()).await;
            metrics.reloaded("rules", matches!(reloaded, Ok(Ok(_))));
            match reloaded {
                Ok(Ok(rules)) => tracing::info!(rules, "analysis rules reloaded"),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "rules not reloaded; the previous set stays")
                }
                Err(e) => tracing::error!(error = %e, "rules reload failed"),
            }
        }
    });
    #[cfg(not(unix))]
    let _ = (engine, tls, metrics);
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
