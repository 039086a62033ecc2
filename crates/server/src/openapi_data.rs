//! The `data` of each PAPI answer, as JSON Schema for the OpenAPI document: one schema
//! per action (a push's "OK", a list's page, a record), and the records they are made
//! of as components. Records allow properties beyond those named, so a field added later
//! does not break a client that validates.

use crate::endpoints::Action;
use serde_json::{json, Value};

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn text() -> Value {
    json!({"type": "string"})
}

fn maybe(schema: Value) -> Value {
    json!({"anyOf": [schema, {"type": "null"}]})
}

fn int() -> Value {
    json!({"type": "integer"})
}

/// A record: an object with these properties, all present.
fn record(properties: Value) -> Value {
    let required: Vec<String> = properties
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    json!({"type": "object", "properties": properties, "required": required})
}

/// A page of a list: the rows under `list`, and how to ask for the next page.
fn page(list: &str, row: Value) -> Value {
    record(json!({
        list: {"type": "array", "items": row},
        "more_results_available": {"type": "integer", "enum": [0, 1]},
        "next_cursor": maybe(text()),
    }))
}

/// The records answers are made of.
pub fn components() -> serde_json::Map<String, Value> {
    let time = json!({"type": "string", "description": "UTC, 'YYYY-MM-DD HH:MM:SS'"});
    let mut c = serde_json::Map::new();
    c.insert(
        "Event".into(),
        record(json!({
            "event_id": int(),
            "type": text(),
            "occurred_at": time,
            "received_at": time,
            "vendor_name": text(),
            "tool_name": text(),
            "license": {"type": "object"},
            "sensor": {"type": "object"},
            "pushed_by": {"type": "object"},
            "hosts": {"type": "array", "items": text()},
            "action": maybe(text()),
            "impact": maybe(int()),
            "fields": {"type": "object"},
            "raw_parameters": {"type": "object"},
        })),
    );
    c.insert(
        "Incident".into(),
        record(json!({
            "incident_id": int(),
            "grouped_by": text(),
            "host": text(),
            "host_kind": maybe(text()),
            "first_event_at": time,
            "last_event_at": time,
            "event_count": int(),
            "impact": maybe(int()),
            "status": text(),
            "resolution": maybe(text()),
            "reason": maybe(text()),
            "assignee": maybe(text()),
            "merged_into": maybe(int()),
        })),
    );
    c.insert(
        "AuditRecord".into(),
        record(json!({
            "audit_id": int(),
            "at": time,
            "actor": text(),
            "address": maybe(text()),
            "action": text(),
            "target": text(),
            "incident_id": maybe(int()),
            "before": {},
            "after": {},
        })),
    );
    c.insert(
        "ApiToken".into(),
        record(json!({
            "token_id": int(),
            "name": text(),
            "username": text(),
            "scope": {"type": "string", "enum": ["read", "write"]},
            "created_at": time,
            "expires_at": maybe(time.clone()),
            "last_used_at": maybe(time),
        })),
    );
    c.insert(
        "Destination".into(),
        json!({"type": "object", "required": ["name", "target", "format"],
               "properties": {"name": text(), "target": text(), "format": text(),
                              "disabled": {"type": "boolean"}}}),
    );
    c
}

/// The `data` of a successful answer of `action`.
pub fn data(action: Action) -> Value {
    use Action::*;
    match action {
        Login => json!({"type": "object", "required": ["auth_method"], "properties": {
            "auth_method": {"type": "string", "enum": ["account", "license"]},
            "username": text(), "key_id": int()}}),
        Logout | Push(_) => json!({"const": "OK"}),
        Ping => json!({"const": "pong"}),
        PushBatch => record(json!({
            "items": int(), "stored": int(), "duplicates": int(), "refused": int(),
            "results": {"type": "array", "items": {
                "type": "object", "required": ["index", "result"],
                "properties": {
                    "index": int(),
                    "result": {"type": "string", "enum": ["OK", "duplicate", "error"]},
                    "error_code": int(), "error": text()}}},
        })),
        ListEvents => page("events", reference("Event")),
        GetEvent => reference("Event"),
        ListIncidents => page("incidents", reference("Incident")),
        GetIncident => json!({"allOf": [reference("Incident"), {"type": "object",
            "properties": {"events": {"type": "array", "items": reference("Event")}}}]}),
        UpdateIncident | MergeIncidents | SplitIncident => reference("Incident"),
        CommentIncident => json!({"type": "object", "required": ["comment_id"],
            "properties": {"comment_id": int(), "incident_id": int()}}),
        IncidentHistory => json!({"type": "object", "required": ["history"], "properties": {
            "history": {"type": "array", "items": reference("AuditRecord")},
            "comments": {"type": "array", "items": {"type": "object"}}}}),
        ListAudit => page("records", reference("AuditRecord")),
        CreateDestination => reference("Destination"),
        UpdateDestination => json!({"type": "object", "required": ["destination", "disabled"],
            "properties": {"destination": text(), "disabled": {"type": "boolean"}}}),
        ListDestinations => json!({"type": "object", "required": ["destinations"],
            "properties": {"destinations": {"type": "array", "items": reference("Destination")}}}),
        RemoveDestination => json!({"type": "object", "required": ["destination", "removed"],
            "properties": {"destination": text(), "removed": {"const": true}}}),
        TestDestination => json!({"type": "object", "required": ["destination", "sent"],
            "properties": {"destination": text(), "sent": {"const": true}}}),
        DeadDeliveries => json!({"type": "object", "required": ["destination", "deliveries"],
            "properties": {"destination": text(),
                           "deliveries": {"type": "array", "items": {"type": "object"}}}}),
        ResendDeliveries => json!({"type": "object", "required": ["destination", "resent"],
            "properties": {"destination": text(), "resent": int()}}),
        ChangePassword => record(json!({"username": text()})),
        ResetPassword => record(json!({"username": text(), "password": text()})),
        CreateToken => json!({"allOf": [reference("ApiToken"),
            {"type": "object", "required": ["token"], "properties": {"token": text()}}]}),
        ListTokens => record(json!({"tokens": {"type": "array", "items": reference("ApiToken")}})),
        RevokeToken => record(json!({"token_id": int(), "revoked": {"const": true}})),
    }
}

/// The answer of `action`: the envelope, its `data` as [`data`] says when it succeeded.
pub fn answer(action: Action) -> Value {
    json!({
        "oneOf": [
            {"type": "object", "required": ["success", "data"],
             "properties": {"success": {"const": 1}, "data": data(action)}},
            {"type": "object", "required": ["success", "error", "error_code"],
             "properties": {"success": {"const": 0}, "error": text(), "error_code": int()}},
        ]
    })
}
