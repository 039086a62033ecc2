//! Triage of stored events: the model derives an event's action, base impact and task
//! references; the store adds task scores and groups events into incidents.

use crate::state::AppState;
use pushdetect_model::{Event, EventKind, Timestamp};
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
        machines: event.machines(),
        group_keys: event.group_keys(),
    }
}

/// The triage of a stored event, parsed again from its raw parameters. An event that no
/// longer parses (stored under older rules) keeps no action and an unknown impact; it
/// still joins its hosts' incidents.
pub fn of_stored(kind: &str, raw_params: &Value, received_at_ms: i64) -> Triage {
    let received = Timestamp::from_millis(received_at_ms);
    EventKind::from_name(kind)
        .and_then(|kind| Event::from_stored(kind, raw_params, received).ok())
        .map(|event| of_event(&event))
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

#[cfg(test)]
mod tests {
    use super::*;
    use pushdetect_model::{FormParams, PushRequest};

    #[test]
    fn a_stored_event_is_triaged_as_it_was_when_pushed() {
        let params = FormParams::from_pairs([
            ("vendor_name", "Acme"),
            ("tool_name", "IocScan"),
            ("ioc_uuid", "0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10"),
            ("ioc_source", "feed"),
            ("main_ipv4", "10.0.0.9"),
            ("ioc_matched", "True"),
            ("match_confidence", "85"),
            ("hostname", "WS-09"),
            ("key", "AK:SK"),
        ]);
        let at = 1_700_000_000_000;
        let pushed = PushRequest::parse(EventKind::Ioc, &params, Timestamp::from_millis(at))
            .unwrap()
            .event;
        let triage = of_stored("ioc", &params.to_json(), at);
        assert_eq!(triage, of_event(&pushed));
        assert_eq!(triage.base_impact, Some(85));
        // Of an unknown kind, or refused by this version: nothing known.
        assert_eq!(of_stored("fax", &params.to_json(), at), Triage::default());
        let mut refused = params.to_json();
        refused["ioc_uuid"] = "x".into();
        assert_eq!(of_stored("ioc", &refused, at), Triage::default());
    }
}
