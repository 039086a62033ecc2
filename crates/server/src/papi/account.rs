//! The read API's password calls: `user/password/change` (a user, their own password) and
//! `user/password/reset` (an admin, a user of the account). Either ends every session of
//! the user whose password changed; a user who changed their own is answered with a new
//! session, so the script or page that asked stays logged in. Passwords are never logged.

use super::caller::Caller;
use super::form::Form;
use super::reply::{Failure, Fmt, Reply};
use super::workflow::{actor, admin_only};
use crate::client_addr::ClientAddr;
use crate::credentials::{new_session_id, session_id_hash};
use crate::sessions::new_session_cookie;
use crate::state::AppState;
use crate::verify::{change_own_password, OwnPasswordRefused};
use axum::extract::State;
use axum::http::header;
use pushdetect_model::account_api::{NewPassword, PASSWORD_CHANGE, PASSWORD_RESET};
use pushdetect_model::params::ParamReader;
use pushdetect_model::{ApiError, ErrorCode};
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
    let session_id = new_session_id();
    app.store
        .create_session(
            &session_id_hash(&session_id),
            caller.account_id,
            caller.principal,
            chrono::Utc::now().timestamp_millis(),
        )
        .await?;
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
