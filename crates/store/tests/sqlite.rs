//! The SQLite store against a real database file.

use pushdetect_store::sqlite::SqliteStore;
use pushdetect_store::{Dedup, Inserted, NewEvent, Principal, Store};
use serde_json::json;

async fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
    (dir, store)
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
    }
}

#[tokio::test]
async fn purge_removes_idle_sessions_and_old_fingerprints_only() {
    let (_dir, store) = open().await;
    let account = store.create_account("a", 0).await.unwrap();
    let license = store
        .create_license(account.id, "l", "AK", "hash", 0)
        .await
        .unwrap();
    let sensor = store.create_sensor(license.id, "SK", "s", 0).await.unwrap();
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
    };
    assert!(matches!(
        store.insert_event(&e, Some(&dedup)).await.unwrap(),
        Inserted::New(1)
    ));
    assert_eq!(
        store.insert_event(&e, Some(&dedup)).await.unwrap(),
        Inserted::Duplicate(1)
    );

    let removed = store.purge(5_000, 5_000).await.unwrap();
    assert_eq!(removed, 2, "one session and one fingerprint");
    assert!(store.find_session("old", 0).await.unwrap().is_none());
    assert!(store.find_session("new", 0).await.unwrap().is_some());
    // With its fingerprint gone, the same push is a new event; the event itself stays.
    assert_eq!(
        store.insert_event(&e, Some(&dedup)).await.unwrap(),
        Inserted::New(2)
    );
    assert!(store.get_event(account.id, 1).await.unwrap().is_some());
}

#[tokio::test]
async fn a_fingerprint_older_than_the_window_does_not_match() {
    let (_dir, store) = open().await;
    let account = store.create_account("a", 0).await.unwrap();
    let license = store
        .create_license(account.id, "l", "AK", "hash", 0)
        .await
        .unwrap();
    let sensor = store.create_sensor(license.id, "SK", "s", 0).await.unwrap();
    let first = event(account.id, license.id, sensor.id, 1_000);
    let dedup = |since_ms| Dedup {
        fingerprint: "fp".into(),
        since_ms,
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

#[tokio::test]
async fn unique_names_conflict_and_disabling_cascades() {
    let (_dir, store) = open().await;
    let account = store.create_account("a", 0).await.unwrap();
    assert!(matches!(
        store.create_account("a", 0).await,
        Err(pushdetect_store::StoreError::Conflict(_))
    ));
    let user = store
        .create_user(account.id, "u", "hash", false, 0)
        .await
        .unwrap();
    let license = store
        .create_license(account.id, "l", "AK", "hash", 0)
        .await
        .unwrap();
    let sensor = store.create_sensor(license.id, "SK", "s", 0).await.unwrap();
    store
        .create_session("s1", account.id, Principal::User(user.id), 0)
        .await
        .unwrap();
    store.set_account_disabled(account.id, true).await.unwrap();
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
        store.set_sensor_disabled(999, true).await,
        Err(pushdetect_store::StoreError::NotFound(_))
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

#[tokio::test]
async fn the_analysis_queue_hands_out_each_task_once_and_survives_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let account = store.create_account("a", 0).await.unwrap();
    let license = store
        .create_license(account.id, "l", "AK", "hash", 0)
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
    store.close().await;
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.requeue_running().await.unwrap(), 1);
    assert_eq!(store.claim_task(20).await.unwrap().unwrap().uuid, "a1");
    assert_eq!(store.claim_task(21).await.unwrap().unwrap().uuid, "a2");
    assert!(
        store.claim_task(22).await.unwrap().is_none(),
        "each task is claimed once"
    );
    store
        .complete_task("a2", 70, &json!({"score": 70}), 30)
        .await
        .unwrap();
    let done = store.completed_tasks(license.id, 30, 31, 10).await.unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].score, Some(70));
    assert!(
        store
            .completed_tasks(license.id, 0, 30, 10)
            .await
            .unwrap()
            .is_empty(),
        "before is exclusive"
    );
    assert_eq!(
        store
            .find_cached_result(license.id, "s2")
            .await
            .unwrap()
            .unwrap()
            .uuid,
        "a2"
    );
    assert!(
        store
            .find_cached_result(license.id, "s1")
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
