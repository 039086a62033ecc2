//! The audit trail over SQL: records are written in the transaction of the change they
//! describe, and read back; no statement here (or anywhere) updates or deletes one, and
//! the database's triggers refuse it.

use super::rows::split_principal;
use super::statement::Statement;
use super::{Backend, SqlStore};
use crate::error::{StoreError, StoreResult};
use crate::records::*;
use serde_json::Value;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};

/// The columns of [`AuditRecord`] (from `audit`).
pub(super) const AUDIT_COLUMNS: &str = "id, account_id, at_ms, actor, address, action, target, \
     incident_id, old_value, new_value";

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
    /// Writes an audit record in the caller's transaction.
    pub(super) async fn write_audit(
        conn: &mut B::Connection,
        actor: &Actor,
        record: &NewAudit,
        now_ms: i64,
    ) -> StoreResult<()> {
        let (user, license) = actor.principal.map(split_principal).unwrap_or_default();
        sqlx::query(
            "INSERT INTO audit (account_id, at_ms, actor_user_id, actor_license_id, actor, \
             address, action, target, incident_id, old_value, new_value) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(record.account_id)
        .bind(now_ms)
        .bind(user)
        .bind(license)
        .bind(actor.label.clone())
        .bind(actor.address.clone())
        .bind(record.action.as_str().to_owned())
        .bind(record.target.clone())
        .bind(record.incident_id)
        .bind(record.old_value.as_ref().map(Value::to_string))
        .bind(record.new_value.as_ref().map(Value::to_string))
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// An [`AuditRecord`] from the columns of [`AUDIT_COLUMNS`].
    pub(super) fn audit_record(row: &B::Row) -> StoreResult<AuditRecord> {
        let action: String = row.try_get("action")?;
        let json = |name: &str| -> StoreResult<Option<Value>> {
            let text: Option<String> = row.try_get(name)?;
            text.map(|t| serde_json::from_str(&t))
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("audit {name}: {e}")))
        };
        Ok(AuditRecord {
            id: row.try_get("id")?,
            account_id: row.try_get("account_id")?,
            at_ms: row.try_get("at_ms")?,
            actor: row.try_get("actor")?,
            address: row.try_get("address")?,
            action: AuditAction::parse("action", &action)
                .map_err(|_| StoreError::Corrupt(format!("audit action '{action}'")))?,
            target: row.try_get("target")?,
            incident_id: row.try_get("incident_id")?,
            old_value: json("old_value")?,
            new_value: json("new_value")?,
        })
    }

    /// The trail, newest first, as filtered.
    pub(super) async fn read_audit(&self, f: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        let mut q = Statement::new(format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE 1 = 1"));
        if let Some(account) = f.account_id {
            q.push(" AND account_id = ").push_bind(account);
        }
        if let Some(action) = f.action {
            q.push(" AND action = ").push_bind(action.as_str());
        }
        if let Some(actor) = &f.actor {
            q.push(" AND actor = ").push_bind(actor);
        }
        if let Some(incident) = f.incident_id {
            q.push(" AND incident_id = ").push_bind(incident);
        }
        if let Some(after) = f.after_ms {
            q.push(" AND at_ms >= ").push_bind(after);
        }
        if let Some(before) = f.before_ms {
            q.push(" AND at_ms < ").push_bind(before);
        }
        if let Some(id) = f.before_id {
            q.push(" AND id < ").push_bind(id);
        }
        q.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(f.limit));
        let rows = q.query::<B>().fetch_all(&self.reader).await?;
        rows.iter().map(Self::audit_record).collect()
    }
}
