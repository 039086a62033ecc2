//! Incidents in the console: the list (latest activity first) and one incident with its
//! events, oldest first.

use super::events::Row;
use super::page::{cut_page, refused, render, severity, time, unavailable};
use super::session::{ConsoleUser, Nav};
use crate::list_filters as filters;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pushdetect_model::triage::HostKind;
use pushdetect_store::{EventFilter, EventOrder, Incident, IncidentFilter};

/// Incidents per page.
const PAGE: u32 = 50;

/// One incident as the tables show it.
pub struct IncidentRow {
    pub(super) id: i64,
    pub(super) host: String,
    pub(super) kind: &'static str,
    pub(super) impact: String,
    pub(super) severity: &'static str,
    pub(super) events: i64,
    pub(super) first: String,
    pub(super) last: String,
}

impl IncidentRow {
    /// The row of a stored incident.
    pub fn of(i: &Incident) -> IncidentRow {
        IncidentRow {
            id: i.id,
            host: i.host.clone(),
            kind: HostKind::of(&i.host).as_str(),
            impact: i.impact.map_or("–".to_owned(), |v| v.to_string()),
            severity: severity(i.impact),
            events: i.events,
            first: time(i.first_ms),
            last: time(i.last_ms),
        }
    }
}

/// The incident list's filters as typed.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct IncidentForm {
    host: String,
    min_impact: String,
    cursor: String,
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentsPage {
    nav: Nav,
    filter: IncidentForm,
    error: Option<String>,
    incidents: Vec<IncidentRow>,
    next_page: Option<String>,
}

/// `GET /incidents?host=&min_impact=&cursor=`.
pub async fn list(
    State(app): State<AppState>,
    user: ConsoleUser,
    Query(form): Query<IncidentForm>,
) -> Response {
    let mut page = IncidentsPage {
        nav: user.nav(),
        filter: form.clone(),
        error: None,
        incidents: Vec::new(),
        next_page: None,
    };
    let parsed = (|| -> Result<IncidentFilter, filters::Refused> {
        Ok(IncidentFilter {
            host: filters::optional("host", &form.host, filters::host)?,
            min_impact: filters::optional("min_impact", &form.min_impact, filters::impact)?,
            cursor: filters::optional("cursor", &form.cursor, filters::parse_pair_cursor)?,
            limit: PAGE + 1,
            ..IncidentFilter::default()
        })
    })();
    let filter = match parsed {
        Ok(f) => f,
        Err(e) => {
            page.error = Some(e.sentence());
            return refused(&page);
        }
    };
    let mut list = match app.store.list_incidents(user.account_id, &filter).await {
        Ok(l) => l,
        Err(e) => return unavailable(e),
    };
    page.next_page = cut_page(&mut list, PAGE, |last| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("host", form.host.trim())
            .append_pair("min_impact", form.min_impact.trim())
            .append_pair("cursor", &format!("{}.{}", last.last_ms, last.id))
            .finish()
    });
    page.incidents = list.iter().map(IncidentRow::of).collect();
    render(&page)
}

#[derive(Template)]
#[template(path = "incident.html")]
struct IncidentPage {
    nav: Nav,
    incident: IncidentRow,
    rows: Vec<Row>,
}

/// `GET /incidents/{id}`: an incident of the account and its events (another account's is
/// "not found").
pub async fn detail(
    State(app): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "404: no such incident").into_response();
    let Ok(id) = id.parse::<i64>() else {
        return not_found();
    };
    let incident = match app.store.get_incident(user.account_id, id).await {
        Ok(Some(i)) => i,
        Ok(None) => return not_found(),
        Err(e) => return unavailable(e),
    };
    let filter = EventFilter {
        incident_id: Some(id),
        order: EventOrder::Oldest,
        limit: 1000,
        ..EventFilter::default()
    };
    let rows = match app.store.list_events(user.account_id, &filter).await {
        Ok(l) => l.iter().map(Row::of).collect(),
        Err(e) => return unavailable(e),
    };
    render(&IncidentPage {
        nav: user.nav(),
        incident: IncidentRow::of(&incident),
        rows,
    })
}
