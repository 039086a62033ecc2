//! What every console page shares: rendering, refusals, the store's absence, times and
//! impacts as the console shows them.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use pushdetect_model::triage::HIGH_IMPACT;
use pushdetect_store::Task;
use serde_json::Value;

/// Renders a page that shows why its form was refused, with status 400.
pub(super) fn refused(t: &impl Template) -> Response {
    let mut r = render(t);
    *r.status_mut() = StatusCode::BAD_REQUEST;
    r
}

/// Cuts a list fetched with one row more than a page down to the page, and returns the
/// link to the next page (made from the page's last row) if there is one.
pub(super) fn cut_page<T>(
    list: &mut Vec<T>,
    page: u32,
    link: impl FnOnce(&T) -> String,
) -> Option<String> {
    if list.len() <= page as usize {
        return None;
    }
    list.truncate(page as usize);
    list.last().map(link)
}

/// Renders a page, or a plain 500 if the template fails.
pub(super) fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

/// The answer when the store cannot be reached.
pub(super) fn unavailable(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "console: store unavailable");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "503: the store is unavailable; retry",
    )
        .into_response()
}

/// A time as the console shows it: `YYYY-MM-DD HH:MM:SS UTC`.
pub(super) fn time(ms: i64) -> String {
    pushdetect_model::Timestamp::from_millis(ms)
        .0
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string()
}

/// The CSS class of an impact: high from [`HIGH_IMPACT`], medium from 40.
pub fn severity(impact: Option<i64>) -> &'static str {
    match impact {
        None => "unknown",
        Some(i) if i >= i64::from(HIGH_IMPACT) => "high",
        Some(i) if i >= 40 => "medium",
        Some(_) => "low",
    }
}

/// The state of a task as the console shows it.
pub(super) fn task_state(t: &Task) -> String {
    format!("{:?}", t.state).to_lowercase()
}

/// The members of a JSON object as (name, shown value) pairs; strings unquoted.
pub(super) fn pairs(v: &Value) -> Vec<(String, String)> {
    match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| {
                let shown = match v {
                    Value::String(s) => s.clone(),
                    other => serde_json::to_string_pretty(other).unwrap_or_default(),
                };
                (k.clone(), shown)
            })
            .collect(),
        _ => Vec::new(),
    }
}
