//! Forwarding to webhooks over the read API: a receiver in the test (a real HTTP server on
//! a loopback port) checks every delivery's signature, answers as each test scripts it,
//! and records what arrives: retries on 503 with Retry-After, none on 400, dead letters
//! and their re-send, and destinations no other account or non-admin sees.

use crate::support::*;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const CREATE: &str = "/papi/forwarding/destination/create.json";
pub const DESTINATIONS: &str = "/papi/forwarding/destination/list.json";
pub const DEAD: &str = "/papi/forwarding/delivery/dead_list.json";
pub const RESEND: &str = "/papi/forwarding/delivery/resend.json";
pub const UPDATE: &str = "/papi/forwarding/destination/update.json";
pub const TEST: &str = "/papi/forwarding/destination/test.json";

/// One POST the receiver took.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub delivery: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Value,
    pub raw: String,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    /// Answers to give, first first: status and Retry-After. 200 when none is left.
    script: VecDeque<(u16, Option<&'static str>)>,
}

/// A webhook receiver on a loopback port.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    /// Time taken to answer each POST.
    delay: Duration,
}

async fn take(State(r): State<Receiver>, headers: HeaderMap, body: String) -> impl IntoResponse {
    tokio::time::sleep(r.delay).await;
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut inner = r.inner.lock().unwrap();
    inner.received.push(Received {
        at: Instant::now(),
        delivery: h("x-pushdetect-delivery"),
        timestamp: h("x-pushdetect-timestamp"),
        signature: h("x-pushdetect-signature"),
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
        raw: body,
    });
    let (status, retry_after) = inner.script.pop_front().unwrap_or((200, None));
    let mut headers = HeaderMap::new();
    if let Some(after) = retry_after {
        headers.insert("retry-after", after.parse().unwrap());
    }
    (StatusCode::from_u16(status).unwrap(), headers, "")
}

impl Receiver {
    /// A receiver answering after `delay`.
    pub async fn start(delay: Duration) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let r = Receiver {
            url,
            inner: Default::default(),
            delay,
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(take))
            .with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        r
    }

    /// Answers the next POSTs so, in order.
    pub fn script(&self, answers: &[(u16, Option<&'static str>)]) {
        self.inner
            .lock()
            .unwrap()
            .script
            .extend(answers.iter().copied());
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Waits (up to 20 s) until at least `n` POSTs arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        self.wait_for_within(n, Duration::from_secs(20)).await
    }

    /// Waits (up to `most`) until at least `n` POSTs arrived.
    pub async fn wait_for_within(&self, n: usize, most: Duration) -> Vec<Received> {
        let deadline = Instant::now() + most;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} deliveries arrived",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Whether a delivery's signature is the HMAC-SHA256 of `timestamp.body` under `key`.
pub fn signed_by(r: &Received, key: &str) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{}.{}", r.timestamp, r.raw).as_bytes());
    let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    r.signature == want
}

/// Waits (up to 10 s) until `condition` holds.
pub async fn settles<F, Fut>(condition: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition().await {
        assert!(
            Instant::now() < deadline,
            "the condition did not come to hold"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates a destination over the read API; returns its answer.
pub async fn create(admin: &Client, form: &[(&str, &str)]) -> Value {
    let v = admin.post(CREATE, form).await;
    assert_eq!(v["success"], 1, "{v}");
    v["data"].clone()
}

async fn dead_letters(admin: &Client, name: &str) -> Vec<Value> {
    admin.get_ok(DEAD, &[("destination", name)]).await["deliveries"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_webhook_gets_each_event_signed_and_is_retried_only_when_it_may_succeed() {
    let app = TestApp::start().await;
    let admin = app.user_client().await;
    let pusher = app.license_client().await;
    let hook = Receiver::start(Duration::ZERO).await;
    let created = create(&admin, &[("name", "chat"), ("target", &hook.url)]).await;
    let key = created["signing_key"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 64);
    assert_eq!(created["format"], "json");
    let listed = admin.get_ok(DESTINATIONS, &[]).await;
    let listed = &listed["destinations"][0];
    assert_eq!(listed["name"], "chat");
    assert_eq!(listed["has_secret"], true);
    assert!(
        !listed.to_string().contains(&key),
        "the key is shown once: {listed}"
    );

    // A 503 asking for a second's patience: the same delivery comes again after it.
    hook.script(&[(503, Some("1"))]);
    assert_ok(
        &pusher
            .post(IOC, &pairs(&ioc_form(&app.creds.sensor_key)))
            .await,
    );
    let got = hook.wait_for(2).await;
    let event_id = admin.get_ok(LIST, &[]).await["events"][0]["event_id"].clone();
    assert_eq!(got[0].delivery, got[1].delivery);
    assert!(
        got[1].at - got[0].at >= Duration::from_millis(900),
        "Retry-After honoured"
    );
    for r in &got {
        assert!(signed_by(r, &key), "{r:?}");
        assert!(!signed_by(r, "another key"));
        assert_eq!(r.body["change"], "event");
        assert_eq!(r.body["delivery_id"].to_string(), r.delivery);
        assert_eq!(r.body["event"]["event_id"], event_id);
        assert_eq!(r.body["event"]["fields"]["hostname"], "ws-09");
        assert!(
            r.body["text"]
                .as_str()
                .unwrap()
                .contains("IOC matched on ws-09"),
            "{}",
            r.body
        );
    }
    let series = format!(
        "account=\"{}\",destination=\"chat\"",
        app.account_id().await
    );
    assert_eq!(
        app.metric(&format!("pushdetect_forward_retried_total{{{series}}}"))
            .await,
        Some(1)
    );
    // Counted once the answer is in and the delivery deleted, just after the receiver saw it.
    let sent = format!("pushdetect_forward_sent_total{{{series}}}");
    settles(|| async { app.metric(&sent).await == Some(1) }).await;

    // A 400 would fail again: dead-lettered at once, and sent again when asked.
    hook.script(&[(400, None)]);
    let second = with(
        &ioc_form(&app.creds.sensor_key),
        "ioc_uuid",
        Some(&numbered_uuid(2)),
    );
    assert_ok(&pusher.post(IOC, &pairs(&second)).await);
    let got = hook.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(hook.received().len(), 3, "a 400 is not retried");
    let dead = dead_letters(&admin, "chat").await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["delivery_id"].to_string(), got[2].delivery);
    assert!(
        dead[0]["last_error"].as_str().unwrap().contains("HTTP 400"),
        "{}",
        dead[0]
    );
    let resent = admin.post(RESEND, &[("destination", "chat")]).await;
    assert_eq!(resent["data"]["resent"], 1, "{resent}");
    let got = hook.wait_for(4).await;
    assert_eq!(got[3].delivery, got[2].delivery, "the same delivery id");
    assert!(dead_letters(&admin, "chat").await.is_empty());
    settles(|| async { admin.get_ok(DESTINATIONS, &[]).await["destinations"][0]["pending"] == 0 })
        .await;

    // Only admin users of the account see or change destinations.
    assert_error(
        &pusher.get(DESTINATIONS, &[]).await,
        2010,
        "admin users only",
    );
    let other = app.other_tenant().await;
    let stranger = Client::new(&app.base);
    stranger.login_user(&other.username, &other.password).await;
    let theirs = stranger.get_ok(DESTINATIONS, &[]).await;
    assert_eq!(theirs["destinations"], serde_json::json!([]));
    assert_error(
        &stranger.get(DEAD, &[("destination", "chat")]).await,
        2002,
        "'destination'",
    );
    assert_error(
        &stranger.post(RESEND, &[("destination", "chat")]).await,
        2002,
        "'destination'",
    );
}

#[tokio::test]
async fn a_delivery_failing_past_its_time_is_dead_lettered_and_a_disabled_destination_gets_none() {
    let app = TestApp::start().await;
    let admin = app.user_client().await;
    let pusher = app.license_client().await;
    let hook = Receiver::start(Duration::ZERO).await;
    create(
        &admin,
        &[("name", "down"), ("target", &hook.url), ("dead_after", "2")],
    )
    .await;
    hook.script(&[(503, None); 20]);
    assert_ok(
        &pusher
            .post(IOC, &pairs(&ioc_form(&app.creds.sensor_key)))
            .await,
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while dead_letters(&admin, "down").await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "dead-lettered within its time and a retry"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let tries = hook.received();
    assert!(tries.len() >= 2, "retried before: {}", tries.len());
    assert!(tries.iter().all(|t| t.delivery == tries[0].delivery));

    // Disabled: nothing new is written for it; enabled again, it is sent what comes next.
    let off = admin
        .post(UPDATE, &[("destination", "down"), ("disabled", "True")])
        .await;
    assert_eq!(off["data"]["disabled"], true, "{off}");
    let second = with(
        &ioc_form(&app.creds.sensor_key),
        "ioc_uuid",
        Some(&numbered_uuid(2)),
    );
    assert_ok(&pusher.post(IOC, &pairs(&second)).await);
    let listed = admin.get_ok(DESTINATIONS, &[]).await;
    assert_eq!(listed["destinations"][0]["pending"], 0);
    assert_eq!(listed["destinations"][0]["dead_lettered"], 1);
    admin
        .post(UPDATE, &[("destination", "down"), ("disabled", "False")])
        .await;
    let before = hook.received().len();
    let third = with(
        &ioc_form(&app.creds.sensor_key),
        "ioc_uuid",
        Some(&numbered_uuid(3)),
    );
    assert_ok(&pusher.post(IOC, &pairs(&third)).await);
    let got = hook.wait_for(before + 1).await;
    assert_eq!(
        got[before].body["event"]["fields"]["ioc_uuid"],
        numbered_uuid(3)
    );
}

#[tokio::test]
async fn a_destination_is_refused_by_the_parameter_it_gets_wrong_and_tested_on_demand() {
    let app = TestApp::start().await;
    let admin = app.user_client().await;
    for (form, code, needle) in [
        (vec![("target", "tcp://siem.example")], 2001, "'name'"),
        (
            vec![("name", "a b"), ("target", "tcp://siem.example")],
            2002,
            "'name'",
        ),
        (
            vec![("name", "x"), ("target", "siem.example:514")],
            2002,
            "'target'",
        ),
        (
            vec![
                ("name", "x"),
                ("target", "https://h.example/"),
                ("format", "cef"),
            ],
            2002,
            "'format'",
        ),
        (
            vec![
                ("name", "x"),
                ("target", "tcp://h.example"),
                ("min_impact", "101"),
            ],
            2002,
            "'min_impact'",
        ),
        (
            vec![
                ("name", "x"),
                ("target", "tcp://h.example"),
                ("types", "url"),
            ],
            2002,
            "'types'",
        ),
        (
            vec![
                ("name", "x"),
                ("target", "tcp://h.example"),
                ("ca_pem", "x"),
            ],
            2002,
            "'ca_pem'",
        ),
        (
            vec![("name", "x"), ("target", "tcp://h.example"), ("bogus", "1")],
            2003,
            "bogus",
        ),
    ] {
        assert_error(&admin.post(CREATE, &form).await, code, needle);
    }
    create(&admin, &[("name", "x"), ("target", "tcp://127.0.0.1:9")]).await;
    assert_error(
        &admin
            .post(CREATE, &[("name", "x"), ("target", "tcp://127.0.0.1:9")])
            .await,
        2002,
        "'name'",
    );
    // Nothing listens on the discard port: the test says so, plainly.
    let refused = admin.post(TEST, &[("destination", "x")]).await;
    assert_error(&refused, 2011, "not delivered");
    let hook = Receiver::start(Duration::ZERO).await;
    create(
        &admin,
        &[("name", "hook"), ("target", &hook.url), ("format", "ocsf")],
    )
    .await;
    let sent = admin.post(TEST, &[("destination", "hook")]).await;
    assert_eq!(sent["data"]["sent"], true, "{sent}");
    let got = hook.wait_for(1).await;
    assert_eq!(got[0].body["class_uid"], 2004, "{}", got[0].body);
    assert_eq!(got[0].delivery, "0");
}
