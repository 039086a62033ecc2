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
    // The address and the name are one machine, known by its name.
    assert_eq!(list[0]["host"], "ws-09");
    assert_eq!(list[0]["host_kind"], "name");
    assert_eq!(list[1]["event_count"], 2);
    assert_eq!(list[1]["impact"], 85, "the highest confidence, rounded");
    assert_eq!(list[1]["first_event_at"], "2026-01-01T10:00:00.000Z");
    assert_eq!(list[1]["last_event_at"], "2026-01-01T10:20:00.000Z");
    let by_name = c.get_ok(INCIDENTS, &[("host", "WS-09")]).await;
    assert_eq!(by_name["incidents"], by_ip["incidents"]);
    assert_eq!(
        ids(
            &c.get_ok(INCIDENTS, &[("min_impact", "80")]).await,
            "incidents",
            "incident_id"
        ),
        ids(&by_ip, "incidents", "incident_id")[1..],
        "the 10:00-10:20 incident"
    );
    let paged = c.get_ok(INCIDENTS, &[("limit", "1")]).await;
    assert_eq!(paged["more_results_available"], 1);
    let rest = c
        .get_ok(
            INCIDENTS,
            &[
                ("limit", "1"),
                ("cursor", paged["next_cursor"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(ids(&rest, "incidents", "incident_id").len(), 1);
    assert_eq!(rest["more_results_available"], 0);

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

/// A working day of one small network, as real tools report it: an IOC sweep of ten
/// workstations twice in the morning (each by address, host name and NetBIOS name), a
/// proxy's downloads seen by address only, a phishing wave of four mails to eight
/// recipients, and four mailboxes' afternoon mail. docs/incidents.md reports its numbers.
async fn push_a_working_day(c: &Client, key: &str, task: &str) -> usize {
    let mut pushed = 0;
    let at = |hh: u32, mm: u32| format!("2026-03-02 {hh:02}:{mm:02}:00");
    let epoch = |hh: u32, mm: u32| {
        chrono::NaiveDate::from_ymd_opt(2026, 3, 2)
            .unwrap()
            .and_hms_opt(hh, mm, 0)
            .unwrap()
            .and_utc()
            .timestamp()
            .to_string()
    };
    for (sweep, (hh, mm)) in [(9, 0), (9, 40)].into_iter().enumerate() {
        for ws in 1..=10 {
            let form = with(
                &with(
                    &with(
                        &with(
                            &ioc_numbered(key, sweep),
                            "check_time_end",
                            Some(&at(hh, mm)),
                        ),
                        "main_ipv4",
                        Some(&format!("10.0.1.{ws}")),
                    ),
                    "hostname",
                    Some(&format!("ws{ws:02}.corp.example")),
                ),
                "netbios_name",
                Some(&format!("WS{ws:02}")),
            );
            assert_ok(&c.post(IOC, &pairs(&form)).await);
            pushed += 1;
        }
    }
    // Morning browsing on ws01-05 (joins their sweep), afternoon on ws06-10.
    for (machines, hh, start) in [(1..=5, 9, 20), (6..=10, 14, 0)] {
        for ws in machines {
            for k in 0..4 {
                let form = with(
                    &with(
                        &with(&download_form(key), "task_uuid", Some(task)),
                        "src_ip",
                        Some(&format!("10.0.1.{ws}")),
                    ),
                    "download_time",
                    Some(&epoch(hh, start + 10 * k)),
                );
                assert_ok(&c.post(FILE_DOWNLOAD, &pairs(&form)).await);
                pushed += 1;
            }
        }
    }
    let mail = |n: usize, sender: &str, to: &[String], when: &str| {
        let to = serde_json::to_string(to).unwrap();
        format!(
            r#"{{"message": {{"message_id": "day-{n}", "sender": "{sender}", "recipients": {to},
                 "subject": "s", "received_timestamp": "{when}"}}, "action": "LOG"}}"#
        )
    };
    for wave in 0..4u32 {
        let to: Vec<String> = (0..2)
            .map(|k| format!("user{}@corp.example", 2 * wave + k))
            .collect();
        let m = mail(pushed, "invoice@phish.example", &to, &at(11, 5 * wave));
        assert_ok(&c.post(MAIL, &pairs(&mail_form(key, &m))).await);
        pushed += 1;
    }
    for slot in 0..6u32 {
        for box_ in 0..4 {
            let to = [format!("user{box_}@corp.example")];
            let sender = format!("news{box_}@vendor.example");
            let m = mail(pushed, &sender, &to, &at(13 + slot / 2, 30 * (slot % 2)));
            assert_ok(&c.post(MAIL, &pairs(&mail_form(key, &m))).await);
            pushed += 1;
        }
    }
    pushed
}

#[tokio::test]
async fn a_working_day_makes_far_fewer_incidents_than_events() {
    let count = |list: &Value| list["incidents"].as_array().unwrap().len();
    let app = TestApp::start().await;
    app.create_task(TASK).await;
    let c = app.user_client().await;
    let events = push_a_working_day(&c, &app.creds.sensor_key, TASK).await;
    assert_eq!(events, 88);
    let all = c.get_ok(INCIDENTS, &[("limit", "500")]).await;
    // 10 machines in the morning (sweeps and browsing), 5 in the afternoon, 8 recipients
    // of the wave, 4 mailboxes' afternoons.
    assert_eq!(count(&all), 27, "{all}");
    let ws01 = c.get_ok(INCIDENTS, &[("host", "WS01")]).await;
    assert_eq!(count(&ws01), 1, "{ws01}");
    assert_eq!(ws01["incidents"][0]["host"], "ws01.corp.example");
    assert_eq!(ws01["incidents"][0]["grouped_by"], "host");
    assert_eq!(
        ws01["incidents"][0]["event_count"], 6,
        "2 sweeps, 4 downloads"
    );
    let by_address = c.get_ok(INCIDENTS, &[("host", "10.0.1.7")]).await;
    assert_eq!(count(&by_address), 2, "morning and afternoon: {by_address}");

    // The same day in an account that groups mails by sender: the wave is one incident.
    let other = app.other_tenant().await;
    let account = app.store.find_account("other").await.unwrap().unwrap();
    let rules = pushdetect_store::Grouping::parse("rules", "mail_sender").unwrap();
    app.store
        .set_account_grouping(account.id, &rules, &pushdetect_store::Actor::operator())
        .await
        .unwrap();
    let theirs = "dcbadcbadcbadcbadcbadcbadcbadcba";
    app.create_task_for(theirs, other.key_id).await;
    let o = Client::new(&app.base);
    o.login_user(&other.username, &other.password).await;
    assert_eq!(push_a_working_day(&o, &other.sensor_key, theirs).await, 88);
    let all = o.get_ok(INCIDENTS, &[("limit", "500")]).await;
    assert_eq!(count(&all), 20, "{all}");
    let wave: Vec<&Value> = all["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["grouped_by"] == "mail_sender")
        .collect();
    assert_eq!(wave.len(), 5, "the wave and four newsletters");
    assert!(wave
        .iter()
        .any(|i| i["host"] == "invoice@phish.example" && i["event_count"] == 4));
}
