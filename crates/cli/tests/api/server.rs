//! Transport-level behaviour: routes, limits, the OpenAPI document, health and metrics.

use crate::support::*;
use pushdetect_server::Config;
use serde_json::Value;

#[tokio::test]
async fn the_openapi_document_and_the_router_agree() {
    let app = TestApp::start().await;
    let http = reqwest::Client::new();
    let doc: Value = http
        .get(app.url("/papi/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut checked = 0;
    for (path, item) in paths {
        for (method, _) in item
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| *k != "parameters")
        {
            let concrete: Vec<String> = if path.contains("{format}") {
                vec![
                    path.replace("{format}", "json"),
                    path.replace("{format}", "xml"),
                ]
            } else {
                vec![path.clone()]
            };
            for p in concrete {
                let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let r = http.request(m, app.url(&p)).send().await.unwrap();
                assert_eq!(r.status(), 200, "{method} {p} is documented but not served");
                checked += 1;
            }
        }
    }
    assert!(checked >= 40, "only {checked} operations documented");
    // Every parameter of every push method is documented.
    let body = &paths["/papi/push_detection/file_capture/push_file_download"]["post"]
        ["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"];
    // Spelled out from the spec (push_file_download), not read from the method table.
    let mut documented: Vec<&str> = body["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    documented.sort_unstable();
    let mut spec = SPEC_FILE_DOWNLOAD_PARAMS.to_vec();
    spec.sort_unstable();
    assert_eq!(documented, spec);
    assert_eq!(
        body["properties"]["application_protocol"]["enum"],
        serde_json::json!(["HTTP", "HTTPS", "FTP", "SMB", "other"])
    );
    // The batch push takes JSON: an array of items, or JSON lines, of the three methods.
    let batch = &paths["/papi/push_detection/batch/push_events"]["post"];
    let content = &batch["requestBody"]["content"];
    assert_eq!(content["application/json"]["schema"]["type"], "array");
    let methods: Vec<&Value> = content["application/x-ndjson"]["schema"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| &item["properties"]["method"]["enum"][0])
        .collect();
    assert_eq!(
        methods,
        ["push_file_download", "push_result", "push_mail"]
            .map(|m| serde_json::json!(m))
            .iter()
            .collect::<Vec<_>>()
    );
    // Every push may carry an idempotency key.
    for push in [
        "/papi/push_detection/batch/push_events",
        "/papi/push_detection/ioc/push_result",
        "/papi/push_detection/mail_capture/push_mail",
    ] {
        assert_eq!(
            paths[push]["post"]["parameters"][0]["name"], "Idempotency-Key",
            "{push}"
        );
    }
    // And an undocumented path is not served.
    let r = http
        .post(app.url("/papi/push_detection/file_capture/push_file_upload.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn oversized_bodies_answer_413_and_nothing_is_stored() {
    let app = TestApp::start_with(Config {
        max_body_bytes: 16 * 1024,
        ..Config::default()
    })
    .await;
    let c = app.user_client().await;
    let big = "x".repeat(32 * 1024);
    let form = with(&ioc_form(&app.creds.sensor_key), "ioc_source", Some(&big));
    let (status, _) = c.text(reqwest::Method::POST, IOC, &pairs(&form)).await;
    assert_eq!(status, 413);
    // Multipart, with the long field among the others and as the first part (the limit
    // is then reached while that part's content is read, not between parts).
    let mut first = form.clone();
    first.sort_by_key(|(k, _)| *k != "ioc_source");
    for order in [form, first] {
        let mut mp = reqwest::multipart::Form::new();
        for (k, v) in order {
            mp = mp.text(k, v);
        }
        let r = c
            .http
            .post(app.url(IOC))
            .multipart(mp)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413);
    }
    assert_eq!(app.event_count().await, 0);
}

/// A body that arrives in pieces (chunked, as a streaming client sends it) and passes the
/// limit while a multipart part's content is being read also answers 413.
#[tokio::test]
async fn a_limit_passed_inside_a_streamed_multipart_part_answers_413() {
    let app = TestApp::start_with(Config {
        max_body_bytes: 16 * 1024,
        ..Config::default()
    })
    .await;
    let c = app.user_client().await;
    let head = b"--B\r\nContent-Disposition: form-data; name=\"ioc_source\"\r\n\r\n".to_vec();
    let mut pieces = vec![head];
    pieces.extend(std::iter::repeat_n(vec![b'x'; 4096], 8));
    pieces.push(b"\r\n--B--\r\n".to_vec());
    let stream = futures::stream::iter(pieces.into_iter().map(Ok::<_, std::io::Error>));
    let r = c
        .http
        .post(app.url(IOC))
        .header("content-type", "multipart/form-data; boundary=B")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn unreadable_bodies_are_api_errors_not_crashes() {
    let app = TestApp::start().await;
    let c = app.user_client().await;
    let r = c
        .http
        .post(app.url(IOC))
        .header("content-type", "application/json")
        .body("{\"vendor_name\": \"x\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_error(&r.json().await.unwrap(), 2008, "x-www-form-urlencoded");
    let r = c.http.get(app.url(IOC)).send().await.unwrap();
    assert_eq!(r.status(), 405);
}

#[tokio::test]
async fn health_and_metrics() {
    let app = TestApp::start().await;
    let http = reqwest::Client::new();
    let h: Value = http
        .get(app.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "ok");
    let c = app.user_client().await;
    assert_ok(&c.post(IOC, &pairs(&ioc_form(&app.creds.sensor_key))).await);
    c.post(IOC, &[("bogus", "1")]).await;
    let m = app.metrics_text().await;
    assert!(
        m.contains("pushdetect_events_stored_total{type=\"ioc\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("pushdetect_api_errors_total{code=\"2003\"} 1"),
        "{m}"
    );
    // One series per method, however its format is spelled.
    let plain = c
        .post(
            "/papi/push_detection/ioc/push_result",
            &pairs(&ioc_form(&app.creds.sensor_key)),
        )
        .await;
    assert_ok(&plain);
    let m = app.metrics_text().await;
    assert!(
        m.contains("pushdetect_http_requests_total{endpoint=\"/papi/push_detection/ioc/push_result\",method=\"POST\",status=\"200\"} 3"),
        "{m}"
    );
    assert!(!m.contains("push_result.json"), "{m}");
    // The build, the process, the group committer and the analysis queue.
    assert!(
        m.contains(&format!(
            "pushdetect_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{m}"
    );
    for series in [
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
        "process_open_fds ",
        "process_max_fds ",
        "process_start_time_seconds ",
        "pushdetect_group_commit_batch_writes_count{kind=\"events\"} ",
        "pushdetect_group_commit_seconds_count{kind=\"events\"} ",
        "pushdetect_analysis_tasks{state=\"queued\"} 0",
        "pushdetect_analysis_task_seconds_count 0",
    ] {
        assert!(m.contains(&format!("\n{series}")), "{series}: {m}");
    }
    let rss = m
        .lines()
        .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap();
    assert!(rss > 1e6, "{rss}");
    let batches = app
        .metric("pushdetect_group_commit_batch_writes_count{kind=\"events\"}")
        .await;
    assert!(batches.is_some_and(|n| n >= 1), "{batches:?}");
    assert!(
        m.contains("pushdetect_http_request_duration_seconds_count{endpoint=\"/papi/login\"} 1"),
        "{m}"
    );
    // The listener's gauges: this request is the one in flight; at least its connection
    // and the logged-in client's kept-alive one are open.
    assert!(m.contains("\npushdetect_requests_in_flight 1\n"), "{m}");
    let open = app.metric("pushdetect_connections_open").await.unwrap();
    assert!(open >= 2, "{open} connections open: {m}");
}

/// (That requests in flight finish during the grace period is tested in connections.rs.)
#[tokio::test]
async fn after_a_graceful_stop_the_store_is_closed() {
    let app = TestApp::start().await;
    let c = app.user_client().await;
    assert_ok(&c.post(IOC, &pairs(&ioc_form(&app.creds.sensor_key))).await);
    let store = app.store.clone();
    app.stop().await;
    // The store was closed after the server stopped.
    assert!(store.find_user("admin").await.is_err());
}

/// The parameters of push_file_download as the spec lists them.
const SPEC_FILE_DOWNLOAD_PARAMS: [&str; 24] = [
    "task_uuid",
    "src_ip",
    "dst_ip",
    "dst_hostname",
    "application_protocol",
    "filename",
    "vendor_name",
    "tool_name",
    "key",
    "key_id",
    "subkey_id",
    "download_time",
    "transport_protocol",
    "src_port",
    "dst_port",
    "src_hostname",
    "tool_version",
    "http_user_agent",
    "http_referer",
    "http_content_disposition_filename",
    "ftp_mode",
    "ftp_direction",
    "smb_direction",
    "smb_mount_point",
];

/// Every PAPI path the spec and the wire protocol name.
const SPEC_PATHS: [&str; 15] = [
    "/papi/login",
    "/papi/logout",
    "/papi/ping",
    "/papi/push_detection/ping",
    "/papi/push_detection/file_capture/ping",
    "/papi/push_detection/file_capture/push_file_download",
    "/papi/push_detection/ioc/ping",
    "/papi/push_detection/ioc/push_result",
    "/papi/push_detection/mail_capture/ping",
    "/papi/push_detection/mail_capture/push_mail",
    "/papi/push_detection/event/ping",
    "/papi/push_detection/event/list",
    "/papi/push_detection/event/get",
    "/papi/push_detection/incident/list",
    "/papi/push_detection/incident/get",
];

/// Every error code the wire protocol defines, and the ones pushdetect adds.
const ERROR_CODES: [u32; 16] = [
    2001, 2002, 2003, 2004, 2005, 2006, 2007, 2008, 2009, 2010, 2011, 3001, 3002, 3003, 3004, 5001,
];

#[test]
fn the_docs_name_every_parameter_and_error_code() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let api = std::fs::read_to_string(root.join("docs/api.md")).unwrap();
    for path in SPEC_PATHS {
        assert!(api.contains(path), "docs/api.md lacks {path}");
    }
    for p in SPEC_FILE_DOWNLOAD_PARAMS {
        assert!(api.contains(&format!("`{p}`")), "docs/api.md lacks {p}");
    }
    let errors = std::fs::read_to_string(root.join("docs/errors.md")).unwrap();
    for code in ERROR_CODES {
        assert!(
            errors.contains(&format!("| {code} |")),
            "docs/errors.md lacks {code}"
        );
    }
    let mut numbers: Vec<u32> = pushdetect_model::ErrorCode::ALL
        .iter()
        .map(|c| c.number())
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, ERROR_CODES, "the codes the server can send");
}

#[tokio::test]
async fn a_request_that_does_not_finish_in_time_answers_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::start_with(Config {
        request_timeout: std::time::Duration::from_millis(300),
        ..Config::default()
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // Promise a body and never send it.
    s.write_all(
        format!(
            "POST /papi/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nusername=x"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = vec![0u8; 64];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), s.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let head = String::from_utf8_lossy(&answer[..n]).into_owned();
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
}

#[tokio::test]
async fn invented_http_methods_do_not_create_metric_series() {
    let app = TestApp::start().await;
    let http = reqwest::Client::new();
    for i in 0..50 {
        let m = reqwest::Method::from_bytes(format!("INVENTED{i}").as_bytes()).unwrap();
        http.request(m, app.url("/healthz")).send().await.unwrap();
    }
    let m = app.metrics_text().await;
    assert!(!m.contains("INVENTED"), "{m}");
    assert!(
        m.contains("endpoint=\"/healthz\",method=\"other\",status=\"405\"} 50"),
        "{m}"
    );
}

/// `serve --help` states each default as the README's synopsis of `serve` gives it.
#[test]
fn serve_help_states_the_documented_defaults() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pushdetect"))
        .args(["serve", "--help"])
        .env("COLUMNS", "200")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    // Each option's block: from its flag to the next option's.
    let block = |flag: &str| {
        let start = help
            .find(&format!("      {flag} "))
            .unwrap_or_else(|| panic!("{flag} missing:\n{help}"));
        let rest = &help[start + flag.len() + 6..];
        rest[..rest.find("\n      --").unwrap_or(rest.len())].to_owned()
    };
    for (flag, default) in [
        ("--listen", "127.0.0.1:8080"),
        ("--session-idle-secs", "1800"),
        ("--dedup-window-secs", "300"),
        ("--incident-window-secs", "3600"),
        ("--max-body-bytes", "4194304"),
        ("--request-timeout-secs", "30"),
        ("--max-connections", "1024"),
        ("--header-timeout-secs", "10"),
        ("--keepalive-timeout-secs", "30"),
        ("--shutdown-grace-secs", "10"),
        ("--max-upload-bytes", "67108864"),
        ("--max-queued-per-license", "10000"),
        ("--upload-budget-bytes", "268435456"),
    ] {
        let text = block(flag);
        assert!(
            text.contains(&format!("[default: {default}]")),
            "{flag}: {text}"
        );
    }
}
