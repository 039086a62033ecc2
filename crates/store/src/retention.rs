//! Retention: how long an account keeps its events, and the purge of what is older, in
//! small batches so that pushes never wait long behind it.

use crate::error::StoreResult;
use crate::records::Actor;
use async_trait::async_trait;

/// What one purge batch removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Purged {
    /// Events.
    pub events: u64,
    /// Incidents left without events (and those merged into them).
    pub incidents: u64,
    /// Finished analysis tasks older than the cutoff that no kept event names.
    pub tasks: u64,
    /// Analysed content no task refers to any more (SHA-256): the caller removes the
    /// files.
    pub contents: Vec<String>,
}

/// The storage side of retention.
#[async_trait]
pub trait Retention {
    /// Sets how many days an account keeps its events (none: for ever); audited as
    /// `account.retention`. NotFound for an unknown account.
    async fn set_account_retention(
        &self,
        account_id: i64,
        days: Option<i64>,
        actor: &Actor,
    ) -> StoreResult<()>;
    /// Removes, in one transaction, up to `limit` events of the account received before
    /// `before_ms`, with what refers to them (hosts, task links, fingerprints, queued
    /// deliveries), the incidents they leave empty (with their comments and read marks;
    /// the audit trail keeps their history), and up to `limit` finished analysis tasks of
    /// the account submitted before `before_ms` that no remaining event names.
    async fn purge_account(
        &self,
        account_id: i64,
        before_ms: i64,
        limit: u32,
    ) -> StoreResult<Purged>;
}
