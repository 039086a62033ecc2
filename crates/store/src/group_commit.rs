//! Group commit: concurrent writes share one transaction and one durable commit.
//!
//! A commit waits for the disk (SQLite's fsync) or a round trip (PostgreSQL), and one
//! commit per write makes that wait the limit on writes per second. Here every write joins
//! a queue; a committer takes whatever has queued (up to [`MAX_BATCH`]) while the previous
//! batch was committing, stores it in one transaction, and answers each write only after
//! that commit: "OK" still means stored durably. Under light load a batch is one write and
//! nothing waits; under heavy load batches grow by themselves.
//!
//! A writer may also hand over a group of writes (a batch push) that is stored in one
//! transaction, all or nothing; groups join batches like single writes and are never split.
//!
//! If a batch fails, each of its writes (or groups) is tried again in a transaction of its
//! own, so one bad write fails alone and a transient failure (a PostgreSQL serialisation
//! or deadlock error) gets a second chance.
//!
//! Two kinds of writes go through it: pushed events ([`EventWrite`], the answer says
//! whether the event was new or a resent copy) and analysis tasks ([`Task`], submitted
//! through the Analyst API).

use crate::records::{Dedup, Inserted, NewEvent, Task};
use crate::{Store, StoreError, StoreResult};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, Semaphore};

/// The most writes one transaction stores.
pub const MAX_BATCH: usize = 2048;

/// Writes queued beyond this wait before joining the queue (back-pressure).
const QUEUE: usize = 8 * MAX_BATCH;

/// Told of every batch a committer stores, so that an operator sees how large batches
/// grow and how long a commit takes (the server's metrics).
pub trait CommitObserver: Send + Sync + 'static {
    /// A batch of `writes` writes of `kind` ([`Write::KIND`]) was stored (or failed) in
    /// `took`.
    fn committed(&self, kind: &'static str, writes: usize, took: Duration);
}

/// A kind of write that concurrent writers share transactions for.
#[async_trait]
pub trait Write: Send + Sync + Sized + 'static {
    /// What each write is answered with once committed.
    type Answer: Send + 'static;
    /// Its name, for a [`CommitObserver`].
    const KIND: &'static str;
    /// Stores a batch in one transaction; one answer per write, in order.
    async fn write_batch(store: &dyn Store, batch: &[&Self]) -> StoreResult<Vec<Self::Answer>>;
    /// Stores one write in a transaction of its own.
    async fn write_one(store: &dyn Store, write: &Self) -> StoreResult<Self::Answer> {
        let mut answers = Self::write_batch(store, &[write]).await?;
        answers.pop().ok_or(StoreError::Stopped)
    }
}

/// A pushed event, with the window in which a resent copy of it is recognised.
#[derive(Debug, Clone)]
pub struct EventWrite {
    /// The event.
    pub event: NewEvent,
    /// How a resent copy is recognised.
    pub dedup: Option<Dedup>,
}

#[async_trait]
impl Write for EventWrite {
    type Answer = Inserted;
    const KIND: &'static str = "events";

    async fn write_batch(store: &dyn Store, batch: &[&Self]) -> StoreResult<Vec<Inserted>> {
        let events: Vec<_> = batch.iter().map(|w| (&w.event, w.dedup.as_ref())).collect();
        store.insert_events(&events).await
    }

    async fn write_one(store: &dyn Store, write: &Self) -> StoreResult<Inserted> {
        store.insert_event(&write.event, write.dedup.as_ref()).await
    }
}

#[async_trait]
impl Write for Task {
    type Answer = ();
    const KIND: &'static str = "tasks";

    async fn write_batch(store: &dyn Store, batch: &[&Self]) -> StoreResult<Vec<()>> {
        store.create_tasks(batch).await?;
        Ok(vec![(); batch.len()])
    }
}

/// Writes waiting for their commit: one write, or a group that is stored in one
/// transaction (a batch push).
struct Job<W: Write> {
    writes: Vec<W>,
    answer: oneshot::Sender<StoreResult<Vec<W::Answer>>>,
}

/// The queue of writes of one kind; cloned handles share it.
pub struct GroupCommit<W: Write> {
    queue: mpsc::Sender<Job<W>>,
}

impl<W: Write> Clone for GroupCommit<W> {
    fn clone(&self) -> Self {
        GroupCommit {
            queue: self.queue.clone(),
        }
    }
}

impl<W: Write> std::fmt::Debug for GroupCommit<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl<W: Write> GroupCommit<W> {
    /// Starts the committer on the current tokio runtime. It runs up to
    /// [`crate::EventLog::parallel_writers`] transactions at once and stops when every handle is
    /// dropped, after storing what was queued.
    pub fn start(store: Arc<dyn Store>) -> Self {
        Self::start_observed(store, None)
    }

    /// Like [`GroupCommit::start`], telling `observer` of every batch.
    pub fn start_observed(
        store: Arc<dyn Store>,
        observer: Option<Arc<dyn CommitObserver>>,
    ) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(commit_loop(store, jobs, observer));
        GroupCommit { queue }
    }

    /// Stores the write and returns once it is committed.
    pub async fn write(&self, write: W) -> StoreResult<W::Answer> {
        let mut answers = self.write_all(vec![write]).await?;
        answers.pop().ok_or(StoreError::Stopped)
    }

    /// Stores the writes in one transaction (shared with other writes queued at the same
    /// time) and returns once it is committed: all of them are stored, or none. One answer
    /// per write, in order.
    pub async fn write_all(&self, writes: Vec<W>) -> StoreResult<Vec<W::Answer>> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let (answer, answered) = oneshot::channel();
        self.queue
            .send(Job { writes, answer })
            .await
            .map_err(|_| StoreError::Stopped)?;
        answered.await.map_err(|_| StoreError::Stopped)?
    }
}

impl GroupCommit<EventWrite> {
    /// Stores the event (see [`crate::EventLog::insert_event`]) and returns once it is committed.
    pub async fn insert(&self, event: NewEvent, dedup: Option<Dedup>) -> StoreResult<Inserted> {
        self.write(EventWrite { event, dedup }).await
    }
}

async fn commit_loop<W: Write>(
    store: Arc<dyn Store>,
    mut jobs: mpsc::Receiver<Job<W>>,
    observer: Option<Arc<dyn CommitObserver>>,
) {
    let writers = Arc::new(Semaphore::new(store.parallel_writers().max(1)));
    while let Some(first) = jobs.recv().await {
        // Waiting for a free writer is what lets the next batch grow.
        let Ok(writer) = writers.clone().acquire_owned().await else {
            return;
        };
        let mut size = first.writes.len();
        let mut batch = vec![first];
        // A group is never split, so a batch may end past MAX_BATCH by its last group.
        while size < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => {
                    size += job.writes.len();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        let store = store.clone();
        let observer = observer.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            commit(store.as_ref(), batch).await;
            if let Some(o) = observer {
                o.committed(W::KIND, size, started.elapsed());
            }
            drop(writer);
        });
    }
    // Every handle is gone: wait for the batches in flight.
    let _ = writers
        .acquire_many(store.parallel_writers().max(1) as u32)
        .await;
}

/// Stores one batch and answers each of its jobs.
async fn commit<W: Write>(store: &dyn Store, batch: Vec<Job<W>>) {
    let writes: Vec<&W> = batch.iter().flat_map(|job| &job.writes).collect();
    match W::write_batch(store, &writes).await {
        Ok(answers) => {
            let mut answers = answers.into_iter();
            for job in batch {
                let mine: Vec<_> = answers.by_ref().take(job.writes.len()).collect();
                let _ = job.answer.send(if mine.len() == job.writes.len() {
                    Ok(mine)
                } else {
                    Err(StoreError::Corrupt("a batch was answered short".into()))
                });
            }
        }
        Err(e) if batch.len() == 1 => {
            if let Some(job) = batch.into_iter().next() {
                let _ = job.answer.send(Err(e));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, writes = writes.len(), "batch failed; storing its groups one by one");
            for job in batch {
                let answer = match job.writes.as_slice() {
                    [one] => W::write_one(store, one).await.map(|a| vec![a]),
                    group => W::write_batch(store, &group.iter().collect::<Vec<_>>()).await,
                };
                let _ = job.answer.send(answer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::SqliteStore;
    use crate::EventLog;
    use std::sync::Mutex;
    use std::time::Duration;
    use tokio::sync::Notify;

    /// What the probe writes of one test saw.
    #[derive(Default)]
    struct Seen {
        /// The size of every batch, in the order they were stored.
        batches: Mutex<Vec<usize>>,
        /// How many writes were retried alone.
        retried: Mutex<usize>,
        /// Lets the held batch finish.
        release: Notify,
    }

    /// A write kind of these tests: it records what the committer hands it instead of
    /// storing anything, so batch sizes and the retry path can be observed.
    struct Probe {
        seen: Arc<Seen>,
        /// The batch holding this write waits for `release` before it is stored.
        hold: bool,
        /// Batches of more than one write fail; batches of one fail when this is set.
        fail_alone: bool,
        id: usize,
    }

    #[async_trait]
    impl Write for Probe {
        type Answer = usize;
        const KIND: &'static str = "probe";

        async fn write_batch(_: &dyn Store, batch: &[&Self]) -> StoreResult<Vec<usize>> {
            let seen = &batch[0].seen;
            seen.batches.lock().unwrap().push(batch.len());
            if batch.iter().any(|w| w.hold) {
                seen.release.notified().await;
            }
            if batch.len() > 1 && batch.iter().any(|w| w.fail_alone) {
                return Err(StoreError::Conflict("batch".into()));
            }
            if batch.len() == 1 && batch[0].fail_alone {
                return Err(StoreError::Conflict(format!("write {}", batch[0].id)));
            }
            Ok(batch.iter().map(|w| w.id).collect())
        }

        async fn write_one(_: &dyn Store, write: &Self) -> StoreResult<usize> {
            *write.seen.retried.lock().unwrap() += 1;
            Ok(write.id)
        }
    }

    async fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        assert_eq!(
            store.parallel_writers(),
            1,
            "one writer: batches queue behind it"
        );
        (dir, Arc::new(store))
    }

    /// Starts a write whose batch waits until `seen.release` is notified, and returns
    /// once the committer holds it.
    async fn hold(commit: &GroupCommit<Probe>, seen: &Arc<Seen>) -> tokio::task::JoinHandle<()> {
        let (c, s) = (commit.clone(), seen.clone());
        let held = tokio::spawn(async move {
            let probe = Probe {
                seen: s,
                hold: true,
                fail_alone: false,
                id: 0,
            };
            assert_eq!(c.write(probe).await.unwrap(), 0);
        });
        for _ in 0..500 {
            if !seen.batches.lock().unwrap().is_empty() {
                return held;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the held write never reached the committer");
    }

    /// Starts writes `ids` concurrently; their answers, in the order of `ids`.
    fn spawn_writes(
        commit: &GroupCommit<Probe>,
        seen: &Arc<Seen>,
        ids: std::ops::RangeInclusive<usize>,
        fail_alone: bool,
    ) -> Vec<tokio::task::JoinHandle<StoreResult<usize>>> {
        ids.map(|id| {
            let (c, seen) = (commit.clone(), seen.clone());
            tokio::spawn(async move {
                let probe = Probe {
                    seen,
                    hold: false,
                    fail_alone,
                    id,
                };
                c.write(probe).await
            })
        })
        .collect()
    }

    /// Waits (bounded) until `n` writes sit in the queue.
    async fn queued(commit: &GroupCommit<Probe>, n: usize) {
        for _ in 0..500 {
            if commit.queue.max_capacity() - commit.queue.capacity() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let waiting = commit.queue.max_capacity() - commit.queue.capacity();
        panic!("{waiting} writes queued, expected {n}: the queue holds eight batches");
    }

    #[tokio::test]
    async fn writes_queued_behind_a_commit_share_batches_of_at_most_max_batch() {
        let (_dir, store) = store().await;
        let commit = GroupCommit::<Probe>::start(store);
        let seen = Arc::new(Seen::default());
        let held = hold(&commit, &seen).await;
        let total = 2 * MAX_BATCH + 88;
        let writes = spawn_writes(&commit, &seen, 1..=total, false);
        // The committer has taken the first of them and waits for the writer.
        queued(&commit, total - 1).await;
        seen.release.notify_one();
        held.await.unwrap();
        for (i, w) in writes.into_iter().enumerate() {
            assert_eq!(
                w.await.unwrap().unwrap(),
                i + 1,
                "each write gets its own answer"
            );
        }
        assert_eq!(*seen.batches.lock().unwrap(), [1, MAX_BATCH, MAX_BATCH, 88]);
        assert_eq!(*seen.retried.lock().unwrap(), 0);
    }

    #[tokio::test]
    async fn a_failed_batch_is_retried_write_by_write() {
        let (_dir, store) = store().await;
        let commit = GroupCommit::<Probe>::start(store);
        let seen = Arc::new(Seen::default());
        let held = hold(&commit, &seen).await;
        let writes = spawn_writes(&commit, &seen, 1..=3, true);
        queued(&commit, 2).await;
        seen.release.notify_one();
        held.await.unwrap();
        for (i, w) in writes.into_iter().enumerate() {
            assert_eq!(
                w.await.unwrap().unwrap(),
                i + 1,
                "answered by its own retry"
            );
        }
        assert_eq!(*seen.batches.lock().unwrap(), [1, 3]);
        assert_eq!(*seen.retried.lock().unwrap(), 3);
    }

    #[tokio::test]
    async fn a_group_joins_a_batch_whole_and_is_retried_whole() {
        let (_dir, store) = store().await;
        let commit = GroupCommit::<Probe>::start(store);
        let seen = Arc::new(Seen::default());
        let held = hold(&commit, &seen).await;
        let probe = |id, fail_alone| Probe {
            seen: seen.clone(),
            hold: false,
            fail_alone,
            id,
        };
        // Queued behind the held batch, in this order: a single write that makes any
        // shared batch fail, then a group larger than what is left of a batch.
        let (single, single_answer) = oneshot::channel();
        commit
            .queue
            .send(Job {
                writes: vec![probe(1, true)],
                answer: single,
            })
            .await
            .unwrap();
        let ids: Vec<usize> = (2..=MAX_BATCH + 2).collect();
        let (group, group_answer) = oneshot::channel();
        commit
            .queue
            .send(Job {
                writes: ids.iter().map(|&id| probe(id, false)).collect(),
                answer: group,
            })
            .await
            .unwrap();
        seen.release.notify_one();
        held.await.unwrap();
        assert_eq!(single_answer.await.unwrap().unwrap(), [1]);
        assert_eq!(
            group_answer.await.unwrap().unwrap(),
            ids,
            "one answer per write, in order"
        );
        assert_eq!(
            *seen.batches.lock().unwrap(),
            [1, MAX_BATCH + 2, MAX_BATCH + 1],
            "the group is taken whole past MAX_BATCH, and retried as one transaction"
        );
        assert_eq!(
            *seen.retried.lock().unwrap(),
            1,
            "only the single write alone"
        );
        assert!(commit.write_all(Vec::new()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_failed_write_alone_gets_its_error_without_a_retry() {
        let (_dir, store) = store().await;
        let commit = GroupCommit::<Probe>::start(store);
        assert_eq!(format!("{commit:?}"), "GroupCommit { .. }");
        let seen = Arc::new(Seen::default());
        let probe = Probe {
            seen: seen.clone(),
            hold: false,
            fail_alone: true,
            id: 7,
        };
        let err = commit.write(probe).await.unwrap_err();
        assert_eq!(err.to_string(), "write 7 already exists");
        assert_eq!(*seen.batches.lock().unwrap(), [1]);
        assert_eq!(
            *seen.retried.lock().unwrap(),
            0,
            "a batch of one is not tried twice"
        );
    }
}
