//! The Analyst API (base URL without `/papi`): submit files and URLs for analysis, poll for
//! completion, read results; as the public Lastline analysis client uses it.

pub mod actions;
pub mod api;
pub mod content;
pub mod outcome;
mod results;
mod submit;
pub mod worker;

use pushdetect_analysis::Engine;
use std::sync::Arc;
use tokio::sync::Notify;

/// The default of [`Analysis::max_queued_per_license`].
pub const DEFAULT_MAX_QUEUED_PER_LICENSE: u32 = 10_000;

/// The default of [`Analysis::max_upload_bytes`].
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 64 * 1024 * 1024;

/// What the Analyst API and its workers share.
pub struct Analysis {
    /// The scoring engine.
    pub engine: Arc<Engine>,
    /// Submitted content.
    pub content: content::ContentStore,
    /// Wakes idle workers when a task is queued.
    pub wake: Notify,
    /// Largest accepted upload, in bytes (larger answers 109).
    pub max_upload_bytes: u64,
    /// Most tasks one license may have waiting in the queue (more answers 115), so that
    /// one tenant's burst cannot hold back every other tenant's analyses.
    pub max_queued_per_license: u32,
    /// Number of workers (0: this node only queues; other nodes analyse).
    pub workers: usize,
}
