//! [`Analyses`] over SQL: the Analyst API's tasks (queued, claimed by workers, completed
//! with their scores) and the content submitted for them.

use super::event_writes::task_lock;
use super::rows::TASK_COLUMNS;
use super::statement::Statement;
use super::{Backend, SqlStore};
use crate::error::{conflict_as, StoreError, StoreResult};
use crate::records::*;
use crate::Analyses;
use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};

#[async_trait]
impl<B> Analyses for SqlStore<B>
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
    async fn create_tasks(&self, tasks: &[&Task]) -> StoreResult<()> {
        let Some(first) = tasks.first() else {
            return Ok(());
        };
        let what = match tasks.len() {
            1 => format!("task {}", first.uuid),
            n => format!("one of {n} tasks"),
        };
        let mut q = Statement::new(
            "INSERT INTO tasks (uuid, account_id, license_id, created_at_ms, kind, state, sha256, \
             filename, url, options, score, result, completed_at_ms) ",
        );
        q.push("VALUES ");
        for (i, t) in tasks.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.push_bind(t.uuid.as_str())
                .push(", ")
                .push_list([t.account_id, t.license_id, t.created_at_ms])
                .push(", ")
                .push_list([t.kind.as_str(), t.state.as_str()])
                .push(", ")
                .push_list([t.sha256.clone(), t.filename.clone(), t.url.clone()])
                .push(", ")
                .push_bind(stored_options(t)?)
                .push(", ")
                .push_bind(t.score)
                .push(", ")
                .push_bind(t.result.as_ref().map(|r| r.to_string()))
                .push(", ")
                .push_bind(t.completed_at_ms)
                .push(")");
        }
        q.query::<B>()
            .execute(&self.writer)
            .await
            .map_err(conflict_as(what))?;
        Ok(())
    }

    async fn find_task(&self, uuid: &str) -> StoreResult<Option<Task>> {
        sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE uuid = $1"))
            .bind(uuid)
            .fetch_optional(&self.reader)
            .await?
            .as_ref()
            .map(Self::task)
            .transpose()
    }

    async fn task_license(&self, uuid: &str) -> StoreResult<Option<i64>> {
        if let Some(license) = self.lookups.task_licenses.get(uuid) {
            return Ok(Some(license));
        }
        let generation = self.lookups.generation();
        let license: Option<i64> =
            sqlx::query_scalar("SELECT license_id FROM tasks WHERE uuid = $1")
                .bind(uuid)
                .fetch_optional(&self.reader)
                .await?;
        if let Some(license) = license {
            let lookups = &self.lookups;
            lookups.keep(&lookups.task_licenses, generation, uuid.to_owned(), license);
        }
        Ok(license)
    }

    async fn claim_tasks(&self, now_ms: i64, limit: u32) -> StoreResult<Vec<Task>> {
        // Each task is claimed once: the select-and-update is atomic on SQLite's single
        // writer, and skips rows other nodes have locked on PostgreSQL.
        let mut claimed = sqlx::query(&format!(
            "UPDATE tasks SET state = 'running', started_at_ms = $1 WHERE uuid IN \
             (SELECT uuid FROM tasks WHERE state = 'queued' ORDER BY created_at_ms, uuid \
             LIMIT $2{}) RETURNING {TASK_COLUMNS}",
            B::SKIP_LOCKED
        ))
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await?
        .iter()
        .map(Self::task)
        .collect::<StoreResult<Vec<Task>>>()?;
        claimed.sort_by(|a, b| (a.created_at_ms, &a.uuid).cmp(&(b.created_at_ms, &b.uuid)));
        Ok(claimed)
    }

    async fn requeue_running(&self, started_before_ms: i64) -> StoreResult<u64> {
        let requeued = sqlx::query(
            "UPDATE tasks SET state = 'queued', started_at_ms = NULL \
             WHERE state = 'running' AND started_at_ms < $1",
        )
        .bind(started_before_ms)
        .execute(&self.writer)
        .await?;
        Ok(B::rows_affected(&requeued))
    }

    fn is_shared(&self) -> bool {
        B::SHARED
    }

    async fn complete_tasks(&self, done: &[Completion]) -> StoreResult<i64> {
        if done.is_empty() {
            return self.completion_horizon().await;
        }
        // Held until the commit: the horizon is not read while these completions are in
        // flight (completion_horizon), on this node nor, by the advisory lock, on others.
        let _completing = self.completions.completing().await;
        let mut tx = self.writer.begin().await?;
        // The tasks alone: events being written that refer to them have committed, or
        // will read these scores.
        let locks: Vec<String> = done.iter().map(|d| task_lock(&d.uuid)).collect();
        B::lock_all(
            &mut tx,
            &locks,
            &[crate::completions::COMPLETIONS_LOCK.to_owned()],
        )
        .await?;
        let now_ms: i64 = sqlx::query_scalar(&format!("SELECT {}", B::DB_NOW_MS))
            .fetch_one(&mut *tx)
            .await?;
        for d in done {
            let r = sqlx::query(
                "UPDATE tasks SET state = 'completed', score = $1, result = $2, \
                 completed_at_ms = $3 WHERE uuid = $4",
            )
            .bind(d.score)
            .bind(d.result.to_string())
            .bind(now_ms)
            .bind(&d.uuid)
            .execute(&mut *tx)
            .await?;
            Self::expect_row(r, format!("task {}", d.uuid))?;
        }
        // The events of each task's own account that refer to it, and their incidents,
        // take its score if it is higher. Most analyses have none: they are found first.
        let mut q = Statement::new(
            "SELECT DISTINCT t.uuid FROM event_tasks et JOIN tasks t \
             ON t.uuid = et.task_uuid AND t.account_id = et.account_id WHERE t.uuid IN (",
        );
        q.push_list(done.iter().map(|d| d.uuid.as_str())).push(")");
        let referred = q.query::<B>().fetch_all(&mut *tx).await?;
        let referred: Vec<String> = referred
            .iter()
            .map(|row| row.try_get("uuid"))
            .collect::<Result<_, _>>()?;
        let raised = "CASE WHEN COALESCE(impact, $1) > $1 THEN COALESCE(impact, $1) ELSE $1 END";
        let referring = "SELECT et.event_id FROM event_tasks et JOIN tasks t \
             ON t.uuid = et.task_uuid AND t.account_id = et.account_id WHERE t.uuid = $2";
        for d in done.iter().filter(|d| referred.contains(&d.uuid)) {
            sqlx::query(&format!(
                "UPDATE events SET impact = {raised} WHERE id IN ({referring})"
            ))
            .bind(d.score)
            .bind(&d.uuid)
            .execute(&mut *tx)
            .await?;
            sqlx::query(&format!(
                "UPDATE incidents SET impact = {raised} WHERE id IN \
                 (SELECT incident_id FROM incident_events WHERE event_id IN ({referring}))"
            ))
            .bind(d.score)
            .bind(&d.uuid)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(now_ms)
    }

    async fn completion_horizon(&self) -> StoreResult<i64> {
        let _quiet = self.completions.quiet().await;
        let mut tx = self.reader.begin().await?;
        B::lock_all(
            &mut tx,
            &[crate::completions::COMPLETIONS_LOCK.to_owned()],
            &[],
        )
        .await?;
        let now_ms: i64 = sqlx::query_scalar(&format!("SELECT {}", B::DB_NOW_MS))
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(now_ms)
    }

    async fn find_cached_result(
        &self,
        license_id: i64,
        subject: Subject<'_>,
    ) -> StoreResult<Option<Task>> {
        let (kind, column, value) = match subject {
            Subject::Sha256(sha256) => ("file", "sha256", sha256),
            Subject::Url(url) => ("url", "url", url),
        };
        sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE license_id = $1 AND {column} = $2 \
             AND kind = '{kind}' AND state = 'completed' ORDER BY completed_at_ms DESC LIMIT 1"
        ))
        .bind(license_id)
        .bind(value)
        .fetch_optional(&self.reader)
        .await?
        .as_ref()
        .map(Self::task)
        .transpose()
    }

    async fn completed_tasks(
        &self,
        license_id: i64,
        after_ms: i64,
        before_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<Task>> {
        sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE license_id = $1 AND state = 'completed' \
             AND kind <> 'external' AND completed_at_ms >= $2 AND completed_at_ms < $3 \
             ORDER BY completed_at_ms, uuid LIMIT $4"
        ))
        .bind(license_id)
        .bind(after_ms)
        .bind(before_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(Self::task)
        .collect()
    }

    async fn queued_tasks(&self, license_id: i64, limit: u32) -> StoreResult<u32> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM tasks WHERE license_id = $1 \
             AND state = 'queued' LIMIT $2) AS waiting",
        )
        .bind(license_id)
        .bind(i64::from(limit))
        .fetch_one(&self.reader)
        .await?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    async fn unfinished_tasks(&self) -> StoreResult<(i64, i64)> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM tasks WHERE state IN ('queued', 'running') \
             GROUP BY state",
        )
        .fetch_all(&self.reader)
        .await?;
        let mut counts = (0, 0);
        for row in rows {
            let state: String = row.try_get("state")?;
            let n: i64 = row.try_get("n")?;
            match state.as_str() {
                "queued" => counts.0 = n,
                _ => counts.1 = n,
            }
        }
        Ok(counts)
    }

    async fn pending_tasks(
        &self,
        license_id: i64,
        after_ms: i64,
        before_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<Task>> {
        sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE license_id = $1 AND state <> 'completed' \
             AND created_at_ms >= $2 AND created_at_ms < $3 ORDER BY created_at_ms, uuid LIMIT $4"
        ))
        .bind(license_id)
        .bind(after_ms)
        .bind(before_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(Self::task)
        .collect()
    }

    async fn record_content(&self, c: &Content, now_ms: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO contents (sha256, md5, sha1, size, stored_at_ms) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(&c.sha256)
        .bind(&c.md5)
        .bind(&c.sha1)
        .bind(c.size)
        .bind(now_ms)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn license_has_content(&self, license_id: i64, sha256: &str) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM tasks WHERE license_id = $1 AND sha256 = $2) AS found",
        )
        .bind(license_id)
        .bind(sha256)
        .fetch_one(&self.reader)
        .await?;
        Ok(row.try_get("found")?)
    }

    async fn content_kept(&self, sha256: &str, except: &[String]) -> StoreResult<bool> {
        let mut q = Statement::new("SELECT EXISTS (SELECT 1 FROM tasks t WHERE t.sha256 = ");
        q.push_bind(sha256.to_owned());
        q.push(" AND ((t.state IN ('queued', 'running')");
        for uuid in except {
            q.push(" AND t.uuid <> ").push_bind(uuid.clone());
        }
        q.push(format!(
            ") OR (NOT {asked} AND NOT EXISTS (SELECT 1 FROM tasks later \
             WHERE later.sha256 = t.sha256 AND later.license_id = t.license_id \
             AND later.created_at_ms > t.created_at_ms AND {later_asked})))) AS found",
            asked = B::delete_asked("t"),
            later_asked = B::delete_asked("later"),
        ));
        let row = q.query::<B>().fetch_one(&self.writer).await?;
        Ok(row.try_get("found")?)
    }

    async fn find_content(&self, algorithm: &str, hash: &str) -> StoreResult<Option<Content>> {
        let column = match algorithm {
            "md5" => "md5",
            "sha1" => "sha1",
            _ => "sha256",
        };
        let row = sqlx::query(&format!(
            "SELECT sha256, md5, sha1, size FROM contents WHERE {column} = $1 LIMIT 1"
        ))
        .bind(hash.to_ascii_lowercase())
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| {
            Ok(Content {
                sha256: r.try_get("sha256")?,
                md5: r.try_get("md5")?,
                sha1: r.try_get("sha1")?,
                size: r.try_get("size")?,
            })
        })
        .transpose()
    }

    async fn known_tasks(&self, account_id: i64, uuids: &[String]) -> StoreResult<Vec<Task>> {
        if uuids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Statement::new(format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE account_id = "
        ));
        q.push_bind(account_id).push(" AND uuid IN (");
        q.push_list(uuids).push(")");
        q.query::<B>()
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(Self::task)
            .collect()
    }

    async fn list_tasks(&self, account_id: i64, f: &TaskFilter) -> StoreResult<Vec<Task>> {
        let mut q = Statement::new(format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE account_id = "
        ));
        q.push_bind(account_id);
        if let Some(state) = f.state {
            q.push(" AND state = ").push_bind(state.as_str());
        }
        if let Some(kind) = f.kind {
            q.push(" AND kind = ").push_bind(kind.as_str());
        }
        if let Some((at, uuid)) = &f.cursor {
            q.push(" AND (created_at_ms < ")
                .push_bind(*at)
                .push(" OR (created_at_ms = ")
                .push_bind(*at)
                .push(" AND uuid < ")
                .push_bind(uuid.clone())
                .push("))");
        }
        q.push(" ORDER BY created_at_ms DESC, uuid DESC LIMIT ")
            .push_bind(i64::from(f.limit));
        q.query::<B>()
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(Self::task)
            .collect()
    }
}

/// A task's options as stored: JSON text.
fn stored_options(t: &Task) -> StoreResult<String> {
    serde_json::to_string(&t.options)
        .map_err(|e| StoreError::Corrupt(format!("options of task {}: {e}", t.uuid)))
}
