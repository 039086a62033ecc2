//! push_mail: the mail object schema, its defaults, and the spec's own sample.

use crate::support::*;
use serde_json::json;

#[tokio::test]
async fn the_spec_sample_is_accepted_and_normalised() {
    let app = TestApp::start().await;
    app.create_task(TASK).await;
    let c = app.user_client().await;
    let form = with(
        &mail_form(&app.creds.sensor_key, SPEC_SAMPLE_MAIL),
        "tool_version",
        Some("3"),
    );
    assert_ok(&c.post(MAIL, &pairs(&form)).await);
    let list = c.get_ok(LIST, &[("type", "mail")]).await;
    let e = &list["events"][0];
    assert_eq!(e["occurred_at"], "2018-06-04T10:11:12.000Z");
    let f = &e["fields"];
    assert_eq!(
        f["message"]["recipients"],
        json!(["jane.doe@corp.com", "support@corp.com"])
    );
    assert_eq!(f["message"]["date"], "Tue, 1 May 2018 17:24:16 -0400 (EST)");
    assert_eq!(f["message"]["date_utc"], "2018-05-01T21:24:16.000Z");
    assert_eq!(f["attachments"][0]["action"], "WARN");
    assert_eq!(f["attachments"][0]["size"], 23454234);
    assert_eq!(f["urls"][0]["url"], "https://evil.hacker.com");
    assert_eq!(f["action"], "LOG");
    assert_eq!(f["tool_version"], "3");
    // The raw parameter is kept exactly as sent.
    assert_eq!(e["raw_parameters"]["mail_json_str"], SPEC_SAMPLE_MAIL);
    // Task links: the attachment's task is known here, the URL's is not (kept anyway).
    let id = e["event_id"].to_string();
    let full = c.get_ok(GET, &[("event_id", &id)]).await;
    assert_eq!(
        full["tasks"],
        json!([
            {"task_uuid": TASK, "known": true, "key_id": app.creds.key_id},
            {"task_uuid": "dcbadcbadcbadcbadcbadcbadcbadcba", "known": false, "key_id": null}
        ])
    );
    // A recipient is a host of its own kind for the host filter.
    let by_recipient = c.get_ok(LIST, &[("host", "Jane.Doe@corp.com")]).await;
    assert_eq!(by_recipient["events"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn defaults_apply_when_optional_fields_are_absent() {
    let app = TestApp::start().await;
    let c = app.user_client().await;
    let before = chrono::Utc::now();
    let mail = json!({"message": {"message_id": "<m1@corp.com>", "sender": "a@corp.com",
        "recipients": ["b@corp.com"], "subject": ""},
        "attachments": [{"filename": "report.pdf", "size": 10}],
        "urls": [{"url": "http://x.example/a?b=c", "task_uuid": ""}]});
    assert_ok(
        &c.post(
            MAIL,
            &pairs(&mail_form(&app.creds.sensor_key, &mail.to_string())),
        )
        .await,
    );
    let e = c.get_ok(LIST, &[]).await["events"][0].clone();
    let f = &e["fields"];
    assert_eq!(f["action"], "LOG");
    assert_eq!(f["attachments"][0]["action"], "LOG");
    assert_eq!(f["urls"][0]["action"], "LOG");
    assert!(f["urls"][0].get("task_uuid").is_none());
    let received =
        chrono::DateTime::parse_from_rfc3339(f["message"]["received_timestamp"].as_str().unwrap())
            .unwrap();
    assert!(
        received >= before - chrono::Duration::seconds(1),
        "{received}"
    );
    assert!(received <= chrono::Utc::now());
}

#[tokio::test]
async fn mail_object_violations_name_the_json_path() {
    let app = TestApp::start().await;
    let c = app.user_client().await;
    let ok = json!({"message": {"message_id": "m", "sender": "a@corp.com",
        "recipients": ["b@corp.com"], "subject": "s"}});
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (json!({}), "'message' is required"),
        (
            json!({"message": {"sender": "a@corp.com", "recipients": ["b@corp.com"], "subject": "s"}}),
            "'message.message_id' is required",
        ),
        (
            json!({"message": {"message_id": "<café@corp.com>", "sender": "a@corp.com", "recipients": ["b@corp.com"], "subject": "s"}}),
            "'message.message_id' must be an ASCII string",
        ),
        (
            json!({"message": {"message_id": "<a\tb@corp.com>", "sender": "a@corp.com", "recipients": ["b@corp.com"], "subject": "s"}}),
            "without control characters",
        ),
        (
            json!({"message": {"message_id": "m", "recipients": ["b@corp.com"], "subject": "s"}}),
            "'message.sender' is required",
        ),
        (
            json!({"message": {"message_id": "m", "sender": "a@corp.com", "subject": "s"}}),
            "'message.recipients' is required",
        ),
        (
            json!({"message": {"message_id": "m", "sender": "a@corp.com", "recipients": ["b@corp.com"]}}),
            "'message.subject' is required",
        ),
        (
            json!({"message": {"message_id": "m", "sender": "Alice <a@corp.com>", "recipients": ["b@corp.com"], "subject": "s"}}),
            "friendly name",
        ),
        (
            json!({"message": {"message_id": "m", "sender": "a@corp.com", "recipients": ["Bob <b@corp.com>"], "subject": "s"}}),
            "'message.recipients[0]'",
        ),
        (
            json!({"message": {"message_id": "m", "sender": "a@corp.com", "recipients": ["b@corp.com"], "subject": "s", "date": "1 May"}}),
            "RFC 2822",
        ),
        (
            json!({"message": {"message_id": "m", "sender": "a@corp.com", "recipients": ["b@corp.com"], "subject": "s", "received_timestamp": "2018-06-04T10:11:12Z"}}),
            "YYYY-MM-DD HH:MM:SS",
        ),
        (
            json!({"message": {"message_id": "m", "sender": "a@corp.com", "recipients": ["b@corp.com"], "subject": "s", "recieved_timestamp": "x"}}),
            "'message.recieved_timestamp' is not a known key",
        ),
        (
            json!({"message": ok["message"], "action": "WARN"}),
            "'action' must be one of LOG, BLOCK",
        ),
        (
            json!({"message": ok["message"], "attachments": [{"filename": "a"}]}),
            "'attachments[0].size' is required",
        ),
        (
            json!({"message": ok["message"], "attachments": [{"size": 1}]}),
            "'attachments[0].filename' is required",
        ),
        (
            json!({"message": ok["message"], "attachments": [{"filename": "a", "size": -1}]}),
            "non-negative integer",
        ),
        (
            json!({"message": ok["message"], "attachments": [{"filename": "a", "size": 1, "action": "DROP"}]}),
            "LOG, WARN, BLOCK",
        ),
        (
            json!({"message": ok["message"], "attachments": [{"filename": "a", "size": 1, "task_uuid": "123"}]}),
            "'attachments[0].task_uuid'",
        ),
        (
            json!({"message": ok["message"], "urls": [{"task_uuid": TASK}]}),
            "'urls[0].url' is required",
        ),
        (
            json!({"message": ok["message"], "urls": [{"url": "not a url"}]}),
            "absolute ASCII URL",
        ),
        (
            json!({"message": ok["message"], "urls": "http://x"}),
            "'urls' must be a list",
        ),
        (json!([1, 2]), "must be a JSON object"),
    ];
    for (mail, needle) in cases {
        let v = c
            .post(
                MAIL,
                &pairs(&mail_form(&app.creds.sensor_key, &mail.to_string())),
            )
            .await;
        assert_error(&v, 2005, needle);
    }
    let v = c
        .post(MAIL, &pairs(&mail_form(&app.creds.sensor_key, "{not json")))
        .await;
    assert_error(&v, 2005, "not valid JSON");
    for name in ["mail_json_str", "vendor_name", "tool_name", "key"] {
        let form = with(
            &mail_form(&app.creds.sensor_key, &ok.to_string()),
            name,
            None,
        );
        assert_error(&c.post(MAIL, &pairs(&form)).await, 2001, name);
    }
    assert_eq!(app.event_count().await, 0);
    assert_ok(
        &c.post(
            MAIL,
            &pairs(&mail_form(&app.creds.sensor_key, &ok.to_string())),
        )
        .await,
    );
}
