//! Pushed events, the incidents they are grouped into, and the counts of the dashboard.
//! Part of [`crate::Store`].

use crate::error::StoreError;
use crate::error::StoreResult;
use crate::records::*;
use async_trait::async_trait;

/// Events and incidents. Writes commit durably before they return: an "OK" to a client
/// is sent only after the write returned.
#[async_trait]
pub trait EventLog: Send + Sync {
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
    /// Stores one event in its own transaction (see [`EventLog::insert_events`]).
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
    /// The host entity an identifier belongs to, with all its identifiers.
    async fn host_entity(&self, account_id: i64, identifier: &str) -> StoreResult<HostEntity>;
    /// The account's incidents, latest activity first.
    async fn list_incidents(
        &self,
        account_id: i64,
        filter: &IncidentFilter,
    ) -> StoreResult<Vec<Incident>>;
    /// One incident of the account.
    async fn get_incident(&self, account_id: i64, id: i64) -> StoreResult<Option<Incident>>;
    /// The incidents of the account an event belongs to (one per grouping it falls in),
    /// newest first: an event page links to them.
    async fn event_incidents(&self, account_id: i64, event_id: i64) -> StoreResult<Vec<Incident>>;
}
