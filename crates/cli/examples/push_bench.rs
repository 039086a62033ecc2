//! Push throughput and latency of a real server, next to its two ceilings: the cheapest
//! answer of the same HTTP stack (`/healthz`) and the store's raw insert rate.
//!
//! For each backend (SQLite in a temporary directory, PostgreSQL in a database of its own
//! on the server named by `PUSHDETECT_TEST_POSTGRES`), one server runs in this process on a
//! loopback port; 1, 16 and 64 clients, each on one keep-alive connection, share one
//! logged-in session and push file downloads (`push_file_download`, each naming the one
//! analysis task registered for the license, each different, so none is a resent push);
//! then 16 clients send batch pushes of 100 such events (a tenth as many requests); last,
//! 16 clients push with no forwarding destination and with one that is down, in turns.
//!
//! Usage: push_bench [PUSHES] [sqlite|postgres|both] [store|forward]   (see
//! scripts/bench-push.sh; `store` measures the store's ceilings only, e.g. under a
//! profiler; `forward` only the pushes with and without a destination down)

use pushdetect_server::provision::init_account;
use pushdetect_server::{AppState, Config};
use pushdetect_store::group_commit::{EventWrite, GroupCommit};
use pushdetect_store::{Actor, Dedup, NewEvent, Principal, Store, Task, Triage};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The allocator of the `pushdetect` binary, so that the server here runs as it does there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONNECTIONS: [usize; 3] = [1, 16, 64];
/// Events per batch push, and connections sending batches.
const BATCH_EVENTS: usize = 100;
const BATCH_CONNECTIONS: usize = 16;
/// The analysis task every pushed download names (an external task of the license).
const TASK: &str = "88450dbe3c0600000ffa2b3a90b8560d";
/// The task the raw inserts name (of the other account).
const RAW_TASK: &str = "99450dbe3c0600000ffa2b3a90b8560d";

/// Latencies of one run and its wall time.
struct Run {
    latencies: Vec<Duration>,
    wall: Duration,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.wall.as_secs_f64()
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[i].as_secs_f64() * 1000.0
    }
}

/// `total` requests from `connections` clients, each on its own keep-alive connection.
async fn load<F>(connections: usize, total: usize, make: F) -> Run
where
    F: Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let start = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let make = make.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .http1_only()
                    .build()
                    .unwrap();
                let mut latencies = Vec::new();
                let mut i = c;
                while i < total {
                    let t = Instant::now();
                    let r = make(&client, i).send().await.expect("request");
                    assert!(r.status().is_success(), "HTTP {}", r.status());
                    let body = r.bytes().await.expect("body");
                    assert!(
                        !body.starts_with(b"{\"success\":0"),
                        "{}",
                        String::from_utf8_lossy(&body)
                    );
                    latencies.push(t.elapsed());
                    i += connections;
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(total);
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    Run {
        latencies,
        wall: start.elapsed(),
    }
}

fn event(account: i64, license: i64, sensor: i64, i: usize) -> NewEvent {
    let host = format!("10.1.{}.{}", (i / 250) % 250, i % 250);
    NewEvent {
        account_id: account,
        sensor_id: sensor,
        license_id: license,
        pushed_by: Principal::License(license),
        kind: "file_download".into(),
        received_at_ms: 1_700_000_000_000 + i as i64,
        occurred_at_ms: 1_700_000_000_000 + i as i64,
        vendor_name: "Bench".into(),
        tool_name: "raw".into(),
        hosts: vec![host.clone()],
        // The shape of a pushed download: the parsed fields and the parameters as sent.
        fields: serde_json::json!({
            "task_uuid": RAW_TASK, "src_ip": host, "dst_ip": "203.0.113.7",
            "application_protocol": "HTTP", "filename": format!("/downloads/file-{i}.exe"),
            "download_time": "2023-11-14T22:13:20Z",
            "reporter": {"vendor_name": "Bench", "tool_name": "raw"},
        }),
        raw_params: serde_json::json!({
            "task_uuid": RAW_TASK, "src_ip": host, "dst_ip": "203.0.113.7",
            "application_protocol": "HTTP", "filename": format!("/downloads/file-{i}.exe"),
            "download_time": "1700000000", "vendor_name": "Bench", "tool_name": "raw",
            "key": "RAWKEY:RAWSUB",
        }),
        triage: Triage {
            action: None,
            base_impact: None,
            task_uuids: vec![RAW_TASK.to_owned()],
            ..Triage::default()
        },
        incident_window_ms: 3_600_000,
        reopen_closed: true,
    }
}

/// Events per second stored straight through the store's group commit (as the push
/// handlers store them, without HTTP, parsing or lookups) by `writers` concurrent writers,
/// each handing over `group` events at once (1 as a single push does, more as a batch
/// push does): the store's ceiling at that concurrency. Events are numbered from `first`,
/// so that runs do not resend each other's events.
async fn raw_groups(
    store: Arc<dyn Store>,
    ids: (i64, i64, i64),
    total: usize,
    writers: usize,
    group: usize,
    first: usize,
) -> f64 {
    let commit = GroupCommit::start(store);
    let start = Instant::now();
    let groups = total / group;
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let commit = commit.clone();
            tokio::spawn(async move {
                let mut g = w;
                while g < groups {
                    let writes = (0..group)
                        .map(|k| {
                            let i = first + g * group + k;
                            EventWrite {
                                event: event(ids.0, ids.1, ids.2, i),
                                dedup: Some(Dedup {
                                    fingerprint: format!("raw-{i}"),
                                    since_ms: 0,
                                    keep_until_ms: i64::MAX,
                                }),
                            }
                        })
                        .collect();
                    commit.write_all(writes).await.unwrap();
                    g += writers;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    (groups * group) as f64 / start.elapsed().as_secs_f64()
}

/// Peak resident memory of this process (server and load generator), MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn bench(name: &str, store: Arc<dyn Store>, pushes: usize, only: Option<&str>) {
    let (account, creds) = init_account(store.as_ref(), "bench", "admin")
        .await
        .unwrap();
    let raw_store = {
        let other = store
            .create_account("raw", &Actor::operator(), 0)
            .await
            .unwrap();
        let license = store
            .create_license(other.id, "raw", "RAWKEY", "x", &Actor::operator(), 0)
            .await
            .unwrap();
        let sensor = store
            .create_sensor(license.id, "RAWSUB", "raw", &Actor::operator(), 0)
            .await
            .unwrap();
        store
            .create_task(&Task::external(RAW_TASK, other.id, license.id, 0))
            .await
            .unwrap();
        (other.id, license.id, sensor.id)
    };
    store
        .create_task(&Task::external(TASK, account.id, creds.key_id, 0))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let analysis = pushdetect_server::analyst::Analysis {
        engine: Arc::new(pushdetect_analysis::Engine::new(Default::default()).unwrap()),
        content: pushdetect_server::analyst::content::ContentStore::open(
            &dir.path().join("content"),
        )
        .unwrap(),
        wake: tokio::sync::Notify::new(),
        max_upload_bytes: 1024 * 1024,
        max_queued_per_license: pushdetect_server::analyst::DEFAULT_MAX_QUEUED_PER_LICENSE,
        workers: 0,
    };
    let state = AppState::new(store.clone(), Config::default(), analysis);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(pushdetect_server::serve(listener, state, async {
        let _ = stopped.await;
    }));

    // One session, as a sensor's client keeps it.
    let login = reqwest::Client::new()
        .post(format!("{base}/papi/login.json"))
        .form(&[
            ("api_key", creds.access_key.as_str()),
            ("api_token", creds.api_token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("pushdetect_session="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();

    // `forward` measures the forwarding case alone.
    if only != Some("forward") {
        let mut raw = Vec::new();
        for writers in CONNECTIONS {
            let first = writers * 1_000_000;
            raw.push(raw_groups(store.clone(), raw_store, pushes, writers, 1, first).await);
        }
        let grouped = raw_groups(
            store.clone(),
            raw_store,
            pushes * 10,
            BATCH_CONNECTIONS,
            BATCH_EVENTS,
            100_000_000,
        )
        .await;
        println!(
            "\n{name}: raw store inserts/s with 1, 16, 64 writers: {:.0}, {:.0}, {:.0}; \
             {BATCH_CONNECTIONS} writers of groups of {BATCH_EVENTS}: {grouped:.0}",
            raw[0], raw[1], raw[2]
        );
        if only == Some("store") {
            return;
        }
        println!("| backend | connections | healthz/s | pushes/s | push p50 ms | push p99 ms | pushes / healthz | pushes / raw inserts |");
        println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
        for (connections, raw_ceiling) in CONNECTIONS.into_iter().zip(raw) {
            let url = format!("{base}/healthz");
            let health = load(connections, pushes, move |c, _| c.get(&url)).await;
            let push = downloads(
                &base,
                &cookie,
                &creds.sensor_key,
                connections,
                pushes,
                connections * 1_000_000,
            )
            .await;
            println!(
                "| {name} | {connections} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} |",
                health.per_second(),
                push.per_second(),
                push.percentile_ms(0.5),
                push.percentile_ms(0.99),
                push.per_second() / health.per_second(),
                push.per_second() / raw_ceiling,
            );
        }
        // Batch pushes: 16 connections, 100 events per request, ten times the events.
        let url = format!("{base}/papi/push_detection/batch/push_events.json");
        let key = creds.sensor_key.clone();
        let requests = pushes / 10;
        let batch_cookie = cookie.clone();
        let batch = load(BATCH_CONNECTIONS, requests, move |c, i| {
            let mut body = String::with_capacity(BATCH_EVENTS * 400);
            for k in 0..BATCH_EVENTS {
                let n = 10_000_000 + i * BATCH_EVENTS + k;
                body.push_str(
                    &serde_json::json!({
                        "method": "push_file_download",
                        "task_uuid": TASK,
                        "src_ip": format!("10.3.{}.{}", (n / 250) % 250, n % 250),
                        "dst_ip": "203.0.113.7",
                        "application_protocol": "HTTP",
                        "filename": format!("/downloads/file-{n}.exe"),
                        "download_time": 1_700_000_000 + n,
                        "vendor_name": "Bench",
                        "tool_name": "push_bench",
                        "key": key,
                    })
                    .to_string(),
                );
                body.push('\n');
            }
            c.post(&url)
                .header("cookie", batch_cookie.as_str())
                .body(body)
        })
        .await;
        println!(
            "| {name} | batch of {BATCH_EVENTS}, {BATCH_CONNECTIONS} connections | | {:.0} events/s | {:.2} | {:.2} | | |",
            batch.per_second() * BATCH_EVENTS as f64,
            batch.percentile_ms(0.5),
            batch.percentile_ms(0.99),
        );
    }
    forwarding_down(
        name,
        store.as_ref(),
        account.id,
        &base,
        &cookie,
        &creds.sensor_key,
        pushes,
    )
    .await;
    println!(
        "{name}: peak resident memory of the process so far: {:.0} MiB",
        peak_rss_mib()
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

/// `pushes` single pushes of file downloads over `connections` keep-alive connections,
/// numbered from `offset`.
async fn downloads(
    base: &str,
    cookie: &str,
    key: &str,
    connections: usize,
    pushes: usize,
    offset: usize,
) -> Run {
    let url = format!("{base}/papi/push_detection/file_capture/push_file_download.json");
    let key = key.to_owned();
    let cookie = cookie.to_owned();
    load(connections, pushes, move |c, i| {
        let n = offset + i;
        c.post(&url).header("cookie", cookie.as_str()).form(&[
            ("task_uuid", TASK),
            ("src_ip", &format!("10.2.{}.{}", (n / 250) % 250, n % 250)),
            ("dst_ip", "203.0.113.7"),
            ("application_protocol", "HTTP"),
            ("filename", &format!("/downloads/file-{n}.exe")),
            ("download_time", &(1_700_000_000 + n).to_string()),
            ("vendor_name", "Bench"),
            ("tool_name", "push_bench"),
            ("key", key.as_str()),
        ])
    })
    .await
}

/// Pushes per second with no forwarding destination, and with one that is down (a
/// webhook on a closed port, every event queued for it): in turns, four times each, at 16
/// connections. The outbox grows; pushes should not slow.
async fn forwarding_down(
    name: &str,
    store: &dyn Store,
    account: i64,
    base: &str,
    cookie: &str,
    key: &str,
    pushes: usize,
) {
    let down = store
        .create_destination(
            &pushdetect_store::forwarding::NewDestination {
                account_id: account,
                name: "down".into(),
                target: "http://127.0.0.1:9/hook".into(),
                format: "json".into(),
                filter: pushdetect_model::forwarding::Filter::all_events().to_json(),
                options: serde_json::json!({}),
                secret: Some("bench-signing-key-0123456789".into()),
                dead_after_secs: 86_400,
                created_at_ms: 0,
            },
            &Actor::operator(),
        )
        .await
        .unwrap();
    let (mut none, mut with_down) = (Vec::new(), Vec::new());
    // In the order A B B A B A A B, so that a drift over the runs (the tables grow) weighs
    // on both cases alike.
    for (round, is_down) in [false, true, true, false, true, false, false, true]
        .into_iter()
        .enumerate()
    {
        store
            .set_destination_disabled(account, down.id, !is_down, &Actor::operator())
            .await
            .unwrap();
        let run = downloads(
            base,
            cookie,
            key,
            16,
            pushes,
            200_000_000 + round * 1_000_000,
        )
        .await;
        if is_down {
            with_down.push(run.per_second());
        } else {
            none.push(run.per_second());
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let depth = store.outbox_depths(Some(account)).await.unwrap();
    println!(
        "{name}: pushes/s at 16 connections with no destination {:.0}, with one down {:.0} \
         ({:+.1} %); outbox {} deliveries waiting",
        mean(&none),
        mean(&with_down),
        (mean(&with_down) / mean(&none) - 1.0) * 100.0,
        depth.iter().map(|d| d.pending).sum::<i64>(),
    );
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let pushes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5000);
    let which = args.next().unwrap_or_else(|| "both".into());
    // `store`: the store's figures only (for profiling the write path).
    let only = args.next();
    let only = only.as_deref();
    println!(
        "{pushes} requests per run; {} cores; server and load generator in one process",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    if which == "sqlite" || which == "both" {
        let dir = tempfile::tempdir().unwrap();
        let store = pushdetect_store::sqlite::SqliteStore::open(&dir.path().join("bench.db"))
            .await
            .unwrap();
        bench("sqlite", Arc::new(store), pushes, only).await;
    }
    if which == "postgres" || which == "both" {
        let admin = std::env::var("PUSHDETECT_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("pushdetect_bench_{}", std::process::id());
        let base = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(b, _)| b)
            .to_owned();
        let url = format!("{base}/{name}");
        let store = pushdetect_store::postgres::PgStore::connect(&url)
            .await
            .unwrap();
        bench("postgres", Arc::new(store), pushes, only).await;
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut c)
            .await
            .unwrap();
    }
}
