//! Exports of the event list: every event matching the filters, as CSV or JSON.

use super::events::{summary_of, FilterForm};
use super::session::ConsoleUser;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use pushdetect_store::EventCursor;

/// `GET /events/export.csv`.
pub async fn export_csv(
    state: State<AppState>,
    user: ConsoleUser,
    form: Query<FilterForm>,
) -> Response {
    export(state, user, form, true)
}

/// `GET /events/export.json`.
pub async fn export_json(
    state: State<AppState>,
    user: ConsoleUser,
    form: Query<FilterForm>,
) -> Response {
    export(state, user, form, false)
}

/// Every event matching the filters, as CSV or a JSON array, streamed page by page (memory
/// stays bounded however many there are).
fn export(
    State(app): State<AppState>,
    user: ConsoleUser,
    Query(form): Query<FilterForm>,
    csv: bool,
) -> Response {
    let mut filter = match form.filter(1000) {
        Ok(f) => f,
        Err(e) => return (StatusCode::BAD_REQUEST, e).into_response(),
    };
    let account = user.account_id;
    let stream = async_stream::stream! {
        if csv {
            yield Ok::<_, std::io::Error>("event_id,type,occurred_at,received_at,vendor_name,tool_name,sensor,hosts,action,impact,summary,fields\r\n".to_owned());
        } else {
            yield Ok("[".to_owned());
        }
        let mut first = true;
        loop {
            let page = match app.store.list_events(account, &filter).await {
                Ok(p) => p,
                Err(e) => {
                    yield Err(std::io::Error::other(e.to_string()));
                    break;
                }
            };
            for e in &page {
                if csv {
                    let cells = [
                        e.id.to_string(),
                        e.kind.clone(),
                        pushdetect_model::Timestamp::from_millis(e.occurred_at_ms).0.to_rfc3339(),
                        pushdetect_model::Timestamp::from_millis(e.received_at_ms).0.to_rfc3339(),
                        e.vendor_name.clone(),
                        e.tool_name.clone(),
                        format!("{}:{}", e.access_key, e.subkey),
                        e.hosts.join(" "),
                        e.action.clone().unwrap_or_default(),
                        e.impact.map(|i| i.to_string()).unwrap_or_default(),
                        summary_of(e),
                        e.fields.to_string(),
                    ];
                    let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
                    yield Ok(format!("{}\r\n", line.join(",")));
                } else {
                    let sep = if first { "" } else { "," };
                    first = false;
                    let item = serde_json::json!({
                        "event_id": e.id, "type": e.kind,
                        "occurred_at": pushdetect_model::Timestamp::from_millis(e.occurred_at_ms).0.to_rfc3339(),
                        "received_at": pushdetect_model::Timestamp::from_millis(e.received_at_ms).0.to_rfc3339(),
                        "vendor_name": e.vendor_name, "tool_name": e.tool_name,
                        "sensor": format!("{}:{}", e.access_key, e.subkey),
                        "hosts": e.hosts, "action": e.action, "impact": e.impact, "fields": e.fields, "raw_parameters": e.raw_params,
                    });
                    yield Ok(format!("{sep}{item}"));
                }
            }
            match page.last() {
                Some(last) if page.len() == filter.limit as usize => {
                    filter.cursor = Some(EventCursor::after(last));
                }
                _ => break,
            }
        }
        if !csv {
            yield Ok("]".to_owned());
        }
    };
    let (content_type, name) = if csv {
        ("text/csv; charset=utf-8", "pushdetect-events.csv")
    } else {
        ("application/json", "pushdetect-events.json")
    };
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response()
}

/// A CSV cell: quoted when needed, and a leading `=`, `+`, `-` or `@` neutralised so a
/// spreadsheet does not run pushed text as a formula.
pub(super) fn csv_cell(v: &str) -> String {
    // Spreadsheets read a cell starting with one of these as a formula.
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}")
    } else {
        v.to_owned()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_are_neutralised() {
        for formula in ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"] {
            assert!(
                csv_cell(formula).trim_start_matches('"').starts_with('\''),
                "{formula:?}"
            );
        }
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
    }
}
