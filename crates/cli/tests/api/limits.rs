//! Sizes, encodings and repeats of what a caller sends: each bounded, each refusal naming
//! the field.

use crate::support::*;
use serde_json::Value;

/// POSTs raw urlencoded bytes with the client's session; the envelope.
async fn post_raw(app: &TestApp, c: &Client, path: &str, body: Vec<u8>) -> Value {
    let r = c
        .http
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

fn urlencoded(form: &[(&'static str, String)]) -> Vec<u8> {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in form {
        s.append_pair(k, v);
    }
    s.finish().into_bytes()
}

#[tokio::test]
async fn a_value_that_is_not_utf8_is_refused_naming_the_field() {
    let app = TestApp::start().await;
    let c = app.user_client().await;
    let mut body = urlencoded(&ioc_form(&app.creds.sensor_key));
    body.extend_from_slice(b"&ioc_source=caf%E9");
    let v = post_raw(&app, &c, IOC, body).await;
    assert_error(&v, 2002, "'ioc_source'");
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn text_fields_have_a_maximum_length() {
    let app = TestApp::start().await;
    let c = app.user_client().await;
    let long = "x".repeat(pushdetect_model::limits::MAX_TEXT_BYTES + 1);
    let form = with(&ioc_form(&app.creds.sensor_key), "ioc_source", Some(&long));
    assert_error(&c.post(IOC, &pairs(&form)).await, 2002, "'ioc_source'");
    // Inside the mail object, each field has its own limit.
    let mail = SPEC_SAMPLE_MAIL.replace("Mail subject", &"s".repeat(4097));
    let form = mail_form(&app.creds.sensor_key, &mail);
    assert_error(
        &c.post(MAIL, &pairs(&form)).await,
        2005,
        "'message.subject' must be at most 4096 bytes",
    );
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn a_huge_unknown_parameter_name_is_refused_without_a_search() {
    let app = TestApp::start().await;
    let c = app.user_client().await;
    let name = "n".repeat(3 * 1024 * 1024);
    let mut body = urlencoded(&ioc_form(&app.creds.sensor_key));
    body.extend_from_slice(format!("&{name}=1").as_bytes());
    let v = post_raw(&app, &c, IOC, body).await;
    assert_error(&v, 2003, "longer than any parameter name");
    assert!(v["error"].as_str().unwrap().len() < 300, "{v}");
}

#[tokio::test]
async fn times_beyond_year_9999_are_refused() {
    let app = TestApp::start().await;
    let c = app.user_client().await;
    let form = with(
        &ioc_form(&app.creds.sensor_key),
        "check_time_start",
        Some("253402300800"),
    );
    assert_error(
        &c.post(IOC, &pairs(&form)).await,
        2002,
        "'check_time_start'",
    );
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn a_parameter_repeated_with_the_same_value_is_the_same_push() {
    let app = TestApp::start().await;
    let c = app.user_client().await;
    let form = ioc_form(&app.creds.sensor_key);
    assert_ok(&c.post(IOC, &pairs(&form)).await);
    let mut repeated = form.clone();
    repeated.push(("hostname", "WS-09".to_owned()));
    assert_ok(&c.post(IOC, &pairs(&repeated)).await);
    assert_eq!(app.event_count().await, 1);
    // With another value the repeat is refused: which one was meant is unknowable.
    let mut conflicting = form.clone();
    conflicting.push(("hostname", "WS-10".to_owned()));
    assert_error(&c.post(IOC, &pairs(&conflicting)).await, 2004, "'hostname'");
}

#[tokio::test]
async fn a_list_answer_is_bounded_in_bytes_and_continues_by_cursor() {
    let app = TestApp::start().await;
    let c = app.user_client().await;
    // Twelve mails of about a megabyte each: far more than one answer may hold.
    let attachments: Vec<Value> = (0..900)
        .map(|i| serde_json::json!({"filename": format!("{i:04}{}", "f".repeat(1000)), "size": 1}))
        .collect();
    for i in 0..12 {
        let mail = serde_json::json!({
            "message": {"message_id": format!("big-{i}"), "sender": "a@b.example",
                        "recipients": ["c@d.example"], "subject": "big"},
            "attachments": attachments,
        });
        let form = mail_form(&app.creds.sensor_key, &mail.to_string());
        assert_ok(&c.post(MAIL, &pairs(&form)).await);
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let r = c
            .http
            .get(app.url(LIST))
            .query(&[("limit", "1000"), ("cursor", cursor.as_str())])
            .send()
            .await
            .unwrap();
        let text = r.text().await.unwrap();
        assert!(
            text.len() < pushdetect_server::papi::events::MAX_ANSWER_BYTES + 64 * 1024,
            "an answer of {} bytes",
            text.len()
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        pages += 1;
        for e in v["data"]["events"].as_array().unwrap() {
            assert!(
                seen.insert(e["event_id"].as_i64().unwrap()),
                "{}",
                e["event_id"]
            );
        }
        if v["data"]["more_results_available"] == 0 {
            break;
        }
        cursor = v["data"]["next_cursor"].as_str().unwrap().to_owned();
    }
    assert_eq!(seen.len(), 12);
    assert!(pages >= 2, "{pages} pages");
}

#[tokio::test]
async fn login_bodies_are_small_before_anyone_is_known() {
    let app = TestApp::start().await;
    let padding = "x".repeat(pushdetect_model::limits::MAX_LOGIN_BODY_BYTES);
    for path in ["/papi/login.json", "/login"] {
        let r = reqwest::Client::new()
            .post(app.url(path))
            .form(&[("username", "admin"), ("password", padding.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413, "{path}");
    }
}
