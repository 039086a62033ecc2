//! The event list: filters, pages in three orders, and live rows of new events.

use super::page::{cut_page, refused, render, severity, time, unavailable};
use super::session::{ConsoleUser, Nav};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use pushdetect_store::{EventCursor, EventFilter, EventOrder, StoredEvent};
use std::collections::BTreeMap;
use std::time::Duration;

/// Rows per page of the event list.
const PAGE: u32 = 50;

/// The event list's filters as typed in the form (kept for redisplay).
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct FilterForm {
    #[serde(rename = "type")]
    kind: String,
    after: String,
    before: String,
    host: String,
    vendor_name: String,
    tool_name: String,
    sensor: String,
    q: String,
    action: String,
    min_impact: String,
    max_impact: String,
    order: String,
    cursor: String,
}

/// The orders the event list offers: value, label.
pub fn orders() -> Vec<(&'static str, &'static str)> {
    EventOrder::ALL
        .into_iter()
        .map(|o| {
            let label = match o {
                EventOrder::Newest => "newest first",
                EventOrder::Oldest => "oldest first",
                EventOrder::Impact => "highest impact first",
            };
            (o.as_str(), label)
        })
        .collect()
}

fn form_impact(name: &str, v: &str) -> Result<Option<i64>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    match v.parse::<i64>() {
        Ok(n) if (0..=100).contains(&n) => Ok(Some(n)),
        _ => Err(format!("'{name}' must be a whole number from 0 to 100")),
    }
}

fn form_time(name: &str, v: &str) -> Result<Option<i64>, String> {
    if v.trim().is_empty() {
        return Ok(None);
    }
    let v = v.trim().replace('T', " ");
    pushdetect_model::Timestamp::parse(name, &v)
        .or_else(|_| pushdetect_model::Timestamp::parse(name, &format!("{v}:00")))
        .map(|t| Some(t.millis()))
        .map_err(|_| format!("'{name}' must be a date and time such as 2026-11-28T10:00"))
}

impl FilterForm {
    /// The store filter, or a message naming the field that is wrong.
    pub(super) fn filter(&self, limit: u32) -> Result<EventFilter, String> {
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let sensor = match text(&self.sensor) {
            Some(s) => Some(
                s.parse::<i64>()
                    .map_err(|_| "'sensor' must be a sensor id (a number)".to_owned())?,
            ),
            None => None,
        };
        let order = match self.order.trim() {
            "" => EventOrder::Newest,
            other => EventOrder::from_name(other).ok_or_else(|| {
                format!("'order' must be {}, not '{other}'", EventOrder::expected())
            })?,
        };
        let cursor = match text(&self.cursor) {
            Some(c) => Some(
                crate::papi::events::parse_event_cursor("cursor", &c, order)
                    .map_err(|_| "'cursor' is not a page of this list".to_owned())?,
            ),
            None => None,
        };
        let action = text(&self.action).map(|a| a.to_ascii_uppercase());
        if let Some(a) = &action {
            if !pushdetect_model::method::ACTIONS.contains(&a.as_str()) {
                return Err(format!(
                    "'action' must be one of LOG, WARN, BLOCK, not '{a}'"
                ));
            }
        }
        let kind = text(&self.kind);
        if let Some(k) = &kind {
            if pushdetect_model::EventKind::from_name(k).is_none() {
                return Err(format!(
                    "'type' must be {}, not '{k}'",
                    pushdetect_model::EventKind::expected()
                ));
            }
        }
        Ok(EventFilter {
            kind,
            after_ms: form_time("after", &self.after)?,
            before_ms: form_time("before", &self.before)?,
            host: text(&self.host).map(|h| h.to_lowercase()),
            vendor_name: text(&self.vendor_name),
            tool_name: text(&self.tool_name),
            sensor_id: sensor,
            text: text(&self.q),
            after_id: None,
            action,
            min_impact: form_impact("min_impact", &self.min_impact)?,
            max_impact: form_impact("max_impact", &self.max_impact)?,
            incident_id: None,
            order,
            cursor,
            limit,
        })
    }

    /// The query string of these filters (without the page).
    fn query(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("type", &self.kind),
            ("after", &self.after),
            ("before", &self.before),
            ("host", &self.host),
            ("vendor_name", &self.vendor_name),
            ("tool_name", &self.tool_name),
            ("sensor", &self.sensor),
            ("q", &self.q),
            ("action", &self.action),
            ("min_impact", &self.min_impact),
            ("max_impact", &self.max_impact),
            ("order", &self.order),
        ] {
            if !v.trim().is_empty() {
                q.append_pair(k, v);
            }
        }
        q.finish()
    }
}

/// One row of the event table (fields read by the templates).
pub struct Row {
    pub(super) id: i64,
    pub(super) occurred: String,
    pub(super) occurred_short: String,
    pub(super) kind: String,
    pub(super) hosts: String,
    pub(super) vendor_name: String,
    pub(super) tool_name: String,
    pub(super) summary: String,
    pub(super) action: String,
    pub(super) impact: String,
    /// CSS class of the impact: none, low, medium, high.
    pub(super) severity: &'static str,
}

/// One line saying what an event is about, for the list and the exports.
pub(super) fn summary_of(e: &StoredEvent) -> String {
    e.event().map_or_else(
        || "(not readable by this version: see its raw parameters)".to_owned(),
        |event| event.summary(),
    )
}

impl Row {
    /// The row of a stored event.
    pub fn of(e: &StoredEvent) -> Row {
        Row {
            id: e.id,
            occurred: pushdetect_model::Timestamp::from_millis(e.occurred_at_ms)
                .0
                .to_rfc3339(),
            occurred_short: time(e.occurred_at_ms),
            kind: e.kind.clone(),
            hosts: e.hosts.join(", "),
            vendor_name: e.vendor_name.clone(),
            tool_name: e.tool_name.clone(),
            summary: summary_of(e),
            action: e.action.clone().unwrap_or_default(),
            impact: e.impact.map_or("–".to_owned(), |i| i.to_string()),
            severity: severity(e.impact),
        }
    }
}

#[derive(Template)]
#[template(path = "event_row.html")]
struct RowFragment<'a> {
    row: &'a Row,
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage {
    nav: Nav,
    kinds: Vec<&'static str>,
    actions: &'static [&'static str],
    orders: Vec<(&'static str, &'static str)>,
    filter: FilterForm,
    error: Option<String>,
    rows: Vec<Row>,
    query: String,
    next_page: Option<String>,
    /// Live updates only on the first page.
    live: bool,
    newest_id: i64,
}

/// `GET /events`.
pub async fn events(
    State(app): State<AppState>,
    user: ConsoleUser,
    Query(form): Query<FilterForm>,
) -> Response {
    let mut page = EventsPage {
        nav: user.nav(),
        kinds: pushdetect_model::EventKind::names(),
        actions: pushdetect_model::method::ACTIONS,
        orders: orders(),
        query: form.query(),
        filter: form.clone(),
        error: None,
        rows: Vec::new(),
        next_page: None,
        // Live rows only on the first page of the newest-first order.
        live: form.cursor.trim().is_empty() && filter_order_is_newest(&form),
        newest_id: 0,
    };
    let filter = match form.filter(PAGE + 1) {
        Ok(f) => f,
        Err(e) => {
            page.error = Some(e);
            return refused(&page);
        }
    };
    let mut list = match app.store.list_events(user.account_id, &filter).await {
        Ok(l) => l,
        Err(e) => return unavailable(e),
    };
    page.next_page = cut_page(&mut list, PAGE, |last| {
        let sep = if page.query.is_empty() { "" } else { "&" };
        format!(
            "{}{sep}cursor={}",
            page.query,
            crate::papi::events::event_cursor(&EventCursor::after(last), filter.order)
        )
    });
    page.newest_id = list.iter().map(|e| e.id).max().unwrap_or(0);
    page.rows = list.iter().map(Row::of).collect();
    render(&page)
}

fn filter_order_is_newest(form: &FilterForm) -> bool {
    form.order.trim().is_empty() || EventOrder::from_name(&form.order) == Some(EventOrder::Newest)
}

/// `GET /events/live?after_id=N&…filters`: new events of the account as server-sent
/// events, each a rendered table row. Wakes on local pushes, and looks every 2 s for
/// events stored by other nodes.
pub async fn live(
    State(app): State<AppState>,
    user: ConsoleUser,
    Query(form): Query<FilterForm>,
    Query(after): Query<BTreeMap<String, String>>,
) -> Response {
    let Ok(mut filter) = form.filter(100) else {
        return (StatusCode::BAD_REQUEST, "bad filter").into_response();
    };
    let mut last_id: i64 = after
        .get("after_id")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let account = user.account_id;
    let stream = async_stream::stream! {
        loop {
            filter.after_id = Some(last_id);
            filter.cursor = None;
            filter.order = EventOrder::Newest;
            match app.store.list_events(account, &filter).await {
                Ok(mut list) => {
                    list.reverse();
                    for e in &list {
                        last_id = last_id.max(e.id);
                        let row = Row::of(e);
                        if let Ok(html) = (RowFragment { row: &row }).render() {
                            yield Ok::<_, std::convert::Infallible>(
                                SseEvent::default().event("detection").id(e.id.to_string()).data(html.replace('\n', "")),
                            );
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "live events: store unavailable"),
            }
            let _ = tokio::time::timeout(Duration::from_secs(2), app.live.notified()).await;
        }
    };
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
