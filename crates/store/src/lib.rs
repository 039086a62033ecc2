//! Durable storage for pushdetect.
//!
//! [`Store`] is the one interface the server uses. [`sqlite::SqliteStore`] is the embedded
//! default; [`postgres::PgStore`] serves several nodes sharing one database. Both are the
//! one SQL implementation in `sql/`, generic over its [`sql::Backend`]: the few
//! differences of dialect and locking that each database names in its own module
//! (`sqlite.rs`, `postgres.rs`). Times are milliseconds since the epoch.
//!
//! Both backends keep what every push reads (sessions, sensors, task licenses) in a
//! short-lived in-memory cache that their own writes invalidate (see [`LOOKUP_TTL`]), and
//! [`group_commit::GroupCommit`] stores concurrent pushes in shared transactions.

pub mod analyses;
pub mod backup;
mod cache;
mod completions;
pub mod copy;
pub mod directory;
pub mod error;
pub mod event_log;
pub mod external;
pub mod forwarding;
pub mod group_commit;
mod host_identity;
mod incident_plan;
pub mod postgres;
pub mod records;
pub mod retention;
mod schema;
pub mod sql;
pub mod sqlite;
mod task_options;
pub mod tokens;
pub mod workflow;

pub use analyses::Analyses;
pub use cache::TTL as LOOKUP_TTL;
pub use directory::Directory;
pub use error::{StoreError, StoreResult};
pub use event_log::EventLog;
pub use forwarding::Forwarding;
pub use records::*;
pub use retention::{Purged, Retention};
pub use schema::tables as schema_tables;
pub use task_options::SubmissionOptions;
pub use tokens::{ApiToken, ApiTokens, NewApiToken};
pub use workflow::IncidentWorkflow;

use async_trait::async_trait;

/// Everything pushdetect keeps, in five parts: [`Directory`] (who may use it),
/// [`Analyses`] (analysis tasks and content), [`EventLog`] (events and incidents),
/// [`IncidentWorkflow`] (what analysts do with incidents, and the audit trail) and
/// [`Forwarding`] (destinations and the outbox of deliveries to them).
/// Implementations must commit durably before returning from any write: an "OK" to a
/// client is sent only after the write returned.
#[async_trait]
pub trait Store:
    Directory
    + Analyses
    + EventLog
    + IncidentWorkflow
    + Forwarding
    + tokens::ApiTokens
    + retention::Retention
    + Send
    + Sync
    + 'static
{
    /// Removes sessions idle since before `sessions_before_ms`, push fingerprints kept
    /// until before `now_ms` (see [`Dedup::keep_until_ms`]), and deliveries queued for a
    /// destination removed meanwhile. Returns the number of rows removed.
    async fn purge(&self, sessions_before_ms: i64, now_ms: i64) -> StoreResult<u64>;

    /// Closes connections after in-flight work.
    async fn close(&self);
}
