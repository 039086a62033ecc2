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
    for p in pushdetect_model::method::PUSH_FILE_DOWNLOAD.params {
        assert!(
            body["properties"].get(p.name).is_some(),
            "{} undocumented",
            p.name
        );
    }
    assert_eq!(
        body["properties"]["application_protocol"]["enum"],
        serde_json::json!(["HTTP", "HTTPS", "FTP", "SMB", "other"])
    );
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
    let mut mp = reqwest::multipart::Form::new();
    for (k, v) in form {
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
    let m = http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("pushdetect_events_stored_total{type=\"ioc\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("pushdetect_api_errors_total{code=\"2003\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("pushdetect_http_requests_total{endpoint=\"/papi/push_detection/ioc/push_result.json\",method=\"POST\",status=\"200\"} 2"),
        "{m}"
    );
    assert!(
        m.contains("pushdetect_http_request_duration_seconds_count{endpoint=\"/papi/login\"} 1"),
        "{m}"
    );
}

#[tokio::test]
async fn graceful_shutdown_completes() {
    let app = TestApp::start().await;
    let c = app.user_client().await;
    assert_ok(&c.post(IOC, &pairs(&ioc_form(&app.creds.sensor_key))).await);
    let store = app.store.clone();
    app.stop().await;
    // The store was closed after the server stopped.
    assert!(store.find_user("admin").await.is_err());
}

#[test]
fn the_docs_name_every_parameter_and_error_code() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let api = std::fs::read_to_string(root.join("docs/api.md")).unwrap();
    for endpoint in pushdetect_server::routes::ENDPOINTS {
        assert!(
            api.contains(endpoint.path()),
            "docs/api.md lacks {}",
            endpoint.path()
        );
        for p in endpoint.spec.params {
            assert!(
                api.contains(&format!("`{}`", p.name)),
                "docs/api.md lacks {}",
                p.name
            );
        }
    }
    let errors = std::fs::read_to_string(root.join("docs/errors.md")).unwrap();
    for code in pushdetect_model::ErrorCode::ALL {
        assert!(
            errors.contains(&format!("| {} |", code.number())),
            "docs/errors.md lacks {code:?}"
        );
    }
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
    let m = http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!m.contains("INVENTED"), "{m}");
    assert!(
        m.contains("endpoint=\"/healthz\",method=\"other\",status=\"405\"} 50"),
        "{m}"
    );
}
