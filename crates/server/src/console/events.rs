//! The event list: filters, pages in three orders, and live rows of new events.

use super::page::{cut_page, refused, render, severity, time, unavailable};
use super::session::{ConsoleUser, Nav};
use crate::list_filters as filters;
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

impl FilterForm {
    /// The store filter, or a message naming the field that is wrong. Each field is read
    /// as the read API reads it ([`crate::list_filters`]); the sensor is picked by id.
    pub(super) fn filter(&self, limit: u32) -> Result<EventFilter, String> {
        self.parse(limit).map_err(|r| r.sentence())
    }

    fn parse(&self, limit: u32) -> Result<EventFilter, filters::Refused> {
        let order = filters::optional("order", &self.order, filters::order)?.unwrap_or_default();
        Ok(EventFilter {
            kind: filters::optional("type", &self.kind, filters::kind)?,
            after_ms: filters::optional("after", &self.after, filters::time)?,
            before_ms: filters::optional("before", &self.before, filters::time)?,
            host: filters::optional("host", &self.host, filters::host)?,
            vendor_name: filters::optional("vendor_name", &self.vendor_name, filters::text)?,
            tool_name: filters::optional("tool_name", &self.tool_name, filters::text)?,
            sensor_id: filters::optional("sensor", &self.sensor, filters::sensor_id)?,
            text: filters::optional("q", &self.q, filters::text)?,
            after_id: None,
            action: filters::optional("action", &self.action, filters::action)?,
            min_impact: filters::optional("min_impact", &self.min_impact, filters::impact)?,
            max_impact: filters::optional("max_impact", &self.max_impact, filters::impact)?,
            incident_id: None,
            order,
            cursor: filters::optional("cursor", &self.cursor, |n, v| {
                filters::parse_event_cursor(n, v, order)
            })?,
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
            filters::event_cursor(&EventCursor::after(last), filter.order)
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
