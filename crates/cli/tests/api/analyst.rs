//! The Analyst API, driven the way the public Lastline analysis client drives it.

use crate::support::*;
use pushdetect_server::Config;
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use std::time::Duration;

pub(crate) const EICAR: &[u8] =
    b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// A client logged in to the Analyst API with the first license.
pub(crate) async fn analyst(app: &TestApp) -> reqwest::Client {
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let v: Value = post_form(
        &c,
        app.url("/authentication/login.json"),
        &[
            ("key", &app.creds.access_key),
            ("api_token", &app.creds.api_token),
        ],
    )
    .await;
    assert_eq!(v["success"], 1, "{v}");
    c
}

/// Submits content as the client does: part `file` under a dummy name, the real name in
/// the `filename` field.
pub(crate) async fn submit(
    app: &TestApp,
    c: &reqwest::Client,
    content: &[u8],
    name: &str,
) -> (u16, Value) {
    let form = Form::new()
        .part("file", Part::bytes(content.to_vec()).file_name("dummy"))
        .text("filename", name.to_owned())
        .text("delete_after_analysis", "0");
    let r = c
        .post(app.url("/analysis/submit/file.json"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Posts a submission form and returns the answer.
async fn submit_form(app: &TestApp, c: &reqwest::Client, form: Form) -> Value {
    let r = c.post(app.url("/analysis/submit/file.json"));
    r.multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Posts a submission by form fields (a hash instead of content) and returns the answer.
async fn submit_fields(app: &TestApp, c: &reqwest::Client, fields: &[(&str, &str)]) -> Value {
    let r = c.post(app.url("/analysis/submit/file.json"));
    r.form(fields).send().await.unwrap().json().await.unwrap()
}

/// Posts a form to `url` and reads the JSON answer.
async fn post_form(c: &reqwest::Client, url: String, form: &[(&str, &str)]) -> Value {
    c.post(url)
        .form(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn call(app: &TestApp, c: &reqwest::Client, path: &str, q: &[(&str, &str)]) -> (u16, Value) {
    let r = c.get(app.url(path)).query(q).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Polls get_progress until the task completes (bounded), then returns `get`.
pub(crate) async fn wait_result(app: &TestApp, c: &reqwest::Client, uuid: &str) -> Value {
    for _ in 0..200 {
        // By POST, as the public client's get_progress sends it.
        let p: Value =
            post_form(c, app.url("/analysis/get_progress.json"), &[("uuid", uuid)]).await;
        assert_eq!(p["success"], 1, "{p}");
        if p["data"]["completed"] == 1 {
            let (status, v) = call(app, c, "/analysis/get.json", &[("uuid", uuid)]).await;
            assert_eq!(status, 200, "{v}");
            return v["data"].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("task {uuid} did not complete");
}

#[tokio::test]
async fn eicar_completes_with_score_100_and_its_subject() {
    let app = TestApp::start().await;
    let c = analyst(&app).await;
    let (status, v) = submit(&app, &c, EICAR, "eicar.com").await;
    assert_eq!(status, 200);
    let uuid = v["data"]["task_uuid"].as_str().unwrap().to_owned();
    assert_eq!(uuid.len(), 32);
    let r = wait_result(&app, &c, &uuid).await;
    assert_eq!(r["task_uuid"], uuid.as_str());
    assert_eq!(r["score"], 100);
    assert_eq!(
        r["analysis_subject"]["md5"],
        "44d88612fea8a8f36de82e1278abb02f"
    );
    assert_eq!(
        r["analysis_subject"]["sha1"],
        "3395856ce81f2b7382dee72602f798b642f14140"
    );
    assert_eq!(
        r["analysis_subject"]["sha256"],
        "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
    );
    assert_eq!(r["analysis_subject"]["mime_type"], "text/plain");
    assert_eq!(r["analysis_subject"]["filename"], "eicar.com");
    assert_eq!(
        r["malicious_activity"],
        serde_json::json!(["EICAR anti-virus test file"])
    );
    // A harmless file scores 0.
    let (_, v) = submit(&app, &c, b"quarterly numbers", "report.txt").await;
    let r = wait_result(&app, &c, v["data"]["task_uuid"].as_str().unwrap()).await;
    assert_eq!(r["score"], 0);
    // And the XML form of get.
    let r = c
        .get(app.url("/analysis/get.xml"))
        .query(&[("uuid", &uuid)])
        .send()
        .await
        .unwrap();
    let xml = r.text().await.unwrap();
    assert!(xml.contains("<score>100</score>"), "{xml}");
}

#[tokio::test]
async fn submit_by_unknown_hash_answers_101_then_content_then_hash_reuses_the_result() {
    let app = TestApp::start().await;
    let c = analyst(&app).await;
    let sha256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";
    let r = c
        .post(app.url("/analysis/submit/file.json"))
        .form(&[("sha256", sha256)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error_code"], 101, "{v}");
    let (_, v) = submit(&app, &c, EICAR, "eicar.com").await;
    let uuid = v["data"]["task_uuid"].as_str().unwrap().to_owned();
    wait_result(&app, &c, &uuid).await;
    // Known now: by md5 the finished result is reused, same task, score included.
    let v: Value = submit_fields(&app, &c, &[("md5", "44d88612fea8a8f36de82e1278abb02f")]).await;
    assert_eq!(v["data"]["task_uuid"], uuid.as_str(), "{v}");
    assert_eq!(v["data"]["score"], 100);
    // bypass_cache makes a new task.
    let v: Value = submit_fields(
        &app,
        &c,
        &[
            ("md5", "44d88612fea8a8f36de82e1278abb02f"),
            ("bypass_cache", "1"),
        ],
    )
    .await;
    assert_eq!(v["success"], 1, "{v}");
    let fresh = v["data"]["task_uuid"].as_str().expect("a task uuid");
    assert_eq!(fresh.len(), 32, "{v}");
    assert_ne!(fresh, uuid.as_str(), "{v}");
    // Another tenant cannot submit that content by hash: it never sent it.
    let other = app.other_tenant().await;
    let v: Value = submit_fields(
        &app,
        &reqwest::Client::new(),
        &[
            ("md5", "44d88612fea8a8f36de82e1278abb02f"),
            ("key", other.access_key.as_str()),
            ("api_token", other.api_token.as_str()),
        ],
    )
    .await;
    assert_eq!(v["error_code"], 101, "{v}");
}

#[tokio::test]
async fn completed_polling_from_the_before_echo() {
    let app = TestApp::start().await;
    let c = analyst(&app).await;
    // Read the server clock, as clients do.
    let (_, v) = call(
        &app,
        &c,
        "/analysis/completed.json",
        &[("after", "2039-12-31 23:59:59")],
    )
    .await;
    assert_eq!(v["data"]["tasks"], serde_json::json!([]));
    assert_eq!(v["data"]["more_results_available"], 0);
    let clock = v["data"]["before"].as_str().unwrap().to_owned();
    assert!(clock.len() >= 19 && clock.as_bytes()[10] == b' ', "{clock}");
    let (_, s) = submit(&app, &c, EICAR, "eicar.com").await;
    let uuid = s["data"]["task_uuid"].as_str().unwrap().to_owned();
    wait_result(&app, &c, &uuid).await;
    let (_, v) = call(
        &app,
        &c,
        "/analysis/completed.json",
        &[("after", &clock), ("include_score", "1")],
    )
    .await;
    assert_eq!(v["data"]["tasks"][&uuid], 100, "{v}");
    let next = v["data"]["before"].as_str().unwrap().to_owned();
    let (_, v) = call(
        &app,
        &c,
        "/analysis/completed.json",
        &[("after", &next), ("include_score", "1")],
    )
    .await;
    assert_eq!(
        v["data"]["tasks"],
        serde_json::json!({}),
        "nothing new after the echo"
    );
    let (_, v) = call(
        &app,
        &c,
        "/analysis/completed.json",
        &[("after", "2000-01-01")],
    )
    .await;
    assert_eq!(v["data"]["tasks"], serde_json::json!([uuid]));
    let (_, v) = call(
        &app,
        &c,
        "/analysis/completed.json",
        &[("after", "yesterday")],
    )
    .await;
    assert_eq!(v["error_code"], 112);
    assert!(v["error"].as_str().unwrap().contains("after"));
}

#[tokio::test]
async fn other_licenses_and_unauthenticated_callers_are_refused() {
    let app = TestApp::start().await;
    let c = analyst(&app).await;
    let (_, s) = submit(&app, &c, EICAR, "eicar.com").await;
    let uuid = s["data"]["task_uuid"].as_str().unwrap().to_owned();
    wait_result(&app, &c, &uuid).await;
    let (second_id, _, second_token) = app.second_license().await;
    let second_key = app.access_key_of(second_id).await;
    // key + api_token with each request, the client's fallback.
    let other = reqwest::Client::new();
    let r = other
        .get(app.url("/analysis/get.json"))
        .query(&[
            ("uuid", uuid.as_str()),
            ("key", second_key.as_str()),
            ("api_token", second_token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error_code"], 105, "another license's task looks unknown");
    let (status, v) = call(&app, &other, "/analysis/get.json", &[("uuid", &uuid)]).await;
    assert_eq!((status, v["error_code"].as_u64()), (200, Some(122)));
    let (_, v) = call(
        &app,
        &other,
        "/analysis/get.json",
        &[
            ("uuid", &uuid),
            ("key", &app.creds.access_key),
            ("api_token", "wrong"),
        ],
    )
    .await;
    assert_eq!(v["error_code"], 104);
    // The owner with the same fallback reads it.
    let (status, v) = call(
        &app,
        &other,
        "/analysis/get.json",
        &[
            ("uuid", &uuid),
            ("key", &app.creds.access_key),
            ("api_token", &app.creds.api_token),
        ],
    )
    .await;
    assert_eq!((status, v["data"]["score"].as_u64()), (200, Some(100)));
}

#[tokio::test]
async fn oversized_uploads_answer_109() {
    let app = TestApp::start().await;
    let c = analyst(&app).await;
    let (status, v) = submit(&app, &c, &vec![b'a'; 2 * 1024 * 1024], "big.bin").await;
    assert_eq!(status, 200);
    assert_eq!(v["error_code"], 109, "{v}");
}

#[tokio::test]
async fn a_queued_task_finishes_after_a_restart_and_pending_lists_it_before() {
    let app = TestApp::start_without_workers().await;
    let c = analyst(&app).await;
    let (_, s) = submit(&app, &c, EICAR, "eicar.com").await;
    let uuid = s["data"]["task_uuid"].as_str().unwrap().to_owned();
    let (status, v) = call(&app, &c, "/analysis/get.json", &[("uuid", &uuid)]).await;
    assert_eq!((status, v["error_code"].as_u64()), (412, Some(106)));
    // Waiting: submitted, not completed.
    let (_, meta) = call(
        &app,
        &c,
        "/analysis/get_task_metadata.json",
        &[("uuid", &uuid)],
    )
    .await;
    assert_eq!(meta["data"]["state"], "queued", "{meta}");
    assert_eq!(meta["data"]["completed"], Value::Null, "{meta}");
    assert!(meta["data"]["submission"].is_string(), "{meta}");
    let (_, v) = call(
        &app,
        &c,
        "/analysis/get_pending.json",
        &[("after", "2000-01-01")],
    )
    .await;
    assert_eq!(v["data"]["tasks"], serde_json::json!([uuid]));
    let app = app.restart(2).await;
    let c = analyst(&app).await;
    assert_eq!(wait_result(&app, &c, &uuid).await["score"], 100);
}

#[tokio::test]
async fn urls_are_scored_by_heuristics() {
    let app = TestApp::start().await;
    let c = analyst(&app).await;
    let v: Value = post_form(
        &c,
        app.url("/analysis/submit/url.json"),
        &[("url", "http://203.0.113.5:4444/setup.exe")],
    )
    .await;
    let r = wait_result(&app, &c, v["data"]["task_uuid"].as_str().unwrap()).await;
    assert_eq!(r["score"], 60);
    assert_eq!(
        r["analysis_subject"]["url"],
        "http://203.0.113.5:4444/setup.exe"
    );
    let v: Value = post_form(
        &c,
        app.url("/analysis/submit/url.json"),
        &[("url", "javascript:alert(1)")],
    )
    .await;
    assert_eq!(v["error_code"], 117);
    let (_, v) = call(&app, &c, "/management/get_status.json", &[]).await;
    assert_eq!(v["data"]["all_ok"], 1);
}

#[tokio::test]
async fn push_file_download_takes_a_task_of_this_api_and_refuses_another_licenses() {
    let app = TestApp::start().await;
    let c = analyst(&app).await;
    let (_, s) = submit(&app, &c, EICAR, "eicar.com").await;
    let uuid = s["data"]["task_uuid"].as_str().unwrap().to_owned();
    let papi = app.user_client().await;
    let form = with(
        &download_form(&app.creds.sensor_key),
        "task_uuid",
        Some(&uuid),
    );
    assert_ok(&papi.post(FILE_DOWNLOAD, &pairs(&form)).await);
    // The second license's sensor may not name the first license's task.
    let (_, second_sensor, _) = app.second_license().await;
    let form = with(&download_form(&second_sensor), "task_uuid", Some(&uuid));
    assert_error(
        &papi.post(FILE_DOWNLOAD, &pairs(&form)).await,
        2006,
        "same license",
    );
}

/// Submits content again by its SHA-256 only (as `sha256sum` prints it), bypassing the
/// cache.
async fn resubmit_by_sha256(app: &TestApp, c: &reqwest::Client, sha256: &str) -> Value {
    submit_fields(app, c, &[("sha256", sha256), ("bypass_cache", "1")]).await
}

#[tokio::test]
async fn delete_after_analysis_removes_the_content() {
    let app = TestApp::start().await;
    let c = analyst(&app).await;
    let form = Form::new()
        .part(
            "file",
            Part::bytes(b"to be forgotten".to_vec()).file_name("dummy"),
        )
        .text("delete_after_analysis", "1");
    let v: Value = submit_form(&app, &c, form).await;
    wait_result(&app, &c, v["data"]["task_uuid"].as_str().unwrap()).await;
    let v = resubmit_by_sha256(
        &app,
        &c,
        "7efd4b07bf1099860bc52a60ca33f8814cae545b14010e40097cce41a780f302",
    )
    .await;
    assert_eq!(v["error_code"], 101, "the content is gone: {v}");
    // Kept content (the default) can be submitted again by hash.
    let (_, v) = submit(&app, &c, b"to be kept", "keep.txt").await;
    wait_result(&app, &c, v["data"]["task_uuid"].as_str().unwrap()).await;
    let v = resubmit_by_sha256(
        &app,
        &c,
        "e455b622857ce307e6fd3384a43a17857a56e253bc971d8c897ed4591b49ab74",
    )
    .await;
    assert_eq!(v["success"], 1, "{v}");
}

#[tokio::test]
async fn content_another_queued_task_awaits_is_deleted_only_after_it() {
    let app = TestApp::start_without_workers().await;
    let c = analyst(&app).await;
    let mut uuids = Vec::new();
    for delete in ["1", "0"] {
        let form = Form::new()
            .part("file", Part::bytes(EICAR.to_vec()).file_name("dummy"))
            .text("delete_after_analysis", delete)
            .text("bypass_cache", "1");
        let v: Value = submit_form(&app, &c, form).await;
        let uuid = v["data"]["task_uuid"].as_str().unwrap().to_owned();
        // Distinct submission times fix the order in which the queue hands them out:
        // wait (bounded) until the clock has passed this task's submission time.
        let created = app
            .store
            .find_task(&uuid)
            .await
            .unwrap()
            .unwrap()
            .created_at_ms;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while chrono::Utc::now().timestamp_millis() <= created {
            assert!(
                std::time::Instant::now() < deadline,
                "the clock stands still"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        uuids.push(uuid);
    }
    // One worker: the task asking for deletion runs first, while the other still waits.
    let app = app.restart(1).await;
    let c = analyst(&app).await;
    for uuid in &uuids {
        let r = wait_result(&app, &c, uuid).await;
        assert_eq!(r["score"], 100, "both tasks read the content: {r}");
        assert!(r.get("error").is_none(), "{r}");
    }
    let mut tasks = Vec::new();
    for uuid in &uuids {
        tasks.push(app.store.find_task(uuid).await.unwrap().unwrap());
    }
    assert!(
        tasks[0].created_at_ms < tasks[1].created_at_ms,
        "submitted in this order"
    );
    assert!(
        tasks[0].completed_at_ms <= tasks[1].completed_at_ms,
        "the task asking for deletion was analysed first: {:?} {:?}",
        tasks[0].completed_at_ms,
        tasks[1].completed_at_ms
    );
    // Only the second task kept the content: it can still be submitted by hash.
    let v = resubmit_by_sha256(&app, &c, crate::mail_commands::EICAR_SHA256).await;
    assert_eq!(v["success"], 1, "{v}");
}

#[tokio::test]
async fn unknown_and_malformed_parameters_are_refused_by_name() {
    let app = TestApp::start().await;
    let c = analyst(&app).await;
    let (_, v) = call(
        &app,
        &c,
        "/analysis/completed.json",
        &[("aftr", "2020-01-01")],
    )
    .await;
    assert_eq!(v["error_code"], 112, "{v}");
    let error = v["error"].as_str().unwrap();
    assert!(
        error.contains("'aftr'") && error.contains("did you mean 'after'"),
        "{error}"
    );
    let (_, v) = call(&app, &c, "/authentication/ping.json", &[("verbose", "1")]).await;
    assert_eq!(v["error_code"], 112, "{v}");

    for (name, value, code) in [
        ("download_port", "70000", 112),
        ("server_ip", "not-an-ip", 112),
        ("is_download", "maybe", 112),
        ("password_candidates", "secret", 112),
        ("priority", "high", 124),
        ("filenmae", "x.exe", 112),
    ] {
        let form = Form::new()
            .part("file", Part::bytes(b"context".to_vec()).file_name("dummy"))
            .text(name, value);
        let v = submit_form(&app, &c, form).await;
        assert_eq!(v["error_code"], code, "{name}={value}: {v}");
        assert!(v["error"].as_str().unwrap().contains(name), "{v}");
    }
    // The public client's other fields are accepted.
    let form = Form::new()
        .part("file", Part::bytes(b"context".to_vec()).file_name("dummy"))
        .text("filename", "context.txt")
        .text("download_ip", "192.0.2.7")
        .text("download_port", "8080")
        .text("is_download", "True")
        .text("protocol", "http")
        .text("download_url", "http://192.0.2.7:8080/context.txt")
        .text("password_candidates", "[\"infected\"]")
        .text("full_report_score", "-1")
        .text("priority", "5")
        .text("analysis_env", "win10");
    let v: Value = submit_form(&app, &c, form).await;
    assert_eq!(v["success"], 1, "{v}");
    // And kept with the task: get_task_metadata shows them as its context.
    let uuid = v["data"]["task_uuid"].as_str().unwrap();
    let (_, meta) = call(
        &app,
        &c,
        "/analysis/get_task_metadata.json",
        &[("uuid", uuid)],
    )
    .await;
    let context = &meta["data"]["context"];
    for (key, value) in [
        ("download_ip", serde_json::json!("192.0.2.7")),
        ("download_port", serde_json::json!(8080)),
        ("is_download", serde_json::json!(true)),
        ("protocol", serde_json::json!("http")),
        (
            "download_url",
            serde_json::json!("http://192.0.2.7:8080/context.txt"),
        ),
        ("full_report_score", serde_json::json!(-1)),
        ("priority", serde_json::json!(5)),
    ] {
        assert_eq!(context[key], value, "{key}: {meta}");
    }
    assert!(
        context.get("password_candidates").is_none(),
        "passwords are not kept: {meta}"
    );
}

/// `full_report_score` decides whether `get` and a cached submission send the findings;
/// `report_uuid` must name the task's report.
#[tokio::test]
async fn full_report_score_and_report_uuid_are_honoured() {
    let app = TestApp::start().await;
    let c = analyst(&app).await;
    let (_, s) = submit(&app, &c, EICAR, "eicar.com").await;
    let uuid = s["data"]["task_uuid"].as_str().unwrap().to_owned();
    let full = wait_result(&app, &c, &uuid).await;
    assert_eq!(full["score"], 100);
    assert!(
        full["findings"].as_array().is_some_and(|f| !f.is_empty()),
        "{full}"
    );
    let get = |q: Vec<(&'static str, String)>| {
        let (app, c) = (&app, &c);
        async move {
            let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
            call(app, c, "/analysis/get.json", &q).await.1
        }
    };
    for (threshold, findings) in [
        ("-1", false),
        ("101", false),
        ("0", true),
        ("100", true),
        ("50", true),
    ] {
        let v = get(vec![
            ("uuid", uuid.clone()),
            ("full_report_score", threshold.into()),
        ])
        .await;
        assert_eq!(v["success"], 1, "{v}");
        assert_eq!(v["data"]["score"], 100);
        assert_eq!(v["data"]["malicious_activity"], full["malicious_activity"]);
        assert_eq!(
            v["data"].get("findings").is_some(),
            findings,
            "full_report_score={threshold}: {v}"
        );
    }
    let v = get(vec![
        ("uuid", uuid.clone()),
        ("full_report_score", "102".into()),
    ])
    .await;
    assert_eq!(v["error_code"], 112, "{v}");
    // The report named by the result is accepted; another is refused by name.
    let report = full["reports"][0]["report_uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let v = get(vec![("uuid", uuid.clone()), ("report_uuid", report)]).await;
    assert_eq!(v["success"], 1, "{v}");
    let v = get(vec![
        ("uuid", uuid.clone()),
        ("report_uuid", "f".repeat(32)),
    ])
    .await;
    assert_eq!(v["error_code"], 112, "{v}");
    assert!(v["error"].as_str().unwrap().contains("report_uuid"), "{v}");
    // A cached submission answers with the same rule, from the submission's own field.
    let form = Form::new()
        .part("file", Part::bytes(EICAR.to_vec()).file_name("dummy"))
        .text("full_report_score", "-1");
    let v = submit_form(&app, &c, form).await;
    assert_eq!(v["data"]["task_uuid"], uuid.as_str(), "cached: {v}");
    assert!(v["data"].get("findings").is_none(), "{v}");
}

#[tokio::test]
async fn a_busy_analyst_session_outlives_the_idle_time_and_an_idle_one_expires() {
    let app = TestApp::start_with(Config {
        session_idle: Duration::from_secs(2),
        ..Config::default()
    })
    .await;
    let c = analyst(&app).await;
    // Used every 300 ms for twice the idle time: it stays alive.
    for _ in 0..14 {
        let (_, v) = call(&app, &c, "/authentication/ping.json", &[]).await;
        assert_eq!(v["success"], 1, "{v}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let (_, v) = call(&app, &c, "/authentication/ping.json", &[]).await;
    assert_eq!(v["error_code"], 122, "{v}");
}

#[tokio::test]
async fn xml_answers_for_lists_and_errors() {
    let app = TestApp::start().await;
    let c = analyst(&app).await;
    let text = |path: &'static str, q: Vec<(&'static str, &'static str)>| {
        let r = c.get(app.url(path)).query(&q).send();
        async move {
            let r = r.await.unwrap();
            let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
            (ct, r.text().await.unwrap())
        }
    };
    let (ct, xml) = text(
        "/analysis/completed.xml",
        vec![("after", "2039-12-31 23:59:59"), ("include_score", "1")],
    )
    .await;
    assert!(ct.contains("xml"), "{ct}");
    assert!(xml.contains("<success>1</success>"), "{xml}");
    assert!(
        xml.contains("<more_results_available>0</more_results_available>"),
        "{xml}"
    );
    let (_, xml) = text(
        "/analysis/get_progress.xml",
        vec![("uuid", "0".repeat(32).leak())],
    )
    .await;
    assert!(xml.contains("<error_code>105</error_code>"), "{xml}");
    let (_, xml) = text("/analysis/query/file_hash.xml", vec![("sha512", "00")]).await;
    assert!(
        xml.contains("<error_code>112</error_code>") && xml.contains("sha512"),
        "{xml}"
    );
}

/// `printf 'delete me twice' | sha256sum`.
const DELETE_ME_TWICE_SHA256: &str =
    "516239864289bbc3457cd062f6e020d81e196d687acd5da704ed54a2cd87c3ad";

#[tokio::test]
async fn content_every_task_asked_to_delete_is_deleted_once_all_are_analysed() {
    let app = TestApp::start_without_workers().await;
    let c = analyst(&app).await;
    let content = b"delete me twice".to_vec();
    let mut uuids = Vec::new();
    for _ in 0..3 {
        let form = Form::new()
            .part("file", Part::bytes(content.clone()).file_name("dummy"))
            .text("delete_after_analysis", "1")
            .text("bypass_cache", "1");
        let v: Value = submit_form(&app, &c, form).await;
        uuids.push(v["data"]["task_uuid"].as_str().unwrap().to_owned());
    }
    // One worker claims all three in one batch: each is analysed, then the content goes.
    let app = app.restart(1).await;
    let c = analyst(&app).await;
    for uuid in &uuids {
        let r = wait_result(&app, &c, uuid).await;
        assert!(r.get("error").is_none(), "{r}");
    }
    let v = resubmit_by_sha256(&app, &c, DELETE_ME_TWICE_SHA256).await;
    assert_eq!(v["error_code"], 101, "the content is gone: {v}");
}

#[tokio::test]
async fn a_submission_by_get_is_refused_and_creates_no_task() {
    let app = TestApp::start_without_workers().await;
    let c = analyst(&app).await;
    // What a page elsewhere could make a logged-in browser send with the Lax cookie.
    let (status, v) = call(
        &app,
        &c,
        "/analysis/submit/url.json",
        &[("url", "http://evil.example/")],
    )
    .await;
    assert_eq!(status, 405, "{v}");
    assert_eq!(v["error_code"], 112, "{v}");
    assert!(v["error"].as_str().unwrap().contains("POST only"), "{v}");
    let (_, pending) = call(&app, &c, "/analysis/get_pending.json", &[]).await;
    assert_eq!(pending["data"]["tasks"], serde_json::json!([]), "{pending}");
}

#[tokio::test]
async fn an_empty_file_answers_113_and_a_cut_upload_119() {
    let app = TestApp::start().await;
    let c = analyst(&app).await;
    let (_, v) = submit(&app, &c, b"", "empty.bin").await;
    assert_eq!(v["error_code"], 113, "{v}");
    assert!(v["error"].as_str().unwrap().contains("empty"), "{v}");
    // The upload ends inside the file part: the file cannot be extracted.
    let body = format!(
        "--B\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n{}\r\n\
         --B\r\nContent-Disposition: form-data; name=\"api_token\"\r\n\r\n{}\r\n\
         --B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\n\
         the first bytes of a file",
        app.creds.access_key, app.creds.api_token
    );
    let r = reqwest::Client::new()
        .post(app.url("/analysis/submit/file.json"))
        .header("content-type", "multipart/form-data; boundary=B")
        .body(body)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error_code"], 119, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("could not be read"),
        "{v}"
    );
    let tasks = app
        .store
        .list_tasks(app.account_id().await, &Default::default())
        .await
        .unwrap();
    assert!(tasks.is_empty(), "{tasks:?}");
}

#[tokio::test]
async fn a_license_with_its_queue_full_answers_115_until_it_drains() {
    let app = TestApp::start_with_queue_limit(2).await;
    let c = analyst(&app).await;
    for i in 0..2 {
        let (_, v) = submit(&app, &c, format!("content {i}").as_bytes(), "f").await;
        assert_eq!(v["success"], 1, "{v}");
    }
    let (_, v) = submit(&app, &c, b"one too many", "f").await;
    assert_eq!(v["error_code"], 115, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("2 tasks waiting"),
        "{v}"
    );
    let v: Value = post_form(
        &c,
        app.url("/analysis/submit/url.json"),
        &[("url", "http://203.0.113.9/x")],
    )
    .await;
    assert_eq!(v["error_code"], 115, "URLs wait in the same queue: {v}");
    // Another license of the same account has a queue of its own.
    let (second_id, _, second_token) = app.second_license().await;
    let second_key = app.access_key_of(second_id).await;
    let v: Value = post_form(
        &reqwest::Client::new(),
        app.url("/analysis/submit/url.json"),
        &[
            ("key", second_key.as_str()),
            ("api_token", second_token.as_str()),
            ("url", "http://203.0.113.9/y"),
        ],
    )
    .await;
    assert_eq!(v["success"], 1, "{v}");
    // Once analysed, the queue takes submissions again.
    let app = app.restart(1).await;
    let c = analyst(&app).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, v) = submit(&app, &c, b"one too many", "f").await;
        if v["success"] == 1 {
            break;
        }
        assert_eq!(v["error_code"], 115, "{v}");
        assert!(
            std::time::Instant::now() < deadline,
            "the queue never drained"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn with_the_store_gone_the_analyst_api_answers_107_and_the_papi_5001_with_503() {
    let app = TestApp::start().await;
    let papi = app.user_client().await;
    let c = analyst(&app).await;
    app.store.close().await;
    let r = c
        .get(app.url("/analysis/get.json"))
        .query(&[("uuid", "0".repeat(32))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error_code"], 107, "{v}");
    let r = papi
        .http
        .post(app.url(IOC))
        .form(&pairs(&ioc_form(&app.creds.sensor_key)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.unwrap();
    assert_error(&v, 5001, "");
    assert!(
        !v["error"].as_str().unwrap().contains("Permission denied"),
        "{v}"
    );
}

/// `completed` pages by 1,000: `more_results_available` is 1 and `before` echoes the
/// completion time of the last task sent, from which the next poll goes on; a `before`
/// the client gives bounds the answer and is echoed.
#[tokio::test]
async fn completed_pages_by_a_thousand_and_honours_an_explicit_before() {
    use pushdetect_store::{TaskKind, TaskState};
    let app = TestApp::start().await;
    let c = analyst(&app).await;
    // 1,001 tasks completed a millisecond apart, a minute ago.
    let t0 = (chrono::Utc::now().timestamp_millis() - 60_000) / 1000 * 1000;
    let account = app.account_id().await;
    let tasks: Vec<pushdetect_store::Task> = (0..1001)
        .map(|i| pushdetect_store::Task {
            kind: TaskKind::File,
            state: TaskState::Completed,
            sha256: Some(format!("{i:064x}")),
            score: Some(i % 101),
            result: Some(serde_json::json!({})),
            ..pushdetect_store::Task::external(
                &format!("{i:032x}"),
                account,
                app.creds.key_id,
                t0 + i,
            )
        })
        .collect();
    app.store
        .create_tasks(&tasks.iter().collect::<Vec<_>>())
        .await
        .unwrap();
    let at = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .format("%Y-%m-%d %H:%M:%S%.6f")
            .to_string()
    };
    let page = |q: Vec<(&'static str, String)>| {
        let (app, c) = (&app, &c);
        async move {
            let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (_, v) = call(app, c, "/analysis/completed.json", &q).await;
            assert_eq!(v["success"], 1, "{v}");
            v["data"].clone()
        }
    };
    let first = page(vec![("after", at(t0 - 1000))]).await;
    assert_eq!(first["more_results_available"], 1);
    let uuids = first["tasks"].as_array().unwrap();
    assert_eq!(uuids.len(), 1000);
    assert_eq!(uuids[0], format!("{:032x}", 0));
    assert_eq!(uuids[999], format!("{:032x}", 999));
    assert_eq!(first["before"], at(t0 + 999), "the last task's completion");
    let second = page(vec![
        ("after", first["before"].as_str().unwrap().to_owned()),
        ("include_score", "1".into()),
    ])
    .await;
    assert_eq!(second["more_results_available"], 0);
    // The task sharing the last instant is sent again rather than lost; then the rest.
    assert_eq!(
        second["tasks"],
        serde_json::json!({format!("{:032x}", 999): 90, format!("{:032x}", 1000): 91})
    );
    // An explicit `before` bounds the answer (exclusive) and is echoed as given.
    let bounded = page(vec![
        ("after", at(t0)),
        ("before", at(t0 + 3)),
        ("include_score", "1".into()),
    ])
    .await;
    assert_eq!(bounded["more_results_available"], 0);
    assert_eq!(bounded["before"], at(t0 + 3));
    assert_eq!(
        bounded["tasks"],
        serde_json::json!({
            format!("{:032x}", 0): 0, format!("{:032x}", 1): 1, format!("{:032x}", 2): 2
        })
    );
}

/// `authentication/logout` ends the session: the next call with its cookie must log in
/// again (122), as the public client expects before it re-logs in.
#[tokio::test]
async fn logout_ends_the_analyst_session() {
    let app = TestApp::start().await;
    let c = analyst(&app).await;
    let ping = post_form(&c, app.url("/authentication/ping.json"), &[]).await;
    assert_eq!(ping["data"]["pong"], 1, "{ping}");
    let out = post_form(&c, app.url("/authentication/logout.json"), &[]).await;
    assert_eq!(out["success"], 1, "{out}");
    let after = post_form(&c, app.url("/authentication/ping.json"), &[]).await;
    assert_eq!(after["error_code"], 122, "{after}");
}

/// Before the caller is known, a urlencoded body is read up to 256 KiB and a text part of
/// a multipart body up to 64 KiB: exactly the limit is read, one byte more is refused.
#[tokio::test]
async fn analyst_bodies_and_text_parts_are_read_up_to_their_limits_exactly() {
    let app = TestApp::start().await;
    let c = analyst(&app).await;
    for extra in [0, 1] {
        let prefix = "url=http%3A%2F%2F203.0.113.9%2Fbody&referer=http%3A%2F%2F203.0.113.9%2F";
        let body = format!("{prefix}{}", "r".repeat(256 * 1024 - prefix.len() + extra));
        let v = json(
            c.post(app.url("/analysis/submit/url.json"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await;
        let unread = v["error"]
            .as_str()
            .is_some_and(|e| e.contains("could not be read"));
        assert_eq!(unread, extra == 1, "256 KiB + {extra} bytes: {v}");
        if extra == 0 {
            assert_eq!(v["success"], 1, "{v}");
        }
    }
    for extra in [0, 1] {
        let host = "h".repeat(64 * 1024 + extra);
        let form = reqwest::multipart::Form::new()
            .text("url", "http://203.0.113.9/part")
            .part(
                "referer",
                reqwest::multipart::Part::bytes(host.into_bytes()).file_name("referer"),
            );
        let v = json(c.post(app.url("/analysis/submit/url.json")).multipart(form)).await;
        let too_long = v["error"]
            .as_str()
            .is_some_and(|e| e.contains("at most 65536 bytes"));
        assert_eq!(too_long, extra == 1, "64 KiB + {extra} bytes: {v}");
        if extra == 0 {
            assert_eq!(v["success"], 1, "{v}");
        } else {
            assert_eq!(v["error_code"], 112, "{v}");
        }
    }
}

/// The analysed file's download is named after the submitted file name, with the
/// characters that would end or break the `Content-Disposition` header taken out.
#[tokio::test]
async fn the_subject_download_is_named_safely_after_the_submitted_file() {
    let app = TestApp::start().await;
    let c = analyst(&app).await;
    let (_, v) = submit(&app, &c, b"a file to name", "in \"voice\"/mail;x.exe").await;
    assert_eq!(v["success"], 1, "{v}");
    let uuid = v["data"]["task_uuid"].as_str().unwrap().to_owned();
    let result = wait_result(&app, &c, &uuid).await;
    let report = result["reports"][0]["report_uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = c
        .get(app.url("/analysis/get_result_artifact"))
        .query(&[
            ("uuid", uuid.as_str()),
            ("artifact_uuid", &format!("{report}:analysis_subject")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"invoicemailx.exe\""
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"a file to name");
}
