//! Handlers of the Analyst API.
//!
//! Every call answers the JSON (or XML) envelope. Errors use the Analyst API's own codes
//! with HTTP 200, except `get`: HTTP 404 for an unknown task and HTTP 412 for a task without
//! result yet, as the public client expects. A task of another license is answered exactly
//! like an unknown one (105), so task uuids of other tenants cannot be probed.

use super::content::Received;
use crate::credentials::{new_session_id, session_id_hash};
use crate::papi::auth::license_with_token;
use crate::papi::caller::{live_session, new_session_cookie, session_cookie};
use crate::papi::form::{content_type, query_params};
use crate::papi::reply::Fmt;
use crate::state::AppState;
use axum::extract::{Multipart, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use pushdetect_model::analyst::{AnalystCall, AnalystCode, AnalystError};
use pushdetect_model::envelope::{render, success};
use pushdetect_model::values::{parse_bool, parse_ip, parse_port, Timestamp};
use pushdetect_model::{FormParams, Format};
use pushdetect_store::{Content, Principal, Task, TaskKind, TaskState};
use serde_json::{json, Map, Value};

type Result<T> = std::result::Result<T, AnalystError>;

/// The licensed caller of an Analyst API request.
struct Licensed {
    license_id: i64,
    account_id: i64,
}

fn unavailable(e: impl std::fmt::Display) -> AnalystError {
    tracing::error!(error = %e, "analysis store unavailable");
    AnalystError::new(
        AnalystCode::TemporarilyUnavailable,
        "temporarily unavailable; retry later",
    )
    .with_status(503)
}

fn respond(format: Format, result: Result<Value>, cookie: Option<String>) -> Response {
    let (status, body) = match result {
        Ok(data) => (StatusCode::OK, success(data)),
        Err(e) => (
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::OK),
            json!({"success": 0, "error": e.message, "error_code": e.code.number()}),
        ),
    };
    let mut response = (
        status,
        [(header::CONTENT_TYPE, format.content_type())],
        render(&body, format),
    )
        .into_response();
    if let Some(c) = cookie.and_then(|c| c.parse().ok()) {
        response.headers_mut().insert(header::SET_COOKIE, c);
    }
    response
}

/// A request's fields and, for multipart uploads, the received `file` part.
struct Input {
    params: FormParams,
    file: Option<Received>,
}

impl Input {
    fn get(&self, name: &str) -> Option<&str> {
        self.params
            .pairs()
            .iter()
            .rev()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }

    fn require(&self, name: &str, expected: &str) -> Result<&str> {
        self.get(name)
            .ok_or_else(|| AnalystError::metadata(name, expected))
    }

    fn flag(&self, name: &str) -> Result<bool> {
        self.get(name)
            .map(|v| parse_bool(name, v).map_err(AnalystError::from))
            .transpose()
            .map(|b| b.unwrap_or(false))
    }
}

async fn read_input(app: &AppState, req: Request) -> Result<Input> {
    let mut params = query_params(&req);
    let content_type = content_type(&req);
    let malformed = |e: &dyn std::fmt::Display| {
        AnalystError::new(
            AnalystCode::InvalidMetadata,
            format!("the request body could not be read: {e}"),
        )
    };
    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request_parts_and_body(req).await?;
        let mut file = None;
        while let Some(mut field) = multipart.next_field().await.map_err(|e| malformed(&e))? {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "file" {
                let analysis = &app.analysis;
                let mut upload = analysis
                    .content
                    .upload(analysis.max_upload_bytes)
                    .map_err(unavailable)?;
                while let Some(chunk) = field.chunk().await.map_err(|e| malformed(&e))? {
                    match upload.write(&chunk) {
                        Ok(()) => {}
                        Err(Ok(_too_large)) => {
                            return Err(AnalystError::new(
                                AnalystCode::FileTooLarge,
                                format!(
                                    "the file is larger than the limit of {} bytes",
                                    analysis.max_upload_bytes
                                ),
                            ))
                        }
                        Err(Err(e)) => return Err(unavailable(e)),
                    }
                }
                file = Some(upload.finish().map_err(unavailable)?);
            } else {
                let text = field.text().await.map_err(|e| malformed(&e))?;
                params.push(name, text);
            }
        }
        return Ok(Input { params, file });
    }
    let body = axum::body::to_bytes(req.into_body(), 1024 * 1024)
        .await
        .map_err(|e| malformed(&e))?;
    params.push_urlencoded(&body);
    Ok(Input { params, file: None })
}

/// Multipart from a whole request, mapping its rejection to an Analyst error.
trait MultipartExt: Sized {
    async fn from_request_parts_and_body(req: Request) -> Result<Self>;
}

impl MultipartExt for Multipart {
    async fn from_request_parts_and_body(req: Request) -> Result<Self> {
        use axum::extract::FromRequest;
        Multipart::from_request(req, &())
            .await
            .map_err(|e| AnalystError::new(AnalystCode::InvalidMetadata, e.body_text()))
    }
}

async fn check_license(app: &AppState, key: &str, token: &str) -> Result<Option<Licensed>> {
    let license = license_with_token(app, key, token)
        .await
        .map_err(unavailable)?;
    Ok(license.map(|l| Licensed {
        license_id: l.id,
        account_id: l.account_id,
    }))
}

/// The caller: a license session cookie, or `key` + `api_token` sent with the request.
async fn authenticate(app: &AppState, headers: &HeaderMap, input: &Input) -> Result<Licensed> {
    if let Some(id) = session_cookie(headers) {
        if let Some(s) = live_session(app, &id).await.map_err(unavailable)? {
            if let Principal::License(license_id) = s.principal {
                return Ok(Licensed {
                    license_id,
                    account_id: s.account_id,
                });
            }
        }
    }
    match (input.get("key"), input.get("api_token")) {
        (Some(key), Some(token)) => check_license(app, key, token).await?.ok_or_else(|| {
            AnalystError::new(AnalystCode::InvalidCredentials, "invalid key or api_token")
        }),
        _ => Err(AnalystError::new(
            AnalystCode::AuthenticationRequired,
            "authentication required: log in with key and api_token, or send them with the request",
        )),
    }
}

/// Time format of the Analyst API: UTC, with microseconds.
fn api_time(ms: i64) -> String {
    Timestamp::from_millis(ms)
        .0
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string()
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

fn new_task_uuid() -> String {
    crate::credentials::random_task_uuid()
}

/// The task named by `uuid`, if it is the caller's.
async fn own_task(app: &AppState, who: &Licensed, input: &Input) -> Result<Task> {
    let uuid = input
        .require("uuid", "the task uuid returned by a submission")?
        .to_ascii_lowercase();
    let task = app.store.find_task(&uuid).await.map_err(unavailable)?;
    task.filter(|t| t.license_id == who.license_id && t.kind != TaskKind::External)
        .ok_or_else(|| AnalystError::new(AnalystCode::InvalidUuid, format!("no task {uuid}")))
}

fn result_data(task: &Task) -> Value {
    let mut data = Map::new();
    data.insert("task_uuid".into(), json!(task.uuid));
    if let Some(Value::Object(result)) = &task.result {
        for (k, v) in result {
            data.insert(k.clone(), v.clone());
        }
    }
    data.insert("score".into(), json!(task.score.unwrap_or(0)));
    data.insert("submission".into(), json!(api_time(task.created_at_ms)));
    if let Some(done) = task.completed_at_ms {
        data.insert("completed".into(), json!(api_time(done)));
    }
    Value::Object(data)
}

/// Dispatches one Analyst API call.
pub async fn handle(path: &'static str, State(app): State<AppState>, req: Request) -> Response {
    let format = Fmt::of_path(req.uri().path());
    let headers = req.headers().clone();
    let input = match read_input(&app, req).await {
        Ok(i) => i,
        Err(e) => return respond(format, Err(e), None),
    };
    if let Some(call) = AnalystCall::find(path) {
        let names = input.params.pairs().iter().map(|(k, _)| k.as_str());
        if let Err(e) = call.check_names(names) {
            return respond(format, Err(e), None);
        }
    }
    if path == "authentication/login" {
        return login(&app, &input, format).await;
    }
    if path == "management/get_status" {
        let ok = app.store.has_accounts().await.is_ok();
        return respond(format, Ok(json!({"all_ok": u8::from(ok)})), None);
    }
    let who = match authenticate(&app, &headers, &input).await {
        Ok(w) => w,
        Err(e) => return respond(format, Err(e), None),
    };
    let result = match path {
        "authentication/logout" => {
            if let Some(id) = session_cookie(&headers) {
                let _ = app.store.delete_session(&session_id_hash(&id)).await;
            }
            Ok(json!({}))
        }
        "authentication/ping" => Ok(json!({"pong": 1})),
        "analysis/submit/file" => submit_file(&app, &who, input).await,
        "analysis/submit/url" => submit_url(&app, &who, &input).await,
        "analysis/get" => get(&app, &who, &input).await,
        "analysis/get_progress" => own_task(&app, &who, &input).await.map(|t| {
            let progress = match t.state {
                TaskState::Queued => 0,
                TaskState::Running => 50,
                TaskState::Completed => 100,
            };
            json!({"completed": u8::from(t.state == TaskState::Completed), "progress": progress})
        }),
        "analysis/completed" => completed(&app, &who, &input, true).await,
        "analysis/get_pending" => completed(&app, &who, &input, false).await,
        "analysis/query/file_hash" => query_hash(&app, &who, &input).await,
        _ => Err(AnalystError::new(
            AnalystCode::InvalidMetadata,
            "unknown call",
        )),
    };
    respond(format, result, None)
}

async fn login(app: &AppState, input: &Input, format: Format) -> Response {
    let result = async {
        let key = input.require("key", "the license's access key")?;
        let token = input.require("api_token", "the license's API token")?;
        let who = check_license(app, key, token).await?.ok_or_else(|| {
            AnalystError::new(AnalystCode::InvalidCredentials, "invalid key or api_token")
        })?;
        let id = new_session_id();
        let now = chrono::Utc::now().timestamp_millis();
        app.store
            .create_session(
                &session_id_hash(&id),
                who.account_id,
                Principal::License(who.license_id),
                now,
            )
            .await
            .map_err(unavailable)?;
        Ok::<_, AnalystError>(id)
    }
    .await;
    match result {
        Ok(id) => respond(format, Ok(json!({})), Some(new_session_cookie(app, &id))),
        Err(e) => respond(format, Err(e), None),
    }
}

/// The options of a submission, checked: the flags acted on, and the context the client
/// sent about where the file or URL came from (kept with the task and shown with it).
fn options(input: &Input) -> Result<Value> {
    let mut options = Map::new();
    for flag in ["delete_after_analysis", "bypass_cache"] {
        options.insert(flag.into(), json!(input.flag(flag)?));
    }
    for name in ["download_ip", "server_ip", "client_ip"] {
        if let Some(v) = input.get(name) {
            options.insert(name.into(), json!(parse_ip(name, v)?.to_string()));
        }
    }
    for name in ["download_port", "server_port", "client_port"] {
        if let Some(v) = input.get(name) {
            options.insert(name.into(), json!(parse_port(name, v)?));
        }
    }
    if let Some(v) = input.get("is_download") {
        options.insert("is_download".into(), json!(parse_bool("is_download", v)?));
    }
    for name in ["full_report_score", "analysis_timeout"] {
        if let Some(v) = input.get(name) {
            let n: i64 = v
                .parse()
                .map_err(|_| AnalystError::metadata(name, "an integer"))?;
            options.insert(name.into(), json!(n));
        }
    }
    if let Some(v) = input.get("priority") {
        let n: u8 = v.parse().ok().filter(|n| *n <= 10).ok_or_else(|| {
            AnalystError::new(
                AnalystCode::InvalidPriority,
                format!("parameter 'priority': expected an integer from 0 to 10, got '{v}'"),
            )
        })?;
        options.insert("priority".into(), json!(n));
    }
    if let Some(v) = input.get("password_candidates") {
        // Checked, not kept: passwords are not stored with the task.
        serde_json::from_str::<Vec<String>>(v)
            .map_err(|_| AnalystError::metadata("password_candidates", "a JSON list of strings"))?;
    }
    for name in [
        "protocol",
        "download_url",
        "download_host",
        "download_path",
        "download_agent",
        "download_referer",
        "referer",
        "user_agent",
    ] {
        if let Some(v) = input.get(name) {
            let v: String = v.chars().take(2048).collect();
            options.insert(name.into(), json!(v));
        }
    }
    Ok(Value::Object(options))
}

async fn queue(app: &AppState, task: &Task) -> Result<Value> {
    app.store.create_task(task).await.map_err(unavailable)?;
    app.analysis.wake.notify_one();
    Ok(json!({"task_uuid": task.uuid}))
}

fn new_task(who: &Licensed, kind: TaskKind, options: Value) -> Task {
    let now = chrono::Utc::now().timestamp_millis();
    Task {
        kind,
        state: TaskState::Queued,
        options,
        completed_at_ms: None,
        ..Task::external(&new_task_uuid(), who.account_id, who.license_id, now)
    }
}

async fn submit_file(app: &AppState, who: &Licensed, mut input: Input) -> Result<Value> {
    let options = options(&input)?;
    let sha256 = match input.file.take() {
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
        None => {
            let (algorithm, hash) = ["sha256", "sha1", "md5"]
                .into_iter()
                .find_map(|a| input.get(a).map(|h| (a, h)))
                .ok_or_else(|| {
                    AnalystError::metadata(
                        "file",
                        "the file as a multipart part 'file', or its md5, sha1 or sha256",
                    )
                })?;
            let mut found = app
                .store
                .find_content(algorithm, hash)
                .await
                .map_err(unavailable)?
                .filter(|c| app.analysis.content.has(&c.sha256));
            if let Some(c) = &found {
                if !app
                    .store
                    .license_has_content(who.license_id, &c.sha256)
                    .await
                    .map_err(unavailable)?
                {
                    found = None;
                }
            }
            found
                .ok_or_else(|| {
                    AnalystError::new(
                        AnalystCode::FileNotAvailable,
                        format!("no file with {algorithm} {hash} is available; submit its content"),
                    )
                })?
                .sha256
        }
    };
    if options["bypass_cache"] != json!(true) {
        let cached = app
            .store
            .find_cached_result(who.license_id, &sha256)
            .await
            .map_err(unavailable)?;
        if let Some(task) = cached {
            return Ok(result_data(&task));
        }
    }
    let mut task = new_task(who, TaskKind::File, options);
    task.sha256 = Some(sha256);
    task.filename = input.get("filename").map(str::to_owned);
    queue(app, &task).await
}

async fn submit_url(app: &AppState, who: &Licensed, input: &Input) -> Result<Value> {
    let url = input.require("url", "the URL to analyse")?;
    let parsed = pushdetect_analysis::url_heuristics::parse_url(url)
        .map_err(|e| AnalystError::new(AnalystCode::InvalidUrl, format!("parameter 'url': {e}")))?;
    let mut task = new_task(who, TaskKind::Url, options(input)?);
    task.url = Some(parsed.to_string());
    queue(app, &task).await
}

async fn get(app: &AppState, who: &Licensed, input: &Input) -> Result<Value> {
    let task = own_task(app, who, input)
        .await
        .map_err(|e| e.with_status(404))?;
    if task.state != TaskState::Completed {
        return Err(AnalystError::new(
            AnalystCode::NoResultFound,
            format!("task {} has no result yet", task.uuid),
        )
        .with_status(412));
    }
    Ok(result_data(&task))
}

/// Page size of `completed` and `get_pending`.
const PAGE: u32 = 1000;

async fn completed(app: &AppState, who: &Licensed, input: &Input, done: bool) -> Result<Value> {
    let now = chrono::Utc::now().timestamp_millis();
    let after = parse_time(input, "after")?.unwrap_or(0);
    let before = parse_time(input, "before")?.unwrap_or(now);
    let include_score = input.flag("include_score")?;
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

async fn query_hash(app: &AppState, who: &Licensed, input: &Input) -> Result<Value> {
    let (algorithm, hash) = match (input.get("hash_algorithm"), input.get("hash_value")) {
        (Some(a), Some(h)) => (a.to_ascii_lowercase(), h.to_owned()),
        _ => ["md5", "sha1", "sha256"]
            .into_iter()
            .find_map(|a| input.get(a).map(|h| (a.to_owned(), h.to_owned())))
            .ok_or_else(|| AnalystError::metadata("md5", "an md5, sha1 or sha256 hash"))?,
    };
    if !matches!(algorithm.as_str(), "md5" | "sha1" | "sha256") {
        return Err(AnalystError::new(
            AnalystCode::InvalidHashAlgorithm,
            format!("hash algorithm '{algorithm}' is not one of md5, sha1, sha256"),
        ));
    }
    let content = app
        .store
        .find_content(&algorithm, &hash)
        .await
        .map_err(unavailable)?;
    let cached = match &content {
        Some(c) => app
            .store
            .find_cached_result(who.license_id, &c.sha256)
            .await
            .map_err(unavailable)?,
        None => None,
    };
    Ok(match cached {
        Some(task) => {
            json!({"files_found": 1, "tasks": [{"task_uuid": task.uuid, "score": task.score}]})
        }
        None => json!({"files_found": 0, "tasks": []}),
    })
}
