//! Logins and failed logins in the audit trail, for the PAPI and the console alike: who
//! (the user or license, or the name tried), from which address, through which door.

use crate::state::AppState;
use pushdetect_store::{Actor, AuditAction, NewAudit, Principal, StoreError};
use serde_json::json;
use std::net::IpAddr;

/// Characters of a tried name the trail keeps: enough to recognise it, never a huge field.
const MAX_TRIED_NAME: usize = 64;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Records a successful login of `principal` (named `label`) of `account_id` through
/// `door` ("papi" or "console").
pub async fn logged_in(
    app: &AppState,
    account_id: i64,
    principal: Principal,
    label: &str,
    address: IpAddr,
    door: &str,
) -> Result<(), StoreError> {
    let actor = Actor {
        principal: Some(principal),
        label: label.to_owned(),
        address: Some(address.to_string()),
    };
    let record = NewAudit::of(Some(account_id), AuditAction::Login, label.to_owned())
        .after(json!({"via": door}));
    app.store.record_audit(&actor, &record, now_ms()).await
}

/// Records a failed login with the name tried; the account is the one that name belongs
/// to, when it names a user or license (so that its admins see attempts on it). A failure
/// to record is logged: the caller is answered the refusal all the same.
pub async fn login_failed(app: &AppState, tried: &str, is_user: bool, address: IpAddr, door: &str) {
    let tried: String = tried.chars().take(MAX_TRIED_NAME).collect();
    let account = if is_user {
        app.store
            .find_user(&tried)
            .await
            .map(|u| u.map(|u| u.account_id))
    } else {
        app.store
            .find_license_by_access_key(&tried)
            .await
            .map(|l| l.map(|l| l.account_id))
    };
    let actor = Actor {
        principal: None,
        label: tried.clone(),
        address: Some(address.to_string()),
    };
    let kind = if is_user { "user" } else { "license" };
    // The name tried (never the secret), so that a log search finds guessing of one name.
    tracing::info!(%address, via = door, credential = kind, name = %tried, "login failed");
    let result = match account {
        Ok(account_id) => {
            let record = NewAudit::of(account_id, AuditAction::LoginFailed, tried)
                .after(json!({"via": door, "credential": kind}));
            app.store.record_audit(&actor, &record, now_ms()).await
        }
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        tracing::error!(error = %e, "a failed login could not be recorded in the audit trail");
    }
}
