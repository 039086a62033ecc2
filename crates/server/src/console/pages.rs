//! The console's pages: login and logout, the event list with filters and exports, an
//! event's detail, an analysis task, and the live stream of new events.

use super::session::{self, ConsoleUser, Nav, CONSOLE_COOKIE};
use crate::client_addr::ClientAddr;
use crate::credentials::session_id_hash;
use crate::state::AppState;
use crate::throttle::Credential;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use pushdetect_model::triage::HIGH_IMPACT;
use pushdetect_store::{EventCursor, EventFilter, EventOrder, Principal, StoredEvent, Task};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// Rows per page of the event list.
const PAGE: u32 = 50;

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

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Nav,
    next: String,
    error: Option<String>,
}

/// Where to go after logging in: a path of this site, parsed and normalised, or `/`.
///
/// Browsers drop tabs and newlines from URLs and read `\\` as `/`, so `/\t/evil.example/`
/// is `//evil.example/`: anything with such characters, or that resolves to another
/// origin, goes to `/`.
fn safe_next(next: Option<&str>) -> String {
    let Some(next) = next.filter(|n| !n.is_empty()) else {
        return "/events".to_owned();
    };
    let suspicious = next
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\');
    if suspicious || !next.starts_with('/') || next.starts_with("//") {
        return "/".to_owned();
    }
    let Ok(base) = url::Url::parse("http://console.invalid/") else {
        return "/".to_owned();
    };
    match base.join(next) {
        Ok(url) if url.origin() == base.origin() => {
            let mut path = url.path().to_owned();
            if let Some(q) = url.query() {
                path.push('?');
                path.push_str(q);
            }
            path
        }
        _ => "/".to_owned(),
    }
}

/// `GET /login`.
pub async fn login_form(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let (csrf, set) = session::csrf_token(&headers, &app);
    let page = LoginPage {
        nav: Nav {
            csrf,
            ..Nav::default()
        },
        next: safe_next(q.get("next").map(String::as_str)),
        error: None,
    };
    let mut response = render(&page);
    if let Some(set) = set.and_then(|s| s.parse().ok()) {
        response.headers_mut().insert(header::SET_COOKIE, set);
    }
    response
}

/// `POST /login`: the account's users, with the PAPI's failed-login slowdown.
pub async fn login(
    State(app): State<AppState>,
    ClientAddr(peer): ClientAddr,
    headers: HeaderMap,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> Response {
    let field = |n: &str| form.get(n).map(String::as_str).unwrap_or("");
    if !session::csrf_ok(&headers, field("csrf")) {
        return session::csrf_refused();
    }
    let username = field("username").trim();
    let attempt = match app.throttle.begin(Credential::User, username, peer).await {
        Ok(attempt) => attempt,
        Err(refused) => {
            return login_again(
                field("csrf"),
                field("next"),
                refused.message(),
                StatusCode::TOO_MANY_REQUESTS,
            )
        }
    };
    let user = match crate::papi::auth::user_with_password(&app, username, field("password")).await
    {
        Ok(u) => u,
        Err(e) => return unavailable(e),
    };
    let Some(user) = user else {
        attempt.failed();
        return login_again(
            field("csrf"),
            field("next"),
            "Wrong username or password.".into(),
            StatusCode::UNAUTHORIZED,
        );
    };
    attempt.succeeded();
    match session::start(&app, user.account_id, user.id).await {
        Ok(cookie) => (
            [(header::SET_COOKIE, cookie)],
            Redirect::to(&safe_next(Some(field("next")))),
        )
            .into_response(),
        Err(e) => unavailable(e),
    }
}

/// The login form again, with why the last attempt did not log in.
fn login_again(csrf: &str, next: &str, error: String, status: StatusCode) -> Response {
    let page = LoginPage {
        nav: Nav {
            csrf: csrf.to_owned(),
            ..Nav::default()
        },
        next: safe_next(Some(next)),
        error: Some(error),
    };
    let mut response = render(&page);
    *response.status_mut() = status;
    response
}

/// `POST /logout`.
pub async fn logout(
    State(app): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> Response {
    if !session::csrf_ok(&headers, form.get("csrf").map(String::as_str).unwrap_or("")) {
        return session::csrf_refused();
    }
    if let Some(id) = session::cookie(&headers, CONSOLE_COOKIE) {
        if let Err(e) = app.store.delete_session(&session_id_hash(&id)).await {
            return unavailable(e);
        }
    }
    (
        [(
            header::SET_COOKIE,
            session::set_cookie(&app, CONSOLE_COOKIE, "", Some(0)),
        )],
        Redirect::to("/login"),
    )
        .into_response()
}

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
pub const ORDERS: &[(&str, &str)] = &[
    ("newest", "newest first"),
    ("oldest", "oldest first"),
    ("impact", "highest impact first"),
];

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
    fn filter(&self, limit: u32) -> Result<EventFilter, String> {
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let sensor = match text(&self.sensor) {
            Some(s) => Some(
                s.parse::<i64>()
                    .map_err(|_| "'sensor' must be a sensor id (a number)".to_owned())?,
            ),
            None => None,
        };
        let order = match self.order.trim() {
            "" | "newest" => EventOrder::Newest,
            "oldest" => EventOrder::Oldest,
            "impact" => EventOrder::Impact,
            other => {
                return Err(format!(
                    "'order' must be one of newest, oldest, impact, not '{other}'"
                ))
            }
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
                    "'type' must be one of file_download, ioc, mail, not '{k}'"
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

/// The CSS class of an impact: high from [`HIGH_IMPACT`], medium from 40.
pub fn severity(impact: Option<i64>) -> &'static str {
    match impact {
        None => "unknown",
        Some(i) if i >= i64::from(HIGH_IMPACT) => "high",
        Some(i) if i >= 40 => "medium",
        Some(_) => "low",
    }
}

fn summary_of(e: &StoredEvent) -> String {
    let f = &e.fields;
    match e.kind.as_str() {
        "file_download" => format!(
            "{} from {}",
            f["filename"].as_str().unwrap_or("?"),
            f["dst_hostname"]
                .as_str()
                .or(f["dst_ip"].as_str())
                .unwrap_or("?")
        ),
        "ioc" => format!(
            "IOC {} from {}: {}",
            f["ioc_uuid"].as_str().unwrap_or("?"),
            f["ioc_source"].as_str().unwrap_or("?"),
            if f["ioc_matched"] == Value::Bool(true) {
                "matched"
            } else {
                "not matched"
            }
        ),
        // The action has its own column.
        _ => format!(
            "{} from {}",
            f["message"]["subject"].as_str().unwrap_or(""),
            f["message"]["sender"].as_str().unwrap_or("?"),
        ),
    }
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
    kinds: &'static [&'static str],
    actions: &'static [&'static str],
    orders: &'static [(&'static str, &'static str)],
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
        kinds: &["file_download", "ioc", "mail"],
        actions: pushdetect_model::method::ACTIONS,
        orders: ORDERS,
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
    matches!(form.order.trim(), "" | "newest")
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
fn csv_cell(v: &str) -> String {
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

/// An analysis task as the event page lists it.
pub struct TaskLine {
    uuid: String,
    state: String,
    score: String,
    subject: String,
    activity: String,
}

fn task_state(t: &Task) -> String {
    format!("{:?}", t.state).to_lowercase()
}

fn collect_task_uuids(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("task_uuid", Value::String(s)) if !out.contains(s) => out.push(s.clone()),
                    _ => collect_task_uuids(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_task_uuids(v, out)),
        _ => {}
    }
}

#[derive(Template)]
#[template(path = "event.html")]
struct EventPage {
    nav: Nav,
    id: i64,
    kind: String,
    occurred: String,
    received: String,
    vendor_name: String,
    tool_name: String,
    sensor: String,
    pushed_by: String,
    impact: String,
    severity: &'static str,
    action: String,
    hosts: Vec<String>,
    tasks: Vec<TaskLine>,
    fields: Vec<(String, String)>,
    raw: Vec<(String, String)>,
}

fn pairs(v: &Value) -> Vec<(String, String)> {
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

/// `GET /events/{id}`.
pub async fn event(
    State(app): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return (StatusCode::NOT_FOUND, "404: no such event").into_response();
    };
    let e = match app.store.get_event(user.account_id, id).await {
        Ok(Some(e)) => e,
        Ok(None) => return (StatusCode::NOT_FOUND, "404: no such event").into_response(),
        Err(e) => return unavailable(e),
    };
    let mut uuids = Vec::new();
    collect_task_uuids(&e.fields, &mut uuids);
    let mut tasks = Vec::new();
    for uuid in uuids {
        let Ok(Some(t)) = app.store.find_task(&uuid).await else {
            continue;
        };
        if t.account_id != user.account_id {
            continue;
        }
        let result = t.result.clone().unwrap_or(Value::Null);
        let subject = &result["analysis_subject"];
        tasks.push(TaskLine {
            uuid: t.uuid.clone(),
            state: task_state(&t),
            score: t.score.map_or("-".into(), |s| s.to_string()),
            subject: subject["filename"]
                .as_str()
                .or(subject["url"].as_str())
                .or(subject["sha256"].as_str())
                .unwrap_or("")
                .to_owned(),
            activity: result["malicious_activity"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default(),
        });
    }
    let pushed_by = match e.pushed_by {
        Principal::User(_) => format!("user {}", e.pushed_by_label),
        Principal::License(_) => format!("license {}", e.pushed_by_label),
    };
    let page = EventPage {
        nav: user.nav(),
        id: e.id,
        kind: e.kind.clone(),
        occurred: time(e.occurred_at_ms),
        received: time(e.received_at_ms),
        vendor_name: e.vendor_name.clone(),
        tool_name: e.tool_name.clone(),
        sensor: format!(
            "{}:{} (key_id {}, subkey_id {})",
            e.access_key, e.subkey, e.license_id, e.sensor_id
        ),
        pushed_by,
        impact: e.impact.map_or("unknown".to_owned(), |i| i.to_string()),
        severity: severity(e.impact),
        action: e.action.clone().unwrap_or_default(),
        hosts: e.hosts.clone(),
        tasks,
        fields: pairs(&e.fields),
        raw: pairs(&e.raw_params),
    };
    render(&page)
}

#[derive(Template)]
#[template(path = "task.html")]
struct TaskPage {
    nav: Nav,
    uuid: String,
    kind: String,
    state: String,
    score: String,
    submitted: String,
    completed: String,
    subject: Vec<(String, String)>,
    findings: Vec<(String, String, String, String)>,
}

/// `GET /tasks/{uuid}`: a task of the account (another account's is "not found").
pub async fn task(
    State(app): State<AppState>,
    user: ConsoleUser,
    Path(uuid): Path<String>,
) -> Response {
    let t = match app.store.find_task(&uuid.to_ascii_lowercase()).await {
        Ok(Some(t)) if t.account_id == user.account_id => t,
        Ok(_) => return (StatusCode::NOT_FOUND, "404: no such task").into_response(),
        Err(e) => return unavailable(e),
    };
    let result = t.result.clone().unwrap_or(Value::Null);
    let findings = result["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    (
                        f["rule"].as_str().unwrap_or("").to_owned(),
                        f["score"].to_string(),
                        f["description"].as_str().unwrap_or("").to_owned(),
                        f["path"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let page = TaskPage {
        nav: user.nav(),
        uuid: t.uuid.clone(),
        kind: format!("{:?}", t.kind).to_lowercase(),
        state: task_state(&t),
        score: t.score.map_or("-".into(), |s| s.to_string()),
        submitted: time(t.created_at_ms),
        completed: t.completed_at_ms.map(time).unwrap_or_else(|| "-".into()),
        subject: pairs(&result["analysis_subject"]),
        findings,
    };
    render(&page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_origin_paths_are_followed_after_login() {
        for (next, to) in [
            (None, "/events"),
            (Some("/incidents?status=new"), "/incidents?status=new"),
            (Some("/a/../tasks"), "/tasks"),
            (Some("/\t/evil.example/"), "/"),
            (Some("/\n/evil.example/"), "/"),
            (Some("//evil.example/"), "/"),
            (Some("/\\evil.example/"), "/"),
            (Some("https://evil.example/"), "/"),
            (Some("javascript:alert(1)"), "/"),
            (Some("/x\r\nSet-Cookie: a=b"), "/"),
        ] {
            assert_eq!(safe_next(next), to, "{next:?}");
        }
    }

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
