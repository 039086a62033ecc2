//! The Rust client's session semantics, as Lastline's clients have them: the PAPI client
//! logs in again and resends once after 3001-3004 or a "Permission denied" message (and
//! after nothing else); the Analyst client logs in again after 122.
//!
//! Against pushdetect where it sends the code (3001, 3004, 122); 3002 and 3003, which
//! pushdetect never sends (docs/errors.md), against a scripted server that plays a
//! Lastline server answering them.

use crate::support::*;
use pushdetect_client::config::{AnalysisConfig, Auth, PapiConfig, Transport};
use pushdetect_client::{AnalystClient, ClientError, PapiClient};
use pushdetect_server::Config;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn papi_config(base: &str, auth: Auth) -> PapiConfig {
    PapiConfig {
        url: format!("{base}/papi").parse().unwrap(),
        auth,
        key: None,
        transport: Transport::default(),
    }
}

fn user(app: &TestApp) -> Auth {
    Auth::Account {
        username: app.creds.username.clone(),
        password: app.creds.password.clone(),
    }
}

/// The count of `endpoint` answered with `status` on the server's `/metrics` (0 if none).
async fn answered(app: &TestApp, endpoint: &str, status: u16) -> i64 {
    app.metric(&format!(
        "pushdetect_http_requests_total{{endpoint=\"{endpoint}\",method=\"POST\",status=\"{status}\"}}"
    ))
    .await
    .unwrap_or(0)
}

/// A ping through the PAPI client.
async fn ping(client: &PapiClient) -> Result<serde_json::Value, ClientError> {
    client
        .call(reqwest::Method::POST, "push_detection/ping.json", &[])
        .await
}

/// A ping to a scripted server answering `script`: the answer and the paths it was asked.
async fn ping_scripted(
    script: Vec<(u32, &'static str)>,
) -> (Result<serde_json::Value, ClientError>, Vec<String>) {
    let server = Scripted::start(script).await;
    let auth = Auth::License {
        api_key: "k".into(),
        api_token: "t".into(),
    };
    let client = PapiClient::new(papi_config(&server.base, auth)).unwrap();
    let answer = ping(&client).await;
    (answer, server.asked())
}

#[tokio::test]
async fn after_an_expired_session_the_papi_client_logs_in_again_and_resends() {
    let app = TestApp::start_with(Config {
        session_idle: Duration::from_secs(1),
        ..Config::default()
    })
    .await;
    let client = PapiClient::new(papi_config(&app.base, user(&app))).unwrap();
    assert_eq!(ping(&client).await.unwrap(), "pong");
    // The idle time passing is what this test is about: the session expires.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(ping(&client).await.unwrap(), "pong");
    assert_eq!(
        answered(&app, "/papi/login", 200).await,
        2,
        "logged in again"
    );
    assert_eq!(
        answered(&app, "/papi/push_detection/ping", 200).await,
        3,
        "the ping was resent once"
    );
}

#[tokio::test]
async fn permission_denied_makes_the_papi_client_log_in_again_and_resend_once_only() {
    let app = TestApp::start().await;
    app.store
        .set_sensor_disabled(
            app.creds.subkey_id,
            true,
            &pushdetect_store::Actor::operator(),
        )
        .await
        .unwrap();
    let client = PapiClient::new(papi_config(&app.base, user(&app))).unwrap();
    let form = ioc_form(&app.creds.sensor_key);
    let err = client
        .call(
            reqwest::Method::POST,
            "push_detection/ioc/push_result.json",
            &form
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Api { code: 3001, message } if message.starts_with("Permission denied")),
        "{err:?}"
    );
    assert_eq!(answered(&app, "/papi/login", 200).await, 2);
    assert_eq!(
        answered(&app, "/papi/push_detection/ioc/push_result", 200).await,
        2,
        "sent twice, not more"
    );
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn a_validation_error_is_not_resent() {
    let app = TestApp::start().await;
    let client = PapiClient::new(papi_config(&app.base, user(&app))).unwrap();
    let err = client
        .call(
            reqwest::Method::POST,
            "push_detection/ioc/push_result.json",
            &[("vendor_name".into(), "x".into())],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Api { code: 2001, .. }),
        "{err:?}"
    );
    assert_eq!(answered(&app, "/papi/login", 200).await, 1);
    assert_eq!(
        answered(&app, "/papi/push_detection/ioc/push_result", 200).await,
        1
    );
}

#[tokio::test]
async fn after_122_the_analyst_client_logs_in_again() {
    let app = TestApp::start_with(Config {
        session_idle: Duration::from_secs(1),
        ..Config::default()
    })
    .await;
    let client = AnalystClient::new(AnalysisConfig {
        url: app.base.parse().unwrap(),
        key: app.creds.access_key.clone(),
        api_token: app.creds.api_token.clone(),
        transport: Transport::default(),
    })
    .unwrap();
    client.login().await.unwrap();
    client.completed("2020-01-01 00:00:00").await.unwrap();
    // The idle time passing is what this test is about: the session expires.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    client.completed("2020-01-01 00:00:00").await.unwrap();
    assert_eq!(
        answered(&app, "/authentication/login", 200).await,
        2,
        "logged in again"
    );
}

/// A server playing Lastline's: logins succeed with a cookie; other requests are
/// answered from `script` in order (then "OK"). Records the paths asked for.
struct Scripted {
    base: String,
    asked: Arc<Mutex<Vec<String>>>,
}

impl Scripted {
    async fn start(script: Vec<(u32, &'static str)>) -> Scripted {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let asked = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.into_iter()));
        let seen = asked.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let (seen, script) = (seen.clone(), script.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        let n = s.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    while buf.len() < head_end + length {
                        let n = s.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let path = head.split(' ').nth(1).unwrap_or("").to_owned();
                    seen.lock().unwrap().push(path.clone());
                    let body = if path.contains("login") {
                        r#"{"success":1,"data":null}"#.to_owned()
                    } else {
                        match script.lock().unwrap().next() {
                            Some((code, message)) => serde_json::json!(
                                {"success": 0, "error_code": code, "error": message}
                            )
                            .to_string(),
                            None => r#"{"success":1,"data":"OK"}"#.to_owned(),
                        }
                    };
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                         Set-Cookie: papi_sessionid=s{}; Path=/\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        seen.lock().unwrap().len(),
                        body.len()
                    );
                    let _ = s.write_all(answer.as_bytes()).await;
                });
            }
        });
        Scripted { base, asked }
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn codes_3002_and_3003_and_a_permission_denied_message_are_session_errors() {
    for (code, message) in [
        (3002, "cannot switch to key"),
        (3003, "no key selected"),
        (4000, "Permission denied for this call"),
    ] {
        let (answer, asked) = ping_scripted(vec![(code, message)]).await;
        assert_eq!(answer.unwrap(), "OK", "{code}");
        assert_eq!(
            asked,
            [
                "/papi/login",
                "/papi/push_detection/ping.json",
                "/papi/login",
                "/papi/push_detection/ping.json"
            ],
            "{code}: logged in again and resent"
        );
    }
    // Twice in a row: the second answer is the caller's, no third attempt.
    let (answer, asked) =
        ping_scripted(vec![(3002, "cannot switch"), (3002, "cannot switch")]).await;
    let err = answer.unwrap_err();
    assert!(
        matches!(err, ClientError::Api { code: 3002, .. }),
        "{err:?}"
    );
    assert_eq!(asked.len(), 4);
    // Any other code is the caller's at once.
    let (answer, asked) = ping_scripted(vec![(3005, "something else")]).await;
    let err = answer.unwrap_err();
    assert!(
        matches!(err, ClientError::Api { code: 3005, .. }),
        "{err:?}"
    );
    assert_eq!(asked.len(), 2);
}
