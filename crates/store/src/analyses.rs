//! The Analyst API's records: analysis tasks, their results, and the content submitted for
//! them. Part of [`crate::Store`].

use crate::error::StoreResult;
use crate::records::*;
use async_trait::async_trait;

/// Analysis tasks and submitted content. Writes commit durably before they return.
#[async_trait]
pub trait Analyses: Send + Sync {
    /// Records analysis tasks (queued, or completed for external and cached results) in
    /// one transaction: all of them, or none (a uuid already taken is a conflict).
    async fn create_tasks(&self, tasks: &[&Task]) -> StoreResult<()>;
    /// Records one analysis task (see [`Analyses::create_tasks`]).
    async fn create_task(&self, task: &Task) -> StoreResult<()> {
        self.create_tasks(&[task]).await
    }
    /// Claims up to `limit` of the oldest queued tasks for a worker (each exactly once),
    /// marking them running; oldest first.
    async fn claim_tasks(&self, now_ms: i64, limit: u32) -> StoreResult<Vec<Task>>;
    /// Claims the oldest queued task (see [`Analyses::claim_tasks`]).
    async fn claim_task(&self, now_ms: i64) -> StoreResult<Option<Task>> {
        Ok(self.claim_tasks(now_ms, 1).await?.pop())
    }
    /// Puts tasks claimed before `started_before_ms` and still running back in the queue
    /// (their node stopped); returns how many.
    async fn requeue_running(&self, started_before_ms: i64) -> StoreResult<u64>;
    /// Whether other server nodes may share this database: a node then cannot tell a task
    /// another node is analysing from an abandoned one, except by its age.
    fn is_shared(&self) -> bool;
    /// Stores the scores and results of tasks and marks them completed, in one
    /// transaction; the events referring to each (of the same account) and their incidents
    /// take its score into their impact. The completion time is the database clock's,
    /// taken inside the commit's critical section (see [`Analyses::completion_horizon`]); it
    /// is returned.
    async fn complete_tasks(&self, done: &[Completion]) -> StoreResult<i64>;
    /// Completes one task (see [`Analyses::complete_tasks`]).
    async fn complete_task(
        &self,
        uuid: &str,
        score: i64,
        result: &serde_json::Value,
    ) -> StoreResult<i64> {
        let done = Completion {
            uuid: uuid.to_owned(),
            score,
            result: result.clone(),
        };
        self.complete_tasks(std::slice::from_ref(&done)).await
    }
    /// A time (ms, database clock) before which every task completion has committed: a
    /// list of tasks completed before it is final, so a poller that continues from it
    /// misses nothing. Waits for completions in flight.
    async fn completion_horizon(&self) -> StoreResult<i64>;
    /// The latest completed task of the license that analysed this subject (a file's
    /// content, or a URL), for reuse.
    async fn find_cached_result(
        &self,
        license_id: i64,
        subject: Subject<'_>,
    ) -> StoreResult<Option<Task>>;
    /// Tasks of the license completed in [after, before), oldest completion first.
    async fn completed_tasks(
        &self,
        license_id: i64,
        after_ms: i64,
        before_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<Task>>;
    /// How many tasks of the license wait in the queue, counted up to `limit` (so the
    /// count costs at most `limit` index entries): the Analyst API refuses submissions
    /// beyond a per-license bound, so that one tenant cannot fill the queue for all.
    async fn queued_tasks(&self, license_id: i64, limit: u32) -> StoreResult<u32>;
    /// Tasks of every license waiting for analysis and being analysed: (queued, running),
    /// the analysis queue an operator watches.
    async fn unfinished_tasks(&self) -> StoreResult<(i64, i64)>;
    /// Tasks of the license submitted in [after, before) and not completed, oldest first.
    async fn pending_tasks(
        &self,
        license_id: i64,
        after_ms: i64,
        before_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<Task>>;
    /// Records content the analysis API received (idempotent).
    async fn record_content(&self, content: &Content, now_ms: i64) -> StoreResult<()>;
    /// Whether the license submitted content with this SHA-256 before (content is shared
    /// on disk, but a license may only refer by hash to what it submitted itself).
    async fn license_has_content(&self, license_id: i64, sha256: &str) -> StoreResult<bool>;
    /// Whether content that a task asked to delete after analysis must stay: a task other
    /// than those in `except` still waits to analyse it (queued or running), or a license's
    /// latest submission of it did not ask for deletion (content is shared on disk, so one
    /// license's deletion must not take away what another license keeps).
    async fn content_kept(&self, sha256: &str, except: &[String]) -> StoreResult<bool>;
    /// Finds recorded content by one of its hashes: `algorithm` is md5, sha1 or sha256.
    async fn find_content(&self, algorithm: &str, hash: &str) -> StoreResult<Option<Content>>;
    /// Finds a task by uuid.
    async fn find_task(&self, uuid: &str) -> StoreResult<Option<Task>>;
    /// The license (key_id) that submitted the task, if it exists. Read for every pushed
    /// file download, so it is cached: a task's license never changes.
    async fn task_license(&self, uuid: &str) -> StoreResult<Option<i64>>;
    /// Which of these uuids are tasks of the account.
    async fn known_tasks(&self, account_id: i64, uuids: &[String]) -> StoreResult<Vec<Task>>;

    /// The account's analysis tasks, newest submission first.
    async fn list_tasks(&self, account_id: i64, filter: &TaskFilter) -> StoreResult<Vec<Task>>;
}
