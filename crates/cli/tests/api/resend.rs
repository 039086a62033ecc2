//! A resent push (the client's one retry) stores one event and answers OK both times.

use crate::support::*;

#[tokio::test]
async fn a_resent_push_is_stored_once_even_after_logging_in_again() {
    let app = TestApp::start().await;
    app.create_task(TASK).await;
    let form = download_form(&app.creds.sensor_key);
    let c = app.user_client().await;
    assert_ok(&c.post(FILE_DOWNLOAD, &pairs(&form)).await);
    assert_ok(&c.post(FILE_DOWNLOAD, &pairs(&form)).await);
    // The client drops its session and logs in again before retrying.
    let again = app.user_client().await;
    let mut reordered = form.clone();
    reordered.reverse();
    assert_ok(&again.post(FILE_DOWNLOAD, &pairs(&reordered)).await);
    assert_eq!(app.event_count().await, 1);
    // A different push is a new event; so is the same push from another credential.
    let changed = with(&form, "src_port", Some("1234"));
    assert_ok(&c.post(FILE_DOWNLOAD, &pairs(&changed)).await);
    let license = app.license_client().await;
    assert_ok(&license.post(FILE_DOWNLOAD, &pairs(&form)).await);
    assert_eq!(app.event_count().await, 3);
}

#[tokio::test]
async fn a_zero_resend_window_stores_every_push() {
    let app = TestApp::start_with(pushdetect_server::Config {
        dedup_window: std::time::Duration::ZERO,
        ..Default::default()
    })
    .await;
    let c = app.user_client().await;
    let form = ioc_form(&app.creds.sensor_key);
    assert_ok(&c.post(IOC, &pairs(&form)).await);
    assert_ok(&c.post(IOC, &pairs(&form)).await);
    assert_eq!(app.event_count().await, 2);
}
