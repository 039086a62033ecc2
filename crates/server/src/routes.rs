//! The router: every PAPI endpoint of the table in `endpoints`, the Analyst API's calls,
//! the console, the OpenAPI document, health and metrics, with the layers every request
//! passes.

use crate::endpoints::{Action, ENDPOINTS, SUFFIXES};
use crate::papi::{account, auth, batch, events, forwarding, push, workflow};
use crate::state::AppState;
use crate::{metrics, openapi};
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::routing::{get, on, MethodFilter, MethodRouter};
use axum::{middleware, Json, Router};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

fn handler(action: Action, filter: MethodFilter) -> MethodRouter<AppState> {
    match action {
        Action::Login => on(filter, auth::login).layer(DefaultBodyLimit::max(
            pushdetect_model::limits::MAX_LOGIN_BODY_BYTES,
        )),
        Action::Logout => on(filter, auth::logout),
        Action::Ping => on(filter, auth::ping),
        Action::Push(kind) => on(filter, move |s, c, f, h, form| {
            push::push(kind, s, c, f, h, form)
        }),
        // Reads its own body, within its own limit and the node's batch budget.
        Action::PushBatch => on(filter, batch::push_events),
        Action::ListEvents => on(filter, events::list),
        Action::GetEvent => on(filter, events::get),
        Action::ListIncidents => on(filter, events::list_incidents),
        Action::GetIncident => on(filter, events::get_incident),
        Action::UpdateIncident => on(filter, workflow::update),
        Action::CommentIncident => on(filter, workflow::comment),
        Action::MergeIncidents => on(filter, workflow::merge),
        Action::SplitIncident => on(filter, workflow::split),
        Action::IncidentHistory => on(filter, workflow::history),
        Action::ListAudit => on(filter, workflow::audit),
        Action::CreateDestination => on(filter, forwarding::create),
        Action::ListDestinations => on(filter, forwarding::list),
        Action::UpdateDestination => on(filter, forwarding::update),
        Action::RemoveDestination => on(filter, forwarding::remove),
        Action::TestDestination => on(filter, forwarding::test),
        Action::DeadDeliveries => on(filter, forwarding::dead_list),
        Action::ResendDeliveries => on(filter, forwarding::resend),
        Action::ChangePassword => on(filter, account::change),
        Action::ResetPassword => on(filter, account::reset),
        Action::CreateToken => on(filter, account::create),
        Action::ListTokens => on(filter, account::list),
        Action::RevokeToken => on(filter, account::revoke),
    }
}

fn method_filter(methods: &[&str]) -> MethodFilter {
    methods
        .iter()
        .map(|m| match *m {
            "GET" => MethodFilter::GET,
            _ => MethodFilter::POST,
        })
        .reduce(MethodFilter::or)
        .unwrap_or(MethodFilter::POST)
}

/// Strict-Transport-Security for a year, on every answer served over HTTPS.
async fn hsts(mut response: axum::response::Response) -> axum::response::Response {
    response.headers_mut().insert(
        axum::http::header::STRICT_TRANSPORT_SECURITY,
        axum::http::HeaderValue::from_static("max-age=31536000"),
    );
    response
}

/// The whole application: PAPI, OpenAPI document, health and metrics, with the request
/// limits, timeouts, logging and metrics layers.
pub fn router(state: AppState) -> Router {
    let mut app = Router::new();
    for endpoint in ENDPOINTS.iter() {
        let route = handler(endpoint.action, method_filter(endpoint.methods));
        for suffix in SUFFIXES {
            app = app.route(&format!("/papi/{}{suffix}", endpoint.path()), route.clone());
        }
    }
    for &(path, action) in crate::analyst::actions::ACTIONS {
        let route = on(
            MethodFilter::GET.or(MethodFilter::POST),
            move |s, f, a, r| crate::analyst::api::handle(path, action, s, f, a, r),
        )
        // Uploads are limited by the Analyst API's own limit, while streaming.
        .layer(DefaultBodyLimit::disable());
        for suffix in SUFFIXES {
            app = app.route(&format!("/{path}{suffix}"), route.clone());
        }
    }
    // The public client's get_result also asks for `pdf` and `rtf` reports: refused with
    // HTTP 415 and why, which the client shows (a 404 would read as an unknown task).
    for call in pushdetect_model::analyst::CALLS {
        for format in ["pdf", "rtf"] {
            let route = on(MethodFilter::GET.or(MethodFilter::POST), move || {
                crate::analyst::api::format_not_offered(format)
            });
            app = app.route(&format!("/{}.{format}", call.path), route);
        }
    }
    for (path, why) in pushdetect_model::analyst::NOT_OFFERED {
        let route = on(MethodFilter::GET.or(MethodFilter::POST), move |r| {
            crate::analyst::api::not_offered(path, why, r)
        });
        for suffix in SUFFIXES {
            app = app.route(&format!("/{path}{suffix}"), route.clone());
        }
    }
    let config = state.config.clone();
    let mut app = app
        .merge(crate::console::router())
        .route(
            "/papi/openapi.json",
            get(|| async { Json(openapi::document()) }),
        )
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/metrics", get(metrics::render));
    if config.tls.is_some() {
        // Served over HTTPS: browsers are told to keep to it.
        app = app.layer(middleware::map_response(hsts));
    }
    app.layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    // The path only: query strings may carry filter values, never secrets,
                    // but are kept out of logs all the same.
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
                })
                .on_response(
                    |response: &axum::http::Response<_>,
                     latency: std::time::Duration,
                     _: &tracing::Span| {
                        // Numbers, not text: a JSON log's latency is summed and compared
                        // as it is.
                        tracing::info!(
                            status = response.status().as_u16(),
                            latency_ms = latency.as_secs_f64() * 1000.0,
                            "finished processing request"
                        );
                    },
                ),
        )
        .with_state(state)
}
