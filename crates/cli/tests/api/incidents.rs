//! Triage over HTTP: each event's action and impact, the filters and order on them, and
//! incidents (events about one host close in time) in the read API.

use crate::analyst::{analyst, submit, wait_result, EICAR};
use crate::support::*;
use serde_json::Value;

const INCIDENTS: &str = "/papi/push_detection/incident/list.json";
const INCIDENT: &str = "/papi/push_detection/incident/get.json";

fn ids(list: &Value, what: &str, id: &str) -> Vec<i64> {
    list[what]
        .as_array()
        .unwrap_or_else(|| panic!("no {what} in {list}"))
        .iter()
        .map(|e| e[id].as_i64().unwrap())
        .collect()
}

/// An IOC result about 10.0.0.9 / ws-09 checked at `at` with this confidence.
fn ioc_at(key: &str, at: &str, confidence: &str) -> Vec<(&'static str, String)> {
    with(
        &with(&ioc_form(key), "check_time_end", Some(at)),
        "match_confidence",
        Some(confidence),
    )
}

fn mail_to(recipient: &str, action: &str, item_action: &str) -> String {
    format!(
        r#"{{"message": {{"message_id": "m-{action}", "sender": "x@evil.test", "recipients": ["{recipient}"],
             "subject": "s", "received_timestamp": "2026-01-01 10:00:00"}},
            "urls": [{{"url": "http://evil.test/", "action": "{item_action}"}}], "action": "{action}"}}"#
    )
}

#[tokio::test]
async fn events_about_one_host_close_in_time_form_incidents_with_the_highest_impact() {
    let app = TestApp::start().await;
    let c = app.user_client().await;
    let key = app.creds.sensor_key.clone();
    // Two checks of the same host 20 minutes apart, one 3 hours later (window: 1 hour).
    for (at, confidence) in [
        ("2026-01-01 10:00:00", "40"),
        ("2026-01-01 10:20:00", "85.4"),
        ("2026-01-01 13:20:00", "60"),
    ] {
        assert_ok(&c.post(IOC, &pairs(&ioc_at(&key, at, confidence))).await);
    }
    let not_matched = with(
        &ioc_at(&key, "2026-01-01 13:30:00", "99"),
        "ioc_matched",
        Some("False"),
    );
    assert_ok(&c.post(IOC, &pairs(&not_matched)).await);

    let by_ip = c.get_ok(INCIDENTS, &[("host", "10.0.0.9")]).await;
    let list = by_ip["incidents"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{by_ip}");
    assert_eq!(list[0]["event_count"], 2);
    assert_eq!(list[0]["impact"], 60, "an unmatched IOC adds 0");
    assert_eq!(list[0]["host_kind"], "address");
    assert_eq!(list[1]["event_count"], 2);
    assert_eq!(list[1]["impact"], 85, "the highest confidence, rounded");
    assert_eq!(list[1]["first_event_at"], "2026-01-01T10:00:00.000Z");
    assert_eq!(list[1]["last_event_at"], "2026-01-01T10:20:00.000Z");
    // The host name forms incidents of its own, of kind "name".
    let by_name = c.get_ok(INCIDENTS, &[("host", "WS-09")]).await;
    assert_eq!(by_name["incidents"].as_array().unwrap().len(), 2);
    assert_eq!(by_name["incidents"][0]["host_kind"], "name");
    assert_eq!(
        c.get_ok(INCIDENTS, &[("min_impact", "80")]).await["incidents"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "the 10:00-10:20 incident of the address and of the name"
    );
    let paged = c.get_ok(INCIDENTS, &[("limit", "3")]).await;
    assert_eq!(paged["more_results_available"], 1);
    let rest = c
        .get_ok(
            INCIDENTS,
            &[
                ("limit", "3"),
                ("cursor", paged["next_cursor"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(ids(&rest, "incidents", "incident_id").len(), 1);

    // get: the incident with its events, oldest first.
    let first = list[1]["incident_id"].as_i64().unwrap().to_string();
    let got = c.get_ok(INCIDENT, &[("incident_id", &first)]).await;
    assert_eq!(ids(&got, "events", "event_id"), vec![1, 2]);
    assert_eq!(got["events"][1]["impact"], 85);
    assert_eq!(
        ids(
            &c.get_ok(LIST, &[("incident_id", &first)]).await,
            "events",
            "event_id"
        ),
        vec![2, 1]
    );

    // Another account's incidents do not exist for this one.
    let other = app.other_tenant().await;
    let o = Client::new(&app.base);
    o.login_user(&other.username, &other.password).await;
    assert_error(
        &o.get(INCIDENT, &[("incident_id", &first)]).await,
        2009,
        "incident_id",
    );
    assert!(o.get_ok(INCIDENTS, &[]).await["incidents"]
        .as_array()
        .unwrap()
        .is_empty());
    // Bad input names the field.
    assert_error(
        &c.get(INCIDENTS, &[("min_impact", "101")]).await,
        2002,
        "min_impact",
    );
    assert_error(&c.get(INCIDENTS, &[("hots", "x")]).await, 2003, "host");
    assert_error(&c.get(INCIDENT, &[]).await, 2001, "incident_id");
}

#[tokio::test]
async fn mail_actions_and_impacts_filter_and_order_the_event_list() {
    let app = TestApp::start().await;
    let c = app.user_client().await;
    let key = app.creds.sensor_key.clone();
    for (action, item) in [("LOG", "LOG"), ("BLOCK", "LOG"), ("LOG", "WARN")] {
        let mail = mail_to("Jane@Corp.com", action, item);
        assert_ok(&c.post(MAIL, &pairs(&mail_form(&key, &mail))).await);
    }
    assert_ok(
        &c.post(IOC, &pairs(&ioc_at(&key, "2025-01-01 00:00:00", "70")))
            .await,
    );

    let got = c.get_ok(GET, &[("event_id", "2")]).await;
    assert_eq!(
        (got["action"].as_str(), got["impact"].as_i64()),
        (Some("BLOCK"), Some(80))
    );
    let warned = c.get_ok(GET, &[("event_id", "3")]).await;
    assert_eq!(
        (warned["action"].as_str(), warned["impact"].as_i64()),
        (Some("WARN"), Some(50))
    );
    let ioc = c.get_ok(GET, &[("event_id", "4")]).await;
    assert_eq!(
        (ioc["action"].clone(), ioc["impact"].as_i64()),
        (Value::Null, Some(70))
    );

    let list = |q: Vec<(&'static str, &'static str)>| {
        let c = &c;
        async move { ids(&c.get_ok(LIST, &q).await, "events", "event_id") }
    };
    assert_eq!(list(vec![("action", "block")]).await, vec![2]);
    assert_eq!(list(vec![("action", "WARN")]).await, vec![3]);
    assert_eq!(list(vec![("min_impact", "50")]).await, vec![3, 2, 4]);
    assert_eq!(
        list(vec![("min_impact", "1"), ("max_impact", "69")]).await,
        vec![3]
    );
    assert_eq!(list(vec![("order", "impact")]).await, vec![2, 4, 3, 1]);
    assert_eq!(list(vec![("order", "oldest")]).await, vec![4, 1, 2, 3]);
    assert_eq!(list(vec![("q", "EVIL.test")]).await, vec![3, 2, 1]);
    // Impact order pages with its own cursor.
    let page = c.get_ok(LIST, &[("order", "impact"), ("limit", "2")]).await;
    assert_eq!(ids(&page, "events", "event_id"), vec![2, 4]);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let next = c
        .get_ok(
            LIST,
            &[("order", "impact"), ("limit", "2"), ("cursor", &cursor)],
        )
        .await;
    assert_eq!(ids(&next, "events", "event_id"), vec![3, 1]);
    assert_error(
        &c.get(LIST, &[("order", "newest"), ("cursor", &cursor)])
            .await,
        2002,
        "cursor",
    );
    assert_error(&c.get(LIST, &[("action", "DROP")]).await, 2002, "action");
    assert_error(&c.get(LIST, &[("order", "score")]).await, 2002, "order");

    // The recipient is a host of its own kind, in lower case.
    let mailbox = c.get_ok(INCIDENTS, &[("host", "jane@corp.com")]).await;
    assert_eq!(mailbox["incidents"][0]["host_kind"], "mailbox");
    assert_eq!(mailbox["incidents"][0]["event_count"], 3);
    assert_eq!(mailbox["incidents"][0]["impact"], 80);
}

#[tokio::test]
async fn a_score_arriving_after_the_push_raises_the_event_and_its_incident() {
    let app = TestApp::start_without_workers().await;
    let a = analyst(&app).await;
    let (_, v) = submit(&app, &a, EICAR, "eicar.com").await;
    let task = v["data"]["task_uuid"].as_str().unwrap().to_owned();
    let c = app.user_client().await;
    let download = with(
        &download_form(&app.creds.sensor_key),
        "task_uuid",
        Some(&task),
    );
    assert_ok(&c.post(FILE_DOWNLOAD, &pairs(&download)).await);
    let before = c.get_ok(GET, &[("event_id", "1")]).await;
    assert_eq!(before["impact"], Value::Null, "not analysed yet: {before}");
    assert!(c.get_ok(LIST, &[("min_impact", "0")]).await["events"]
        .as_array()
        .unwrap()
        .is_empty());

    // Workers start: the task is scored, and the event and incident take its score.
    let app = app.restart(1).await;
    let a = analyst(&app).await;
    wait_result(&app, &a, &task).await;
    let c = app.user_client().await;
    assert_eq!(c.get_ok(GET, &[("event_id", "1")]).await["impact"], 100);
    let incidents = c.get_ok(INCIDENTS, &[("host", "10.0.0.5")]).await;
    assert_eq!(incidents["incidents"][0]["impact"], 100, "{incidents}");
}
