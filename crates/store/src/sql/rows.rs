//! How rows become records: the column lists the queries select, and the records that
//! need more than sqlx's `FromRow` derive (enums stored as names, JSON stored as text, a
//! principal in two columns, the event's hosts in one).

use super::{Backend, SqlStore};
use crate::error::{StoreError, StoreResult};
use crate::records::*;
use sqlx::{ColumnIndex, Decode, Row, Type};

/// The columns of [`User`], from `users u` joined to its account: read with
/// [`SqlStore::user`].
pub(super) const USER_COLUMNS: &str = "u.id, u.account_id, u.username, u.password_hash, \
     u.role, (u.disabled OR a.disabled) AS disabled \
     FROM users u JOIN accounts a ON a.id = u.account_id";

/// The columns of [`License`], from `licenses l` joined to its account.
pub(super) const LICENSE_COLUMNS: &str = "l.id, l.account_id, l.name, l.access_key, \
     l.api_token_hash, (l.disabled OR a.disabled) AS disabled \
     FROM licenses l JOIN accounts a ON a.id = l.account_id";

/// The columns of [`Sensor`], from `sensors s` joined to its license and account.
pub(super) const SENSOR_COLUMNS: &str = "s.id, s.license_id, l.account_id, l.access_key, \
     s.subkey, s.name, (s.disabled OR l.disabled OR a.disabled) AS disabled FROM sensors s \
     JOIN licenses l ON l.id = s.license_id JOIN accounts a ON a.id = l.account_id";

/// The columns of [`Task`] (from `tasks`).
pub(super) const TASK_COLUMNS: &str = "uuid, account_id, license_id, created_at_ms, kind, \
     state, sha256, filename, url, options, score, result, completed_at_ms";

/// The columns of [`StoredEvent`], from `events e` joined to what it names.
pub(super) const EVENT_COLUMNS: &str = "e.id, e.kind, e.received_at_ms, e.occurred_at_ms, \
     e.license_id, l.access_key, e.sensor_id, s.subkey, e.pushed_by_user_id, \
     e.pushed_by_license_id, COALESCE(pu.username, pl.access_key) AS pushed_by_label, \
     e.vendor_name, e.tool_name, e.fields, e.raw_params, e.action, e.impact, \
     (SELECT string_agg(h.host, '\n') FROM event_hosts h WHERE h.event_id = e.id) AS hosts, \
     (SELECT string_agg(t.task_uuid, '\n') FROM event_tasks t WHERE t.event_id = e.id) \
     AS task_uuids \
     FROM events e \
     JOIN licenses l ON l.id = e.license_id JOIN sensors s ON s.id = e.sensor_id \
     LEFT JOIN users pu ON pu.id = e.pushed_by_user_id \
     LEFT JOIN licenses pl ON pl.id = e.pushed_by_license_id";

/// The columns of [`Incident`], from `incidents i`: read with [`SqlStore::incident`].
pub(super) const INCIDENT_COLUMNS: &str =
    "i.id, i.grouped_by, i.host, i.first_ms, i.last_ms, i.events, \
     i.impact, i.status, i.resolution, i.reason, i.assignee_id, i.merged_into, i.pinned, \
     i.last_event_id, (SELECT username FROM users au WHERE au.id = i.assignee_id) \
     AS assignee_name";

/// The condition that incident `i` is unread by the user whose id is bound after it (then
/// `)`): they have not seen its latest event.
pub(super) const UNREAD_BY: &str = "NOT EXISTS (SELECT 1 FROM incident_reads r \
     WHERE r.incident_id = i.id AND r.seen_event_id >= i.last_event_id AND r.user_id = ";

/// The principal stored as two columns, exactly one of them set.
pub(super) fn principal(user_id: Option<i64>, license_id: Option<i64>) -> StoreResult<Principal> {
    match (user_id, license_id) {
        (Some(u), None) => Ok(Principal::User(u)),
        (None, Some(l)) => Ok(Principal::License(l)),
        _ => Err(StoreError::Corrupt(
            "principal must be a user or a license".into(),
        )),
    }
}

/// The two columns of a principal: (user id, license id).
pub(super) fn split_principal(p: Principal) -> (Option<i64>, Option<i64>) {
    match p {
        Principal::User(u) => (Some(u), None),
        Principal::License(l) => (None, Some(l)),
    }
}

/// A name stored for a closed set of values, read back as its type.
fn named<T>(
    name: &str,
    what: &str,
    parse: fn(&str, &str) -> Result<T, pushdetect_model::ApiError>,
) -> StoreResult<T> {
    parse(what, name).map_err(|_| StoreError::Corrupt(format!("{what} '{name}'")))
}

impl<B> SqlStore<B>
where
    B: Backend,
    for<'r> &'r str: ColumnIndex<B::Row>,
    for<'q> i64: Decode<'q, B> + Type<B>,
    for<'q> bool: Decode<'q, B> + Type<B>,
    for<'q> String: Decode<'q, B> + Type<B>,
{
    /// A [`User`] from the columns of [`USER_COLUMNS`].
    pub(super) fn user(row: &B::Row) -> StoreResult<User> {
        Ok(User {
            id: row.try_get("id")?,
            account_id: row.try_get("account_id")?,
            username: row.try_get("username")?,
            password_hash: row.try_get("password_hash")?,
            role: named(&row.try_get::<String, _>("role")?, "role", Role::parse)?,
            disabled: row.try_get("disabled")?,
        })
    }

    /// An [`Incident`] from the columns of [`INCIDENT_COLUMNS`].
    pub(super) fn incident(row: &B::Row) -> StoreResult<Incident> {
        let resolution: Option<String> = row.try_get("resolution")?;
        Ok(Incident {
            id: row.try_get("id")?,
            grouped_by: named(
                &row.try_get::<String, _>("grouped_by")?,
                "grouped_by",
                GroupBy::parse,
            )?,
            host: row.try_get("host")?,
            first_ms: row.try_get("first_ms")?,
            last_ms: row.try_get("last_ms")?,
            events: row.try_get("events")?,
            impact: row.try_get("impact")?,
            workflow: Workflow {
                status: named(
                    &row.try_get::<String, _>("status")?,
                    "status",
                    Status::parse,
                )?,
                resolution: resolution
                    .map(|r| named(&r, "resolution", Resolution::parse))
                    .transpose()?,
                reason: row.try_get("reason")?,
                assignee: row.try_get("assignee_id")?,
            },
            assignee_name: row.try_get("assignee_name")?,
            merged_into: row.try_get("merged_into")?,
            pinned: row.try_get("pinned")?,
            last_event_id: row.try_get("last_event_id")?,
        })
    }

    /// A JSON document stored as text, read as `T` (a `serde_json::Value`, or a typed
    /// record such as the task's options) in one pass.
    pub(super) fn json_column<T: serde::de::DeserializeOwned>(
        row: &B::Row,
        name: &str,
    ) -> StoreResult<T> {
        let text: String = row.try_get(name)?;
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
    }

    /// A [`Task`] from the columns of [`TASK_COLUMNS`].
    pub(super) fn task(row: &B::Row) -> StoreResult<Task> {
        let kind: String = row.try_get("kind")?;
        let state: String = row.try_get("state")?;
        let result: Option<String> = row.try_get("result")?;
        Ok(Task {
            uuid: row.try_get("uuid")?,
            account_id: row.try_get("account_id")?,
            license_id: row.try_get("license_id")?,
            created_at_ms: row.try_get("created_at_ms")?,
            kind: TaskKind::from_name(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("task kind '{kind}'")))?,
            state: TaskState::from_name(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("task state '{state}'")))?,
            sha256: row.try_get("sha256")?,
            filename: row.try_get("filename")?,
            url: row.try_get("url")?,
            options: Self::json_column(row, "options")?,
            score: row.try_get("score")?,
            result: result
                .map(|r| serde_json::from_str(&r))
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("task result: {e}")))?,
            completed_at_ms: row.try_get("completed_at_ms")?,
        })
    }

    /// A column of values joined by newlines (`string_agg`), split and sorted.
    fn joined(row: &B::Row, name: &str) -> StoreResult<Vec<String>> {
        let joined: Option<String> = row.try_get(name)?;
        let mut values: Vec<String> = joined
            .map(|j| j.split('\n').map(str::to_owned).collect())
            .unwrap_or_default();
        values.sort();
        Ok(values)
    }

    /// A [`StoredEvent`] from the columns of [`EVENT_COLUMNS`].
    pub(super) fn stored_event(row: &B::Row) -> StoreResult<StoredEvent> {
        Ok(StoredEvent {
            id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            received_at_ms: row.try_get("received_at_ms")?,
            occurred_at_ms: row.try_get("occurred_at_ms")?,
            license_id: row.try_get("license_id")?,
            access_key: row.try_get("access_key")?,
            sensor_id: row.try_get("sensor_id")?,
            subkey: row.try_get("subkey")?,
            pushed_by: principal(
                row.try_get("pushed_by_user_id")?,
                row.try_get("pushed_by_license_id")?,
            )?,
            pushed_by_label: row.try_get("pushed_by_label")?,
            vendor_name: row.try_get("vendor_name")?,
            tool_name: row.try_get("tool_name")?,
            fields: Self::json_column(row, "fields")?,
            raw_params: Self::json_column(row, "raw_params")?,
            hosts: Self::joined(row, "hosts")?,
            task_uuids: Self::joined(row, "task_uuids")?,
            action: row.try_get("action")?,
            impact: row.try_get("impact")?,
        })
    }

    /// A [`Session`] from its row joined to the principal's label.
    pub(super) fn session(row: &B::Row) -> StoreResult<Session> {
        Ok(Session {
            account_id: row.try_get("account_id")?,
            principal: principal(row.try_get("user_id")?, row.try_get("license_id")?)?,
            label: row.try_get("label")?,
            last_seen_ms: row.try_get("last_seen_ms")?,
        })
    }
}

/// The first column of each row, as ids.
pub(super) fn ids<R: Row>(rows: Vec<R>) -> StoreResult<Vec<i64>>
where
    usize: ColumnIndex<R>,
    for<'q> i64: Decode<'q, R::Database> + Type<R::Database>,
{
    rows.iter()
        .map(|r| r.try_get(0).map_err(StoreError::from))
        .collect()
}
