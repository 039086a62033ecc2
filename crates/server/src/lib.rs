//! The pushdetect HTTP application.
//!
//! [`routes::router`] builds the whole app from the endpoint table in [`endpoints`]; [`serve`]
//! runs it on a listener until the shutdown signal, finishing in-flight requests.

pub mod analyst;
pub mod budget;
pub mod client_addr;
pub mod config;
pub mod console;
pub mod credentials;
pub mod endpoints;
pub mod envelope;
pub mod list_filters;
pub mod listener;
pub mod login_audit;
pub mod metrics;
pub mod openapi;
pub mod openapi_data;
pub mod papi;
pub mod process_metrics;
pub mod provision;
pub mod request;
pub mod retention;
pub mod routes;
pub mod sessions;
pub mod state;
pub mod throttle;
pub mod tls;
pub mod triage;
pub mod verify;

pub use config::Config;
pub use state::AppState;

use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;

/// A task running longer than this on a shared database is taken to be abandoned by a
/// stopped node, and queued again.
const ANALYSIS_LEASE: Duration = Duration::from_secs(15 * 60);

/// The claim time before which a running task counts as abandoned, ms.
fn abandoned_before() -> i64 {
    let lease = i64::try_from(ANALYSIS_LEASE.as_millis()).unwrap_or(i64::MAX);
    chrono::Utc::now().timestamp_millis().saturating_sub(lease)
}

/// Serves the application on `listener` until `shutdown` completes, then lets in-flight
/// requests finish (within the configured grace period) and closes the store.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let purge = tokio::spawn(purge_loop(state.clone()));
    // Events stored by an older version are indexed while the server already answers:
    // new events are grouped as they arrive, and grouping does not depend on order.
    let backlog = {
        let state = state.clone();
        tokio::spawn(async move { triage::index_backlog(&state).await })
    };
    // Alone on its database, a starting server knows every running task was interrupted;
    // sharing it, only tasks claimed longer ago than a lease are taken back.
    let cutoff = if state.store.is_shared() {
        abandoned_before()
    } else {
        i64::MAX
    };
    let requeued = state.store.requeue_running(cutoff).await.unwrap_or(0);
    if requeued > 0 {
        tracing::info!(
            requeued,
            "analysis tasks interrupted by the last stop are queued again"
        );
    }
    let workers: Vec<_> = (0..state.analysis.workers)
        .map(|_| {
            tokio::spawn(analyst::worker::run(
                state.store.clone(),
                state.analysis.clone(),
                state.metrics.clone(),
            ))
        })
        .collect();
    let dispatcher = tokio::spawn(
        pushdetect_forward::Dispatcher::new(
            state.store.clone(),
            pushdetect_forward::DispatchConfig::for_node(
                state.config.node_name.clone(),
                state.config.hostname.clone(),
            ),
            state.metrics.forward_stats(),
        )
        .run(),
    );
    let app = routes::router(state.clone());
    let result = listener::serve(
        listener,
        app,
        state.config.connection_limits(),
        state.config.tls.clone(),
        state.metrics.connection_gauges(),
        shutdown,
    )
    .await;
    purge.abort();
    backlog.abort();
    dispatcher.abort();
    for w in workers {
        w.abort();
    }
    state.store.close().await;
    result
}

async fn purge_loop(state: AppState) {
    let mut tick = tokio::time::interval(state.config.housekeeping_every);
    loop {
        tick.tick().await;
        let now = chrono::Utc::now().timestamp_millis();
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let sessions_before = now.saturating_sub(ms(state.config.session_idle));
        if let Err(e) = state.store.purge(sessions_before, now).await {
            tracing::warn!(error = %e, "purge of expired sessions failed");
        }
        retention::apply(&state).await;
        if state.store.is_shared() {
            match state.store.requeue_running(abandoned_before()).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(
                    tasks = n,
                    "analysis tasks abandoned by a stopped node are queued again"
                ),
                Err(e) => tracing::warn!(error = %e, "requeue of abandoned analysis tasks failed"),
            }
        }
    }
}
