//! The caller of a read API call: found from an API token (`Authorization: Bearer …`) or
//! from the session cookie.

use super::reply::{Failure, Fmt, Reply};
use crate::credentials::session_id_hash;
use crate::sessions::{live_session, session_cookie};
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use pushdetect_model::{ApiError, ErrorCode};
use pushdetect_store::Principal;

/// How often a token's last use is written: a script polling every second must not turn
/// every read into a write.
const TOKEN_USE_RESOLUTION_MS: i64 = 60_000;

/// Who is calling: resolved from a working API token or a live session, or the call
/// answers 3004.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The caller's account; everything they read or write is scoped to it.
    pub account_id: i64,
    /// The user or license logged in.
    pub principal: Principal,
    /// Username or access key, for logs.
    pub label: String,
    /// The API token the call came with (its id), if it came with one rather than a
    /// session.
    pub token_id: Option<i64>,
}

/// The token of an `Authorization: Bearer TOKEN` header (the scheme's case ignored).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Reply;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Reply> {
        let format = Fmt::of_path(parts.uri.path());
        let refuse = |e: ApiError| Reply::error(format, e);
        if let Some(token) = bearer(&parts.headers) {
            return by_token(app, token, parts.uri.path())
                .await
                .map_err(|f| Reply::new(format, Err(f)));
        }
        let Some(id) = session_cookie(&parts.headers) else {
            return Err(refuse(ApiError::authentication(
                "no session; log in first, or send an API token as Authorization: Bearer",
            )));
        };
        let session = live_session(app, &id)
            .await
            .map_err(|e| Reply::new(format, Err(Failure::from(e))))?;
        let Some(session) = session else {
            return Err(refuse(ApiError::authentication(
                "the session has expired or was logged out; log in again",
            )));
        };
        Ok(Caller {
            account_id: session.account_id,
            principal: session.principal,
            label: session.label,
            token_id: None,
        })
    }
}

/// The caller of an API token, if it works and its scope allows the call at `path`.
async fn by_token(app: &AppState, token: &str, path: &str) -> Result<Caller, Failure> {
    let now = chrono::Utc::now().timestamp_millis();
    let Some(t) = app
        .store
        .find_api_token(&session_id_hash(token), now)
        .await?
    else {
        return Err(ApiError::authentication(
            "the API token is unknown, expired or revoked, or its user is disabled",
        )
        .into());
    };
    let allowed = crate::endpoints::action_at(path)
        .ok_or("API tokens are for the read API")
        .and_then(|action| action.allows_token(t.scope));
    if let Err(why) = allowed {
        return Err(ApiError::new(ErrorCode::NotPermitted, why).into());
    }
    if t.last_used_ms
        .is_none_or(|last| now - last >= TOKEN_USE_RESOLUTION_MS)
    {
        if let Err(e) = app.store.touch_api_token(t.id, now).await {
            tracing::warn!(error = %e, token = t.id, "cannot record an API token's use");
        }
    }
    Ok(Caller {
        account_id: t.account_id,
        principal: Principal::User(t.user_id),
        label: t.username,
        token_id: Some(t.id),
    })
}
