//! The store conformance suite: every test runs against SQLite (a real database file) and
//! PostgreSQL (a database of its own on the server named by `PUSHDETECT_TEST_POSTGRES`,
//! default `postgres://postgres@127.0.0.1:5432/postgres`, created and dropped by the test).
//! A PostgreSQL server that cannot be reached fails the PostgreSQL half; it is not skipped.

#[path = "conformance/backends.rs"]
mod backends;
#[path = "conformance/forwarding.rs"]
mod forwarding;
#[path = "conformance/grouping.rs"]
mod grouping;
#[path = "conformance/workflow.rs"]
mod workflow;

use backends::{Backend, TestDb};
use forwarding::*;
use grouping::*;
use pushdetect_store::copy;
use pushdetect_store::group_commit::GroupCommit;
use pushdetect_store::{Actor, Role};
use pushdetect_store::{
    Completion, Dedup, EventCursor, EventFilter, EventOrder, IncidentFilter, Inserted, NewEvent,
    Principal, Store, StoreError, Subject, Task, TaskKind, TaskState, Triage, LOOKUP_TTL,
};
use serde_json::json;
use std::sync::Arc;
use workflow::*;

/// The operator, who makes the accounts and users these tests need.
fn op() -> Actor {
    Actor::operator()
}

fn event(account_id: i64, license_id: i64, sensor_id: i64, at: i64) -> NewEvent {
    NewEvent {
        account_id,
        sensor_id,
        license_id,
        pushed_by: Principal::License(license_id),
        kind: "ioc".into(),
        received_at_ms: at,
        occurred_at_ms: at,
        vendor_name: "v".into(),
        tool_name: "t".into(),
        hosts: vec!["h".into()],
        fields: json!({}),
        raw_params: json!({}),
        triage: Triage::default(),
        incident_window_ms: 0,
        reopen_closed: true,
    }
}

/// An account with a license and a sensor: (account, license, sensor) ids.
async fn tenant(store: &dyn Store, name: &str) -> (i64, i64, i64) {
    let account = store.create_account(name, &op(), 0).await.unwrap();
    let license = store
        .create_license(account.id, "l", &format!("AK{name}"), "hash", &op(), 0)
        .await
        .unwrap();
    let sensor = store
        .create_sensor(license.id, "SK", "s", &op(), 0)
        .await
        .unwrap();
    (account.id, license.id, sensor.id)
}

/// An event about `hosts` at `at` with a base impact, grouped with a 100 s window.
fn about(t: (i64, i64, i64), hosts: &[&str], at: i64, impact: Option<i64>) -> NewEvent {
    let mut e = event(t.0, t.1, t.2, at);
    e.hosts = hosts.iter().map(|h| h.to_string()).collect();
    e.triage.base_impact = impact;
    e.incident_window_ms = 100_000;
    e
}

async fn insert(store: &dyn Store, e: &NewEvent) -> i64 {
    match store.insert_event(e, None).await.unwrap() {
        Inserted::New(id) => id,
        other => panic!("not stored: {other:?}"),
    }
}

async fn incidents_of(
    store: &dyn Store,
    account: i64,
    host: &str,
) -> Vec<(i64, i64, i64, Option<i64>)> {
    store
        .list_incidents(
            account,
            &IncidentFilter {
                host: Some(host.into()),
                limit: 100,
                ..IncidentFilter::default()
            },
        )
        .await
        .unwrap()
        .iter()
        .map(|i| (i.first_ms, i.last_ms, i.events, i.impact))
        .collect()
}

async fn events_about_one_host_form_incidents_that_merge_when_an_event_bridges_them(
    backend: Backend,
) {
    let db = TestDb::new(backend).await;
    let store = db.store();
    let t = tenant(store, "a").await;
    insert(store, &about(t, &["10.0.0.1", "ws-1"], 0, Some(10))).await;
    insert(store, &about(t, &["10.0.0.1"], 50_000, None)).await;
    insert(store, &about(t, &["10.0.0.1"], 250_000, Some(30))).await;
    // Newest activity first; the gap of 200 s > 100 s splits them.
    assert_eq!(
        incidents_of(store, t.0, "10.0.0.1").await,
        vec![(250_000, 250_000, 1, Some(30)), (0, 50_000, 2, Some(10))]
    );
    assert_eq!(
        incidents_of(store, t.0, "ws-1").await,
        vec![(0, 0, 1, Some(10))]
    );
    // An event arriving late, within the window of both (100 s each way), joins them.
    insert(store, &about(t, &["10.0.0.1"], 150_000, Some(5))).await;
    let merged = incidents_of(store, t.0, "10.0.0.1").await;
    assert_eq!(merged, vec![(0, 250_000, 4, Some(30))]);
    let id = store
        .list_incidents(
            t.0,
            &IncidentFilter {
                limit: 10,
                host: Some("10.0.0.1".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()[0]
        .id;
    let events = store
        .list_events(
            t.0,
            &EventFilter {
                incident_id: Some(id),
                order: EventOrder::Oldest,
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        events.iter().map(|e| e.occurred_at_ms).collect::<Vec<_>>(),
        vec![0, 50_000, 150_000, 250_000]
    );
    // Another account sees none of it, even by id.
    let other = tenant(store, "b").await;
    assert!(store.get_incident(other.0, id).await.unwrap().is_none());
    assert!(incidents_of(store, other.0, "10.0.0.1").await.is_empty());
}

fn queued_task(uuid: &str, account: i64, license: i64) -> Task {
    let mut task = Task::external(uuid, account, license, 0);
    task.kind = TaskKind::File;
    task.state = TaskState::Queued;
    task.completed_at_ms = None;
    task
}

async fn a_task_score_raises_the_impact_of_its_events_and_their_incidents(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store();
    let t = tenant(store, "a").await;
    let other = tenant(store, "b").await;
    let uuid = "0123456789abcdef0123456789abcdef";
    store
        .create_task(&queued_task(uuid, t.0, t.1))
        .await
        .unwrap();
    let mut e = about(t, &["10.0.0.1"], 0, None);
    e.triage.task_uuids = vec![uuid.into()];
    let id = insert(store, &e).await;
    let mut mail = about(t, &["10.0.0.1"], 1_000, Some(50));
    mail.triage.task_uuids = vec![uuid.into()];
    let mail_id = insert(store, &mail).await;
    // Another account naming the same uuid does not get this account's score.
    let mut foreign = about(other, &["10.0.0.1"], 0, None);
    foreign.triage.task_uuids = vec![uuid.into()];
    let foreign_id = insert(store, &foreign).await;
    assert_eq!(
        store.get_event(t.0, id).await.unwrap().unwrap().impact,
        None
    );
    assert_eq!(incidents_of(store, t.0, "10.0.0.1").await[0].3, Some(50));
    // The event comes back with the tasks it names, and one naming none with none.
    let stored = store.get_event(t.0, id).await.unwrap().unwrap();
    assert_eq!(stored.task_uuids, [uuid]);
    let none = insert(store, &about(t, &["10.0.0.2"], 0, None)).await;
    let every = EventFilter {
        limit: 100,
        ..Default::default()
    };
    let listed = store.list_events(t.0, &every).await.unwrap();
    let none = listed.iter().find(|e| e.id == none).unwrap();
    assert!(none.task_uuids.is_empty());

    store.complete_task(uuid, 90, &json!({})).await.unwrap();
    assert_eq!(
        store.get_event(t.0, id).await.unwrap().unwrap().impact,
        Some(90)
    );
    assert_eq!(
        store.get_event(t.0, mail_id).await.unwrap().unwrap().impact,
        Some(90)
    );
    assert_eq!(incidents_of(store, t.0, "10.0.0.1").await[0].3, Some(90));
    assert_eq!(
        store
            .get_event(other.0, foreign_id)
            .await
            .unwrap()
            .unwrap()
            .impact,
        None
    );
    assert_eq!(incidents_of(store, other.0, "10.0.0.1").await[0].3, None);

    // An event pushed after the score is known takes it at once.
    let late = insert(store, &e).await;
    assert_eq!(
        store.get_event(t.0, late).await.unwrap().unwrap().impact,
        Some(90)
    );
}

async fn events_filter_by_action_and_impact_and_page_in_impact_order(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store();
    let t = tenant(store, "a").await;
    for (at, impact, action) in [
        (1, Some(10), Some("LOG")),
        (2, Some(80), Some("BLOCK")),
        (3, None, None),
        (4, Some(80), None),
        (5, Some(50), Some("WARN")),
    ] {
        let mut e = about(t, &["h"], at, impact);
        e.triage.action = action.map(str::to_owned);
        insert(store, &e).await;
    }
    let ids = |list: Vec<pushdetect_store::StoredEvent>| {
        list.iter().map(|e| e.occurred_at_ms).collect::<Vec<_>>()
    };
    let f = |f: EventFilter| EventFilter { limit: 100, ..f };
    assert_eq!(
        ids(store
            .list_events(
                t.0,
                &f(EventFilter {
                    action: Some("BLOCK".into()),
                    ..Default::default()
                })
            )
            .await
            .unwrap()),
        vec![2]
    );
    assert_eq!(
        ids(store
            .list_events(
                t.0,
                &f(EventFilter {
                    min_impact: Some(50),
                    ..Default::default()
                })
            )
            .await
            .unwrap()),
        vec![5, 4, 2]
    );
    assert_eq!(
        ids(store
            .list_events(
                t.0,
                &f(EventFilter {
                    min_impact: Some(11),
                    max_impact: Some(79),
                    ..Default::default()
                })
            )
            .await
            .unwrap()),
        vec![5]
    );
    assert_eq!(
        ids(store
            .list_events(
                t.0,
                &f(EventFilter {
                    order: EventOrder::Oldest,
                    ..Default::default()
                })
            )
            .await
            .unwrap()),
        vec![1, 2, 3, 4, 5]
    );
    // Highest impact first, unknown last, newest first among equals; one and two per page
    // (one per page continues after the event of unknown impact).
    for per_page in [1, 2] {
        let mut seen = Vec::new();
        let mut cursor = None;
        for _ in 0..10 {
            let page = store
                .list_events(
                    t.0,
                    &EventFilter {
                        order: EventOrder::Impact,
                        cursor,
                        limit: per_page,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            if page.is_empty() {
                break;
            }
            cursor = page.last().map(EventCursor::after);
            seen.extend(ids(page));
        }
        assert_eq!(seen, vec![4, 2, 5, 1, 3], "{per_page} per page");
    }
}

async fn events_stored_before_triage_are_indexed_from_the_backlog(backend: Backend) {
    let mut db = TestDb::new(backend).await;
    let store = db.store();
    let t = tenant(store, "a").await;
    insert(store, &about(t, &["10.0.0.1"], 0, None)).await;
    insert(store, &about(t, &["10.0.0.1"], 10_000, None)).await;
    // As an older version left them: no action, impact or incident.
    db.reopen_after(&[
        "DELETE FROM incident_events",
        "DELETE FROM incidents",
        "UPDATE events SET incidents_indexed = 0, impact = NULL, action = NULL",
    ])
    .await;
    let store = db.store();
    assert!(incidents_of(store, t.0, "10.0.0.1").await.is_empty());
    let triage = |kind: &str, _raw: &serde_json::Value, _at: i64| Triage {
        action: Some(format!("{kind}-action")),
        base_impact: Some(40),
        task_uuids: Vec::new(),
        ..Triage::default()
    };
    assert_eq!(store.index_backlog(100_000, 1, &triage).await.unwrap(), 1);
    assert_eq!(store.index_backlog(100_000, 10, &triage).await.unwrap(), 1);
    assert_eq!(store.index_backlog(100_000, 10, &triage).await.unwrap(), 0);
    assert_eq!(
        incidents_of(store, t.0, "10.0.0.1").await,
        vec![(0, 10_000, 2, Some(40))]
    );
    let e = store.get_event(t.0, 1).await.unwrap().unwrap();
    assert_eq!(
        (e.action.as_deref(), e.impact),
        (Some("ioc-action"), Some(40))
    );
}

async fn purge_removes_idle_sessions_and_old_fingerprints_only(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store();
    let account = store.create_account("a", &op(), 0).await.unwrap();
    let license = store
        .create_license(account.id, "l", "AK", "hash", &op(), 0)
        .await
        .unwrap();
    let sensor = store
        .create_sensor(license.id, "SK", "s", &op(), 0)
        .await
        .unwrap();
    store
        .create_session("old", account.id, Principal::License(license.id), 1_000)
        .await
        .unwrap();
    store
        .create_session("new", account.id, Principal::License(license.id), 9_000)
        .await
        .unwrap();
    let e = event(account.id, license.id, sensor.id, 1_000);
    let dedup = Dedup {
        fingerprint: "fp".into(),
        since_ms: 0,
        keep_until_ms: 4_999,
    };
    assert!(matches!(
        store.insert_event(&e, Some(&dedup)).await.unwrap(),
        Inserted::New(1)
    ));
    assert_eq!(
        store.insert_event(&e, Some(&dedup)).await.unwrap(),
        Inserted::Duplicate(1)
    );
    // An idempotency key's fingerprint, received at the same time, is kept for longer.
    let keyed = Dedup {
        fingerprint: "key".into(),
        since_ms: 0,
        keep_until_ms: 5_000,
    };
    assert_eq!(
        store.insert_event(&e, Some(&keyed)).await.unwrap(),
        Inserted::New(2)
    );

    let removed = store.purge(5_000, 5_000).await.unwrap();
    assert_eq!(removed, 2, "one session and one fingerprint");
    assert_eq!(
        store.insert_event(&e, Some(&keyed)).await.unwrap(),
        Inserted::Duplicate(2),
        "kept until its own expiry, not the purge's window"
    );
    assert!(store.find_session("old", 0).await.unwrap().is_none());
    assert!(store.find_session("new", 0).await.unwrap().is_some());
    // With its fingerprint gone, the same push is a new event; the event itself stays.
    assert_eq!(
        store.insert_event(&e, Some(&dedup)).await.unwrap(),
        Inserted::New(3)
    );
    assert!(store.get_event(account.id, 1).await.unwrap().is_some());
}

async fn a_fingerprint_older_than_the_window_does_not_match(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store();
    let account = store.create_account("a", &op(), 0).await.unwrap();
    let license = store
        .create_license(account.id, "l", "AK", "hash", &op(), 0)
        .await
        .unwrap();
    let sensor = store
        .create_sensor(license.id, "SK", "s", &op(), 0)
        .await
        .unwrap();
    let first = event(account.id, license.id, sensor.id, 1_000);
    let dedup = |since_ms| Dedup {
        fingerprint: "fp".into(),
        since_ms,
        keep_until_ms: i64::MAX,
    };
    assert_eq!(
        store.insert_event(&first, Some(&dedup(0))).await.unwrap(),
        Inserted::New(1)
    );
    let later = event(account.id, license.id, sensor.id, 20_000);
    assert_eq!(
        store
            .insert_event(&later, Some(&dedup(10_000)))
            .await
            .unwrap(),
        Inserted::New(2)
    );
    // The fingerprint now points at the newer event.
    assert_eq!(
        store
            .insert_event(&later, Some(&dedup(10_000)))
            .await
            .unwrap(),
        Inserted::Duplicate(2)
    );
}

async fn unique_names_conflict_and_disabling_cascades(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store();
    let account = store.create_account("a", &op(), 0).await.unwrap();
    assert!(matches!(
        store.create_account("a", &op(), 0).await,
        Err(pushdetect_store::StoreError::Conflict(_))
    ));
    // Only a taken name is a conflict: a user of no account is a database error.
    let orphan = store
        .create_user(account.id + 100, "v", "hash", Role::Analyst, &op(), 0)
        .await;
    assert!(
        matches!(orphan, Err(pushdetect_store::StoreError::Database(_))),
        "{orphan:?}"
    );
    let user = store
        .create_user(account.id, "u", "hash", Role::Analyst, &op(), 0)
        .await
        .unwrap();
    let license = store
        .create_license(account.id, "l", "AK", "hash", &op(), 0)
        .await
        .unwrap();
    let sensor = store
        .create_sensor(license.id, "SK", "s", &op(), 0)
        .await
        .unwrap();
    store
        .create_session("s1", account.id, Principal::User(user.id), 0)
        .await
        .unwrap();
    store
        .set_account_disabled(account.id, true, &op())
        .await
        .unwrap();
    assert!(store.find_user("u").await.unwrap().unwrap().disabled);
    assert!(
        store
            .find_license(license.id)
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    assert!(
        store
            .find_sensor(sensor.id)
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    assert!(store.find_session("s1", 0).await.unwrap().is_none());
    assert!(matches!(
        store.set_sensor_disabled(999, true, &op()).await,
        Err(pushdetect_store::StoreError::NotFound(_))
    ));
}

/// A new password replaces the hash, ends every session of that user and no other, and
/// the trail says who changed it and how, never what to.
async fn a_password_change_ends_the_users_sessions_and_is_audited(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store();
    let account = store.create_account("a", &op(), 0).await.unwrap();
    let user = store
        .create_user(account.id, "u", "old-hash", Role::Analyst, &op(), 0)
        .await
        .unwrap();
    let other = store
        .create_user(account.id, "v", "hash", Role::Analyst, &op(), 0)
        .await
        .unwrap();
    for (id, who) in [("s1", user.id), ("s2", user.id), ("s3", other.id)] {
        store
            .create_session(id, account.id, Principal::User(who), 0)
            .await
            .unwrap();
    }
    store
        .set_user_password(user.id, "new-hash", false, &op())
        .await
        .unwrap();
    assert_eq!(
        store.find_user("u").await.unwrap().unwrap().password_hash,
        "new-hash"
    );
    assert!(store.find_session("s1", 0).await.unwrap().is_none());
    assert!(store.find_session("s2", 0).await.unwrap().is_none());
    assert!(store.find_session("s3", 0).await.unwrap().is_some());
    store
        .set_user_password(other.id, "reset-hash", true, &op())
        .await
        .unwrap();
    assert!(store.find_session("s3", 0).await.unwrap().is_none());
    let trail = store
        .list_audit(&pushdetect_store::AuditFilter {
            account_id: Some(account.id),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<_> = trail
        .iter()
        .take(2)
        .map(|r| (r.action, r.target.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            (pushdetect_store::AuditAction::UserPasswordReset, "user v"),
            (pushdetect_store::AuditAction::UserPasswordChanged, "user u"),
        ]
    );
    assert!(trail.iter().all(|r| !format!("{r:?}").contains("hash")));
    assert!(matches!(
        store.set_user_password(999, "h", true, &op()).await,
        Err(pushdetect_store::StoreError::NotFound(_))
    ));
}

/// A token is found by its hash while it works: not after it expires, its user or account
/// is disabled, or it is revoked; names are unique per user; both changes are audited.
async fn api_tokens_work_until_they_expire_are_revoked_or_their_user_is_disabled(backend: Backend) {
    use pushdetect_model::account_api::TokenScope;
    use pushdetect_store::NewApiToken;
    let db = TestDb::new(backend).await;
    let store = db.store();
    let account = store.create_account("a", &op(), 0).await.unwrap();
    let other = store.create_account("b", &op(), 0).await.unwrap();
    let user = store
        .create_user(account.id, "u", "hash", Role::Analyst, &op(), 0)
        .await
        .unwrap();
    let new = |name: &'static str, hash: &'static str, expires: Option<i64>| NewApiToken {
        user_id: user.id,
        account_id: account.id,
        name,
        token_hash: hash,
        scope: TokenScope::Read,
        expires_at_ms: expires,
        now_ms: 1_000,
    };
    let forever = store
        .create_api_token(&new("siem", "h1", None), &op())
        .await
        .unwrap();
    assert_eq!(
        (
            forever.username.as_str(),
            forever.scope,
            forever.last_used_ms
        ),
        ("u", TokenScope::Read, None)
    );
    let brief = store
        .create_api_token(
            &NewApiToken {
                scope: TokenScope::Write,
                ..new("brief", "h2", Some(5_000))
            },
            &op(),
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_api_token(&new("siem", "h3", None), &op())
            .await,
        Err(StoreError::Conflict(_))
    ));
    // A user of another account is not found through this one.
    assert!(matches!(
        store
            .create_api_token(
                &NewApiToken {
                    account_id: other.id,
                    ..new("x", "h4", None)
                },
                &op()
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
    let listed = store.list_api_tokens(Some(account.id), None).await.unwrap();
    assert_eq!(
        listed.iter().map(|t| t.id).collect::<Vec<_>>(),
        [forever.id, brief.id]
    );
    assert!(store
        .list_api_tokens(Some(other.id), None)
        .await
        .unwrap()
        .is_empty());

    let found = |hash: &'static str, at: i64| async move {
        store.find_api_token(hash, at).await.unwrap().map(|t| t.id)
    };
    assert_eq!(found("h1", 9_000).await, Some(forever.id));
    assert_eq!(found("h2", 4_999).await, Some(brief.id));
    assert_eq!(found("h2", 5_000).await, None, "expired");
    assert_eq!(found("nope", 0).await, None);
    store.touch_api_token(forever.id, 7_000).await.unwrap();
    assert_eq!(
        store.list_api_tokens(None, Some(user.id)).await.unwrap()[0].last_used_ms,
        Some(7_000)
    );
    store.set_user_disabled(user.id, true, &op()).await.unwrap();
    assert_eq!(found("h1", 9_000).await, None, "user disabled");
    store
        .set_user_disabled(user.id, false, &op())
        .await
        .unwrap();
    assert_eq!(found("h1", 9_000).await, Some(forever.id));
    store.revoke_api_token(forever.id, &op()).await.unwrap();
    assert_eq!(found("h1", 9_000).await, None, "revoked");
    assert!(matches!(
        store.revoke_api_token(forever.id, &op()).await,
        Err(StoreError::NotFound(_))
    ));
    let trail = store
        .list_audit(&pushdetect_store::AuditFilter {
            account_id: Some(account.id),
            limit: 20,
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<_> = trail.iter().map(|r| r.action).collect();
    assert!(actions.contains(&pushdetect_store::AuditAction::TokenCreated));
    assert_eq!(actions[0], pushdetect_store::AuditAction::TokenRevoked);
    assert!(!format!("{trail:?}").contains("h1"), "no hash in the trail");
}

/// A purge removes the account's events received before the cutoff, in batches, with
/// what refers to them; an incident left empty goes (its audit history stays), one that
/// keeps events is recounted; old analyses no kept event names go with their content;
/// another account and newer events are untouched.
async fn retention_purges_old_events_their_empty_incidents_and_unreferenced_analyses(
    backend: Backend,
) {
    use pushdetect_store::{AuditAction, NewAudit};
    let db = TestDb::new(backend).await;
    let store = db.store();
    let t = tenant(store, "a").await;
    let other = tenant(store, "b").await;
    let old1 = insert(store, &about(t, &["10.0.0.1"], 1_000, Some(10))).await;
    let old2 = insert(store, &about(t, &["10.0.0.1"], 1_500, Some(10))).await;
    let spanning_old = insert(store, &about(t, &["10.0.0.3"], 4_000, Some(10))).await;
    let spanning_new = insert(store, &about(t, &["10.0.0.3"], 6_000, Some(10))).await;
    let mut referring = about(t, &["10.0.0.4"], 7_000, Some(10));
    referring.triage.task_uuids = vec!["kept".into()];
    let referring = insert(store, &referring).await;
    let elsewhere = insert(store, &about(other, &["10.0.0.1"], 1_000, Some(10))).await;
    let incident_about = |host: &'static str| async move {
        store
            .list_incidents(
                t.0,
                &IncidentFilter {
                    host: Some(host.into()),
                    limit: 10,
                    ..IncidentFilter::default()
                },
            )
            .await
            .unwrap()
    };
    let doomed = incident_about("10.0.0.1").await[0].id;
    assert!(store.get_event(t.0, old1).await.unwrap().is_some());
    store
        .record_audit(
            &op(),
            &NewAudit::incident(t.0, AuditAction::IncidentStatus, doomed),
            2_000,
        )
        .await
        .unwrap();
    // Two finished tasks from before the cutoff: one a kept event names, one nothing does,
    // each on content of its own.
    for (uuid, sha) in [("kept", "aa"), ("loose", "bb")] {
        let mut task = queued(uuid, t.0, t.1, 1_000, sha);
        task.state = pushdetect_store::TaskState::Completed;
        task.completed_at_ms = Some(1_100);
        store.create_tasks(&[&task]).await.unwrap();
        store
            .record_content(
                &pushdetect_store::Content {
                    sha256: sha.into(),
                    md5: sha.into(),
                    sha1: sha.into(),
                    size: 1,
                },
                1_000,
            )
            .await
            .unwrap();
    }

    store
        .set_account_retention(t.0, Some(30), &op())
        .await
        .unwrap();
    assert_eq!(
        store
            .find_account("a")
            .await
            .unwrap()
            .unwrap()
            .retention_days,
        Some(30)
    );
    // Batches of two: the first takes the two oldest events.
    let first = store.purge_account(t.0, 5_000, 2).await.unwrap();
    assert_eq!((first.events, first.incidents), (2, 1), "{first:?}");
    assert!(store.get_event(t.0, old2).await.unwrap().is_none());
    assert!(store.get_incident(t.0, doomed).await.unwrap().is_none());
    let second = store.purge_account(t.0, 5_000, 2).await.unwrap();
    assert_eq!((second.events, second.incidents), (1, 0), "{second:?}");
    assert_eq!(second.tasks, 0, "the first batch took the one task to go");
    assert_eq!(first.tasks, 1);
    assert_eq!(first.contents, ["bb"]);
    assert!(store.find_task("loose").await.unwrap().is_none());
    assert!(store.find_task("kept").await.unwrap().is_some());
    assert!(store.get_event(t.0, spanning_old).await.unwrap().is_none());
    assert!(store.get_event(t.0, spanning_new).await.unwrap().is_some());
    let of_event = store.event_incidents(t.0, spanning_new).await.unwrap();
    assert_eq!(
        of_event.iter().map(|i| i.host.as_str()).collect::<Vec<_>>(),
        ["10.0.0.3"]
    );
    assert!(store
        .event_incidents(other.0, spanning_new)
        .await
        .unwrap()
        .is_empty());
    let spanning = incident_about("10.0.0.3").await;
    assert_eq!(spanning.len(), 1);
    assert_eq!(spanning[0].events, 1, "recounted");
    assert!(store.get_event(t.0, referring).await.unwrap().is_some());
    assert!(store.get_event(other.0, elsewhere).await.unwrap().is_some());
    assert_eq!(
        store.purge_account(t.0, 5_000, 2).await.unwrap(),
        Default::default()
    );
    // The audit trail keeps the purged incident's history.
    let trail = store
        .list_audit(&pushdetect_store::AuditFilter {
            account_id: Some(t.0),
            incident_id: Some(doomed),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(trail.len(), 1);
    assert!(matches!(
        store.set_account_retention(999, None, &op()).await,
        Err(StoreError::NotFound(_))
    ));
}

fn queued(
    uuid: &str,
    account_id: i64,
    license_id: i64,
    at: i64,
    sha256: &str,
) -> pushdetect_store::Task {
    pushdetect_store::Task {
        kind: pushdetect_store::TaskKind::File,
        state: pushdetect_store::TaskState::Queued,
        sha256: Some(sha256.into()),
        completed_at_ms: None,
        ..pushdetect_store::Task::external(uuid, account_id, license_id, at)
    }
}

async fn the_analysis_queue_hands_out_each_task_once_and_survives_restarts(backend: Backend) {
    let mut db = TestDb::new(backend).await;
    let store = db.store();
    let account = store.create_account("a", &op(), 0).await.unwrap();
    let license = store
        .create_license(account.id, "l", "AK", "hash", &op(), 0)
        .await
        .unwrap();
    store
        .create_task(&queued("a1", account.id, license.id, 1, "s1"))
        .await
        .unwrap();
    store
        .create_task(&queued("a2", account.id, license.id, 2, "s2"))
        .await
        .unwrap();
    let first = store.claim_task(10).await.unwrap().unwrap();
    assert_eq!(first.uuid, "a1", "oldest first");
    assert_eq!(first.state, pushdetect_store::TaskState::Running);
    assert_eq!(
        store
            .pending_tasks(license.id, 0, 100, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    // A restart puts the running task back in the queue.
    db.reopen_after(&[]).await;
    let store = db.store();
    assert_eq!(store.requeue_running(5).await.unwrap(), 0, "claimed at 10");
    assert_eq!(store.requeue_running(i64::MAX).await.unwrap(), 1);
    assert_eq!(store.claim_task(20).await.unwrap().unwrap().uuid, "a1");
    assert_eq!(store.claim_task(21).await.unwrap().unwrap().uuid, "a2");
    assert!(
        store.claim_task(22).await.unwrap().is_none(),
        "each task is claimed once"
    );
    let before = store.completion_horizon().await.unwrap();
    let at = store
        .complete_task("a2", 70, &json!({"score": 70}))
        .await
        .unwrap();
    assert!(
        at >= before,
        "completion time from the same clock as the horizon"
    );
    assert!(store.completion_horizon().await.unwrap() >= at);
    let done = store
        .completed_tasks(license.id, at, at + 1, 10)
        .await
        .unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].score, Some(70));
    assert_eq!(done[0].completed_at_ms, Some(at));
    assert!(
        store
            .completed_tasks(license.id, 0, at, 10)
            .await
            .unwrap()
            .is_empty(),
        "before is exclusive"
    );
    assert_eq!(
        store
            .find_cached_result(license.id, Subject::Sha256("s2"))
            .await
            .unwrap()
            .unwrap()
            .uuid,
        "a2"
    );
    assert!(
        store
            .find_cached_result(license.id, Subject::Sha256("s1"))
            .await
            .unwrap()
            .is_none(),
        "not completed"
    );
    let content = pushdetect_store::Content {
        sha256: "ab".into(),
        md5: "cd".into(),
        sha1: "ef".into(),
        size: 3,
    };
    store.record_content(&content, 0).await.unwrap();
    store.record_content(&content, 1).await.unwrap();
    assert_eq!(
        store.find_content("md5", "CD").await.unwrap(),
        Some(content.clone())
    );
    assert_eq!(
        store.find_content("sha1", "ef").await.unwrap(),
        Some(content)
    );
    assert!(store.find_content("sha256", "zz").await.unwrap().is_none());
}

/// Every incident of the account (up to 100).
async fn all_incidents(store: &dyn Store, account_id: i64) -> Vec<pushdetect_store::Incident> {
    let f = IncidentFilter {
        limit: 100,
        ..Default::default()
    };
    store.list_incidents(account_id, &f).await.unwrap()
}

fn fingerprint(f: &str) -> Dedup {
    Dedup {
        fingerprint: f.into(),
        since_ms: 0,
        keep_until_ms: i64::MAX,
    }
}

/// A batch is one transaction: its events get ids in batch order, a copy later in the same
/// batch is recognised, incidents are built as if the events came one by one, and a batch
/// with one bad event stores nothing.
async fn a_batch_stores_its_events_in_order_and_recognises_copies_within_it(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store();
    let t = tenant(store, "a").await;
    let a = about(t, &["h1"], 1_000, Some(10));
    let b = about(t, &["h1", "h2"], 2_000, Some(40));
    let (fa, fb) = (fingerprint("A"), fingerprint("B"));
    let r = store
        .insert_events(&[(&a, Some(&fa)), (&b, Some(&fb)), (&a, Some(&fa))])
        .await
        .unwrap();
    let (Inserted::New(ia), Inserted::New(ib)) = (r[0], r[1]) else {
        panic!("{r:?}")
    };
    assert!(ia < ib, "{r:?}");
    assert_eq!(r[2], Inserted::Duplicate(ia));
    assert_eq!(
        store.insert_event(&b, Some(&fb)).await.unwrap(),
        Inserted::Duplicate(ib)
    );
    let count = || async {
        store
            .list_events(
                t.0,
                &EventFilter {
                    limit: 100,
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .len()
    };
    assert_eq!(count().await, 2);
    let incidents = all_incidents(store, t.0).await;
    let of = |host: &str| incidents.iter().find(|i| i.host == host).unwrap();
    assert_eq!((of("h1").events, of("h1").impact), (2, Some(40)));
    assert_eq!((of("h2").events, of("h2").impact), (1, Some(40)));
    // An event naming a sensor that does not exist fails the batch, and its good
    // neighbour is not stored either.
    let good = about(t, &["h3"], 3_000, None);
    let mut bad = about(t, &["h3"], 3_000, None);
    bad.sensor_id = 999_999;
    assert!(store
        .insert_events(&[(&good, None), (&bad, None)])
        .await
        .is_err());
    assert_eq!(count().await, 2);
    let incidents = all_incidents(store, t.0).await;
    assert!(incidents.iter().all(|i| i.host != "h3"), "{incidents:?}");
    // Ids keep growing after a failed batch (PostgreSQL may skip the ids it reserved).
    assert!(insert(store, &good).await > ib);
    assert_eq!(count().await, 3);
}

/// A batch larger than one multi-row statement (300 events) stores every value of every
/// row as given: NULLs and their absence, text with quotes, backslashes, control and
/// non-ASCII characters, each event's hosts, tasks and fingerprint, and the ids in order.
async fn a_large_batch_stores_every_value_as_given(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store();
    let t = tenant(store, "a").await;
    let user = store
        .create_user(t.0, "u", "hash", Role::Analyst, &op(), 0)
        .await
        .unwrap();
    let odd = "quote \" backslash \\ tab \t nul-free \u{1} ünï 😀 '; DROP TABLE events; --";
    let events: Vec<NewEvent> = (0..300i64)
        .map(|i| {
            let mut e = about(t, &[], 1_000 + i, None);
            e.kind = ["ioc", "mail", "file_download"][i as usize % 3].into();
            e.pushed_by = if i % 2 == 0 {
                Principal::User(user.id)
            } else {
                Principal::License(t.1)
            };
            e.received_at_ms = 5_000 + i;
            e.vendor_name = format!("vendor {i} {odd}");
            e.tool_name = format!("tool {i}");
            e.hosts = (0..i % 3).map(|h| format!("10.0.{i}.{h}")).collect();
            e.fields = json!({ "n": i, "text": odd });
            e.raw_params = json!({ "n": i.to_string(), "text": odd });
            e.triage = Triage {
                action: (i % 4 != 0).then(|| ["LOG", "WARN", "BLOCK"][i as usize % 3].to_owned()),
                base_impact: (i % 5 != 0).then_some(i % 101),
                task_uuids: (0..i % 2).map(|k| format!("task-{i}-{k}")).collect(),
                ..Triage::default()
            };
            e
        })
        .collect();
    let prints: Vec<Dedup> = (0..300).map(|i| fingerprint(&format!("F{i}"))).collect();
    let batch: Vec<(&NewEvent, Option<&Dedup>)> = events
        .iter()
        .zip(&prints)
        .enumerate()
        .map(|(i, (e, d))| (e, (i % 7 != 0).then_some(d)))
        .collect();
    let answers = store.insert_events(&batch).await.unwrap();
    let ids: Vec<i64> = answers
        .iter()
        .map(|a| match a {
            Inserted::New(id) => *id,
            other => panic!("not stored: {other:?}"),
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let stored = store
        .list_events(
            t.0,
            &EventFilter {
                limit: 1000,
                order: EventOrder::Oldest,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(stored.len(), 300);
    for ((s, e), id) in stored.iter().zip(&events).zip(&ids) {
        assert_eq!(s.id, *id);
        assert_eq!(
            (&s.kind, s.received_at_ms, s.occurred_at_ms, s.pushed_by),
            (&e.kind, e.received_at_ms, e.occurred_at_ms, e.pushed_by)
        );
        assert_eq!(
            (&s.vendor_name, &s.tool_name),
            (&e.vendor_name, &e.tool_name)
        );
        assert_eq!((&s.fields, &s.raw_params), (&e.fields, &e.raw_params));
        assert_eq!((&s.hosts, &s.task_uuids), (&e.hosts, &e.triage.task_uuids));
        assert_eq!(
            (&s.action, s.impact),
            (&e.triage.action, e.triage.base_impact)
        );
        assert_eq!((s.license_id, s.sensor_id), (t.1, t.2));
    }
    // Each fingerprint given is stored: the same batch again is 258 copies and 42 new
    // events (those pushed without one).
    let again = store.insert_events(&batch).await.unwrap();
    for (i, (a, id)) in again.iter().zip(&ids).enumerate() {
        if i % 7 == 0 {
            assert!(
                matches!(a, Inserted::New(n) if n > ids.last().unwrap()),
                "{i}: {a:?}"
            );
        } else {
            assert_eq!(*a, Inserted::Duplicate(*id), "{i}");
        }
    }
}

/// Group commit: concurrent events are each stored once, with their own ids; concurrent
/// copies of one push are stored once; an event that cannot be stored fails alone.
async fn group_commit_stores_concurrent_events_once_each(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store: Arc<dyn Store> = Arc::from(db.open_another().await);
    let t = tenant(store.as_ref(), "a").await;
    let commit = GroupCommit::start(store.clone());
    let mut pushes = Vec::new();
    for i in 0..100 {
        for _copy in 0..2 {
            let commit = commit.clone();
            let e = about(t, &[&format!("h{}", i % 10)], 1_000 + i, None);
            let d = fingerprint(&format!("f{i}"));
            pushes.push(tokio::spawn(async move { commit.insert(e, Some(d)).await }));
        }
    }
    let mut bad = about(t, &["h0"], 1_000, None);
    bad.sensor_id = 999_999;
    let bad = tokio::spawn({
        let commit = commit.clone();
        async move { commit.insert(bad, None).await }
    });
    let mut ids = std::collections::BTreeSet::new();
    for pair in pushes.chunks_mut(2) {
        let first = (&mut pair[0]).await.unwrap().unwrap();
        let second = (&mut pair[1]).await.unwrap().unwrap();
        let ((Inserted::New(id), Inserted::Duplicate(same))
        | (Inserted::Duplicate(same), Inserted::New(id))) = (first, second)
        else {
            panic!("{first:?} {second:?}")
        };
        assert_eq!(id, same);
        assert!(ids.insert(id));
    }
    assert!(bad.await.unwrap().is_err());
    let events = store
        .list_events(
            t.0,
            &EventFilter {
                limit: 500,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 100);
    let incidents = all_incidents(&*store, t.0).await;
    assert_eq!(incidents.iter().map(|i| i.events).sum::<i64>(), 100);
    assert_eq!(incidents.len(), 10);
}

/// What every push reads is cached, but a change made through the store is seen at once,
/// and a change made by another process within LOOKUP_TTL.
async fn cached_lookups_see_changes_here_at_once_and_from_elsewhere_within_the_ttl(
    backend: Backend,
) {
    let db = TestDb::new(backend).await;
    let store = db.store();
    let t = tenant(store, "a").await;
    let now = chrono::Utc::now().timestamp_millis();
    store
        .create_session("S1", t.0, Principal::License(t.1), now)
        .await
        .unwrap();
    assert!(store.find_session("S1", 0).await.unwrap().is_some());
    assert!(!store.find_sensor(t.2).await.unwrap().unwrap().disabled);
    let by_key = || async {
        store
            .find_sensor_by_key("AKa", "SK")
            .await
            .unwrap()
            .unwrap()
    };
    assert!(!by_key().await.disabled);
    store.set_sensor_disabled(t.2, true, &op()).await.unwrap();
    assert!(store.find_sensor(t.2).await.unwrap().unwrap().disabled);
    assert!(by_key().await.disabled);
    store.delete_session("S1").await.unwrap();
    assert!(store.find_session("S1", 0).await.unwrap().is_none());
    // A session idle for too long is not answered from the cache either.
    store
        .create_session("S2", t.0, Principal::License(t.1), now)
        .await
        .unwrap();
    assert!(store.find_session("S2", now).await.unwrap().is_some());
    assert!(store.find_session("S2", now + 1).await.unwrap().is_none());
    // Another process disables the license, which ends its sessions.
    assert!(store.find_session("S2", 0).await.unwrap().is_some());
    let other = db.open_another().await;
    other.set_license_disabled(t.1, true, &op()).await.unwrap();
    // The cached lookup may answer for LOOKUP_TTL; after that (bounded) the change shows.
    let deadline = std::time::Instant::now() + LOOKUP_TTL * 20;
    while store.find_session("S2", 0).await.unwrap().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the disabled license's session is still answered"
        );
        tokio::time::sleep(LOOKUP_TTL / 10).await;
    }
    // A task's license.
    store
        .create_task(&Task::external("u1", t.0, t.1, 0))
        .await
        .unwrap();
    assert_eq!(store.task_license("u1").await.unwrap(), Some(t.1));
    assert_eq!(store.task_license("u2").await.unwrap(), None);
    other.close().await;
}

/// Tasks are created, claimed and completed in batches: a batch with a uuid already taken
/// stores none of its tasks, claims hand out the oldest first and each once (also to two
/// store handles claiming at once), and a batch of completions raises only the events
/// that refer to each task.
async fn tasks_are_created_claimed_and_completed_in_batches(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store: Arc<dyn Store> = Arc::from(db.open_another().await);
    let t = tenant(store.as_ref(), "batch").await;
    let tasks: Vec<Task> = (0..40)
        .map(|i| queued(&format!("b{i:02}"), t.0, t.1, i, &format!("s{i}")))
        .collect();
    let refs: Vec<&Task> = tasks.iter().collect();
    store.create_tasks(&refs).await.unwrap();
    let clash = [
        queued("new1", t.0, t.1, 100, "x"),
        queued("b07", t.0, t.1, 101, "x"),
    ];
    let err = store
        .create_tasks(&clash.iter().collect::<Vec<_>>())
        .await
        .unwrap_err();
    assert!(
        matches!(err, pushdetect_store::StoreError::Conflict(_)),
        "{err:?}"
    );
    assert!(
        store.find_task("new1").await.unwrap().is_none(),
        "all or nothing"
    );
    let first = store.claim_tasks(1_000, 3).await.unwrap();
    let uuids: Vec<&str> = first.iter().map(|t| t.uuid.as_str()).collect();
    assert_eq!(uuids, ["b00", "b01", "b02"], "the oldest, in order");
    assert_eq!(
        store.unfinished_tasks().await.unwrap(),
        (37, 3),
        "queued, running"
    );
    // Two handles (two nodes on PostgreSQL) claim the rest at once: each task once.
    let other: Arc<dyn Store> = match backend {
        Backend::Postgres => Arc::from(db.open_another().await),
        Backend::Sqlite => store.clone(),
    };
    let claimers: Vec<_> = [store.clone(), other.clone()]
        .into_iter()
        .map(|s| {
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = s.claim_tasks(2_000, 4).await.unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|t| t.uuid));
                }
            })
        })
        .collect();
    let mut claimed: Vec<String> = first.iter().map(|t| t.uuid.clone()).collect();
    for c in claimers {
        claimed.extend(c.await.unwrap());
    }
    claimed.sort();
    let mut all: Vec<String> = tasks.iter().map(|t| t.uuid.clone()).collect();
    all.sort();
    assert_eq!(claimed, all, "every task claimed exactly once");
    // One event refers to b05; completing a batch raises it alone.
    let mut e = about(t, &["10.0.0.1"], 5_000, Some(10));
    e.triage.task_uuids = vec!["b05".into()];
    let referring = insert(store.as_ref(), &e).await;
    let other_event = insert(store.as_ref(), &about(t, &["10.0.0.2"], 5_000, Some(10))).await;
    let done: Vec<Completion> = ["b04", "b05", "b06"]
        .iter()
        .zip([20, 80, 90])
        .map(|(uuid, score)| Completion {
            uuid: uuid.to_string(),
            score,
            result: json!({"score": score}),
        })
        .collect();
    let at = store.complete_tasks(&done).await.unwrap();
    assert_eq!(store.unfinished_tasks().await.unwrap(), (0, 37));
    for d in &done {
        let task = store.find_task(&d.uuid).await.unwrap().unwrap();
        assert_eq!(
            (task.score, task.completed_at_ms),
            (Some(d.score), Some(at))
        );
    }
    let impact = |id| {
        let s = store.clone();
        async move { s.get_event(t.0, id).await.unwrap().unwrap().impact }
    };
    assert_eq!(impact(referring).await, Some(80));
    assert_eq!(impact(other_event).await, Some(10));
    assert!(store.complete_tasks(&[]).await.is_ok());
    if let Backend::Postgres = backend {
        other.close().await;
    }
    store.close().await;
}

/// Completions racing polls: a poller that reads the horizon and continues each list from
/// the previous horizon, as Lastline's client continues from the previous `before`, sees
/// every task exactly once while completions run concurrently (on PostgreSQL from two
/// store handles, as two nodes; the embedded database belongs to one server) and events
/// keep the writer busy.
async fn a_poller_continuing_from_the_horizon_misses_no_completion(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store: Arc<dyn Store> = Arc::from(db.open_another().await);
    let t = tenant(store.as_ref(), "race").await;
    const TASKS: usize = 300;
    for i in 0..TASKS {
        let mut task = Task::external(&format!("race{i:04}"), t.0, t.1, 0);
        task.kind = TaskKind::Url;
        task.state = TaskState::Queued;
        store.create_task(&task).await.unwrap();
    }
    let second: Arc<dyn Store> = match backend {
        Backend::Postgres => Arc::from(db.open_another().await),
        Backend::Sqlite => store.clone(),
    };
    let completers: Vec<_> = [store.clone(), second.clone()]
        .into_iter()
        .enumerate()
        .map(|(k, s)| {
            tokio::spawn(async move {
                for i in (k..TASKS).step_by(2) {
                    s.complete_task(&format!("race{i:04}"), 1, &json!({}))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let busy = {
        let s = store.clone();
        tokio::spawn(async move {
            for at in 0..200 {
                s.insert_event(&event(t.0, t.1, t.2, at), None)
                    .await
                    .unwrap();
            }
        })
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut after = 0;
    // A horizon read after every completion had returned: no completion is later than it,
    // but one may carry that very millisecond, which a poll up to it leaves for the next.
    let mut all_done_by = None;
    loop {
        let all_returned = all_done_by.is_none() && completers.iter().all(|c| c.is_finished());
        let horizon = store.completion_horizon().await.unwrap();
        for task in store
            .completed_tasks(t.1, after, horizon, 10_000)
            .await
            .unwrap()
        {
            assert!(seen.insert(task.uuid.clone()), "{} seen twice", task.uuid);
        }
        after = horizon;
        match all_done_by {
            // This poll went past every completion's time: anything missing was skipped.
            Some(done_by) if horizon > done_by => break,
            _ if all_returned => all_done_by = Some(horizon),
            _ => {}
        }
    }
    for c in completers {
        c.await.unwrap();
    }
    busy.await.unwrap();
    assert_eq!(seen.len(), TASKS, "every completion seen by the poller");
    if let Backend::Postgres = backend {
        second.close().await;
    }
    store.close().await;
}

/// Each test above, once per backend.
async fn shared_content_stays_while_a_task_awaits_it_or_a_license_keeps_it(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store();
    let a = tenant(store, "a").await;
    let b = tenant(store, "b").await;
    let deleting = |mut t: pushdetect_store::Task| {
        t.options.delete_after_analysis = true;
        t
    };
    // A asks to delete after analysis; nobody else has the content: it may go.
    let a1 = deleting(queued("a1", a.0, a.1, 10, "c0"));
    store.create_task(&a1).await.unwrap();
    store.complete_task("a1", 0, &json!({})).await.unwrap();
    assert!(!store.content_kept("c0", &["a1".into()]).await.unwrap());
    // B submitted it too, without asking for deletion: it stays for B.
    store
        .create_task(&queued("b1", b.0, b.1, 5, "c0"))
        .await
        .unwrap();
    store.complete_task("b1", 0, &json!({})).await.unwrap();
    assert!(store.content_kept("c0", &["a1".into()]).await.unwrap());
    // Until B's latest submission asks for deletion as well.
    store
        .create_task(&deleting(queued("b2", b.0, b.1, 20, "c0")))
        .await
        .unwrap();
    // b2 still waits for its analysis.
    assert!(store.content_kept("c0", &["a1".into()]).await.unwrap());
    store.complete_task("b2", 0, &json!({})).await.unwrap();
    assert!(!store.content_kept("c0", &["b2".into()]).await.unwrap());
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Backend::Sqlite).await
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Backend::Postgres).await
            })*
        }
    };
}

conformance!(
    events_about_one_host_form_incidents_that_merge_when_an_event_bridges_them,
    a_task_score_raises_the_impact_of_its_events_and_their_incidents,
    events_filter_by_action_and_impact_and_page_in_impact_order,
    events_stored_before_triage_are_indexed_from_the_backlog,
    purge_removes_idle_sessions_and_old_fingerprints_only,
    a_fingerprint_older_than_the_window_does_not_match,
    unique_names_conflict_and_disabling_cascades,
    a_password_change_ends_the_users_sessions_and_is_audited,
    api_tokens_work_until_they_expire_are_revoked_or_their_user_is_disabled,
    retention_purges_old_events_their_empty_incidents_and_unreferenced_analyses,
    the_analysis_queue_hands_out_each_task_once_and_survives_restarts,
    a_batch_stores_its_events_in_order_and_recognises_copies_within_it,
    a_large_batch_stores_every_value_as_given,
    group_commit_stores_concurrent_events_once_each,
    cached_lookups_see_changes_here_at_once_and_from_elsewhere_within_the_ttl,
    a_poller_continuing_from_the_horizon_misses_no_completion,
    tasks_are_created_claimed_and_completed_in_batches,
    shared_content_stays_while_a_task_awaits_it_or_a_license_keeps_it,
    a_closed_incident_is_reopened_by_a_new_event_and_every_change_is_recorded,
    merge_and_split_move_events_recount_and_keep_both_histories,
    comments_are_edited_by_their_author_in_time_and_redacted_not_deleted,
    an_incident_is_unread_per_user_until_opened_and_again_after_a_new_event,
    the_identifiers_of_one_machine_form_one_host_entity_with_one_incident,
    an_address_joins_the_machine_it_is_seen_with_and_a_lease_moves_it,
    an_account_groups_by_its_rules_and_every_other_event_by_host,
    deliveries_are_written_with_the_events_and_incident_changes_their_filters_send,
    one_node_holds_a_destination_and_a_retried_delivery_holds_back_the_rest,
);

/// `pushdetect migrate`'s copy into PostgreSQL: row for row with the same ids, in insert
/// batches with progress, verified, and only into a database without an installation.
#[tokio::test]
async fn the_copy_into_postgres_moves_every_row_in_batches_and_only_into_an_empty_database() {
    let source = TestDb::new(Backend::Sqlite).await;
    let t = tenant(source.store(), "copied").await;
    // One event more than an insert batch (500) holds, each about two hosts.
    const EVENTS: i64 = 501;
    for at in 0..EVENTS {
        insert(source.store(), &about(t, &["h1", "h2"], at * 1000, Some(5))).await;
    }
    let target = TestDb::new(Backend::Postgres).await;
    let progress = std::sync::Mutex::new(Vec::new());
    let report = copy::sqlite_to_postgres(
        &source.sqlite_path(),
        &target.postgres_url(),
        &|table, rows| progress.lock().unwrap().push((table.to_owned(), rows)),
    )
    .await
    .unwrap();
    let rows = |name: &str| {
        report
            .tables
            .iter()
            .find(|(t, _)| t == name)
            .map(|(_, n)| *n)
    };
    assert_eq!(rows("accounts"), Some(1));
    assert_eq!(rows("sensors"), Some(1));
    assert_eq!(rows("events"), Some(501));
    assert_eq!(rows("event_hosts"), Some(1002));
    assert_eq!(
        rows("incidents"),
        Some(2),
        "one per host: the events are 1 s apart"
    );
    assert_eq!(rows("incident_events"), Some(1002));
    let events_progress: Vec<u64> = progress
        .lock()
        .unwrap()
        .iter()
        .filter(|(table, _)| table == "events")
        .map(|(_, rows)| *rows)
        .collect();
    assert_eq!(
        events_progress,
        [500, 501],
        "told after each batch and at the end"
    );

    // PostgreSQL answers as SQLite did; new ids continue after the copied ones.
    let all = EventFilter {
        limit: 1000,
        ..Default::default()
    };
    let before = source.store().list_events(t.0, &all).await.unwrap();
    assert_eq!(before.len(), 501);
    assert_eq!(target.store().list_events(t.0, &all).await.unwrap(), before);
    assert_eq!(
        insert(target.store(), &about(t, &["h3"], 0, None)).await,
        EVENTS + 1
    );

    // A second copy would mix two installations; a missing source is named.
    let again = copy::sqlite_to_postgres(&source.sqlite_path(), &target.postgres_url(), &|_, _| {})
        .await
        .unwrap_err();
    assert!(matches!(again, StoreError::NotEmpty(_)), "{again}");
    let missing = source.sqlite_path().with_file_name("missing.db");
    let err = copy::sqlite_to_postgres(&missing, &target.postgres_url(), &|_, _| {})
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");
    assert!(
        !missing.exists(),
        "nothing created where the source was missing"
    );
}

/// The tables and columns of a backend's schema, sorted (sqlx's own table left out).
async fn schema_of(db: &TestDb, backend: Backend) -> Vec<(String, Vec<String>)> {
    use sqlx::Connection;
    let rows: Vec<(String, String)> = match backend {
        Backend::Sqlite => {
            let url = format!("sqlite:{}", db.sqlite_path().display());
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query_as(
                "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
            )
            .fetch_all(&mut c)
            .await
            .unwrap()
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.postgres_url())
                .await
                .unwrap();
            sqlx::query_as(
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = 'public'",
            )
            .fetch_all(&mut c)
            .await
            .unwrap()
        }
    };
    let mut tables: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (table, column) in rows {
        if table != "_sqlx_migrations" {
            tables.entry(table).or_default().push(column);
        }
    }
    tables
        .into_iter()
        .map(|(t, mut columns)| {
            columns.sort();
            (t, columns)
        })
        .collect()
}

/// `pushdetect migrate` copies every table and column both schemas have: a table or
/// column added to a migration and not to the copy fails here.
#[tokio::test]
async fn the_copy_moves_every_table_and_column_of_both_schemas() {
    let mut copied: Vec<(String, Vec<String>)> = pushdetect_store::schema_tables()
        .into_iter()
        .map(|(t, columns)| {
            let mut columns: Vec<String> = columns.into_iter().map(str::to_owned).collect();
            columns.sort();
            (t.to_owned(), columns)
        })
        .collect();
    copied.sort();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new(backend).await;
        assert_eq!(schema_of(&db, backend).await, copied, "{backend:?}");
    }
}
