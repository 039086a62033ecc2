//! The read API's calls about a user's access. Passwords: `user/password/change` (a user,
//! their own) and `user/password/reset` (an admin, a user of the account); either ends
//! every session of the user whose password changed, and a user who changed their own is
//! answered with a new session, so the script or page that asked stays logged in. API
//! tokens: `user/token/create`, `list` and `revoke`, for a user logged in with a password
//! (not with a token). Passwords and tokens are never logged.

use super::caller::Caller;
use super::form::Form;
use super::reply::{Failure, Fmt, Reply};
use super::workflow::{actor, admin_only, role_of};
use crate::client_addr::ClientAddr;
use crate::provision::NewTokenError;
use crate::sessions::new_session_cookie;
use crate::state::AppState;
use crate::verify::{change_own_password, OwnPasswordRefused};
use axum::extract::State;
use axum::http::header;
use pushdetect_model::account_api::{
    parse_token_days, parse_token_name, NewPassword, TokenScope, PASSWORD_CHANGE, PASSWORD_RESET,
    TOKEN_CREATE, TOKEN_LIST, TOKEN_REVOKE,
};
use pushdetect_model::params::ParamReader;
use pushdetect_model::values::parse_id;
use pushdetect_model::{ApiError, ErrorCode};
use pushdetect_store::external::time;
use pushdetect_store::ApiToken;
use pushdetect_store::Principal;
use serde_json::{json, Value};

/// `POST /papi/user/password/change`.
pub async fn change(
    State(app): State<AppState>,
    caller: Caller,
    address: ClientAddr,
    Fmt(format): Fmt,
    Form(params): Form,
) -> Reply {
    match change_own(&app, &caller, address, &params).await {
        Ok((session_id, data)) => Reply::new(format, Ok(data))
            .with_header(header::SET_COOKIE, new_session_cookie(&app, &session_id)),
        Err(f) => Reply::new(format, Err(f)),
    }
}

async fn change_own(
    app: &AppState,
    caller: &Caller,
    address: ClientAddr,
    params: &pushdetect_model::FormParams,
) -> Result<(String, Value), Failure> {
    let r = ParamReader::new(&PASSWORD_CHANGE, params)?;
    let current = r.require("current_password", "your password now")?;
    let new = r.parse_req(
        "new_password",
        pushdetect_model::account_api::PASSWORD_EXPECTED,
        NewPassword::parse,
    )?;
    let Principal::User(user_id) = caller.principal else {
        return Err(ApiError::new(
            ErrorCode::NotPossible,
            "a license has no password: log in as a user to change yours (an admin rotates a \
             license's API token)",
        )
        .into());
    };
    let by = actor(caller, address);
    match change_own_password(app, user_id, &caller.label, current, &new, &by, address.0).await? {
        Ok(()) => {}
        Err(OwnPasswordRefused::Throttled(why)) => {
            return Err(ApiError::new(ErrorCode::NotPermitted, why).into())
        }
        Err(OwnPasswordRefused::WrongCurrent) => {
            return Err(ApiError::invalid("current_password", "your password now").into())
        }
    }
    let session_id = crate::sessions::open(app, caller.account_id, caller.principal).await?;
    Ok((session_id, json!({"username": caller.label})))
}

/// `POST /papi/user/password/reset`.
pub async fn reset(
    State(app): State<AppState>,
    caller: Caller,
    address: ClientAddr,
    Fmt(format): Fmt,
    Form(params): Form,
) -> Reply {
    let result = async {
        let r = ParamReader::new(&PASSWORD_RESET, &params)?;
        admin_only(&app, &caller, "reset passwords (admin users only)").await?;
        let name = r.require("username", "the login name of a user of your account")?;
        let user = app
            .store
            .find_user(name.trim())
            .await?
            .filter(|u| u.account_id == caller.account_id)
            .ok_or_else(|| {
                ApiError::invalid("username", "the login name of a user of your account")
            })?;
        if caller.principal == Principal::User(user.id) {
            return Err(ApiError::new(
                ErrorCode::NotPossible,
                "this is your own user: change your password with user/password/change",
            )
            .into());
        }
        let password =
            crate::provision::reset_password(app.store.as_ref(), user.id, &actor(&caller, address))
                .await?;
        tracing::info!(user = %user.username, by = %caller.label, "password reset; the user's sessions ended");
        Ok::<_, Failure>(json!({"username": user.username, "password": password}))
    }
    .await;
    Reply::new(format, result)
}

/// The user a token call is about: the caller, who must be a user (a license has none).
fn calling_user(caller: &Caller) -> Result<i64, Failure> {
    match caller.principal {
        Principal::User(id) => Ok(id),
        Principal::License(_) => Err(ApiError::new(
            ErrorCode::NotPossible,
            "API tokens belong to users: log in with a user name and password",
        )
        .into()),
    }
}

/// The tokens the caller may see and revoke: their own; an admin's, the account's.
async fn tokens_in_view(app: &AppState, caller: &Caller) -> Result<Vec<ApiToken>, Failure> {
    let user_id = calling_user(caller)?;
    let whose = if role_of(app, caller).await?.may_administer() {
        None
    } else {
        Some(user_id)
    };
    Ok(app
        .store
        .list_api_tokens(Some(caller.account_id), whose)
        .await?)
}

/// The external form of a token (never its secret).
pub fn token_json(t: &ApiToken) -> Value {
    json!({
        "token_id": t.id,
        "name": t.name,
        "username": t.username,
        "scope": t.scope.as_str(),
        "created_at": time(t.created_at_ms),
        "expires_at": t.expires_at_ms.map(time),
        "last_used_at": t.last_used_ms.map(time),
    })
}

/// `POST /papi/user/token/create`.
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    address: ClientAddr,
    Fmt(format): Fmt,
    Form(params): Form,
) -> Reply {
    let result = async {
        let r = ParamReader::new(&TOKEN_CREATE, &params)?;
        let user_id = calling_user(&caller)?;
        let name = r.parse_req("name", "what the token is for", parse_token_name)?;
        let scope = r
            .parse_opt("scope", TokenScope::parse)?
            .unwrap_or(TokenScope::Read);
        let days = r.parse_opt("expires_days", parse_token_days)?;
        let (token, secret) = crate::provision::create_token(
            app.store.as_ref(),
            caller.account_id,
            user_id,
            &name,
            scope,
            days,
            &actor(&caller, address),
        )
        .await
        .map_err(|e| match e {
            NewTokenError::TooMany => ApiError::new(ErrorCode::NotPossible, e.to_string()).into(),
            NewTokenError::NameTaken(_) => {
                ApiError::invalid("name", "a name none of your tokens has").into()
            }
            NewTokenError::Store(e) => Failure::from(e),
        })?;
        let mut data = token_json(&token);
        data["token"] = json!(secret);
        Ok::<_, Failure>(data)
    }
    .await;
    Reply::new(format, result)
}

/// `GET|POST /papi/user/token/list`: the caller's tokens; an admin's, the account's.
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Fmt(format): Fmt,
    Form(params): Form,
) -> Reply {
    let result = async {
        ParamReader::new(&TOKEN_LIST, &params)?;
        let tokens = tokens_in_view(&app, &caller).await?;
        Ok::<_, Failure>(json!({"tokens": tokens.iter().map(token_json).collect::<Vec<_>>()}))
    }
    .await;
    Reply::new(format, result)
}

/// `POST /papi/user/token/revoke`: the caller's own token, or as an admin any of the
/// account's; another's answers as unknown.
pub async fn revoke(
    State(app): State<AppState>,
    caller: Caller,
    address: ClientAddr,
    Fmt(format): Fmt,
    Form(params): Form,
) -> Reply {
    let result = async {
        let r = ParamReader::new(&TOKEN_REVOKE, &params)?;
        let in_view = tokens_in_view(&app, &caller).await?;
        let id = r.parse_req("token_id", "the token's id", parse_id)?;
        let token = in_view.into_iter().find(|t| t.id == id).ok_or_else(|| {
            ApiError::invalid(
                "token_id",
                "the id of one of your tokens, as token/list gives it",
            )
        })?;
        app.store
            .revoke_api_token(token.id, &actor(&caller, address))
            .await?;
        Ok::<_, Failure>(json!({"token_id": token.id, "revoked": true}))
    }
    .await;
    Reply::new(format, result)
}
