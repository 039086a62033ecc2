//! The console's page of a user's own access. Their password: changing it ends their
//! other sessions (a browser left logged in elsewhere, a stolen cookie) and renews this
//! one, so the user stays logged in here; refusals say what a password must be. Their API
//! tokens: made (the secret shown once), listed with their last use, revoked.

use super::page::{refused, render, time, unavailable};
use super::session::{self, ConsoleUser, Nav};
use crate::client_addr::ClientAddr;
use crate::provision::NewTokenError;
use crate::state::AppState;
use crate::verify::OwnPasswordRefused;
use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use pushdetect_model::account_api::{
    parse_token_days, parse_token_name, NewPassword, TokenScope, MIN_PASSWORD_CHARS,
};
use pushdetect_store::StoreError;
use std::collections::BTreeMap;

/// A token as the page lists it.
struct TokenRow {
    id: i64,
    name: String,
    scope: &'static str,
    created: String,
    expires: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    nav: Nav,
    min_chars: usize,
    scopes: &'static [&'static str],
    tokens: Vec<TokenRow>,
    notice: Option<String>,
    error: Option<String>,
    /// A token just made, shown this once.
    secret: Option<String>,
}

async fn page(app: &AppState, user: &ConsoleUser) -> Result<AccountPage, StoreError> {
    let tokens = app
        .store
        .list_api_tokens(Some(user.account_id), Some(user.user_id))
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            scope: t.scope.as_str(),
            created: time(t.created_at_ms),
            expires: t.expires_at_ms.map_or_else(|| "never".into(), time),
            last_used: t.last_used_ms.map_or_else(|| "never".into(), time),
        })
        .collect();
    Ok(AccountPage {
        nav: user.nav(),
        min_chars: MIN_PASSWORD_CHARS,
        scopes: TokenScope::ALLOWED,
        tokens,
        notice: None,
        error: None,
        secret: None,
    })
}

/// The page with a notice or an error (400).
async fn answer(
    app: &AppState,
    user: &ConsoleUser,
    outcome: Result<String, String>,
    secret: Option<String>,
) -> Response {
    let mut p = match page(app, user).await {
        Ok(p) => p,
        Err(e) => return unavailable(e),
    };
    p.secret = secret;
    match outcome {
        Ok(notice) => {
            p.notice = Some(notice);
            render(&p)
        }
        Err(error) => {
            p.error = Some(error);
            refused(&p)
        }
    }
}

/// `GET /account` (also `/password`).
pub async fn show(State(app): State<AppState>, user: ConsoleUser) -> Response {
    match page(&app, &user).await {
        Ok(p) => render(&p),
        Err(e) => unavailable(e),
    }
}

/// `POST /tokens`: `op` create (name, scope, expires_days) or revoke (id); the user's own
/// tokens only.
pub async fn tokens(
    State(app): State<AppState>,
    user: ConsoleUser,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> Response {
    let field = |n: &str| form.get(n).map(|v| v.trim()).unwrap_or("");
    if !session::csrf_ok(&headers, field("csrf")) {
        return session::csrf_refused();
    }
    let by = user.actor(Some(address.to_string()));
    match field("op") {
        "create" => {
            let parsed = parse_token_name("name", field("name")).and_then(|name| {
                let scope = TokenScope::parse("scope", field("scope"))?;
                let days = match field("expires_days") {
                    "" => None,
                    d => Some(parse_token_days("expires_days", d)?),
                };
                Ok((name, scope, days))
            });
            let (name, scope, days) = match parsed {
                Ok(p) => p,
                Err(e) => return answer(&app, &user, Err(e.message), None).await,
            };
            let made = crate::provision::create_token(
                app.store.as_ref(),
                user.account_id,
                user.user_id,
                &name,
                scope,
                days,
                &by,
            )
            .await;
            match made {
                Ok((t, secret)) => {
                    let notice = format!(
                        "Token '{}' ({}) made. Copy it now: it is shown only once.",
                        t.name,
                        t.scope.as_str()
                    );
                    answer(&app, &user, Ok(notice), Some(secret)).await
                }
                Err(NewTokenError::Store(e)) => unavailable(e),
                Err(e) => answer(&app, &user, Err(e.to_string()), None).await,
            }
        }
        "revoke" => {
            let own = match app
                .store
                .list_api_tokens(Some(user.account_id), Some(user.user_id))
                .await
            {
                Ok(list) => list,
                Err(e) => return unavailable(e),
            };
            let Some(t) = field("id")
                .parse::<i64>()
                .ok()
                .and_then(|id| own.into_iter().find(|t| t.id == id))
            else {
                return answer(
                    &app,
                    &user,
                    Err("'id' is not one of your tokens".into()),
                    None,
                )
                .await;
            };
            match app.store.revoke_api_token(t.id, &by).await {
                Ok(()) => {
                    answer(
                        &app,
                        &user,
                        Ok(format!("Token '{}' revoked.", t.name)),
                        None,
                    )
                    .await
                }
                Err(e) => unavailable(e),
            }
        }
        other => {
            answer(
                &app,
                &user,
                Err(format!("'op' must be create or revoke, not '{other}'")),
                None,
            )
            .await
        }
    }
}

/// `POST /password`: the current password, the new one, and the new one again.
pub async fn change(
    State(app): State<AppState>,
    user: ConsoleUser,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> Response {
    let field = |n: &str| form.get(n).map(String::as_str).unwrap_or("");
    if !session::csrf_ok(&headers, field("csrf")) {
        return session::csrf_refused();
    }
    let new = match NewPassword::parse("new password", field("new_password")) {
        Ok(p) => p,
        Err(e) => return answer(&app, &user, Err(e.message), None).await,
    };
    if field("repeat_password") != new.expose() {
        let why = "The new password and its repetition differ.".to_owned();
        return answer(&app, &user, Err(why), None).await;
    }
    let by = user.actor(Some(address.to_string()));
    let changed = crate::verify::change_own_password(
        &app,
        user.user_id,
        &user.username,
        field("current_password"),
        &new,
        &by,
        address,
    )
    .await;
    match changed {
        Ok(Ok(())) => {}
        Ok(Err(OwnPasswordRefused::Throttled(why))) => {
            let mut r = answer(&app, &user, Err(why), None).await;
            *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            return r;
        }
        Ok(Err(OwnPasswordRefused::WrongCurrent)) => {
            let why = "The current password is wrong.".to_owned();
            return answer(&app, &user, Err(why), None).await;
        }
        Err(e) => return unavailable(e),
    }
    let cookie = match session::start(&app, user.account_id, user.user_id).await {
        Ok(c) => c,
        Err(e) => return unavailable(e),
    };
    let notice = "Password changed. Your sessions elsewhere have ended.".to_owned();
    let page = answer(&app, &user, Ok(notice), None).await;
    ([(header::SET_COOKIE, cookie)], page).into_response()
}
