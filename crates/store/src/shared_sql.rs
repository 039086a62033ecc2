// The Store implementation shared by the SQLite and PostgreSQL backends: one SQL text for
// both (`$N` placeholders, which sqlx binds on SQLite too), included by `sqlite.rs` and
// `postgres.rs`. The including module defines:
// - `Db`, `DbRow`, `DbConn`: the sqlx database, row and connection types;
// - `ThisStore`: the store type, with `writer` and `reader` pools;
// - `SKIP_LOCKED`: the row-locking clause of claims ("" where the backend has none);
// - `SHARED`: whether several server nodes may use the database;
// - `PARALLEL_WRITERS`: how many write transactions are worth running at once;
// - `JSON_ROWS`: a table expression with one row (`value`) per element of the JSON array
//   bound as `$1`, so that a whole batch of rows is one statement with one SQL text;
// - `lock_all(conn, exclusive, shared)`: transaction-scoped locks on names, taken in one
//   fixed order, for work that must not run twice at once across nodes (a no-op where
//   writes are already serialised).

fn account(row: &DbRow) -> StoreResult<Account> {
    Ok(Account {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        disabled: row.try_get("disabled")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

const USER_COLUMNS: &str = "u.id, u.account_id, u.username, u.password_hash, u.is_admin, \
     (u.disabled OR a.disabled) AS disabled FROM users u JOIN accounts a ON a.id = u.account_id";

fn user(row: &DbRow) -> StoreResult<User> {
    Ok(User {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        username: row.try_get("username")?,
        password_hash: row.try_get("password_hash")?,
        is_admin: row.try_get("is_admin")?,
        disabled: row.try_get("disabled")?,
    })
}

const LICENSE_COLUMNS: &str = "l.id, l.account_id, l.name, l.access_key, l.api_token_hash, \
     (l.disabled OR a.disabled) AS disabled FROM licenses l JOIN accounts a ON a.id = l.account_id";

fn license(row: &DbRow) -> StoreResult<License> {
    Ok(License {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        access_key: row.try_get("access_key")?,
        api_token_hash: row.try_get("api_token_hash")?,
        disabled: row.try_get("disabled")?,
    })
}

const SENSOR_COLUMNS: &str = "s.id, s.license_id, l.account_id, l.access_key, s.subkey, s.name, \
     (s.disabled OR l.disabled OR a.disabled) AS disabled FROM sensors s \
     JOIN licenses l ON l.id = s.license_id JOIN accounts a ON a.id = l.account_id";

fn sensor(row: &DbRow) -> StoreResult<Sensor> {
    Ok(Sensor {
        id: row.try_get("id")?,
        license_id: row.try_get("license_id")?,
        account_id: row.try_get("account_id")?,
        access_key: row.try_get("access_key")?,
        subkey: row.try_get("subkey")?,
        name: row.try_get("name")?,
        disabled: row.try_get("disabled")?,
    })
}

const TASK_COLUMNS: &str = "uuid, account_id, license_id, created_at_ms, kind, state, sha256, \
     filename, url, options, score, result, completed_at_ms";

fn task(row: &DbRow) -> StoreResult<Task> {
    let kind: String = row.try_get("kind")?;
    let state: String = row.try_get("state")?;
    let result: Option<String> = row.try_get("result")?;
    Ok(Task {
        uuid: row.try_get("uuid")?,
        account_id: row.try_get("account_id")?,
        license_id: row.try_get("license_id")?,
        created_at_ms: row.try_get("created_at_ms")?,
        kind: TaskKind::from_name(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("task kind '{kind}'")))?,
        state: TaskState::from_name(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("task state '{state}'")))?,
        sha256: row.try_get("sha256")?,
        filename: row.try_get("filename")?,
        url: row.try_get("url")?,
        options: json_column(row, "options")?,
        score: row.try_get("score")?,
        result: result
            .map(|r| serde_json::from_str(&r))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("task result: {e}")))?,
        completed_at_ms: row.try_get("completed_at_ms")?,
    })
}

const EVENT_COLUMNS: &str = "e.id, e.kind, e.received_at_ms, e.occurred_at_ms, e.license_id, \
     l.access_key, e.sensor_id, s.subkey, e.pushed_by_user_id, e.pushed_by_license_id, \
     COALESCE(pu.username, pl.access_key) AS pushed_by_label, e.vendor_name, e.tool_name, \
     e.fields, e.raw_params, e.action, e.impact, \
     (SELECT string_agg(h.host, '\n') FROM event_hosts h WHERE h.event_id = e.id) AS hosts \
     FROM events e \
     JOIN licenses l ON l.id = e.license_id JOIN sensors s ON s.id = e.sensor_id \
     LEFT JOIN users pu ON pu.id = e.pushed_by_user_id \
     LEFT JOIN licenses pl ON pl.id = e.pushed_by_license_id";

fn json_column(row: &DbRow, name: &str) -> StoreResult<serde_json::Value> {
    let text: String = row.try_get(name)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
}

fn principal(user_id: Option<i64>, license_id: Option<i64>) -> StoreResult<Principal> {
    match (user_id, license_id) {
        (Some(u), None) => Ok(Principal::User(u)),
        (None, Some(l)) => Ok(Principal::License(l)),
        _ => Err(StoreError::Corrupt(
            "principal must be a user or a license".into(),
        )),
    }
}

fn split_principal(p: Principal) -> (Option<i64>, Option<i64>) {
    match p {
        Principal::User(u) => (Some(u), None),
        Principal::License(l) => (None, Some(l)),
    }
}

fn stored_event(row: &DbRow) -> StoreResult<StoredEvent> {
    Ok(StoredEvent {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        received_at_ms: row.try_get("received_at_ms")?,
        occurred_at_ms: row.try_get("occurred_at_ms")?,
        license_id: row.try_get("license_id")?,
        access_key: row.try_get("access_key")?,
        sensor_id: row.try_get("sensor_id")?,
        subkey: row.try_get("subkey")?,
        pushed_by: principal(
            row.try_get("pushed_by_user_id")?,
            row.try_get("pushed_by_license_id")?,
        )?,
        pushed_by_label: row.try_get("pushed_by_label")?,
        vendor_name: row.try_get("vendor_name")?,
        tool_name: row.try_get("tool_name")?,
        fields: json_column(row, "fields")?,
        raw_params: json_column(row, "raw_params")?,
        hosts: {
            let joined: Option<String> = row.try_get("hosts")?;
            let mut hosts: Vec<String> = joined
                .map(|j| j.split('\n').map(str::to_owned).collect())
                .unwrap_or_default();
            hosts.sort();
            hosts
        },
        action: row.try_get("action")?,
        impact: row.try_get("impact")?,
    })
}

fn incident(row: &DbRow) -> StoreResult<Incident> {
    Ok(Incident {
        id: row.try_get("id")?,
        host: row.try_get("host")?,
        first_ms: row.try_get("first_ms")?,
        last_ms: row.try_get("last_ms")?,
        events: row.try_get("events")?,
        impact: row.try_get("impact")?,
    })
}

const INCIDENT_COLUMNS: &str = "id, host, first_ms, last_ms, events, impact";

use crate::incident_plan::higher;

/// The SQL of a LIKE pattern that finds `text` as a plain substring.
fn like_pattern(text: &str) -> String {
    format!(
        "%{}%",
        text.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

/// Fails with NotFound when an update touched no row.
fn expect_row(result: <Db as sqlx::Database>::QueryResult, what: String) -> StoreResult<()> {
    if result.rows_affected() == 0 {
        Err(StoreError::NotFound(what))
    } else {
        Ok(())
    }
}

impl ThisStore {
    /// The pool that writes, for whole-database work such as copying.
    pub(crate) fn pool(&self) -> &sqlx::Pool<Db> {
        &self.writer
    }
}

impl ThisStore {
    /// Sets one column of one row and, when `end_sessions` names the sessions column that
    /// refers to that row, ends those sessions, in one transaction. NotFound if no such row.
    async fn update_row<V>(
        &self,
        table: &str,
        column: &str,
        value: V,
        id: i64,
        end_sessions: Option<&str>,
    ) -> StoreResult<()>
    where
        V: Send + for<'q> sqlx::Encode<'q, Db> + sqlx::Type<Db> + 'static,
    {
        let mut tx = self.writer.begin().await?;
        let r = sqlx::query(&format!("UPDATE {table} SET {column} = $1 WHERE id = $2"))
            .bind(value)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        expect_row(r, format!("{} {id}", table.trim_end_matches('s')))?;
        if let Some(session_column) = end_sessions {
            sqlx::query(&format!("DELETE FROM sessions WHERE {session_column} = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.lookups.credentials_changed();
        Ok(())
    }
}

#[async_trait]
impl Store for ThisStore {
    async fn has_accounts(&self) -> StoreResult<bool> {
        let row = sqlx::query("SELECT EXISTS (SELECT 1 FROM accounts) AS found")
            .fetch_one(&self.writer)
            .await?;
        Ok(row.try_get("found")?)
    }

    async fn create_account(&self, name: &str, now_ms: i64) -> StoreResult<Account> {
        let row = sqlx::query(
            "INSERT INTO accounts (name, created_at_ms) VALUES ($1, $2) \
             RETURNING id, name, disabled, created_at_ms",
        )
        .bind(name)
        .bind(now_ms)
        .fetch_one(&self.writer)
        .await
        .map_err(conflict_as(format!("account '{name}'")))?;
        account(&row)
    }

    async fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        sqlx::query("SELECT id, name, disabled, created_at_ms FROM accounts ORDER BY id")
            .fetch_all(&self.writer)
            .await?
            .iter()
            .map(account)
            .collect()
    }

    async fn find_account(&self, id_or_name: &str) -> StoreResult<Option<Account>> {
        let id = id_or_name.parse::<i64>().unwrap_or(-1);
        sqlx::query(
            "SELECT id, name, disabled, created_at_ms FROM accounts WHERE id = $1 OR name = $2 \
             ORDER BY id = $3 DESC LIMIT 1",
        )
        .bind(id)
        .bind(id_or_name)
        .bind(id)
        .fetch_optional(&self.writer)
        .await?
        .as_ref()
        .map(account)
        .transpose()
    }

    async fn set_account_disabled(&self, id: i64, disabled: bool) -> StoreResult<()> {
        // Disabling ends the account's sessions; enabling leaves none to end.
        let end = disabled.then_some("account_id");
        self.update_row("accounts", "disabled", disabled, id, end)
            .await
    }

    async fn create_user(
        &self,
        account_id: i64,
        username: &str,
        password_hash: &str,
        is_admin: bool,
        now_ms: i64,
    ) -> StoreResult<User> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (account_id, username, password_hash, is_admin, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(account_id)
        .bind(username)
        .bind(password_hash)
        .bind(is_admin)
        .bind(now_ms)
        .fetch_one(&self.writer)
        .await
        .map_err(conflict_as(format!("user '{username}'")))?;
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} WHERE u.id = $1"))
            .bind(id)
            .fetch_one(&self.writer)
            .await?;
        user(&row)
    }

    async fn find_user(&self, username: &str) -> StoreResult<Option<User>> {
        sqlx::query(&format!("SELECT {USER_COLUMNS} WHERE u.username = $1"))
            .bind(username)
            .fetch_optional(&self.reader)
            .await?
            .as_ref()
            .map(user)
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
        .map(user)
        .collect()
    }

    async fn set_user_disabled(&self, id: i64, disabled: bool) -> StoreResult<()> {
        self.update_row("users", "disabled", disabled, id, Some("user_id"))
            .await
    }

    async fn create_license(
        &self,
        account_id: i64,
        name: &str,
        access_key: &str,
        api_token_hash: &str,
        now_ms: i64,
    ) -> StoreResult<License> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO licenses (account_id, name, access_key, api_token_hash, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(account_id)
        .bind(name)
        .bind(access_key)
        .bind(api_token_hash)
        .bind(now_ms)
        .fetch_one(&self.writer)
        .await
        .map_err(conflict_as("license with this access key"))?;
        let row = sqlx::query(&format!("SELECT {LICENSE_COLUMNS} WHERE l.id = $1"))
            .bind(id)
            .fetch_one(&self.writer)
            .await?;
        license(&row)
    }

    async fn find_license_by_access_key(&self, access_key: &str) -> StoreResult<Option<License>> {
        sqlx::query(&format!("SELECT {LICENSE_COLUMNS} WHERE l.access_key = $1"))
            .bind(access_key)
            .fetch_optional(&self.reader)
            .await?
            .as_ref()
            .map(license)
            .transpose()
    }

    async fn find_license(&self, id: i64) -> StoreResult<Option<License>> {
        sqlx::query(&format!("SELECT {LICENSE_COLUMNS} WHERE l.id = $1"))
            .bind(id)
            .fetch_optional(&self.reader)
            .await?
            .as_ref()
            .map(license)
            .transpose()
    }

    async fn list_licenses(&self, account_id: Option<i64>) -> StoreResult<Vec<License>> {
        sqlx::query(&format!(
            "SELECT {LICENSE_COLUMNS} WHERE $1 IS NULL OR l.account_id = $2 ORDER BY l.id"
        ))
        .bind(account_id)
        .bind(account_id)
        .fetch_all(&self.writer)
        .await?
        .iter()
        .map(license)
        .collect()
    }

    async fn set_license_disabled(&self, id: i64, disabled: bool) -> StoreResult<()> {
        self.update_row("licenses", "disabled", disabled, id, Some("license_id"))
            .await
    }

    async fn set_license_token(&self, id: i64, api_token_hash: &str) -> StoreResult<()> {
        self.update_row(
            "licenses",
            "api_token_hash",
            api_token_hash.to_owned(),
            id,
            Some("license_id"),
        )
        .await
    }

    async fn create_sensor(
        &self,
        license_id: i64,
        subkey: &str,
        name: &str,
        now_ms: i64,
    ) -> StoreResult<Sensor> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sensors (license_id, subkey, name, created_at_ms) VALUES ($1, $2, $3, $4) \
             RETURNING id",
        )
        .bind(license_id)
        .bind(subkey)
        .bind(name)
        .bind(now_ms)
        .fetch_one(&self.writer)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::NotFound(format!("license {license_id}"))
            }
            _ => conflict_as(format!("sensor subkey '{subkey}'"))(e),
        })?;
        let row = sqlx::query(&format!("SELECT {SENSOR_COLUMNS} WHERE s.id = $1"))
            .bind(id)
            .fetch_one(&self.writer)
            .await?;
        sensor(&row)
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
        let found = sqlx::query(&format!(
            "SELECT {SENSOR_COLUMNS} WHERE l.access_key = $1 AND s.subkey = $2"
        ))
        .bind(access_key)
        .bind(subkey)
        .fetch_optional(&self.reader)
        .await?
        .as_ref()
        .map(sensor)
        .transpose()?;
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
        let found = sqlx::query(&format!("SELECT {SENSOR_COLUMNS} WHERE s.id = $1"))
            .bind(id)
            .fetch_optional(&self.reader)
            .await?
            .as_ref()
            .map(sensor)
            .transpose()?;
        if let Some(found) = &found {
            let lookups = &self.lookups;
            lookups.keep(&lookups.sensors_by_id, generation, id, found.clone());
        }
        Ok(found)
    }

    async fn list_sensors(&self, license_id: Option<i64>) -> StoreResult<Vec<Sensor>> {
        sqlx::query(&format!(
            "SELECT {SENSOR_COLUMNS} WHERE $1 IS NULL OR s.license_id = $2 ORDER BY s.id"
        ))
        .bind(license_id)
        .bind(license_id)
        .fetch_all(&self.writer)
        .await?
        .iter()
        .map(sensor)
        .collect()
    }

    async fn set_sensor_disabled(&self, id: i64, disabled: bool) -> StoreResult<()> {
        self.update_row("sensors", "disabled", disabled, id, None)
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
        let found = row
            .map(|row| {
                Ok::<_, StoreError>(Session {
                    account_id: row.try_get("account_id")?,
                    principal: principal(row.try_get("user_id")?, row.try_get("license_id")?)?,
                    label: row.try_get("label")?,
                    last_seen_ms: row.try_get("last_seen_ms")?,
                })
            })
            .transpose()?;
        if let Some(found) = &found {
            let lookups = &self.lookups;
            lookups.keep(&lookups.sessions, generation, id_hash.to_owned(), found.clone());
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

    async fn create_tasks(&self, tasks: &[&Task]) -> StoreResult<()> {
        let Some(first) = tasks.first() else {
            return Ok(());
        };
        let what = match tasks.len() {
            1 => format!("task {}", first.uuid),
            n => format!("one of {n} tasks"),
        };
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "INSERT INTO tasks (uuid, account_id, license_id, created_at_ms, kind, state, sha256, \
             filename, url, options, score, result, completed_at_ms) ",
        );
        q.push_values(tasks, |mut row, t| {
            row.push_bind(t.uuid.clone())
                .push_bind(t.account_id)
                .push_bind(t.license_id)
                .push_bind(t.created_at_ms)
                .push_bind(t.kind.as_str())
                .push_bind(t.state.as_str())
                .push_bind(t.sha256.clone())
                .push_bind(t.filename.clone())
                .push_bind(t.url.clone())
                .push_bind(t.options.to_string())
                .push_bind(t.score)
                .push_bind(t.result.as_ref().map(|r| r.to_string()))
                .push_bind(t.completed_at_ms);
        });
        q.build()
            .execute(&self.writer)
            .await
            .map_err(conflict_as(what))?;
        Ok(())
    }

    async fn find_task(&self, uuid: &str) -> StoreResult<Option<Task>> {
        sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE uuid = $1"))
            .bind(uuid)
            .fetch_optional(&self.reader)
            .await?
            .as_ref()
            .map(task)
            .transpose()
    }

    async fn task_license(&self, uuid: &str) -> StoreResult<Option<i64>> {
        if let Some(license) = self.lookups.task_licenses.get(uuid) {
            return Ok(Some(license));
        }
        let generation = self.lookups.generation();
        let license: Option<i64> =
            sqlx::query_scalar("SELECT license_id FROM tasks WHERE uuid = $1")
                .bind(uuid)
                .fetch_optional(&self.reader)
                .await?;
        if let Some(license) = license {
            let lookups = &self.lookups;
            lookups.keep(&lookups.task_licenses, generation, uuid.to_owned(), license);
        }
        Ok(license)
    }

    async fn claim_tasks(&self, now_ms: i64, limit: u32) -> StoreResult<Vec<Task>> {
        // Each task is claimed once: the select-and-update is atomic on SQLite's single
        // writer, and skips rows other nodes have locked on PostgreSQL.
        let mut claimed = sqlx::query(&format!(
            "UPDATE tasks SET state = 'running', started_at_ms = $1 WHERE uuid IN \
             (SELECT uuid FROM tasks WHERE state = 'queued' ORDER BY created_at_ms, uuid \
             LIMIT $2{SKIP_LOCKED}) RETURNING {TASK_COLUMNS}"
        ))
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await?
        .iter()
        .map(task)
        .collect::<StoreResult<Vec<Task>>>()?;
        claimed.sort_by(|a, b| (a.created_at_ms, &a.uuid).cmp(&(b.created_at_ms, &b.uuid)));
        Ok(claimed)
    }

    async fn requeue_running(&self, started_before_ms: i64) -> StoreResult<u64> {
        Ok(sqlx::query(
            "UPDATE tasks SET state = 'queued', started_at_ms = NULL \
             WHERE state = 'running' AND started_at_ms < $1",
        )
        .bind(started_before_ms)
        .execute(&self.writer)
        .await?
        .rows_affected())
    }

    fn is_shared(&self) -> bool {
        SHARED
    }

    async fn complete_tasks(&self, done: &[Completion]) -> StoreResult<i64> {
        if done.is_empty() {
            return self.completion_horizon().await;
        }
        // Held until the commit: the horizon is not read while these completions are in
        // flight (completion_horizon), on this node nor, by the advisory lock, on others.
        let _completing = self.completions.completing().await;
        let mut tx = self.writer.begin().await?;
        // The tasks alone: events being written that refer to them have committed, or
        // will read these scores.
        let locks: Vec<String> = done.iter().map(|d| triage::task_lock(&d.uuid)).collect();
        lock_all(
            &mut tx,
            &locks,
            &[crate::completions::COMPLETIONS_LOCK.to_owned()],
        )
        .await?;
        let now_ms: i64 = sqlx::query_scalar(&format!("SELECT {DB_NOW_MS}"))
            .fetch_one(&mut *tx)
            .await?;
        for d in done {
            let r = sqlx::query(
                "UPDATE tasks SET state = 'completed', score = $1, result = $2, \
                 completed_at_ms = $3 WHERE uuid = $4",
            )
            .bind(d.score)
            .bind(d.result.to_string())
            .bind(now_ms)
            .bind(&d.uuid)
            .execute(&mut *tx)
            .await?;
            expect_row(r, format!("task {}", d.uuid))?;
        }
        // The events of each task's own account that refer to it, and their incidents,
        // take its score if it is higher. Most analyses have none: they are found first.
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "SELECT DISTINCT t.uuid FROM event_tasks et JOIN tasks t \
             ON t.uuid = et.task_uuid AND t.account_id = et.account_id WHERE t.uuid IN (",
        );
        let mut list = q.separated(", ");
        for d in done {
            list.push_bind(d.uuid.clone());
        }
        q.push(")");
        let referred: Vec<String> = q.build_query_scalar().fetch_all(&mut *tx).await?;
        let raised = "CASE WHEN COALESCE(impact, $1) > $1 THEN COALESCE(impact, $1) ELSE $1 END";
        let referring = "SELECT et.event_id FROM event_tasks et JOIN tasks t \
             ON t.uuid = et.task_uuid AND t.account_id = et.account_id WHERE t.uuid = $2";
        for d in done.iter().filter(|d| referred.contains(&d.uuid)) {
            sqlx::query(&format!(
                "UPDATE events SET impact = {raised} WHERE id IN ({referring})"
            ))
            .bind(d.score)
            .bind(&d.uuid)
            .execute(&mut *tx)
            .await?;
            sqlx::query(&format!(
                "UPDATE incidents SET impact = {raised} WHERE id IN \
                 (SELECT incident_id FROM incident_events WHERE event_id IN ({referring}))"
            ))
            .bind(d.score)
            .bind(&d.uuid)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(now_ms)
    }

    async fn completion_horizon(&self) -> StoreResult<i64> {
        let _quiet = self.completions.quiet().await;
        let mut tx = self.reader.begin().await?;
        lock_all(
            &mut tx,
            &[crate::completions::COMPLETIONS_LOCK.to_owned()],
            &[],
        )
        .await?;
        let now_ms: i64 = sqlx::query_scalar(&format!("SELECT {DB_NOW_MS}"))
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(now_ms)
    }

    async fn find_cached_result(
        &self,
        license_id: i64,
        subject: Subject<'_>,
    ) -> StoreResult<Option<Task>> {
        let (kind, column, value) = match subject {
            Subject::Sha256(sha256) => ("file", "sha256", sha256),
            Subject::Url(url) => ("url", "url", url),
        };
        sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE license_id = $1 AND {column} = $2 \
             AND kind = '{kind}' AND state = 'completed' ORDER BY completed_at_ms DESC LIMIT 1"
        ))
        .bind(license_id)
        .bind(value)
        .fetch_optional(&self.reader)
        .await?
        .as_ref()
        .map(task)
        .transpose()
    }

    async fn completed_tasks(
        &self,
        license_id: i64,
        after_ms: i64,
        before_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<Task>> {
        sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE license_id = $1 AND state = 'completed' \
             AND kind <> 'external' AND completed_at_ms >= $2 AND completed_at_ms < $3 \
             ORDER BY completed_at_ms, uuid LIMIT $4"
        ))
        .bind(license_id)
        .bind(after_ms)
        .bind(before_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(task)
        .collect()
    }

    async fn queued_tasks(&self, license_id: i64, limit: u32) -> StoreResult<u32> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM tasks WHERE license_id = $1 \
             AND state = 'queued' LIMIT $2) AS waiting",
        )
        .bind(license_id)
        .bind(i64::from(limit))
        .fetch_one(&self.reader)
        .await?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    async fn pending_tasks(
        &self,
        license_id: i64,
        after_ms: i64,
        before_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<Task>> {
        sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE license_id = $1 AND state <> 'completed' \
             AND created_at_ms >= $2 AND created_at_ms < $3 ORDER BY created_at_ms, uuid LIMIT $4"
        ))
        .bind(license_id)
        .bind(after_ms)
        .bind(before_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(task)
        .collect()
    }

    async fn record_content(&self, c: &Content, now_ms: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO contents (sha256, md5, sha1, size, stored_at_ms) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(&c.sha256)
        .bind(&c.md5)
        .bind(&c.sha1)
        .bind(c.size)
        .bind(now_ms)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn license_has_content(&self, license_id: i64, sha256: &str) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM tasks WHERE license_id = $1 AND sha256 = $2) AS found",
        )
        .bind(license_id)
        .bind(sha256)
        .fetch_one(&self.reader)
        .await?;
        Ok(row.try_get("found")?)
    }

    async fn content_kept(&self, sha256: &str, except: &[String]) -> StoreResult<bool> {
        let mut q: QueryBuilder<Db> =
            QueryBuilder::new("SELECT EXISTS (SELECT 1 FROM tasks t WHERE t.sha256 = ");
        q.push_bind(sha256.to_owned());
        q.push(" AND ((t.state IN ('queued', 'running')");
        for uuid in except {
            q.push(" AND t.uuid <> ").push_bind(uuid.clone());
        }
        q.push(format!(
            ") OR (NOT {asked} AND NOT EXISTS (SELECT 1 FROM tasks later \
             WHERE later.sha256 = t.sha256 AND later.license_id = t.license_id \
             AND later.created_at_ms > t.created_at_ms AND {later_asked})))) AS found",
            asked = delete_asked("t"),
            later_asked = delete_asked("later"),
        ));
        let row = q.build().fetch_one(&self.writer).await?;
        Ok(row.try_get("found")?)
    }

    async fn find_content(&self, algorithm: &str, hash: &str) -> StoreResult<Option<Content>> {
        let column = match algorithm {
            "md5" => "md5",
            "sha1" => "sha1",
            _ => "sha256",
        };
        let row = sqlx::query(&format!(
            "SELECT sha256, md5, sha1, size FROM contents WHERE {column} = $1 LIMIT 1"
        ))
        .bind(hash.to_ascii_lowercase())
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| {
            Ok(Content {
                sha256: r.try_get("sha256")?,
                md5: r.try_get("md5")?,
                sha1: r.try_get("sha1")?,
                size: r.try_get("size")?,
            })
        })
        .transpose()
    }

    async fn known_tasks(&self, account_id: i64, uuids: &[String]) -> StoreResult<Vec<Task>> {
        if uuids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q: QueryBuilder<Db> = QueryBuilder::new(format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE account_id = "
        ));
        q.push_bind(account_id).push(" AND uuid IN (");
        let mut sep = q.separated(", ");
        for u in uuids {
            sep.push_bind(u);
        }
        q.push(")");
        q.build()
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(task)
            .collect()
    }

    async fn insert_events(&self, batch: &[(&NewEvent, Option<&Dedup>)]) -> StoreResult<Vec<Inserted>> {
        let mut tx = self.writer.begin().await?;
        let inserted = insert_batch(&mut tx, batch).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    fn parallel_writers(&self) -> usize {
        PARALLEL_WRITERS
    }

    async fn get_event(&self, account_id: i64, id: i64) -> StoreResult<Option<StoredEvent>> {
        sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} WHERE e.account_id = $1 AND e.id = $2"
        ))
        .bind(account_id)
        .bind(id)
        .fetch_optional(&self.reader)
        .await?
        .as_ref()
        .map(stored_event)
        .transpose()
    }

    async fn list_events(&self, account_id: i64, f: &EventFilter) -> StoreResult<Vec<StoredEvent>> {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(format!("SELECT {EVENT_COLUMNS}"));
        q.push(" WHERE e.account_id = ").push_bind(account_id);
        if let Some(kind) = &f.kind {
            q.push(" AND e.kind = ").push_bind(kind);
        }
        if let Some(after) = f.after_ms {
            q.push(" AND e.occurred_at_ms >= ").push_bind(after);
        }
        if let Some(before) = f.before_ms {
            q.push(" AND e.occurred_at_ms < ").push_bind(before);
        }
        if let Some(host) = &f.host {
            q.push(" AND e.id IN (SELECT event_id FROM event_hosts WHERE account_id = ")
                .push_bind(account_id)
                .push(" AND host = ")
                .push_bind(host)
                .push(")");
        }
        if let Some(v) = &f.vendor_name {
            q.push(" AND e.vendor_name = ").push_bind(v);
        }
        if let Some(t) = &f.tool_name {
            q.push(" AND e.tool_name = ").push_bind(t);
        }
        if let Some(s) = f.sensor_id {
            q.push(" AND e.sensor_id = ").push_bind(s);
        }
        if let Some(text) = &f.text {
            let pattern = like_pattern(&text.to_lowercase());
            q.push(" AND (");
            for (i, column) in ["e.fields", "e.raw_params", "e.vendor_name", "e.tool_name"]
                .iter()
                .enumerate()
            {
                if i > 0 {
                    q.push(" OR ");
                }
                q.push(format!("LOWER({column})"))
                    .push(" LIKE ")
                    .push_bind(pattern.clone())
                    .push(" ESCAPE '\\'");
            }
            q.push(")");
        }
        if let Some(id) = f.after_id {
            q.push(" AND e.id > ").push_bind(id);
        }
        if let Some(action) = &f.action {
            q.push(" AND e.action = ").push_bind(action);
        }
        if let Some(min) = f.min_impact {
            q.push(" AND e.impact >= ").push_bind(min);
        }
        if let Some(max) = f.max_impact {
            q.push(" AND e.impact <= ").push_bind(max);
        }
        if let Some(incident) = f.incident_id {
            q.push(" AND e.id IN (SELECT event_id FROM incident_events WHERE incident_id = ")
                .push_bind(incident)
                .push(")");
        }
        let (cmp, dir) = match f.order {
            EventOrder::Oldest => (">", "ASC"),
            EventOrder::Newest | EventOrder::Impact => ("<", "DESC"),
        };
        if let Some(c) = f.cursor {
            // Strictly after the cursor in the list's order: (key, time, id) compared as a row.
            q.push(" AND (");
            if f.order == EventOrder::Impact {
                q.push("COALESCE(e.impact, -1) < ")
                    .push_bind(c.impact)
                    .push(" OR (COALESCE(e.impact, -1) = ")
                    .push_bind(c.impact)
                    .push(" AND (");
            }
            q.push(format!("e.occurred_at_ms {cmp} "))
                .push_bind(c.occurred_at_ms)
                .push(" OR (e.occurred_at_ms = ")
                .push_bind(c.occurred_at_ms)
                .push(format!(" AND e.id {cmp} "))
                .push_bind(c.id)
                .push(")");
            if f.order == EventOrder::Impact {
                q.push("))");
            }
            q.push(")");
        }
        q.push(" ORDER BY ");
        if f.order == EventOrder::Impact {
            q.push("COALESCE(e.impact, -1) DESC, ");
        }
        q.push(format!("e.occurred_at_ms {dir}, e.id {dir} LIMIT "))
            .push_bind(i64::from(f.limit));
        q.build()
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(stored_event)
            .collect()
    }

    async fn overview(
        &self,
        account_id: i64,
        since_ms: i64,
        bucket_ms: i64,
        top: u32,
    ) -> StoreResult<Overview> {
        let bucket_ms = bucket_ms.max(1);
        let per_kind = sqlx::query(
            "SELECT kind, COUNT(*) AS n FROM events WHERE account_id = $1 AND occurred_at_ms >= $2 \
             GROUP BY kind ORDER BY kind",
        )
        .bind(account_id)
        .bind(since_ms)
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("kind")?, r.try_get("n")?)))
        .collect::<StoreResult<Vec<_>>>()?;
        let per_action = sqlx::query(
            "SELECT COALESCE(action, 'none') AS a, COUNT(*) AS n FROM events \
             WHERE account_id = $1 AND occurred_at_ms >= $2 GROUP BY a ORDER BY a",
        )
        .bind(account_id)
        .bind(since_ms)
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("a")?, r.try_get("n")?)))
        .collect::<StoreResult<Vec<_>>>()?;
        let per_bucket = sqlx::query(
            "SELECT (occurred_at_ms - $1) / $2 AS b, kind, COUNT(*) AS n FROM events \
             WHERE account_id = $3 AND occurred_at_ms >= $1 GROUP BY b, kind ORDER BY b, kind",
        )
        .bind(since_ms)
        .bind(bucket_ms)
        .bind(account_id)
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(|r| {
            let b: i64 = r.try_get("b")?;
            Ok((
                since_ms + b * bucket_ms,
                r.try_get("kind")?,
                r.try_get("n")?,
            ))
        })
        .collect::<StoreResult<Vec<_>>>()?;
        let top_hosts = sqlx::query(
            "SELECT h.host, COUNT(*) AS n FROM event_hosts h JOIN events e ON e.id = h.event_id \
             WHERE h.account_id = $1 AND e.occurred_at_ms >= $2 GROUP BY h.host \
             ORDER BY n DESC, h.host LIMIT $3",
        )
        .bind(account_id)
        .bind(since_ms)
        .bind(i64::from(top))
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("host")?, r.try_get("n")?)))
        .collect::<StoreResult<Vec<_>>>()?;
        let top_tools = sqlx::query(
            "SELECT vendor_name, tool_name, COUNT(*) AS n FROM events \
             WHERE account_id = $1 AND occurred_at_ms >= $2 GROUP BY vendor_name, tool_name \
             ORDER BY n DESC, vendor_name, tool_name LIMIT $3",
        )
        .bind(account_id)
        .bind(since_ms)
        .bind(i64::from(top))
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("vendor_name")?,
                r.try_get("tool_name")?,
                r.try_get("n")?,
            ))
        })
        .collect::<StoreResult<Vec<_>>>()?;
        Ok(Overview {
            per_kind,
            per_action,
            per_bucket,
            top_hosts,
            top_tools,
        })
    }

    async fn index_backlog(
        &self,
        window_ms: i64,
        limit: u32,
        triage_of: &TriageOf,
    ) -> StoreResult<u64> {
        let mut tx = self.writer.begin().await?;
        let rows = sqlx::query(
            "SELECT id, account_id, kind, received_at_ms, occurred_at_ms, raw_params FROM events \
             WHERE incidents_indexed = 0 ORDER BY id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        // Each event's triage and hosts, then every lock at once, as a push batch takes them.
        let mut triages = Vec::with_capacity(rows.len());
        let mut hosts = Vec::with_capacity(rows.len());
        let (mut keys, mut tasks) = (Vec::new(), Vec::new());
        for row in &rows {
            let account_id: i64 = row.try_get("account_id")?;
            let t = triage_of(
                &row.try_get::<String, _>("kind")?,
                &json_column(row, "raw_params")?,
                row.try_get("received_at_ms")?,
            );
            tasks.extend(t.task_uuids.iter().map(|u| triage::task_lock(u)));
            let of_event: Vec<String> =
                sqlx::query_scalar("SELECT host FROM event_hosts WHERE event_id = $1")
                    .bind(row.try_get::<i64, _>("id")?)
                    .fetch_all(&mut *tx)
                    .await?;
            keys.extend(of_event.iter().map(|h| triage::incident_lock(account_id, h)));
            triages.push(t);
            hosts.push(of_event);
        }
        lock_all(&mut tx, &keys, &tasks).await?;
        let mut placed = Vec::with_capacity(rows.len());
        for ((row, hosts), t) in rows.iter().zip(&hosts).zip(&triages) {
            let id: i64 = row.try_get("id")?;
            let account_id: i64 = row.try_get("account_id")?;
            let best = triage::task_score(&mut tx, account_id, &t.task_uuids).await?;
            let impact = higher(t.base_impact, best);
            sqlx::query(
                "UPDATE events SET action = $1, impact = $2, incidents_indexed = 1 WHERE id = $3",
            )
            .bind(&t.action)
            .bind(impact)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            let links = t.task_uuids.iter().map(|u| serde_json::json!([id, account_id, u]));
            triage::link_tasks(&mut tx, links.collect()).await?;
            placed.push(Placed {
                account_id,
                event_id: id,
                hosts,
                occurred_at_ms: row.try_get("occurred_at_ms")?,
                impact,
                window_ms,
            });
        }
        write_incidents(&mut tx, &placed).await?;
        tx.commit().await?;
        Ok(rows.len() as u64)
    }

    async fn list_incidents(
        &self,
        account_id: i64,
        f: &IncidentFilter,
    ) -> StoreResult<Vec<Incident>> {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE account_id = "
        ));
        q.push_bind(account_id);
        if let Some(host) = &f.host {
            q.push(" AND host = ").push_bind(host);
        }
        if let Some(after) = f.after_ms {
            q.push(" AND last_ms >= ").push_bind(after);
        }
        if let Some(before) = f.before_ms {
            q.push(" AND first_ms < ").push_bind(before);
        }
        if let Some(min) = f.min_impact {
            q.push(" AND impact >= ").push_bind(min);
        }
        if let Some((last, id)) = f.cursor {
            q.push(" AND (last_ms < ")
                .push_bind(last)
                .push(" OR (last_ms = ")
                .push_bind(last)
                .push(" AND id < ")
                .push_bind(id)
                .push("))");
        }
        q.push(" ORDER BY last_ms DESC, id DESC LIMIT ")
            .push_bind(i64::from(f.limit));
        q.build()
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(incident)
            .collect()
    }

    async fn get_incident(&self, account_id: i64, id: i64) -> StoreResult<Option<Incident>> {
        sqlx::query(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE account_id = $1 AND id = $2"
        ))
        .bind(account_id)
        .bind(id)
        .fetch_optional(&self.reader)
        .await?
        .as_ref()
        .map(incident)
        .transpose()
    }

    async fn list_tasks(&self, account_id: i64, f: &TaskFilter) -> StoreResult<Vec<Task>> {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE account_id = "
        ));
        q.push_bind(account_id);
        if let Some(state) = f.state {
            q.push(" AND state = ").push_bind(state.as_str());
        }
        if let Some(kind) = f.kind {
            q.push(" AND kind = ").push_bind(kind.as_str());
        }
        if let Some((at, uuid)) = &f.cursor {
            q.push(" AND (created_at_ms < ")
                .push_bind(*at)
                .push(" OR (created_at_ms = ")
                .push_bind(*at)
                .push(" AND uuid < ")
                .push_bind(uuid.clone())
                .push("))");
        }
        q.push(" ORDER BY created_at_ms DESC, uuid DESC LIMIT ")
            .push_bind(i64::from(f.limit));
        q.build()
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(task)
            .collect()
    }

    async fn purge(
        &self,
        sessions_before_ms: i64,
        fingerprints_before_ms: i64,
    ) -> StoreResult<u64> {
        let mut tx = self.writer.begin().await?;
        let a = sqlx::query("DELETE FROM sessions WHERE last_seen_ms < $1")
            .bind(sessions_before_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let b = sqlx::query("DELETE FROM push_fingerprints WHERE received_at_ms < $1")
            .bind(fingerprints_before_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(a + b)
    }

    async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}
