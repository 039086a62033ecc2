//! The console's password page: a user changes their own password. Their other sessions
//! end (a browser left logged in elsewhere, a stolen cookie); this one is renewed so the
//! user stays logged in here. Refusals say what a password must be.

use super::page::{refused, render, unavailable};
use super::session::{self, ConsoleUser, Nav};
use crate::client_addr::ClientAddr;
use crate::state::AppState;
use crate::verify::OwnPasswordRefused;
use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use pushdetect_model::account_api::{NewPassword, MIN_PASSWORD_CHARS};
use std::collections::BTreeMap;

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    nav: Nav,
    min_chars: usize,
    notice: Option<String>,
    error: Option<String>,
}

fn page(user: &ConsoleUser) -> PasswordPage {
    PasswordPage {
        nav: user.nav(),
        min_chars: MIN_PASSWORD_CHARS,
        notice: None,
        error: None,
    }
}

/// `GET /password`.
pub async fn show(user: ConsoleUser) -> Response {
    render(&page(&user))
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
    let refuse = |why: String| {
        let mut p = page(&user);
        p.error = Some(why);
        refused(&p)
    };
    let new = match NewPassword::parse("new password", field("new_password")) {
        Ok(p) => p,
        Err(e) => return refuse(e.message),
    };
    if field("repeat_password") != new.expose() {
        return refuse("The new password and its repetition differ.".into());
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
            let mut r = refuse(why);
            *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            return r;
        }
        Ok(Err(OwnPasswordRefused::WrongCurrent)) => {
            return refuse("The current password is wrong.".into())
        }
        Err(e) => return unavailable(e),
    }
    let cookie = match session::start(&app, user.account_id, user.user_id).await {
        Ok(c) => c,
        Err(e) => return unavailable(e),
    };
    let mut p = page(&user);
    p.notice = Some("Password changed. Your sessions elsewhere have ended.".into());
    ([(header::SET_COOKIE, cookie)], render(&p)).into_response()
}
