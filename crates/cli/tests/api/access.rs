//! A user's access. Passwords: a user changes their own (read API and console), an admin
//! resets another user's (read API and console); either ends the user's other sessions.
//! API tokens: made, used as bearer credentials within their scope, listed and revoked
//! (read API and console). Every change is audited without the secret, and refused with
//! the field named when it cannot be done.

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
    let page = body(&http, &app, "/account").await;
    assert!(page.contains("id=\"password\""), "{page}");
    assert!(page.contains("href=\"/account\""), "the header links to it");

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

const TOKEN_CREATE: &str = "/papi/user/token/create.json";
const TOKEN_LIST: &str = "/papi/user/token/list.json";
const TOKEN_REVOKE: &str = "/papi/user/token/revoke.json";
const UPDATE: &str = "/papi/push_detection/incident/update.json";

/// A GET of the read API with `token` as the bearer credential and no session.
async fn with_token(app: &TestApp, token: &str, path: &str) -> serde_json::Value {
    json(
        reqwest::Client::new()
            .get(app.url(path))
            .header("Authorization", format!("Bearer {token}")),
    )
    .await
}

async fn post_with_token(
    app: &TestApp,
    token: &str,
    path: &str,
    form: &[(&str, &str)],
) -> serde_json::Value {
    json(
        reqwest::Client::new()
            .post(app.url(path))
            .header("Authorization", format!("bearer {token}"))
            .form(form),
    )
    .await
}

fn made(v: &serde_json::Value) -> (String, i64) {
    assert_eq!(v["success"], 1, "{v}");
    (
        v["data"]["token"].as_str().unwrap().to_owned(),
        v["data"]["token_id"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn api_tokens_read_within_their_scope_and_stop_when_revoked() {
    let app = TestApp::start().await;
    let admin = app.user_client().await;
    let sensor = app.license_client().await;
    assert_ok(
        &sensor
            .post(IOC, &pairs(&ioc_form(&app.creds.sensor_key)))
            .await,
    );

    let (read, read_id) = made(&admin.post(TOKEN_CREATE, &[("name", "siem pull")]).await);
    assert!(read.starts_with("pdt_") && read.len() == 44, "{read}");
    let v = with_token(&app, &read, LIST).await;
    assert_eq!(v["data"]["events"].as_array().map(Vec::len), Some(1), "{v}");
    // What a read token may not do, and what no token may do.
    let v = post_with_token(
        &app,
        &read,
        UPDATE,
        &[("incident_id", "1"), ("status", "acknowledged")],
    )
    .await;
    assert_error(&v, 2010, "read-only");
    let v = post_with_token(&app, &read, TOKEN_CREATE, &[("name", "successor")]).await;
    assert_error(&v, 2010, "not with an API token");
    let v = post_with_token(
        &app,
        &read,
        CHANGE,
        &[("current_password", "x"), ("new_password", NEW)],
    )
    .await;
    assert_error(&v, 2010, "not with an API token");
    assert_error(
        &with_token(&app, "pdt_not-a-token", LIST).await,
        3004,
        "API token",
    );

    // A write token does what its user's role allows.
    let (write, _) = made(
        &admin
            .post(
                TOKEN_CREATE,
                &[
                    ("name", "triage bot"),
                    ("scope", "write"),
                    ("expires_days", "30"),
                ],
            )
            .await,
    );
    let v = post_with_token(
        &app,
        &write,
        UPDATE,
        &[("incident_id", "999999"), ("status", "acknowledged")],
    )
    .await;
    assert_error(&v, 2009, "incident_id");

    // Refusals name the field.
    let v = admin.post(TOKEN_CREATE, &[("name", "siem pull")]).await;
    assert_error(&v, 2002, "'name'");
    let v = admin
        .post(TOKEN_CREATE, &[("name", "x"), ("expires_days", "0")])
        .await;
    assert_error(&v, 2002, "'expires_days'");
    let v = admin
        .post(TOKEN_CREATE, &[("name", "x"), ("scope", "admin")])
        .await;
    assert_error(&v, 2002, "'scope'");
    let v = sensor.post(TOKEN_CREATE, &[("name", "x")]).await;
    assert_error(&v, 2011, "API tokens belong to users");

    // An analyst lists and revokes their own; an admin the account's.
    let (alice, password) = user(&app, "alice", Role::Analyst).await;
    let alice_client = logged_in(&app, &alice, &password).await;
    let (alice_token, alice_id) = made(&alice_client.post(TOKEN_CREATE, &[("name", "mine")]).await);
    let own = alice_client.get_ok(TOKEN_LIST, &[]).await;
    assert_eq!(own["tokens"].as_array().unwrap().len(), 1, "{own}");
    let all = admin.get_ok(TOKEN_LIST, &[]).await;
    assert_eq!(all["tokens"].as_array().unwrap().len(), 3, "{all}");
    assert!(!all.to_string().contains(&read), "never the secret");
    assert!(all["tokens"][0]["last_used_at"].is_string(), "{all}");
    let v = alice_client
        .post(TOKEN_REVOKE, &[("token_id", &read_id.to_string())])
        .await;
    assert_error(&v, 2002, "'token_id'");
    let other = app.other_tenant().await;
    let other_admin = logged_in(&app, &other.username, &other.password).await;
    let v = other_admin
        .post(TOKEN_REVOKE, &[("token_id", &alice_id.to_string())])
        .await;
    assert_error(&v, 2002, "'token_id'");
    assert_eq!(with_token(&app, &alice_token, LIST).await["success"], 1);
    let v = admin
        .post(TOKEN_REVOKE, &[("token_id", &alice_id.to_string())])
        .await;
    assert_eq!(v["data"]["revoked"], true, "{v}");
    assert_error(&with_token(&app, &alice_token, LIST).await, 3004, "revoked");

    // A disabled user's tokens stop; the audit trail has both changes, never a secret.
    let users = app
        .store
        .list_users(Some(app.account_id().await))
        .await
        .unwrap();
    let alice_user = users.iter().find(|u| u.username == alice).unwrap();
    let (again, _) = made(&alice_client.post(TOKEN_CREATE, &[("name", "again")]).await);
    app.store
        .set_user_disabled(alice_user.id, true, &Actor::operator())
        .await
        .unwrap();
    assert_error(&with_token(&app, &again, LIST).await, 3004, "disabled");
    let trail = admin.get_ok(AUDIT, &[]).await.to_string();
    assert!(
        trail.contains("token.created") && trail.contains("token.revoked"),
        "{trail}"
    );
    assert!(!trail.contains(&read) && !trail.contains(&again));
}

#[tokio::test]
async fn the_console_makes_lists_and_revokes_tokens_and_marks_destructive_buttons() {
    let app = TestApp::start().await;
    let http = console_http();
    let token = console_login(&http, &app, &app.creds.username, &app.creds.password).await;
    let page = body(&http, &app, "/account").await;
    assert!(page.contains("id=\"no-tokens\""), "{page}");
    let send = |form: Vec<(&'static str, String)>| {
        let http = http.clone();
        let url = app.url("/tokens");
        let token = token.clone();
        async move {
            let mut all = form;
            all.push(("csrf", token));
            let r = http.post(url).form(&all).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (code, page) = send(vec![
        ("op", "create".into()),
        ("name", "".into()),
        ("scope", "read".into()),
    ])
    .await;
    assert_eq!(code, 400);
    assert!(page.contains("parameter &#39;name&#39;"), "{page}");
    let (code, page) = send(vec![
        ("op", "create".into()),
        ("name", "grafana".into()),
        ("scope", "read".into()),
        ("expires_days", "90".into()),
    ])
    .await;
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("shown only once"), "{page}");
    let secret = page
        .split("<th scope=\"row\">token</th><td><code>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .to_owned();
    assert_eq!(with_token(&app, &secret, LIST).await["success"], 1);
    let listed = body(&http, &app, "/account").await;
    assert!(
        listed.contains("grafana") && !listed.contains(&secret),
        "{listed}"
    );
    let id = listed
        .split("data-token=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    // Destructive buttons are not styled as primary actions.
    for page in [listed.clone(), body(&http, &app, "/admin").await] {
        for label in [">Revoke<", ">Disable<"] {
            for (i, _) in page.match_indices(label) {
                let tag = &page[page[..i].rfind("<button").unwrap()..i];
                assert!(tag.contains("class=\"danger\""), "{tag}");
            }
        }
    }
    let (code, page) = send(vec![("op", "revoke".into()), ("id", id)]).await;
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("revoked"), "{page}");
    assert_error(&with_token(&app, &secret, LIST).await, 3004, "revoked");
}
