//! Prometheus metrics: requests and latency per endpoint, events stored per type, API
//! errors per code. Rendered at `/metrics`.

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
        let mut registry = Registry::with_prefix("pushdetect");
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
        let forward = pushdetect_forward::ForwardStats::default();
        forward.register(&mut registry);
        Metrics {
            forward,
            registry,
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

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// Middleware recording every request.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
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

/// `GET /metrics`.
pub async fn render(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
}
