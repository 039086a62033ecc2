//! Forwarding metrics per destination: deliveries sent, failed attempts, retries,
//! dead letters, and the outbox's depth and oldest age (refreshed by the dispatcher).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The labels of a destination's series: its account id and name.
pub type Labels = Vec<(&'static str, String)>;

/// The counters and gauges, registered once in the server's registry.
#[derive(Default, Clone)]
pub struct ForwardStats {
    /// Deliveries sent.
    pub sent: Family<Labels, Counter>,
    /// Attempts that failed.
    pub failed: Family<Labels, Counter>,
    /// Deliveries put back to be tried again.
    pub retried: Family<Labels, Counter>,
    /// Deliveries dead-lettered.
    pub dead_lettered: Family<Labels, Counter>,
    /// Deliveries waiting.
    pub depth: Family<Labels, Gauge>,
    /// Deliveries dead-lettered and kept.
    pub dead: Family<Labels, Gauge>,
    /// Age of the oldest waiting delivery, seconds.
    pub oldest_age: Family<Labels, Gauge>,
}

/// The labels of a destination.
pub fn labels(account_id: i64, name: &str) -> Labels {
    vec![
        ("account", account_id.to_string()),
        ("destination", name.to_owned()),
    ]
}

impl ForwardStats {
    /// Registers every series under `forward_…`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "forward_sent",
            "Deliveries sent, by destination",
            self.sent.clone(),
        );
        registry.register(
            "forward_failed",
            "Delivery attempts that failed, by destination",
            self.failed.clone(),
        );
        registry.register(
            "forward_retried",
            "Deliveries put back to be tried again, by destination",
            self.retried.clone(),
        );
        registry.register(
            "forward_dead_lettered",
            "Deliveries dead-lettered, by destination",
            self.dead_lettered.clone(),
        );
        registry.register(
            "forward_outbox_depth",
            "Deliveries waiting in the outbox, by destination",
            self.depth.clone(),
        );
        registry.register(
            "forward_outbox_dead",
            "Dead-lettered deliveries kept in the outbox, by destination",
            self.dead.clone(),
        );
        registry.register(
            "forward_outbox_oldest_age_seconds",
            "Age of the oldest waiting delivery, by destination",
            self.oldest_age.clone(),
        );
    }
}
