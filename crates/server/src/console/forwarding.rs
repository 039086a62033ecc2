//! The forwarding page, for the admin users of an account: its destinations with their
//! outbox (waiting, dead-lettered, oldest), a form to add one (a webhook's signing key
//! shown once in the answer), and per destination a test send, enable or disable,
//! removal, and its dead letters with a re-send.

use super::admin::forbidden;
use super::page::{render, time, unavailable};
use super::session::{self, ConsoleUser, Nav};
use crate::client_addr::ClientAddr;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use pushdetect_forward::setup::{from_params, listed};
use pushdetect_model::forwarding::Filter;
use pushdetect_store::forwarding::{Delivery, Destination};
use pushdetect_store::{Actor, StoreError};
use std::collections::BTreeMap;

/// One destination as the page lists it.
struct Row {
    name: String,
    target: String,
    format: String,
    /// What it is sent, in words.
    sends: String,
    disabled: bool,
    pending: i64,
    dead: i64,
    oldest: String,
}

/// A dead-lettered delivery as the page lists it.
struct DeadRow {
    id: i64,
    what: String,
    attempts: i64,
    error: String,
    at: String,
}

#[derive(Template)]
#[template(path = "forwarding.html")]
struct ForwardingPage {
    nav: Nav,
    rows: Vec<Row>,
    /// The destination whose dead letters are shown, with them.
    dead: Option<(String, Vec<DeadRow>)>,
    notice: Option<String>,
    error: Option<String>,
    /// A webhook's signing key, shown once.
    key: Option<String>,
}

/// What a filter sends, in words.
fn sends(filter: &serde_json::Value) -> String {
    let Ok(f) = Filter::from_json(filter) else {
        return "?".into();
    };
    let mut parts = Vec::new();
    if f.events {
        let mut e = String::from("events");
        if !f.types.is_empty() {
            let t: Vec<&str> = f.types.iter().map(|t| t.as_str()).collect();
            e.push_str(&format!(" of type {}", t.join(", ")));
        }
        if let Some(m) = f.min_impact {
            e.push_str(&format!(", impact ≥ {m}"));
        }
        if !f.actions.is_empty() {
            let a: Vec<&str> = f.actions.iter().map(|a| a.as_str()).collect();
            e.push_str(&format!(", action {}", a.join(" or ")));
        }
        if !f.sensors.is_empty() {
            let s: Vec<String> = f.sensors.iter().map(i64::to_string).collect();
            e.push_str(&format!(", sensors {}", s.join(", ")));
        }
        parts.push(e);
    }
    if !f.incidents.is_empty() {
        let c: Vec<&str> = f.incidents.iter().map(|c| c.as_str()).collect();
        parts.push(format!("incidents: {}", c.join(", ")));
    }
    parts.join("; ")
}

fn dead_row(d: &Delivery) -> DeadRow {
    DeadRow {
        id: d.id,
        what: match (d.event_id, d.incident_id) {
            (Some(e), _) => format!("event {e}"),
            (None, Some(i)) => format!("incident {i} ({})", d.change),
            _ => d.change.clone(),
        },
        attempts: d.attempts,
        error: d.last_error.clone().unwrap_or_default(),
        at: d.dead_at_ms.map(time).unwrap_or_default(),
    }
}

async fn page(
    app: &AppState,
    user: &ConsoleUser,
    dead: Option<&str>,
) -> Result<ForwardingPage, StoreError> {
    let list = listed(app.store.as_ref(), user.account_id).await?;
    let rows = list
        .iter()
        .map(|(d, o)| {
            let o = o.as_ref();
            Row {
                name: d.name.clone(),
                target: d.target.clone(),
                format: d.format.clone(),
                sends: sends(&d.filter),
                disabled: d.disabled,
                pending: o.map_or(0, |o| o.pending),
                dead: o.map_or(0, |o| o.dead),
                oldest: o
                    .and_then(|o| o.oldest_pending_ms)
                    .map(time)
                    .unwrap_or_default(),
            }
        })
        .collect();
    let dead = match dead.and_then(|n| list.iter().map(|(d, _)| d).find(|d| d.name == n)) {
        Some(d) => Some((
            d.name.clone(),
            app.store
                .dead_letters(user.account_id, d.id, 200)
                .await?
                .iter()
                .map(dead_row)
                .collect(),
        )),
        None => None,
    };
    Ok(ForwardingPage {
        nav: user.nav(),
        rows,
        dead,
        notice: None,
        error: None,
        key: None,
    })
}

/// `GET /forwarding` (`?dead=NAME` lists that destination's dead letters).
pub async fn show(
    State(app): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if !user.is_admin() {
        return forbidden();
    }
    match page(&app, &user, q.get("dead").map(String::as_str)).await {
        Ok(p) => render(&p),
        Err(e) => unavailable(e),
    }
}

/// What a form did.
enum Outcome {
    Done(String),
    Key(String, String),
    Refused(String),
}

/// `POST /forwarding`: one change, named by the form's `op`.
pub async fn change(
    State(app): State<AppState>,
    user: ConsoleUser,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).map(|v| v.trim()).unwrap_or("");
    if !session::csrf_ok(&headers, field("csrf")) {
        return session::csrf_refused();
    }
    if !user.is_admin() {
        return forbidden();
    }
    let by = user.actor(Some(address.to_string()));
    let outcome = match apply(&app, &user, &form, &by).await {
        Ok(o) => o,
        Err(e) => return unavailable(e),
    };
    let shown = (field("op") == "dead" || field("op") == "resend").then(|| field("name"));
    let mut p = match page(&app, &user, shown).await {
        Ok(p) => p,
        Err(e) => return unavailable(e),
    };
    let status = match outcome {
        Outcome::Done(n) => {
            p.notice = Some(n);
            StatusCode::OK
        }
        Outcome::Key(n, key) => {
            p.notice = Some(format!(
                "{n}. Copy its signing key now: it is shown only once."
            ));
            p.key = Some(key);
            StatusCode::OK
        }
        Outcome::Refused(e) => {
            p.error = Some(e);
            StatusCode::BAD_REQUEST
        }
    };
    let mut r = render(&p);
    *r.status_mut() = status;
    r
}

async fn apply(
    app: &AppState,
    user: &ConsoleUser,
    form: &BTreeMap<String, String>,
    by: &Actor,
) -> Result<Outcome, StoreError> {
    let field = |name: &str| form.get(name).map(|v| v.trim()).unwrap_or("");
    let store = app.store.as_ref();
    let now = chrono::Utc::now().timestamp_millis();
    let op = field("op");
    if op == "add" {
        let get = |k: &str| Some(field(k).to_owned()).filter(|v| !v.is_empty());
        let created = match from_params(user.account_id, &get, now) {
            Ok(c) => c,
            Err(e) => return Ok(Outcome::Refused(e.message)),
        };
        let name = created.new.name.clone();
        return Ok(match store.create_destination(&created.new, by).await {
            Ok(_) => match created.signing_key {
                Some(key) => Outcome::Key(format!("Destination {name} added"), key),
                None => Outcome::Done(format!("Destination {name} added")),
            },
            Err(StoreError::Conflict(_)) => Outcome::Refused(format!(
                "'name': a destination named {name} exists; choose another name"
            )),
            Err(e) => return Err(e),
        });
    }
    let name = field("name");
    let Some(d): Option<Destination> = store.find_destination(user.account_id, name).await? else {
        return Ok(Outcome::Refused(format!(
            "'name': no destination named {name}"
        )));
    };
    Ok(match op {
        "disable" | "enable" => {
            store
                .set_destination_disabled(user.account_id, d.id, op == "disable", by)
                .await?;
            Outcome::Done(format!("Destination {name} {op}d"))
        }
        "remove" => {
            store.remove_destination(user.account_id, d.id, by).await?;
            Outcome::Done(format!("Destination {name} removed with its outbox"))
        }
        "dead" => Outcome::Done(format!("Dead letters of {name}")),
        "resend" => {
            let n = store.resend(user.account_id, d.id, &[], now, by).await?;
            Outcome::Done(format!(
                "{n} dead-lettered deliveries to {name} will be sent again"
            ))
        }
        "test" => {
            let sent =
                pushdetect_forward::probe::test_destination(store, d, &app.config.hostname).await;
            match sent {
                Ok(()) => Outcome::Done(format!("A test message was delivered to {name}")),
                Err(e) => {
                    Outcome::Refused(format!("The test message to {name} was not delivered: {e}"))
                }
            }
        }
        other => Outcome::Refused(format!(
            "'op' must be one of add, test, disable, enable, remove, dead, resend, not '{other}'"
        )),
    })
}
