//! The incident workflow and the audit trail: what analysts do with incidents (status,
//! assignee, comments, merge, split, read marks) and the append-only record of every
//! change. Part of [`crate::Store`].
//!
//! Every change is checked against the model's rules ([`pushdetect_model::workflow`]) and
//! written with its audit record in one transaction, under the same lock as the events
//! joining the incident: two analysts (on two nodes) changing one incident at once leave
//! one consistent history, and an event that reopens a closed incident is never lost to a
//! concurrent close.

use crate::error::StoreResult;
use crate::records::*;
use async_trait::async_trait;
use pushdetect_model::workflow::Change;

/// Incident workflow changes and reads, each change with its audit record.
#[async_trait]
pub trait IncidentWorkflow: Send + Sync {
    /// Applies a change of status, resolution, reason or assignee to an incident of the
    /// account; returns the incident after it. A change that changes nothing records
    /// nothing. Refused (StoreError::Refused) by the model's rules, for an assignee who is
    /// not an enabled analyst or admin of the account, or for a merged-away incident;
    /// NotFound for an incident of another account.
    async fn update_incident(
        &self,
        account_id: i64,
        id: i64,
        change: &Change,
        actor: &Actor,
        now_ms: i64,
    ) -> StoreResult<Incident>;

    /// Adds, edits or redacts a comment; returns the comment after it. Only the author
    /// edits their comment, within [`pushdetect_model::workflow::COMMENT_EDIT_WINDOW_MS`];
    /// the author or an admin (`may_redact_any`) redacts it.
    async fn comment(
        &self,
        account_id: i64,
        change: &CommentChange<'_>,
        may_redact_any: bool,
        actor: &Actor,
        now_ms: i64,
    ) -> StoreResult<Comment>;

    /// The comments of an incident (and of those merged into it), oldest first.
    async fn list_comments(&self, account_id: i64, incident_id: i64) -> StoreResult<Vec<Comment>>;

    /// Merges incidents of the account into `into`: their events move, the survivor's
    /// counts, times and impact are recomputed, the others answer with a pointer to it.
    async fn merge_incidents(
        &self,
        account_id: i64,
        into: i64,
        others: &[i64],
        actor: &Actor,
        now_ms: i64,
    ) -> StoreResult<Incident>;

    /// Moves events of an incident into a new incident of the same host; returns the new
    /// one. Refused if the events are not all of the incident, or are all of them.
    async fn split_incident(
        &self,
        account_id: i64,
        id: i64,
        event_ids: &[i64],
        actor: &Actor,
        now_ms: i64,
    ) -> StoreResult<Incident>;

    /// Marks an incident read by a user, up to its latest event.
    async fn mark_read(&self, account_id: i64, incident_id: i64, user_id: i64) -> StoreResult<()>;

    /// How many incidents of the account that are not closed the user has not read.
    async fn unread_count(&self, account_id: i64, user_id: i64) -> StoreResult<i64>;

    /// The history of an incident (and of those merged into it), oldest first.
    async fn incident_history(
        &self,
        account_id: i64,
        incident_id: i64,
    ) -> StoreResult<Vec<AuditRecord>>;

    /// Writes an audit record on its own: logins and failed logins, which change nothing
    /// else.
    async fn record_audit(&self, actor: &Actor, record: &NewAudit, now_ms: i64) -> StoreResult<()>;

    /// The audit trail, newest first.
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>>;
}
