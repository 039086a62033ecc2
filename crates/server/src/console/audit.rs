//! The audit page: the account's audit trail for its admins, with filters, pages and a CSV
//! export (every record matching the filters, streamed).

use super::admin::forbidden;
use super::export::csv_cell;
use super::page::{cut_page, refused, render, time, unavailable};
use super::session::{ConsoleUser, Nav};
use crate::list_filters as filters;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use pushdetect_model::workflow::AuditAction;
use pushdetect_store::{AuditFilter, AuditRecord};

/// Records per page.
const PAGE: u32 = 100;
/// Records per store read while exporting.
const EXPORT_BATCH: u32 = 1000;

/// A record's values, as "before → after" in compact JSON.
fn change_text(a: &AuditRecord) -> String {
    let show =
        |v: &Option<serde_json::Value>| v.as_ref().map_or("–".to_owned(), |v| v.to_string());
    match (&a.old_value, &a.new_value) {
        (None, None) => String::new(),
        (None, after) => show(after),
        (before, after) => format!("{} → {}", show(before), show(after)),
    }
}

/// The filters as typed.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct AuditForm {
    action: String,
    actor: String,
    incident_id: String,
    after: String,
    before: String,
    cursor: String,
}

impl AuditForm {
    /// The store's filter for the user's account, pages of `limit`.
    fn filter(&self, account_id: i64, limit: u32) -> Result<AuditFilter, filters::Refused> {
        let id = |name: &str, v: &str| {
            v.trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| filters::refuse(name, v, "a positive number"))
        };
        Ok(AuditFilter {
            account_id: Some(account_id),
            action: filters::optional(
                "action",
                &self.action,
                filters::one_of(AuditAction::parse, AuditAction::ALLOWED),
            )?,
            actor: Some(self.actor.trim().to_owned()).filter(|a| !a.is_empty()),
            incident_id: filters::optional("incident_id", &self.incident_id, id)?,
            after_ms: filters::optional("after", &self.after, filters::time)?,
            before_ms: filters::optional("before", &self.before, filters::time)?,
            before_id: filters::optional("cursor", &self.cursor, id)?,
            limit,
        })
    }

    /// The query string of these filters, with `cursor` (for the next page) or without
    /// (for the export).
    fn query(&self, cursor: Option<i64>) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("action", &self.action),
            ("actor", &self.actor),
            ("incident_id", &self.incident_id),
            ("after", &self.after),
            ("before", &self.before),
        ] {
            if !value.trim().is_empty() {
                q.append_pair(name, value.trim());
            }
        }
        if let Some(c) = cursor {
            q.append_pair("cursor", &c.to_string());
        }
        q.finish()
    }
}

/// An audit record as the audit page and an incident's history show it.
pub struct AuditRow {
    pub(super) at: String,
    pub(super) actor: String,
    pub(super) address: String,
    pub(super) action: &'static str,
    pub(super) target: String,
    pub(super) incident_id: Option<i64>,
    pub(super) change: String,
}

impl AuditRow {
    /// The row of a stored record.
    pub fn of(a: &AuditRecord) -> Self {
        AuditRow {
            at: time(a.at_ms),
            actor: a.actor.clone(),
            address: a.address.clone().unwrap_or_default(),
            action: a.action.as_str(),
            target: a.target.clone(),
            incident_id: a.incident_id,
            change: change_text(a),
        }
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Nav,
    actions: &'static [&'static str],
    filter: AuditForm,
    error: Option<String>,
    rows: Vec<AuditRow>,
    export: String,
    next_page: Option<String>,
}

/// `GET /audit`: the account's audit trail, newest first (admins only).
pub async fn page(
    State(app): State<AppState>,
    user: ConsoleUser,
    Query(form): Query<AuditForm>,
) -> Response {
    if !user.is_admin() {
        return forbidden();
    }
    let mut page = AuditPage {
        nav: user.nav(),
        actions: AuditAction::ALLOWED,
        export: format!("/audit/export.csv?{}", form.query(None)),
        filter: form.clone(),
        error: None,
        rows: Vec::new(),
        next_page: None,
    };
    let filter = match form.filter(user.account_id, PAGE + 1) {
        Ok(f) => f,
        Err(e) => {
            page.error = Some(e.sentence());
            return refused(&page);
        }
    };
    let mut records = match app.store.list_audit(&filter).await {
        Ok(r) => r,
        Err(e) => return unavailable(e),
    };
    page.next_page = cut_page(&mut records, PAGE, |last| {
        format!("/audit?{}", form.query(Some(last.id)))
    });
    page.rows = records.iter().map(AuditRow::of).collect();
    render(&page)
}

/// `GET /audit/export.csv`: every record matching the filters, newest first, as CSV,
/// streamed page by page (admins only).
pub async fn export_csv(
    State(app): State<AppState>,
    user: ConsoleUser,
    Query(form): Query<AuditForm>,
) -> Response {
    if !user.is_admin() {
        return forbidden();
    }
    let mut filter = match form.filter(user.account_id, EXPORT_BATCH) {
        Ok(f) => f,
        Err(e) => {
            return (axum::http::StatusCode::BAD_REQUEST, e.sentence()).into_response();
        }
    };
    let stream = async_stream::stream! {
        yield Ok::<_, std::io::Error>(
            "audit_id,at,actor,address,action,target,incident_id,before,after\r\n".to_owned(),
        );
        loop {
            let page = match app.store.list_audit(&filter).await {
                Ok(p) => p,
                Err(e) => {
                    yield Err(std::io::Error::other(e.to_string()));
                    break;
                }
            };
            for a in &page {
                let json = |v: &Option<serde_json::Value>| {
                    v.as_ref().map(|v| v.to_string()).unwrap_or_default()
                };
                let cells = [
                    a.id.to_string(),
                    pushdetect_model::Timestamp::from_millis(a.at_ms).0.to_rfc3339(),
                    a.actor.clone(),
                    a.address.clone().unwrap_or_default(),
                    a.action.as_str().to_owned(),
                    a.target.clone(),
                    a.incident_id.map(|i| i.to_string()).unwrap_or_default(),
                    json(&a.old_value),
                    json(&a.new_value),
                ];
                let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
                yield Ok(format!("{}\r\n", line.join(",")));
            }
            match page.last() {
                Some(last) if page.len() == filter.limit as usize => {
                    filter.before_id = Some(last.id);
                }
                _ => break,
            }
        }
    };
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"pushdetect-audit.csv\"".to_owned(),
            ),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response()
}
