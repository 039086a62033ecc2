//! Durable storage for pushdetect.
//!
//! [`Store`] is the one interface the server uses. [`sqlite::SqliteStore`] is the embedded
//! default; [`postgres::PgStore`] serves several nodes sharing one database. Both run the
//! same SQL (`shared_sql.rs`), with the few differences of dialect and locking named in
//! each backend's module. Times are milliseconds since the epoch.
//!
//! Both backends keep what every push reads (sessions, sensors, task licenses) in a
//! short-lived in-memory cache that their own writes invalidate (see [`LOOKUP_TTL`]), and
//! [`group_commit::GroupCommit`] stores concurrent pushes in shared transactions.

mod cache;
mod completions;
pub mod copy;
pub mod error;
pub mod group_commit;
mod incident_plan;
pub mod postgres;
pub mod records;
pub mod sqlite;

pub use cache::TTL as LOOKUP_TTL;
pub use error::{StoreError, StoreResult};
pub use records::*;

use async_trait::async_trait;

/// Everything pushdetect keeps. Implementations must commit durably before returning from
/// any write: an "OK" to a client is sent only after the write returned.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Whether any account exists (a fresh database is initialised by `serve`).
    async fn has_accounts(&self) -> StoreResult<bool>;

    /// Creates an account.
    async fn create_account(&self, name: &str, now_ms: i64) -> StoreResult<Account>;
    /// All accounts.
    async fn list_accounts(&self) -> StoreResult<Vec<Account>>;
    /// Finds an account by id or name.
    async fn find_account(&self, id_or_name: &str) -> StoreResult<Option<Account>>;
    /// Enables or disables an account; disabling also ends its sessions.
    async fn set_account_disabled(&self, id: i64, disabled: bool) -> StoreResult<()>;

    /// Creates a user.
    async fn create_user(
        &self,
        account_id: i64,
        username: &str,
        password_hash: &str,
        is_admin: bool,
        now_ms: i64,
    ) -> StoreResult<User>;
    /// Finds a user by name (disabled is true if the user or the account is).
    async fn find_user(&self, username: &str) -> StoreResult<Option<User>>;
    /// Users, of one account or all.
    async fn list_users(&self, account_id: Option<i64>) -> StoreResult<Vec<User>>;
    /// Enables or disables a user; disabling also ends their sessions.
    async fn set_user_disabled(&self, id: i64, disabled: bool) -> StoreResult<()>;

    /// Creates a license.
    async fn create_license(
        &self,
        account_id: i64,
        name: &str,
        access_key: &str,
        api_token_hash: &str,
        now_ms: i64,
    ) -> StoreResult<License>;
    /// Finds a license by access key.
    async fn find_license_by_access_key(&self, access_key: &str) -> StoreResult<Option<License>>;
    /// Finds a license by key_id.
    async fn find_license(&self, id: i64) -> StoreResult<Option<License>>;
    /// Licenses, of one account or all.
    async fn list_licenses(&self, account_id: Option<i64>) -> StoreResult<Vec<License>>;
    /// Enables or disables a license; disabling also ends its sessions.
    async fn set_license_disabled(&self, id: i64, disabled: bool) -> StoreResult<()>;
    /// Replaces a license's API token hash and ends its sessions.
    async fn set_license_token(&self, id: i64, api_token_hash: &str) -> StoreResult<()>;

    /// Creates a sensor of a license.
    async fn create_sensor(
        &self,
        license_id: i64,
        subkey: &str,
        name: &str,
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
    async fn set_sensor_disabled(&self, id: i64, disabled: bool) -> StoreResult<()>;

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

    /// Records analysis tasks (queued, or completed for external and cached results) in
    /// one transaction: all of them, or none (a uuid already taken is a conflict).
    async fn create_tasks(&self, tasks: &[&Task]) -> StoreResult<()>;
    /// Records one analysis task (see [`Store::create_tasks`]).
    async fn create_task(&self, task: &Task) -> StoreResult<()> {
        self.create_tasks(&[task]).await
    }
    /// Claims up to `limit` of the oldest queued tasks for a worker (each exactly once),
    /// marking them running; oldest first.
    async fn claim_tasks(&self, now_ms: i64, limit: u32) -> StoreResult<Vec<Task>>;
    /// Claims the oldest queued task (see [`Store::claim_tasks`]).
    async fn claim_task(&self, now_ms: i64) -> StoreResult<Option<Task>> {
        Ok(self.claim_tasks(now_ms, 1).await?.pop())
    }
    /// Puts tasks claimed before `started_before_ms` and still running back in the queue
    /// (their node stopped); returns how many.
    async fn requeue_running(&self, started_before_ms: i64) -> StoreResult<u64>;
    /// Whether other server nodes may share this database: a node then cannot tell a task
    /// another node is analysing from an abandoned one, except by its age.
    fn is_shared(&self) -> bool;
    /// Stores the scores and results of tasks and marks them completed, in one
    /// transaction; the events referring to each (of the same account) and their incidents
    /// take its score into their impact. The completion time is the database clock's,
    /// taken inside the commit's critical section (see [`Store::completion_horizon`]); it
    /// is returned.
    async fn complete_tasks(&self, done: &[Completion]) -> StoreResult<i64>;
    /// Completes one task (see [`Store::complete_tasks`]).
    async fn complete_task(
        &self,
        uuid: &str,
        score: i64,
        result: &serde_json::Value,
    ) -> StoreResult<i64> {
        let done = Completion {
            uuid: uuid.to_owned(),
            score,
            result: result.clone(),
        };
        self.complete_tasks(std::slice::from_ref(&done)).await
    }
    /// A time (ms, database clock) before which every task completion has committed: a
    /// list of tasks completed before it is final, so a poller that continues from it
    /// misses nothing. Waits for completions in flight.
    async fn completion_horizon(&self) -> StoreResult<i64>;
    /// The latest completed task of the license that analysed this subject (a file's
    /// content, or a URL), for reuse.
    async fn find_cached_result(
        &self,
        license_id: i64,
        subject: Subject<'_>,
    ) -> StoreResult<Option<Task>>;
    /// Tasks of the license completed in [after, before), oldest completion first.
    async fn completed_tasks(
        &self,
        license_id: i64,
        after_ms: i64,
        before_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<Task>>;
    /// How many tasks of the license wait in the queue, counted up to `limit` (so the
    /// count costs at most `limit` index entries): the Analyst API refuses submissions
    /// beyond a per-license bound, so that one tenant cannot fill the queue for all.
    async fn queued_tasks(&self, license_id: i64, limit: u32) -> StoreResult<u32>;
    /// Tasks of the license submitted in [after, before) and not completed, oldest first.
    async fn pending_tasks(
        &self,
        license_id: i64,
        after_ms: i64,
        before_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<Task>>;
    /// Records content the analysis API received (idempotent).
    async fn record_content(&self, content: &Content, now_ms: i64) -> StoreResult<()>;
    /// Whether the license submitted content with this SHA-256 before (content is shared
    /// on disk, but a license may only refer by hash to what it submitted itself).
    async fn license_has_content(&self, license_id: i64, sha256: &str) -> StoreResult<bool>;
    /// Whether content that a task asked to delete after analysis must stay: a task other
    /// than those in `except` still waits to analyse it (queued or running), or a license's
    /// latest submission of it did not ask for deletion (content is shared on disk, so one
    /// license's deletion must not take away what another license keeps).
    async fn content_kept(&self, sha256: &str, except: &[String]) -> StoreResult<bool>;
    /// Finds recorded content by one of its hashes: `algorithm` is md5, sha1 or sha256.
    async fn find_content(&self, algorithm: &str, hash: &str) -> StoreResult<Option<Content>>;
    /// Finds a task by uuid.
    async fn find_task(&self, uuid: &str) -> StoreResult<Option<Task>>;
    /// The license (key_id) that submitted the task, if it exists. Read for every pushed
    /// file download, so it is cached: a task's license never changes.
    async fn task_license(&self, uuid: &str) -> StoreResult<Option<i64>>;
    /// Which of these uuids are tasks of the account.
    async fn known_tasks(&self, account_id: i64, uuids: &[String]) -> StoreResult<Vec<Task>>;

    /// Counts for the dashboard: events occurred since `since_ms`, by type, by bucket of
    /// `bucket_ms`, the top `top` hosts and reporting tools.
    async fn overview(
        &self,
        account_id: i64,
        since_ms: i64,
        bucket_ms: i64,
        top: u32,
    ) -> StoreResult<Overview>;
    /// Stores events in one transaction, one answer per event in order: each with its
    /// hosts, task references and incidents, its impact raised by the scores of tasks
    /// already completed, unless its `Dedup` recognises it as a resent push of an event
    /// stored since `since_ms` (before, or earlier in the same batch). One commit for many
    /// events is what makes pushes fast (see [`group_commit`]); if any event fails,
    /// nothing is stored.
    async fn insert_events(
        &self,
        batch: &[(&NewEvent, Option<&Dedup>)],
    ) -> StoreResult<Vec<Inserted>>;
    /// Stores one event in its own transaction (see [`Store::insert_events`]).
    async fn insert_event(&self, event: &NewEvent, dedup: Option<&Dedup>) -> StoreResult<Inserted> {
        let inserted = self.insert_events(&[(event, dedup)]).await?;
        inserted
            .first()
            .copied()
            .ok_or_else(|| StoreError::Corrupt("a batch of one event stored none".into()))
    }
    /// How many write transactions are worth running at once: 1 where writes are
    /// serialised anyway (SQLite), more where the database runs them in parallel.
    fn parallel_writers(&self) -> usize;
    /// One event of the account.
    async fn get_event(&self, account_id: i64, id: i64) -> StoreResult<Option<StoredEvent>>;
    /// The account's events, newest first (by occurrence time, then id).
    async fn list_events(
        &self,
        account_id: i64,
        filter: &EventFilter,
    ) -> StoreResult<Vec<StoredEvent>>;
    /// Gives events stored before incidents existed (or by an older version) their triage
    /// and incidents, oldest first, at most `limit` of them; `triage_of` derives an event's
    /// triage from its kind, raw parameters and receive time. Returns how many were indexed.
    async fn index_backlog(
        &self,
        window_ms: i64,
        limit: u32,
        triage_of: &TriageOf,
    ) -> StoreResult<u64>;
    /// The account's incidents, latest activity first.
    async fn list_incidents(
        &self,
        account_id: i64,
        filter: &IncidentFilter,
    ) -> StoreResult<Vec<Incident>>;
    /// One incident of the account.
    async fn get_incident(&self, account_id: i64, id: i64) -> StoreResult<Option<Incident>>;
    /// The account's analysis tasks, newest submission first.
    async fn list_tasks(&self, account_id: i64, filter: &TaskFilter) -> StoreResult<Vec<Task>>;

    /// Removes sessions idle since before `sessions_before_ms` and push fingerprints older
    /// than `fingerprints_before_ms`. Returns the number of rows removed.
    async fn purge(&self, sessions_before_ms: i64, fingerprints_before_ms: i64)
        -> StoreResult<u64>;

    /// Closes connections after in-flight work.
    async fn close(&self);
}
