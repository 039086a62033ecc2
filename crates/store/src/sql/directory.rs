//! [`Directory`] over SQL: accounts, users, licenses, sensors and sessions. The lookups
//! every push makes (sensors by key and id, sessions) are served from the store's cache
//! while fresh; writes that change credentials invalidate it.

use super::rows::{split_principal, LICENSE_COLUMNS, SENSOR_COLUMNS, USER_COLUMNS};
use super::{Backend, SqlStore};
use crate::error::{conflict_as, StoreError, StoreResult};
use crate::records::*;
use crate::Directory;
use async_trait::async_trait;
use serde_json::json;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};

#[async_trait]
impl<B> Directory for SqlStore<B>
where
    B: Backend,
    for<'c> &'c mut B::Connection: Executor<'c, Database = B>,
    for<'q> B::Arguments<'q>: IntoArguments<'q, B>,
    for<'r> &'r str: ColumnIndex<B::Row>,
    usize: ColumnIndex<B::Row>,
    for<'q> i64: Encode<'q, B> + Decode<'q, B> + Type<B>,
    for<'q> bool: Encode<'q, B> + Decode<'q, B> + Type<B>,
    for<'q> String: Encode<'q, B> + Decode<'q, B> + Type<B>,
    for<'q> &'q str: Encode<'q, B> + Type<B>,
    for<'q> Option<i64>: Encode<'q, B>,
    for<'q> Option<String>: Encode<'q, B>,
{
    async fn has_accounts(&self) -> StoreResult<bool> {
        let row = sqlx::query("SELECT EXISTS (SELECT 1 FROM accounts) AS found")
            .fetch_one(&self.writer)
            .await?;
        Ok(row.try_get("found")?)
    }

    async fn create_account(&self, name: &str, actor: &Actor, now_ms: i64) -> StoreResult<Account> {
        let mut tx = self.writer.begin().await?;
        let account = sqlx::query_as::<B, Account>(
            "INSERT INTO accounts (name, created_at_ms) VALUES ($1, $2) \
             RETURNING id, name, disabled, created_at_ms, grouping, retention_days",
        )
        .bind(name)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(conflict_as(format!("account '{name}'")))?;
        let record = NewAudit::of(
            Some(account.id),
            AuditAction::AccountCreated,
            format!("account {name}"),
        )
        .after(serde_json::json!({"name": name}));
        Self::write_audit(&mut tx, actor, &record, now_ms).await?;
        tx.commit().await?;
        Ok(account)
    }

    async fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        Ok(sqlx::query_as::<B, Account>(
            "SELECT id, name, disabled, created_at_ms, grouping, retention_days FROM accounts ORDER BY id",
        )
        .fetch_all(&self.writer)
        .await?)
    }

    async fn find_account(&self, id_or_name: &str) -> StoreResult<Option<Account>> {
        let id = id_or_name.parse::<i64>().unwrap_or(-1);
        Ok(sqlx::query_as::<B, Account>(
            "SELECT id, name, disabled, created_at_ms, grouping, retention_days FROM accounts WHERE id = $1 OR name = $2 \
             ORDER BY id = $3 DESC LIMIT 1",
        )
        .bind(id)
        .bind(id_or_name)
        .bind(id)
        .fetch_optional(&self.writer)
        .await?)
    }

    async fn set_account_disabled(
        &self,
        id: i64,
        disabled: bool,
        actor: &Actor,
    ) -> StoreResult<()> {
        // Disabling ends the account's sessions; enabling leaves none to end.
        let end = disabled.then_some("account_id");
        let record = NewAudit::of(
            Some(id),
            AuditAction::AccountDisabled,
            format!("account {id}"),
        )
        .change(
            json!({"disabled": !disabled}),
            json!({"disabled": disabled}),
        );
        self.update_row("accounts", "disabled", disabled, id, end, actor, record)
            .await
    }

    async fn set_account_grouping(
        &self,
        id: i64,
        grouping: &Grouping,
        actor: &Actor,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let before: Option<String> =
            sqlx::query_scalar("SELECT grouping FROM accounts WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let before = before.ok_or_else(|| StoreError::NotFound(format!("account {id}")))?;
        let after = grouping.to_text();
        sqlx::query("UPDATE accounts SET grouping = $1 WHERE id = $2")
            .bind(&after)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let record = NewAudit::of(
            Some(id),
            AuditAction::AccountGrouping,
            format!("account {id}"),
        )
        .change(json!({"grouping": before}), json!({"grouping": after}));
        Self::write_audit(
            &mut tx,
            actor,
            &record,
            chrono::Utc::now().timestamp_millis(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_user(
        &self,
        account_id: i64,
        username: &str,
        password_hash: &str,
        role: Role,
        actor: &Actor,
        now_ms: i64,
    ) -> StoreResult<User> {
        let mut tx = self.writer.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (account_id, username, password_hash, role, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(account_id)
        .bind(username)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(conflict_as(format!("user '{username}'")))?;
        let record = NewAudit::of(
            Some(account_id),
            AuditAction::UserCreated,
            format!("user {username}"),
        )
        .after(json!({"username": username, "role": role.as_str()}));
        Self::write_audit(&mut tx, actor, &record, now_ms).await?;
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} WHERE u.id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Self::user(&row)
    }

    async fn find_user(&self, username: &str) -> StoreResult<Option<User>> {
        sqlx::query(&format!("SELECT {USER_COLUMNS} WHERE u.username = $1"))
            .bind(username)
            .fetch_optional(&self.reader)
            .await?
            .as_ref()
            .map(Self::user)
            .transpose()
    }

    async fn list_users(&self, account_id: Option<i64>) -> StoreResult<Vec<User>> {
        sqlx::query(&format!(
            "SELECT {USER_COLUMNS} WHERE $1 IS NULL OR u.account_id = $2 ORDER BY u.id"
        ))
        .bind(account_id)
        .bind(account_id)
        .fetch_all(&self.writer)
        .await?
        .iter()
        .map(Self::user)
        .collect()
    }

    async fn set_user_disabled(&self, id: i64, disabled: bool, actor: &Actor) -> StoreResult<()> {
        let user = self.user_by_id(id).await?;
        let record = NewAudit::of(
            Some(user.account_id),
            AuditAction::UserDisabled,
            format!("user {}", user.username),
        )
        .change(
            json!({"disabled": !disabled}),
            json!({"disabled": disabled}),
        );
        self.update_row(
            "users",
            "disabled",
            disabled,
            id,
            Some("user_id"),
            actor,
            record,
        )
        .await
    }

    async fn set_user_password(
        &self,
        id: i64,
        password_hash: &str,
        reset: bool,
        actor: &Actor,
    ) -> StoreResult<()> {
        // The password itself is a secret: the trail says that it changed, and how.
        let user = self.user_by_id(id).await?;
        let action = if reset {
            AuditAction::UserPasswordReset
        } else {
            AuditAction::UserPasswordChanged
        };
        let record = NewAudit::of(
            Some(user.account_id),
            action,
            format!("user {}", user.username),
        );
        self.update_row(
            "users",
            "password_hash",
            password_hash.to_owned(),
            id,
            Some("user_id"),
            actor,
            record,
        )
        .await
    }

    async fn set_user_role(&self, id: i64, role: Role, actor: &Actor) -> StoreResult<()> {
        let user = self.user_by_id(id).await?;
        let record = NewAudit::of(
            Some(user.account_id),
            AuditAction::UserRole,
            format!("user {}", user.username),
        )
        .change(
            json!({"role": user.role.as_str()}),
            json!({"role": role.as_str()}),
        );
        self.update_row(
            "users",
            "role",
            role.as_str().to_owned(),
            id,
            None,
            actor,
            record,
        )
        .await
    }

    async fn create_license(
        &self,
        account_id: i64,
        name: &str,
        access_key: &str,
        api_token_hash: &str,
        actor: &Actor,
        now_ms: i64,
    ) -> StoreResult<License> {
        let mut tx = self.writer.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO licenses (account_id, name, access_key, api_token_hash, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(account_id)
        .bind(name)
        .bind(access_key)
        .bind(api_token_hash)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(conflict_as("license with this access key"))?;
        let record = NewAudit::of(
            Some(account_id),
            AuditAction::LicenseCreated,
            format!("license {id}"),
        )
        .after(json!({"name": name, "access_key": access_key}));
        Self::write_audit(&mut tx, actor, &record, now_ms).await?;
        let license =
            sqlx::query_as::<B, License>(&format!("SELECT {LICENSE_COLUMNS} WHERE l.id = $1"))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(license)
    }

    async fn find_license_by_access_key(&self, access_key: &str) -> StoreResult<Option<License>> {
        Ok(sqlx::query_as::<B, License>(&format!(
            "SELECT {LICENSE_COLUMNS} WHERE l.access_key = $1"
        ))
        .bind(access_key)
        .fetch_optional(&self.reader)
        .await?)
    }

    async fn find_license(&self, id: i64) -> StoreResult<Option<License>> {
        Ok(
            sqlx::query_as::<B, License>(&format!("SELECT {LICENSE_COLUMNS} WHERE l.id = $1"))
                .bind(id)
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    async fn list_licenses(&self, account_id: Option<i64>) -> StoreResult<Vec<License>> {
        Ok(sqlx::query_as::<B, License>(&format!(
            "SELECT {LICENSE_COLUMNS} WHERE $1 IS NULL OR l.account_id = $2 ORDER BY l.id"
        ))
        .bind(account_id)
        .bind(account_id)
        .fetch_all(&self.writer)
        .await?)
    }

    async fn set_license_disabled(
        &self,
        id: i64,
        disabled: bool,
        actor: &Actor,
    ) -> StoreResult<()> {
        let account = self.license_account(id).await?;
        let record = NewAudit::of(
            Some(account),
            AuditAction::LicenseDisabled,
            format!("license {id}"),
        )
        .change(
            json!({"disabled": !disabled}),
            json!({"disabled": disabled}),
        );
        self.update_row(
            "licenses",
            "disabled",
            disabled,
            id,
            Some("license_id"),
            actor,
            record,
        )
        .await
    }

    async fn set_license_token(
        &self,
        id: i64,
        api_token_hash: &str,
        actor: &Actor,
    ) -> StoreResult<()> {
        // The token itself is a secret: the trail says that it changed, not what to.
        let account = self.license_account(id).await?;
        let record = NewAudit::of(
            Some(account),
            AuditAction::LicenseTokenRotated,
            format!("license {id}"),
        );
        self.update_row(
            "licenses",
            "api_token_hash",
            api_token_hash.to_owned(),
            id,
            Some("license_id"),
            actor,
            record,
        )
        .await
    }

    async fn create_sensor(
        &self,
        license_id: i64,
        subkey: &str,
        name: &str,
        actor: &Actor,
        now_ms: i64,
    ) -> StoreResult<Sensor> {
        let mut tx = self.writer.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sensors (license_id, subkey, name, created_at_ms) VALUES ($1, $2, $3, $4) \
             RETURNING id",
        )
        .bind(license_id)
        .bind(subkey)
        .bind(name)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::NotFound(format!("license {license_id}"))
            }
            _ => conflict_as(format!("sensor subkey '{subkey}'"))(e),
        })?;
        let sensor =
            sqlx::query_as::<B, Sensor>(&format!("SELECT {SENSOR_COLUMNS} WHERE s.id = $1"))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        let record = NewAudit::of(
            Some(sensor.account_id),
            AuditAction::SensorCreated,
            format!("sensor {id}"),
        )
        .after(json!({"license": license_id, "subkey": subkey, "name": name}));
        Self::write_audit(&mut tx, actor, &record, now_ms).await?;
        tx.commit().await?;
        Ok(sensor)
    }

    async fn find_sensor_by_key(
        &self,
        access_key: &str,
        subkey: &str,
    ) -> StoreResult<Option<Sensor>> {
        let key = (access_key.to_owned(), subkey.to_owned());
        if let Some(found) = self.lookups.sensors_by_key.get(&key) {
            return Ok(Some(found));
        }
        let generation = self.lookups.generation();
        let found = sqlx::query_as::<B, Sensor>(&format!(
            "SELECT {SENSOR_COLUMNS} WHERE l.access_key = $1 AND s.subkey = $2"
        ))
        .bind(access_key)
        .bind(subkey)
        .fetch_optional(&self.reader)
        .await?;
        if let Some(found) = &found {
            let lookups = &self.lookups;
            lookups.keep(&lookups.sensors_by_key, generation, key, found.clone());
        }
        Ok(found)
    }

    async fn find_sensor(&self, id: i64) -> StoreResult<Option<Sensor>> {
        if let Some(found) = self.lookups.sensors_by_id.get(&id) {
            return Ok(Some(found));
        }
        let generation = self.lookups.generation();
        let found =
            sqlx::query_as::<B, Sensor>(&format!("SELECT {SENSOR_COLUMNS} WHERE s.id = $1"))
                .bind(id)
                .fetch_optional(&self.reader)
                .await?;
        if let Some(found) = &found {
            let lookups = &self.lookups;
            lookups.keep(&lookups.sensors_by_id, generation, id, found.clone());
        }
        Ok(found)
    }

    async fn list_sensors(&self, license_id: Option<i64>) -> StoreResult<Vec<Sensor>> {
        Ok(sqlx::query_as::<B, Sensor>(&format!(
            "SELECT {SENSOR_COLUMNS} WHERE $1 IS NULL OR s.license_id = $2 ORDER BY s.id"
        ))
        .bind(license_id)
        .bind(license_id)
        .fetch_all(&self.writer)
        .await?)
    }

    async fn set_sensor_disabled(&self, id: i64, disabled: bool, actor: &Actor) -> StoreResult<()> {
        let account = self
            .find_sensor(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("sensor {id}")))?
            .account_id;
        let record = NewAudit::of(
            Some(account),
            AuditAction::SensorDisabled,
            format!("sensor {id}"),
        )
        .change(
            json!({"disabled": !disabled}),
            json!({"disabled": disabled}),
        );
        self.update_row("sensors", "disabled", disabled, id, None, actor, record)
            .await
    }

    async fn create_session(
        &self,
        id_hash: &str,
        account_id: i64,
        principal: Principal,
        now_ms: i64,
    ) -> StoreResult<()> {
        let (user_id, license_id) = split_principal(principal);
        sqlx::query(
            "INSERT INTO sessions (id_hash, account_id, user_id, license_id, created_at_ms, \
             last_seen_ms) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id_hash)
        .bind(account_id)
        .bind(user_id)
        .bind(license_id)
        .bind(now_ms)
        .bind(now_ms)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn find_session(
        &self,
        id_hash: &str,
        idle_since_ms: i64,
    ) -> StoreResult<Option<Session>> {
        if let Some(found) = self.lookups.sessions.get(id_hash) {
            if found.last_seen_ms >= idle_since_ms {
                return Ok(Some(found));
            }
        }
        let generation = self.lookups.generation();
        let row = sqlx::query(
            "SELECT s.account_id, s.user_id, s.license_id, s.last_seen_ms, \
             COALESCE(u.username, l.access_key) AS label \
             FROM sessions s JOIN accounts a ON a.id = s.account_id \
             LEFT JOIN users u ON u.id = s.user_id \
             LEFT JOIN licenses l ON l.id = s.license_id \
             WHERE s.id_hash = $1 AND s.last_seen_ms >= $2 AND NOT a.disabled \
             AND NOT COALESCE(u.disabled, l.disabled)",
        )
        .bind(id_hash)
        .bind(idle_since_ms)
        .fetch_optional(&self.reader)
        .await?;
        let found = row.as_ref().map(Self::session).transpose()?;
        if let Some(found) = &found {
            let lookups = &self.lookups;
            lookups.keep(
                &lookups.sessions,
                generation,
                id_hash.to_owned(),
                found.clone(),
            );
        }
        Ok(found)
    }

    async fn touch_session(&self, id_hash: &str, now_ms: i64) -> StoreResult<()> {
        let generation = self.lookups.generation();
        sqlx::query("UPDATE sessions SET last_seen_ms = $1 WHERE id_hash = $2")
            .bind(now_ms)
            .bind(id_hash)
            .execute(&self.writer)
            .await?;
        let lookups = &self.lookups;
        if let Some(mut touched) = lookups.sessions.get(id_hash) {
            touched.last_seen_ms = touched.last_seen_ms.max(now_ms);
            lookups.keep(&lookups.sessions, generation, id_hash.to_owned(), touched);
        }
        Ok(())
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.writer)
            .await?;
        self.lookups.credentials_changed();
        Ok(())
    }
}

impl<B> SqlStore<B>
where
    B: Backend,
    for<'c> &'c mut B::Connection: Executor<'c, Database = B>,
    for<'q> B::Arguments<'q>: IntoArguments<'q, B>,
    for<'r> &'r str: ColumnIndex<B::Row>,
    usize: ColumnIndex<B::Row>,
    for<'q> i64: Encode<'q, B> + Decode<'q, B> + Type<B>,
    for<'q> bool: Encode<'q, B> + Decode<'q, B> + Type<B>,
    for<'q> String: Encode<'q, B> + Decode<'q, B> + Type<B>,
    for<'q> &'q str: Encode<'q, B> + Type<B>,
    for<'q> Option<i64>: Encode<'q, B>,
    for<'q> Option<String>: Encode<'q, B>,
{
    /// A user by id, or NotFound.
    async fn user_by_id(&self, id: i64) -> StoreResult<User> {
        sqlx::query(&format!("SELECT {USER_COLUMNS} WHERE u.id = $1"))
            .bind(id)
            .fetch_optional(&self.writer)
            .await?
            .as_ref()
            .map(Self::user)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("user {id}")))
    }

    /// The account of a license, or NotFound.
    async fn license_account(&self, id: i64) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT account_id FROM licenses WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.writer)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("license {id}")))
    }
}
