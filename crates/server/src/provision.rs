//! Creating accounts, users, licenses and sensors with fresh secrets: shared by
//! `pushdetect init`, the first start of `serve` and `pushdetect admin`.

use crate::credentials::{hash_secret, random_alphanumeric, random_key};
use pushdetect_store::{Account, Actor, License, Role, Sensor, Store, StoreResult, User};
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
