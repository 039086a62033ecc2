//! Submissions: a file by content or by hash, a URL, and a reported download of a file
//! submitted before. Each is queued as a task, or answered at once with the finished result
//! of the same content when this license had it analysed before.

use super::api::{unavailable, Input, Licensed, Result};
use super::results::{full_report_score, result_data};
use crate::state::AppState;
use pushdetect_model::analyst::{AnalystCode, AnalystError};
use pushdetect_model::values::{parse_bool, parse_ip, parse_port};
use pushdetect_store::{Content, Subject, SubmissionOptions, Task, TaskKind, TaskState};
use serde_json::{json, Value};

/// Longest free-text context value kept with a task.
const MAX_CONTEXT_CHARS: usize = 2048;

/// Context fields kept with a task as text (the rest of the submission options are checked
/// or accepted and not used; docs/analyst-api.md lists each).
const TEXT_CONTEXT: &[&str] = &[
    "protocol",
    "mime_type",
    "download_url",
    "download_host",
    "download_path",
    "download_agent",
    "download_referer",
    "download_request",
    "referer",
    "user_agent",
];

/// The options of a submission, checked: the flags acted on, and the context the client
/// sent about where the file or URL came from (kept with the task and shown with it).
fn options(input: &Input) -> Result<SubmissionOptions> {
    // Checked, not acted on: every analysis here is static, with or without it.
    input.flag("require_file_analysis")?;
    let ip = |name: &str| {
        input
            .get(name)
            .map(|v| parse_ip(name, v).map(|ip| ip.to_string()))
            .transpose()
    };
    let port = |name: &str| input.get(name).map(|v| parse_port(name, v)).transpose();
    let mut options = SubmissionOptions {
        delete_after_analysis: input.flag("delete_after_analysis")?,
        bypass_cache: input.flag("bypass_cache")?,
        download_ip: ip("download_ip")?,
        server_ip: ip("server_ip")?,
        client_ip: ip("client_ip")?,
        download_port: port("download_port")?,
        server_port: port("server_port")?,
        client_port: port("client_port")?,
        is_download: input
            .get("is_download")
            .map(|v| parse_bool("is_download", v))
            .transpose()?,
        full_report_score: full_report_score(input)?,
        analysis_timeout: input
            .get("analysis_timeout")
            .map(|v| {
                v.parse()
                    .map_err(|_| AnalystError::metadata("analysis_timeout", "an integer"))
            })
            .transpose()?,
        priority: input
            .get("priority")
            .map(|v| {
                v.parse().ok().filter(|n| *n <= 10).ok_or_else(|| {
                    AnalystError::new(
                        AnalystCode::InvalidPriority,
                        format!(
                            "parameter 'priority': expected an integer from 0 to 10, got '{v}'"
                        ),
                    )
                })
            })
            .transpose()?,
        context: Default::default(),
    };
    if let Some(v) = input.get("password_candidates") {
        // Checked, not kept: passwords are not stored with the task.
        serde_json::from_str::<Vec<String>>(v)
            .map_err(|_| AnalystError::metadata("password_candidates", "a JSON list of strings"))?;
    }
    for name in TEXT_CONTEXT {
        if let Some(v) = input.get(name) {
            let v: String = v.chars().take(MAX_CONTEXT_CHARS).collect();
            options.context.insert((*name).into(), json!(v));
        }
    }
    Ok(options)
}

async fn queue(app: &AppState, task: &Task) -> Result<Value> {
    let limit = app.analysis.max_queued_per_license;
    let waiting = app
        .store
        .queued_tasks(task.license_id, limit)
        .await
        .map_err(unavailable)?;
    if waiting >= limit {
        return Err(AnalystError::new(
            AnalystCode::SubmissionLimitExceeded,
            format!(
                "this license already has {limit} tasks waiting for analysis (the \
                 server's --max-queued-per-license); submit again once some are done"
            ),
        ));
    }
    app.tasks.write(task.clone()).await.map_err(unavailable)?;
    app.analysis.wake.notify_one();
    Ok(json!({"task_uuid": task.uuid}))
}

fn new_task(who: &Licensed, kind: TaskKind, options: SubmissionOptions) -> Task {
    let now = chrono::Utc::now().timestamp_millis();
    Task {
        kind,
        state: TaskState::Queued,
        options,
        completed_at_ms: None,
        ..Task::external(
            &crate::credentials::random_task_uuid(),
            who.account_id,
            who.license_id,
            now,
        )
    }
}

/// The content named by the hashes of a submission, if this license sent it before and it
/// is still kept. The public client sends md5, sha1 and sha256 together: each one given must
/// name the same content.
async fn content_by_hash(app: &AppState, who: &Licensed, input: &Input) -> Result<Content> {
    let given: Vec<(&str, String)> = ["sha256", "sha1", "md5"]
        .into_iter()
        .filter_map(|a| input.get(a).map(|h| (a, h.to_ascii_lowercase())))
        .collect();
    let Some((algorithm, hash)) = given.first().cloned() else {
        return Err(AnalystError::metadata(
            "file",
            "the file as a multipart part 'file', or its md5, sha1 or sha256",
        ));
    };
    let not_available = || {
        AnalystError::new(
            AnalystCode::FileNotAvailable,
            format!("no file with {algorithm} {hash} is available; submit its content"),
        )
    };
    let Some(content) = app
        .store
        .find_content(algorithm, &hash)
        .await
        .map_err(unavailable)?
    else {
        return Err(not_available());
    };
    for (other, value) in &given[1..] {
        let recorded = match *other {
            "sha1" => &content.sha1,
            _ => &content.md5,
        };
        if recorded != value {
            return Err(AnalystError::metadata(
                other,
                &format!("the {other} of the same file as {algorithm} {hash} ({recorded})"),
            ));
        }
    }
    let owned = app
        .store
        .license_has_content(who.license_id, &content.sha256)
        .await
        .map_err(unavailable)?;
    if !owned || !app.analysis.content.has(&content.sha256) {
        return Err(not_available());
    }
    Ok(content)
}

/// `analysis/submit/file`: content in the multipart part `file`, or md5/sha1/sha256.
pub(super) async fn file(app: &AppState, who: &Licensed, mut input: Input) -> Result<Value> {
    let options = options(&input)?;
    let sha256 = match input.file.take() {
        Some(received) if received.size == 0 => {
            return Err(AnalystError::new(
                AnalystCode::InvalidFileType,
                "the file part 'file' is empty: there is nothing to analyse",
            ))
        }
        Some(received) => {
            let content = Content {
                sha256: received.sha256.clone(),
                md5: received.md5.clone(),
                sha1: received.sha1.clone(),
                size: received.size as i64,
            };
            app.analysis.content.keep(received).map_err(unavailable)?;
            let now = chrono::Utc::now().timestamp_millis();
            app.store
                .record_content(&content, now)
                .await
                .map_err(unavailable)?;
            content.sha256
        }
        None => content_by_hash(app, who, &input).await?.sha256,
    };
    queue_file(app, who, sha256, input.get("filename"), options).await
}

/// Queues a file task, or answers the finished result of the same content.
async fn queue_file(
    app: &AppState,
    who: &Licensed,
    sha256: String,
    filename: Option<&str>,
    options: SubmissionOptions,
) -> Result<Value> {
    if let Some(done) = cached(app, who, Subject::Sha256(&sha256), &options).await? {
        return Ok(done);
    }
    let mut task = new_task(who, TaskKind::File, options);
    task.sha256 = Some(sha256);
    task.filename = filename.map(str::to_owned);
    queue(app, &task).await
}

/// The finished result of an earlier analysis of the same subject by this license, unless
/// the submission asks to bypass the cache.
async fn cached(
    app: &AppState,
    who: &Licensed,
    subject: Subject<'_>,
    options: &SubmissionOptions,
) -> Result<Option<Value>> {
    if options.bypass_cache {
        return Ok(None);
    }
    let found = app
        .store
        .find_cached_result(who.license_id, subject)
        .await
        .map_err(unavailable)?;
    let threshold = options.full_report_score;
    Ok(found.as_ref().map(|t| result_data(t, threshold)))
}

/// `analysis/submit/download` (the client's deprecated `submit_file_metadata`): a download
/// of a file this license submitted before, named by md5 and sha1, with where it came
/// from. Handled as a submission by hash with that context.
pub(super) async fn download(app: &AppState, who: &Licensed, input: &Input) -> Result<Value> {
    input.require("md5", "the md5 of the downloaded file")?;
    input.require("sha1", "the sha1 of the downloaded file")?;
    let options = options(input)?;
    let content = content_by_hash(app, who, input).await?;
    queue_file(app, who, content.sha256, None, options).await
}

/// `analysis/submit/url`: a URL this license had analysed before is answered with that
/// finished result (unless `bypass_cache`), as a file's content is.
pub(super) async fn url(app: &AppState, who: &Licensed, input: &Input) -> Result<Value> {
    let url = input.require("url", "the URL to analyse")?;
    let parsed = pushdetect_analysis::url_heuristics::parse_url(url)
        .map_err(|e| AnalystError::new(AnalystCode::InvalidUrl, format!("parameter 'url': {e}")))?;
    let options = options(input)?;
    let url = parsed.to_string();
    if let Some(done) = cached(app, who, Subject::Url(&url), &options).await? {
        return Ok(done);
    }
    let mut task = new_task(who, TaskKind::Url, options);
    task.url = Some(url);
    queue(app, &task).await
}
