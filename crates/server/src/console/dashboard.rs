//! The dashboard (counts per type and action, events over time, top hosts and tools, the
//! latest high-impact events and incidents) and the host page (one host's incidents and
//! the timeline of its events).

use super::events::Row;
use super::incidents::IncidentRow;
use super::page::{render, time, unavailable};
use super::session::{ConsoleUser, Nav};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use pushdetect_model::triage::{HostKind, HIGH_IMPACT};
use pushdetect_store::{EventFilter, IncidentFilter, TopHost};
use std::collections::BTreeMap;

/// The periods the dashboard offers: key, label, length and bar width (ms).
const PERIODS: &[(&str, &str, i64, i64)] = &[
    ("24h", "24 hours", 86_400_000, 3_600_000),
    ("7d", "7 days", 7 * 86_400_000, 86_400_000 / 4),
    ("30d", "30 days", 30 * 86_400_000, 86_400_000),
];

/// One bar of the chart (SVG attributes: the CSP allows no inline style).
struct Bar {
    kind: String,
    x: i64,
    y: i64,
    width: i64,
    height: i64,
    label: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    nav: Nav,
    periods: Vec<(&'static str, &'static str)>,
    period: String,
    per_kind: Vec<(String, i64)>,
    per_action: Vec<(String, i64)>,
    total: i64,
    high_impact: u8,
    incidents: Vec<IncidentRow>,
    bars: Vec<Bar>,
    chart_width: i64,
    bucket_label: &'static str,
    peak: i64,
    top_hosts: Vec<TopHost>,
    top_tools: Vec<(String, String, i64)>,
    rows: Vec<Row>,
}

/// `GET /?period=24h|7d|30d`.
pub async fn dashboard(
    State(app): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let chosen = q.get("period").map(String::as_str).unwrap_or("24h");
    let &(key, _, length, bucket) = PERIODS
        .iter()
        .find(|p| p.0 == chosen)
        .unwrap_or(&PERIODS[0]);
    let now = chrono::Utc::now().timestamp_millis();
    // Buckets aligned to their width, so bars stay put between reloads.
    let since = (now - length) / bucket * bucket;
    let overview = match app.store.overview(user.account_id, since, bucket, 10).await {
        Ok(o) => o,
        Err(e) => return unavailable(e),
    };
    let latest = EventFilter {
        after_ms: Some(since),
        min_impact: Some(i64::from(HIGH_IMPACT)),
        limit: 10,
        ..EventFilter::default()
    };
    let rows = match app.store.list_events(user.account_id, &latest).await {
        Ok(l) => l.iter().map(Row::of).collect(),
        Err(e) => return unavailable(e),
    };
    let recent = IncidentFilter {
        after_ms: Some(since),
        limit: 10,
        ..IncidentFilter::default()
    };
    let incidents = match app.store.list_incidents(user.account_id, &recent).await {
        Ok(l) => l.iter().map(IncidentRow::of).collect(),
        Err(e) => return unavailable(e),
    };
    // Stacked bars: one column per bucket, 10 units wide, 110 high at the peak.
    let mut columns: BTreeMap<i64, Vec<(String, i64)>> = BTreeMap::new();
    for (start, kind, n) in &overview.per_bucket {
        columns.entry(*start).or_default().push((kind.clone(), *n));
    }
    let peak = columns
        .values()
        .map(|c| c.iter().map(|(_, n)| n).sum::<i64>())
        .max()
        .unwrap_or(0);
    let count = (now - since) / bucket + 1;
    let mut bars = Vec::new();
    for (start, stack) in &columns {
        let x = (start - since) / bucket * 10;
        let mut y = 115;
        for (kind, n) in stack {
            let height = (n * 110 / peak.max(1)).max(1);
            y -= height;
            bars.push(Bar {
                kind: kind.clone(),
                x,
                y,
                width: 8,
                height,
                label: format!(
                    "{} {kind} from {}",
                    n,
                    pushdetect_model::Timestamp::from_millis(*start)
                        .0
                        .format("%Y-%m-%d %H:%M UTC")
                ),
            });
        }
    }
    let page = DashboardPage {
        nav: user.nav(),
        periods: PERIODS.iter().map(|p| (p.0, p.1)).collect(),
        period: key.to_owned(),
        total: overview.per_kind.iter().map(|(_, n)| n).sum(),
        per_kind: overview.per_kind,
        per_action: overview.per_action,
        high_impact: HIGH_IMPACT,
        incidents,
        bars,
        chart_width: count * 10,
        bucket_label: match key {
            "24h" => "hour",
            "7d" => "6 hours",
            _ => "day",
        },
        peak,
        top_hosts: overview.top_hosts,
        top_tools: overview.top_tools,
        rows,
    };
    render(&page)
}

#[derive(Template)]
#[template(path = "host.html")]
struct HostPage {
    nav: Nav,
    host: String,
    kind: &'static str,
    /// Every identifier of the machine: (identifier, its kind, first seen, last seen).
    identifiers: Vec<(String, &'static str, String, String)>,
    incidents: Vec<IncidentRow>,
    rows: Vec<Row>,
}

/// `GET /hosts/{host}`: the host entity of this identifier, with all its identifiers, its
/// latest 50 incidents and 200 events.
pub async fn host(
    State(app): State<AppState>,
    user: ConsoleUser,
    Path(host): Path<String>,
) -> Response {
    let entity = match app
        .store
        .host_entity(user.account_id, &host.trim().to_lowercase())
        .await
    {
        Ok(entity) => entity,
        Err(e) => return unavailable(e),
    };
    let host = entity.key;
    let identifiers = entity
        .identifiers
        .into_iter()
        .map(|i| {
            let kind = HostKind::of(&i.identifier).as_str();
            (
                i.identifier,
                kind,
                time(i.first_seen_ms),
                time(i.last_seen_ms),
            )
        })
        .collect();
    let filter = EventFilter {
        host: Some(host.clone()),
        limit: 200,
        ..EventFilter::default()
    };
    let rows = match app.store.list_events(user.account_id, &filter).await {
        Ok(l) => l.iter().map(Row::of).collect(),
        Err(e) => return unavailable(e),
    };
    let of_host = IncidentFilter {
        host: Some(host.clone()),
        limit: 50,
        ..IncidentFilter::default()
    };
    let incidents = match app.store.list_incidents(user.account_id, &of_host).await {
        Ok(l) => l.iter().map(IncidentRow::of).collect(),
        Err(e) => return unavailable(e),
    };
    render(&HostPage {
        nav: user.nav(),
        kind: HostKind::of(&host).as_str(),
        identifiers,
        host,
        incidents,
        rows,
    })
}
