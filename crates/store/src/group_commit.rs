//! Group commit: concurrent pushes share one transaction and one durable commit.
//!
//! A commit waits for the disk (SQLite's fsync) or a round trip (PostgreSQL), and one
//! commit per push makes that wait the limit on pushes per second. Here every push joins
//! a queue; a committer takes whatever has queued (up to [`MAX_BATCH`]) while the previous
//! batch was committing, stores it with [`Store::insert_events`] in one transaction, and
//! answers each push only after that commit: "OK" still means stored durably. Under light
//! load a batch is one push and nothing waits; under heavy load batches grow by themselves.
//!
//! If a batch fails, each of its events is tried again in a transaction of its own, so
//! one bad event fails alone and a transient failure (a PostgreSQL serialisation or
//! deadlock error) gets a second chance.

use crate::records::{Dedup, Inserted, NewEvent};
use crate::{Store, StoreError, StoreResult};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// The most events one transaction stores.
pub const MAX_BATCH: usize = 256;

/// Pushes queued beyond this wait before joining the queue (back-pressure).
const QUEUE: usize = 8 * MAX_BATCH;

/// One event waiting for its commit.
struct Job {
    event: NewEvent,
    dedup: Option<Dedup>,
    answer: oneshot::Sender<StoreResult<Inserted>>,
}

/// The queue of events to store; cloned handles share it.
#[derive(Clone)]
pub struct GroupCommit {
    queue: mpsc::Sender<Job>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// Starts the committer on the current tokio runtime. It runs up to
    /// [`Store::parallel_writers`] transactions at once and stops when every handle is
    /// dropped, after storing what was queued.
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(commit_loop(store, jobs));
        GroupCommit { queue }
    }

    /// Stores the event (see [`Store::insert_event`]) and returns once it is committed.
    pub async fn insert(&self, event: NewEvent, dedup: Option<Dedup>) -> StoreResult<Inserted> {
        let (answer, answered) = oneshot::channel();
        let job = Job {
            event,
            dedup,
            answer,
        };
        self.queue
            .send(job)
            .await
            .map_err(|_| StoreError::Stopped)?;
        answered.await.map_err(|_| StoreError::Stopped)?
    }
}

async fn commit_loop(store: Arc<dyn Store>, mut jobs: mpsc::Receiver<Job>) {
    let writers = Arc::new(Semaphore::new(store.parallel_writers().max(1)));
    while let Some(first) = jobs.recv().await {
        // Waiting for a free writer is what lets the next batch grow.
        let Ok(writer) = writers.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let store = store.clone();
        tokio::spawn(async move {
            commit(store.as_ref(), batch).await;
            drop(writer);
        });
    }
    // Every handle is gone: wait for the batches in flight.
    let _ = writers
        .acquire_many(store.parallel_writers().max(1) as u32)
        .await;
}

/// Stores one batch and answers each of its events.
async fn commit(store: &dyn Store, batch: Vec<Job>) {
    let events: Vec<_> = batch
        .iter()
        .map(|job| (&job.event, job.dedup.as_ref()))
        .collect();
    match store.insert_events(&events).await {
        Ok(inserted) => {
            for (job, inserted) in batch.into_iter().zip(inserted) {
                let _ = job.answer.send(Ok(inserted));
            }
        }
        Err(e) if batch.len() == 1 => {
            if let Some(job) = batch.into_iter().next() {
                let _ = job.answer.send(Err(e));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, events = batch.len(), "batch failed; storing its events one by one");
            for job in batch {
                let inserted = store.insert_event(&job.event, job.dedup.as_ref()).await;
                let _ = job.answer.send(inserted);
            }
        }
    }
}
