//! The logged-in caller, found from the session cookie.

use super::reply::{Failure, Fmt, Reply};
use crate::sessions::{live_session, session_cookie};
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use pushdetect_model::ApiError;
use pushdetect_store::Principal;

/// Who is calling: resolved from a live session, or the call answers 3004.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The caller's account; everything they read or write is scoped to it.
    pub account_id: i64,
    /// The user or license logged in.
    pub principal: Principal,
    /// Username or access key, for logs.
    pub label: String,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Reply;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Reply> {
        let format = Fmt::of_path(parts.uri.path());
        let Some(id) = session_cookie(&parts.headers) else {
            return Err(Reply::error(
                format,
                ApiError::authentication("no session; log in first"),
            ));
        };
        let session = live_session(app, &id)
            .await
            .map_err(|e| Reply::new(format, Err(Failure::from(e))))?;
        let Some(session) = session else {
            return Err(Reply::error(
                format,
                ApiError::authentication("the session has expired or was logged out; log in again"),
            ));
        };
        Ok(Caller {
            account_id: session.account_id,
            principal: session.principal,
            label: session.label,
        })
    }
}
