//! What every handler shares.

use crate::analyst::Analysis;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::throttle::LoginThrottle;
use pushdetect_store::group_commit::{CommitObserver, EventWrite, GroupCommit};
use pushdetect_store::Store;
use pushdetect_store::Task;
use std::sync::Arc;

/// The application state: store, settings, metrics and the login throttle.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Settings.
    pub config: Arc<Config>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Failed-login slowdown.
    pub throttle: Arc<LoginThrottle>,
    /// The Analyst API's engine, content and workers.
    pub analysis: Arc<Analysis>,
    /// Woken when this node stores an event: the console's live views look at once.
    pub live: Arc<tokio::sync::Notify>,
    /// Where pushed events are stored: concurrent pushes share one commit.
    pub events: GroupCommit<EventWrite>,
    /// Where submitted analysis tasks are stored: concurrent submissions share one commit.
    pub tasks: GroupCommit<Task>,
    /// Bytes of batch-push bodies being held, in permits of one byte
    /// (`Config::batch_budget_bytes`).
    pub batch_budget: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// Builds the state around a store and the analysis engine, and starts the event
    /// committer (on the current tokio runtime).
    pub fn new(store: Arc<dyn Store>, config: Config, analysis: Analysis) -> Self {
        let budget = config
            .batch_budget_bytes
            .min(tokio::sync::Semaphore::MAX_PERMITS);
        let metrics = Arc::new(Metrics::default());
        let observer: Arc<dyn CommitObserver> = metrics.clone();
        AppState {
            batch_budget: Arc::new(tokio::sync::Semaphore::new(budget)),
            events: GroupCommit::start_observed(store.clone(), Some(observer.clone())),
            tasks: GroupCommit::start_observed(store.clone(), Some(observer)),
            store,
            config: Arc::new(config),
            metrics,
            throttle: Arc::new(LoginThrottle::default()),
            analysis: Arc::new(analysis),
            live: Arc::new(tokio::sync::Notify::new()),
        }
    }
}

impl axum::extract::FromRef<AppState> for Arc<Metrics> {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}
