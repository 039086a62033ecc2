//! [`EventLog`] over SQL: reading events, incidents and the dashboard's counts. Writes
//! are in `event_writes.rs`.

use super::like_pattern;
use super::rows::{EVENT_COLUMNS, INCIDENT_COLUMNS, UNREAD_BY};
use super::statement::Statement;
use super::{Backend, SqlStore};
use crate::error::StoreResult;
use crate::records::*;
use crate::EventLog;
use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};

#[async_trait]
impl<B> EventLog for SqlStore<B>
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
    async fn insert_events(
        &self,
        batch: &[(&NewEvent, Option<&Dedup>)],
    ) -> StoreResult<Vec<Inserted>> {
        let mut tx = self.writer.begin().await?;
        let inserted = Self::insert_batch(&mut tx, batch).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    fn parallel_writers(&self) -> usize {
        B::PARALLEL_WRITERS
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
        .map(Self::stored_event)
        .transpose()
    }

    async fn list_events(&self, account_id: i64, f: &EventFilter) -> StoreResult<Vec<StoredEvent>> {
        let mut q = Statement::new(format!("SELECT {EVENT_COLUMNS}"));
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
            // Every identifier of the host's entity (see `crate::host_identity`).
            q.push(" AND e.id IN (SELECT event_id FROM event_hosts WHERE account_id = ")
                .push_bind(account_id)
                .push(" AND (host = ")
                .push_bind(host)
                .push(" OR host IN (SELECT identifier FROM host_identifiers WHERE account_id = ")
                .push_bind(account_id)
                .push(" AND entity = ");
            push_entity(&mut q, account_id, host);
            q.push(")))");
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
            // Unknown impacts last, spelled so that the impact index gives the order (an
            // expression such as COALESCE would make the database sort every event of the
            // account first).
            q.push("e.impact DESC NULLS LAST, ");
        }
        q.push(format!("e.occurred_at_ms {dir}, e.id {dir} LIMIT "))
            .push_bind(i64::from(f.limit));
        q.query::<B>()
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(Self::stored_event)
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
        // By host entity: an event naming a machine twice counts once.
        let mut top_hosts = sqlx::query(
            "SELECT COALESCE(t.entity, h.host) AS entity, COUNT(DISTINCT h.event_id) AS n \
             FROM event_hosts h JOIN events e ON e.id = h.event_id \
             LEFT JOIN host_identifiers t ON t.account_id = h.account_id \
             AND t.identifier = h.host \
             WHERE h.account_id = $1 AND e.occurred_at_ms >= $2 \
             GROUP BY COALESCE(t.entity, h.host) ORDER BY n DESC, entity LIMIT $3",
        )
        .bind(account_id)
        .bind(since_ms)
        .bind(i64::from(top))
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(|r| {
            Ok(TopHost {
                key: r.try_get("entity")?,
                events: r.try_get("n")?,
                identifiers: Vec::new(),
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        if !top_hosts.is_empty() {
            let mut q = Statement::new(
                "SELECT entity, identifier FROM host_identifiers WHERE account_id = ",
            );
            q.push_bind(account_id).push(" AND entity IN (");
            q.push_list(top_hosts.iter().map(|t| t.key.clone()))
                .push(") ORDER BY entity, identifier");
            for row in q.query::<B>().fetch_all(&self.reader).await? {
                let entity: String = row.try_get("entity")?;
                if let Some(t) = top_hosts.iter_mut().find(|t| t.key == entity) {
                    t.identifiers.push(row.try_get("identifier")?);
                }
            }
        }
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
        let indexed = Self::index_batch(&mut tx, window_ms, limit, triage_of).await?;
        tx.commit().await?;
        Ok(indexed)
    }

    async fn host_entity(&self, account_id: i64, identifier: &str) -> StoreResult<HostEntity> {
        let mut q = Statement::new(
            "SELECT identifier, entity, first_seen_ms, last_seen_ms FROM host_identifiers \
             WHERE account_id = ",
        );
        q.push_bind(account_id).push(" AND entity = ");
        push_entity(&mut q, account_id, identifier);
        q.push(" ORDER BY identifier");
        let rows = q.query::<B>().fetch_all(&self.reader).await?;
        let mut entity = HostEntity {
            key: identifier.to_owned(),
            identifiers: Vec::with_capacity(rows.len()),
        };
        for row in &rows {
            entity.key = row.try_get("entity")?;
            entity.identifiers.push(HostIdentifier {
                identifier: row.try_get("identifier")?,
                first_seen_ms: row.try_get("first_seen_ms")?,
                last_seen_ms: row.try_get("last_seen_ms")?,
            });
        }
        Ok(entity)
    }

    async fn list_incidents(
        &self,
        account_id: i64,
        f: &IncidentFilter,
    ) -> StoreResult<Vec<Incident>> {
        let mut q = Statement::new(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents i WHERE i.merged_into IS NULL \
             AND i.account_id = "
        ));
        q.push_bind(account_id);
        if let Some(host) = &f.host {
            q.push(" AND i.grouped_by = 'host' AND i.host = ");
            push_entity(&mut q, account_id, host);
        }
        if let Some(after) = f.after_ms {
            q.push(" AND i.last_ms >= ").push_bind(after);
        }
        if let Some(before) = f.before_ms {
            q.push(" AND i.first_ms < ").push_bind(before);
        }
        if let Some(min) = f.min_impact {
            q.push(" AND i.impact >= ").push_bind(min);
        }
        if let Some(status) = f.status {
            q.push(" AND i.status = ").push_bind(status.as_str());
        }
        if let Some(resolution) = f.resolution {
            q.push(" AND i.resolution = ")
                .push_bind(resolution.as_str());
        }
        match f.assignee {
            Some(AssigneeFilter::Nobody) => {
                q.push(" AND i.assignee_id IS NULL");
            }
            Some(AssigneeFilter::User(user)) => {
                q.push(" AND i.assignee_id = ").push_bind(user);
            }
            None => {}
        }
        if let Some(user) = f.unread_by {
            q.push(" AND ").push(UNREAD_BY).push_bind(user).push(")");
        }
        if let Some((last, id)) = f.cursor {
            q.push(" AND (i.last_ms < ")
                .push_bind(last)
                .push(" OR (i.last_ms = ")
                .push_bind(last)
                .push(" AND i.id < ")
                .push_bind(id)
                .push("))");
        }
        q.push(" ORDER BY i.last_ms DESC, i.id DESC LIMIT ")
            .push_bind(i64::from(f.limit));
        let rows = q.query::<B>().fetch_all(&self.reader).await?;
        rows.iter().map(Self::incident).collect()
    }

    async fn get_incident(&self, account_id: i64, id: i64) -> StoreResult<Option<Incident>> {
        sqlx::query(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents i WHERE i.account_id = $1 AND i.id = $2"
        ))
        .bind(account_id)
        .bind(id)
        .fetch_optional(&self.reader)
        .await?
        .as_ref()
        .map(Self::incident)
        .transpose()
    }

    async fn event_incidents(&self, account_id: i64, event_id: i64) -> StoreResult<Vec<Incident>> {
        sqlx::query(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents i JOIN incident_events ie \
             ON ie.incident_id = i.id WHERE ie.event_id = $1 AND i.account_id = $2 \
             ORDER BY i.last_ms DESC, i.id DESC"
        ))
        .bind(event_id)
        .bind(account_id)
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(Self::incident)
        .collect()
    }
}

/// Pushes the key of the host entity `identifier` belongs to (itself when no tie names it).
fn push_entity(q: &mut Statement, account_id: i64, identifier: &str) {
    q.push("COALESCE((SELECT entity FROM host_identifiers WHERE account_id = ")
        .push_bind(account_id)
        .push(" AND identifier = ")
        .push_bind(identifier)
        .push("), ")
        .push_bind(identifier)
        .push(")");
}
