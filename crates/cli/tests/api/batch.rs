//! The batch push (`push_detection/batch/push_events`) and idempotency keys.

use crate::support::*;
use serde_json::{json, Value};
use std::time::Duration;

const BATCH: &str = "/papi/push_detection/batch/push_events.json";

/// Posts a body to the batch push; asserts HTTP 200 and returns the envelope.
async fn post_batch(c: &Client, path: &str, body: String, key: Option<&str>) -> Value {
    let mut request = c
        .http
        .post(format!("{}{path}", c.base()))
        .header("Content-Type", "application/json")
        .body(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let r = request.send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

/// The batch's data, asserting success.
async fn batch_ok(c: &Client, items: &[Value]) -> Value {
    let v = post_batch(c, BATCH, json!(items).to_string(), None).await;
    assert_eq!(v["success"], 1, "{v}");
    v["data"].clone()
}

#[tokio::test]
async fn items_of_every_kind_are_stored_in_order_and_a_bad_item_fails_alone() {
    let app = TestApp::start().await;
    app.create_task(TASK).await;
    let key = &app.creds.sensor_key;
    let c = app.user_client().await;
    let bad = with(&ioc_form(key), "match_confidence", Some("high"));
    let mut mail = batch_item("push_mail", &mail_form(key, SPEC_SAMPLE_MAIL));
    // The mail object may be the object itself rather than its text.
    mail["mail_json_str"] = serde_json::from_str(SPEC_SAMPLE_MAIL).unwrap();
    let items = [
        batch_item("push_file_download", &download_form(key)),
        batch_item("push_result", &bad),
        batch_item("push_detection.ioc.push_result", &ioc_form(key)),
        mail,
        json!({"method": "push_dns", "key": key}),
        json!("push_result"),
    ];
    let data = batch_ok(&c, &items).await;
    // The bad item gets exactly what its single push gets.
    let alone = c.post(IOC, &pairs(&bad)).await;
    assert_eq!(alone["error_code"], 2002, "{alone}");
    assert_eq!(
        data,
        json!({
            "items": 6, "stored": 3, "duplicates": 0, "refused": 3,
            "results": [
                {"index": 0, "result": "OK"},
                {"index": 1, "result": "error", "error_code": 2002, "error": alone["error"]},
                {"index": 2, "result": "OK"},
                {"index": 3, "result": "OK"},
                {"index": 4, "result": "error", "error_code": 2002,
                 "error": "invalid value for parameter 'method': expected one of \
                           push_file_download, push_result, push_mail (got 'push_dns')"},
                {"index": 5, "result": "error", "error_code": 2008,
                 "error": "the item is a string; expected a JSON object with 'method' and the \
                           method's parameters"},
            ]
        })
    );
    let c2 = app.user_client().await;
    let mut events: Vec<Value> = c2.get_ok(LIST, &[("limit", "10")]).await["events"]
        .as_array()
        .unwrap()
        .clone();
    events.sort_by_key(|e| e["event_id"].as_i64().unwrap());
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["file_download", "ioc", "mail"],
        "stored in batch order"
    );
    assert_eq!(
        events[2]["fields"]["message"]["subject"], "Mail subject",
        "the mail object given as an object is read as the document"
    );
}

#[tokio::test]
async fn json_lines_and_numbers_are_read_like_a_form() {
    let app = TestApp::start().await;
    let key = &app.creds.sensor_key;
    let c = app.user_client().await;
    let mut first = batch_item("push_result", &ioc_numbered(key, 1));
    first["match_confidence"] = json!(85);
    first["ioc_matched"] = json!(true);
    let second = batch_item("push_result", &ioc_numbered(key, 2));
    let body = format!("{first}\n\n{second}\r\n{{not json\n");
    let v = post_batch(&c, BATCH, body, None).await;
    assert_eq!(v["data"]["stored"], 2, "{v}");
    assert_eq!(v["data"]["results"][2]["error_code"], 2008, "{v}");
    assert_eq!(
        app.stored_ioc_uuids().await,
        [
            "00000000-0000-4000-8000-000000000001",
            "00000000-0000-4000-8000-000000000002"
        ]
    );
}

#[tokio::test]
async fn resends_are_recognised_within_a_batch_across_batches_and_single_pushes() {
    let app = TestApp::start().await;
    let key = &app.creds.sensor_key;
    let c = app.user_client().await;
    let one = batch_item("push_result", &ioc_numbered(key, 1));
    let two = batch_item("push_result", &ioc_numbered(key, 2));
    let data = batch_ok(&c, &[one.clone(), two.clone(), one.clone()]).await;
    assert_eq!(
        data["results"],
        json!([
            {"index": 0, "result": "OK"},
            {"index": 1, "result": "OK"},
            {"index": 2, "result": "duplicate"},
        ])
    );
    assert_eq!(
        (data["stored"].as_i64(), data["duplicates"].as_i64()),
        (Some(2), Some(1))
    );
    // The same batch again (the client's retry after a lost answer): nothing new.
    let data = batch_ok(&c, &[one.clone(), two]).await;
    assert_eq!(data["duplicates"], 2, "{data}");
    // A single push of the same event is the same event, and the other way round.
    assert_ok(&c.post(IOC, &pairs(&ioc_numbered(key, 1))).await);
    assert_ok(&c.post(IOC, &pairs(&ioc_numbered(key, 3))).await);
    let data = batch_ok(&c, &[batch_item("push_result", &ioc_numbered(key, 3))]).await;
    assert_eq!(data["results"][0]["result"], "duplicate", "{data}");
    assert_eq!(app.stored_ioc_uuids().await.len(), 3);
}

#[tokio::test]
async fn item_and_body_limits_refuse_the_whole_request() {
    let app = TestApp::start_with(pushdetect_server::Config {
        max_batch_items: 3,
        max_batch_bytes: 4096,
        ..Default::default()
    })
    .await;
    let key = &app.creds.sensor_key;
    let c = app.user_client().await;
    let items: Vec<Value> = (1..=4)
        .map(|n| batch_item("push_result", &ioc_numbered(key, n)))
        .collect();
    let v = post_batch(&c, BATCH, json!(items).to_string(), None).await;
    assert_error(
        &v,
        2008,
        "the batch holds 4 items; at most 3 are accepted in one request",
    );
    assert_eq!(
        app.event_count().await,
        0,
        "nothing of a refused batch is stored"
    );
    let data = batch_ok(&c, &items[..3]).await;
    assert_eq!(data["stored"], 3);
    // The body limit of the batch push is its own: larger answers HTTP 413.
    let big = json!([{"method": "push_result", "vendor_name": "x".repeat(5000)}]).to_string();
    let r = c
        .http
        .post(format!("{}{BATCH}", c.base()))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    for (body, needle) in [
        ("", "the batch holds no item"),
        ("[{\"method\":", "the body is not a JSON array"),
    ] {
        let v = post_batch(&c, BATCH, body.to_owned(), None).await;
        assert_error(&v, 2008, needle);
    }
}

#[tokio::test]
async fn the_batch_answer_comes_in_xml_too() {
    let app = TestApp::start().await;
    let key = &app.creds.sensor_key;
    let c = app.user_client().await;
    let items = json!([
        batch_item("push_result", &ioc_form(key)),
        json!({"method": "push_result", "key": key}),
    ]);
    let r = c
        .http
        .post(format!(
            "{}/papi/push_detection/batch/push_events.xml",
            c.base()
        ))
        .body(items.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let xml = r.text().await.unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("not well-formed ({e}): {xml}"),
        }
    }
    for part in [
        "<success>1</success>",
        "<items>2</items>",
        "<stored>1</stored>",
        "<refused>1</refused>",
        "<item><index>0</index><result>OK</result></item>",
        "<item><index>1</index><result>error</result><error_code>2001</error_code>",
    ] {
        assert!(xml.contains(part), "{part} in {xml}");
    }
}

#[tokio::test]
async fn a_batch_is_for_logged_in_callers_and_their_own_sensors_only() {
    let app = TestApp::start().await;
    let c = Client::new(&app.base);
    let items = json!([batch_item("push_result", &ioc_form(&app.creds.sensor_key))]);
    let v = post_batch(&c, BATCH, items.to_string(), None).await;
    assert_error(&v, 3004, "log in first");
    // Another tenant's sensor is refused item by item, as its single push would be.
    let other = app.other_tenant().await;
    let mallory = Client::new(&app.base);
    mallory.login_user(&other.username, &other.password).await;
    let mine = batch_item("push_result", &ioc_form(&other.sensor_key));
    let theirs = batch_item("push_result", &ioc_form(&app.creds.sensor_key));
    let data = batch_ok(&mallory, &[mine, theirs]).await;
    assert_eq!(data["results"][0]["result"], "OK");
    assert_eq!(data["results"][1]["error_code"], 3001, "{data}");
    assert_eq!(
        app.event_count().await,
        0,
        "nothing reached the first tenant"
    );
}

#[tokio::test]
async fn an_idempotency_key_outlives_the_resend_window_per_license() {
    let app = TestApp::start_with(pushdetect_server::Config {
        dedup_window: Duration::from_secs(1),
        ..Default::default()
    })
    .await;
    let key = app.creds.sensor_key.clone();
    let c = app.user_client().await;
    let form = ioc_numbered(&key, 1);
    let push = |form: Vec<(&'static str, String)>, idem: Option<&'static str>| {
        let c = &c;
        async move {
            let mut r = c
                .http
                .post(format!("{}{IOC}", c.base()))
                .form(&pairs(&form));
            if let Some(k) = idem {
                r = r.header("Idempotency-Key", k);
            }
            json(r).await
        }
    };
    assert_ok(&push(form.clone(), Some("spool-1")).await);
    // Past the resend window: the content alone no longer recognises the push...
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_ok(&push(form.clone(), Some("spool-1")).await);
    assert_eq!(app.event_count().await, 1, "the key still does");
    assert_ok(&push(form.clone(), None).await);
    assert_eq!(
        app.event_count().await,
        2,
        "...the same push without a key is new"
    );
    // The key names the push, whatever it holds.
    assert_ok(&push(ioc_numbered(&key, 2), Some("spool-1")).await);
    assert_eq!(app.event_count().await, 2);
    // Another license's same key is another push.
    let (_, second_key, _) = app.second_license().await;
    assert_ok(&push(ioc_numbered(&second_key, 1), Some("spool-1")).await);
    assert_eq!(app.event_count().await, 3);
    // A batch: an item's own key, or the header's key made the item's own.
    let keyed = |n, k: &str| {
        let mut i = batch_item("push_result", &ioc_numbered(&key, n));
        i["idempotency_key"] = json!(k);
        i
    };
    let data = batch_ok(&c, &[keyed(7, "spool-1"), keyed(8, "spool-2")]).await;
    assert_eq!(data["results"][0]["result"], "duplicate", "{data}");
    assert_eq!(data["results"][1]["result"], "OK", "{data}");
    let body = json!([batch_item("push_result", &ioc_numbered(&key, 9))]).to_string();
    let v = post_batch(&c, BATCH, body.clone(), Some("b-1")).await;
    assert_eq!(v["data"]["stored"], 1, "{v}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let v = post_batch(&c, BATCH, body, Some("b-1")).await;
    assert_eq!(v["data"]["duplicates"], 1, "{v}");
    assert_eq!(app.event_count().await, 5);
}

#[tokio::test]
async fn a_malformed_idempotency_key_is_refused_naming_the_header() {
    let app = TestApp::start().await;
    let c = app.user_client().await;
    let form = ioc_form(&app.creds.sensor_key);
    for bad in ["has space", &"k".repeat(129)] {
        let v = json(
            c.http
                .post(format!("{}{IOC}", c.base()))
                .header("Idempotency-Key", bad)
                .form(&pairs(&form)),
        )
        .await;
        assert_error(&v, 2002, "'Idempotency-Key'");
    }
    let mut i = batch_item("push_result", &form);
    i["idempotency_key"] = json!("");
    let data = batch_ok(&c, &[i]).await;
    assert_eq!(data["results"][0]["error_code"], 2002, "{data}");
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn batch_bodies_held_at_once_are_bounded_and_beyond_the_budget_answer_503() {
    let app = TestApp::start_with(pushdetect_server::Config {
        batch_budget_bytes: 2048,
        ..Default::default()
    })
    .await;
    let key = &app.creds.sensor_key;
    let c = app.user_client().await;
    // Larger than what the node may hold for batches at once (though within the size
    // limit): the client is told to come back, and nothing is stored.
    let many: Vec<Value> = (1..=8)
        .map(|n| batch_item("push_result", &ioc_numbered(key, n)))
        .collect();
    let body = json!(many).to_string();
    assert!(body.len() > 2048);
    let r = c
        .http
        .post(format!("{}{BATCH}", c.base()))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.unwrap();
    assert_error(&v, 5001, "retry later");
    assert_eq!(app.event_count().await, 0);
    // The budget was given back: a batch within it goes through, again and again.
    for n in 1..=3 {
        let data = batch_ok(&c, &[batch_item("push_result", &ioc_numbered(key, n))]).await;
        assert_eq!(data["stored"], 1, "{data}");
    }
}
