//! Incidents in the console: the list (latest activity first, with the workflow's
//! columns, filters and bulk actions) and one incident with its events, oldest first, its
//! workflow form, comments and history. Workflow forms are for analysts and admins (a
//! viewer's answer 403), each with its CSRF token; the rules are the model's, applied by
//! the store (see `pushdetect_model::workflow`).

use super::audit::AuditRow;
use super::events::Row;
use super::page::{cut_page, refused, render, severity, time, unavailable};
use super::session;
use super::session::{ConsoleUser, Nav};
use crate::client_addr::ClientAddr;
use crate::list_filters as filters;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pushdetect_model::grouping::GroupBy;
use pushdetect_model::triage::HostKind;
use pushdetect_model::workflow::{Change, Note, MAX_COMMENT_CHARS, MAX_REASON_CHARS};
use pushdetect_store::{
    AssigneeFilter, CommentChange, EventFilter, EventOrder, Incident, IncidentFilter, Resolution,
    Status, StoreError,
};
use std::collections::BTreeMap;

/// Incidents per page.
const PAGE: u32 = 50;

/// One incident as the tables show it.
pub struct IncidentRow {
    pub(super) id: i64,
    pub(super) status: &'static str,
    pub(super) resolution: &'static str,
    pub(super) reason: String,
    pub(super) assignee: String,
    pub(super) host: String,
    /// For a host entity its kind (address, name, mailbox), else the grouping rule.
    pub(super) kind: &'static str,
    /// Grouped by host: its key links to the host's page.
    pub(super) by_host: bool,
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
            status: i.workflow.status.as_str(),
            resolution: i.workflow.resolution.map_or("", |r| r.as_str()),
            reason: i.workflow.reason.clone().unwrap_or_default(),
            assignee: i.assignee_name.clone().unwrap_or_default(),
            host: i.host.clone(),
            kind: match i.grouped_by {
                GroupBy::Host => HostKind::of(&i.host).as_str(),
                other => other.as_str(),
            },
            by_host: i.grouped_by == GroupBy::Host,
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
    status: String,
    resolution: String,
    /// `me`, `nobody`, or empty for anyone.
    assignee: String,
    /// `1` for unread only.
    unread: String,
    cursor: String,
}

impl IncidentForm {
    /// The filters as a query string (without the cursor), for the next page's link.
    fn query(&self) -> url::form_urlencoded::Serializer<'static, String> {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("host", self.host.trim())
            .append_pair("min_impact", self.min_impact.trim())
            .append_pair("status", self.status.trim())
            .append_pair("resolution", self.resolution.trim())
            .append_pair("assignee", self.assignee.trim())
            .append_pair("unread", self.unread.trim());
        q
    }
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentsPage {
    nav: Nav,
    /// Whether the workflow forms are offered.
    may_act: bool,
    statuses: &'static [&'static str],
    resolutions: &'static [&'static str],
    notice: Option<String>,
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
        may_act: user.role.may_change_incidents(),
        statuses: Status::ALLOWED,
        resolutions: Resolution::ALLOWED,
        notice: None,
        filter: form.clone(),
        error: None,
        incidents: Vec::new(),
        next_page: None,
    };
    let parsed = (|| -> Result<IncidentFilter, filters::Refused> {
        Ok(IncidentFilter {
            host: filters::optional("host", &form.host, filters::host)?,
            min_impact: filters::optional("min_impact", &form.min_impact, filters::impact)?,
            status: filters::optional(
                "status",
                &form.status,
                filters::one_of(Status::parse, Status::ALLOWED),
            )?,
            resolution: filters::optional(
                "resolution",
                &form.resolution,
                filters::one_of(Resolution::parse, Resolution::ALLOWED),
            )?,
            assignee: match form.assignee.trim() {
                "" => None,
                "me" => Some(AssigneeFilter::User(user.user_id)),
                "nobody" => Some(AssigneeFilter::Nobody),
                other => {
                    return Err(filters::refuse("assignee", other, "me, nobody or empty"));
                }
            },
            unread_by: (form.unread.trim() == "1").then_some(user.user_id),
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
        form.query()
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
    may_act: bool,
    statuses: &'static [&'static str],
    resolutions: &'static [&'static str],
    /// Users who may be assigned: (user name, selected).
    assignees: Vec<(String, bool)>,
    notice: Option<String>,
    error: Option<String>,
    incident: IncidentRow,
    merged_into: Option<i64>,
    rows: Vec<Row>,
    comments: Vec<CommentRow>,
    history: Vec<AuditRow>,
}

/// A comment as the page shows it.
pub struct CommentRow {
    id: i64,
    author: String,
    at: String,
    edited: Option<String>,
    body: String,
    redacted: bool,
}

/// `GET /incidents/{id}`: an incident of the account and its events (another account's is
/// "not found").
pub async fn detail(
    State(app): State<AppState>,
    mut user: ConsoleUser,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return not_found(&user);
    };
    if let Err(e) = app.store.mark_read(user.account_id, id, user.user_id).await {
        return unavailable(e);
    }
    // The navigation's count, now that this one is read.
    match app.store.unread_count(user.account_id, user.user_id).await {
        Ok(n) => user.unread = n,
        Err(e) => return unavailable(e),
    }
    match incident_page(&app, &user, id).await {
        Ok(Some(page)) => render(&page),
        Ok(None) => not_found(&user),
        Err(e) => unavailable(e),
    }
}

fn not_found(user: &ConsoleUser) -> Response {
    super::page::not_found(
        user.nav(),
        "There is no incident with this id in your account.",
    )
}

fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        "403 Forbidden: your role may read incidents but not change them",
    )
        .into_response()
}

/// The page of incident `id` of the user's account, if it is one.
async fn incident_page(
    app: &AppState,
    user: &ConsoleUser,
    id: i64,
) -> Result<Option<IncidentPage>, StoreError> {
    let Some(incident) = app.store.get_incident(user.account_id, id).await? else {
        return Ok(None);
    };
    let filter = EventFilter {
        incident_id: Some(id),
        order: EventOrder::Oldest,
        limit: 1000,
        ..EventFilter::default()
    };
    let rows = app
        .store
        .list_events(user.account_id, &filter)
        .await?
        .iter()
        .map(Row::of)
        .collect();
    let assignees = app
        .store
        .list_users(Some(user.account_id))
        .await?
        .into_iter()
        .filter(|u| !u.disabled && u.role.may_change_incidents())
        .map(|u| {
            let selected = Some(u.id) == incident.workflow.assignee;
            (u.username, selected)
        })
        .collect();
    let comments = app
        .store
        .list_comments(user.account_id, id)
        .await?
        .into_iter()
        .map(|c| CommentRow {
            id: c.id,
            author: c.author_label,
            at: time(c.created_at_ms),
            edited: c.edited_at_ms.map(time),
            body: c.body,
            redacted: c.redacted,
        })
        .collect();
    let history = app
        .store
        .incident_history(user.account_id, id)
        .await?
        .iter()
        .map(AuditRow::of)
        .collect();
    Ok(Some(IncidentPage {
        nav: user.nav(),
        may_act: user.role.may_change_incidents() && incident.merged_into.is_none(),
        statuses: Status::ALLOWED,
        resolutions: Resolution::ALLOWED,
        assignees,
        notice: None,
        error: None,
        merged_into: incident.merged_into,
        incident: IncidentRow::of(&incident),
        rows,
        comments,
        history,
    }))
}

/// A submitted field, trimmed ("" when absent).
fn field<'a>(form: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    form.get(name).map(|v| v.trim()).unwrap_or("")
}

/// The assignee a form names: a user name of the account, or empty for nobody.
async fn assignee_of(
    app: &AppState,
    user: &ConsoleUser,
    name: &str,
) -> Result<Result<Option<i64>, String>, StoreError> {
    if name.is_empty() {
        return Ok(Ok(None));
    }
    Ok(app
        .store
        .find_user(name)
        .await?
        .filter(|u| u.account_id == user.account_id)
        .map(|u| Some(u.id))
        .ok_or_else(|| format!("'assignee' must be a user of this account, not '{name}'")))
}

/// The change a workflow form asks for: each field given, or "" for unchanged (the
/// assignee field is always given: empty is nobody).
async fn change_of(
    app: &AppState,
    user: &ConsoleUser,
    form: &BTreeMap<String, String>,
) -> Result<Result<Change, String>, StoreError> {
    let refused = |e: pushdetect_model::ApiError| e.message;
    let parsed = (|| -> Result<Change, String> {
        let opt = |name: &str| Some(field(form, name)).filter(|v| !v.is_empty());
        Ok(Change {
            status: opt("status")
                .map(|v| Status::parse("status", v))
                .transpose()
                .map_err(refused)?,
            resolution: opt("resolution")
                .map(|v| Resolution::parse("resolution", v))
                .transpose()
                .map_err(refused)?,
            reason: opt("reason")
                .map(|v| Note::parse("reason", v, MAX_REASON_CHARS))
                .transpose()
                .map_err(refused)?,
            assignee: None,
        })
    })();
    let mut change = match parsed {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    if form.contains_key("assignee") {
        match assignee_of(app, user, field(form, "assignee")).await? {
            Ok(a) => change.assignee = Some(a),
            Err(e) => return Ok(Err(e)),
        }
    }
    Ok(Ok(change))
}

/// `POST /incidents/{id}`: a workflow change (status, resolution, reason, assignee) or a
/// comment (`op=comment`, `op=edit_comment`, `op=redact_comment`).
pub async fn change(
    State(app): State<AppState>,
    user: ConsoleUser,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> Response {
    if !session::csrf_ok(&headers, field(&form, "csrf")) {
        return session::csrf_refused();
    }
    if !user.role.may_change_incidents() {
        return forbidden();
    }
    let Ok(id) = id.parse::<i64>() else {
        return not_found(&user);
    };
    let by = user.actor(Some(address.to_string()));
    let now = chrono::Utc::now().timestamp_millis();
    let comment_id = field(&form, "comment_id").parse::<i64>().unwrap_or(-1);
    let result = match field(&form, "op") {
        "comment" | "edit_comment" | "redact_comment" => {
            let body = Note::parse("comment", field(&form, "comment"), MAX_COMMENT_CHARS);
            let change = match (field(&form, "op"), &body) {
                ("redact_comment", _) => Ok(CommentChange::Redact { comment_id }),
                ("comment", Ok(b)) => Ok(CommentChange::Add {
                    incident_id: id,
                    body: b.as_str(),
                }),
                (_, Ok(b)) => Ok(CommentChange::Edit {
                    comment_id,
                    body: b.as_str(),
                }),
                (_, Err(e)) => Err(e.message.clone()),
            };
            match change {
                Ok(c) => app
                    .store
                    .comment(user.account_id, &c, user.is_admin(), &by, now)
                    .await
                    .map(|_| "Comment saved.".to_owned()),
                Err(e) => Err(StoreError::Refused(pushdetect_model::ApiError::invalid(
                    "comment", &e,
                ))),
            }
        }
        _ => match change_of(&app, &user, &form).await {
            Ok(Ok(change)) => app
                .store
                .update_incident(user.account_id, id, &change, &by, now)
                .await
                .map(|_| "Incident updated.".to_owned()),
            Ok(Err(e)) => Err(StoreError::Refused(pushdetect_model::ApiError::invalid(
                "form", &e,
            ))),
            Err(e) => Err(e),
        },
    };
    let (notice, error) = match result {
        Ok(n) => (Some(n), None),
        Err(StoreError::Refused(e)) => (None, Some(e.message)),
        Err(StoreError::NotFound(_)) => return not_found(&user),
        Err(e) => return unavailable(e),
    };
    match incident_page(&app, &user, id).await {
        Ok(Some(mut page)) => {
            let failed = error.is_some();
            page.notice = notice;
            page.error = error;
            if failed {
                refused(&page)
            } else {
                render(&page)
            }
        }
        Ok(None) => not_found(&user),
        Err(e) => unavailable(e),
    }
}

/// `POST /incidents/bulk`: one action on the selected incidents (`id` repeated):
/// acknowledge, assign to me, close with a resolution, or merge into the first selected.
pub async fn bulk(
    State(app): State<AppState>,
    user: ConsoleUser,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    let get = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    };
    if !session::csrf_ok(&headers, get("csrf")) {
        return session::csrf_refused();
    }
    if !user.role.may_change_incidents() {
        return forbidden();
    }
    let ids: Vec<i64> = form
        .iter()
        .filter(|(k, _)| k == "id")
        .filter_map(|(_, v)| v.trim().parse().ok())
        .take(pushdetect_model::workflow::MAX_MERGE + 1)
        .collect();
    let by = user.actor(Some(address.to_string()));
    let now = chrono::Utc::now().timestamp_millis();
    let action = get("action");
    let change = match action {
        "acknowledge" => Some(Change {
            status: Some(Status::Acknowledged),
            ..Change::default()
        }),
        "assign_me" => Some(Change {
            assignee: Some(Some(user.user_id)),
            ..Change::default()
        }),
        _ => match action.strip_prefix("close_") {
            Some(r) => match Resolution::parse("action", r) {
                Ok(r) => Some(Change {
                    status: Some(Status::Closed),
                    resolution: Some(r),
                    ..Change::default()
                }),
                Err(_) => None,
            },
            None => None,
        },
    };
    let mut done = 0;
    let mut errors = Vec::new();
    if ids.is_empty() {
        errors.push("select at least one incident".to_owned());
    } else if let Some(change) = change {
        for id in &ids {
            match app
                .store
                .update_incident(user.account_id, *id, &change, &by, now)
                .await
            {
                Ok(_) => done += 1,
                Err(StoreError::Refused(e)) => errors.push(format!("incident {id}: {}", e.message)),
                Err(StoreError::NotFound(_)) => errors.push(format!("incident {id}: not found")),
                Err(e) => return unavailable(e),
            }
        }
    } else if action == "merge" {
        match app
            .store
            .merge_incidents(user.account_id, ids[0], &ids[1..], &by, now)
            .await
        {
            Ok(_) => done = ids.len(),
            Err(StoreError::Refused(e)) => errors.push(e.message),
            Err(StoreError::NotFound(what)) => errors.push(format!("{what}: not found")),
            Err(e) => return unavailable(e),
        }
    } else {
        errors.push(format!(
            "'action' must be acknowledge, assign_me, close_RESOLUTION or merge, not '{action}'"
        ));
    }
    let mut page = IncidentsPage {
        nav: user.nav(),
        may_act: true,
        statuses: Status::ALLOWED,
        resolutions: Resolution::ALLOWED,
        notice: (done > 0).then(|| format!("{action}: {done} incident(s) changed.")),
        filter: IncidentForm::default(),
        error: (!errors.is_empty()).then(|| errors.join("; ")),
        incidents: Vec::new(),
        next_page: None,
    };
    let filter = IncidentFilter {
        limit: PAGE + 1,
        ..IncidentFilter::default()
    };
    let mut list = match app.store.list_incidents(user.account_id, &filter).await {
        Ok(l) => l,
        Err(e) => return unavailable(e),
    };
    page.next_page = cut_page(&mut list, PAGE, |last| {
        page.filter
            .query()
            .append_pair("cursor", &format!("{}.{}", last.last_ms, last.id))
            .finish()
    });
    page.incidents = list.iter().map(IncidentRow::of).collect();
    if page.error.is_some() {
        refused(&page)
    } else {
        render(&page)
    }
}
