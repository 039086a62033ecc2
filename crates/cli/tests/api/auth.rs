//! Login, sessions and tenant isolation.

use crate::support::*;
use pushdetect_server::Config;
use std::time::Duration;

#[tokio::test]
async fn both_auth_methods_log_in_and_bad_credentials_answer_3004() {
    let app = TestApp::start().await;
    let c = Client::new(&app.base);
    let v = c
        .post(
            "/papi/login",
            &[
                ("username", &app.creds.username),
                ("password", &app.creds.password),
            ],
        )
        .await;
    assert_eq!(v["data"]["auth_method"], "account");
    let v = c
        .post(
            "/papi/login.json",
            &[
                ("api_key", &app.creds.access_key),
                ("api_token", &app.creds.api_token),
            ],
        )
        .await;
    assert_eq!(v["data"]["auth_method"], "license");
    assert_eq!(v["data"]["key_id"], app.creds.key_id);
    for form in [
        vec![("username", "admin"), ("password", "wrong")],
        vec![("username", "nobody"), ("password", "x")],
        vec![
            ("api_key", app.creds.access_key.as_str()),
            ("api_token", "wrong"),
        ],
    ] {
        assert_error(
            &Client::new(&app.base).post("/papi/login", &form).await,
            3004,
            "login failed",
        );
    }
    let v = Client::new(&app.base)
        .post("/papi/login", &[("username", "admin")])
        .await;
    assert_error(&v, 2001, "password");
    let v = Client::new(&app.base).post("/papi/login", &[]).await;
    assert_error(&v, 2001, "api_key");
}

#[tokio::test]
async fn the_session_cookie_is_random_httponly_and_stored_hashed() {
    let app = TestApp::start().await;
    let r = reqwest::Client::new()
        .post(app.url("/papi/login"))
        .form(&[
            ("username", &app.creds.username),
            ("password", &app.creds.password),
        ])
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let id = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    assert_eq!(id.len(), 64, "256-bit session id");
    let live = app.store.find_session(id, 0).await.unwrap();
    assert!(live.is_none(), "the raw id must not be the stored key");
    let hashed = pushdetect_server::credentials::session_id_hash(id);
    assert!(app.store.find_session(&hashed, 0).await.unwrap().is_some());
    let user = app.store.find_user("admin").await.unwrap().unwrap();
    assert!(user.password_hash.starts_with("$argon2"));
    let license = app
        .store
        .find_license(app.creds.key_id)
        .await
        .unwrap()
        .unwrap();
    assert!(license.api_token_hash.starts_with("$argon2"));
}

#[tokio::test]
async fn missing_expired_and_logged_out_sessions_answer_3004() {
    let app = TestApp::start_with(Config {
        session_idle: Duration::from_secs(1),
        ..Config::default()
    })
    .await;
    let anonymous = Client::new(&app.base);
    let form = ioc_form(&app.creds.sensor_key);
    assert_error(&anonymous.post(IOC, &pairs(&form)).await, 3004, "log in");
    assert_error(
        &anonymous.get("/papi/push_detection/ping.json", &[]).await,
        3004,
        "log in",
    );

    let c = app.user_client().await;
    assert_eq!(
        c.get_ok("/papi/push_detection/ping.json", &[]).await,
        "pong"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_error(&c.post(IOC, &pairs(&form)).await, 3004, "expired");

    let c = app.user_client().await;
    assert_eq!(c.post("/papi/logout.json", &[]).await["success"], 1);
    assert_error(&c.get(LIST, &[]).await, 3004, "log in");
    assert_eq!(app.event_count().await, 0);
}

/// A session in use stays alive: each use after half the idle time moves its expiry on,
/// so a client calling every few seconds is never logged out.
#[tokio::test]
async fn a_session_in_use_does_not_expire() {
    let app = TestApp::start_with(Config {
        session_idle: Duration::from_secs(6),
        ..Config::default()
    })
    .await;
    let c = app.user_client().await;
    // 3.5 s after the login: past half the idle time, so this use is recorded.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(
        c.get_ok("/papi/push_detection/ping.json", &[]).await,
        "pong"
    );
    // 7 s after the login, 3.5 s after the last use: alive.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(
        c.get_ok("/papi/push_detection/ping.json", &[]).await,
        "pong"
    );
}

#[tokio::test]
async fn another_tenants_key_answers_3001_and_stores_nothing() {
    let app = TestApp::start().await;
    app.create_task(TASK).await;
    let other = app.other_tenant().await;
    let mallory = Client::new(&app.base);
    mallory.login_user(&other.username, &other.password).await;
    // Mallory pushes with the first tenant's sensor key: refused.
    let v = mallory
        .post(IOC, &pairs(&ioc_form(&app.creds.sensor_key)))
        .await;
    assert_error(&v, 3001, "Permission denied");
    let v = mallory
        .post(FILE_DOWNLOAD, &pairs(&download_form(&app.creds.sensor_key)))
        .await;
    assert_error(&v, 3001, "Permission denied");
    let ids = [
        ("key_id", app.creds.key_id.to_string()),
        ("subkey_id", app.creds.subkey_id.to_string()),
    ];
    let mut by_ids = with(&ioc_form(""), "key", None);
    by_ids.extend(ids.iter().map(|(k, v)| (*k, v.clone())));
    assert_error(
        &mallory.post(IOC, &pairs(&by_ids)).await,
        3001,
        "Permission denied",
    );
    // Unknown keys answer the same, so existence does not leak.
    let v = mallory
        .post(IOC, &pairs(&ioc_form("NOSUCHKEY:NOSUCHSUB")))
        .await;
    assert_error(&v, 3001, "Permission denied");
    assert_eq!(app.event_count().await, 0);
    // Mallory's own push works and stays in Mallory's account.
    assert_ok(
        &mallory
            .post(IOC, &pairs(&ioc_form(&other.sensor_key)))
            .await,
    );
    assert_eq!(app.event_count().await, 0);
    let theirs = mallory.get_ok(LIST, &[]).await;
    assert_eq!(theirs["events"].as_array().unwrap().len(), 1);
    // And the first tenant cannot read Mallory's event.
    let id = theirs["events"][0]["event_id"].to_string();
    let v = app.user_client().await.get(GET, &[("event_id", &id)]).await;
    assert_error(&v, 2007, "event_id");
}

#[tokio::test]
async fn a_license_login_may_use_only_its_own_sensors() {
    let app = TestApp::start().await;
    let (_, second_sensor, second_token) = app.second_license().await;
    let first = app.license_client().await;
    let v = first.post(IOC, &pairs(&ioc_form(&second_sensor))).await;
    assert_error(&v, 3001, "Permission denied");
    // A user of the account may push for any of its licenses.
    let user = app.user_client().await;
    assert_ok(&user.post(IOC, &pairs(&ioc_form(&second_sensor))).await);
    // The second license itself may.
    let second = Client::new(&app.base);
    second
        .login_license(second_sensor.split(':').next().unwrap(), &second_token)
        .await;
    let f = with(&ioc_form(&second_sensor), "hostname", Some("other-host"));
    assert_ok(&second.post(IOC, &pairs(&f)).await);
}

#[tokio::test]
async fn disabled_sensors_and_rotated_tokens_are_refused() {
    let app = TestApp::start().await;
    let c = app.license_client().await;
    app.store
        .set_sensor_disabled(
            app.creds.subkey_id,
            true,
            &pushdetect_store::Actor::operator(),
        )
        .await
        .unwrap();
    assert_error(
        &c.post(IOC, &pairs(&ioc_form(&app.creds.sensor_key))).await,
        3001,
        "Permission denied",
    );
    app.store
        .set_sensor_disabled(
            app.creds.subkey_id,
            false,
            &pushdetect_store::Actor::operator(),
        )
        .await
        .unwrap();
    assert_ok(&c.post(IOC, &pairs(&ioc_form(&app.creds.sensor_key))).await);
    let new_token = pushdetect_server::provision::rotate_token(
        app.store.as_ref(),
        app.creds.key_id,
        &pushdetect_store::Actor::operator(),
    )
    .await
    .unwrap();
    // The old session ended; the old token no longer logs in; the new one does.
    assert_error(&c.get(LIST, &[]).await, 3004, "log in");
    let v = Client::new(&app.base)
        .post(
            "/papi/login",
            &[
                ("api_key", &app.creds.access_key),
                ("api_token", &app.creds.api_token),
            ],
        )
        .await;
    assert_error(&v, 3004, "login failed");
    Client::new(&app.base)
        .login_license(&app.creds.access_key, &new_token)
        .await;
}

#[tokio::test]
async fn repeated_failed_logins_are_slowed_down() {
    let app = TestApp::start().await;
    let c = Client::new(&app.base);
    let guess = || async {
        let v = c
            .post(
                "/papi/login",
                &[("username", "admin"), ("password", "wrong")],
            )
            .await;
        assert_error(&v, 3004, "login failed: wrong credentials");
    };
    for _ in 0..3 {
        guess().await;
    }
    // After three free failures, turns are 0.25, 0.5, 1 and 2 s apart: the fourth to the
    // eighth guess cannot finish sooner than 3.75 s after the fourth began.
    let started = std::time::Instant::now();
    for _ in 0..5 {
        guess().await;
    }
    assert!(
        started.elapsed() >= Duration::from_millis(3750),
        "{:?}",
        started.elapsed()
    );
    // The right password still logs in (no lock-out).
    c.login_user(&app.creds.username, &app.creds.password).await;
}

#[tokio::test]
async fn a_disabled_account_can_neither_log_in_nor_keep_its_sessions() {
    let app = TestApp::start().await;
    let c = app.user_client().await;
    let account = app.store.find_account("default").await.unwrap().unwrap();
    app.store
        .set_account_disabled(account.id, true, &pushdetect_store::Actor::operator())
        .await
        .unwrap();
    assert_error(&c.get(LIST, &[]).await, 3004, "log in");
    let v = Client::new(&app.base)
        .post(
            "/papi/login",
            &[
                ("username", &app.creds.username),
                ("password", &app.creds.password),
            ],
        )
        .await;
    assert_error(&v, 3004, "login failed");
}
