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

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage {
    nav: super::session::Nav,
    what: String,
}

/// A 404 page in the console's style, saying what was not found; `nav` is the user's
/// (the default, logged out, when there is none).
pub(super) fn not_found(nav: super::session::Nav, what: impl Into<String>) -> Response {
    let mut r = render(&NotFoundPage {
        nav,
        what: what.into(),
    });
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
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
    let mut out = Vec::new();
    if let Value::Object(m) = v {
        for (k, v) in m {
            flatten(k.clone(), v, &mut out);
        }
    }
    out
}

/// One row per value, nested objects and lists named by their path (`message.sender`,
/// `attachments[0].filename`), so that a mail reads as fields rather than as JSON; a
/// list of plain values is one row, joined.
fn flatten(path: String, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                flatten(format!("{path}.{k}"), v, out);
            }
        }
        Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
            for (i, v) in items.iter().enumerate() {
                flatten(format!("{path}[{i}]"), v, out);
            }
        }
        Value::Array(items) => out.push((
            path,
            items.iter().map(scalar).collect::<Vec<_>>().join(", "),
        )),
        other => out.push((path, scalar(other))),
    }
}

/// A plain value as text (a string without its quotes).
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::pairs;

    #[test]
    fn nested_values_read_as_fields_named_by_their_path() {
        let mail = serde_json::json!({
            "action": "BLOCK",
            "mail": {
                "message": {"sender": "a@x", "recipients": ["b@y", "c@z"]},
                "attachments": [{"filename": "f.exe", "size": 3}],
                "urls": []
            }
        });
        let rows = pairs(&mail);
        let row = |k: &str| {
            rows.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(row("action"), Some("BLOCK"));
        assert_eq!(row("mail.message.sender"), Some("a@x"));
        assert_eq!(row("mail.message.recipients"), Some("b@y, c@z"));
        assert_eq!(row("mail.attachments[0].filename"), Some("f.exe"));
        assert_eq!(row("mail.attachments[0].size"), Some("3"));
        assert_eq!(row("mail.urls"), Some(""));
        assert!(rows.iter().all(|(_, v)| !v.contains('{')), "{rows:?}");
    }
}
