//! How events are written. A batch of events costs a fixed number of statements, whatever
//! its size: each table's rows are one multi-row insert (`batch_rows.rs`), new ids are reserved
//! up front ([`Backend::next_ids`]), and incidents are planned in memory
//! ([`crate::incident_plan`]). Every function here runs in the caller's transaction.

use super::batch_rows::{row, Rows};
use super::forwarding::{ChangedIncident, Forwarded};
use super::rows::{split_principal, INCIDENT_COLUMNS};
use super::statement::Statement;
use super::workflow::status_value;
use super::{Backend, Bound, SqlStore};
use crate::error::StoreError;
use crate::error::StoreResult;
use crate::host_identity::{Identities, IdentityWrites};
use crate::incident_plan::{higher, Plan};
use crate::records::*;
use pushdetect_model::forwarding::IncidentChange;
use serde_json::{json, Value};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};
use std::borrow::Cow;
use std::collections::HashMap;

/// The lock name of a task's score: completions take it alone, event writes that read the
/// score share it.
pub(super) fn task_lock(uuid: &str) -> String {
    format!("task:{uuid}")
}

/// The lock name of an account's incidents and host entities. One per account: an event
/// may tie host entities together and rename them, and grouping rules cross hosts, so no
/// finer key is known before the ties are read. Batches of one account therefore place
/// their events one transaction at a time, commit included: on PostgreSQL a node's
/// parallel writers and other nodes wait for it (docs/benchmarks.md gives the cost).
pub(super) fn incident_lock(account_id: i64) -> String {
    format!("incidents:{account_id}")
}

/// An event's machines: as its triage says, or (an event whose parameters no longer
/// parse) each of its stored hosts alone.
fn machines_of<'a>(triage: &'a Triage, hosts: &[String]) -> Cow<'a, [Vec<String>]> {
    if triage.machines.is_empty() {
        Cow::Owned(hosts.iter().map(|h| vec![h.clone()]).collect())
    } else {
        Cow::Borrowed(&triage.machines)
    }
}

/// The groups of one rule an event joins: each key once, in order.
fn distinct(rule: GroupBy, keys: impl Iterator<Item = String>) -> Vec<(GroupBy, String)> {
    let mut keys: Vec<String> = keys.collect();
    keys.sort();
    keys.dedup();
    keys.into_iter().map(|k| (rule, k)).collect()
}

/// The row of `event_tasks` that links an event to a task it names.
fn task_link(
    event_id: i64,
    account_id: i64,
    task_uuid: &str,
) -> (&'static [&'static str], [Bound; 3]) {
    row! { event_id: event_id, account_id: account_id, task_uuid: task_uuid }
}

/// Where one stored event goes among the incidents of its groups.
struct Placed<'a> {
    account_id: i64,
    event_id: i64,
    /// Its machines, each with its identifiers.
    machines: Cow<'a, [Vec<String>]>,
    /// The keys grouping rules may group it by (a task's SHA-256 is looked up).
    group_keys: &'a [(GroupBy, String)],
    task_uuids: &'a [String],
    occurred_at_ms: i64,
    impact: Option<i64>,
    window_ms: i64,
    reopen_closed: bool,
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
    /// The best score among the account's tasks of these uuids that are scored.
    pub(super) async fn task_score(
        conn: &mut B::Connection,
        account_id: i64,
        task_uuids: &[String],
    ) -> StoreResult<Option<i64>> {
        if task_uuids.is_empty() {
            return Ok(None);
        }
        // The caller holds the shared `task_lock` of each: a completion in flight has
        // committed before this read, or finds this event once it commits.
        let mut q =
            Statement::new("SELECT MAX(score) FROM (SELECT score FROM tasks WHERE account_id = ");
        q.push_bind(account_id).push(" AND uuid IN (");
        q.push_list(task_uuids).push(")) AS referred");
        let row = q.query::<B>().fetch_one(&mut *conn).await?;
        Ok(row.try_get(0)?)
    }

    /// Records which tasks events refer to, so that their scores reach them later.
    pub(super) async fn link_tasks(conn: &mut B::Connection, links: &Rows) -> StoreResult<()> {
        Self::insert_rows(conn, "event_tasks", links, "ON CONFLICT DO NOTHING").await
    }

    /// The grouping rules of the batch's accounts.
    async fn groupings(
        conn: &mut B::Connection,
        placed: &[Placed<'_>],
    ) -> StoreResult<HashMap<i64, Grouping>> {
        let mut accounts: Vec<i64> = placed.iter().map(|p| p.account_id).collect();
        accounts.sort_unstable();
        accounts.dedup();
        let mut q = Statement::new("SELECT id, grouping FROM accounts WHERE id IN (");
        q.push_list(accounts.iter().copied()).push(")");
        let mut groupings = HashMap::new();
        for row in q.query::<B>().fetch_all(&mut *conn).await? {
            let text: String = row.try_get("grouping")?;
            let grouping = Grouping::parse("grouping", &text)
                .map_err(|e| StoreError::Corrupt(format!("accounts.grouping: {e}")))?;
            groupings.insert(row.try_get("id")?, grouping);
        }
        Ok(groupings)
    }

    /// The SHA-256 of the files the batch's tasks analysed, by (account, task uuid), for
    /// accounts that group by it.
    async fn task_hashes(
        conn: &mut B::Connection,
        placed: &[Placed<'_>],
        groupings: &HashMap<i64, Grouping>,
    ) -> StoreResult<HashMap<(i64, String), String>> {
        let by_hash = |account: &i64| {
            groupings
                .get(account)
                .is_some_and(|g| g.rules().contains(&GroupBy::TaskSha256))
        };
        let uuids: Vec<&str> = placed
            .iter()
            .filter(|p| by_hash(&p.account_id))
            .flat_map(|p| p.task_uuids.iter().map(String::as_str))
            .collect();
        let mut hashes = HashMap::new();
        if uuids.is_empty() {
            return Ok(hashes);
        }
        let mut q = Statement::new(
            "SELECT account_id, uuid, sha256 FROM tasks WHERE sha256 IS NOT NULL AND uuid IN (",
        );
        q.push_list(uuids).push(")");
        for row in q.query::<B>().fetch_all(&mut *conn).await? {
            hashes.insert(
                (row.try_get("account_id")?, row.try_get("uuid")?),
                row.try_get("sha256")?,
            );
        }
        Ok(hashes)
    }

    /// The groups each event joins: the keys of its account's first grouping rule that
    /// gives it one, else the host entities of its machines (see [`crate::host_identity`]),
    /// whose new ties and renames are written here.
    async fn groups(
        conn: &mut B::Connection,
        placed: &[Placed<'_>],
    ) -> StoreResult<Vec<Vec<(GroupBy, String)>>> {
        let groupings = Self::groupings(&mut *conn, placed).await?;
        let hashes = Self::task_hashes(&mut *conn, placed, &groupings).await?;
        let no_rules = Grouping::default();
        let mut by_rule: Vec<Option<Vec<(GroupBy, String)>>> = Vec::with_capacity(placed.len());
        for p in placed {
            let mut keys = p.group_keys.to_vec();
            keys.extend(p.task_uuids.iter().filter_map(|u| {
                let hash = hashes.get(&(p.account_id, u.clone()))?;
                Some((GroupBy::TaskSha256, hash.clone()))
            }));
            let grouping = groupings.get(&p.account_id).unwrap_or(&no_rules);
            by_rule.push(
                grouping
                    .pick(&keys)
                    .map(|(rule, keys)| distinct(rule, keys.into_iter().map(str::to_owned))),
            );
        }
        // The stored ties of every identifier of the events grouped by host.
        let identifiers: Rows = placed
            .iter()
            .zip(&by_rule)
            .filter(|(_, rule)| rule.is_none())
            .flat_map(|(p, _)| {
                p.machines.iter().flatten().map(|id| {
                    row! { account_id: p.account_id, identifier: id.as_str() }
                })
            })
            .collect();
        let mut stored = Vec::new();
        if !identifiers.is_empty() {
            let rows = sqlx::query(&format!(
                "SELECT h.account_id, h.identifier, h.entity, h.last_seen_ms FROM host_identifiers h \
                 JOIN (SELECT DISTINCT {} AS account_id, {} AS identifier FROM {}) q \
                 ON h.account_id = q.account_id AND h.identifier = q.identifier",
                identifiers.int("account_id"),
                identifiers.text("identifier"),
                B::JSON_ROWS,
            ))
            .bind(identifiers.json()?)
            .fetch_all(&mut *conn)
            .await?;
            for row in rows {
                stored.push((
                    row.try_get("account_id")?,
                    row.try_get("identifier")?,
                    row.try_get("entity")?,
                    row.try_get("last_seen_ms")?,
                ));
            }
        }
        let mut identities = Identities::new(stored);
        let mut entities: Vec<Vec<String>> = Vec::with_capacity(placed.len());
        for (p, rule) in placed.iter().zip(&by_rule) {
            entities.push(match rule {
                Some(_) => Vec::new(),
                None => p
                    .machines
                    .iter()
                    .filter(|m| !m.is_empty())
                    .map(|m| identities.resolve(p.account_id, m, p.occurred_at_ms))
                    .collect(),
            });
        }
        let groups = placed
            .iter()
            .zip(by_rule)
            .zip(entities)
            .map(|((p, rule), entities)| {
                rule.unwrap_or_else(|| {
                    let keys = entities.iter().map(|e| identities.current(p.account_id, e));
                    distinct(GroupBy::Host, keys)
                })
            })
            .collect();
        Self::write_identities(&mut *conn, identities.finish()).await?;
        Ok(groups)
    }

    /// Writes the ties and renames of host entities a batch resolved.
    async fn write_identities(conn: &mut B::Connection, writes: IdentityWrites) -> StoreResult<()> {
        if !writes.renamed.is_empty() {
            let renamed: Rows = writes
                .renamed
                .iter()
                .map(|(account, old, new)| row! { account_id: account, old: old, new: new })
                .collect();
            // The entity taken into another: its identifiers and its incidents take the key.
            for (table, column, only) in [
                ("host_identifiers", "entity", ""),
                ("incidents", "host", " AND incidents.grouped_by = 'host'"),
            ] {
                sqlx::query(&format!(
                    "UPDATE {table} SET {column} = {} FROM {} \
                     WHERE {table}.account_id = {} AND {table}.{column} = {}{only}",
                    renamed.text("new"),
                    B::JSON_ROWS,
                    renamed.int("account_id"),
                    renamed.text("old"),
                ))
                .bind(renamed.json()?)
                .execute(&mut *conn)
                .await?;
            }
        }
        let ties: Rows = writes
            .ties
            .iter()
            .map(|(account, identifier, entity, ms)| {
                row! {
                    account_id: account,
                    identifier: identifier,
                    entity: entity,
                    first_seen_ms: ms,
                    last_seen_ms: ms,
                }
            })
            .collect();
        Self::insert_rows(
            &mut *conn,
            "host_identifiers",
            &ties,
            "ON CONFLICT (account_id, identifier) DO UPDATE SET entity = excluded.entity, \
             last_seen_ms = CASE WHEN excluded.last_seen_ms > host_identifiers.last_seen_ms \
             THEN excluded.last_seen_ms ELSE host_identifiers.last_seen_ms END",
        )
        .await
    }

    /// Adds events to the incidents of their groups (see [`Plan`]); returns the incident
    /// changes destinations may be told of. The caller holds the [`incident_lock`] of
    /// every account.
    async fn write_incidents(
        conn: &mut B::Connection,
        placed: &[Placed<'_>],
        now_ms: i64,
    ) -> StoreResult<Vec<ChangedIncident>> {
        if placed.is_empty() {
            return Ok(Vec::new());
        }
        let groups = Self::groups(&mut *conn, placed).await?;
        // The reach of the batch on each group: every incident it can touch.
        let mut reach: HashMap<(i64, GroupBy, &str), (i64, i64)> = Default::default();
        for (p, groups) in placed.iter().zip(&groups) {
            let lo = p.occurred_at_ms.saturating_sub(p.window_ms);
            let hi = p.occurred_at_ms.saturating_add(p.window_ms);
            for (by, key) in groups {
                let r = reach.entry((p.account_id, *by, key)).or_insert((lo, hi));
                *r = (r.0.min(lo), r.1.max(hi));
            }
        }
        if reach.is_empty() {
            return Ok(Vec::new());
        }
        let reach: Rows = reach
            .into_iter()
            .map(|((account, by, key), (lo, hi))| {
                row! { account_id: account, grouped_by: by.as_str(), host: key, lo: lo, hi: hi }
            })
            .collect();
        let rows = sqlx::query(&format!(
            "SELECT i.account_id AS incident_account, {INCIDENT_COLUMNS} FROM incidents i \
             JOIN (SELECT {} AS account_id, {} AS grouped_by, {} AS host, {} AS lo, {} AS hi \
             FROM {rows}) q \
             ON i.account_id = q.account_id AND i.grouped_by = q.grouped_by \
             AND i.host = q.host AND i.merged_into IS NULL \
             AND i.last_ms >= q.lo AND i.first_ms <= q.hi",
            reach.int("account_id"),
            reach.text("grouped_by"),
            reach.text("host"),
            reach.int("lo"),
            reach.int("hi"),
            rows = B::JSON_ROWS,
        ))
        .bind(reach.json()?)
        .fetch_all(&mut *conn)
        .await?;
        let mut stored = Vec::with_capacity(rows.len());
        for row in &rows {
            stored.push((row.try_get("incident_account")?, Self::incident(row)?));
        }
        let impacts: HashMap<i64, (i64, Option<i64>)> = stored
            .iter()
            .map(|(account, i): &(i64, Incident)| (i.id, (*account, i.impact)))
            .collect();
        let mut plan = Plan::new(stored);
        for (p, groups) in placed.iter().zip(&groups) {
            for (by, key) in groups {
                plan.add(
                    p.account_id,
                    (*by, key),
                    p.event_id,
                    p.occurred_at_ms,
                    p.impact,
                    p.window_ms,
                    p.reopen_closed,
                );
            }
        }
        let ids = B::next_ids(&mut *conn, "incidents", plan.new_incidents()).await?;
        let writes = plan.finish(&ids);
        let created: Rows = writes
            .created
            .iter()
            .map(|(account, i)| {
                row! {
                    id: i.id,
                    account_id: account,
                    host: &i.host,
                    grouped_by: i.grouped_by.as_str(),
                    first_ms: i.first_ms,
                    last_ms: i.last_ms,
                    events: i.events,
                    impact: i.impact,
                    status: i.workflow.status.as_str(),
                    pinned: i.pinned,
                    last_event_id: i.last_event_id,
                }
            })
            .collect();
        Self::insert_rows(&mut *conn, "incidents", &created, "").await?;
        if !writes.merged.is_empty() {
            let merged: Rows = writes
                .merged
                .iter()
                .map(|(from, into)| row! { from: from, into: into })
                .collect();
            sqlx::query(&format!(
                "UPDATE incident_events SET incident_id = {} FROM {} \
                 WHERE incident_events.incident_id = {}",
                merged.int("into"),
                B::JSON_ROWS,
                merged.int("from"),
            ))
            .bind(merged.json()?)
            .execute(&mut *conn)
            .await?;
            // A merged-away incident stays, pointing to the one that took its events.
            sqlx::query(&format!(
                "UPDATE incidents SET merged_into = {} FROM {} WHERE incidents.id = {}",
                merged.int("into"),
                B::JSON_ROWS,
                merged.int("from"),
            ))
            .bind(merged.json()?)
            .execute(&mut *conn)
            .await?;
        }
        if !writes.updated.is_empty() {
            let updated: Rows = writes
                .updated
                .iter()
                .map(|i| {
                    row! {
                        id: i.id,
                        first_ms: i.first_ms,
                        last_ms: i.last_ms,
                        events: i.events,
                        impact: i.impact,
                        status: i.workflow.status.as_str(),
                        resolution: i.workflow.resolution.map(|r| r.as_str().to_owned()),
                        reason: &i.workflow.reason,
                        last_event_id: i.last_event_id,
                    }
                })
                .collect();
            sqlx::query(&format!(
                "UPDATE incidents SET first_ms = {}, last_ms = {}, events = {}, impact = {}, \
                 status = {}, resolution = {}, reason = {}, last_event_id = {} \
                 FROM {} WHERE incidents.id = {}",
                updated.int("first_ms"),
                updated.int("last_ms"),
                updated.int("events"),
                updated.int("impact"),
                updated.text("status"),
                updated.text("resolution"),
                updated.text("reason"),
                updated.int("last_event_id"),
                B::JSON_ROWS,
                updated.int("id"),
            ))
            .bind(updated.json()?)
            .execute(&mut *conn)
            .await?;
        }
        for (account, id, before, event) in &writes.reopened {
            let after = before.reopened();
            let record = NewAudit::incident(*account, AuditAction::IncidentReopened, *id).change(
                status_value(before),
                json!({"status": after.status.as_str(), "event_id": event}),
            );
            Self::write_audit(&mut *conn, &Actor::system(), &record, now_ms).await?;
        }
        let memberships: Rows = writes
            .memberships
            .iter()
            .map(|(i, e)| row! { incident_id: i, event_id: e })
            .collect();
        Self::insert_rows(&mut *conn, "incident_events", &memberships, "").await?;
        // Each changed incident's impact after the batch.
        let after: HashMap<i64, Option<i64>> = writes
            .created
            .iter()
            .map(|(_, i)| (i.id, i.impact))
            .chain(writes.updated.iter().map(|i| (i.id, i.impact)))
            .collect();
        let change = |account_id: i64, incident_id: i64, change: IncidentChange| ChangedIncident {
            account_id,
            incident_id,
            change,
            impact: after.get(&incident_id).copied().flatten(),
        };
        let mut changes: Vec<ChangedIncident> = writes
            .created
            .iter()
            .map(|(account, i)| change(*account, i.id, IncidentChange::New))
            .collect();
        for i in &writes.updated {
            if let Some(&(account, before)) = impacts.get(&i.id) {
                if i.impact > before {
                    changes.push(change(account, i.id, IncidentChange::ImpactRaised));
                }
            }
        }
        for (account, id, _, _) in &writes.reopened {
            changes.push(change(*account, *id, IncidentChange::StatusChanged));
        }
        Ok(changes)
    }

    /// Stores a batch of events in the caller's transaction (see [`crate::EventLog::insert_events`]).
    pub(super) async fn insert_batch(
        conn: &mut B::Connection,
        batch: &[(&NewEvent, Option<&Dedup>)],
    ) -> StoreResult<Vec<Inserted>> {
        // Every lock the batch needs, at once and in one order: transactions on several nodes
        // (or several batches of one node) never wait on each other in a cycle.
        let (mut keys, mut tasks) = (Vec::new(), Vec::new());
        for (e, dedup) in batch {
            keys.extend(dedup.map(|d| format!("push:{}", d.fingerprint)));
            keys.push(incident_lock(e.account_id));
            tasks.extend(e.triage.task_uuids.iter().map(|u| task_lock(u)));
        }
        B::lock_all(&mut *conn, &keys, &tasks).await?;
        let mut scores: HashMap<(i64, &[String]), Option<i64>> = HashMap::new();
        for (e, _) in batch {
            let key = (e.account_id, e.triage.task_uuids.as_slice());
            if let std::collections::hash_map::Entry::Vacant(slot) = scores.entry(key) {
                slot.insert(
                    Self::task_score(&mut *conn, e.account_id, &e.triage.task_uuids).await?,
                );
            }
        }
        // Fingerprints already stored: (event id, received at) of each.
        let mut stored: HashMap<String, (i64, i64)> = HashMap::new();
        let fingerprints: Rows = batch
            .iter()
            .filter_map(|(_, d)| d.map(|d| row! { fingerprint: &d.fingerprint }))
            .collect();
        if !fingerprints.is_empty() {
            let rows = sqlx::query(&format!(
                "SELECT fingerprint, event_id, received_at_ms FROM push_fingerprints \
                 WHERE fingerprint IN (SELECT {} FROM {})",
                fingerprints.text("fingerprint"),
                B::JSON_ROWS,
            ))
            .bind(fingerprints.json()?)
            .fetch_all(&mut *conn)
            .await?;
            for row in rows {
                stored.insert(
                    row.try_get("fingerprint")?,
                    (row.try_get("event_id")?, row.try_get("received_at_ms")?),
                );
            }
        }
        // Which events are new (a later copy in this same batch is recognised too), and their
        // ids, reserved in batch order.
        let mut fresh = Vec::with_capacity(batch.len());
        let mut inserted = Vec::with_capacity(batch.len());
        for (i, (e, dedup)) in batch.iter().enumerate() {
            if let Some(d) = dedup {
                match stored.get(&d.fingerprint) {
                    Some(&(id, at)) if at >= d.since_ms => {
                        inserted.push(Inserted::Duplicate(id));
                        continue;
                    }
                    _ => {}
                }
                // Marked with the batch position until the id is known.
                stored.insert(d.fingerprint.clone(), (-(i as i64) - 1, e.received_at_ms));
            }
            fresh.push(i);
            inserted.push(Inserted::New(-(i as i64) - 1));
        }
        let ids = B::next_ids(&mut *conn, "events", fresh.len()).await?;
        let id_of = |mark: i64| {
            let position = usize::try_from(-mark - 1).unwrap_or_default();
            fresh.binary_search(&position).map_or(mark, |k| ids[k])
        };
        for answer in &mut inserted {
            *answer = match *answer {
                Inserted::New(mark) => Inserted::New(id_of(mark)),
                Inserted::Duplicate(mark) if mark < 0 => Inserted::Duplicate(id_of(mark)),
                other => other,
            };
        }
        let (mut rows, mut hosts, mut links, mut new_fingerprints): (Rows, Rows, Rows, Rows) =
            Default::default();
        let mut placed = Vec::with_capacity(fresh.len());
        let mut forwarded = Vec::with_capacity(fresh.len());
        for (&i, &id) in fresh.iter().zip(&ids) {
            let (e, dedup) = batch[i];
            let impact = higher(
                e.triage.base_impact,
                scores[&(e.account_id, e.triage.task_uuids.as_slice())],
            );
            let (user_id, license_id) = split_principal(e.pushed_by);
            rows.push(row! {
                id: id,
                account_id: e.account_id,
                license_id: e.license_id,
                sensor_id: e.sensor_id,
                pushed_by_user_id: user_id,
                pushed_by_license_id: license_id,
                kind: &e.kind,
                received_at_ms: e.received_at_ms,
                occurred_at_ms: e.occurred_at_ms,
                vendor_name: &e.vendor_name,
                tool_name: &e.tool_name,
                fields: e.fields.to_string(),
                raw_params: e.raw_params.to_string(),
                action: &e.triage.action,
                impact: impact,
                incidents_indexed: 1,
            });
            for h in &e.hosts {
                hosts.push(row! { event_id: id, account_id: e.account_id, host: h });
            }
            for u in &e.triage.task_uuids {
                links.push(task_link(id, e.account_id, u));
            }
            if let Some(d) = dedup {
                new_fingerprints.push(row! {
                    fingerprint: &d.fingerprint,
                    event_id: id,
                    received_at_ms: e.received_at_ms,
                    keep_until_ms: d.keep_until_ms,
                });
            }
            forwarded.push(Forwarded {
                account_id: e.account_id,
                event_id: id,
                kind: &e.kind,
                impact,
                action: e.triage.action.as_deref(),
                sensor_id: e.sensor_id,
                received_at_ms: e.received_at_ms,
            });
            placed.push(Placed {
                account_id: e.account_id,
                event_id: id,
                machines: machines_of(&e.triage, &e.hosts),
                group_keys: &e.triage.group_keys,
                task_uuids: &e.triage.task_uuids,
                occurred_at_ms: e.occurred_at_ms,
                impact,
                window_ms: e.incident_window_ms,
                reopen_closed: e.reopen_closed,
            });
        }
        Self::insert_rows(&mut *conn, "events", &rows, "").await?;
        Self::insert_rows(&mut *conn, "event_hosts", &hosts, "ON CONFLICT DO NOTHING").await?;
        Self::link_tasks(&mut *conn, &links).await?;
        let now_ms = batch
            .iter()
            .map(|(e, _)| e.received_at_ms)
            .max()
            .unwrap_or(0);
        let changes = Self::write_incidents(&mut *conn, &placed, now_ms).await?;
        Self::write_outbox(&mut *conn, &forwarded, &changes, now_ms).await?;
        Self::insert_rows(
            &mut *conn,
            "push_fingerprints",
            &new_fingerprints,
            "ON CONFLICT (fingerprint) DO UPDATE SET event_id = excluded.event_id, \
             received_at_ms = excluded.received_at_ms, keep_until_ms = excluded.keep_until_ms",
        )
        .await?;
        Ok(inserted)
    }

    /// Gives a batch of the backlog's events their triage and incidents in the caller's
    /// transaction (see [`crate::EventLog::index_backlog`]); returns how many.
    pub(super) async fn index_batch(
        conn: &mut B::Connection,
        window_ms: i64,
        limit: u32,
        triage_of: &TriageOf,
    ) -> StoreResult<u64> {
        let rows = sqlx::query(
            "SELECT id, account_id, kind, received_at_ms, occurred_at_ms, raw_params FROM events \
             WHERE incidents_indexed = 0 ORDER BY id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        // Each event's triage and hosts, then every lock at once, as a push batch takes them.
        let mut triages = Vec::with_capacity(rows.len());
        let mut hosts = Vec::with_capacity(rows.len());
        let (mut keys, mut tasks) = (Vec::new(), Vec::new());
        for row in &rows {
            let account_id: i64 = row.try_get("account_id")?;
            let t = triage_of(
                &row.try_get::<String, _>("kind")?,
                &Self::json_column::<Value>(row, "raw_params")?,
                row.try_get("received_at_ms")?,
            );
            tasks.extend(t.task_uuids.iter().map(|u| task_lock(u)));
            let of_event: Vec<String> =
                sqlx::query_scalar("SELECT host FROM event_hosts WHERE event_id = $1")
                    .bind(row.try_get::<i64, _>("id")?)
                    .fetch_all(&mut *conn)
                    .await?;
            keys.push(incident_lock(account_id));
            triages.push(t);
            hosts.push(of_event);
        }
        B::lock_all(&mut *conn, &keys, &tasks).await?;
        let mut placed = Vec::with_capacity(rows.len());
        for ((row, hosts), t) in rows.iter().zip(&hosts).zip(&triages) {
            let id: i64 = row.try_get("id")?;
            let account_id: i64 = row.try_get("account_id")?;
            let best = Self::task_score(&mut *conn, account_id, &t.task_uuids).await?;
            let impact = higher(t.base_impact, best);
            sqlx::query(
                "UPDATE events SET action = $1, impact = $2, incidents_indexed = 1 WHERE id = $3",
            )
            .bind(&t.action)
            .bind(impact)
            .bind(id)
            .execute(&mut *conn)
            .await?;
            let links: Rows = t
                .task_uuids
                .iter()
                .map(|u| task_link(id, account_id, u))
                .collect();
            Self::link_tasks(&mut *conn, &links).await?;
            placed.push(Placed {
                account_id,
                event_id: id,
                machines: machines_of(t, hosts),
                group_keys: &t.group_keys,
                task_uuids: &t.task_uuids,
                occurred_at_ms: row.try_get("occurred_at_ms")?,
                impact,
                window_ms,
                reopen_closed: true,
            });
        }
        // Events of the backlog were stored before: their deliveries, if any, were written
        // then; incidents they open or raise are news.
        let now_ms = chrono::Utc::now().timestamp_millis();
        let changes = Self::write_incidents(&mut *conn, &placed, now_ms).await?;
        Self::write_outbox(&mut *conn, &[], &changes, now_ms).await?;
        Ok(rows.len() as u64)
    }
}
