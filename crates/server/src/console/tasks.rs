//! The analysis tasks: the account's list, newest submission first, with their subject,
//! state, score and matched rules; and one task's page.

use super::page::{cut_page, pairs, refused, render, severity, task_state, time, unavailable};
use super::session::{ConsoleUser, Nav};
use crate::analyst::outcome::Outcome;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use pushdetect_store::{Task, TaskFilter, TaskKind, TaskState};

/// Tasks per page.
const PAGE: u32 = 50;

/// One task as the list shows it.
pub struct TaskRow {
    uuid: String,
    kind: &'static str,
    state: &'static str,
    subject: String,
    score: String,
    severity: &'static str,
    rules: String,
    submitted: String,
}

/// What a task analysed: the file name, URL or hash it was given.
pub fn subject_of(t: &Task) -> String {
    t.filename
        .clone()
        .or_else(|| t.url.clone())
        .or_else(|| t.sha256.clone())
        .unwrap_or_else(|| "(analysed elsewhere)".to_owned())
}

impl TaskRow {
    fn of(t: &Task) -> TaskRow {
        let rules = Outcome::of(t).rules().join(", ");
        TaskRow {
            uuid: t.uuid.clone(),
            kind: t.kind.as_str(),
            state: t.state.as_str(),
            subject: subject_of(t),
            score: t.score.map_or("–".to_owned(), |s| s.to_string()),
            severity: severity(t.score),
            rules,
            submitted: time(t.created_at_ms),
        }
    }
}

/// The task list's filters as typed.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct TaskForm {
    state: String,
    kind: String,
    cursor: String,
}

#[derive(Template)]
#[template(path = "tasks.html")]
struct TasksPage {
    nav: Nav,
    filter: TaskForm,
    states: &'static [&'static str],
    kinds: &'static [&'static str],
    error: Option<String>,
    tasks: Vec<TaskRow>,
    next_page: Option<String>,
}

fn parse(form: &TaskForm) -> Result<TaskFilter, String> {
    let state = match form.state.trim() {
        "" => None,
        s => Some(TaskState::from_name(s).ok_or_else(|| {
            format!("'state' must be one of queued, running, completed, not '{s}'")
        })?),
    };
    let kind = match form.kind.trim() {
        "" => None,
        k => Some(
            TaskKind::from_name(k)
                .ok_or_else(|| format!("'kind' must be one of file, url, external, not '{k}'"))?,
        ),
    };
    let cursor = match form.cursor.trim() {
        "" => None,
        c => Some(
            c.split_once('.')
                .and_then(|(at, uuid)| Some((at.parse().ok()?, uuid.to_owned())))
                .ok_or("'cursor' is not a page of this list")?,
        ),
    };
    Ok(TaskFilter {
        state,
        kind,
        cursor,
        limit: PAGE + 1,
    })
}

/// `GET /tasks?state=&kind=&cursor=`.
pub async fn list(
    State(app): State<AppState>,
    user: ConsoleUser,
    Query(form): Query<TaskForm>,
) -> Response {
    let mut page = TasksPage {
        nav: user.nav(),
        filter: form.clone(),
        states: &["queued", "running", "completed"],
        kinds: &["file", "url", "external"],
        error: None,
        tasks: Vec::new(),
        next_page: None,
    };
    let filter = match parse(&form) {
        Ok(f) => f,
        Err(e) => {
            page.error = Some(e);
            return refused(&page);
        }
    };
    let mut list = match app.store.list_tasks(user.account_id, &filter).await {
        Ok(l) => l,
        Err(e) => return unavailable(e),
    };
    page.next_page = cut_page(&mut list, PAGE, |last| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("state", form.state.trim())
            .append_pair("kind", form.kind.trim())
            .append_pair("cursor", &format!("{}.{}", last.created_at_ms, last.uuid))
            .finish()
    });
    page.tasks = list.iter().map(TaskRow::of).collect();
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
    /// The event the page was opened from and the name it gives the subject.
    seen_as: Option<(i64, String)>,
    findings: Vec<(String, String, String, String)>,
}

/// The name an event gives the subject of task `uuid`: a download's file name, or the
/// file name (or URL) of the mail attachment or link that names the task. Several
/// events may send one file under different names; the first submitter's is the task's.
fn name_in_event(event: &pushdetect_store::StoredEvent, uuid: &str) -> Option<String> {
    fn search(v: &serde_json::Value, uuid: &str) -> Option<String> {
        match v {
            serde_json::Value::Object(m) => {
                let names_task = m
                    .get("task_uuid")
                    .and_then(|t| t.as_str())
                    .is_some_and(|t| t.eq_ignore_ascii_case(uuid));
                let name = m
                    .get("filename")
                    .or_else(|| m.get("url"))
                    .and_then(|n| n.as_str());
                match (names_task, name) {
                    (true, Some(name)) => Some(name.to_owned()),
                    _ => m.values().find_map(|v| search(v, uuid)),
                }
            }
            serde_json::Value::Array(items) => items.iter().find_map(|v| search(v, uuid)),
            _ => None,
        }
    }
    search(&event.raw_params, uuid).or_else(|| search(&event.fields, uuid))
}

/// `GET /tasks/{uuid}`: a task of the account (another account's is "not found"). Come
/// from an event (`?event=ID`), it also shows the name that event gives the subject.
pub async fn task(
    State(app): State<AppState>,
    user: ConsoleUser,
    Path(uuid): Path<String>,
    axum::extract::Query(query): axum::extract::Query<std::collections::BTreeMap<String, String>>,
) -> Response {
    let t = match app.store.find_task(&uuid.to_ascii_lowercase()).await {
        Ok(Some(t)) if t.account_id == user.account_id => t,
        Ok(_) => {
            return super::page::not_found(
                user.nav(),
                "There is no task with this id in your account.",
            )
        }
        Err(e) => return unavailable(e),
    };
    let seen_as = match query.get("event").and_then(|id| id.parse::<i64>().ok()) {
        Some(id) => match app.store.get_event(user.account_id, id).await {
            Ok(Some(e)) => name_in_event(&e, &t.uuid).map(|name| (id, name)),
            Ok(None) => None,
            Err(e) => return unavailable(e),
        },
        None => None,
    };
    let outcome = Outcome::of(&t);
    let findings = outcome
        .findings
        .iter()
        .map(|f| {
            (
                f.rule.clone(),
                f.score.to_string(),
                f.description.clone(),
                f.path.clone().unwrap_or_default(),
            )
        })
        .collect();
    let page = TaskPage {
        nav: user.nav(),
        uuid: t.uuid.clone(),
        kind: format!("{:?}", t.kind).to_lowercase(),
        state: task_state(&t),
        score: t.score.map_or("-".into(), |s| s.to_string()),
        submitted: time(t.created_at_ms),
        completed: t.completed_at_ms.map(time).unwrap_or_else(|| "-".into()),
        subject: pairs(&outcome.analysis_subject),
        seen_as,
        findings,
    };
    render(&page)
}
