//! Creating accounts, users, licenses, sensors and API tokens with fresh secrets, and
//! replacing passwords: shared by `pushdetect init`, the first start of `serve`,
//! `pushdetect admin`, the console and the read API.

use crate::credentials::{
    hash_secret, new_api_token, random_alphanumeric, random_key, session_id_hash,
};
use pushdetect_model::account_api::{TokenScope, MAX_TOKENS_PER_USER};
use pushdetect_store::{
    Account, Actor, ApiToken, License, NewApiToken, Role, Sensor, Store, StoreError, StoreResult,
    User,
};
use serde::Serialize;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The credentials of a new installation, printed once.
#[derive(Debug, Clone, Serialize)]
pub struct InitialCredentials {
    /// Admin user name.
    pub username: String,
    /// Admin password (shown once, stored hashed).
    pub password: String,
    /// The license's access key.
    pub access_key: String,
    /// The license's API token (shown once, stored hashed).
    pub api_token: String,
    /// The license id.
    pub key_id: i64,
    /// The sensor's subkey.
    pub subkey: String,
    /// The sensor id.
    pub subkey_id: i64,
    /// "access_key:subkey", the `key` parameter of pushes.
    pub sensor_key: String,
}

/// A new user and the password to hand over.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The stored user.
    pub user: User,
    /// Its password, shown once.
    pub password: String,
}

/// A new license and the API token to hand over.
#[derive(Debug, Clone)]
pub struct NewLicense {
    /// The stored license.
    pub license: License,
    /// Its API token, shown once.
    pub api_token: String,
}

/// The login name of a user made by an account's admin: the account's name, `/`, the
/// name the admin chose. User names are unique across the server because a login names
/// no account; qualifying them keeps one account's admin from learning, by a refused
/// name, which names other accounts hold. Names made by the operator (`pushdetect admin
/// user add`) hold no `/` and so never meet these.
pub fn login_name(account: &str, name: &str) -> String {
    format!("{account}/{name}")
}

/// Creates a user with a random password.
pub async fn add_user(
    store: &dyn Store,
    account_id: i64,
    username: &str,
    role: Role,
    actor: &Actor,
) -> StoreResult<NewUser> {
    let password = random_alphanumeric(20);
    let hash = hash_secret(&password);
    let user = store
        .create_user(account_id, username, &hash, role, actor, now_ms())
        .await?;
    Ok(NewUser { user, password })
}

/// Creates a license with a random access key and API token.
pub async fn add_license(
    store: &dyn Store,
    account_id: i64,
    name: &str,
    actor: &Actor,
) -> StoreResult<NewLicense> {
    let api_token = random_alphanumeric(32);
    let hash = hash_secret(&api_token);
    let license = store
        .create_license(account_id, name, &random_key(20), &hash, actor, now_ms())
        .await?;
    Ok(NewLicense { license, api_token })
}

/// Creates a sensor with a random subkey.
pub async fn add_sensor(
    store: &dyn Store,
    license_id: i64,
    name: &str,
    actor: &Actor,
) -> StoreResult<Sensor> {
    store
        .create_sensor(license_id, &random_key(10), name, actor, now_ms())
        .await
}

/// Replaces a license's API token; its sessions end. Returns the new token.
pub async fn rotate_token(
    store: &dyn Store,
    license_id: i64,
    actor: &Actor,
) -> StoreResult<String> {
    let api_token = random_alphanumeric(32);
    store
        .set_license_token(license_id, &hash_secret(&api_token), actor)
        .await?;
    Ok(api_token)
}

/// Gives a user a new random password, as an admin does when it is forgotten; their
/// sessions end. Returns the password, to be handed over once.
pub async fn reset_password(store: &dyn Store, user_id: i64, actor: &Actor) -> StoreResult<String> {
    let password = random_alphanumeric(20);
    store
        .set_user_password(user_id, &hash_secret(&password), true, actor)
        .await?;
    Ok(password)
}

/// Sets the password a user chose for themselves; every session of theirs ends.
pub async fn change_password(
    store: &dyn Store,
    user_id: i64,
    password: &pushdetect_model::account_api::NewPassword,
    actor: &Actor,
) -> StoreResult<()> {
    store
        .set_user_password(user_id, &hash_secret(password.expose()), false, actor)
        .await
}

/// Why an API token was not made.
#[derive(Debug, thiserror::Error)]
pub enum NewTokenError {
    /// The user holds as many tokens as one may.
    #[error(
        "the user already has {MAX_TOKENS_PER_USER} API tokens, the most one may hold; revoke \
         one first"
    )]
    TooMany,
    /// The user has a token of this name.
    #[error("the user already has a token named '{0}'; choose another name")]
    NameTaken(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

/// Makes an API token for a user of `account_id`, good for `expires_days` (or until
/// revoked), and returns it with its secret, to be shown this once. Shared by the read
/// API, the console and the CLI.
pub async fn create_token(
    store: &dyn Store,
    account_id: i64,
    user_id: i64,
    name: &str,
    scope: TokenScope,
    expires_days: Option<i64>,
    by: &Actor,
) -> Result<(ApiToken, String), NewTokenError> {
    let held = store
        .list_api_tokens(None, Some(user_id))
        .await
        .map_err(NewTokenError::Store)?;
    if held.len() >= MAX_TOKENS_PER_USER {
        return Err(NewTokenError::TooMany);
    }
    let secret = new_api_token();
    let now = now_ms();
    let new = NewApiToken {
        user_id,
        account_id,
        name,
        token_hash: &session_id_hash(&secret),
        scope,
        expires_at_ms: expires_days.map(|d| now + d * 86_400_000),
        now_ms: now,
    };
    match store.create_api_token(&new, by).await {
        Ok(t) => Ok((t, secret)),
        Err(StoreError::Conflict(_)) => Err(NewTokenError::NameTaken(name.to_owned())),
        Err(e) => Err(NewTokenError::Store(e)),
    }
}

/// Creates an account with an admin user, one license and one sensor of it, as done by
/// the operator.
pub async fn init_account(
    store: &dyn Store,
    account_name: &str,
    username: &str,
) -> StoreResult<(Account, InitialCredentials)> {
    let by = Actor::operator();
    let account = store.create_account(account_name, &by, now_ms()).await?;
    let user = add_user(store, account.id, username, Role::Admin, &by).await?;
    let license = add_license(store, account.id, "default", &by).await?;
    let sensor = add_sensor(store, license.license.id, "default", &by).await?;
    let creds = InitialCredentials {
        username: user.user.username,
        password: user.password,
        sensor_key: format!("{}:{}", license.license.access_key, sensor.subkey),
        access_key: license.license.access_key,
        api_token: license.api_token,
        key_id: license.license.id,
        subkey: sensor.subkey,
        subkey_id: sensor.id,
    };
    Ok((account, creds))
}
