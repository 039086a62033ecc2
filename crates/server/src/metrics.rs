//! Prometheus metrics: requests and latency per endpoint, events stored per type, API
//! errors per code, group-commit batches and commit latency, the analysis queue and task
//! latency, forwarding, the build, and the standard `process_*` set. Rendered at
//! `/metrics`.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Instant;

type Labels = Vec<(&'static str, String)>;

/// The API error code of a response, attached as an extension for the metrics layer.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCodeSeen(pub u32);

/// All counters and histograms of the server.
pub struct Metrics {
    registry: Registry,
    commit_writes: Family<Labels, Histogram>,
    commit_seconds: Family<Labels, Histogram>,
    task_seconds: Histogram,
    tasks_unfinished: Family<Labels, Gauge>,
    retention_purged: Family<Labels, Counter>,
    requests: Family<Labels, Counter>,
    latency: Family<Labels, Histogram>,
    events: Family<Labels, Counter>,
    errors: Family<Labels, Counter>,
    reloads: Family<Labels, Counter>,
    connections: ConnectionGauges,
    forward: pushdetect_forward::ForwardStats,
}

/// What the listener reports as it works: connections open and requests in flight. An
/// operator sees how close the server is to `--max-connections`; a test can wait for a
/// request to be in flight instead of sleeping.
#[derive(Clone, Default)]
pub struct ConnectionGauges {
    /// Connections open (idle or busy).
    pub open: Gauge,
    /// Requests being answered.
    pub in_flight: Gauge,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 18))
}

impl Default for Metrics {
    fn default() -> Self {
        // The process_* set keeps its standard, unprefixed names; the rest is pushdetect_*.
        let mut root = Registry::default();
        root.register_collector(Box::new(crate::process_metrics::ProcessCollector));
        let registry = root.sub_registry_with_prefix("pushdetect");
        let build = Family::<Labels, Gauge>::default();
        build
            .get_or_create(&vec![("version", env!("CARGO_PKG_VERSION").to_owned())])
            .set(1);
        registry.register(
            "build_info",
            "Always 1; the running version as a label",
            build,
        );
        let commit_writes = Family::<Labels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(1.0, 2.0, 12))) as fn() -> Histogram,
        );
        registry.register(
            "group_commit_batch_writes",
            "Writes stored per transaction by the group committer, by kind (events, tasks): \
             batches grow under load",
            commit_writes.clone(),
        );
        let commit_seconds = Family::<Labels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "group_commit_seconds",
            "Time to store one batch durably, by kind",
            commit_seconds.clone(),
        );
        let task_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 20));
        registry.register(
            "analysis_task_seconds",
            "Time from an analysis task's submission to its stored result",
            task_seconds.clone(),
        );
        let tasks_unfinished = Family::<Labels, Gauge>::default();
        registry.register(
            "analysis_tasks",
            "Analysis tasks not finished, by state (queued, running), as of the scrape",
            tasks_unfinished.clone(),
        );
        let requests = Family::<Labels, Counter>::default();
        let latency = Family::<Labels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let events = Family::<Labels, Counter>::default();
        let errors = Family::<Labels, Counter>::default();
        let reloads = Family::<Labels, Counter>::default();
        let connections = ConnectionGauges::default();
        registry.register(
            "connections_open",
            "Client connections open, idle or busy",
            connections.open.clone(),
        );
        registry.register(
            "requests_in_flight",
            "Requests being answered",
            connections.in_flight.clone(),
        );
        registry.register(
            "reloads",
            "Reloads on SIGHUP, by what (rules, tls) and result (ok, failed): a failed one \
             leaves the previous set in force",
            reloads.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by endpoint, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by endpoint",
            latency.clone(),
        );
        registry.register(
            "events_stored",
            "Events durably stored, by type (resent pushes not counted)",
            events.clone(),
        );
        registry.register(
            "api_errors",
            "API errors answered, by error code",
            errors.clone(),
        );
        let retention_purged = Family::<Labels, Counter>::default();
        registry.register(
            "retention_purged",
            "Rows purged because their account keeps them no longer, by what (events, \
             incidents, tasks, contents)",
            retention_purged.clone(),
        );
        let forward = pushdetect_forward::ForwardStats::default();
        forward.register(registry);
        Metrics {
            forward,
            registry: root,
            commit_writes,
            commit_seconds,
            task_seconds,
            tasks_unfinished,
            retention_purged,
            requests,
            latency,
            events,
            errors,
            reloads,
            connections,
        }
    }
}

impl Metrics {
    /// Counts a stored event.
    pub fn event_stored(&self, kind: &str) {
        self.events
            .get_or_create(&vec![("type", kind.to_owned())])
            .inc();
    }

    /// The forwarding counters and gauges the dispatcher keeps up to date.
    pub fn forward_stats(&self) -> pushdetect_forward::ForwardStats {
        self.forward.clone()
    }

    /// The gauges the listener keeps up to date.
    pub fn connection_gauges(&self) -> ConnectionGauges {
        self.connections.clone()
    }

    /// Counts a reload of `what` (`rules`, `tls`) on SIGHUP, so that an operator can
    /// alert on a failed one and a caller can tell when a reload has been tried.
    pub fn reloaded(&self, what: &'static str, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.reloads
            .get_or_create(&vec![
                ("what", what.to_owned()),
                ("result", result.to_owned()),
            ])
            .inc();
    }

    /// Records an analysis task stored with its result, `seconds` after its submission.
    pub fn task_completed(&self, seconds: f64) {
        self.task_seconds.observe(seconds.max(0.0));
    }

    /// Counts what a retention purge removed.
    pub fn retention_purged(&self, purged: &pushdetect_store::Purged) {
        for (what, n) in [
            ("events", purged.events),
            ("incidents", purged.incidents),
            ("tasks", purged.tasks),
            ("contents", purged.contents.len() as u64),
        ] {
            self.retention_purged
                .get_or_create(&vec![("what", what.to_owned())])
                .inc_by(n);
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

impl pushdetect_store::group_commit::CommitObserver for Metrics {
    fn committed(&self, kind: &'static str, writes: usize, took: std::time::Duration) {
        let labels = vec![("kind", kind.to_owned())];
        self.commit_writes
            .get_or_create(&labels)
            .observe(writes as f64);
        self.commit_seconds
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }
}

/// The endpoint label of a route: its path without the format suffix, so that `/x`,
/// `/x.json` and `/x.xml` (one method, three spellings) are one series.
fn endpoint_label(route: &str) -> String {
    route
        .strip_suffix(".json")
        .or_else(|| route.strip_suffix(".xml"))
        .unwrap_or(route)
        .to_owned()
}

/// Middleware recording every request.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| endpoint_label(p.as_str()))
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = method_label(request.method()).to_owned();
    let start = Instant::now();
    let response = next.run(request).await;
    metrics
        .latency
        .get_or_create(&vec![("endpoint", endpoint.clone())])
        .observe(start.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&vec![
            ("endpoint", endpoint),
            ("method", method),
            ("status", response.status().as_u16().to_string()),
        ])
        .inc();
    if let Some(ErrorCodeSeen(code)) = response.extensions().get::<ErrorCodeSeen>() {
        metrics
            .errors
            .get_or_create(&vec![("code", code.to_string())])
            .inc();
    }
    response
}

/// The method label: the standard methods by name, anything else as `other`, so that a
/// client inventing method names cannot create one series per name.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `GET /metrics`. The analysis queue is counted at the scrape (one indexed count); a
/// store that cannot answer leaves the last values.
pub async fn render(State(app): State<crate::state::AppState>) -> impl IntoResponse {
    let metrics = &app.metrics;
    match app.store.unfinished_tasks().await {
        Ok((queued, running)) => {
            for (state, n) in [("queued", queued), ("running", running)] {
                metrics
                    .tasks_unfinished
                    .get_or_create(&vec![("state", state.to_owned())])
                    .set(n);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot count the analysis queue"),
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::endpoint_label;

    #[test]
    fn the_endpoint_label_leaves_out_the_format() {
        for route in ["/papi/ping", "/papi/ping.json", "/papi/ping.xml"] {
            assert_eq!(endpoint_label(route), "/papi/ping");
        }
        assert_eq!(endpoint_label("/events/export.csv"), "/events/export.csv");
    }
}
