//! The external form of stored events and incidents: what the read API answers and what
//! forwarding sends as JSON, one definition for both so that a SIEM receives exactly what
//! a script reading the API sees.

use crate::records::{Incident, Principal, StoredEvent};
use pushdetect_model::grouping::GroupBy;
use pushdetect_model::triage::HostKind;
use pushdetect_model::Timestamp;
use serde_json::{json, Value};

/// A time as the API writes it.
pub fn time(ms: i64) -> String {
    Timestamp::from_millis(ms).to_string()
}

/// The external form of a stored event.
pub fn event_json(e: &StoredEvent) -> Value {
    let pushed_by = match e.pushed_by {
        Principal::User(_) => json!({"auth_method": "account", "username": e.pushed_by_label}),
        Principal::License(id) => {
            json!({"auth_method": "license", "key_id": id, "access_key": e.pushed_by_label})
        }
    };
    json!({
        "event_id": e.id,
        "type": e.kind,
        "occurred_at": time(e.occurred_at_ms),
        "received_at": time(e.received_at_ms),
        "vendor_name": e.vendor_name,
        "tool_name": e.tool_name,
        "license": {"key_id": e.license_id, "access_key": e.access_key},
        "sensor": {
            "subkey_id": e.sensor_id,
            "subkey": e.subkey,
            "key": format!("{}:{}", e.access_key, e.subkey),
        },
        "pushed_by": pushed_by,
        "hosts": e.hosts,
        "action": e.action,
        "impact": e.impact,
        "fields": e.fields,
        "raw_parameters": e.raw_params,
    })
}

/// The external form of an incident.
pub fn incident_json(i: &Incident) -> Value {
    json!({
        "incident_id": i.id,
        "grouped_by": i.grouped_by.as_str(),
        "host": i.host,
        "host_kind": match i.grouped_by {
            GroupBy::Host => Some(HostKind::of(&i.host).as_str()),
            _ => None,
        },
        "first_event_at": time(i.first_ms),
        "last_event_at": time(i.last_ms),
        "event_count": i.events,
        "impact": i.impact,
        "status": i.workflow.status.as_str(),
        "resolution": i.workflow.resolution.map(|r| r.as_str()),
        "reason": i.workflow.reason,
        "assignee": i.assignee_name,
        "merged_into": i.merged_into,
    })
}
