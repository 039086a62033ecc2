//! [`Forwarding`]: destinations, their leases and their outbox; and the deliveries a
//! batch of events adds to the outbox in its own transaction ([`SqlStore::write_outbox`]).

use super::batch_rows::{row, Rows};
use super::rows::{EVENT_COLUMNS, INCIDENT_COLUMNS};
use super::statement::Statement;
use super::{Backend, SqlStore};
use crate::error::{conflict_as, StoreError, StoreResult};
use crate::forwarding::*;
use crate::records::{Actor, AuditAction, NewAudit};
use async_trait::async_trait;
use pushdetect_model::forwarding::{Filter, IncidentChange};
use serde_json::json;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};
use std::collections::HashMap;

/// The columns of [`Destination`], from `destinations d`.
const DESTINATION_COLUMNS: &str = "d.id, d.account_id, d.name, d.target, d.format, d.filter, \
     d.options, d.secret, d.dead_after_secs, d.disabled, d.created_at_ms";

/// The columns of [`Delivery`], from `outbox o`.
const DELIVERY_COLUMNS: &str = "o.id, o.destination_id, o.change, o.event_id, o.incident_id, \
     o.created_at_ms, o.retry_since_ms, o.attempts, o.next_attempt_ms, o.last_error, \
     o.dead_at_ms";

/// What a stored event is, for the filters of its account's destinations.
pub(super) struct Forwarded<'a> {
    pub(super) account_id: i64,
    pub(super) event_id: i64,
    pub(super) kind: &'a str,
    pub(super) impact: Option<i64>,
    pub(super) action: Option<&'a str>,
    pub(super) sensor_id: i64,
    pub(super) received_at_ms: i64,
}

/// An incident change of a transaction, for the filters of its account's destinations.
pub(super) struct ChangedIncident {
    pub(super) account_id: i64,
    pub(super) incident_id: i64,
    pub(super) change: IncidentChange,
    /// The incident's impact after the change.
    pub(super) impact: Option<i64>,
}

/// One outbox row.
fn delivery_row(
    destination_id: i64,
    change: &str,
    event_id: Option<i64>,
    incident_id: Option<i64>,
    now_ms: i64,
) -> (&'static [&'static str], [crate::sql::Bound; 7]) {
    row! {
        destination_id: destination_id,
        change: change,
        event_id: event_id,
        incident_id: incident_id,
        created_at_ms: now_ms,
        retry_since_ms: now_ms,
        next_attempt_ms: now_ms,
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
    fn destination(row: &B::Row) -> StoreResult<Destination> {
        let secret: Option<String> = row.try_get("secret")?;
        Ok(Destination {
            id: row.try_get("id")?,
            account_id: row.try_get("account_id")?,
            name: row.try_get("name")?,
            target: row.try_get("target")?,
            format: row.try_get("format")?,
            filter: Self::json_column(row, "filter")?,
            options: Self::json_column(row, "options")?,
            has_secret: secret.is_some(),
            dead_after_secs: row.try_get("dead_after_secs")?,
            disabled: row.try_get("disabled")?,
            created_at_ms: row.try_get("created_at_ms")?,
        })
    }

    fn delivery(row: &B::Row) -> StoreResult<Delivery> {
        Ok(Delivery {
            id: row.try_get("id")?,
            destination_id: row.try_get("destination_id")?,
            change: row.try_get("change")?,
            event_id: row.try_get("event_id")?,
            incident_id: row.try_get("incident_id")?,
            created_at_ms: row.try_get("created_at_ms")?,
            retry_since_ms: row.try_get("retry_since_ms")?,
            attempts: row.try_get("attempts")?,
            next_attempt_ms: row.try_get("next_attempt_ms")?,
            last_error: row.try_get("last_error")?,
            dead_at_ms: row.try_get("dead_at_ms")?,
        })
    }

    /// The enabled destinations of these accounts, with their filters.
    async fn filters_of(
        conn: &mut B::Connection,
        accounts: impl Iterator<Item = i64>,
    ) -> StoreResult<Vec<(i64, i64, Filter)>> {
        let mut accounts: Vec<i64> = accounts.collect();
        accounts.sort_unstable();
        accounts.dedup();
        if accounts.is_empty() {
            return Ok(Vec::new());
        }
        let mut q =
            Statement::new("SELECT id, account_id, filter FROM destinations WHERE disabled = ");
        q.push_bind(false).push(" AND account_id IN (");
        q.push_list(accounts).push(") ORDER BY id");
        let mut out = Vec::new();
        for row in q.query::<B>().fetch_all(&mut *conn).await? {
            let id: i64 = row.try_get("id")?;
            let filter = Filter::from_json(&Self::json_column(&row, "filter")?)
                .map_err(|e| StoreError::Corrupt(format!("destination {id} filter: {e}")))?;
            out.push((id, row.try_get("account_id")?, filter));
        }
        Ok(out)
    }

    /// Adds to the outbox, in the caller's transaction, a delivery of each stored event
    /// and each incident change to every destination of its account whose filter sends it.
    pub(super) async fn write_outbox(
        conn: &mut B::Connection,
        events: &[Forwarded<'_>],
        incidents: &[ChangedIncident],
        now_ms: i64,
    ) -> StoreResult<()> {
        let accounts = events
            .iter()
            .map(|e| e.account_id)
            .chain(incidents.iter().map(|i| i.account_id));
        let filters = Self::filters_of(&mut *conn, accounts).await?;
        if filters.is_empty() {
            return Ok(());
        }
        let mut rows = Rows::default();
        for e in events {
            for (id, _, filter) in filters.iter().filter(|(_, a, _)| *a == e.account_id) {
                if filter.sends_event(e.kind, e.impact, e.action, e.sensor_id) {
                    rows.push(delivery_row(
                        *id,
                        "event",
                        Some(e.event_id),
                        None,
                        e.received_at_ms,
                    ));
                }
            }
        }
        for i in incidents {
            for (id, _, filter) in filters.iter().filter(|(_, a, _)| *a == i.account_id) {
                if filter.sends_incident(i.change, i.impact) {
                    rows.push(delivery_row(
                        *id,
                        i.change.as_str(),
                        None,
                        Some(i.incident_id),
                        now_ms,
                    ));
                }
            }
        }
        Self::insert_rows(&mut *conn, "outbox", &rows, "").await
    }

    async fn destination_by_id(&self, account_id: i64, id: i64) -> StoreResult<Destination> {
        let row = sqlx::query(&format!(
            "SELECT {DESTINATION_COLUMNS} FROM destinations d WHERE d.account_id = $1 AND d.id = $2"
        ))
        .bind(account_id)
        .bind(id)
        .fetch_optional(&self.writer)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("destination {id}")))?;
        Self::destination(&row)
    }
}

#[async_trait]
impl<B> Forwarding for SqlStore<B>
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
    async fn create_destination(
        &self,
        new: &NewDestination,
        actor: &Actor,
    ) -> StoreResult<Destination> {
        let mut tx = self.writer.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO destinations (account_id, name, target, format, filter, options, \
             secret, dead_after_secs, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(new.account_id)
        .bind(&new.name)
        .bind(&new.target)
        .bind(&new.format)
        .bind(new.filter.to_string())
        .bind(new.options.to_string())
        .bind(new.secret.clone())
        .bind(new.dead_after_secs)
        .bind(new.created_at_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(conflict_as(format!("destination '{}'", new.name)))?;
        let record = NewAudit::of(
            Some(new.account_id),
            AuditAction::DestinationCreated,
            format!("destination {}", new.name),
        )
        .after(json!({
            "name": new.name,
            "target": new.target,
            "format": new.format,
            "filter": new.filter,
        }));
        Self::write_audit(&mut tx, actor, &record, new.created_at_ms).await?;
        tx.commit().await?;
        self.destination_by_id(new.account_id, id).await
    }

    async fn list_destinations(&self, account_id: i64) -> StoreResult<Vec<Destination>> {
        sqlx::query(&format!(
            "SELECT {DESTINATION_COLUMNS} FROM destinations d WHERE d.account_id = $1 ORDER BY d.name"
        ))
        .bind(account_id)
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(Self::destination)
        .collect()
    }

    async fn find_destination(
        &self,
        account_id: i64,
        name: &str,
    ) -> StoreResult<Option<Destination>> {
        sqlx::query(&format!(
            "SELECT {DESTINATION_COLUMNS} FROM destinations d WHERE d.account_id = $1 AND d.name = $2"
        ))
        .bind(account_id)
        .bind(name)
        .fetch_optional(&self.reader)
        .await?
        .as_ref()
        .map(Self::destination)
        .transpose()
    }

    async fn set_destination_disabled(
        &self,
        account_id: i64,
        id: i64,
        disabled: bool,
        actor: &Actor,
    ) -> StoreResult<()> {
        let found = self.destination_by_id(account_id, id).await?;
        let now_ms = chrono::Utc::now().timestamp_millis();
        let mut tx = self.writer.begin().await?;
        sqlx::query("UPDATE destinations SET disabled = $1 WHERE id = $2")
            .bind(disabled)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let record = NewAudit::of(
            Some(account_id),
            AuditAction::DestinationDisabled,
            format!("destination {}", found.name),
        )
        .change(
            json!({"disabled": found.disabled}),
            json!({"disabled": disabled}),
        );
        Self::write_audit(&mut tx, actor, &record, now_ms).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn remove_destination(&self, account_id: i64, id: i64, actor: &Actor) -> StoreResult<()> {
        let found = self.destination_by_id(account_id, id).await?;
        let now_ms = chrono::Utc::now().timestamp_millis();
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM outbox WHERE destination_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM destinations WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let record = NewAudit::of(
            Some(account_id),
            AuditAction::DestinationRemoved,
            format!("destination {}", found.name),
        )
        .change(
            json!({"name": found.name, "target": found.target}),
            json!(null),
        );
        Self::write_audit(&mut tx, actor, &record, now_ms).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn destination_secret(&self, id: i64) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar::<B, Option<String>>(
                "SELECT secret FROM destinations WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&self.writer)
            .await?
            .flatten(),
        )
    }

    async fn lease_destinations(
        &self,
        node: &str,
        now_ms: i64,
        until_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<Leased>> {
        // A destination is due when the first delivery of its outbox (in order) is: a
        // delivery waiting to be retried holds back the ones after it. Whether any is
        // due is read first, from the read pool: most rounds find none, and then take
        // nothing from the writer that pushes wait for.
        const DUE: &str = "d.disabled = $3 AND (d.lease_until_ms < $2 OR d.lease_node = $1) \
             AND (SELECT o.next_attempt_ms FROM outbox o WHERE o.destination_id = d.id \
             AND o.dead_at_ms IS NULL ORDER BY o.id LIMIT 1) <= $2";
        let any: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT d.id FROM destinations d WHERE {DUE} LIMIT 1"
        ))
        .bind(node)
        .bind(now_ms)
        .bind(false)
        .fetch_optional(&self.reader)
        .await?;
        if any.is_none() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = sqlx::query_scalar(&format!(
            "UPDATE destinations SET lease_node = $1, lease_until_ms = $5 WHERE id IN \
             (SELECT d.id FROM destinations d WHERE {DUE} ORDER BY d.id LIMIT $4{}) \
             RETURNING id",
            B::SKIP_LOCKED
        ))
        .bind(node)
        .bind(now_ms)
        .bind(false)
        .bind(i64::from(limit))
        .bind(until_ms)
        .fetch_all(&self.writer)
        .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Statement::new(format!(
            "SELECT {DESTINATION_COLUMNS} FROM destinations d WHERE d.id IN ("
        ));
        q.push_list(ids).push(") ORDER BY d.id");
        q.query::<B>()
            .fetch_all(&self.writer)
            .await?
            .iter()
            .map(|row| {
                Ok(Leased {
                    destination: Self::destination(row)?,
                    secret: row.try_get("secret")?,
                })
            })
            .collect()
    }

    async fn release_destination(&self, node: &str, id: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE destinations SET lease_node = NULL, lease_until_ms = 0 \
             WHERE id = $1 AND lease_node = $2",
        )
        .bind(id)
        .bind(node)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn pending_deliveries(
        &self,
        destination_id: i64,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>> {
        sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM outbox o WHERE o.destination_id = $1 \
             AND o.dead_at_ms IS NULL ORDER BY o.id LIMIT $2"
        ))
        .bind(destination_id)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(Self::delivery)
        .collect()
    }

    async fn carried(&self, deliveries: &[Delivery]) -> StoreResult<Vec<Carried>> {
        let event_ids: Vec<i64> = deliveries.iter().filter_map(|d| d.event_id).collect();
        let incident_ids: Vec<i64> = deliveries.iter().filter_map(|d| d.incident_id).collect();
        let mut events = HashMap::new();
        if !event_ids.is_empty() {
            let mut q = Statement::new(format!("SELECT {EVENT_COLUMNS} WHERE e.id IN ("));
            q.push_list(event_ids).push(")");
            for row in q.query::<B>().fetch_all(&self.reader).await? {
                let event = Self::stored_event(&row)?;
                events.insert(event.id, event);
            }
        }
        let mut incidents = HashMap::new();
        if !incident_ids.is_empty() {
            let mut q = Statement::new(format!(
                "SELECT {INCIDENT_COLUMNS} FROM incidents i WHERE i.id IN ("
            ));
            q.push_list(incident_ids).push(")");
            for row in q.query::<B>().fetch_all(&self.reader).await? {
                let incident = Self::incident(&row)?;
                incidents.insert(incident.id, incident);
            }
        }
        Ok(deliveries
            .iter()
            .map(|d| match (d.event_id, d.incident_id) {
                (Some(e), _) => events
                    .get(&e)
                    .map_or(Carried::Gone, |e| Carried::Event(Box::new(e.clone()))),
                (None, Some(i)) => incidents
                    .get(&i)
                    .map_or(Carried::Gone, |i| Carried::Incident(Box::new(i.clone()))),
                (None, None) => Carried::Gone,
            })
            .collect())
    }

    async fn delivered(&self, ids: &[i64]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut q = Statement::new("DELETE FROM outbox WHERE id IN (");
        q.push_list(ids.iter().copied()).push(")");
        q.query::<B>().execute(&self.writer).await?;
        Ok(())
    }

    async fn retry_delivery(&self, id: i64, next_attempt_ms: i64, error: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = $2, last_error = $3 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(next_attempt_ms)
        .bind(error)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn dead_letter(&self, ids: &[i64], now_ms: i64, error: &str) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut q = Statement::new("UPDATE outbox SET attempts = attempts + 1, dead_at_ms = ");
        q.push_bind(now_ms).push(", last_error = ").push_bind(error);
        q.push(" WHERE id IN (")
            .push_list(ids.iter().copied())
            .push(")");
        q.query::<B>().execute(&self.writer).await?;
        Ok(())
    }

    async fn dead_letters(
        &self,
        account_id: i64,
        destination_id: i64,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>> {
        sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM outbox o JOIN destinations d ON d.id = o.destination_id \
             WHERE d.account_id = $1 AND o.destination_id = $2 AND o.dead_at_ms IS NOT NULL \
             ORDER BY o.id DESC LIMIT $3"
        ))
        .bind(account_id)
        .bind(destination_id)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(Self::delivery)
        .collect()
    }

    async fn resend(
        &self,
        account_id: i64,
        destination_id: i64,
        ids: &[i64],
        now_ms: i64,
        actor: &Actor,
    ) -> StoreResult<u64> {
        let found = self.destination_by_id(account_id, destination_id).await?;
        let mut tx = self.writer.begin().await?;
        let mut q = Statement::new(
            "UPDATE outbox SET dead_at_ms = NULL, attempts = 0, last_error = NULL, retry_since_ms = ",
        );
        q.push_bind(now_ms)
            .push(", next_attempt_ms = ")
            .push_bind(now_ms);
        q.push(" WHERE destination_id = ").push_bind(destination_id);
        q.push(" AND dead_at_ms IS NOT NULL");
        if !ids.is_empty() {
            q.push(" AND id IN (")
                .push_list(ids.iter().copied())
                .push(")");
        }
        let changed = B::rows_affected(&q.query::<B>().execute(&mut *tx).await?);
        if changed > 0 {
            let record = NewAudit::of(
                Some(account_id),
                AuditAction::DestinationResend,
                format!("destination {}", found.name),
            )
            .after(json!({"deliveries": changed, "ids": ids}));
            Self::write_audit(&mut tx, actor, &record, now_ms).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    async fn outbox_depths(&self, account_id: Option<i64>) -> StoreResult<Vec<OutboxDepth>> {
        let mut q = Statement::new(
            "SELECT d.id, d.account_id, d.name, \
             SUM(CASE WHEN o.id IS NOT NULL AND o.dead_at_ms IS NULL THEN 1 ELSE 0 END) AS pending, \
             SUM(CASE WHEN o.dead_at_ms IS NOT NULL THEN 1 ELSE 0 END) AS dead, \
             MIN(CASE WHEN o.dead_at_ms IS NULL THEN o.created_at_ms END) AS oldest \
             FROM destinations d LEFT JOIN outbox o ON o.destination_id = d.id",
        );
        if let Some(account) = account_id {
            q.push(" WHERE d.account_id = ").push_bind(account);
        }
        q.push(" GROUP BY d.id, d.account_id, d.name ORDER BY d.id");
        let rows = q.query::<B>().fetch_all(&self.reader).await?;
        rows.iter()
            .map(|row| {
                Ok(OutboxDepth {
                    destination_id: row.try_get("id")?,
                    account_id: row.try_get("account_id")?,
                    name: row.try_get("name")?,
                    pending: row.try_get("pending")?,
                    dead: row.try_get("dead")?,
                    oldest_pending_ms: row.try_get("oldest")?,
                })
            })
            .collect()
    }
}
