//! Handlers of the Analyst API: reading a request, authenticating it, and dispatching it to
//! the submission ([`super::submit`]) and result ([`super::results`]) calls.
//!
//! Every call answers the JSON (or XML) envelope. Errors use the Analyst API's own codes
//! with HTTP 200, except where the public client reads the HTTP status instead: `get`
//! answers HTTP 404 for an unknown task and HTTP 412 for a task without result yet, and the
//! artifact downloads answer 404, 410 and 412. A task of another license is answered
//! exactly like an unknown one (105), so task uuids of other tenants cannot be probed.

use super::actions::Action;
use super::content::Received;
use super::content::Refused;
use super::{results, submit};
use crate::client_addr::ClientAddr;
use crate::credentials::session_id_hash;
use crate::envelope::Fmt;
use crate::request::{content_type, query_params, utf8_field};
use crate::sessions::{live_session, new_session_cookie, session_cookie};
use crate::state::AppState;
use crate::throttle::Credential;
use crate::verify::license_with_token;
use axum::extract::{Multipart, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use pushdetect_model::analyst::{AnalystCall, AnalystCode, AnalystError};
use pushdetect_model::envelope::success;
use pushdetect_model::values::{parse_bool, Timestamp};
use pushdetect_model::{FormParams, Format};
use pushdetect_store::{Principal, Task, TaskKind};
use serde_json::{json, Value};
use std::net::IpAddr;

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
    let headers = cookie
        .map(|c| (header::SET_COOKIE, c))
        .into_iter()
        .collect();
    crate::envelope::respond(format, status, &body, headers)
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

/// Who is calling, as far as is known before the body is read, and what is needed to
/// find out: uploads are only read from a caller that has proven who they are.
struct Gate {
    headers: HeaderMap,
    addr: IpAddr,
    who: Option<Licensed>,
}

impl Gate {
    /// Authenticates with the cookie, the query string and the fields read so far.
    async fn require(&mut self, app: &AppState, params: &FormParams) -> Result<()> {
        if self.who.is_none() {
            let so_far = Input {
                params: params.clone(),
                file: None,
            };
            self.who = Some(self.caller(app, &so_far).await?);
        }
        Ok(())
    }

    /// The caller: the one already proven, or found from the cookie and `input`.
    async fn caller(&mut self, app: &AppState, input: &Input) -> Result<Licensed> {
        match self.who.take() {
            Some(who) => Ok(who),
            None => authenticate(app, &self.headers, self.addr, input).await,
        }
    }
}

/// Longest value of a text field of an Analyst API request, in bytes.
const MAX_FIELD_BYTES: usize = 64 * 1024;

/// Longest urlencoded Analyst API body, in bytes (read before the caller is known; the
/// public client's forms are far smaller).
const MAX_FORM_BYTES: usize = 256 * 1024;

async fn read_input(app: &AppState, req: Request, gate: &mut Gate) -> Result<Input> {
    let mut params = query_params(&req)?;
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
                // The credentials come before the file (in the query string or as earlier
                // fields): a caller who has not shown them gets nothing written to disk.
                gate.require(app, &params)
                    .await
                    .map_err(|e| e.before_upload())?;
                let analysis = &app.analysis;
                let mut upload = analysis
                    .content
                    .upload(analysis.max_upload_bytes)
                    .map_err(unavailable)?;
                let cut = |e: &dyn std::fmt::Display| {
                    AnalystError::new(
                        AnalystCode::FileExtractionFailed,
                        format!("the file could not be read from the upload: {e}"),
                    )
                };
                while let Some(chunk) = field.chunk().await.map_err(|e| cut(&e))? {
                    match upload.write(&chunk) {
                        Ok(()) => {}
                        Err(Refused::TooLarge) => {
                            return Err(AnalystError::new(
                                AnalystCode::FileTooLarge,
                                format!(
                                    "the file is larger than the limit of {} bytes",
                                    analysis.max_upload_bytes
                                ),
                            ))
                        }
                        Err(Refused::Busy) => {
                            return Err(AnalystError::new(
                                AnalystCode::TemporarilyUnavailable,
                                format!(
                                    "uploads in progress on this server already hold its \
                                     budget of {} bytes; retry later",
                                    analysis.content.upload_budget()
                                ),
                            )
                            .with_status(503))
                        }
                        Err(Refused::Io(e)) => return Err(unavailable(e)),
                    }
                }
                file = Some(upload.finish().map_err(unavailable)?);
            } else {
                // Free-text context (download_host, …) arrives as file parts too: their
                // content is the value, whatever part file name the client gave.
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(|e| malformed(&e))? {
                    if bytes.len() + chunk.len() > MAX_FIELD_BYTES {
                        return Err(AnalystError::metadata(
                            &name,
                            &format!("at most {MAX_FIELD_BYTES} bytes"),
                        ));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                let text = utf8_field(&name, bytes.into())?;
                params.push_received(name, text)?;
            }
        }
        return Ok(Input { params, file });
    }
    let body = axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES)
        .await
        .map_err(|e| malformed(&e))?;
    params.push_urlencoded(&body)?;
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

/// The license with this key and token, checked under the login throttle.
async fn check_license(app: &AppState, addr: IpAddr, key: &str, token: &str) -> Result<Licensed> {
    let attempt = app
        .throttle
        .begin(Credential::License, key, addr)
        .await
        .map_err(|refused| AnalystError::new(AnalystCode::InvalidCredentials, refused.message()))?;
    let license = license_with_token(app, key, token)
        .await
        .map_err(unavailable)?;
    match license {
        Some(l) => {
            attempt.succeeded();
            Ok(Licensed {
                license_id: l.id,
                account_id: l.account_id,
            })
        }
        None => {
            attempt.failed();
            tracing::info!(peer = %addr, "Analyst API key check failed");
            Err(AnalystError::new(
                AnalystCode::InvalidCredentials,
                "invalid key or api_token",
            ))
        }
    }
}

/// The caller: a license session cookie, or `key` + `api_token` sent with the request.
async fn authenticate(
    app: &AppState,
    headers: &HeaderMap,
    addr: IpAddr,
    input: &Input,
) -> Result<Licensed> {
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
        (Some(key), Some(token)) => check_license(app, addr, key, token).await,
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

/// Answers one Analyst API call: `path` is the call's (for its parameter list), `action`
/// what it does (see [`super::actions`]). The reply format and the client's address come
/// from the same extractors as the PAPI's; the caller does not: an upload's credentials
/// may arrive as form fields before its file, so they are checked while the body is read
/// ([`Gate`]), and nothing is written to disk for a caller who has not shown them.
pub async fn handle(
    path: &'static str,
    action: Action,
    State(app): State<AppState>,
    Fmt(format): Fmt,
    ClientAddr(addr): ClientAddr,
    req: Request,
) -> Response {
    let headers = req.headers().clone();
    // A submission changes state: only by POST, never by a GET that a page elsewhere could
    // make the browser send with the session cookie.
    if action.changes_state() && req.method() != axum::http::Method::POST {
        return respond(
            format,
            Err(AnalystError::new(
                AnalystCode::InvalidMetadata,
                format!("{path} accepts POST only: a submission changes state"),
            )
            .with_status(405)),
            None,
        );
    }
    let mut gate = Gate {
        headers,
        addr,
        who: None,
    };
    let input = match read_input(&app, req, &mut gate).await {
        Ok(i) => i,
        Err(e) => return respond(format, Err(e), None),
    };
    if let Some(call) = AnalystCall::find(path) {
        let names = input.params.pairs().iter().map(|(k, _)| k.as_str());
        if let Err(e) = call.check_names(names) {
            return respond(format, Err(e), None);
        }
    }
    // The calls answered before a caller is known.
    match action {
        Action::Login => return login(&app, addr, &input, format).await,
        Action::Status => {
            let ok = app.store.has_accounts().await.is_ok();
            return respond(format, Ok(json!({"all_ok": u8::from(ok)})), None);
        }
        _ => {}
    }
    let who = match gate.caller(&app, &input).await {
        Ok(w) => w,
        Err(e) => return respond(format, Err(e), None),
    };
    let result = match action {
        // Answered above.
        Action::Login | Action::Status => Ok(json!({})),
        Action::Logout => {
            if let Some(id) = session_cookie(&gate.headers) {
                let _ = app.store.delete_session(&session_id_hash(&id)).await;
            }
            Ok(json!({}))
        }
        Action::Ping => Ok(json!({"pong": 1})),
        Action::SubmitFile => submit::file(&app, &who, input).await,
        Action::SubmitDownload => submit::download(&app, &who, &input).await,
        Action::SubmitUrl => submit::url(&app, &who, &input).await,
        Action::Get => results::get(&app, &who, &input).await,
        Action::Summary => results::summary(&app, &who, &input).await,
        Action::ResultActivities => results::activities(&app, &who, &input, false).await,
        Action::ReportActivities => results::activities(&app, &who, &input, true).await,
        Action::Metadata => results::metadata(&app, &who, &input).await,
        Action::Tags => results::tags(&app, &who, &input).await,
        Action::QueryArtifact => results::query_artifact(&app, &who, &input).await,
        Action::Artifact => {
            return match results::artifact(&app, &who, &input).await {
                Ok(download) => download,
                Err(e) => respond(format, Err(e), None),
            };
        }
        Action::Progress => results::progress(&app, &who, &input).await,
        Action::Completed => results::completed(&app, &who, &input, true).await,
        Action::Pending => results::completed(&app, &who, &input, false).await,
        Action::QueryHash => results::query_hash(&app, &who, &input).await,
        Action::IsBlocked => results::is_blocked(&app, &who, &input).await,
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

async fn login(app: &AppState, addr: IpAddr, input: &Input, format: Format) -> Response {
    let result = async {
        let key = input.require("key", "the license's access key")?;
        let token = input.require("api_token", "the license's API token")?;
        let who = check_license(app, addr, key, token).await?;
        let id = crate::sessions::open(app, who.account_id, Principal::License(who.license_id))
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
