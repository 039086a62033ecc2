//! Triage of stored events: the model derives an event's action, base impact and task
//! references; the store adds task scores and groups events into incidents.

use crate::state::AppState;
use pushdetect_model::{Event, EventKind, FormParams, PushRequest, Timestamp};
use pushdetect_store::Triage;
use serde_json::Value;

/// Events indexed per transaction when catching up at start.
const BACKLOG_BATCH: u32 = 500;

/// The triage of a parsed event, as the store keeps it.
pub fn of_event(event: &Event) -> Triage {
    Triage {
        action: event.action().map(|a| a.as_str().to_owned()),
        base_impact: event.base_impact().map(i64::from),
        task_uuids: event
            .task_uuids()
            .into_iter()
            .map(|u| u.as_str().to_owned())
            .collect(),
    }
}

/// The triage of a stored event, parsed again from its raw parameters. An event that no
/// longer parses (stored under older rules) keeps no action and an unknown impact; it
/// still joins its hosts' incidents.
pub fn of_stored(kind: &str, raw_params: &Value, received_at_ms: i64) -> Triage {
    let Some(kind) = EventKind::from_name(kind) else {
        return Triage::default();
    };
    let mut params = FormParams::default();
    if let Value::Object(map) = raw_params {
        for (name, value) in map {
            match value {
                Value::Array(items) => {
                    for item in items {
                        params.push(name.clone(), item.as_str().unwrap_or_default());
                    }
                }
                other => params.push(name.clone(), other.as_str().unwrap_or_default()),
            }
        }
    }
    let received = chrono::DateTime::from_timestamp_millis(received_at_ms).unwrap_or_default();
    PushRequest::parse(kind, &params, Timestamp(received))
        .map(|r| of_event(&r.event))
        .unwrap_or_default()
}

/// Gives events stored before triage existed their action, impact and incidents, in
/// batches (each its own transaction, so pushes are never held up for long).
pub async fn index_backlog(state: &AppState) {
    let mut total = 0;
    loop {
        match state
            .store
            .index_backlog(state.config.incident_window_ms(), BACKLOG_BATCH, &of_stored)
            .await
        {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) => {
                tracing::error!(error = %e, "indexing stored events into incidents failed");
                return;
            }
        }
    }
    if total > 0 {
        tracing::info!(events = total, "stored events indexed into incidents");
    }
}
