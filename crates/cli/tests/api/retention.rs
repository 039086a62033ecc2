//! Retention: an account's admin sets how many days its events are kept (console, CLI);
//! the server purges older ones in the background, counts them on /metrics, and leaves
//! other accounts and newer events alone.

use crate::console::{body, console_http, console_login};
use crate::support::*;
use pushdetect_server::Config;
use pushdetect_store::{NewEvent, Principal, Triage};
use std::time::Duration;

/// An IOC event about `host` stored as the server stores pushes, received `days_ago`.
fn aged(account_id: i64, license_id: i64, sensor_id: i64, host: &str, days_ago: i64) -> NewEvent {
    let at = chrono::Utc::now().timestamp_millis() - days_ago * 86_400_000;
    NewEvent {
        account_id,
        sensor_id,
        license_id,
        pushed_by: Principal::License(license_id),
        kind: "ioc".into(),
        received_at_ms: at,
        occurred_at_ms: at,
        vendor_name: "Acme".into(),
        tool_name: "IocScan".into(),
        hosts: vec![host.into()],
        fields: serde_json::json!({}),
        raw_params: serde_json::json!({"hostname": host}),
        triage: Triage::default(),
        incident_window_ms: 3_600_000,
        reopen_closed: true,
    }
}

#[tokio::test]
async fn an_accounts_old_events_are_purged_in_the_background_and_counted() {
    let app = TestApp::start_with(Config {
        housekeeping_every: Duration::from_millis(100),
        ..Config::default()
    })
    .await;
    let c = &app.creds;
    let account = app.account_id().await;
    app.store
        .insert_event(&aged(account, c.key_id, c.subkey_id, "old-host", 3), None)
        .await
        .unwrap();
    let other = app.other_tenant().await;
    let other_account = app.store.find_account("other").await.unwrap().unwrap().id;
    app.store
        .insert_event(
            &aged(other_account, other.key_id, other.subkey_id, "theirs", 3),
            None,
        )
        .await
        .unwrap();
    let sensor = app.license_client().await;
    assert_ok(&sensor.post(IOC, &pairs(&ioc_form(&c.sensor_key))).await);

    let http = console_http();
    let token = console_login(&http, &app, &c.username, &c.password).await;
    let set = |days: &'static str| {
        let (http, token, url) = (http.clone(), token.clone(), app.url("/admin"));
        async move {
            let r = http
                .post(url)
                .form(&[
                    ("csrf", token.as_str()),
                    ("op", "set_retention"),
                    ("days", days),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (code, page) = set("0").await;
    assert_eq!(code, 400);
    assert!(page.contains("1 to 3650"), "{page}");
    let (code, page) = set("2").await;
    assert_eq!(code, 200);
    assert!(page.contains("kept 2 days"), "{page}");
    assert!(body(&http, &app, "/admin")
        .await
        .contains("name=\"days\" value=\"2\""));

    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while app
        .metric("pushdetect_retention_purged_total{what=\"events\"}")
        .await
        != Some(1)
    {
        assert!(std::time::Instant::now() < deadline, "nothing purged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.metric("pushdetect_retention_purged_total{what=\"incidents\"}")
            .await,
        Some(1)
    );
    let admin = app.user_client().await;
    let events = admin.get_ok(LIST, &[]).await["events"].clone();
    let hosts: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["raw_parameters"]["hostname"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["WS-09"], "the fresh push stays, the old event went");
    let theirs = logged_in_other(&app, &other).await.get_ok(LIST, &[]).await;
    assert_eq!(
        theirs["events"].as_array().unwrap().len(),
        1,
        "another account keeps its own"
    );
    let trail = admin
        .get_ok("/papi/audit/list.json", &[("action", "account.retention")])
        .await;
    assert_eq!(trail["records"][0]["after"]["retention_days"], 2, "{trail}");
    // Off again: nothing more is purged.
    let (code, _) = set("off").await;
    assert_eq!(code, 200);
    assert_eq!(
        app.store
            .find_account("default")
            .await
            .unwrap()
            .unwrap()
            .retention_days,
        None
    );
}

async fn logged_in_other(
    app: &TestApp,
    other: &pushdetect_server::provision::InitialCredentials,
) -> Client {
    let c = Client::new(&app.base);
    c.login_user(&other.username, &other.password).await;
    c
}
