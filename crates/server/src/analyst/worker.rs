//! Analysis workers: claim queued tasks from the store, score them with the engine, store
//! the results. Unfinished tasks go back to the queue when the server starts again.
//!
//! A worker claims up to [`BATCH`] tasks at once and stores their results in one
//! transaction: under load, the durable commits per task fall with the batch size; idle,
//! a batch is the one task that was queued.

use super::outcome::Outcome;
use super::Analysis;
use crate::metrics::Metrics;
use pushdetect_store::{Completion, Store, Task, TaskKind};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// How long an idle worker waits before looking at the queue again without being woken.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// The most tasks a worker claims at once.
pub const BATCH: u32 = 16;

/// Runs one worker until the process ends.
pub async fn run(store: Arc<dyn Store>, analysis: Arc<Analysis>, metrics: Arc<Metrics>) {
    loop {
        let now = chrono::Utc::now().timestamp_millis();
        let tasks = match store.claim_tasks(now, BATCH).await {
            Ok(tasks) if !tasks.is_empty() => tasks,
            Ok(_) => {
                let _ = tokio::time::timeout(IDLE_POLL, analysis.wake.notified()).await;
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim analysis tasks");
                tokio::time::sleep(IDLE_POLL).await;
                continue;
            }
        };
        let worker_analysis = analysis.clone();
        let analysed = tokio::task::spawn_blocking(move || {
            let done: Vec<Completion> = tasks
                .iter()
                .map(|task| {
                    let outcome = analyse(&worker_analysis, task);
                    Completion {
                        uuid: task.uuid.clone(),
                        score: outcome.score.unwrap_or(0),
                        result: outcome.to_json(),
                    }
                })
                .collect();
            (tasks, done)
        })
        .await;
        let (tasks, done) = match analysed {
            Ok(both) => both,
            Err(e) => {
                // The tasks stay running; a restart queues them again.
                tracing::error!(error = %e, "analysis failed");
                continue;
            }
        };
        delete_content_asked_for(&*store, &analysis, &tasks).await;
        match store.complete_tasks(&done).await {
            Err(e) => {
                tracing::error!(tasks = done.len(), error = %e, "cannot store analysis results")
            }
            Ok(completed_at_ms) => {
                for (task, d) in tasks.iter().zip(&done) {
                    let seconds = (completed_at_ms - task.created_at_ms) as f64 / 1000.0;
                    metrics.task_completed(seconds);
                    tracing::info!(task = %d.uuid, score = d.score, seconds, "analysis completed");
                }
            }
        }
    }
}

/// Deletes analysed content as its submitters asked: for each content of the batch, the
/// last of its tasks decides, unless a task outside the batch still waits for the same
/// content (that one decides when it is done).
async fn delete_content_asked_for(store: &dyn Store, analysis: &Analysis, tasks: &[Task]) {
    let mut decided: Vec<&str> = Vec::new();
    for task in tasks.iter().rev() {
        let Some(sha256) = task.sha256.as_deref() else {
            continue;
        };
        if decided.contains(&sha256) {
            continue;
        }
        decided.push(sha256);
        if !task.options.delete_after_analysis {
            continue;
        }
        let batch: Vec<String> = tasks
            .iter()
            .filter(|t| t.sha256.as_deref() == Some(sha256))
            .map(|t| t.uuid.clone())
            .collect();
        match store.content_kept(sha256, &batch).await {
            Ok(false) => {
                if let Err(e) = analysis.content.remove(sha256) {
                    tracing::warn!(error = %e, "cannot delete analysed content");
                }
            }
            Ok(true) => {
                tracing::debug!(task = %task.uuid, "content kept: another task awaits it or another license keeps it")
            }
            Err(e) => tracing::warn!(error = %e, "content kept: cannot tell whether it is awaited"),
        }
    }
}

/// Scores one task (blocking: runs on the blocking pool).
fn analyse(analysis: &Analysis, task: &Task) -> Outcome {
    let snapshot = analysis.engine.snapshot();
    match task.kind {
        TaskKind::Url => {
            let url = task.url.clone().unwrap_or_default();
            match snapshot.analyse_url(&url) {
                Ok((_, v)) => Outcome::of_verdict(json!({"url": url}), &v),
                Err(e) => Outcome::failed(json!({"url": url}), e.to_string()),
            }
        }
        _ => {
            let sha256 = task.sha256.clone().unwrap_or_default();
            let content = match analysis.content.read(&sha256) {
                Ok(c) => c,
                Err(e) => {
                    return Outcome::failed(
                        Value::Null,
                        format!("content {sha256} is not available: {e}"),
                    )
                }
            };
            let mut scanner = snapshot.rules.scanner();
            let (subject, v) =
                snapshot.analyse_file(&mut scanner, &content, task.filename.as_deref());
            let subject = serde_json::to_value(&subject).unwrap_or_default();
            Outcome::of_verdict(subject, &v)
        }
    }
}
