//! Console sessions and CSRF protection.
//!
//! The console has its own cookie (`SameSite=Strict`), kept in the same session table as
//! PAPI sessions, for users only. Every form carries a CSRF token that must equal the
//! value of a separate `SameSite=Strict` cookie (double submit): another site can make a
//! browser send the cookie, but cannot read it to put it in the form.

use crate::credentials::new_session_id;
use crate::sessions::live_session;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use pushdetect_store::{Actor, Principal, Role};
use subtle::ConstantTimeEq;

/// Name of the console session cookie.
pub const CONSOLE_COOKIE: &str = "pushdetect_console";
/// Name of the CSRF cookie.
pub const CSRF_COOKIE: &str = "pushdetect_csrf";

pub use crate::sessions::cookie;

/// A Set-Cookie value for a console cookie.
pub fn set_cookie(app: &AppState, name: &str, value: &str, max_age: Option<u32>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if app.config.cookies_secure() {
        c.push_str("; Secure");
    }
    c
}

/// The CSRF token of this browser, and the Set-Cookie to send when it is new.
pub fn csrf_token(headers: &HeaderMap, app: &AppState) -> (String, Option<String>) {
    match cookie(headers, CSRF_COOKIE).filter(|t| t.len() == 64) {
        Some(t) => (t, None),
        None => {
            let t = new_session_id();
            let set = set_cookie(app, CSRF_COOKIE, &t, None);
            (t, Some(set))
        }
    }
}

/// Whether a submitted form's token matches the browser's CSRF cookie.
pub fn csrf_ok(headers: &HeaderMap, submitted: &str) -> bool {
    cookie(headers, CSRF_COOKIE).is_some_and(|c| {
        c.len() == submitted.len() && bool::from(c.as_bytes().ct_eq(submitted.as_bytes()))
    })
}

/// Refusal of a form without a valid CSRF token.
pub fn csrf_refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        "403 Forbidden: the form's CSRF token is missing or wrong; reload the page and try again",
    )
        .into_response()
}

/// Starts a console session for a user; returns the Set-Cookie value.
pub async fn start(
    app: &AppState,
    account_id: i64,
    user_id: i64,
) -> Result<String, pushdetect_store::StoreError> {
    let id = crate::sessions::open(app, account_id, Principal::User(user_id)).await?;
    Ok(set_cookie(app, CONSOLE_COOKIE, &id, None))
}

/// The logged-in console user; pages redirect to the login page without one.
#[derive(Debug, Clone)]
pub struct ConsoleUser {
    /// Their account: everything shown is scoped to it.
    pub account_id: i64,
    /// Their user id.
    pub user_id: i64,
    /// Their name, shown in the header.
    pub username: String,
    /// The CSRF token for forms on the page.
    pub csrf: String,
    /// What they may do, read on each request so that a change applies at once.
    pub role: Role,
    /// Incidents not closed that they have not read, for the navigation.
    pub unread: i64,
}

/// What the header of every page shows: who is logged in, the logout form's CSRF token,
/// and whether the admin pages are offered.
#[derive(Debug, Clone, Default)]
pub struct Nav {
    /// The user's name; empty on the login page (no menu).
    pub username: String,
    /// The CSRF token for the page's forms.
    pub csrf: String,
    /// Offer the admin pages.
    pub is_admin: bool,
    /// Incidents not closed that the user has not read.
    pub unread: i64,
}

impl ConsoleUser {
    /// Whether they may administer the account (licenses, sensors, users).
    pub fn is_admin(&self) -> bool {
        self.role.may_administer()
    }

    /// Them, as the audit trail records what they do, from the request's address.
    pub fn actor(&self, address: Option<String>) -> Actor {
        Actor {
            principal: Some(Principal::User(self.user_id)),
            label: self.username.clone(),
            address,
        }
    }

    /// The page header for this user.
    pub fn nav(&self) -> Nav {
        Nav {
            username: self.username.clone(),
            csrf: self.csrf.clone(),
            is_admin: self.role.may_administer(),
            unread: self.unread,
        }
    }
}

impl FromRequestParts<AppState> for ConsoleUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        let to_login = || {
            let next = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let next = url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>();
            Redirect::to(&format!("/login?next={next}")).into_response()
        };
        let Some(id) = cookie(&parts.headers, CONSOLE_COOKIE) else {
            return Err(to_login());
        };
        let session = live_session(app, &id).await.map_err(|e| {
            tracing::error!(error = %e, "console session lookup failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "503: the store is unavailable; retry",
            )
                .into_response()
        })?;
        let Some(s) = session else {
            return Err(to_login());
        };
        let Principal::User(user_id) = s.principal else {
            return Err(to_login());
        };
        // The role is read on each request, so a change applies at once; if it cannot be
        // read, the user may only read.
        let role = match app.store.find_user(&s.label).await {
            Ok(Some(u)) if u.id == user_id && !u.disabled => u.role,
            Ok(_) => Role::Viewer,
            Err(e) => {
                tracing::error!(error = %e, "console user lookup failed");
                Role::Viewer
            }
        };
        let unread = app
            .store
            .unread_count(s.account_id, user_id)
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "console unread count failed");
                0
            });
        Ok(ConsoleUser {
            account_id: s.account_id,
            user_id,
            username: s.label,
            csrf: cookie(&parts.headers, CSRF_COOKIE).unwrap_or_default(),
            role,
            unread,
        })
    }
}
