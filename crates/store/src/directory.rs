//! Who may use pushdetect: accounts, their users, licenses and sensors, and the sessions
//! they log in with. Part of [`crate::Store`].

use crate::error::StoreResult;
use crate::records::*;
use async_trait::async_trait;

/// Accounts, users, licenses, sensors and sessions. Writes commit durably before they
/// return.
#[async_trait]
pub trait Directory: Send + Sync {
    /// Whether any account exists (a fresh database is initialised by `serve`).
    async fn has_accounts(&self) -> StoreResult<bool>;

    /// Creates an account. Every write here records itself in the audit trail, as done by
    /// `actor`, in its own transaction.
    async fn create_account(&self, name: &str, actor: &Actor, now_ms: i64) -> StoreResult<Account>;
    /// All accounts.
    async fn list_accounts(&self) -> StoreResult<Vec<Account>>;
    /// Finds an account by id or name.
    async fn find_account(&self, id_or_name: &str) -> StoreResult<Option<Account>>;
    /// Enables or disables an account; disabling also ends its sessions.
    async fn set_account_disabled(&self, id: i64, disabled: bool, actor: &Actor)
        -> StoreResult<()>;
    /// Sets an account's grouping rules (for events stored from now on), recording the
    /// rules before and after.
    async fn set_account_grouping(
        &self,
        id: i64,
        grouping: &Grouping,
        actor: &Actor,
    ) -> StoreResult<()>;

    /// Creates a user.
    async fn create_user(
        &self,
        account_id: i64,
        username: &str,
        password_hash: &str,
        role: Role,
        actor: &Actor,
        now_ms: i64,
    ) -> StoreResult<User>;
    /// Finds a user by name (disabled is true if the user or the account is).
    async fn find_user(&self, username: &str) -> StoreResult<Option<User>>;
    /// Users, of one account or all.
    async fn list_users(&self, account_id: Option<i64>) -> StoreResult<Vec<User>>;
    /// Enables or disables a user; disabling also ends their sessions.
    async fn set_user_disabled(&self, id: i64, disabled: bool, actor: &Actor) -> StoreResult<()>;
    /// Changes a user's role; it applies to their next request.
    async fn set_user_role(&self, id: i64, role: Role, actor: &Actor) -> StoreResult<()>;
    /// Replaces a user's password hash and ends every session of theirs. `reset` says an
    /// admin gave the password (audited as a reset) rather than the user choosing it.
    async fn set_user_password(
        &self,
        id: i64,
        password_hash: &str,
        reset: bool,
        actor: &Actor,
    ) -> StoreResult<()>;

    /// Creates a license.
    async fn create_license(
        &self,
        account_id: i64,
        name: &str,
        access_key: &str,
        api_token_hash: &str,
        actor: &Actor,
        now_ms: i64,
    ) -> StoreResult<License>;
    /// Finds a license by access key.
    async fn find_license_by_access_key(&self, access_key: &str) -> StoreResult<Option<License>>;
    /// Finds a license by key_id.
    async fn find_license(&self, id: i64) -> StoreResult<Option<License>>;
    /// Licenses, of one account or all.
    async fn list_licenses(&self, account_id: Option<i64>) -> StoreResult<Vec<License>>;
    /// Enables or disables a license; disabling also ends its sessions.
    async fn set_license_disabled(&self, id: i64, disabled: bool, actor: &Actor)
        -> StoreResult<()>;
    /// Replaces a license's API token hash and ends its sessions.
    async fn set_license_token(
        &self,
        id: i64,
        api_token_hash: &str,
        actor: &Actor,
    ) -> StoreResult<()>;

    /// Creates a sensor of a license.
    async fn create_sensor(
        &self,
        license_id: i64,
        subkey: &str,
        name: &str,
        actor: &Actor,
        now_ms: i64,
    ) -> StoreResult<Sensor>;
    /// Finds a sensor by access key and subkey.
    async fn find_sensor_by_key(
        &self,
        access_key: &str,
        subkey: &str,
    ) -> StoreResult<Option<Sensor>>;
    /// Finds a sensor by subkey_id.
    async fn find_sensor(&self, id: i64) -> StoreResult<Option<Sensor>>;
    /// Sensors, of one license or all.
    async fn list_sensors(&self, license_id: Option<i64>) -> StoreResult<Vec<Sensor>>;
    /// Enables or disables a sensor.
    async fn set_sensor_disabled(&self, id: i64, disabled: bool, actor: &Actor) -> StoreResult<()>;

    /// Stores a session under the hash of its id.
    async fn create_session(
        &self,
        id_hash: &str,
        account_id: i64,
        principal: Principal,
        now_ms: i64,
    ) -> StoreResult<()>;
    /// Finds a live session: last seen at or after `idle_since_ms`, with principal and
    /// account enabled.
    async fn find_session(&self, id_hash: &str, idle_since_ms: i64)
        -> StoreResult<Option<Session>>;
    /// Records use of a session.
    async fn touch_session(&self, id_hash: &str, now_ms: i64) -> StoreResult<()>;
    /// Ends a session.
    async fn delete_session(&self, id_hash: &str) -> StoreResult<()>;
}
