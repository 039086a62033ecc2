//! The incident workflow over the read API: every transition and its refusal, roles,
//! the reopen rule, unread marks per user, merge and split, comments, and the audit rows
//! each action writes.

use crate::support::*;
use pushdetect_server::config::Config;
use pushdetect_server::provision::add_user;
use pushdetect_store::{Actor, Role};
use serde_json::Value;

const INCIDENTS: &str = "/papi/push_detection/incident/list.json";
const INCIDENT: &str = "/papi/push_detection/incident/get.json";
const UPDATE: &str = "/papi/push_detection/incident/update.json";
const COMMENT: &str = "/papi/push_detection/incident/comment.json";
const MERGE: &str = "/papi/push_detection/incident/merge.json";
const SPLIT: &str = "/papi/push_detection/incident/split.json";
const HISTORY: &str = "/papi/push_detection/incident/history.json";
const AUDIT: &str = "/papi/audit/list.json";

/// A user of the first account with this role, logged in: (client, login name).
async fn user(app: &TestApp, name: &str, role: Role) -> (Client, String) {
    let account = app.account_id().await;
    let new = add_user(app.store.as_ref(), account, name, role, &Actor::operator())
        .await
        .unwrap();
    let c = Client::new(&app.base);
    c.login_user(&new.user.username, &new.password).await;
    (c, new.user.username)
}

/// An IOC result about 10.0.0.9 / ws-09, checked at `at`.
async fn push_at(c: &Client, key: &str, at: &str) {
    let form = with(&ioc_form(key), "check_time_end", Some(at));
    assert_ok(&c.post(IOC, &pairs(&form)).await);
}

fn data(v: &Value) -> &Value {
    assert_eq!(v["success"], 1, "{v}");
    &v["data"]
}

async fn incidents(c: &Client, query: &[(&str, &str)]) -> Vec<Value> {
    c.get_ok(INCIDENTS, query).await["incidents"]
        .as_array()
        .unwrap()
        .clone()
}

async fn address_incident(c: &Client) -> String {
    incidents(c, &[("host", "10.0.0.9")]).await[0]["incident_id"]
        .as_i64()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn incidents_move_through_the_workflow_and_each_refusal_names_its_field() {
    let app = TestApp::start().await;
    let admin = app.user_client().await;
    let key = app.creds.sensor_key.clone();
    push_at(&admin, &key, "2026-01-01 10:00:00").await;
    // Another machine, left alone.
    let ws10 = with(
        &with(&ioc_form(&key), "main_ipv4", Some("10.0.0.10")),
        "hostname",
        Some("WS-10"),
    );
    assert_ok(&admin.post(IOC, &pairs(&ws10)).await);
    let (alice, alice_name) = user(&app, "alice", Role::Analyst).await;
    let (viewer, viewer_name) = user(&app, "vera", Role::Viewer).await;
    let id = address_incident(&alice).await;
    let listed = &incidents(&alice, &[("host", "10.0.0.9")]).await[0];
    assert_eq!(listed["status"], "new");
    assert_eq!(listed["assignee"], Value::Null);

    // Refusals: closing without a resolution, a resolution without closing, an unknown
    // status, a viewer as assignee, a viewer acting, another account's id.
    assert_error(
        &alice
            .post(UPDATE, &[("incident_id", &id), ("status", "closed")])
            .await,
        2001,
        "'resolution'",
    );
    assert_error(
        &alice
            .post(UPDATE, &[("incident_id", &id), ("resolution", "benign")])
            .await,
        2004,
        "'resolution'",
    );
    assert_error(
        &alice
            .post(UPDATE, &[("incident_id", &id), ("status", "done")])
            .await,
        2002,
        "new, acknowledged, closed",
    );
    assert_error(
        &alice
            .post(UPDATE, &[("incident_id", &id), ("assignee", &viewer_name)])
            .await,
        2002,
        "'assignee'",
    );
    assert_error(
        &alice.post(UPDATE, &[("incident_id", &id)]).await,
        2001,
        "status",
    );
    assert_error(
        &viewer
            .post(UPDATE, &[("incident_id", &id), ("status", "acknowledged")])
            .await,
        2010,
        "viewer role",
    );
    assert_error(
        &viewer
            .post(COMMENT, &[("incident_id", &id), ("comment", "hi")])
            .await,
        2010,
        "viewer role",
    );
    let other = app.other_tenant().await;
    let stranger = Client::new(&app.base);
    stranger.login_user(&other.username, &other.password).await;
    assert_error(
        &stranger
            .post(UPDATE, &[("incident_id", &id), ("status", "acknowledged")])
            .await,
        2009,
        "incident_id",
    );
    assert_error(
        &alice
            .post(
                UPDATE,
                &[("incident_id", &id), ("assignee", &other.username)],
            )
            .await,
        2002,
        "'assignee'",
    );

    // new -> acknowledged (assigned to me) -> closed benign with a reason.
    let acked = alice
        .post(
            UPDATE,
            &[
                ("incident_id", &id),
                ("status", "acknowledged"),
                ("assignee", "me"),
            ],
        )
        .await;
    assert_eq!(data(&acked)["status"], "acknowledged");
    assert_eq!(data(&acked)["assignee"], alice_name.as_str());
    let mine = incidents(&alice, &[("assignee", "me")]).await;
    assert_eq!(mine.len(), 1);
    let unassigned = incidents(&alice, &[("assignee", "nobody")]).await;
    assert_eq!(unassigned.len(), 1, "only the other machine's incident");
    assert_eq!(unassigned[0]["host"], "ws-10");
    let closed = alice
        .post(
            UPDATE,
            &[
                ("incident_id", &id),
                ("status", "closed"),
                ("resolution", "benign"),
                ("reason", "the weekly scan\r\nof the lab"),
            ],
        )
        .await;
    let closed = data(&closed);
    assert_eq!(closed["resolution"], "benign");
    assert_eq!(closed["reason"], "the weekly scan\nof the lab");
    assert_eq!(
        incidents(&alice, &[("status", "closed"), ("resolution", "benign")])
            .await
            .len(),
        1
    );
    assert!(
        incidents(&alice, &[("status", "new"), ("host", "10.0.0.9")])
            .await
            .is_empty()
    );

    // A new push about the host reopens it.
    push_at(&admin, &key, "2026-01-01 10:30:00").await;
    let reopened = &incidents(&alice, &[("host", "10.0.0.9")]).await[0];
    assert_eq!(reopened["incident_id"].as_i64().unwrap().to_string(), id);
    assert_eq!(reopened["status"], "new");
    assert_eq!(reopened["resolution"], Value::Null);
    assert_eq!(reopened["assignee"], alice_name.as_str());

    // The history: who did what from where, with the values before and after.
    let history = alice.get_ok(HISTORY, &[("incident_id", &id)]).await;
    let records = history["history"].as_array().unwrap();
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "incident.status",
            "incident.assignee",
            "incident.status",
            "incident.reopened"
        ]
    );
    assert_eq!(records[0]["actor"], alice_name.as_str());
    assert_eq!(records[0]["address"], "127.0.0.1");
    assert_eq!(records[0]["before"]["status"], "new");
    assert_eq!(records[0]["after"]["status"], "acknowledged");
    assert_eq!(records[1]["before"]["assignee"], Value::Null);
    assert_eq!(records[1]["after"]["assignee"], alice_name.as_str());
    assert_eq!(records[2]["after"]["reason"], "the weekly scan\nof the lab");
    assert_eq!(records[3]["actor"], "system");
    assert_eq!(records[3]["before"]["resolution"], "benign");
    // The viewer reads it all.
    assert_eq!(
        viewer.get_ok(HISTORY, &[("incident_id", &id)]).await["history"],
        history["history"]
    );
    assert_error(
        &stranger.get(HISTORY, &[("incident_id", &id)]).await,
        2009,
        "incident_id",
    );
}

#[tokio::test]
async fn a_server_that_keeps_closed_incidents_closed_opens_a_new_one() {
    let app = TestApp::start_with(Config {
        reopen_closed: false,
        ..Config::default()
    })
    .await;
    let c = app.user_client().await;
    let key = app.creds.sensor_key.clone();
    push_at(&c, &key, "2026-01-01 10:00:00").await;
    let id = address_incident(&c).await;
    let closed = c
        .post(
            UPDATE,
            &[
                ("incident_id", &id),
                ("status", "closed"),
                ("resolution", "false_positive"),
            ],
        )
        .await;
    assert_eq!(data(&closed)["status"], "closed");
    push_at(&c, &key, "2026-01-01 10:10:00").await;
    let list = incidents(&c, &[("host", "10.0.0.9")]).await;
    assert_eq!(list.len(), 2);
    assert_eq!(list[1]["incident_id"].as_i64().unwrap().to_string(), id);
    assert_eq!(list[1]["status"], "closed");
    assert_eq!(list[0]["status"], "new");
    assert_eq!(list[0]["event_count"], 1);
}

#[tokio::test]
async fn unread_is_kept_per_user_and_a_new_event_makes_it_unread_again() {
    let app = TestApp::start().await;
    let admin = app.user_client().await;
    let key = app.creds.sensor_key.clone();
    push_at(&admin, &key, "2026-01-01 10:00:00").await;
    let (alice, _) = user(&app, "alice", Role::Analyst).await;
    let (bob, _) = user(&app, "bob", Role::Analyst).await;
    let unread = [("unread", "True"), ("host", "10.0.0.9")];
    let id = address_incident(&alice).await;
    assert_eq!(incidents(&alice, &unread).await.len(), 1);
    assert_eq!(incidents(&bob, &unread).await.len(), 1);
    alice.get_ok(INCIDENT, &[("incident_id", &id)]).await;
    assert!(incidents(&alice, &unread).await.is_empty());
    assert_eq!(
        incidents(&bob, &unread).await.len(),
        1,
        "bob has not opened it"
    );
    push_at(&admin, &key, "2026-01-01 10:05:00").await;
    assert_eq!(incidents(&alice, &unread).await.len(), 1);
    assert_eq!(incidents(&bob, &unread).await.len(), 1);
    // A license has no read marks of its own.
    let license = app.license_client().await;
    assert_error(
        &license.get(INCIDENTS, &[("unread", "True")]).await,
        2002,
        "'unread'",
    );
}

#[tokio::test]
async fn merge_and_split_move_events_and_the_merged_id_points_to_the_survivor() {
    let app = TestApp::start().await;
    let c = app.user_client().await;
    let key = app.creds.sensor_key.clone();
    push_at(&c, &key, "2026-01-01 10:00:00").await;
    push_at(&c, &key, "2026-01-01 10:20:00").await;
    push_at(&c, &key, "2026-01-01 18:00:00").await;
    // A mail to two recipients: one event in two incidents.
    let mail = r#"{"message": {"message_id": "m-1", "sender": "x@evil.test",
        "recipients": ["a@corp.example", "b@corp.example"], "subject": "s",
        "received_timestamp": "2026-01-01 12:00:00"}, "action": "LOG"}"#;
    assert_ok(&c.post(MAIL, &pairs(&mail_form(&key, mail))).await);
    let machine = incidents(&c, &[("host", "10.0.0.9")]).await;
    assert_eq!(machine, incidents(&c, &[("host", "ws-09")]).await);
    assert_eq!(machine.len(), 2);
    let id = |v: &Value| v["incident_id"].as_i64().unwrap().to_string();
    let (early, late) = (id(&machine[1]), id(&machine[0]));
    let names = format!(
        "{},{}",
        id(&incidents(&c, &[("host", "a@corp.example")]).await[0]),
        id(&incidents(&c, &[("host", "b@corp.example")]).await[0])
    );

    // Merge both recipients' incidents and the machine's later one into the early one:
    // four events, each once.
    assert_error(
        &c.post(MERGE, &[("incident_id", &early), ("merge_ids", "x")])
            .await,
        2002,
        "'merge_ids'",
    );
    let merged = c
        .post(
            MERGE,
            &[
                ("incident_id", &early),
                ("merge_ids", &format!("{late},{names}")),
            ],
        )
        .await;
    let survivor = data(&merged);
    assert_eq!(survivor["event_count"], 4);
    assert_eq!(survivor["first_event_at"], "2026-01-01T10:00:00.000Z");
    assert_eq!(survivor["last_event_at"], "2026-01-01T18:00:00.000Z");
    let gone = c.get_ok(INCIDENT, &[("incident_id", &late)]).await;
    assert_eq!(gone["merged_into"].as_i64().unwrap().to_string(), early);
    assert_error(
        &c.post(
            UPDATE,
            &[("incident_id", &late), ("status", "acknowledged")],
        )
        .await,
        2011,
        &format!("merged into incident {early}"),
    );
    assert_eq!(
        incidents(&c, &[]).await.len(),
        1,
        "merged ones are not listed"
    );

    // Across accounts: the other account's incident is unknown here.
    let other = app.other_tenant().await;
    let o = Client::new(&app.base);
    o.login_user(&other.username, &other.password).await;
    push_at(&o, &other.sensor_key, "2026-01-01 10:00:00").await;
    let theirs = address_incident(&o).await;
    assert_error(
        &c.post(MERGE, &[("incident_id", &early), ("merge_ids", &theirs)])
            .await,
        2009,
        &theirs,
    );

    // Split the 18:00 event out into a new incident.
    let events = c.get_ok(INCIDENT, &[("incident_id", &early)]).await["events"]
        .as_array()
        .unwrap()
        .clone();
    let last_event = events[3]["event_id"].as_i64().unwrap().to_string();
    let split = c
        .post(
            SPLIT,
            &[("incident_id", &early), ("event_ids", &last_event)],
        )
        .await;
    let split = data(&split);
    assert_eq!(split["event_count"], 1);
    assert_eq!(split["first_event_at"], "2026-01-01T18:00:00.000Z");
    let rest = c.get_ok(INCIDENT, &[("incident_id", &early)]).await;
    assert_eq!(rest["event_count"], 3);
    assert_eq!(rest["last_event_at"], "2026-01-01T12:00:00.000Z");
    let new_id = split["incident_id"].as_i64().unwrap().to_string();
    assert_error(
        &c.post(
            SPLIT,
            &[("incident_id", &new_id), ("event_ids", &last_event)],
        )
        .await,
        2011,
        "at least one must stay",
    );
    let history = c.get_ok(HISTORY, &[("incident_id", &early)]).await["history"].clone();
    let actions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "incident.merged").count(),
        4,
        "the survivor's and each merged one's: {actions:?}"
    );
    assert_eq!(actions.last(), Some(&"incident.split"));
}

#[tokio::test]
async fn comments_keep_line_breaks_are_edited_by_their_author_and_redacted_by_an_admin() {
    let app = TestApp::start().await;
    let admin = app.user_client().await;
    push_at(&admin, &app.creds.sensor_key, "2026-01-01 10:00:00").await;
    let (alice, alice_name) = user(&app, "alice", Role::Analyst).await;
    let (bob, _) = user(&app, "bob", Role::Analyst).await;
    let id = address_incident(&alice).await;
    let added = alice
        .post(
            COMMENT,
            &[("incident_id", &id), ("comment", "<b>first</b>\nsecond")],
        )
        .await;
    let comment = data(&added).clone();
    assert_eq!(comment["comment"], "<b>first</b>\nsecond");
    assert_eq!(comment["author"], alice_name.as_str());
    let cid = comment["comment_id"].as_i64().unwrap().to_string();
    assert_error(
        &bob.post(COMMENT, &[("comment_id", &cid), ("comment", "mine now")])
            .await,
        2011,
        "only its author",
    );
    assert_error(
        &bob.post(COMMENT, &[("comment_id", &cid), ("redact", "True")])
            .await,
        2011,
        "only its author or an admin",
    );
    let edited = alice
        .post(COMMENT, &[("comment_id", &cid), ("comment", "corrected")])
        .await;
    assert_eq!(data(&edited)["comment"], "corrected");
    assert!(data(&edited)["edited_at"].is_string());
    assert_error(
        &alice.post(COMMENT, &[("comment", "no target")]).await,
        2001,
        "incident_id",
    );
    assert_error(
        &alice
            .post(
                COMMENT,
                &[("incident_id", &id), ("comment", &"x".repeat(10_001))],
            )
            .await,
        2002,
        "at most 10000 characters",
    );
    let redacted = admin
        .post(COMMENT, &[("comment_id", &cid), ("redact", "True")])
        .await;
    assert_eq!(data(&redacted)["redacted"], true);
    assert_eq!(data(&redacted)["comment"], "");
    let history = alice.get_ok(HISTORY, &[("incident_id", &id)]).await;
    assert_eq!(history["comments"].as_array().unwrap().len(), 1);
    let actions: Vec<&str> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "incident.comment",
            "incident.comment_edited",
            "incident.comment_redacted"
        ]
    );
    assert!(!history["history"].to_string().contains("corrected"));
}

#[tokio::test]
async fn the_audit_trail_records_logins_admin_actions_and_is_for_admins_only() {
    let app = TestApp::start().await;
    let admin = app.user_client().await;
    let (alice, alice_name) = user(&app, "alice", Role::Analyst).await;
    // A failed login of a user of the account is the account's to see.
    let v = Client::new(&app.base)
        .post(
            "/papi/login",
            &[("username", &alice_name), ("password", "wrong")],
        )
        .await;
    assert_error(&v, 3004, "login failed");
    assert_error(&alice.get(AUDIT, &[]).await, 2010, "admin users only");
    let license = app.license_client().await;
    assert_error(&license.get(AUDIT, &[]).await, 2010, "admin users only");

    let trail = admin.get_ok(AUDIT, &[("limit", "1000")]).await;
    let records = trail["records"].as_array().unwrap();
    let has = |action: &str, actor: &str| {
        records
            .iter()
            .any(|r| r["action"] == action && r["actor"] == actor)
    };
    assert!(has("account.created", "operator"), "{trail}");
    assert!(has("user.created", "operator"));
    assert!(has("license.created", "operator"));
    assert!(has("login", &alice_name));
    assert!(has("login", &app.creds.access_key));
    assert!(has("login.failed", &alice_name));
    let failed = records
        .iter()
        .find(|r| r["action"] == "login.failed")
        .unwrap();
    assert_eq!(failed["address"], "127.0.0.1");
    assert!(
        !trail.to_string().contains("wrong"),
        "no secret in the trail"
    );
    // Filters and pages.
    let logins = admin
        .get_ok(AUDIT, &[("action", "login"), ("limit", "1")])
        .await;
    assert_eq!(logins["records"].as_array().unwrap().len(), 1);
    assert_eq!(logins["more_results_available"], 1);
    let rest = admin
        .get_ok(
            AUDIT,
            &[
                ("action", "login"),
                ("cursor", logins["next_cursor"].as_str().unwrap()),
            ],
        )
        .await;
    assert!(rest["records"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["action"] == "login"));
    assert_error(
        &admin.get(AUDIT, &[("action", "nap")]).await,
        2002,
        "'action'",
    );
    // Another account's admin sees none of it.
    let other = app.other_tenant().await;
    let o = Client::new(&app.base);
    o.login_user(&other.username, &other.password).await;
    let theirs = o.get_ok(AUDIT, &[("limit", "1000")]).await;
    assert!(!theirs.to_string().contains(&alice_name));
}
