//! Analysis workers: claim queued tasks from the store, score them with the engine, store
//! the result. Unfinished tasks go back to the queue when the server starts again.

use super::Analysis;
use pushdetect_analysis::Verdict;
use pushdetect_store::{Store, Task, TaskKind};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// How long an idle worker waits before looking at the queue again without being woken.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Runs one worker until the process ends.
pub async fn run(store: Arc<dyn Store>, analysis: Arc<Analysis>) {
    loop {
        let now = chrono::Utc::now().timestamp_millis();
        let task = match store.claim_task(now).await {
            Ok(Some(task)) => task,
            Ok(None) => {
                let _ = tokio::time::timeout(IDLE_POLL, analysis.wake.notified()).await;
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim analysis task");
                tokio::time::sleep(IDLE_POLL).await;
                continue;
            }
        };
        let uuid = task.uuid.clone();
        let delete_content = task
            .sha256
            .clone()
            .filter(|_| task.options.get("delete_after_analysis") == Some(&json!(true)));
        let worker_analysis = analysis.clone();
        let outcome = tokio::task::spawn_blocking(move || analyse(&worker_analysis, &task)).await;
        let (score, result) = match outcome {
            Ok(r) => r,
            Err(e) => (0, json!({"error": format!("analysis failed: {e}")})),
        };
        if let Some(sha256) = delete_content {
            delete_unless_awaited(&*store, &analysis, &sha256, &uuid).await;
        }
        match store.complete_task(&uuid, score, &result).await {
            Err(e) => tracing::error!(task = %uuid, error = %e, "cannot store analysis result"),
            Ok(_) => tracing::info!(task = %uuid, score, "analysis completed"),
        }
    }
}

/// Deletes analysed content as its submitter asked, unless another task still waits for
/// the same content: that one deletes it (if it asked to) when it is done.
async fn delete_unless_awaited(store: &dyn Store, analysis: &Analysis, sha256: &str, uuid: &str) {
    match store.content_awaited(sha256, uuid).await {
        Ok(false) => {
            if let Err(e) = analysis.content.remove(sha256) {
                tracing::warn!(error = %e, "cannot delete analysed content");
            }
        }
        Ok(true) => tracing::debug!(task = %uuid, "content kept: another task awaits it"),
        Err(e) => tracing::warn!(error = %e, "content kept: cannot tell whether it is awaited"),
    }
}

fn verdict_json(subject: Value, verdict: &Verdict) -> Value {
    json!({
        "analysis_subject": subject,
        "score": verdict.score,
        "malicious_activity": verdict.malicious_activity,
        "findings": verdict.findings,
    })
}

/// Scores one task (blocking: runs on the blocking pool).
fn analyse(analysis: &Analysis, task: &Task) -> (i64, Value) {
    let snapshot = analysis.engine.snapshot();
    match task.kind {
        TaskKind::Url => {
            let url = task.url.clone().unwrap_or_default();
            match snapshot.analyse_url(&url) {
                Ok((_, v)) => (i64::from(v.score), verdict_json(json!({"url": url}), &v)),
                Err(e) => (
                    0,
                    json!({"analysis_subject": {"url": url}, "error": e.to_string()}),
                ),
            }
        }
        _ => {
            let sha256 = task.sha256.clone().unwrap_or_default();
            let content = match analysis.content.read(&sha256) {
                Ok(c) => c,
                Err(e) => {
                    return (
                        0,
                        json!({"error": format!("content {sha256} is not available: {e}")}),
                    )
                }
            };
            let mut scanner = snapshot.rules.scanner();
            let (subject, v) =
                snapshot.analyse_file(&mut scanner, &content, task.filename.as_deref());
            let subject = serde_json::to_value(&subject).unwrap_or_default();
            (i64::from(v.score), verdict_json(subject, &v))
        }
    }
}
