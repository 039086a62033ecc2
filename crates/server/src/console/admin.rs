//! Admin pages, for the admin users of an account only: its users, licenses and sensors,
//! adding them, enabling and disabling them, resetting a user's password and rotating a
//! license's API token. New passwords and tokens are shown once, in the answer to the form
//! that made them, never in a URL; they are stored hashed.

use super::page::{render, unavailable};
use super::session::{self, ConsoleUser, Nav};
use crate::client_addr::ClientAddr;
use crate::provision;
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use pushdetect_store::{Account, Actor, Grouping, License, Role, Sensor, StoreError, User};
use std::collections::BTreeMap;

/// A secret shown once after the form that created it.
struct Secret {
    what: String,
    lines: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    nav: Nav,
    self_id: i64,
    /// The roles a user may be given.
    roles: &'static [&'static str],
    /// The account's name: the first part of the login names its admins make.
    account: String,
    /// The account's grouping rules (see `pushdetect_model::grouping`).
    grouping: String,
    /// Days its events are kept, or "off".
    retention: String,
    users: Vec<User>,
    licenses: Vec<License>,
    sensors: Vec<Sensor>,
    notice: Option<String>,
    error: Option<String>,
    secret: Option<Secret>,
}

pub(super) fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        "403 Forbidden: the admin pages are for admin users of the account",
    )
        .into_response()
}

async fn page(app: &AppState, user: &ConsoleUser) -> Result<AdminPage, StoreError> {
    let users = app.store.list_users(Some(user.account_id)).await?;
    let own = own_account(app.store.as_ref(), user).await?;
    let licenses = app.store.list_licenses(Some(user.account_id)).await?;
    let mut sensors = Vec::new();
    for l in &licenses {
        sensors.extend(app.store.list_sensors(Some(l.id)).await?);
    }
    Ok(AdminPage {
        nav: user.nav(),
        self_id: user.user_id,
        roles: Role::ALLOWED,
        account: own.name,
        grouping: own.grouping,
        retention: own
            .retention_days
            .map_or_else(|| "off".to_owned(), |d| d.to_string()),
        users,
        licenses,
        sensors,
        notice: None,
        error: None,
        secret: None,
    })
}

/// The admin's own account (its name is the first part of the login names its admins
/// make).
async fn own_account(
    store: &dyn pushdetect_store::Store,
    user: &ConsoleUser,
) -> Result<Account, StoreError> {
    store
        .find_account(&user.account_id.to_string())
        .await?
        .filter(|a| a.id == user.account_id)
        .ok_or_else(|| StoreError::NotFound("account".into()))
}

/// `GET /admin`.
pub async fn show(State(app): State<AppState>, user: ConsoleUser) -> Response {
    if !user.is_admin() {
        return forbidden();
    }
    match page(&app, &user).await {
        Ok(p) => render(&p),
        Err(e) => unavailable(e),
    }
}

/// What a form asks for; every id is checked to be of the admin's account.
enum Outcome {
    Done(String),
    Shown(Secret),
    Refused(String),
}

/// `POST /admin`: one change, named by the form's `op`.
pub async fn change(
    State(app): State<AppState>,
    user: ConsoleUser,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> Response {
    if !session::csrf_ok(&headers, field(&form, "csrf")) {
        return session::csrf_refused();
    }
    if !user.is_admin() {
        return forbidden();
    }
    let by = user.actor(Some(address.to_string()));
    let outcome = match apply(&app, &user, &form, &by).await {
        Ok(o) => o,
        Err(StoreError::Conflict(what)) => {
            Outcome::Refused(format!("{what} already exists; choose another name"))
        }
        Err(e) => return unavailable(e),
    };
    let mut p = match page(&app, &user).await {
        Ok(p) => p,
        Err(e) => return unavailable(e),
    };
    let status = match outcome {
        Outcome::Done(n) => {
            p.notice = Some(n);
            StatusCode::OK
        }
        Outcome::Shown(s) => {
            p.notice = Some(format!("{}. Copy it now: it is shown only once.", s.what));
            p.secret = Some(s);
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

/// A submitted field, trimmed ("" when absent).
fn field<'a>(form: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    form.get(name).map(|v| v.trim()).unwrap_or("")
}

fn id_of(v: &str) -> Option<i64> {
    v.parse().ok()
}

/// A display name or user name: 1-64 printable characters, no spaces at either end.
fn name_ok(v: &str) -> bool {
    !v.is_empty() && v.chars().count() <= 64 && !v.chars().any(char::is_control)
}

async fn apply(
    app: &AppState,
    user: &ConsoleUser,
    form: &BTreeMap<String, String>,
    by: &Actor,
) -> Result<Outcome, StoreError> {
    let field = |name: &str| field(form, name);
    let store = app.store.as_ref();
    let disabled = field("disabled") == "1";
    let verb = if disabled { "disabled" } else { "enabled" };
    let license_of_account = |id: Option<i64>| async move {
        match id {
            Some(id) => Ok::<_, StoreError>(
                store
                    .find_license(id)
                    .await?
                    .filter(|l| l.account_id == user.account_id),
            ),
            None => Ok(None),
        }
    };
    let user_of_account = |id: Option<i64>| async move {
        let users = store.list_users(Some(user.account_id)).await?;
        Ok::<_, StoreError>(id.and_then(|id| users.into_iter().find(|u| u.id == id)))
    };
    Ok(match field("op") {
        "add_user" => {
            let name = field("username");
            if !name_ok(name) || name.contains(char::is_whitespace) || name.contains('/') {
                return Ok(Outcome::Refused(
                    "'username' must be 1 to 64 characters without spaces or '/'".into(),
                ));
            }
            let role = match field("role") {
                "" => Ok(Role::Analyst),
                given => Role::parse("role", given),
            };
            let Ok(role) = role else {
                return Ok(Outcome::Refused(
                    "'role' must be one of admin, analyst, viewer".into(),
                ));
            };
            let account = own_account(store, user).await?.name;
            let login = provision::login_name(&account, name);
            let new = provision::add_user(store, user.account_id, &login, role, by).await?;
            Outcome::Shown(Secret {
                what: format!("User {} added", new.user.username),
                lines: vec![
                    ("username".into(), new.user.username),
                    ("password".into(), new.password),
                ],
            })
        }
        "set_user" => {
            let Some(target) = user_of_account(id_of(field("id"))).await? else {
                return Ok(Outcome::Refused(
                    "'id' is not a user of this account".into(),
                ));
            };
            if target.id == user.user_id && disabled {
                return Ok(Outcome::Refused(
                    "you cannot disable yourself; ask another admin".into(),
                ));
            }
            store.set_user_disabled(target.id, disabled, by).await?;
            Outcome::Done(format!("User {} {verb}", target.username))
        }
        "reset_password" => {
            let Some(target) = user_of_account(id_of(field("id"))).await? else {
                return Ok(Outcome::Refused(
                    "'id' is not a user of this account".into(),
                ));
            };
            if target.id == user.user_id {
                return Ok(Outcome::Refused(
                    "change your own password on the Password page".into(),
                ));
            }
            let password = provision::reset_password(store, target.id, by).await?;
            Outcome::Shown(Secret {
                what: format!(
                    "New password of {}; their sessions have ended",
                    target.username
                ),
                lines: vec![
                    ("username".into(), target.username.clone()),
                    ("password".into(), password),
                ],
            })
        }
        "set_role" => {
            let Some(target) = user_of_account(id_of(field("id"))).await? else {
                return Ok(Outcome::Refused(
                    "'id' is not a user of this account".into(),
                ));
            };
            let Ok(role) = Role::parse("role", field("role")) else {
                return Ok(Outcome::Refused(
                    "'role' must be one of admin, analyst, viewer".into(),
                ));
            };
            if target.id == user.user_id && role != Role::Admin {
                return Ok(Outcome::Refused(
                    "you cannot take your own admin role; ask another admin".into(),
                ));
            }
            store.set_user_role(target.id, role, by).await?;
            Outcome::Done(format!("User {} is now {role}", target.username))
        }
        "set_grouping" => match Grouping::parse("grouping", field("grouping")) {
            Ok(grouping) => {
                store
                    .set_account_grouping(user.account_id, &grouping, by)
                    .await?;
                Outcome::Done(format!(
                    "Incidents of events stored from now on group by {}",
                    grouping.to_text()
                ))
            }
            Err(e) => Outcome::Refused(e.message),
        },
        "set_retention" => {
            let given = match field("days") {
                "" => "off",
                d => d,
            };
            match pushdetect_model::account_api::parse_retention_days("days", given) {
                Ok(days) => {
                    store
                        .set_account_retention(user.account_id, days, by)
                        .await?;
                    Outcome::Done(match days {
                        Some(d) => format!(
                            "Events are kept {d} days; older ones are purged in the background"
                        ),
                        None => "Events are kept for ever".to_owned(),
                    })
                }
                Err(e) => Outcome::Refused(e.message),
            }
        }
        "add_license" => {
            let name = field("name");
            if !name_ok(name) {
                return Ok(Outcome::Refused("'name' must be 1 to 64 characters".into()));
            }
            let new = provision::add_license(store, user.account_id, name, by).await?;
            Outcome::Shown(Secret {
                what: format!("License {} (key_id {}) added", name, new.license.id),
                lines: vec![
                    ("access key".into(), new.license.access_key),
                    ("API token".into(), new.api_token),
                    ("key_id".into(), new.license.id.to_string()),
                ],
            })
        }
        "set_license" => {
            let Some(l) = license_of_account(id_of(field("id"))).await? else {
                return Ok(Outcome::Refused(
                    "'id' is not a license of this account".into(),
                ));
            };
            store.set_license_disabled(l.id, disabled, by).await?;
            Outcome::Done(format!("License {} (key_id {}) {verb}", l.name, l.id))
        }
        "rotate_token" => {
            let Some(l) = license_of_account(id_of(field("id"))).await? else {
                return Ok(Outcome::Refused(
                    "'id' is not a license of this account".into(),
                ));
            };
            let token = provision::rotate_token(store, l.id, by).await?;
            Outcome::Shown(Secret {
                what: format!(
                    "New API token of license {} (key_id {}); the old one no longer works and its sessions ended",
                    l.name, l.id
                ),
                lines: vec![
                    ("access key".into(), l.access_key),
                    ("API token".into(), token),
                ],
            })
        }
        "add_sensor" => {
            let Some(l) = license_of_account(id_of(field("license"))).await? else {
                return Ok(Outcome::Refused(
                    "'license' is not a license of this account".into(),
                ));
            };
            let name = field("name");
            if !name_ok(name) {
                return Ok(Outcome::Refused("'name' must be 1 to 64 characters".into()));
            }
            let s = provision::add_sensor(store, l.id, name, by).await?;
            Outcome::Done(format!(
                "Sensor {} added: key {}:{} (key_id {}, subkey_id {})",
                s.name, l.access_key, s.subkey, l.id, s.id
            ))
        }
        "set_sensor" => {
            let sensor = match id_of(field("id")) {
                Some(id) => store
                    .find_sensor(id)
                    .await?
                    .filter(|s| s.account_id == user.account_id),
                None => None,
            };
            let Some(s) = sensor else {
                return Ok(Outcome::Refused(
                    "'id' is not a sensor of this account".into(),
                ));
            };
            store.set_sensor_disabled(s.id, disabled, by).await?;
            Outcome::Done(format!("Sensor {} (subkey_id {}) {verb}", s.name, s.id))
        }
        other => Outcome::Refused(format!(
            "'op' must be one of add_user, set_user, reset_password, set_role, set_grouping, set_retention, add_license, set_license, \
             rotate_token, add_sensor, set_sensor, not '{other}'"
        )),
    })
}
