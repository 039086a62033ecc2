//! Every HTTP endpoint in one table: the router and the OpenAPI document are both built from
//! it, so they cannot drift apart.

use crate::papi::{auth, events, push};
use crate::state::AppState;
use crate::{metrics, openapi};
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::routing::{get, on, MethodFilter, MethodRouter};
use axum::{middleware, Json, Router};
use pushdetect_model::method::{
    MethodSpec, EVENT_GET, EVENT_LIST, INCIDENT_GET, INCIDENT_LIST, PUSH_FILE_DOWNLOAD,
    PUSH_IOC_RESULT, PUSH_IOC_RESULT_SPEC_URL, PUSH_MAIL,
};
use pushdetect_model::EventKind;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

/// What an endpoint does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Log in.
    Login,
    /// Log out.
    Logout,
    /// Ping.
    Ping,
    /// Push an event of this kind.
    Push(EventKind),
    /// List events.
    ListEvents,
    /// Get one event.
    GetEvent,
    /// List incidents.
    ListIncidents,
    /// Get one incident.
    GetIncident,
}

/// One PAPI endpoint. Each answers at `/papi/PATH`, `/papi/PATH.json` and `/papi/PATH.xml`.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    /// The method's parameters (and its path below `/papi`).
    pub spec: &'static MethodSpec,
    /// Path below `/papi`, when it differs from the spec's (module pings).
    pub path: Option<&'static str>,
    /// Accepted HTTP methods.
    pub methods: &'static [&'static str],
    /// The handler.
    pub action: Action,
}

impl Endpoint {
    /// The path below `/papi`, without format suffix.
    pub fn path(&self) -> &'static str {
        self.path.unwrap_or(self.spec.path)
    }
}

const POST: &[&str] = &["POST"];
const GET_POST: &[&str] = &["GET", "POST"];

const fn ep(
    spec: &'static MethodSpec,
    methods: &'static [&'static str],
    action: Action,
) -> Endpoint {
    Endpoint {
        spec,
        path: None,
        methods,
        action,
    }
}

const fn ping(path: &'static str) -> Endpoint {
    Endpoint {
        spec: &auth::PING,
        path: Some(path),
        methods: GET_POST,
        action: Action::Ping,
    }
}

/// The PAPI endpoints.
pub const ENDPOINTS: &[Endpoint] = &[
    ep(&auth::LOGIN, POST, Action::Login),
    ep(&auth::LOGOUT, POST, Action::Logout),
    ping("ping"),
    ping("push_detection/ping"),
    ping("push_detection/file_capture/ping"),
    ping("push_detection/ioc/ping"),
    ping("push_detection/mail_capture/ping"),
    ping("push_detection/event/ping"),
    ep(
        &PUSH_FILE_DOWNLOAD,
        POST,
        Action::Push(EventKind::FileDownload),
    ),
    ep(&PUSH_IOC_RESULT, POST, Action::Push(EventKind::Ioc)),
    ep(
        &PUSH_IOC_RESULT_SPEC_URL,
        POST,
        Action::Push(EventKind::Ioc),
    ),
    ep(&PUSH_MAIL, POST, Action::Push(EventKind::Mail)),
    ep(&EVENT_LIST, GET_POST, Action::ListEvents),
    ep(&EVENT_GET, GET_POST, Action::GetEvent),
    ping("push_detection/incident/ping"),
    ep(&INCIDENT_LIST, GET_POST, Action::ListIncidents),
    ep(&INCIDENT_GET, GET_POST, Action::GetIncident),
];

/// The format suffixes every PAPI path answers with.
pub const SUFFIXES: [&str; 3] = ["", ".json", ".xml"];

fn handler(action: Action, filter: MethodFilter) -> MethodRouter<AppState> {
    match action {
        Action::Login => on(filter, auth::login).layer(DefaultBodyLimit::max(
            pushdetect_model::limits::MAX_LOGIN_BODY_BYTES,
        )),
        Action::Logout => on(filter, auth::logout),
        Action::Ping => on(filter, auth::ping),
        Action::Push(kind) => on(filter, move |s, c, f, form| push::push(kind, s, c, f, form)),
        Action::ListEvents => on(filter, events::list),
        Action::GetEvent => on(filter, events::get),
        Action::ListIncidents => on(filter, events::list_incidents),
        Action::GetIncident => on(filter, events::get_incident),
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
    for endpoint in ENDPOINTS {
        let route = handler(endpoint.action, method_filter(endpoint.methods));
        for suffix in SUFFIXES {
            app = app.route(&format!("/papi/{}{suffix}", endpoint.path()), route.clone());
        }
    }
    for call in pushdetect_model::analyst::CALLS {
        let path = call.path;
        let route = on(MethodFilter::GET.or(MethodFilter::POST), move |s, r| {
            crate::analyst::api::handle(path, s, r)
        })
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
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
}
