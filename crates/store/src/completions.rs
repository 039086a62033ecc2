//! The completion horizon of analysis tasks: a time before which every completion has
//! committed, so that a client polling `completed` with `after` = the previous answer's
//! `before` never misses a task.
//!
//! A completion takes its time from the database clock while it holds the completions
//! lock shared, and keeps it until its commit; reading the horizon takes the lock alone,
//! so it waits for completions in flight, and any completion that starts later reads a
//! later clock. The lock is held in process (one SQLite server) and, on PostgreSQL, also as
//! a transaction-scoped advisory lock that every node takes (see `lock_all`).

use std::sync::Arc;
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

/// The name of the advisory lock every node's completions share.
pub(crate) const COMPLETIONS_LOCK: &str = "analysis-task-completions";

/// The in-process side of the completions lock.
#[derive(Debug, Clone, Default)]
pub(crate) struct Completions(Arc<RwLock<()>>);

impl Completions {
    /// Held by a completion from reading its time to its commit.
    pub(crate) async fn completing(&self) -> OwnedRwLockReadGuard<()> {
        self.0.clone().read_owned().await
    }

    /// Held while the horizon is read: no completion is in flight.
    pub(crate) async fn quiet(&self) -> OwnedRwLockWriteGuard<()> {
        self.0.clone().write_owned().await
    }
}
