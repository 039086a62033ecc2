//! Passwords: a user changes their own (read API and console), an admin resets another
//! user's (read API and console); either ends the user's other sessions, is audited
//! without the secret, and is refused with the field named when it cannot be done.

use crate::console::{body, console_http, console_login, post, status};
use crate::support::*;
use pushdetect_server::provision::add_user;
use pushdetect_store::{Actor, Role};

const CHANGE: &str = "/papi/user/password/change.json";
const RESET: &str = "/papi/user/password/reset.json";
const AUDIT: &str = "/papi/audit/list.json";
const NEW: &str = "a new passphrase, long enough";

/// A user of the first account with this role: (login name, password).
async fn user(app: &TestApp, name: &str, role: Role) -> (String, String) {
    let account = app.account_id().await;
    let new = add_user(app.store.as_ref(), account, name, role, &Actor::operator())
        .await
        .unwrap();
    (new.user.username, new.password)
}

async fn logged_in(app: &TestApp, name: &str, password: &str) -> Client {
    let c = Client::new(&app.base);
    c.login_user(name, password).await;
    c
}

async fn login_answer(app: &TestApp, name: &str, password: &str) -> serde_json::Value {
    Client::new(&app.base)
        .post("/papi/login", &[("username", name), ("password", password)])
        .await
}

#[tokio::test]
async fn a_user_changes_their_password_and_their_other_sessions_end() {
    let app = TestApp::start().await;
    let (alice, old) = user(&app, "alice", Role::Analyst).await;
    let here = logged_in(&app, &alice, &old).await;
    let elsewhere = logged_in(&app, &alice, &old).await;
    let sensor = app.license_client().await;

    let v = here
        .post(
            CHANGE,
            &[("current_password", "not it at all"), ("new_password", NEW)],
        )
        .await;
    assert_error(&v, 2002, "'current_password'");
    let v = here
        .post(
            CHANGE,
            &[("current_password", &old), ("new_password", "short")],
        )
        .await;
    assert_error(&v, 2002, "'new_password'");
    assert_error(&v, 2002, "12 to 256 characters");
    let v = here.post(CHANGE, &[("new_password", NEW)]).await;
    assert_error(&v, 2001, "current_password");
    let v = sensor
        .post(CHANGE, &[("current_password", "x"), ("new_password", NEW)])
        .await;
    assert_error(&v, 2011, "a license has no password");
    // Refusals changed nothing.
    assert_eq!(elsewhere.get(LIST, &[]).await["success"], 1);

    let v = here
        .post(CHANGE, &[("current_password", &old), ("new_password", NEW)])
        .await;
    assert_eq!(v["data"]["username"], alice.as_str(), "{v}");
    // The caller got a new session; the one elsewhere ended; the license is untouched.
    assert_eq!(here.get(LIST, &[]).await["success"], 1);
    assert_error(&elsewhere.get(LIST, &[]).await, 3004, "log in again");
    assert_eq!(sensor.get(LIST, &[]).await["success"], 1);
    assert_error(
        &login_answer(&app, &alice, &old).await,
        3004,
        "login failed",
    );
    logged_in(&app, &alice, NEW).await;

    let admin = app.user_client().await;
    let trail = admin
        .get_ok(AUDIT, &[("action", "user.password_changed")])
        .await;
    let record = &trail["records"][0];
    assert_eq!(record["actor"], alice.as_str(), "{trail}");
    assert_eq!(record["target"], format!("user {alice}"), "{trail}");
    assert!(
        !trail.to_string().contains(NEW),
        "the secret is not in the trail"
    );
}

#[tokio::test]
async fn an_admin_resets_a_users_password_and_only_an_admin_of_the_account_may() {
    let app = TestApp::start().await;
    let (alice, old) = user(&app, "alice", Role::Analyst).await;
    let alice_client = logged_in(&app, &alice, &old).await;
    let admin = app.user_client().await;

    let v = alice_client
        .post(RESET, &[("username", &app.creds.username)])
        .await;
    assert_error(&v, 2010, "reset passwords");
    let v = app
        .license_client()
        .await
        .post(RESET, &[("username", &alice)])
        .await;
    assert_error(&v, 2010, "reset passwords");
    let other = app.other_tenant().await;
    for name in ["nobody", other.username.as_str()] {
        let v = admin.post(RESET, &[("username", name)]).await;
        assert_error(&v, 2002, "'username'");
    }
    assert_eq!(
        logged_in(&app, &other.username, &other.password)
            .await
            .get(LIST, &[])
            .await["success"],
        1,
        "another account's user keeps their password"
    );
    let v = admin
        .post(RESET, &[("username", &app.creds.username)])
        .await;
    assert_error(&v, 2011, "user/password/change");

    let v = admin.post(RESET, &[("username", &alice)]).await;
    let given = v["data"]["password"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(given.len(), 20);
    assert_error(&alice_client.get(LIST, &[]).await, 3004, "log in again");
    assert_error(
        &login_answer(&app, &alice, &old).await,
        3004,
        "login failed",
    );
    logged_in(&app, &alice, given).await;
    let trail = admin
        .get_ok(AUDIT, &[("action", "user.password_reset")])
        .await;
    assert_eq!(trail["records"][0]["actor"], app.creds.username.as_str());
    assert!(!trail.to_string().contains(given));
}

#[tokio::test]
async fn the_console_changes_a_password_and_an_admin_resets_one() {
    let app = TestApp::start().await;
    let (alice, old) = user(&app, "alice", Role::Analyst).await;
    let http = console_http();
    let token = console_login(&http, &app, &alice, &old).await;
    let other_browser = console_http();
    console_login(&other_browser, &app, &alice, &old).await;
    let page = body(&http, &app, "/password").await;
    assert!(page.contains("id=\"password\""), "{page}");
    assert!(
        page.contains("href=\"/password\""),
        "the header links to it"
    );

    let form = |current: &'static str, new: &'static str, again: &'static str| {
        vec![
            ("current_password", current),
            ("new_password", new),
            ("repeat_password", again),
        ]
    };
    let send = |fields: Vec<(&'static str, &'static str)>| {
        let http = http.clone();
        let token = token.clone();
        let url = app.url("/password");
        async move {
            let mut all: Vec<(&str, &str)> = fields;
            all.push(("csrf", &token));
            let r = http.post(url).form(&all).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let old_static: &'static str = Box::leak(old.clone().into_boxed_str());
    let (code, page) = send(form("wrong password!", NEW, NEW)).await;
    assert_eq!(code, 400);
    assert!(page.contains("The current password is wrong."), "{page}");
    let (code, page) = send(form(old_static, "too short", "too short")).await;
    assert_eq!(code, 400);
    assert!(page.contains("12 to 256 characters"), "{page}");
    let (code, page) = send(form(old_static, NEW, "a different passphrase")).await;
    assert_eq!(code, 400);
    assert!(page.contains("differ"), "{page}");
    assert_eq!(
        status(&other_browser, &app, "/events").await,
        200,
        "unchanged"
    );
    assert_eq!(
        post(&http, &app, "/password", &form(old_static, NEW, NEW)).await,
        403,
        "the CSRF token is required"
    );

    let (code, page) = send(form(old_static, NEW, NEW)).await;
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("Password changed."), "{page}");
    assert_eq!(
        status(&http, &app, "/events").await,
        200,
        "still logged in here"
    );
    assert_eq!(
        status(&other_browser, &app, "/events").await,
        303,
        "logged out there"
    );

    // The admin resets it from the admin page; alice's console session ends.
    let admin = console_http();
    let admin_token = console_login(&admin, &app, &app.creds.username, &app.creds.password).await;
    let admin_page = body(&admin, &app, "/admin").await;
    assert!(admin_page.contains("Reset password"), "{admin_page}");
    let users = app
        .store
        .list_users(Some(app.account_id().await))
        .await
        .unwrap();
    let alice_id = users
        .iter()
        .find(|u| u.username == alice)
        .unwrap()
        .id
        .to_string();
    let r = admin
        .post(app.url("/admin"))
        .form(&[
            ("csrf", admin_token.as_str()),
            ("op", "reset_password"),
            ("id", alice_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let shown = r.text().await.unwrap();
    assert!(shown.contains("their sessions have ended"), "{shown}");
    let given = shown
        .split("<th scope=\"row\">password</th><td><code>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("{shown}"))
        .to_owned();
    assert_eq!(status(&http, &app, "/events").await, 303);
    logged_in(&app, &alice, &given).await;
}
