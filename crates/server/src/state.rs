//! What every handler shares.

use crate::config::Config;
use crate::metrics::Metrics;
use crate::throttle::LoginThrottle;
use pushdetect_store::Store;
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
}

impl AppState {
    /// Builds the state around a store.
    pub fn new(store: Arc<dyn Store>, config: Config) -> Self {
        AppState {
            store,
            config: Arc::new(config),
            metrics: Arc::new(Metrics::default()),
            throttle: Arc::new(LoginThrottle::default()),
        }
    }
}

impl axum::extract::FromRef<AppState> for Arc<Metrics> {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}
