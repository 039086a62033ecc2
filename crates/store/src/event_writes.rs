// How events are written, included by `sqlite.rs` and `postgres.rs` after `shared_sql.rs`
// (see there for what the including module defines; this file also uses `next_ids` and
// `OVERRIDING`). A batch of events costs a fixed number of statements, whatever its
// size: rows travel as one JSON array per table (`JSON_ROWS`), new ids are reserved
// up front (`next_ids`), and incidents are planned in memory (`incident_plan`).

use crate::incident_plan::Plan;
use serde_json::json;

/// The triage steps of storing an event, run inside the caller's transaction.
mod triage {
    use super::*;

    /// The best score among the account's tasks of these uuids that are scored.
    pub(super) async fn task_score(
        conn: &mut DbConn,
        account_id: i64,
        task_uuids: &[String],
    ) -> StoreResult<Option<i64>> {
        if task_uuids.is_empty() {
            return Ok(None);
        }
        // The caller holds the shared `task_lock` of each: a completion in flight has
        // committed before this read, or finds this event once it commits.
        let mut q: QueryBuilder<Db> =
            QueryBuilder::new("SELECT MAX(score) FROM (SELECT score FROM tasks WHERE account_id = ");
        q.push_bind(account_id).push(" AND uuid IN (");
        let mut sep = q.separated(", ");
        for u in task_uuids {
            sep.push_bind(u);
        }
        q.push(")) AS referred");
        Ok(q.build_query_scalar().fetch_one(&mut *conn).await?)
    }

    /// Inserts rows given as a JSON array of arrays: `insert` names the table and columns,
    /// `select` reads each column from `value` (`value ->> 0`, ...), `on_conflict` says
    /// what to do with a row that exists.
    pub(super) async fn insert_rows(
        conn: &mut DbConn,
        insert: &str,
        select: &str,
        on_conflict: &str,
        rows: Vec<serde_json::Value>,
    ) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        // (`WHERE true` keeps SQLite from reading ON CONFLICT as a join's ON.)
        sqlx::query(&format!(
            "{insert} SELECT {select} FROM {JSON_ROWS} WHERE true {on_conflict}"
        ))
        .bind(serde_json::Value::Array(rows).to_string())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Records which tasks events refer to, so that their scores reach them later:
    /// `(event_id, account_id, task_uuid)` rows.
    pub(super) async fn link_tasks(
        conn: &mut DbConn,
        links: Vec<serde_json::Value>,
    ) -> StoreResult<()> {
        insert_rows(
            conn,
            "INSERT INTO event_tasks (event_id, account_id, task_uuid)",
            "CAST(value ->> 0 AS BIGINT), CAST(value ->> 1 AS BIGINT), value ->> 2",
            "ON CONFLICT DO NOTHING",
            links,
        )
        .await
    }

    /// The lock name of a task's score: completions take it alone, event writes that read
    /// the score share it.
    pub(super) fn task_lock(uuid: &str) -> String {
        format!("task:{uuid}")
    }

    /// The lock name of an account's incidents of one host.
    pub(super) fn incident_lock(account_id: i64, host: &str) -> String {
        format!("incident:{account_id}:{host}")
    }
}


/// Where one stored event goes among the incidents of its hosts.
struct Placed<'a> {
    account_id: i64,
    event_id: i64,
    hosts: &'a [String],
    occurred_at_ms: i64,
    impact: Option<i64>,
    window_ms: i64,
}

/// Adds events to the incidents of their hosts (see [`Plan`]). The caller holds the
/// [`triage::incident_lock`] of every host.
async fn write_incidents(conn: &mut DbConn, placed: &[Placed<'_>]) -> StoreResult<()> {
    // The reach of the batch on each host: every incident it can touch.
    let mut reach: std::collections::HashMap<(i64, &str), (i64, i64)> = Default::default();
    for p in placed {
        let lo = p.occurred_at_ms.saturating_sub(p.window_ms);
        let hi = p.occurred_at_ms.saturating_add(p.window_ms);
        for host in p.hosts {
            let r = reach.entry((p.account_id, host)).or_insert((lo, hi));
            *r = (r.0.min(lo), r.1.max(hi));
        }
    }
    if reach.is_empty() {
        return Ok(());
    }
    let reach: Vec<_> = reach
        .into_iter()
        .map(|((account, host), (lo, hi))| json!([account, host, lo, hi]))
        .collect();
    let rows = sqlx::query(&format!(
        "SELECT i.account_id, i.{} FROM incidents i JOIN (SELECT CAST(value ->> 0 AS BIGINT) \
         AS account_id, value ->> 1 AS host, CAST(value ->> 2 AS BIGINT) AS lo, \
         CAST(value ->> 3 AS BIGINT) AS hi FROM {JSON_ROWS}) q ON i.account_id = q.account_id \
         AND i.host = q.host AND i.last_ms >= q.lo AND i.first_ms <= q.hi",
        INCIDENT_COLUMNS.replace(", ", ", i.")
    ))
    .bind(serde_json::Value::Array(reach).to_string())
    .fetch_all(&mut *conn)
    .await?;
    let mut stored = Vec::with_capacity(rows.len());
    for row in &rows {
        stored.push((row.try_get("account_id")?, incident(row)?));
    }
    let mut plan = Plan::new(stored);
    for p in placed {
        for host in p.hosts {
            plan.add(p.account_id, host, p.event_id, p.occurred_at_ms, p.impact, p.window_ms);
        }
    }
    let ids = next_ids(&mut *conn, "incidents", plan.new_incidents()).await?;
    let writes = plan.finish(&ids);
    let created = writes.created.iter().map(|(account, i)| {
        json!([i.id, account, i.host, i.first_ms, i.last_ms, i.events, i.impact])
    });
    triage::insert_rows(
        &mut *conn,
        &format!(
            "INSERT INTO incidents (id, account_id, host, first_ms, last_ms, events, impact) \
             {OVERRIDING}"
        ),
        "CAST(value ->> 0 AS BIGINT), CAST(value ->> 1 AS BIGINT), value ->> 2, \
         CAST(value ->> 3 AS BIGINT), CAST(value ->> 4 AS BIGINT), CAST(value ->> 5 AS BIGINT), \
         CAST(value ->> 6 AS BIGINT)",
        "",
        created.collect(),
    )
    .await?;
    if !writes.merged.is_empty() {
        let merged: Vec<_> = writes.merged.iter().map(|(from, into)| json!([from, into])).collect();
        let merged = serde_json::Value::Array(merged).to_string();
        sqlx::query(&format!(
            "UPDATE incident_events SET incident_id = CAST(value ->> 1 AS BIGINT) \
             FROM {JSON_ROWS} WHERE incident_events.incident_id = CAST(value ->> 0 AS BIGINT)"
        ))
        .bind(&merged)
        .execute(&mut *conn)
        .await?;
        sqlx::query(&format!(
            "DELETE FROM incidents WHERE id IN (SELECT CAST(value ->> 0 AS BIGINT) FROM {JSON_ROWS})"
        ))
        .bind(&merged)
        .execute(&mut *conn)
        .await?;
    }
    if !writes.updated.is_empty() {
        let updated = writes
            .updated
            .iter()
            .map(|i| json!([i.id, i.first_ms, i.last_ms, i.events, i.impact]));
        sqlx::query(&format!(
            "UPDATE incidents SET first_ms = CAST(value ->> 1 AS BIGINT), \
             last_ms = CAST(value ->> 2 AS BIGINT), events = CAST(value ->> 3 AS BIGINT), \
             impact = CAST(value ->> 4 AS BIGINT) FROM {JSON_ROWS} \
             WHERE incidents.id = CAST(value ->> 0 AS BIGINT)"
        ))
        .bind(serde_json::Value::Array(updated.collect()).to_string())
        .execute(&mut *conn)
        .await?;
    }
    triage::insert_rows(
        &mut *conn,
        "INSERT INTO incident_events (incident_id, event_id)",
        "CAST(value ->> 0 AS BIGINT), CAST(value ->> 1 AS BIGINT)",
        "",
        writes.memberships.iter().map(|(i, e)| json!([i, e])).collect(),
    )
    .await
}

/// Stores a batch of events in the caller's transaction (see [`Store::insert_events`]).
async fn insert_batch(
    conn: &mut DbConn,
    batch: &[(&NewEvent, Option<&Dedup>)],
) -> StoreResult<Vec<Inserted>> {
    use std::collections::HashMap;
    // Every lock the batch needs, at once and in one order: transactions on several nodes
    // (or several batches of one node) never wait on each other in a cycle.
    let (mut keys, mut tasks) = (Vec::new(), Vec::new());
    for (e, dedup) in batch {
        keys.extend(dedup.map(|d| format!("push:{}", d.fingerprint)));
        keys.extend(e.hosts.iter().map(|h| triage::incident_lock(e.account_id, h)));
        tasks.extend(e.triage.task_uuids.iter().map(|u| triage::task_lock(u)));
    }
    lock_all(&mut *conn, &keys, &tasks).await?;
    let mut scores: HashMap<(i64, &[String]), Option<i64>> = HashMap::new();
    for (e, _) in batch {
        let key = (e.account_id, e.triage.task_uuids.as_slice());
        if let std::collections::hash_map::Entry::Vacant(slot) = scores.entry(key) {
            slot.insert(triage::task_score(&mut *conn, e.account_id, &e.triage.task_uuids).await?);
        }
    }
    // Fingerprints already stored: (event id, received at) of each.
    let mut stored: HashMap<String, (i64, i64)> = HashMap::new();
    let fingerprints: Vec<serde_json::Value> = batch
        .iter()
        .filter_map(|(_, d)| d.map(|d| json!([d.fingerprint])))
        .collect();
    if !fingerprints.is_empty() {
        let rows = sqlx::query(&format!(
            "SELECT fingerprint, event_id, received_at_ms FROM push_fingerprints \
             WHERE fingerprint IN (SELECT value ->> 0 FROM {JSON_ROWS})"
        ))
        .bind(serde_json::Value::Array(fingerprints).to_string())
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
    let ids = next_ids(&mut *conn, "events", fresh.len()).await?;
    let id_of = |mark: i64| {
        let position = usize::try_from(-mark - 1).unwrap_or_default();
        fresh
            .binary_search(&position)
            .map_or(mark, |k| ids[k])
    };
    for answer in &mut inserted {
        *answer = match *answer {
            Inserted::New(mark) => Inserted::New(id_of(mark)),
            Inserted::Duplicate(mark) if mark < 0 => Inserted::Duplicate(id_of(mark)),
            other => other,
        };
    }
    let (mut rows, mut hosts, mut links, mut new_fingerprints, mut placed) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (&i, &id) in fresh.iter().zip(&ids) {
        let (e, dedup) = batch[i];
        let impact = higher(
            e.triage.base_impact,
            scores[&(e.account_id, e.triage.task_uuids.as_slice())],
        );
        let (user_id, license_id) = split_principal(e.pushed_by);
        rows.push(json!([
            id,
            e.account_id,
            e.license_id,
            e.sensor_id,
            user_id,
            license_id,
            e.kind,
            e.received_at_ms,
            e.occurred_at_ms,
            e.vendor_name,
            e.tool_name,
            e.fields.to_string(),
            e.raw_params.to_string(),
            e.triage.action,
            impact
        ]));
        hosts.extend(e.hosts.iter().map(|h| json!([id, e.account_id, h])));
        links.extend(e.triage.task_uuids.iter().map(|u| json!([id, e.account_id, u])));
        if let Some(d) = dedup {
            new_fingerprints.push(json!([d.fingerprint, id, e.received_at_ms]));
        }
        placed.push(Placed {
            account_id: e.account_id,
            event_id: id,
            hosts: &e.hosts,
            occurred_at_ms: e.occurred_at_ms,
            impact,
            window_ms: e.incident_window_ms,
        });
    }
    triage::insert_rows(
        &mut *conn,
        &format!(
            "INSERT INTO events (id, account_id, license_id, sensor_id, pushed_by_user_id, \
             pushed_by_license_id, kind, received_at_ms, occurred_at_ms, vendor_name, tool_name, \
             fields, raw_params, action, impact, incidents_indexed) {OVERRIDING}"
        ),
        "CAST(value ->> 0 AS BIGINT), CAST(value ->> 1 AS BIGINT), CAST(value ->> 2 AS BIGINT), \
         CAST(value ->> 3 AS BIGINT), CAST(value ->> 4 AS BIGINT), CAST(value ->> 5 AS BIGINT), \
         value ->> 6, CAST(value ->> 7 AS BIGINT), CAST(value ->> 8 AS BIGINT), value ->> 9, \
         value ->> 10, value ->> 11, value ->> 12, value ->> 13, CAST(value ->> 14 AS BIGINT), 1",
        "",
        rows,
    )
    .await?;
    triage::insert_rows(
        &mut *conn,
        "INSERT INTO event_hosts (event_id, account_id, host)",
        "CAST(value ->> 0 AS BIGINT), CAST(value ->> 1 AS BIGINT), value ->> 2",
        "ON CONFLICT DO NOTHING",
        hosts,
    )
    .await?;
    triage::link_tasks(&mut *conn, links).await?;
    write_incidents(&mut *conn, &placed).await?;
    triage::insert_rows(
        &mut *conn,
        "INSERT INTO push_fingerprints (fingerprint, event_id, received_at_ms)",
        "value ->> 0, CAST(value ->> 1 AS BIGINT), CAST(value ->> 2 AS BIGINT)",
        "ON CONFLICT (fingerprint) DO UPDATE SET event_id = excluded.event_id, \
         received_at_ms = excluded.received_at_ms",
        new_fingerprints,
    )
    .await?;
    Ok(inserted)
}
