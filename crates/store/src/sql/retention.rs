//! [`Retention`] on both backends.

use super::rows::ids;
use super::statement::Statement;
use super::{Backend, SqlStore};
use crate::error::{StoreError, StoreResult};
use crate::records::{Actor, AuditAction, NewAudit};
use crate::retention::{Purged, Retention};
use async_trait::async_trait;
use serde_json::json;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};

/// The tables whose rows name an event, besides the event itself.
const EVENT_ROWS: [&str; 5] = [
    "event_hosts",
    "push_fingerprints",
    "event_tasks",
    "incident_events",
    "outbox",
];

/// The tables whose rows belong to an incident, besides the incident itself.
const INCIDENT_ROWS: [&str; 3] = ["incident_reads", "incident_comments", "outbox"];

/// How deep a chain of merged incidents the purge follows in one batch.
const MERGE_DEPTH: usize = 16;

#[async_trait]
impl<B> Retention for SqlStore<B>
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
    for<'q> Option<i64>: Encode<'q, B> + Decode<'q, B>,
    for<'q> Option<String>: Encode<'q, B> + Decode<'q, B>,
{
    async fn set_account_retention(
        &self,
        account_id: i64,
        days: Option<i64>,
        actor: &Actor,
    ) -> StoreResult<()> {
        let before: Option<Option<i64>> =
            sqlx::query_scalar("SELECT retention_days FROM accounts WHERE id = $1")
                .bind(account_id)
                .fetch_optional(&self.writer)
                .await?;
        let before = before.ok_or_else(|| StoreError::NotFound(format!("account {account_id}")))?;
        let record = NewAudit::of(
            Some(account_id),
            AuditAction::AccountRetention,
            format!("account {account_id}"),
        )
        .change(
            json!({"retention_days": before}),
            json!({"retention_days": days}),
        );
        self.update_row(
            "accounts",
            "retention_days",
            days,
            account_id,
            None,
            actor,
            record,
        )
        .await
    }

    async fn purge_account(
        &self,
        account_id: i64,
        before_ms: i64,
        limit: u32,
    ) -> StoreResult<Purged> {
        let mut tx = self.writer.begin().await?;
        let conn = &mut *tx;
        let mut purged = Purged::default();
        let events: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM events WHERE account_id = $1 AND received_at_ms < $2 \
             ORDER BY received_at_ms, id LIMIT $3",
        )
        .bind(account_id)
        .bind(before_ms)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        let mut doomed = Vec::new();
        if !events.is_empty() {
            let mut q = Statement::new(
                "SELECT DISTINCT incident_id FROM incident_events WHERE event_id IN (",
            );
            q.push_list(events.iter().copied()).push(")");
            let touched = ids(q.query::<B>().fetch_all(&mut *conn).await?)?;
            for table in EVENT_ROWS {
                let mut q = Statement::new(format!("DELETE FROM {table} WHERE event_id IN ("));
                q.push_list(events.iter().copied()).push(")");
                q.query::<B>().execute(&mut *conn).await?;
            }
            let mut q = Statement::new("DELETE FROM events WHERE id IN (");
            q.push_list(events.iter().copied()).push(")");
            purged.events = B::rows_affected(&q.query::<B>().execute(&mut *conn).await?);
            if !touched.is_empty() {
                let mut q = Statement::new(
                    "UPDATE incidents SET events = (SELECT COUNT(*) FROM incident_events ie \
                     WHERE ie.incident_id = incidents.id) WHERE id IN (",
                );
                q.push_list(touched.iter().copied()).push(")");
                q.query::<B>().execute(&mut *conn).await?;
                let mut q = Statement::new("SELECT id FROM incidents WHERE events = 0 AND id IN (");
                q.push_list(touched.iter().copied()).push(")");
                doomed = ids(q.query::<B>().fetch_all(&mut *conn).await?)?;
            }
        }
        // Incidents merged into one that goes (they hold no events of their own) go too.
        let mut newest = doomed.clone();
        for _ in 0..MERGE_DEPTH {
            if newest.is_empty() {
                break;
            }
            let mut q = Statement::new("SELECT id FROM incidents WHERE account_id = ");
            q.push_bind(account_id)
                .push(" AND events = 0 AND merged_into IN (")
                .push_list(newest.iter().copied())
                .push(")");
            newest = ids(q.query::<B>().fetch_all(&mut *conn).await?)?;
            doomed.extend(&newest);
        }
        if !doomed.is_empty() {
            for table in INCIDENT_ROWS {
                let mut q = Statement::new(format!("DELETE FROM {table} WHERE incident_id IN ("));
                q.push_list(doomed.iter().copied()).push(")");
                q.query::<B>().execute(&mut *conn).await?;
            }
            let mut q = Statement::new("DELETE FROM incidents WHERE id IN (");
            q.push_list(doomed.iter().copied()).push(")");
            purged.incidents = B::rows_affected(&q.query::<B>().execute(&mut *conn).await?);
        }
        let tasks = sqlx::query(
            "SELECT t.uuid, t.sha256 FROM tasks t WHERE t.account_id = $1 \
             AND t.state = 'completed' AND t.created_at_ms < $2 AND NOT EXISTS \
             (SELECT 1 FROM event_tasks et WHERE et.account_id = t.account_id \
             AND et.task_uuid = t.uuid) LIMIT $3",
        )
        .bind(account_id)
        .bind(before_ms)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        if !tasks.is_empty() {
            let mut uuids = Vec::new();
            let mut hashes = Vec::new();
            for row in &tasks {
                uuids.push(row.try_get::<String, _>("uuid")?);
                if let Some(sha256) = row.try_get::<Option<String>, _>("sha256")? {
                    if !hashes.contains(&sha256) {
                        hashes.push(sha256);
                    }
                }
            }
            let mut q = Statement::new("DELETE FROM tasks WHERE uuid IN (");
            q.push_list(uuids).push(")");
            purged.tasks = B::rows_affected(&q.query::<B>().execute(&mut *conn).await?);
            for sha256 in hashes {
                let kept: bool =
                    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tasks WHERE sha256 = $1)")
                        .bind(&sha256)
                        .fetch_one(&mut *conn)
                        .await?;
                if !kept {
                    sqlx::query("DELETE FROM contents WHERE sha256 = $1")
                        .bind(&sha256)
                        .execute(&mut *conn)
                        .await?;
                    purged.contents.push(sha256);
                }
            }
        }
        tx.commit().await?;
        Ok(purged)
    }
}
