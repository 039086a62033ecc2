//! The console's login and logout pages (sessions themselves are in `session`).

use super::page::{render, unavailable};
use super::session::{self, Nav, CONSOLE_COOKIE};
use crate::client_addr::ClientAddr;
use crate::credentials::session_id_hash;
use crate::state::AppState;
use crate::throttle::Credential;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::BTreeMap;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Nav,
    next: String,
    error: Option<String>,
}

/// Where to go after logging in: a path of this site, parsed and normalised, or `/`.
///
/// Browsers drop tabs and newlines from URLs and read `\\` as `/`, so `/\t/evil.example/`
/// is `//evil.example/`: anything with such characters, or that resolves to another
/// origin, goes to `/`.
fn safe_next(next: Option<&str>) -> String {
    let Some(next) = next.filter(|n| !n.is_empty()) else {
        return "/events".to_owned();
    };
    let suspicious = next
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\');
    if suspicious || !next.starts_with('/') || next.starts_with("//") {
        return "/".to_owned();
    }
    let Ok(base) = url::Url::parse("http://console.invalid/") else {
        return "/".to_owned();
    };
    match base.join(next) {
        Ok(url) if url.origin() == base.origin() => {
            let mut path = url.path().to_owned();
            if let Some(q) = url.query() {
                path.push('?');
                path.push_str(q);
            }
            path
        }
        _ => "/".to_owned(),
    }
}

/// `GET /login`.
pub async fn login_form(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let (csrf, set) = session::csrf_token(&headers, &app);
    let page = LoginPage {
        nav: Nav {
            csrf,
            ..Nav::default()
        },
        next: safe_next(q.get("next").map(String::as_str)),
        error: None,
    };
    let mut response = render(&page);
    if let Some(set) = set.and_then(|s| s.parse().ok()) {
        response.headers_mut().insert(header::SET_COOKIE, set);
    }
    response
}

/// `POST /login`: the account's users, with the PAPI's failed-login slowdown.
pub async fn login(
    State(app): State<AppState>,
    ClientAddr(peer): ClientAddr,
    headers: HeaderMap,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> Response {
    let field = |n: &str| form.get(n).map(String::as_str).unwrap_or("");
    if !session::csrf_ok(&headers, field("csrf")) {
        return session::csrf_refused();
    }
    let username = field("username").trim();
    let attempt = match app.throttle.begin(Credential::User, username, peer).await {
        Ok(attempt) => attempt,
        Err(refused) => {
            return login_again(
                field("csrf"),
                field("next"),
                refused.message(),
                StatusCode::TOO_MANY_REQUESTS,
            )
        }
    };
    let user = match crate::verify::user_with_password(&app, username, field("password")).await {
        Ok(u) => u,
        Err(e) => return unavailable(e),
    };
    let Some(user) = user else {
        attempt.failed();
        crate::login_audit::login_failed(&app, username, true, peer, "console").await;
        return login_again(
            field("csrf"),
            field("next"),
            "Wrong username or password.".into(),
            StatusCode::UNAUTHORIZED,
        );
    };
    attempt.succeeded();
    let started = match session::start(&app, user.account_id, user.id).await {
        Ok(cookie) => crate::login_audit::logged_in(
            &app,
            user.account_id,
            pushdetect_store::Principal::User(user.id),
            &user.username,
            peer,
            "console",
        )
        .await
        .map(|()| cookie),
        Err(e) => Err(e),
    };
    match started {
        Ok(cookie) => (
            [(header::SET_COOKIE, cookie)],
            Redirect::to(&safe_next(Some(field("next")))),
        )
            .into_response(),
        Err(e) => unavailable(e),
    }
}

/// The login form again, with why the last attempt did not log in.
fn login_again(csrf: &str, next: &str, error: String, status: StatusCode) -> Response {
    let page = LoginPage {
        nav: Nav {
            csrf: csrf.to_owned(),
            ..Nav::default()
        },
        next: safe_next(Some(next)),
        error: Some(error),
    };
    let mut response = render(&page);
    *response.status_mut() = status;
    response
}

/// `POST /logout`.
pub async fn logout(
    State(app): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> Response {
    if !session::csrf_ok(&headers, form.get("csrf").map(String::as_str).unwrap_or("")) {
        return session::csrf_refused();
    }
    if let Some(id) = session::cookie(&headers, CONSOLE_COOKIE) {
        if let Err(e) = app.store.delete_session(&session_id_hash(&id)).await {
            return unavailable(e);
        }
    }
    (
        [(
            header::SET_COOKIE,
            session::set_cookie(&app, CONSOLE_COOKIE, "", Some(0)),
        )],
        Redirect::to("/login"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_origin_paths_are_followed_after_login() {
        for (next, to) in [
            (None, "/events"),
            (Some("/incidents?status=new"), "/incidents?status=new"),
            (Some("/a/../tasks"), "/tasks"),
            (Some("/\t/evil.example/"), "/"),
            (Some("/\n/evil.example/"), "/"),
            (Some("//evil.example/"), "/"),
            (Some("/\\evil.example/"), "/"),
            (Some("https://evil.example/"), "/"),
            (Some("javascript:alert(1)"), "/"),
            (Some("/x\r\nSet-Cookie: a=b"), "/"),
        ] {
            assert_eq!(safe_next(next), to, "{next:?}");
        }
    }
}
