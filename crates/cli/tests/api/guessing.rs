//! Password and token guessing: parallel guesses queue up, known-good pairings are not
//! slowed down, and X-Forwarded-For is believed from trusted proxies only.

use crate::support::*;
use pushdetect_server::Config;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Sends `n` logins at once with these fields and `X-Forwarded-For` values; the answers.
async fn parallel(
    app: &TestApp,
    path: &str,
    fields: Vec<(&str, String)>,
    xff: &[String],
) -> Vec<Value> {
    let http = reqwest::Client::new();
    let calls = xff.iter().map(|addr| {
        let mut r = http.post(app.url(path)).form(&fields);
        if !addr.is_empty() {
            r = r.header("x-forwarded-for", addr);
        }
        async move { r.send().await.unwrap().json::<Value>().await.unwrap() }
    });
    futures::future::join_all(calls).await
}

fn count(answers: &[Value], needle: &str) -> usize {
    answers
        .iter()
        .filter(|v| v["error"].as_str().unwrap_or_default().contains(needle))
        .count()
}

async fn login_from(app: &TestApp, addr: &str, username: &str, password: &str) -> Value {
    reqwest::Client::new()
        .post(app.url("/papi/login.json"))
        .header("x-forwarded-for", addr)
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn parallel_password_guesses_queue_up_and_the_rest_are_refused_unchecked() {
    let app = TestApp::start().await;
    let fields = vec![
        ("username", app.creds.username.clone()),
        ("password", "guess".to_owned()),
    ];
    // Made-up forwarding headers from a peer that is no proxy change nothing.
    let spoofed: Vec<String> = (0..40).map(|i| format!("198.51.100.{i}")).collect();
    let answers = parallel(&app, "/papi/login.json", fields, &spoofed).await;
    for v in &answers {
        assert_eq!(v["success"], 0, "{v}");
        assert_eq!(v["error_code"], 3004, "{v}");
    }
    let checked = count(&answers, "wrong credentials");
    let refused = count(
        &answers,
        "too many failed login attempts for this name; try again in",
    );
    assert_eq!(checked + refused, 40);
    // Three free guesses, then turns 0.25, 0.5, 1, 2, 4 and 8 s apart: within the 10 s a
    // caller may wait, at most nine guesses are checked.
    assert!(checked <= 9, "{checked} guesses checked");
}

#[tokio::test]
async fn analyst_api_token_guesses_are_throttled_too() {
    let app = TestApp::start().await;
    let fields = vec![
        ("key", app.creds.access_key.clone()),
        ("api_token", "0".repeat(32)),
    ];
    let answers = parallel(
        &app,
        "/authentication/ping.json",
        fields,
        &vec![String::new(); 40],
    )
    .await;
    for v in &answers {
        assert_eq!(v["error_code"], 104, "{v}");
    }
    let checked = count(&answers, "invalid key or api_token");
    assert!(checked <= 9, "{checked} guesses checked");
    assert_eq!(
        count(&answers, "too many failed login attempts"),
        40 - checked
    );
}

#[tokio::test]
async fn a_known_good_pairing_logs_in_at_once_while_others_guess() {
    let app = TestApp::start_with(Config {
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        ..Config::default()
    })
    .await;
    let other = app.other_tenant().await;
    let user = app.creds.username.clone();
    let good = "192.0.2.10";
    let v = login_from(&app, good, &user, &app.creds.password).await;
    assert_eq!(v["success"], 1, "{v}");
    // Someone behind the same proxy guesses the admin's password from another address.
    let attacker = "203.0.113.66".to_owned();
    let fields = vec![("username", user.clone()), ("password", "guess".to_owned())];
    let answers = parallel(
        &app,
        "/papi/login.json",
        fields,
        &vec![attacker.clone(); 20],
    )
    .await;
    assert!(count(&answers, "too many failed login attempts") > 0);
    // The admin, from where they logged in before, is neither refused nor kept waiting
    // for the guesser's turns (8 s apart by now).
    let started = Instant::now();
    let v = login_from(&app, good, &user, &app.creds.password).await;
    assert_eq!(v["success"], 1, "{v}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    // Another tenant's user behind the guesser's own address is not locked out either.
    let v = login_from(&app, &attacker, &other.username, &other.password).await;
    assert_eq!(v["success"], 1, "{v}");
}
