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
