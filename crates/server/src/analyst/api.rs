//! Handlers of the Analyst API: reading a request, authenticating it, and dispatching it to
//! the submission ([`super::submit`]) and result ([`super::results`]) calls.
//!
//! Every call answers the JSON (or XML) envelope. Errors use the Analyst API's own codes
//! with HTTP 200, except where the public client reads the HTTP status instead: `get`
//! answers HTTP 404 for an unknown task and HTTP 412 for a task without result yet, and the
//! artifact downloads answer 404, 410 and 412. A task of another license is answered
//! exactly like an unknown one (105), so task uuids of other tenants cannot be probed.

use super::content::Received;
use super::{results, submit};
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
use pushdetect_model::values::{parse_bool, Timestamp};
use pushdetect_model::{FormParams, Format};
use pushdetect_store::{Principal, Task, TaskKind};
use serde_json::{json, Value};

/// What every call answers: its data, or an Analyst API error.
pub(super) type Result<T> = std::result::Result<T, AnalystError>;

/// The licensed caller of an Analyst API request.
pub(super) struct Licensed {
    /// The license (key_id) the caller holds.
    pub license_id: i64,
    /// Its account.
    pub account_id: i64,
}

/// The store failed: 107 with HTTP 503, so the client retries later.
pub(super) fn unavailable(e: impl std::fmt::Display) -> AnalystError {
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
pub(super) struct Input {
    /// Every field, query string first.
    pub params: FormParams,
    /// The content of the part `file`, streamed to disk and hashed.
    pub file: Option<Received>,
}

impl Input {
    /// The last non-empty value of a field, trimmed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .pairs()
            .iter()
            .rev()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }

    /// A required field, or 112 naming it and what is expected.
    pub fn require(&self, name: &str, expected: &str) -> Result<&str> {
        self.get(name)
            .ok_or_else(|| AnalystError::metadata(name, expected))
    }

    /// A boolean field (`1`/`0`, `True`/`False`, …), false when absent.
    pub fn flag(&self, name: &str) -> Result<bool> {
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
                // Free-text context (download_host, …) arrives as file parts too: their
                // content is the value, whatever part file name the client gave.
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
pub(super) fn api_time(ms: i64) -> String {
    Timestamp::from_millis(ms)
        .0
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string()
}

/// The task named by `uuid`, if it is the caller's.
pub(super) async fn own_task(app: &AppState, who: &Licensed, input: &Input) -> Result<Task> {
    let uuid = input
        .require("uuid", "the task uuid returned by a submission")?
        .to_ascii_lowercase();
    let task = app.store.find_task(&uuid).await.map_err(unavailable)?;
    task.filter(|t| t.license_id == who.license_id && t.kind != TaskKind::External)
        .ok_or_else(|| AnalystError::new(AnalystCode::InvalidUuid, format!("no task {uuid}")))
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
        "analysis/submit/file" => submit::file(&app, &who, input).await,
        "analysis/submit/download" => submit::download(&app, &who, &input).await,
        "analysis/submit/url" => submit::url(&app, &who, &input).await,
        "analysis/get" => results::get(&app, &who, &input).await,
        "analysis/get_result" => results::summary(&app, &who, &input).await,
        "analysis/get_result_activities" => results::activities(&app, &who, &input, false).await,
        "analysis/get_report_activities" => results::activities(&app, &who, &input, true).await,
        "analysis/get_task_metadata" => results::metadata(&app, &who, &input).await,
        "analysis/get_analysis_tags" => results::tags(&app, &who, &input).await,
        "analysis/query_task_artifact" => results::query_artifact(&app, &who, &input).await,
        "analysis/get_result_artifact" | "analysis/get_report_artifact" => {
            return match results::artifact(&app, &who, &input).await {
                Ok(download) => download,
                Err(e) => respond(format, Err(e), None),
            };
        }
        "analysis/get_progress" => results::progress(&app, &who, &input).await,
        "analysis/completed" => results::completed(&app, &who, &input, true).await,
        "analysis/get_pending" => results::completed(&app, &who, &input, false).await,
        "analysis/query/file_hash" => results::query_hash(&app, &who, &input).await,
        "analysis/query/is_blocked_file_hash" => results::is_blocked(&app, &who, &input).await,
        _ => Err(AnalystError::new(
            AnalystCode::InvalidMetadata,
            "unknown call",
        )),
    };
    respond(format, result, None)
}

/// Answers a call of the public client that pushdetect does not offer (108, with why).
pub async fn not_offered(path: &'static str, why: &'static str, req: Request) -> Response {
    let format = Fmt::of_path(req.uri().path());
    respond(
        format,
        Err(AnalystError::new(
            AnalystCode::PermissionDenied,
            format!(
                "{path} is a call of Lastline's own service that pushdetect does not offer; {why}"
            ),
        )),
        None,
    )
}

/// Answers a request for a report format pushdetect does not produce (`pdf`, `rtf`).
pub async fn format_not_offered(format: &'static str) -> Response {
    let mut response = respond(
        Format::Json,
        Err(AnalystError::new(
            AnalystCode::InvalidMetadata,
            format!("{format} reports are not offered by pushdetect; ask for json or xml"),
        )),
        None,
    );
    *response.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
    response
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
