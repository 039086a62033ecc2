//! The secrets a caller proves, checked against the store: a user's password and a
//! license's API token (argon2, run off the async workers). Shared by the PAPI's login,
//! the Analyst API and the console.

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
