//! `login`, `logout` and `ping`, as papi_client uses them.

use super::caller::Caller;
use super::form::Form;
use super::reply::{Failure, Fmt, Reply};
use crate::client_addr::ClientAddr;
use crate::credentials::session_id_hash;
use crate::sessions::{new_session_cookie, session_cookie, SESSION_COOKIE};
use crate::state::AppState;
use crate::throttle::Credential;
use crate::verify::{license_with_token, user_with_password};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use pushdetect_model::method::{MethodSpec, ParamKind, ParamSpec, Requirement};
use pushdetect_model::params::ParamReader;
use pushdetect_model::ApiError;
use pushdetect_store::Principal;
use serde_json::{json, Value};
use std::net::IpAddr;

const fn login_param(name: &'static str, doc: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Text,
        requirement: Requirement::OneOf("credentials"),
        group: None,
        allowed: &[],
        doc,
    }
}

/// `login`: account (username + password) or license (api_key + api_token).
pub const LOGIN: MethodSpec = MethodSpec {
    name: "login",
    path: "login",
    http_method: "POST",
    summary: "Log in and receive the session cookie",
    params: &[
        login_param("username", "User name (auth_method account)."),
        login_param("password", "Password (auth_method account)."),
        login_param("api_key", "License access key (auth_method license)."),
        login_param("api_token", "License API token (auth_method license)."),
    ],
};

/// `logout`.
pub const LOGOUT: MethodSpec = MethodSpec {
    name: "logout",
    path: "logout",
    http_method: "POST",
    summary: "End the session",
    params: &[],
};

/// `ping`.
pub const PING: MethodSpec = MethodSpec {
    name: "ping",
    path: "ping",
    http_method: "GET",
    summary: "Check that the API answers and the session is valid",
    params: &[],
};

struct Verified {
    account_id: i64,
    principal: Principal,
    data: Value,
}

/// `POST /papi/login`.
pub async fn login(
    State(app): State<AppState>,
    ClientAddr(peer): ClientAddr,
    Fmt(format): Fmt,
    Form(params): Form,
) -> Reply {
    match do_login(&app, peer, &params).await {
        Ok((session_id, data)) => Reply::new(format, Ok(data))
            .with_header(header::SET_COOKIE, new_session_cookie(&app, &session_id)),
        Err(f) => Reply::new(format, Err(f)),
    }
}

async fn do_login(
    app: &AppState,
    peer: IpAddr,
    params: &pushdetect_model::FormParams,
) -> Result<(String, Value), Failure> {
    let r = ParamReader::new(&LOGIN, params)?;
    let (login_name, secret, is_user) = match (r.get("username"), r.get("api_key")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::conflict(
                "give either username with password, or api_key with api_token, not both",
            )
            .into())
        }
        (Some(u), None) => (u, r.require("password", "the user's password")?, true),
        (None, Some(k)) => (k, r.require("api_token", "the license's API token")?, false),
        (None, None) => {
            return Err(ApiError::missing(
                "username",
                "username with password (auth_method account), or api_key with api_token \
                 (auth_method license)",
            )
            .into())
        }
    };
    let credential = if is_user {
        Credential::User
    } else {
        Credential::License
    };
    let attempt = app
        .throttle
        .begin(credential, login_name, peer)
        .await
        .map_err(|refused| ApiError::authentication(&refused.message()))?;
    let verified = if is_user {
        verify_user(app, login_name, secret).await?
    } else {
        verify_license(app, login_name, secret).await?
    };
    let Some(v) = verified else {
        attempt.failed();
        crate::login_audit::login_failed(app, login_name, is_user, peer, "papi").await;
        return Err(ApiError::authentication("login failed: wrong credentials").into());
    };
    attempt.succeeded();
    let session_id = crate::sessions::open(app, v.account_id, v.principal).await?;
    crate::login_audit::logged_in(
        app,
        v.account_id,
        v.principal,
        login_name.trim(),
        peer,
        "papi",
    )
    .await?;
    Ok((session_id, v.data))
}

async fn verify_user(
    app: &AppState,
    username: &str,
    password: &str,
) -> Result<Option<Verified>, Failure> {
    let user = user_with_password(app, username, password).await?;
    Ok(user.map(|u| Verified {
        account_id: u.account_id,
        principal: Principal::User(u.id),
        data: json!({"auth_method": "account", "username": u.username}),
    }))
}

async fn verify_license(
    app: &AppState,
    access_key: &str,
    token: &str,
) -> Result<Option<Verified>, Failure> {
    let license = license_with_token(app, access_key, token).await?;
    Ok(license.map(|l| Verified {
        account_id: l.account_id,
        principal: Principal::License(l.id),
        data: json!({"auth_method": "license", "key_id": l.id}),
    }))
}

/// `POST /papi/logout`: ends the session (if any) and clears the cookie.
pub async fn logout(State(app): State<AppState>, Fmt(format): Fmt, headers: HeaderMap) -> Reply {
    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    let result = match session_cookie(&headers) {
        Some(id) => app
            .store
            .delete_session(&session_id_hash(&id))
            .await
            .map(|_| json!("OK"))
            .map_err(Failure::from),
        None => Ok(json!("OK")),
    };
    Reply::new(format, result).with_header(header::SET_COOKIE, clear)
}

/// `GET /papi/…/ping`: answers "pong" to a caller with a live session.
pub async fn ping(_caller: Caller, Fmt(format): Fmt) -> Reply {
    Reply::new(format, Ok(json!("pong")))
}
