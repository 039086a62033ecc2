//! The API session both the PAPI and the Analyst API log in to: its cookie, and the
//! live session it names (idle sessions expire; one in use is kept alive). The console's
//! own session and CSRF token are in `console::session`.

use crate::credentials::{new_session_id, session_id_hash};
use crate::state::AppState;
use axum::http::{header, HeaderMap};
use pushdetect_store::{Principal, Session, StoreError};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "pushdetect_session";

/// Sessions are marked as used at most this often (ms), to keep reads free of writes; and
/// at least twice per idle time, so a busy session never expires.
const TOUCH_EVERY_MS: i64 = 30_000;

/// The value of the cookie `name`, if sent.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim_matches('"').to_owned())
}

/// The value of the session cookie, if sent.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE)
}

/// Opens a session for `principal` of `account_id` and returns its id (the store keeps
/// only its hash). Shared by the PAPI's and the Analyst API's logins, a password change,
/// and the console.
pub async fn open(
    app: &AppState,
    account_id: i64,
    principal: Principal,
) -> Result<String, StoreError> {
    let id = new_session_id();
    let now = chrono::Utc::now().timestamp_millis();
    app.store
        .create_session(&session_id_hash(&id), account_id, principal, now)
        .await?;
    Ok(id)
}

/// The live session with this id (idle for less than the configured time, its principal
/// and account enabled), marked as used. Shared by the PAPI and the Analyst API.
pub async fn live_session(app: &AppState, id: &str) -> Result<Option<Session>, StoreError> {
    let hash = session_id_hash(id);
    let now = chrono::Utc::now().timestamp_millis();
    let idle_ms = i64::try_from(app.config.session_idle.as_millis()).unwrap_or(i64::MAX);
    let session = app
        .store
        .find_session(&hash, now.saturating_sub(idle_ms))
        .await?;
    if let Some(s) = &session {
        if now - s.last_seen_ms >= TOUCH_EVERY_MS.min(idle_ms / 2) {
            app.store.touch_session(&hash, now).await?;
        }
    }
    Ok(session)
}

/// The Set-Cookie value that hands a new session id to the client.
pub fn new_session_cookie(app: &AppState, id: &str) -> String {
    let mut cookie = format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax");
    if app.config.cookies_secure() {
        cookie.push_str("; Secure");
    }
    cookie
}
