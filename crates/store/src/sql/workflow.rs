//! [`IncidentWorkflow`] over SQL. Each change runs in one transaction that holds the
//! account's incident lock (the lock pushes take, see `event_writes.rs`),
//! reads the incident as it is under that lock, applies the model's rule, and writes the
//! change with its audit records.

use super::event_writes::incident_lock;
use super::forwarding::ChangedIncident;
use super::rows::{split_principal, INCIDENT_COLUMNS, UNREAD_BY};
use super::statement::Statement;
use super::{Backend, SqlStore};
use crate::error::{StoreError, StoreResult};
use crate::records::*;
use crate::IncidentWorkflow;
use async_trait::async_trait;
use pushdetect_model::forwarding::IncidentChange;
use pushdetect_model::workflow::{Change, COMMENT_EDIT_WINDOW_MS, MAX_MERGE, MAX_SPLIT};
use pushdetect_model::{ApiError, ErrorCode};
use serde_json::{json, Value};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};

/// The columns of [`Comment`], from `incident_comments c` joined to its author.
const COMMENT_COLUMNS: &str = "c.id, c.incident_id, c.author_user_id, c.author_license_id, \
     COALESCE(cu.username, cl.access_key, '') AS author_label, c.created_at_ms, \
     c.edited_at_ms, c.body, c.redacted FROM incident_comments c \
     LEFT JOIN users cu ON cu.id = c.author_user_id \
     LEFT JOIN licenses cl ON cl.id = c.author_license_id";

fn refused(code: ErrorCode, message: String) -> StoreError {
    StoreError::Refused(ApiError::new(code, message))
}

fn not_found(id: i64) -> StoreError {
    StoreError::NotFound(format!("incident {id}"))
}

/// The part of a workflow the status record shows.
pub(super) fn status_value(w: &Workflow) -> Value {
    json!({
        "status": w.status.as_str(),
        "resolution": w.resolution.map(|r| r.as_str()),
        "reason": w.reason,
    })
}

/// Refuses a change of an incident merged into another, pointing to the survivor.
fn live(incident: &Incident) -> StoreResult<()> {
    match incident.merged_into {
        Some(into) => Err(refused(
            ErrorCode::NotPossible,
            format!(
                "incident {} was merged into incident {into}: change incident {into} instead",
                incident.id
            ),
        )),
        None => Ok(()),
    }
}

/// An id list as a merge or split takes it: sorted, each once, not empty (else `missing`
/// names what `name` should hold), and at most `max` ids of `noun`.
fn id_set(
    ids: &[i64],
    name: &str,
    missing: &str,
    (noun, max): (&str, usize),
) -> StoreResult<Vec<i64>> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Err(StoreError::Refused(ApiError::missing(name, missing)));
    }
    if ids.len() > max {
        return Err(StoreError::Refused(ApiError::invalid(
            name,
            &format!("at most {max} {noun} ids"),
        )));
    }
    Ok(ids)
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
    /// The account's incidents of these ids, locked (the account's incident lock), in the
    /// order asked; NotFound naming the first that is not the account's.
    async fn lock_incidents(
        conn: &mut B::Connection,
        account_id: i64,
        ids: &[i64],
    ) -> StoreResult<Vec<Incident>> {
        B::lock_all(&mut *conn, &[incident_lock(account_id)], &[]).await?;
        let mut q = Statement::new(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents i WHERE i.account_id = "
        ));
        q.push_bind(account_id).push(" AND i.id IN (");
        q.push_list(ids.iter().copied()).push(")");
        let rows = q.query::<B>().fetch_all(&mut *conn).await?;
        let found: Vec<Incident> = rows.iter().map(Self::incident).collect::<Result<_, _>>()?;
        ids.iter()
            .map(|id| {
                found
                    .iter()
                    .find(|i| i.id == *id)
                    .cloned()
                    .ok_or_else(|| not_found(*id))
            })
            .collect()
    }

    /// One incident of the account, read in the caller's transaction.
    async fn incident_in(
        conn: &mut B::Connection,
        account_id: i64,
        id: i64,
    ) -> StoreResult<Incident> {
        let row = sqlx::query(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents i WHERE i.account_id = $1 AND i.id = $2"
        ))
        .bind(account_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        row.as_ref()
            .map(Self::incident)
            .transpose()?
            .ok_or_else(|| not_found(id))
    }

    /// Refuses an assignee who is not an enabled analyst or admin of the account.
    async fn check_assignee(
        conn: &mut B::Connection,
        account_id: i64,
        user_id: i64,
    ) -> StoreResult<()> {
        let row = sqlx::query(
            "SELECT u.role, (u.disabled OR a.disabled) AS disabled FROM users u \
             JOIN accounts a ON a.id = u.account_id WHERE u.id = $1 AND u.account_id = $2",
        )
        .bind(user_id)
        .bind(account_id)
        .fetch_optional(&mut *conn)
        .await?;
        let fit = match &row {
            Some(row) => {
                let role: String = row.try_get("role")?;
                let disabled: bool = row.try_get("disabled")?;
                !disabled && role != Role::Viewer.as_str()
            }
            None => false,
        };
        if fit {
            Ok(())
        } else {
            Err(StoreError::Refused(ApiError::invalid(
                "assignee",
                "the user name of an enabled analyst or admin of this account",
            )))
        }
    }

    /// Recomputes an incident's times, count, impact and latest event from its events, and
    /// pins it (an analyst acted on it).
    async fn recount(conn: &mut B::Connection, id: i64) -> StoreResult<()> {
        let of = |what: &str| {
            format!(
                "(SELECT {what} FROM incident_events ie JOIN events e ON e.id = ie.event_id \
                 WHERE ie.incident_id = incidents.id)"
            )
        };
        sqlx::query(&format!(
            "UPDATE incidents SET first_ms = COALESCE({}, first_ms), \
             last_ms = COALESCE({}, last_ms), events = {}, impact = {}, \
             last_event_id = COALESCE({}, 0), pinned = $1 WHERE id = $2",
            of("MIN(e.occurred_at_ms)"),
            of("MAX(e.occurred_at_ms)"),
            of("COUNT(*)"),
            of("MAX(e.impact)"),
            of("MAX(e.id)"),
        ))
        .bind(true)
        .bind(id)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// One comment of the account, read in the caller's transaction.
    async fn comment_in(
        conn: &mut B::Connection,
        account_id: i64,
        id: i64,
    ) -> StoreResult<Comment> {
        let row = sqlx::query(&format!(
            "SELECT {COMMENT_COLUMNS} WHERE c.account_id = $1 AND c.id = $2"
        ))
        .bind(account_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        match row {
            Some(row) => Self::comment_row(&row),
            None => Err(StoreError::Refused(ApiError::invalid(
                "comment_id",
                "the id of a comment of this account",
            ))),
        }
    }

    fn comment_row(row: &B::Row) -> StoreResult<Comment> {
        let user: Option<i64> = row.try_get("author_user_id")?;
        let license: Option<i64> = row.try_get("author_license_id")?;
        Ok(Comment {
            id: row.try_get("id")?,
            incident_id: row.try_get("incident_id")?,
            author: user
                .map(Principal::User)
                .or(license.map(Principal::License)),
            author_label: row.try_get("author_label")?,
            created_at_ms: row.try_get("created_at_ms")?,
            edited_at_ms: row.try_get("edited_at_ms")?,
            body: row.try_get("body")?,
            redacted: row.try_get("redacted")?,
        })
    }

    /// Adds a comment in the caller's transaction.
    async fn add_comment(
        conn: &mut B::Connection,
        account_id: i64,
        incident_id: i64,
        body: &str,
        actor: &Actor,
        now_ms: i64,
    ) -> StoreResult<i64> {
        let incident = Self::lock_incidents(&mut *conn, account_id, &[incident_id]).await?;
        live(&incident[0])?;
        let (user, license) = actor.principal.map(split_principal).unwrap_or_default();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO incident_comments (incident_id, account_id, author_user_id, \
             author_license_id, created_at_ms, body) VALUES ($1, $2, $3, $4, $5, $6) \
             RETURNING id",
        )
        .bind(incident_id)
        .bind(account_id)
        .bind(user)
        .bind(license)
        .bind(now_ms)
        .bind(body)
        .fetch_one(&mut *conn)
        .await?;
        sqlx::query("UPDATE incidents SET pinned = $1 WHERE id = $2")
            .bind(true)
            .bind(incident_id)
            .execute(&mut *conn)
            .await?;
        // The trail says a comment was written and how long it is, not its text: a
        // redaction must be able to remove the text everywhere.
        let record = NewAudit::incident(account_id, AuditAction::CommentAdded, incident_id)
            .after(json!({"comment_id": id, "characters": body.chars().count()}));
        Self::write_audit(&mut *conn, actor, &record, now_ms).await?;
        Ok(id)
    }

    /// Edits or redacts a comment in the caller's transaction.
    async fn change_comment(
        conn: &mut B::Connection,
        account_id: i64,
        comment_id: i64,
        body: Option<&str>,
        may_redact_any: bool,
        actor: &Actor,
        now_ms: i64,
    ) -> StoreResult<()> {
        let comment = Self::comment_in(&mut *conn, account_id, comment_id).await?;
        let own = actor.principal.is_some() && comment.author == actor.principal;
        if comment.redacted {
            return Err(refused(
                ErrorCode::NotPossible,
                format!("comment {comment_id} is redacted"),
            ));
        }
        let (action, old, new) = match body {
            Some(body) => {
                if !own {
                    return Err(refused(
                        ErrorCode::NotPossible,
                        format!("comment {comment_id} is not yours: only its author edits it"),
                    ));
                }
                if now_ms - comment.created_at_ms > COMMENT_EDIT_WINDOW_MS {
                    return Err(refused(
                        ErrorCode::NotPossible,
                        format!(
                            "comment {comment_id} can no longer be edited: comments are \
                             editable for {} minutes after writing; add a new one",
                            COMMENT_EDIT_WINDOW_MS / 60_000
                        ),
                    ));
                }
                (
                    AuditAction::CommentEdited,
                    comment.body.chars().count(),
                    body,
                )
            }
            None => {
                if !own && !may_redact_any {
                    return Err(refused(
                        ErrorCode::NotPossible,
                        format!(
                            "comment {comment_id} is not yours: only its author or an admin \
                             redacts it"
                        ),
                    ));
                }
                (
                    AuditAction::CommentRedacted,
                    comment.body.chars().count(),
                    "",
                )
            }
        };
        sqlx::query(
            "UPDATE incident_comments SET body = $1, edited_at_ms = $2, redacted = $3 \
             WHERE id = $4",
        )
        .bind(new)
        .bind(now_ms)
        .bind(body.is_none())
        .bind(comment_id)
        .execute(&mut *conn)
        .await?;
        let record = NewAudit::incident(account_id, action, comment.incident_id).change(
            json!({"comment_id": comment_id, "characters": old}),
            json!({"comment_id": comment_id, "characters": new.chars().count()}),
        );
        Self::write_audit(&mut *conn, actor, &record, now_ms).await
    }
}

#[async_trait]
impl<B> IncidentWorkflow for SqlStore<B>
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
    async fn update_incident(
        &self,
        account_id: i64,
        id: i64,
        change: &Change,
        actor: &Actor,
        now_ms: i64,
    ) -> StoreResult<Incident> {
        let mut tx = self.writer.begin().await?;
        let current = Self::lock_incidents(&mut tx, account_id, &[id])
            .await?
            .remove(0);
        live(&current)?;
        let after = current
            .workflow
            .apply(change)
            .map_err(StoreError::Refused)?;
        if let Some(Some(user)) = change.assignee {
            Self::check_assignee(&mut tx, account_id, user).await?;
        }
        let before = &current.workflow;
        if after == *before {
            tx.commit().await?;
            return Ok(current);
        }
        sqlx::query(
            "UPDATE incidents SET status = $1, resolution = $2, reason = $3, assignee_id = $4, \
             pinned = $5 WHERE id = $6",
        )
        .bind(after.status.as_str())
        .bind(after.resolution.map(|r| r.as_str().to_owned()))
        .bind(after.reason.clone())
        .bind(after.assignee)
        .bind(true)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if status_value(before) != status_value(&after) {
            let record = NewAudit::incident(account_id, AuditAction::IncidentStatus, id)
                .change(status_value(before), status_value(&after));
            Self::write_audit(&mut tx, actor, &record, now_ms).await?;
            if before.status != after.status {
                let changed = ChangedIncident {
                    account_id,
                    incident_id: id,
                    change: IncidentChange::StatusChanged,
                    impact: current.impact,
                };
                Self::write_outbox(&mut tx, &[], &[changed], now_ms).await?;
            }
        }
        let updated = Self::incident_in(&mut tx, account_id, id).await?;
        if before.assignee != after.assignee {
            let record = NewAudit::incident(account_id, AuditAction::IncidentAssignee, id).change(
                json!({"assignee": current.assignee_name}),
                json!({"assignee": updated.assignee_name}),
            );
            Self::write_audit(&mut tx, actor, &record, now_ms).await?;
        }
        tx.commit().await?;
        Ok(updated)
    }

    async fn comment(
        &self,
        account_id: i64,
        change: &CommentChange<'_>,
        may_redact_any: bool,
        actor: &Actor,
        now_ms: i64,
    ) -> StoreResult<Comment> {
        let mut tx = self.writer.begin().await?;
        let id = match *change {
            CommentChange::Add { incident_id, body } => {
                Self::add_comment(&mut tx, account_id, incident_id, body, actor, now_ms).await?
            }
            CommentChange::Edit { comment_id, body } => {
                Self::change_comment(
                    &mut tx,
                    account_id,
                    comment_id,
                    Some(body),
                    may_redact_any,
                    actor,
                    now_ms,
                )
                .await?;
                comment_id
            }
            CommentChange::Redact { comment_id } => {
                Self::change_comment(
                    &mut tx,
                    account_id,
                    comment_id,
                    None,
                    may_redact_any,
                    actor,
                    now_ms,
                )
                .await?;
                comment_id
            }
        };
        let comment = Self::comment_in(&mut tx, account_id, id).await?;
        tx.commit().await?;
        Ok(comment)
    }

    async fn list_comments(&self, account_id: i64, incident_id: i64) -> StoreResult<Vec<Comment>> {
        let rows = sqlx::query(&format!(
            "SELECT {COMMENT_COLUMNS} WHERE c.account_id = $1 AND (c.incident_id = $2 OR \
             c.incident_id IN (SELECT id FROM incidents WHERE merged_into = $3)) ORDER BY c.id"
        ))
        .bind(account_id)
        .bind(incident_id)
        .bind(incident_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(Self::comment_row).collect()
    }

    async fn merge_incidents(
        &self,
        account_id: i64,
        into: i64,
        others: &[i64],
        actor: &Actor,
        now_ms: i64,
    ) -> StoreResult<Incident> {
        let others = id_set(
            others,
            "merge_ids",
            "the ids of the incidents to merge into incident_id",
            ("incident", MAX_MERGE),
        )?;
        if others.contains(&into) {
            return Err(StoreError::Refused(ApiError::conflict(format!(
                "incident {into} is both the survivor (incident_id) and merged (merge_ids)"
            ))));
        }
        let mut tx = self.writer.begin().await?;
        let mut all = vec![into];
        all.extend(&others);
        let incidents = Self::lock_incidents(&mut tx, account_id, &all).await?;
        for incident in &incidents {
            live(incident)?;
        }
        let list = |q: &mut Statement| {
            q.push_list(others.iter().copied()).push(")");
        };
        // Every event of the merged ones joins the survivor once (an event about two hosts
        // may be in several of them), then leaves them.
        let mut q =
            Statement::new("INSERT INTO incident_events (incident_id, event_id) SELECT DISTINCT ");
        q.push_bind(into)
            .push(", event_id FROM incident_events WHERE incident_id IN (");
        list(&mut q);
        q.push(" ON CONFLICT DO NOTHING");
        q.query::<B>().execute(&mut *tx).await?;
        let mut q = Statement::new("DELETE FROM incident_events WHERE incident_id IN (");
        list(&mut q);
        q.query::<B>().execute(&mut *tx).await?;
        // Pointers to a merged-away incident now point to the survivor.
        let mut q = Statement::new("UPDATE incidents SET merged_into = ");
        q.push_bind(into).push(" WHERE merged_into IN (");
        list(&mut q);
        q.query::<B>().execute(&mut *tx).await?;
        let mut q = Statement::new("UPDATE incidents SET merged_into = ");
        q.push_bind(into)
            .push(", pinned = ")
            .push_bind(true)
            .push(" WHERE id IN (");
        list(&mut q);
        q.query::<B>().execute(&mut *tx).await?;
        Self::recount(&mut tx, into).await?;
        let record = NewAudit::incident(account_id, AuditAction::IncidentMerged, into)
            .after(json!({"merged": others}));
        Self::write_audit(&mut tx, actor, &record, now_ms).await?;
        for merged in &incidents[1..] {
            let record = NewAudit::incident(account_id, AuditAction::IncidentMerged, merged.id)
                .change(
                    json!({"host": merged.host, "events": merged.events}),
                    json!({"into": into}),
                );
            Self::write_audit(&mut tx, actor, &record, now_ms).await?;
        }
        let survivor = Self::incident_in(&mut tx, account_id, into).await?;
        tx.commit().await?;
        Ok(survivor)
    }

    async fn split_incident(
        &self,
        account_id: i64,
        id: i64,
        event_ids: &[i64],
        actor: &Actor,
        now_ms: i64,
    ) -> StoreResult<Incident> {
        let events = id_set(
            event_ids,
            "event_ids",
            "the ids of the events to move into a new incident",
            ("event", MAX_SPLIT),
        )?;
        let mut tx = self.writer.begin().await?;
        let incident = Self::lock_incidents(&mut tx, account_id, &[id])
            .await?
            .remove(0);
        live(&incident)?;
        let mut q = Statement::new("SELECT event_id FROM incident_events WHERE incident_id = ");
        q.push_bind(id).push(" AND event_id IN (");
        q.push_list(events.iter().copied()).push(")");
        let members = super::rows::ids(q.query::<B>().fetch_all(&mut *tx).await?)?;
        if let Some(stranger) = events.iter().find(|e| !members.contains(e)) {
            return Err(StoreError::Refused(ApiError::invalid(
                "event_ids",
                &format!("ids of events of incident {id} (event {stranger} is not one of them)"),
            )));
        }
        if members.len() as i64 >= incident.events {
            return Err(refused(
                ErrorCode::NotPossible,
                format!(
                    "a split moves some of the events of incident {id}, not all of them: \
                     at least one must stay"
                ),
            ));
        }
        let new_id: i64 = sqlx::query_scalar(
            "INSERT INTO incidents (account_id, grouped_by, host, first_ms, last_ms, events, \
             status, pinned, last_event_id) VALUES ($1, $2, $3, $4, $5, 0, 'new', $6, 0) \
             RETURNING id",
        )
        .bind(account_id)
        .bind(incident.grouped_by.as_str())
        .bind(incident.host.as_str())
        .bind(incident.first_ms)
        .bind(incident.last_ms)
        .bind(true)
        .fetch_one(&mut *tx)
        .await?;
        let mut q = Statement::new("UPDATE incident_events SET incident_id = ");
        q.push_bind(new_id)
            .push(" WHERE incident_id = ")
            .push_bind(id)
            .push(" AND event_id IN (");
        q.push_list(events.iter().copied()).push(")");
        q.query::<B>().execute(&mut *tx).await?;
        Self::recount(&mut tx, id).await?;
        Self::recount(&mut tx, new_id).await?;
        let record = NewAudit::incident(account_id, AuditAction::IncidentSplit, id)
            .after(json!({"events": events, "into": new_id}));
        Self::write_audit(&mut tx, actor, &record, now_ms).await?;
        let record = NewAudit::incident(account_id, AuditAction::IncidentSplit, new_id)
            .after(json!({"events": events, "from": id}));
        Self::write_audit(&mut tx, actor, &record, now_ms).await?;
        let split = Self::incident_in(&mut tx, account_id, new_id).await?;
        tx.commit().await?;
        Ok(split)
    }

    async fn mark_read(&self, account_id: i64, incident_id: i64, user_id: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO incident_reads (incident_id, user_id, seen_event_id) \
             SELECT id, $1, last_event_id FROM incidents WHERE id = $2 AND account_id = $3 \
             ON CONFLICT (user_id, incident_id) \
             DO UPDATE SET seen_event_id = excluded.seen_event_id",
        )
        .bind(user_id)
        .bind(incident_id)
        .bind(account_id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn unread_count(&self, account_id: i64, user_id: i64) -> StoreResult<i64> {
        let row = sqlx::query(&format!(
            "SELECT COUNT(*) FROM incidents i WHERE i.account_id = $1 \
             AND i.merged_into IS NULL AND i.status <> 'closed' AND {UNREAD_BY}$2)"
        ))
        .bind(account_id)
        .bind(user_id)
        .fetch_one(&self.reader)
        .await?;
        Ok(row.try_get(0)?)
    }

    async fn incident_history(
        &self,
        account_id: i64,
        incident_id: i64,
    ) -> StoreResult<Vec<AuditRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM audit WHERE account_id = $1 AND (incident_id = $2 OR incident_id \
             IN (SELECT id FROM incidents WHERE merged_into = $3)) ORDER BY id",
            super::audit::AUDIT_COLUMNS
        ))
        .bind(account_id)
        .bind(incident_id)
        .bind(incident_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(Self::audit_record).collect()
    }

    async fn record_audit(&self, actor: &Actor, record: &NewAudit, now_ms: i64) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        Self::write_audit(&mut tx, actor, record, now_ms).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        self.read_audit(filter).await
    }
}
