//! The secrets a caller proves, checked against the store: a user's password and a
//! license's API token (argon2, run off the async workers). Shared by the PAPI's login,
//! the Analyst API and the console; and a user's change of their own password, which
//! proves the current one the same way.

use crate::credentials::verify_secret;
use crate::state::AppState;
use pushdetect_store::{License, StoreError};

/// Runs argon2 off the async workers.
async fn verify(secret: &str, hash: Option<String>) -> bool {
    let secret = secret.to_owned();
    tokio::task::spawn_blocking(move || verify_secret(&secret, hash.as_deref()))
        .await
        .unwrap_or(false)
}

/// The enabled user with this name, if `password` is theirs. Shared by the PAPI account
/// login and the console.
pub async fn user_with_password(
    app: &AppState,
    username: &str,
    password: &str,
) -> Result<Option<pushdetect_store::User>, StoreError> {
    let user = app.store.find_user(username).await?;
    let ok = verify(password, user.as_ref().map(|u| u.password_hash.clone())).await;
    Ok(user.filter(|u| ok && !u.disabled))
}

/// The enabled license with this access key, if `token` is its API token. Shared by the
/// PAPI license login and the Analyst API.
pub async fn license_with_token(
    app: &AppState,
    access_key: &str,
    token: &str,
) -> Result<Option<License>, StoreError> {
    let license = app.store.find_license_by_access_key(access_key).await?;
    let ok = verify(token, license.as_ref().map(|l| l.api_token_hash.clone())).await;
    Ok(license.filter(|l| ok && !l.disabled))
}

/// Why a user's change of their own password was refused.
#[derive(Debug)]
pub enum OwnPasswordRefused {
    /// Too many wrong passwords for this name lately; the message says when to try again.
    Throttled(String),
    /// The current password given is not the user's.
    WrongCurrent,
}

/// Changes a user's own password once they proved the current one: the proof takes a
/// turn of the login throttle for their name (a stolen session is no shortcut to
/// guessing), and every session of the user ends. Shared by the read API and the console,
/// each of which then starts the caller's new session.
pub async fn change_own_password(
    app: &AppState,
    user_id: i64,
    username: &str,
    current: &str,
    new: &pushdetect_model::account_api::NewPassword,
    actor: &pushdetect_store::Actor,
    peer: std::net::IpAddr,
) -> Result<Result<(), OwnPasswordRefused>, StoreError> {
    let attempt = match app
        .throttle
        .begin(crate::throttle::Credential::User, username, peer)
        .await
    {
        Ok(a) => a,
        Err(refused) => return Ok(Err(OwnPasswordRefused::Throttled(refused.message()))),
    };
    let proven = user_with_password(app, username, current)
        .await?
        .is_some_and(|u| u.id == user_id);
    if !proven {
        attempt.failed();
        return Ok(Err(OwnPasswordRefused::WrongCurrent));
    }
    attempt.succeeded();
    crate::provision::change_password(app.store.as_ref(), user_id, new, actor).await?;
    tracing::info!(user = %username, "password changed; the user's other sessions ended");
    Ok(Ok(()))
}
