//! The OpenAPI 3.1 document of every PAPI endpoint, generated from the endpoint table and
//! the parameter tables of the model.

use crate::endpoints::{Action, ENDPOINTS};
use pushdetect_model::batch::{method_name, KEY_FIELD, KEY_HEADER, MAX_KEY_BYTES};
use pushdetect_model::method::{ParamKind, ParamSpec, Requirement};
use pushdetect_model::EventKind;
use serde_json::{json, Map, Value};

fn schema(p: &ParamSpec) -> Value {
    let mut s = match p.kind {
        ParamKind::Enum => json!({"type": "string", "enum": p.allowed}),
        ParamKind::Port => json!({"type": "integer", "minimum": 0, "maximum": 65535}),
        ParamKind::Integer => json!({"type": "integer", "minimum": 0}),
        ParamKind::Percent => json!({"type": "number", "minimum": 0, "maximum": 100}),
        ParamKind::Bool => json!({"type": "string", "enum": ["True", "False"]}),
        ParamKind::Ip => json!({"type": "string", "format": "ip-address"}),
        ParamKind::Ipv4 => json!({"type": "string", "format": "ipv4"}),
        ParamKind::Ipv6 => json!({"type": "string", "format": "ipv6"}),
        ParamKind::Hostname => json!({"type": "string", "format": "hostname"}),
        ParamKind::TaskUuid => json!({"type": "string", "pattern": "^[0-9a-fA-F]{32}$"}),
        ParamKind::SensorKey => json!({"type": "string", "pattern": "^[^:]+:[^:]+$"}),
        _ => json!({"type": "string"}),
    };
    let mut description = p.doc.to_owned();
    if let Requirement::OneOf(group) = p.requirement {
        description.push_str(&format!(" One of the '{group}' parameters is required."));
    }
    if let Some(group) = p.group {
        description.push_str(&format!(" Only with application_protocol {group}."));
    }
    description.push_str(&format!(" Expected: {}.", p.kind.expected()));
    s["description"] = json!(description);
    s
}

/// The answer of an endpoint: the envelope, with the `data` of its action in JSON.
fn envelope(action: Action) -> Value {
    json!({
        "description": "The envelope: HTTP 200 with success 1 and data, or success 0 with \
                        error and error_code (docs/errors.md). Transport failures use HTTP \
                        statuses (404, 413, 503).",
        "content": {
            "application/json": {"schema": crate::openapi_data::answer(action)},
            "application/xml": {"schema": {"$ref": "#/components/schemas/Envelope"}}
        }
    })
}

/// The schema of a form push's parameters.
fn form_schema(params: &[ParamSpec]) -> Value {
    let required: Vec<&str> = params
        .iter()
        .filter(|p| p.requirement == Requirement::Required)
        .map(|p| p.name)
        .collect();
    let properties: Map<String, Value> = params
        .iter()
        .map(|p| (p.name.to_owned(), schema(p)))
        .collect();
    json!({"type": "object", "properties": properties, "required": required,
           "additionalProperties": false})
}

fn key_schema() -> Value {
    json!({"type": "string", "pattern": format!("^[!-~]{{1,{MAX_KEY_BYTES}}}$"),
           "description": "Names the push so that a resend of it within the idempotency \
                           window (a day by default) is stored once, per license."})
}

/// The body of the batch push: items of every kind, each its method's parameters plus
/// `method` and an optional `idempotency_key`.
fn batch_body() -> Value {
    let items: Vec<Value> = EventKind::ALL
        .into_iter()
        .map(|kind| {
            let mut item = form_schema(kind.method().params);
            item["properties"]["method"] = json!({"type": "string",
                "enum": [method_name(kind), kind.method().name]});
            item["properties"][KEY_FIELD] = key_schema();
            if let Some(required) = item["required"].as_array_mut() {
                required.push(json!("method"));
            }
            item
        })
        .collect();
    let item = json!({"oneOf": items});
    json!({
        "required": true,
        "description": "A JSON array of items, or JSON lines (one item per line). Values may \
                        be JSON strings, numbers or booleans; mail_json_str may be the mail \
                        object itself. The answer's data holds one result per item, in order.",
        "content": {
            "application/json": {"schema": {"type": "array", "items": item}},
            "application/x-ndjson": {"schema": item},
        }
    })
}

/// One Analyst API call: GET with query parameters or POST with a form (multipart for
/// file uploads), answering the envelope with the Analyst API's codes.
fn analyst_item(call: &pushdetect_model::analyst::AnalystCall) -> Value {
    let names = call
        .params
        .iter()
        .chain(pushdetect_model::analyst::CREDENTIAL_PARAMS);
    let properties: Map<String, Value> = names
        .clone()
        .map(|n| {
            let schema = if *n == "file" {
                json!({"type": "string", "format": "binary"})
            } else {
                json!({"type": "string"})
            };
            (n.to_string(), schema)
        })
        .collect();
    let body = json!({"type": "object", "properties": properties, "additionalProperties": false});
    let id = call.path.replace('/', "_");
    let responses = json!({"200": {
        "description": "The envelope; errors carry the Analyst API's codes (docs/analyst-api.md). \
                        analysis/get answers HTTP 404 for an unknown task and 412 before its result.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}}
    }});
    let format = json!({"name": "format", "in": "path", "required": true,
        "schema": {"type": "string", "enum": ["json", "xml"]}});
    let mut query: Vec<Value> = names
        .map(|n| json!({"name": n, "in": "query", "required": false, "schema": {"type": "string"}}))
        .collect();
    query.retain(|p| p["name"] != "file");
    let mut item = json!({
        "parameters": [format],
        "get": {"operationId": format!("analyst_{id}_get"), "summary": call.summary,
                "tags": ["Analyst API"], "parameters": query, "responses": responses,
                "security": analyst_security()},
        "post": {"operationId": format!("analyst_{id}_post"), "summary": call.summary,
                 "tags": ["Analyst API"], "security": analyst_security(),
                 "requestBody": {"content": {
                     "application/x-www-form-urlencoded": {"schema": body},
                     "multipart/form-data": {"schema": body}}},
                 "responses": responses},
    });
    if call.changes_state() {
        if let Some(ops) = item.as_object_mut() {
            ops.remove("get");
        }
    }
    item
}

/// The Analyst API's credentials: a license's `key` and `api_token` with each call (as
/// parameters, or once for a session), as Lastline's analysis client sends them.
fn analyst_security() -> Value {
    json!([{"license_key": [], "license_token": []}, {"session": []}])
}

/// The document served at `/papi/openapi.json`.
pub fn document() -> Value {
    let mut paths = Map::new();
    for endpoint in ENDPOINTS.iter() {
        let spec = endpoint.spec;
        let pushes = matches!(endpoint.action, Action::Push(_) | Action::PushBatch);
        let mut item = Map::new();
        for method in endpoint.methods {
            let mut op = json!({
                // From the path, which is unique (the module pings share one method).
                "operationId": format!(
                    "{}_{}",
                    endpoint.path().replace(['/', '.'], "_"),
                    method.to_lowercase()
                ),
                "summary": spec.summary,
                "responses": {"200": envelope(endpoint.action)},
            });
            if endpoint.action == Action::Login {
                // Logging in is how a session starts: no credential before it.
                op["security"] = json!([]);
            }
            if pushes {
                op["parameters"] = json!([{"name": KEY_HEADER, "in": "header",
                    "required": false, "schema": key_schema()}]);
            }
            if endpoint.action == Action::PushBatch {
                op["requestBody"] = batch_body();
            } else if *method == "GET" {
                op["parameters"] = spec
                    .params
                    .iter()
                    .map(|p| {
                        json!({
                            "name": p.name,
                            "in": "query",
                            "required": p.requirement == Requirement::Required,
                            "schema": schema(p),
                        })
                    })
                    .collect();
            } else {
                let body = form_schema(spec.params);
                op["requestBody"] = json!({
                    "required": !spec.params.is_empty(),
                    "content": {
                        "application/x-www-form-urlencoded": {"schema": body},
                        "multipart/form-data": {"schema": body},
                    }
                });
            }
            item.insert(method.to_lowercase(), op);
        }
        let item = Value::Object(item);
        paths.insert(format!("/papi/{}", endpoint.path()), item.clone());
        let mut with_format = item;
        let format_param = json!([{"name": "format", "in": "path", "required": true,
            "schema": {"type": "string", "enum": ["json", "xml"]}}]);
        with_format["parameters"] = format_param;
        for (_, op) in with_format.as_object_mut().into_iter().flatten() {
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                op["operationId"] = json!(format!("{id}_format"));
            }
        }
        paths.insert(format!("/papi/{}.{{format}}", endpoint.path()), with_format);
    }
    for call in pushdetect_model::analyst::CALLS {
        paths.insert(format!("/{}.{{format}}", call.path), analyst_item(call));
    }
    let mut schemas = crate::openapi_data::components();
    schemas.insert(
        "Envelope".into(),
        json!({
            "type": "object",
            "required": ["success"],
            "properties": {
                "success": {"type": "integer", "enum": [0, 1]},
                "data": {},
                "error": {"type": "string"},
                "error_code": {"type": "integer"}
            }
        }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "pushdetect Push Detection API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The Lastline Push Detection API as served by pushdetect. Every \
                            path also answers with the suffix .json or .xml, choosing the \
                            response format (JSON by default). Log in first (the session \
                            is a cookie), or send a user's API token as a bearer token."
        },
        "paths": paths,
        "security": [{"session": []}, {"bearer": []}],
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": crate::sessions::SESSION_COOKIE,
                    "description": "The session cookie that POST /papi/login sets."},
                "bearer": {"type": "http", "scheme": "bearer",
                    "description": "An API token (pdt_…) of a user: the read API without a \
                                    login, within the token's scope (docs/api.md)."},
                "license_key": {"type": "apiKey", "in": "query", "name": "key",
                    "description": "Analyst API: a license's access key."},
                "license_token": {"type": "apiKey", "in": "query", "name": "api_token",
                    "description": "Analyst API: the license's API token."}
            }
        }
    })
}
