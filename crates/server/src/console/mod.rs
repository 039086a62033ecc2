//! The web console for the users of an account: server-rendered pages (askama), a small
//! script of our own for live updates, no CDN. Every console response carries a strict
//! Content-Security-Policy (no inline script), frame-ancestors 'none', nosniff and a
//! referrer policy.

pub mod account;
pub mod admin;
mod audit;
pub mod dashboard;
pub mod escape;
pub mod event;
pub mod events;
pub mod export;
pub mod forwarding;
pub mod incidents;
pub mod login;
pub mod page;
pub mod session;
pub mod tasks;

use crate::state::AppState;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

/// The console's stylesheet.
const CSS: &str = include_str!("../../assets/console.css");
/// The console's script: live rows over server-sent events.
const JS: &str = include_str!("../../assets/console.js");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// What a path nothing serves answers: a browser (asking for HTML) gets the console's
/// not-found page, any other client a bare 404. The console's router carries it, so its
/// security headers apply.
pub async fn fallback(headers: axum::http::HeaderMap) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html {
        page::not_found(
            session::Nav::default(),
            "Nothing is served at this address.",
        )
    } else {
        axum::http::StatusCode::NOT_FOUND.into_response()
    }
}

/// The console's routes, with the security headers on each.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(dashboard::dashboard))
        .route("/hosts/{host}", get(dashboard::host))
        .route(
            "/login",
            get(login::login_form)
                .post(login::login)
                .layer(axum::extract::DefaultBodyLimit::max(
                    pushdetect_model::limits::MAX_LOGIN_BODY_BYTES,
                )),
        )
        .route("/logout", post(login::logout))
        .route("/events", get(events::events))
        .route("/events/live", get(events::live))
        .route("/events/{id}", get(event::event))
        .route("/events/export.csv", get(export::export_csv))
        .route("/events/export.json", get(export::export_json))
        .route("/incidents", get(incidents::list))
        .route("/incidents/bulk", post(incidents::bulk))
        .route(
            "/incidents/{id}",
            get(incidents::detail).post(incidents::change),
        )
        .route("/tasks", get(tasks::list))
        .route("/tasks/{uuid}", get(tasks::task))
        .route("/admin", get(admin::show).post(admin::change))
        .route("/account", get(account::show))
        .route("/password", get(account::show).post(account::change))
        .route("/tokens", post(account::tokens))
        .route("/audit", get(audit::page))
        .route(
            "/forwarding",
            get(forwarding::show).post(forwarding::change),
        )
        .route("/audit/export.csv", get(audit::export_csv))
        .route(
            "/static/console.css",
            get(|| async { asset("text/css; charset=utf-8", CSS) }),
        )
        .route(
            "/static/console.js",
            get(|| async { asset("text/javascript; charset=utf-8", JS) }),
        )
        .fallback(fallback)
        .layer(middleware::from_fn(security_headers))
}
