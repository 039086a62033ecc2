//! The OpenAPI document: valid by openapi-spec-validator (the PyPI tool; scripts/test.sh
//! installs it and names it in PUSHDETECT_OPENAPI_VALIDATOR), every operation id unique,
//! the session and bearer security schemes declared, real answers of the server within
//! the schema of their operation, and schemathesis (PUSHDETECT_SCHEMATHESIS) sending every
//! operation the cases its coverage phase makes from the document: no answer is a server
//! error or outside its schema.

use crate::support::*;
use serde_json::{json, Value};

async fn document(app: &TestApp) -> Value {
    json(reqwest::Client::new().get(app.url("/papi/openapi.json"))).await
}

#[tokio::test]
async fn the_document_is_valid_openapi_with_unique_operations_and_security() {
    let app = TestApp::start().await;
    let doc = document(&app).await;
    let mut ids = std::collections::BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                if let Some(other) = ids.insert(id.to_owned(), format!("{method} {path}")) {
                    panic!("operationId {id} of {method} {path} is also {other}");
                }
            }
        }
    }
    assert!(ids.len() > 100, "{} operations", ids.len());
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(doc["paths"]["/papi/login"]["post"]["security"], json!([]));
    assert!(doc["paths"]["/analysis/submit/file.{format}"].is_object());

    let validator = std::env::var("PUSHDETECT_OPENAPI_VALIDATOR").expect(
        "PUSHDETECT_OPENAPI_VALIDATOR names openapi-spec-validator; scripts/test.sh installs it",
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_vec(&doc).unwrap()).unwrap();
    let out = std::process::Command::new(&validator)
        .arg(file.path())
        .output()
        .unwrap_or_else(|e| panic!("{validator}: {e}"));
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.contains("OK"), "{said}");
}

/// Checks `answer` against the schema the document gives the JSON answer of `method`
/// `path` (a path as the document names it, without the format suffix).
fn within_schema(doc: &Value, method: &str, path: &str, answer: &Value) {
    let op = &doc["paths"][path][method];
    let mut schema = op["responses"]["200"]["content"]["application/json"]["schema"].clone();
    assert!(schema.is_object(), "no schema for {method} {path}");
    schema["components"] = doc["components"].clone();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(answer)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{method} {path}: {errors:?}\n{answer}");
}

#[tokio::test]
async fn answers_stay_within_the_schema_of_their_operation() {
    let app = TestApp::start().await;
    let doc = document(&app).await;
    let c = Client::new(&app.base);
    let login = c
        .post(
            "/papi/login",
            &[
                ("username", &app.creds.username),
                ("password", &app.creds.password),
            ],
        )
        .await;
    within_schema(&doc, "post", "/papi/login", &login);
    let key = app.creds.sensor_key.clone();
    let push = c.post(IOC, &pairs(&ioc_form(&key))).await;
    within_schema(&doc, "post", "/papi/push_detection/ioc/push_result", &push);
    let refused = c.post(IOC, &[("vendor_name", "Acme")]).await;
    within_schema(
        &doc,
        "post",
        "/papi/push_detection/ioc/push_result",
        &refused,
    );
    let batch = json(
        c.http
            .post(app.url("/papi/push_detection/batch/push_events.json"))
            .json(&json!([batch_item("push_result", &ioc_numbered(&key, 7)), {"method": "push_result"}])),
    )
    .await;
    within_schema(
        &doc,
        "post",
        "/papi/push_detection/batch/push_events",
        &batch,
    );
    for (path, query) in [
        ("/papi/push_detection/event/list", vec![]),
        ("/papi/push_detection/event/get", vec![("event_id", "1")]),
        ("/papi/push_detection/incident/list", vec![]),
        (
            "/papi/push_detection/incident/get",
            vec![("incident_id", "1")],
        ),
        (
            "/papi/push_detection/incident/history",
            vec![("incident_id", "1")],
        ),
        ("/papi/audit/list", vec![]),
        ("/papi/forwarding/destination/list", vec![]),
        ("/papi/user/token/list", vec![]),
        ("/papi/push_detection/ping", vec![]),
    ] {
        let answer = c.get(&format!("{path}.json"), &query).await;
        assert_eq!(answer["success"], 1, "{path}: {answer}");
        within_schema(&doc, "get", path, &answer);
    }
    for (path, form) in [
        (
            "/papi/push_detection/incident/update",
            vec![("incident_id", "1"), ("status", "acknowledged")],
        ),
        (
            "/papi/push_detection/incident/comment",
            vec![("incident_id", "1"), ("comment", "seen")],
        ),
        (
            "/papi/user/token/create",
            vec![("name", "schema"), ("scope", "write")],
        ),
        ("/papi/user/token/revoke", vec![("token_id", "1")]),
    ] {
        let answer = c.post(&format!("{path}.json"), &form).await;
        assert_eq!(answer["success"], 1, "{path}: {answer}");
        within_schema(&doc, "post", path, &answer);
    }
    let changed = c
        .post(
            "/papi/user/password/change.json",
            &[
                ("current_password", &app.creds.password),
                ("new_password", "a schema-valid passphrase"),
            ],
        )
        .await;
    within_schema(&doc, "post", "/papi/user/password/change", &changed);
    let out = c.post("/papi/logout.json", &[]).await;
    within_schema(&doc, "post", "/papi/logout", &out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_its_schema() {
    let tool = std::env::var("PUSHDETECT_SCHEMATHESIS")
        .expect("PUSHDETECT_SCHEMATHESIS names schemathesis; scripts/test.sh installs it");
    let app = TestApp::start().await;
    let c = app.user_client().await;
    let cookie = c
        .http
        .post(app.url("/papi/login"))
        .form(&[
            ("username", &app.creds.username),
            ("password", &app.creds.password),
        ])
        .send()
        .await
        .unwrap()
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_owned();
    let base = app.base.clone();
    // The calls that end the session or change credentials are left out: the run goes on
    // with one session.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&tool)
            .args(["run", &format!("{base}/papi/openapi.json"), "-u", &base])
            .args(["-H", &format!("Cookie: {cookie}")])
            .args(["--checks", "not_a_server_error,response_schema_conformance"])
            .args(["--phases", "coverage", "--request-timeout", "30", "-w", "2"])
            .args(["--exclude-path-regex", "logout|password|token/revoke"])
            .output()
            .unwrap_or_else(|e| panic!("{tool}: {e}"))
    })
    .await
    .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("passed"), "{said}");
}
