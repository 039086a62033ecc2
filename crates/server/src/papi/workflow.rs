//! The read API's incident workflow: `incident/update`, `incident/comment`,
//! `incident/merge`, `incident/split`, `incident/history` and `audit/list`. Every call is
//! scoped to the caller's account (another account's ids answer as unknown), checked
//! against the caller's role, and recorded in the audit trail with the caller's address.

use super::caller::Caller;
use super::events::incident_json;
use super::form::Form;
use super::reply::{Failure, Fmt, Reply};
use crate::client_addr::ClientAddr;
use crate::list_filters as filters;
use crate::state::AppState;
use axum::extract::State;
use pushdetect_model::params::ParamReader;
use pushdetect_model::values::{parse_bool, parse_id};
use pushdetect_model::workflow::{
    Change, Note, Resolution, Role, Status, MAX_COMMENT_CHARS, MAX_MERGE, MAX_REASON_CHARS,
    MAX_SPLIT,
};
use pushdetect_model::workflow_api::{
    parse_ids, AUDIT_LIST, INCIDENT_COMMENT, INCIDENT_HISTORY, INCIDENT_MERGE, INCIDENT_SPLIT,
    INCIDENT_UPDATE,
};
use pushdetect_model::{ApiError, ErrorCode, FormParams};
use pushdetect_store::external::time;
use pushdetect_store::{
    Actor, AuditFilter, AuditRecord, Comment, CommentChange, Principal, StoreError,
};
use serde_json::{json, Value};

/// Default and largest page of the audit trail.
const AUDIT_PAGE: (u32, u32) = (100, 1000);

pub(super) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// What the caller may do: a user's role as stored now (a change applies at once), an
/// analyst's powers for a license (scripts that triage), nothing for a user since removed.
pub async fn role_of(app: &AppState, caller: &Caller) -> Result<Role, Failure> {
    Ok(match caller.principal {
        Principal::License(_) => Role::Analyst,
        Principal::User(id) => app
            .store
            .find_user(&caller.label)
            .await?
            .filter(|u| u.id == id && !u.disabled)
            .map_or(Role::Viewer, |u| u.role),
    })
}

/// Refuses a caller whose role may not change incidents.
async fn may_change(app: &AppState, caller: &Caller, action: &str) -> Result<Role, Failure> {
    let role = role_of(app, caller).await?;
    if role.may_change_incidents() {
        Ok(role)
    } else {
        Err(role.refusal(action).into())
    }
}

/// Refuses a caller who is not an admin user of the account (a license never is), saying
/// what they may not do.
pub(super) async fn admin_only(
    app: &AppState,
    caller: &Caller,
    action: &str,
) -> Result<(), Failure> {
    let role = role_of(app, caller).await?;
    if matches!(caller.principal, Principal::User(_)) && role.may_administer() {
        Ok(())
    } else {
        Err(role.refusal(action).into())
    }
}

/// The caller as the audit trail records them.
pub(super) fn actor(caller: &Caller, address: ClientAddr) -> Actor {
    Actor {
        principal: Some(caller.principal),
        label: caller.label.clone(),
        address: Some(address.0.to_string()),
    }
}

/// An unknown incident, as every workflow call reports it.
fn unknown_incident(id: i64) -> Failure {
    ApiError::new(
        ErrorCode::UnknownIncident,
        format!("invalid value for parameter 'incident_id': no incident {id} in this account"),
    )
    .into()
}

/// A store failure of a call about incident `id`: NotFound names the incident.
fn store_failure(e: StoreError) -> Failure {
    match e {
        StoreError::NotFound(what) => match what.strip_prefix("incident ") {
            Some(id) => unknown_incident(id.parse().unwrap_or_default()),
            None => Failure::Unavailable(StoreError::NotFound(what)),
        },
        e => e.into(),
    }
}

/// The user an `assignee` parameter names: a user name of the caller's account, `me`
/// (the calling user), or `nobody` (`None`). `expected` is what a refusal says is wanted.
/// Shared by `incident/update` and the `assignee` filter of `incident/list`.
pub async fn named_assignee(
    app: &AppState,
    caller: &Caller,
    value: &str,
    expected: &str,
) -> Result<Option<i64>, Failure> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("nobody") {
        return Ok(None);
    }
    if value.eq_ignore_ascii_case("me") {
        return match caller.principal {
            Principal::User(id) => Ok(Some(id)),
            Principal::License(_) => Err(ApiError::invalid(
                "assignee",
                "a user name or 'nobody': 'me' is a user, and this session is a license's",
            )
            .into()),
        };
    }
    let user = app
        .store
        .find_user(value)
        .await?
        .filter(|u| u.account_id == caller.account_id);
    match user {
        Some(u) => Ok(Some(u.id)),
        None => Err(ApiError::invalid("assignee", expected).into()),
    }
}

/// `POST /papi/push_detection/incident/update`.
pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    address: ClientAddr,
    Fmt(format): Fmt,
    Form(params): Form,
) -> Reply {
    Reply::new(
        format,
        update_incident(&app, &caller, address, &params).await,
    )
}

async fn update_incident(
    app: &AppState,
    caller: &Caller,
    address: ClientAddr,
    params: &FormParams,
) -> Result<Value, Failure> {
    let r = ParamReader::new(&INCIDENT_UPDATE, params)?;
    let id = r.parse_req("incident_id", "the id of an incident", parse_id)?;
    let mut change = Change {
        status: r.parse_opt("status", Status::parse)?,
        resolution: r.parse_opt("resolution", Resolution::parse)?,
        reason: r.parse_opt("reason", |n, v| Note::parse(n, v, MAX_REASON_CHARS))?,
        assignee: None,
    };
    may_change(app, caller, "change incidents").await?;
    if let Some(value) = r.get("assignee") {
        let expected = "the user name of an analyst or admin of this account, 'me' or 'nobody'";
        change.assignee = Some(named_assignee(app, caller, value, expected).await?);
    }
    let incident = app
        .store
        .update_incident(
            caller.account_id,
            id,
            &change,
            &actor(caller, address),
            now_ms(),
        )
        .await
        .map_err(store_failure)?;
    Ok(incident_json(&incident))
}

/// `POST /papi/push_detection/incident/comment`.
pub async fn comment(
    State(app): State<AppState>,
    caller: Caller,
    address: ClientAddr,
    Fmt(format): Fmt,
    Form(params): Form,
) -> Reply {
    Reply::new(
        format,
        comment_incident(&app, &caller, address, &params).await,
    )
}

async fn comment_incident(
    app: &AppState,
    caller: &Caller,
    address: ClientAddr,
    params: &FormParams,
) -> Result<Value, Failure> {
    let r = ParamReader::new(&INCIDENT_COMMENT, params)?;
    let incident = r.parse_opt("incident_id", parse_id)?;
    let comment_id = r.parse_opt("comment_id", parse_id)?;
    let text = r.parse_opt("comment", |n, v| Note::parse(n, v, MAX_COMMENT_CHARS))?;
    let redact = r.parse_opt("redact", parse_bool)?.unwrap_or(false);
    let change = match (incident, comment_id, &text, redact) {
        (Some(incident_id), None, Some(body), false) => CommentChange::Add {
            incident_id,
            body: body.as_str(),
        },
        (None, Some(comment_id), Some(body), false) => CommentChange::Edit {
            comment_id,
            body: body.as_str(),
        },
        (None, Some(comment_id), None, true) => CommentChange::Redact { comment_id },
        (Some(_), Some(_), _, _) => {
            return Err(ApiError::conflict(
                "give incident_id (a new comment) or comment_id (edit or redact one), not both",
            )
            .into())
        }
        (_, _, Some(_), true) => {
            return Err(ApiError::conflict(
                "redact=True removes a comment's text: give it without 'comment'",
            )
            .into())
        }
        (None, None, _, _) => {
            return Err(ApiError::missing(
                "incident_id",
                "incident_id for a new comment, or comment_id to edit or redact one",
            )
            .into())
        }
        (Some(_), None, _, true) => {
            return Err(ApiError::missing("comment_id", "the id of the comment to redact").into())
        }
        (_, _, None, false) => {
            return Err(ApiError::missing(
                "comment",
                "the text of the comment (or redact=True with comment_id)",
            )
            .into())
        }
    };
    let role = may_change(app, caller, "comment on incidents").await?;
    let comment = app
        .store
        .comment(
            caller.account_id,
            &change,
            role.may_administer(),
            &actor(caller, address),
            now_ms(),
        )
        .await
        .map_err(store_failure)?;
    Ok(comment_json(&comment))
}

/// `POST /papi/push_detection/incident/merge`.
pub async fn merge(
    State(app): State<AppState>,
    caller: Caller,
    address: ClientAddr,
    Fmt(format): Fmt,
    Form(params): Form,
) -> Reply {
    Reply::new(
        format,
        merge_incidents(&app, &caller, address, &params).await,
    )
}

async fn merge_incidents(
    app: &AppState,
    caller: &Caller,
    address: ClientAddr,
    params: &FormParams,
) -> Result<Value, Failure> {
    let r = ParamReader::new(&INCIDENT_MERGE, params)?;
    let into = r.parse_req("incident_id", "the id of the incident that stays", parse_id)?;
    let others = r.parse_req("merge_ids", "the ids of the incidents to merge", |n, v| {
        parse_ids(n, v, MAX_MERGE)
    })?;
    may_change(app, caller, "merge incidents").await?;
    let survivor = app
        .store
        .merge_incidents(
            caller.account_id,
            into,
            &others,
            &actor(caller, address),
            now_ms(),
        )
        .await
        .map_err(store_failure)?;
    Ok(incident_json(&survivor))
}

/// `POST /papi/push_detection/incident/split`.
pub async fn split(
    State(app): State<AppState>,
    caller: Caller,
    address: ClientAddr,
    Fmt(format): Fmt,
    Form(params): Form,
) -> Reply {
    Reply::new(
        format,
        split_incident(&app, &caller, address, &params).await,
    )
}

async fn split_incident(
    app: &AppState,
    caller: &Caller,
    address: ClientAddr,
    params: &FormParams,
) -> Result<Value, Failure> {
    let r = ParamReader::new(&INCIDENT_SPLIT, params)?;
    let id = r.parse_req("incident_id", "the id of the incident to split", parse_id)?;
    let events = r.parse_req("event_ids", "the ids of the events to move", |n, v| {
        parse_ids(n, v, MAX_SPLIT)
    })?;
    may_change(app, caller, "split incidents").await?;
    let split = app
        .store
        .split_incident(
            caller.account_id,
            id,
            &events,
            &actor(caller, address),
            now_ms(),
        )
        .await
        .map_err(store_failure)?;
    Ok(incident_json(&split))
}

/// `GET /papi/push_detection/incident/history`.
pub async fn history(
    State(app): State<AppState>,
    caller: Caller,
    Fmt(format): Fmt,
    Form(params): Form,
) -> Reply {
    Reply::new(format, incident_history(&app, &caller, &params).await)
}

async fn incident_history(
    app: &AppState,
    caller: &Caller,
    params: &FormParams,
) -> Result<Value, Failure> {
    let r = ParamReader::new(&INCIDENT_HISTORY, params)?;
    let id = r.parse_req("incident_id", "the id of an incident", parse_id)?;
    if app
        .store
        .get_incident(caller.account_id, id)
        .await?
        .is_none()
    {
        return Err(unknown_incident(id));
    }
    let history = app.store.incident_history(caller.account_id, id).await?;
    let comments = app.store.list_comments(caller.account_id, id).await?;
    Ok(json!({
        "incident_id": id,
        "history": history.iter().map(audit_json).collect::<Vec<_>>(),
        "comments": comments.iter().map(comment_json).collect::<Vec<_>>(),
    }))
}

/// `GET /papi/audit/list`: for admin users of the account.
pub async fn audit(
    State(app): State<AppState>,
    caller: Caller,
    Fmt(format): Fmt,
    Form(params): Form,
) -> Reply {
    Reply::new(format, audit_list(&app, &caller, &params).await)
}

async fn audit_list(
    app: &AppState,
    caller: &Caller,
    params: &FormParams,
) -> Result<Value, Failure> {
    let r = ParamReader::new(&AUDIT_LIST, params)?;
    let limit = r
        .parse_opt("limit", |n, v| match v.trim().parse::<u32>() {
            Ok(l) if (1..=AUDIT_PAGE.1).contains(&l) => Ok(l),
            _ => Err(ApiError::invalid(n, "a page size from 1 to 1000")),
        })?
        .unwrap_or(AUDIT_PAGE.0);
    let api = |e: filters::Refused| ApiError::from(e);
    let filter = AuditFilter {
        account_id: Some(caller.account_id),
        action: r.parse_opt("action", pushdetect_model::workflow::AuditAction::parse)?,
        actor: r.get("actor").map(|a| a.trim().to_owned()),
        incident_id: r.parse_opt("incident_id", parse_id)?,
        after_ms: r.parse_opt("after", |n, v| filters::time(n, v).map_err(api))?,
        before_ms: r.parse_opt("before", |n, v| filters::time(n, v).map_err(api))?,
        before_id: r.parse_opt("cursor", |n, v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| ApiError::invalid(n, "the next_cursor of the previous page"))
        })?,
        limit: limit + 1,
    };
    admin_only(app, caller, "read the audit trail (admin users only)").await?;
    let mut records = app.store.list_audit(&filter).await?;
    let more = records.len() > limit as usize;
    records.truncate(limit as usize);
    let next_cursor = match (more, records.last()) {
        (true, Some(last)) => json!(last.id.to_string()),
        _ => Value::Null,
    };
    Ok(json!({
        "records": records.iter().map(audit_json).collect::<Vec<_>>(),
        "more_results_available": u8::from(more),
        "next_cursor": next_cursor,
    }))
}

/// The external form of an audit record.
pub fn audit_json(a: &AuditRecord) -> Value {
    json!({
        "audit_id": a.id,
        "at": time(a.at_ms),
        "actor": a.actor,
        "address": a.address,
        "action": a.action.as_str(),
        "target": a.target,
        "incident_id": a.incident_id,
        "before": a.old_value,
        "after": a.new_value,
    })
}

/// The external form of a comment.
pub fn comment_json(c: &Comment) -> Value {
    json!({
        "comment_id": c.id,
        "incident_id": c.incident_id,
        "author": c.author_label,
        "created_at": time(c.created_at_ms),
        "edited_at": c.edited_at_ms.map(time),
        "comment": c.body,
        "redacted": c.redacted,
    })
}
