//! A real server on a random loopback port, over a fresh SQLite database, per test.

use pushdetect_server::analyst::DEFAULT_MAX_QUEUED_PER_LICENSE;
use pushdetect_server::provision::{add_license, add_sensor, init_account, InitialCredentials};
use pushdetect_server::{AppState, Config};
use pushdetect_store::sqlite::SqliteStore;
use pushdetect_store::{Store, Task};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::oneshot;

/// A running server and the credentials of its first account.
pub struct TestApp {
    pub base: String,
    pub creds: InitialCredentials,
    pub store: Arc<dyn Store>,
    /// Kept so the database outlives the test.
    _dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    pub async fn start() -> TestApp {
        Self::start_with(Config::default()).await
    }

    pub async fn start_with(config: Config) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("pushdetect.db"))
                .await
                .unwrap(),
        );
        let (_, creds) = init_account(store.as_ref(), "default", "admin")
            .await
            .unwrap();
        Self::serve(dir, store, creds, config, 2, DEFAULT_MAX_QUEUED_PER_LICENSE).await
    }

    /// Stops this server and starts another on the same data with `workers` workers.
    pub async fn restart(self, workers: usize) -> TestApp {
        self.restart_with(workers, DEFAULT_MAX_QUEUED_PER_LICENSE)
            .await
    }

    /// A server with no analysis workers on which one license may queue `limit` tasks.
    pub async fn start_with_queue_limit(limit: u32) -> TestApp {
        Self::start().await.restart_with(0, limit).await
    }

    /// Stops this server and starts another on the same data with `workers` workers and
    /// at most `queue_limit` queued tasks per license.
    async fn restart_with(mut self, workers: usize, queue_limit: u32) -> TestApp {
        let dir = std::mem::replace(&mut self._dir, tempfile::tempdir().unwrap());
        let creds = self.creds.clone();
        self.stop_in_place().await;
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("pushdetect.db"))
                .await
                .unwrap(),
        );
        Self::serve(dir, store, creds, Config::default(), workers, queue_limit).await
    }

    /// Like `start`, with no analysis workers: submissions stay queued.
    pub async fn start_without_workers() -> TestApp {
        Self::start().await.restart(0).await
    }

    async fn serve(
        dir: tempfile::TempDir,
        store: Arc<dyn Store>,
        creds: InitialCredentials,
        config: Config,
        workers: usize,
        queue_limit: u32,
    ) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let analysis = pushdetect_server::analyst::Analysis {
            engine: Arc::new(pushdetect_analysis::Engine::new(Default::default()).unwrap()),
            content: pushdetect_server::analyst::content::ContentStore::open(
                &dir.path().join("content"),
            )
            .unwrap(),
            wake: tokio::sync::Notify::new(),
            max_upload_bytes: 1024 * 1024,
            max_queued_per_license: queue_limit,
            workers,
        };
        let state = AppState::new(store.clone(), config, analysis);
        let handle = tokio::spawn(async move {
            pushdetect_server::serve(listener, state, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        TestApp {
            base,
            creds,
            store,
            _dir: dir,
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        self.stop_in_place().await;
    }

    /// Signals the server to stop without waiting for it; `stop` then waits.
    pub fn signal_stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }

    /// The value of one series on the server's `/metrics` (`name{labels}` exactly as
    /// exposed), if it exists yet.
    pub async fn metric(&self, series: &str) -> Option<i64> {
        let metrics = self.metrics_text().await;
        metrics.lines().find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')
                .map(|n| n.trim().parse().unwrap())
        })
    }

    /// The server's `/metrics` as it is now.
    pub async fn metrics_text(&self) -> String {
        reqwest::get(self.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Waits (bounded) until `n` requests other than this question are in flight, as the
    /// server's `pushdetect_requests_in_flight` gauge says.
    pub async fn wait_for_requests_in_flight(&self, n: i64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let in_flight = self
                .metric("pushdetect_requests_in_flight")
                .await
                .expect("the gauge is exposed");
            // The metrics request itself is one of them.
            if in_flight > n {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} requests in flight, not {n}",
                in_flight - 1
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Waits (bounded) until the server takes no new connections: it is stopping.
    pub async fn wait_until_refusing(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while tokio::net::TcpStream::connect(self.addr()).await.is_ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "still accepting connections"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The data dir (database, content).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// The server's `host:port`.
    pub fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    async fn stop_in_place(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A client logged in as the first account's admin user.
    pub async fn user_client(&self) -> Client {
        let c = Client::new(&self.base);
        c.login_user(&self.creds.username, &self.creds.password)
            .await;
        c
    }

    /// A client logged in with the first account's license.
    pub async fn license_client(&self) -> Client {
        let c = Client::new(&self.base);
        c.login_license(&self.creds.access_key, &self.creds.api_token)
            .await;
        c
    }

    /// Records an analysis task of the first license, as the Analyst API will.
    pub async fn create_task(&self, uuid: &str) {
        self.create_task_for(uuid, self.creds.key_id).await;
    }

    pub async fn create_task_for(&self, uuid: &str, license_id: i64) {
        let license = self.store.find_license(license_id).await.unwrap().unwrap();
        self.store
            .create_task(&Task::external(uuid, license.account_id, license_id, 0))
            .await
            .unwrap();
    }

    /// The subkey_id of the sensor with `sensor_key` (`access_key:subkey`).
    pub async fn subkey_id_of(&self, sensor_key: &str) -> i64 {
        let (access, subkey) = sensor_key.split_once(':').unwrap();
        self.store
            .find_sensor_by_key(access, subkey)
            .await
            .unwrap()
            .unwrap()
            .id
    }

    /// The access key of license `key_id`.
    pub async fn access_key_of(&self, key_id: i64) -> String {
        self.store
            .find_license(key_id)
            .await
            .unwrap()
            .unwrap()
            .access_key
    }

    /// The id of the first account.
    pub async fn account_id(&self) -> i64 {
        self.store
            .find_license(self.creds.key_id)
            .await
            .unwrap()
            .unwrap()
            .account_id
    }

    /// A second license (with one sensor) in the first account: (key_id, sensor key).
    pub async fn second_license(&self) -> (i64, String, String) {
        let l = add_license(
            self.store.as_ref(),
            self.account_id().await,
            "second",
            &pushdetect_store::Actor::operator(),
        )
        .await
        .unwrap();
        let s = add_sensor(
            self.store.as_ref(),
            l.license.id,
            "s2",
            &pushdetect_store::Actor::operator(),
        )
        .await
        .unwrap();
        (
            l.license.id,
            format!("{}:{}", l.license.access_key, s.subkey),
            l.api_token,
        )
    }

    /// Another tenant with its own credentials.
    pub async fn other_tenant(&self) -> InitialCredentials {
        init_account(self.store.as_ref(), "other", "mallory")
            .await
            .unwrap()
            .1
    }

    /// Number of stored events of the first account, counted through the read API.
    /// The ioc_uuid of every stored event of the first account, in the order they were
    /// stored (by id); "-" for an event without one.
    pub async fn stored_ioc_uuids(&self) -> Vec<String> {
        let filter = pushdetect_store::EventFilter {
            limit: 100_000,
            ..Default::default()
        };
        let mut events = self
            .store
            .list_events(self.account_id().await, &filter)
            .await
            .unwrap();
        events.sort_by_key(|e| e.id);
        events
            .iter()
            .map(|e| e.raw_params["ioc_uuid"].as_str().unwrap_or("-").to_owned())
            .collect()
    }

    pub async fn event_count(&self) -> usize {
        let c = self.user_client().await;
        c.get_ok("/papi/push_detection/event/list.json", &[("limit", "1000")])
            .await["events"]
            .as_array()
            .unwrap()
            .len()
    }
}

/// An HTTP client with a cookie jar, as papi_client keeps its session (a clone shares the
/// jar).
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    base: String,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .unwrap(),
            base: base.to_owned(),
        }
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn login_user(&self, username: &str, password: &str) {
        let v = self
            .post(
                "/papi/login",
                &[("username", username), ("password", password)],
            )
            .await;
        assert_eq!(v["success"], 1, "login failed: {v}");
    }

    pub async fn login_license(&self, key: &str, token: &str) {
        let v = self
            .post("/papi/login", &[("api_key", key), ("api_token", token)])
            .await;
        assert_eq!(v["success"], 1, "login failed: {v}");
    }

    /// POSTs a form; asserts HTTP 200 and returns the JSON envelope.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let r = self
            .http
            .post(format!("{}{}", self.base, path))
            .form(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        r.json().await.unwrap()
    }

    /// GETs with a query; asserts HTTP 200 and returns the JSON envelope.
    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let r = self
            .http
            .get(format!("{}{}", self.base, path))
            .query(query)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        r.json().await.unwrap()
    }

    /// GETs and returns `data` of a successful answer.
    pub async fn get_ok(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let v = self.get(path, query).await;
        assert_eq!(v["success"], 1, "{path}: {v}");
        v["data"].clone()
    }

    pub async fn text(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, &str)],
    ) -> (u16, String) {
        let r = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .form(form)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

/// Sends a request and reads its JSON answer.
pub async fn json(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// Asserts a successful "OK".
pub fn assert_ok(v: &Value) {
    assert_eq!(v, &serde_json::json!({"success": 1, "data": "OK"}));
}

/// Asserts an error with this code whose message mentions `needle`.
pub fn assert_error(v: &Value, code: u32, needle: &str) {
    assert_eq!(v["success"], 0, "expected an error, got {v}");
    assert_eq!(v["error_code"], code, "{v}");
    let msg = v["error"].as_str().unwrap();
    assert!(
        msg.contains(needle),
        "message {msg:?} should mention {needle:?}"
    );
}

pub const TASK: &str = "88450dbe3c0600000ffa2b3a90b8560d";
pub const FILE_DOWNLOAD: &str = "/papi/push_detection/file_capture/push_file_download.json";
pub const IOC: &str = "/papi/push_detection/ioc/push_result.json";
pub const IOC_SPEC_URL: &str = "/papi/push_detection/push_result.json";
pub const MAIL: &str = "/papi/push_detection/mail_capture/push_mail.json";
pub const LIST: &str = "/papi/push_detection/event/list.json";
pub const GET: &str = "/papi/push_detection/event/get.json";

/// A complete, valid push_file_download form (HTTP) for the first sensor.
pub fn download_form(key: &str) -> Vec<(&'static str, String)> {
    vec![
        ("task_uuid", TASK.to_owned()),
        ("src_ip", "10.0.0.5".to_owned()),
        ("dst_ip", "203.0.113.7".to_owned()),
        ("application_protocol", "HTTP".to_owned()),
        ("filename", "/downloads/invoice.exe".to_owned()),
        ("vendor_name", "Acme".to_owned()),
        ("tool_name", "NetSensor".to_owned()),
        ("key", key.to_owned()),
    ]
}

/// The parameters of push_result the spec requires, besides the network selection.
pub const IOC_REQUIRED: [&str; 7] = [
    "vendor_name",
    "tool_name",
    "ioc_uuid",
    "ioc_source",
    "ioc_matched",
    "match_confidence",
    "hostname",
];

/// A complete, valid push_result form for the first sensor.
pub fn ioc_form(key: &str) -> Vec<(&'static str, String)> {
    vec![
        ("vendor_name", "Acme".to_owned()),
        ("tool_name", "IocScan".to_owned()),
        (
            "ioc_uuid",
            "0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10".to_owned(),
        ),
        ("ioc_source", "threat-feed".to_owned()),
        ("main_ipv4", "10.0.0.9".to_owned()),
        ("ioc_matched", "True".to_owned()),
        ("match_confidence", "85".to_owned()),
        ("hostname", "WS-09".to_owned()),
        ("key", key.to_owned()),
    ]
}

/// The IOC uuid numbered `n`: distinct pushes of one test, told apart once stored.
pub fn numbered_uuid(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// `ioc_form` with the IOC uuid numbered `n`.
pub fn ioc_numbered(key: &str, n: usize) -> Vec<(&'static str, String)> {
    with(&ioc_form(key), "ioc_uuid", Some(&numbered_uuid(n)))
}

/// A batch-push item: a form and its method.
pub fn batch_item(method: &str, form: &[(&'static str, String)]) -> Value {
    let mut item = serde_json::Map::new();
    item.insert("method".into(), serde_json::json!(method));
    for (k, v) in form {
        item.insert((*k).into(), serde_json::json!(v));
    }
    Value::Object(item)
}

/// The spec's sample mail object, quotes straightened, exactly as printed.
pub const SPEC_SAMPLE_MAIL: &str = r#"{
  "message": {
    "message_id": "asdfasdasfdsasdrfe3434fs", "date": "Tue, 1 May 2018 17:24:16 -0400 (EST)", "sender": "support@corp.com", "recipients": ["jane.doe@corp.com","support@corp.com>"], "subject": "Mail subject", "received_timestamp": "2018-06-04 10:11:12"
  }, "attachments": [
    {
      "filename": "somefile.exe", "size": 23454234, "task_uuid": "88450dbe3c0600000ffa2b3a90b8560d", "action": "WARN"
    }
  ], "urls": [
    {
      "url": "https://evil.hacker.com", "task_uuid": "dcbadcbadcbadcbadcbadcbadcbadcba", "action": "LOG"
    }
  ], "action": "LOG"
}"#;

pub fn mail_form(key: &str, mail: &str) -> Vec<(&'static str, String)> {
    vec![
        ("mail_json_str", mail.to_owned()),
        ("vendor_name", "Acme".to_owned()),
        ("tool_name", "MailGate".to_owned()),
        ("key", key.to_owned()),
    ]
}

/// Borrows a form for `Client::post`.
pub fn pairs<'a>(form: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// A form with one field replaced (or removed when `value` is None) or added.
pub fn with(
    form: &[(&'static str, String)],
    name: &'static str,
    value: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut out: Vec<_> = form.iter().filter(|(k, _)| *k != name).cloned().collect();
    if let Some(v) = value {
        out.push((name, v.to_owned()));
    }
    out
}
