//! An event's page: what was pushed, as parsed and as received, and its analyses.

use super::page::{pairs, render, severity, task_state, time, unavailable};
use super::session::{ConsoleUser, Nav};
use crate::analyst::outcome::Outcome;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use pushdetect_store::Principal;

/// An analysis task as the event page lists it.
pub struct TaskLine {
    uuid: String,
    state: String,
    score: String,
    subject: String,
    activity: String,
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
    /// The incidents it belongs to: (id, what they group by, status).
    incidents: Vec<(i64, String, String)>,
    tasks: Vec<TaskLine>,
    fields: Vec<(String, String)>,
    raw: Vec<(String, String)>,
}

/// `GET /events/{id}`.
pub async fn event(
    State(app): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return super::page::not_found(
            user.nav(),
            "There is no event with this id in your account.",
        );
    };
    let e = match app.store.get_event(user.account_id, id).await {
        Ok(Some(e)) => e,
        Ok(None) => {
            return super::page::not_found(
                user.nav(),
                "There is no event with this id in your account.",
            )
        }
        Err(e) => return unavailable(e),
    };
    let uuids = &e.task_uuids;
    // The account's own tasks among them, in one query.
    let known = match app.store.known_tasks(user.account_id, uuids).await {
        Ok(known) => known,
        Err(e) => return unavailable(e),
    };
    let mut tasks = Vec::new();
    for t in uuids
        .iter()
        .filter_map(|u| known.iter().find(|t| &t.uuid == u))
    {
        let outcome = Outcome::of(t);
        tasks.push(TaskLine {
            uuid: t.uuid.clone(),
            state: task_state(t),
            score: t.score.map_or("-".into(), |s| s.to_string()),
            subject: outcome.subject_name().to_owned(),
            activity: outcome.malicious_activity.join("; "),
        });
    }
    let incidents = match app.store.event_incidents(user.account_id, e.id).await {
        Ok(list) => list
            .iter()
            .map(|i| (i.id, i.host.clone(), i.workflow.status.to_string()))
            .collect(),
        Err(e) => return unavailable(e),
    };
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
        incidents,
        tasks,
        fields: pairs(&e.fields),
        raw: pairs(&e.raw_params),
    };
    render(&page)
}
