//! Reading results: a task's result, summary, activities, tags and metadata, its
//! downloadable subject, progress, the completed and pending lists, and the hash queries.
//!
//! A task has one report, named by the task's own uuid (`reports[0].report_uuid`), so the
//! public client's report-based calls work unchanged.

use super::api::{api_time, own_task, unavailable, Input, Licensed, Result};
use super::outcome::Outcome;
use crate::state::AppState;
use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use pushdetect_model::analyst::{AnalystCode, AnalystError};
use pushdetect_model::values::Timestamp;
use pushdetect_store::{Subject, Task, TaskKind, TaskState};
use serde_json::{json, Map, Value};

/// Score from which a file counts as blocked by `is_blocked_file_hash` (the BLOCK
/// threshold of the analyse commands).
const BLOCK_SCORE: i64 = 70;

/// Page size of `completed` and `get_pending`.
const PAGE: u32 = 1000;

/// The only artifact a task has: the content that was analysed.
const SUBJECT_ARTIFACT: &str = "analysis_subject";

/// The caller's `full_report_score`, as the public client sends it with `get` and with
/// submissions: from which score on the full report (the findings) is sent. -1 and 101
/// mean never, 0 always; absent, always.
pub(super) fn full_report_score(input: &Input) -> Result<Option<i64>> {
    input
        .get("full_report_score")
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .ok()
                .filter(|n| (-1..=101).contains(n))
                .ok_or_else(|| {
                    AnalystError::metadata(
                        "full_report_score",
                        "an integer from -1 (never a full report) to 101",
                    )
                })
        })
        .transpose()
}

/// The full result of a finished task, as `get` answers it and as a submission of known
/// content answers at once; without the findings when the task's score is below the
/// caller's `full_report_score` (see [`full_report_score`]).
pub(super) fn result_data(task: &Task, full_report_score: Option<i64>) -> Value {
    let mut data = Map::new();
    data.insert("task_uuid".into(), json!(task.uuid));
    if let Value::Object(result) = Outcome::of(task).to_json() {
        data.extend(result);
    }
    data.insert("score".into(), json!(task.score.unwrap_or(0)));
    data.insert("submission".into(), json!(api_time(task.created_at_ms)));
    if let Some(done) = task.completed_at_ms {
        data.insert("completed".into(), json!(api_time(done)));
    }
    data.insert(
        "reports".into(),
        json!([{"report_uuid": task.uuid, "description": "pushdetect static analysis"}]),
    );
    let score = task.score.unwrap_or(0);
    let full = match full_report_score {
        None => true,
        Some(-1 | 101) => false,
        Some(from) => score >= from,
    };
    if !full {
        data.remove("findings");
    }
    Value::Object(data)
}

fn finished(task: Task) -> Result<Task> {
    if task.state != TaskState::Completed {
        return Err(AnalystError::new(
            AnalystCode::NoResultFound,
            format!("task {} has no result yet", task.uuid),
        ));
    }
    Ok(task)
}

/// `get`: HTTP 404 for an unknown task, 412 without result yet, as the client expects.
/// A `report_uuid` must name the task's one report; `full_report_score` decides whether
/// the findings are sent.
pub(super) async fn get(app: &AppState, who: &Licensed, input: &Input) -> Result<Value> {
    let threshold = full_report_score(input)?;
    let task = own_task(app, who, input)
        .await
        .map_err(|e| e.with_status(404))?;
    let task = finished(task).map_err(|e| e.with_status(412))?;
    check_report_uuid(input.get("report_uuid"), &task)?;
    Ok(result_data(&task, threshold))
}

/// A `report_uuid` given with a call must name the task's one report (its own uuid).
fn check_report_uuid(report: Option<&str>, task: &Task) -> Result<()> {
    match report {
        Some(r) if !r.trim().eq_ignore_ascii_case(&task.uuid) => Err(AnalystError::metadata(
            "report_uuid",
            &format!("the report_uuid of this task's result ({})", task.uuid),
        )),
        _ => Ok(()),
    }
}

/// `get_result` (the client's `get_result_summary`): the score, subject and activity;
/// with `score_only`, the score alone.
pub(super) async fn summary(app: &AppState, who: &Licensed, input: &Input) -> Result<Value> {
    let score_only = input.flag("score_only")?;
    let task = finished(own_task(app, who, input).await?)?;
    let mut data = json!({"task_uuid": task.uuid, "score": task.score.unwrap_or(0)});
    if !score_only {
        let outcome = Outcome::of(&task);
        data["analysis_subject"] = outcome.analysis_subject;
        data["malicious_activity"] = json!(outcome.malicious_activity);
        data["completed"] = json!(task.completed_at_ms.map(api_time));
    }
    Ok(data)
}

/// `get_result_activities` and `get_report_activities` (`of_report`: naming the report
/// by `report_uuid`): what the analysis found.
pub(super) async fn activities(
    app: &AppState,
    who: &Licensed,
    input: &Input,
    of_report: bool,
) -> Result<Value> {
    let report = of_report
        .then(|| input.require("report_uuid", "the report_uuid of a task's result"))
        .transpose()?;
    let task = finished(own_task(app, who, input).await?)?;
    check_report_uuid(report, &task)?;
    let outcome = Outcome::of(&task);
    Ok(json!({
        "task_uuid": task.uuid,
        "malicious_activity": outcome.malicious_activity,
        "findings": outcome.findings,
    }))
}

/// `get_analysis_tags`: the rules that matched, one tag each.
pub(super) async fn tags(app: &AppState, who: &Licensed, input: &Input) -> Result<Value> {
    let task = finished(own_task(app, who, input).await?)?;
    let outcome = Outcome::of(&task);
    Ok(json!({"task_uuid": task.uuid, "tags": outcome.rules()}))
}

/// `get_task_metadata`: the submission as recorded.
pub(super) async fn metadata(app: &AppState, who: &Licensed, input: &Input) -> Result<Value> {
    let task = own_task(app, who, input).await?;
    Ok(json!({
        "task_uuid": task.uuid,
        "task_type": match task.kind { TaskKind::Url => "url", _ => "file" },
        "state": task.state.as_str(),
        "submission": api_time(task.created_at_ms),
        "completed": task.completed_at_ms.map(api_time),
        "sha256": task.sha256,
        "filename": task.filename,
        "url": task.url,
        "context": task.options,
    }))
}

/// `get_progress`.
pub(super) async fn progress(app: &AppState, who: &Licensed, input: &Input) -> Result<Value> {
    let t = own_task(app, who, input).await?;
    let progress = match t.state {
        TaskState::Queued => 0,
        TaskState::Running => 50,
        TaskState::Completed => 100,
    };
    Ok(json!({"completed": u8::from(t.state == TaskState::Completed), "progress": progress}))
}

/// Whether a task's analysed content can be downloaded, and its path if so.
fn subject_path(app: &AppState, task: &Task) -> Option<std::path::PathBuf> {
    task.sha256
        .as_deref()
        .filter(|s| app.analysis.content.has(s))
        .map(|s| app.analysis.content.path(s))
}

/// `query_task_artifact`: whether the artifact can be downloaded now.
pub(super) async fn query_artifact(app: &AppState, who: &Licensed, input: &Input) -> Result<Value> {
    let name = input.require("artifact_name", "the name of an artifact: analysis_subject")?;
    let task = own_task(app, who, input).await?;
    let available = name == SUBJECT_ARTIFACT && subject_path(app, &task).is_some();
    Ok(json!({"artifact_name": name, "available": u8::from(available)}))
}

/// `get_result_artifact` (artifact_uuid `REPORT_UUID:NAME`) and `get_report_artifact`
/// (report_uuid and artifact_name): the raw bytes of the analysed content, streamed. As
/// the client expects, errors are HTTP statuses: 412 unknown task, 404 unknown report or
/// artifact, 410 content no longer kept (deleted after analysis).
pub(super) async fn artifact(app: &AppState, who: &Licensed, input: &Input) -> Result<Response> {
    let (report, name) = match input.get("artifact_uuid") {
        Some(joined) => joined.split_once(':').ok_or_else(|| {
            AnalystError::metadata("artifact_uuid", "REPORT_UUID:ARTIFACT_NAME").with_status(404)
        })?,
        None => (
            input
                .require("report_uuid", "the report_uuid of a task's result")
                .map_err(|e| e.with_status(404))?,
            input
                .require("artifact_name", "the name of an artifact: analysis_subject")
                .map_err(|e| e.with_status(404))?,
        ),
    };
    let task = own_task(app, who, input)
        .await
        .map_err(|e| e.with_status(412))?;
    let unknown = || {
        AnalystError::new(
            AnalystCode::InvalidArtifactUuid,
            format!(
                "no artifact '{name}' in report '{report}'; task {} has artifact '{SUBJECT_ARTIFACT}' in report {}",
                task.uuid, task.uuid
            ),
        )
        .with_status(404)
    };
    if !report.eq_ignore_ascii_case(&task.uuid) || name != SUBJECT_ARTIFACT || task.sha256.is_none()
    {
        return Err(unknown());
    }
    let gone = || {
        AnalystError::new(
            AnalystCode::InvalidArtifactUuid,
            "the analysed content is no longer kept (it was deleted after analysis)",
        )
        .with_status(410)
    };
    let path = subject_path(app, &task).ok_or_else(gone)?;
    let file = tokio::fs::File::open(&path).await.map_err(|_| gone())?;
    let name = task
        .filename
        .as_deref()
        .map(|n| {
            n.chars()
                .filter(|c| c.is_ascii_graphic() && !"\"\\/;".contains(*c))
                .collect::<String>()
        })
        .filter(|n| !n.is_empty())
        .or(task.sha256.clone())
        .unwrap_or_default();
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}

fn parse_time(input: &Input, name: &str) -> Result<Option<i64>> {
    input
        .get(name)
        .map(|v| {
            Timestamp::parse(name, v)
                .map(Timestamp::millis)
                .map_err(|_| {
                    AnalystError::metadata(
                        name,
                        "a UTC time 'YYYY-MM-DD HH:MM:SS[.ffffff]' or a date 'YYYY-MM-DD'",
                    )
                })
        })
        .transpose()
}

/// The exclusive bound of `get_pending` asked without `before`: every task submitted up
/// to and including this millisecond, so a submission answered before the question is
/// pending in its answer even when both fall within one millisecond.
fn pending_until(now_ms: i64) -> i64 {
    now_ms.saturating_add(1)
}

/// `completed` and `get_pending`. `completed` never reaches past the store's completion
/// horizon: every task completed before the `before` it echoes has committed, so a client
/// that polls again with `after` = that `before` misses none.
pub(super) async fn completed(
    app: &AppState,
    who: &Licensed,
    input: &Input,
    done: bool,
) -> Result<Value> {
    let after = parse_time(input, "after")?.unwrap_or(0);
    let asked_before = parse_time(input, "before")?;
    let include_score = input.flag("include_score")?;
    let before = if done {
        let horizon = app.store.completion_horizon().await.map_err(unavailable)?;
        asked_before.map_or(horizon, |b| b.min(horizon))
    } else {
        asked_before.unwrap_or_else(|| pending_until(chrono::Utc::now().timestamp_millis()))
    };
    let mut tasks = if done {
        app.store
            .completed_tasks(who.license_id, after, before, PAGE + 1)
            .await
    } else {
        app.store
            .pending_tasks(who.license_id, after, before, PAGE + 1)
            .await
    }
    .map_err(unavailable)?;
    let more = tasks.len() > PAGE as usize;
    tasks.truncate(PAGE as usize);
    // With more results, `before` is the time of the last task returned: the client asks
    // again with it as `after` (inclusive, so a task sharing that instant is sent again
    // rather than lost).
    let echo_before = match (more, tasks.last()) {
        (true, Some(t)) => t
            .completed_at_ms
            .filter(|_| done)
            .unwrap_or(t.created_at_ms),
        _ => before,
    };
    let list = if include_score && done {
        Value::Object(
            tasks
                .iter()
                .map(|t| (t.uuid.clone(), json!(t.score.unwrap_or(0))))
                .collect(),
        )
    } else {
        json!(tasks.iter().map(|t| t.uuid.clone()).collect::<Vec<_>>())
    };
    Ok(json!({
        "tasks": list,
        "after": api_time(after),
        "before": api_time(echo_before),
        "more_results_available": u8::from(more),
    }))
}

/// The hash a query names: `hash_value` + `hash_algorithm` as the public client sends them,
/// or one of the `md5`, `sha1`, `sha256` shorthands.
fn queried_hash(input: &Input) -> Result<(String, String)> {
    let (algorithm, hash) = match (input.get("hash_algorithm"), input.get("hash_value")) {
        (Some(a), Some(h)) => (a.to_ascii_lowercase(), h.to_ascii_lowercase()),
        _ => ["md5", "sha1", "sha256", "mmh3"]
            .into_iter()
            .find_map(|a| input.get(a).map(|h| (a.to_owned(), h.to_ascii_lowercase())))
            .ok_or_else(|| {
                AnalystError::metadata(
                    "hash_value",
                    "a hash with its hash_algorithm (md5, sha1 or sha256)",
                )
            })?,
    };
    if !matches!(algorithm.as_str(), "md5" | "sha1" | "sha256") {
        return Err(AnalystError::new(
            AnalystCode::InvalidHashAlgorithm,
            format!("hash algorithm '{algorithm}' is not one of md5, sha1, sha256"),
        ));
    }
    for name in ["hash_block_size", "block_size"] {
        if let Some(v) = input.get(name) {
            if v != "0" {
                return Err(AnalystError::metadata(
                    name,
                    "0 or nothing: only hashes of whole files are kept, not of their first bytes",
                ));
            }
        }
    }
    Ok((algorithm, hash))
}

/// The latest finished analysis, by this license, of the file a query names.
async fn queried_result(app: &AppState, who: &Licensed, input: &Input) -> Result<Option<Task>> {
    let (algorithm, hash) = queried_hash(input)?;
    let content = app
        .store
        .find_content(&algorithm, &hash)
        .await
        .map_err(unavailable)?;
    match &content {
        Some(c) => app
            .store
            .find_cached_result(who.license_id, Subject::Sha256(&c.sha256))
            .await
            .map_err(unavailable),
        None => Ok(None),
    }
}

/// `query/file_hash`.
pub(super) async fn query_hash(app: &AppState, who: &Licensed, input: &Input) -> Result<Value> {
    Ok(match queried_result(app, who, input).await? {
        Some(task) => {
            json!({"files_found": 1, "tasks": [{"task_uuid": task.uuid, "score": task.score}]})
        }
        None => json!({"files_found": 0, "tasks": []}),
    })
}

/// `query/is_blocked_file_hash`: blocked when a finished analysis scored 70 or more.
pub(super) async fn is_blocked(app: &AppState, who: &Licensed, input: &Input) -> Result<Value> {
    let task = queried_result(app, who, input).await?;
    let score = task.as_ref().and_then(|t| t.score);
    Ok(json!({
        "blocked": u8::from(score.is_some_and(|s| s >= BLOCK_SCORE)),
        "task_uuid": task.map(|t| t.uuid),
        "score": score,
    }))
}

#[cfg(test)]
mod tests {
    use super::pending_until;

    #[test]
    fn pending_without_before_includes_the_current_millisecond() {
        let now = 1_764_475_038_439;
        let submitted = now;
        assert!(submitted < pending_until(now));
        assert_eq!(pending_until(i64::MAX), i64::MAX);
    }
}
