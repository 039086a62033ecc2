//! The forwarding page in real Chromium: an admin adds a webhook (its signing key shown
//! once), sends it a test, sees a refused delivery dead-lettered and sends it again; the
//! page's forms refuse a missing CSRF token, and a non-admin gets 403.

use crate::console::{
    body, browser, click, console_http, console_login, driver, log_in, post, status, submit_form,
    wait_for,
};
use crate::forwarding::{signed_by, Receiver};
use crate::support::*;
use fantoccini::Locator;
use pushdetect_server::provision::add_user;
use pushdetect_store::{Actor, Role};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_adds_a_webhook_tests_it_and_sends_its_dead_letters_again() {
    let app = TestApp::start().await;
    let hook = Receiver::start(Duration::ZERO).await;
    let driver = driver().await;
    let b = browser(&driver).await;
    log_in(&b, &app).await;
    click(&b, "nav a[href='/forwarding']").await;
    wait_for(&b, "#add-destination").await;
    for (name, value) in [
        ("name", "chat"),
        ("target", hook.url.as_str()),
        ("types", "ioc"),
    ] {
        b.find(Locator::Css(&format!(
            "#add-destination input[name={name}]"
        )))
        .await
        .unwrap()
        .send_keys(value)
        .await
        .unwrap();
    }
    submit_form(&b, "#add-destination button").await;
    let key = wait_for(&b, "#secret code").await.text().await.unwrap();
    assert_eq!(key.len(), 64, "{key}");
    let row = wait_for(&b, "tr[data-destination=chat]")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        row.contains("events of type ioc") && row.contains("enabled"),
        "{row}"
    );

    // The test button sends a signed test message.
    submit_form(&b, "tr[data-destination=chat] form:nth-of-type(1) button").await;
    let notice = wait_for(&b, "#notice").await.text().await.unwrap();
    assert!(notice.contains("delivered to chat"), "{notice}");
    assert!(
        !b.source().await.unwrap().contains(&key),
        "the key is shown once"
    );
    let got = hook.wait_for(1).await;
    assert!(signed_by(&got[0], &key));

    // A refused delivery is listed among the dead letters and sent again from there.
    hook.script(&[(400, None)]);
    let pusher = app.license_client().await;
    assert_ok(
        &pusher
            .post(IOC, &pairs(&ioc_form(&app.creds.sensor_key)))
            .await,
    );
    hook.wait_for(2).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        b.goto(&app.url("/forwarding")).await.unwrap();
        let dead = wait_for(&b, "tr[data-destination=chat] td.dead")
            .await
            .text()
            .await
            .unwrap();
        if dead == "1" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "dead-lettered: {dead}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    click(&b, "tr[data-destination=chat] td.dead a").await;
    let listed = wait_for(&b, "table.dead-letters")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        listed.contains("HTTP 400") && listed.contains("event"),
        "{listed}"
    );
    submit_form(&b, "#resend button").await;
    assert!(wait_for(&b, "#notice")
        .await
        .text()
        .await
        .unwrap()
        .contains("1 dead-lettered"));
    let got = hook.wait_for(3).await;
    assert_eq!(got[2].delivery, got[1].delivery);

    // Disable, then remove: gone from the list.
    submit_form(&b, "tr[data-destination=chat] form:nth-of-type(3) button").await;
    let row = wait_for(&b, "tr[data-destination=chat]")
        .await
        .text()
        .await
        .unwrap();
    assert!(row.contains("disabled"), "{row}");
    submit_form(&b, "tr[data-destination=chat] form.remove button").await;
    wait_for(&b, "#notice").await;
    assert!(!b
        .source()
        .await
        .unwrap()
        .contains("data-destination=\"chat\""));

    // A refused form names its field; CSRF and roles hold.
    let http = console_http();
    let token = console_login(&http, &app, &app.creds.username, &app.creds.password).await;
    let form = [
        ("csrf", token.as_str()),
        ("op", "add"),
        ("name", "x"),
        ("target", "ftp://x"),
    ];
    assert_eq!(post(&http, &app, "/forwarding", &form).await, 400);
    assert_eq!(post(&http, &app, "/forwarding", &form[1..]).await, 403);
    let page = http
        .post(app.url("/forwarding"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("parameter &#39;target&#39;: expected tcp://"),
        "{page}"
    );
    let account = app.account_id().await;
    let analyst = add_user(
        app.store.as_ref(),
        account,
        "ann",
        Role::Analyst,
        &Actor::operator(),
    )
    .await
    .unwrap();
    let other = console_http();
    console_login(&other, &app, &analyst.user.username, &analyst.password).await;
    assert_eq!(status(&other, &app, "/forwarding").await, 403);
    assert!(!body(&other, &app, "/events")
        .await
        .contains("href=\"/forwarding\""));
}
