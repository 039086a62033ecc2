//! Every method of Lastline's public Analyst API client (`analysis_apiclient.py`), with its
//! requests built the way that client builds them, and its answers read the way it reads
//! them.
//!
//! How the client builds a request (its `_api_request`): parameters whose value is `None`
//! are left out (`purge_none`); Python values are sent as `str()` gives them (`True`, `1`,
//! `-1`); a call with `files` (or `post=True`) is a POST, multipart when there are files
//! (the form fields first, then one part per file, named by its key, with the key as the
//! part file name when the value has no name, and `dummy-ascii-name-for-file-param` for the
//! content), urlencoded otherwise; other calls are GETs with a query string. It calls
//! `raise_for_status()` before reading the body, then reads `success`, `data`,
//! `error_code` and `error`.

use crate::analyst::EICAR;
use crate::support::*;
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use std::time::Duration;

/// A value as the client passes it: Python's `str()` of it, or `None` (left out).
type Param = (&'static str, Option<String>);

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

/// Python's `True and 1 or 0` idiom, and its other renderings.
const TRUE: &str = "True";
const ONE: &str = "1";
const ZERO: &str = "0";
const NO_REPORT_DETAILS: &str = "-1";

/// How a call failed, as the client tells failures apart.
#[derive(Debug)]
enum Failure {
    /// `raise_for_status()` raised: `FailedRequestError` with this status.
    Http(u16, String),
    /// `success` was 0: the error class of `ERRORS[error_code]`.
    Api(u64, String),
}

/// A session of the public client (`AnalysisClient`).
struct LastlineClient {
    http: reqwest::Client,
    base: String,
}

impl LastlineClient {
    /// `AnalysisClient(base_url, key, api_token)` after its first `_login()`.
    async fn login(app: &TestApp) -> LastlineClient {
        let c = LastlineClient {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .unwrap(),
            base: app.base.clone(),
        };
        let data = c
            .request(
                "authentication/login",
                vec![
                    ("key", s(&app.creds.access_key)),
                    ("api_token", s(&app.creds.api_token)),
                ],
                Vec::new(),
                true,
            )
            .await
            .unwrap();
        assert!(data.is_object(), "{data}");
        c
    }

    /// `_build_url(sub_api, parts, "json")`.
    fn url(&self, path: &str) -> String {
        format!("{}/{path}.json", self.base)
    }

    /// `_api_request(url, params, files, post)`, and `_process_response_page` of a JSON
    /// answer: the whole result on success (the client returns `result`, callers read
    /// `result['data']`), the error class otherwise.
    async fn request(
        &self,
        path: &str,
        params: Vec<Param>,
        files: Vec<(&'static str, Vec<u8>)>,
        post: bool,
    ) -> Result<Value, Failure> {
        let response = self.send(&self.url(path), params, files, post).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        if status >= 400 {
            return Err(Failure::Http(status, text));
        }
        let result: Value = serde_json::from_str(&text).expect("a JSON answer");
        if result["success"].as_u64() == Some(1) {
            assert!(
                result.get("data").is_some(),
                "success without data: {result}"
            );
            return Ok(result["data"].clone());
        }
        Err(Failure::Api(
            result["error_code"].as_u64().unwrap_or(0),
            result["error"].as_str().unwrap_or_default().to_owned(),
        ))
    }

    async fn send(
        &self,
        url: &str,
        params: Vec<Param>,
        files: Vec<(&'static str, Vec<u8>)>,
        post: bool,
    ) -> reqwest::Response {
        let params: Vec<(&str, String)> = params
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        let request = if !files.is_empty() {
            let mut form = Form::new();
            for (k, v) in params {
                form = form.text(k, v);
            }
            for (k, content) in files {
                let part_name = if k == "file" {
                    "dummy-ascii-name-for-file-param"
                } else {
                    k
                };
                form = form.part(k, Part::bytes(content).file_name(part_name));
            }
            self.http.post(url).multipart(form)
        } else if post {
            self.http.post(url).form(&params)
        } else {
            self.http.get(url).query(&params)
        };
        request.send().await.unwrap()
    }

    /// A call whose only parameter is `uuid`: `get_result_activities`,
    /// `get_task_metadata`, `get_analysis_tags` (GETs) and `get_progress` (a POST).
    async fn by_uuid(&self, path: &str, uuid: &str, post: bool) -> Result<Value, Failure> {
        self.request(path, vec![("uuid", s(uuid))], Vec::new(), post)
            .await
    }

    /// `submit_file(file_stream, filename=…)`, and `SubmissionHelper.submit_file_stream`'s
    /// second step.
    async fn submit_file(&self, content: &[u8], filename: &str) -> Result<Value, Failure> {
        let params = vec![
            ("bypass_cache", None),
            ("full_report_score", s(NO_REPORT_DETAILS)),
            ("delete_after_analysis", s(ZERO)),
            ("download_ip", None),
            ("analysis_timeout", None),
            ("filename", s(filename)),
            ("is_download", s(TRUE)),
            ("protocol", s("http")),
            ("priority", None),
        ];
        self.request(
            "analysis/submit/file",
            params,
            vec![("file", content.to_vec())],
            true,
        )
        .await
    }

    /// `submit_file_hash(md5=…, sha1=…, sha256=…, filename=…, full_report_score=-1,
    /// mime_type=None, **kwargs)` as `SubmissionHelper.submit_file_stream` calls it, with
    /// the free-text `download_*` context as file parts when given.
    async fn submit_file_hash(
        &self,
        hashes: [&str; 3],
        filename: &str,
        download_host: Option<&str>,
    ) -> Result<Value, Failure> {
        let params = vec![
            ("md5", s(hashes[0])),
            ("sha1", s(hashes[1])),
            ("sha256", s(hashes[2])),
            ("full_report_score", s(NO_REPORT_DETAILS)),
            ("bypass_cache", None),
            ("password", None),
            ("require_file_analysis", s(ONE)),
            ("mime_type", None),
            ("analysis_timeout", None),
            ("filename", s(filename)),
            ("is_download", s(TRUE)),
            ("protocol", s("http")),
            ("priority", None),
        ];
        let files = download_host
            .map(|h| vec![("download_host", h.as_bytes().to_vec())])
            .unwrap_or_default();
        self.request("analysis/submit/file", params, files, true)
            .await
    }

    /// `submit_exe_hash(md5, sha1)`: `submit_file_hash` without sha256 or filename.
    async fn submit_exe_hash(&self, md5: &str, sha1: &str) -> Result<Value, Failure> {
        let params = vec![
            ("md5", s(md5)),
            ("sha1", s(sha1)),
            ("full_report_score", s(NO_REPORT_DETAILS)),
            ("require_file_analysis", s(ONE)),
            ("is_download", s(TRUE)),
            ("protocol", s("http")),
        ];
        self.request("analysis/submit/file", params, Vec::new(), true)
            .await
    }

    /// `submit_file_metadata(md5, sha1, download_ip, download_port, download_host=…)`.
    async fn submit_file_metadata(&self, md5: &str, sha1: &str) -> Result<Value, Failure> {
        let params = vec![
            ("md5", s(md5)),
            ("sha1", s(sha1)),
            ("download_ip", s("192.0.2.7")),
            ("download_port", s("80")),
        ];
        let files = vec![
            ("download_host", b"dl.example.net".to_vec()),
            ("download_path", b"/files/setup.exe".to_vec()),
        ];
        self.request("analysis/submit/download", params, files, true)
            .await
    }

    /// `submit_url(url, referer=…)`.
    async fn submit_url(&self, url: &str, referer: Option<&str>) -> Result<Value, Failure> {
        let params = vec![
            ("url", s(url)),
            ("referer", referer.map(str::to_owned)),
            ("full_report_score", s(NO_REPORT_DETAILS)),
            ("bypass_cache", None),
            ("analysis_timeout", None),
            ("push_to_portal_account", None),
            ("user_agent", None),
            ("report_version", None),
            ("analysis_task_uuid", None),
            ("analysis_engine", None),
            ("priority", None),
        ];
        self.request("analysis/submit/url", params, Vec::new(), true)
            .await
    }

    /// `get_result(uuid)`, with its mapping of HTTP 404 and 412.
    async fn get_result(&self, uuid: &str) -> Result<Value, Failure> {
        let params = vec![
            ("uuid", s(uuid)),
            ("report_uuid", None),
            ("full_report_score", None),
            ("include_scoring_components", s(ZERO)),
            ("report_version", None),
        ];
        self.request("analysis/get", params, Vec::new(), false)
            .await
    }

    /// `get_result_summary(uuid, score_only=…)`.
    async fn get_result_summary(&self, uuid: &str, score_only: bool) -> Result<Value, Failure> {
        let params = vec![
            ("uuid", s(uuid)),
            ("score_only", s(if score_only { ONE } else { ZERO })),
        ];
        self.request("analysis/get_result", params, Vec::new(), false)
            .await
    }

    async fn get_report_activities(&self, uuid: &str, report: &str) -> Result<Value, Failure> {
        self.request(
            "analysis/get_report_activities",
            vec![("uuid", s(uuid)), ("report_uuid", s(report))],
            Vec::new(),
            false,
        )
        .await
    }

    /// `get_result_artifact(uuid, report_uuid, artifact_name)`: `_build_file_download_url`
    /// (no format suffix), `requested_format='raw'`.
    async fn get_result_artifact(
        &self,
        uuid: &str,
        report: &str,
        name: &str,
    ) -> Result<(Vec<u8>, String), Failure> {
        let params = vec![
            ("uuid", s(uuid)),
            ("artifact_uuid", Some(format!("{report}:{name}"))),
        ];
        self.raw("analysis/get_result_artifact", params).await
    }

    /// `get_report_artifact(uuid, report_uuid, artifact_name)`.
    async fn get_report_artifact(
        &self,
        uuid: &str,
        report: &str,
        name: &str,
    ) -> Result<(Vec<u8>, String), Failure> {
        let params = vec![
            ("uuid", s(uuid)),
            ("report_uuid", s(report)),
            ("artifact_name", s(name)),
        ];
        self.raw("analysis/get_report_artifact", params).await
    }

    /// A raw download: the body and the Content-Disposition the client names it by.
    async fn raw(&self, path: &str, params: Vec<Param>) -> Result<(Vec<u8>, String), Failure> {
        let url = format!("{}/{path}", self.base);
        let response = self.send(&url, params, Vec::new(), false).await;
        let status = response.status().as_u16();
        let disposition = response
            .headers()
            .get("content-disposition")
            .map(|d| d.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = response.bytes().await.unwrap().to_vec();
        if status >= 400 {
            return Err(Failure::Http(
                status,
                String::from_utf8_lossy(&body).into_owned(),
            ));
        }
        Ok((body, disposition))
    }

    async fn query_task_artifact(&self, uuid: &str, name: &str) -> Result<Value, Failure> {
        self.request(
            "analysis/query_task_artifact",
            vec![("uuid", s(uuid)), ("artifact_name", s(name))],
            Vec::new(),
            false,
        )
        .await
    }

    /// `get_completed(after, before=None, include_score=…)`; datetimes formatted with
    /// `DATETIME_FMT`.
    async fn get_completed(
        &self,
        after: &str,
        before: Option<&str>,
        include_score: bool,
    ) -> Result<Value, Failure> {
        let params = vec![
            ("before", before.map(str::to_owned)),
            ("after", s(after)),
            ("include_score", s(if include_score { ONE } else { ZERO })),
        ];
        self.request("analysis/completed", params, Vec::new(), false)
            .await
    }

    async fn get_pending(&self, after: &str) -> Result<Value, Failure> {
        let params = vec![("before", None), ("after", s(after))];
        self.request("analysis/get_pending", params, Vec::new(), false)
            .await
    }

    /// `query_file_hash(md5=…)` (or another helper): `hash_value`, `hash_algorithm` and
    /// `hash_block_size` (None unless `block_size` is given); the URL part is
    /// `query/file_hash`. `is_blocked_file_hash` builds the same request.
    async fn hash_call(
        &self,
        path: &str,
        algorithm: &str,
        hash: &str,
        block_size: Option<&str>,
    ) -> Result<Value, Failure> {
        let params = vec![
            ("hash_value", s(hash)),
            ("hash_algorithm", s(algorithm)),
            ("hash_block_size", block_size.map(str::to_owned)),
        ];
        self.request(path, params, Vec::new(), false).await
    }

    /// `get_api_utc_timestamp()`: `get_completed(after='2039-12-31 23:59:59')`, `before`
    /// parsed with `DATETIME_MSEC_FMT`, `DATETIME_FMT` or `DATE_FMT`.
    async fn get_api_utc_timestamp(&self) -> chrono::NaiveDateTime {
        let data = self
            .get_completed("2039-12-31 23:59:59", None, false)
            .await
            .unwrap();
        parse_datetime(data["before"].as_str().unwrap())
    }
}

/// The client's `parse_datetime`.
fn parse_datetime(text: &str) -> chrono::NaiveDateTime {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S"))
        .unwrap_or_else(|_| panic!("'{text}' is not a time the client parses"))
}

/// The client's `DATETIME_FMT`.
fn fmt(t: chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// EICAR's md5, sha1 and sha256, as published.
const EICAR_HASHES: [&str; 3] = [
    "44d88612fea8a8f36de82e1278abb02f",
    "3395856ce81f2b7382dee72602f798b642f14140",
    "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
];

/// `SubmissionHelper.submit_file_stream`: by hash first; on any API error, by content.
/// Then `wait_for_completion`'s loop: `get_completed(after=start, include_score=True)` and
/// `start = data['before']`, until the task is among `data['tasks']`.
async fn submit_and_wait(c: &LastlineClient, content: &[u8], hashes: [&str; 3]) -> (String, i64) {
    let mut start = fmt(c.get_api_utc_timestamp().await);
    let data = match c.submit_file_hash(hashes, "sample.com", None).await {
        Ok(d) => d,
        Err(Failure::Api(..)) => c.submit_file(content, "sample.com").await.unwrap(),
        Err(e) => panic!("submit_file_hash: {e:?}"),
    };
    let uuid = data["task_uuid"].as_str().unwrap().to_owned();
    if let Some(score) = data.get("score").and_then(Value::as_i64) {
        return (uuid, score);
    }
    for _ in 0..400 {
        let data = c.get_completed(&start, None, true).await.unwrap();
        start = data["before"].as_str().unwrap().to_owned();
        parse_datetime(&start);
        let tasks = data["tasks"].as_object().expect("tasks is a dict");
        if let Some(score) = tasks.get(&uuid) {
            return (uuid, score.as_i64().unwrap());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("task {uuid} never reported as completed");
}

#[tokio::test]
async fn submission_helper_submits_by_hash_then_by_content_then_reuses_the_result() {
    let app = TestApp::start().await;
    let c = LastlineClient::login(&app).await;
    // Never seen: submit_file_hash answers 101 (FileNotAvailableError).
    match c.submit_file_hash(EICAR_HASHES, "sample.com", None).await {
        Err(Failure::Api(101, msg)) => assert!(msg.contains("submit its content"), "{msg}"),
        other => panic!("{other:?}"),
    }
    let (uuid, score) = submit_and_wait(&c, EICAR, EICAR_HASHES).await;
    assert_eq!(score, 100);
    // Seen now: the same helper call is answered by hash, with the finished result, and
    // with the download context as file parts too.
    let data = c
        .submit_file_hash(EICAR_HASHES, "sample.com", Some("dl.example.net"))
        .await
        .unwrap();
    assert_eq!(data["task_uuid"], uuid.as_str());
    assert_eq!(data["score"], 100);
    let data = c
        .submit_exe_hash(EICAR_HASHES[0], EICAR_HASHES[1])
        .await
        .unwrap();
    assert_eq!(data["task_uuid"], uuid.as_str());
    // Hashes of two different files are refused, naming the one that does not match.
    let mismatched = [EICAR_HASHES[0], &"0".repeat(40), EICAR_HASHES[2]];
    match c.submit_file_hash(mismatched, "x", None).await {
        Err(Failure::Api(112, msg)) => assert!(msg.contains("'sha1'"), "{msg}"),
        other => panic!("{other:?}"),
    }
    // submit_file_metadata reports a download of the same file.
    let data = c
        .submit_file_metadata(EICAR_HASHES[0], EICAR_HASHES[1])
        .await
        .unwrap();
    assert_eq!(data["task_uuid"], uuid.as_str());
    match c
        .submit_file_metadata(&"1".repeat(32), &"1".repeat(40))
        .await
    {
        Err(Failure::Api(101, _)) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn results_summaries_activities_tags_metadata_and_the_subject_artifact() {
    let app = TestApp::start().await;
    let c = LastlineClient::login(&app).await;
    let (uuid, _) = submit_and_wait(&c, EICAR, EICAR_HASHES).await;

    let result = c.get_result(&uuid).await.unwrap();
    assert_eq!(result["task_uuid"], uuid.as_str());
    assert_eq!(result["score"], 100);
    assert_eq!(result["analysis_subject"]["md5"], EICAR_HASHES[0]);
    assert_eq!(
        result["malicious_activity"],
        serde_json::json!(["EICAR anti-virus test file"])
    );
    // QueryHelper.download_analysis_subject_file: reports[*].report_uuid, then the
    // analysis_subject artifact of that report.
    let report = result["reports"][0]["report_uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (bytes, disposition) = c
        .get_result_artifact(&uuid, &report, "analysis_subject")
        .await
        .unwrap();
    assert_eq!(bytes, EICAR);
    assert!(
        disposition.starts_with("attachment") && disposition.contains("filename="),
        "{disposition}"
    );
    let (bytes, _) = c
        .get_report_artifact(&uuid, &report, "analysis_subject")
        .await
        .unwrap();
    assert_eq!(bytes, EICAR);
    let data = c
        .query_task_artifact(&uuid, "analysis_subject")
        .await
        .unwrap();
    assert_eq!(data["available"], 1);
    // The statuses the client maps: 404 InvalidArtifactError, 412 InvalidUUIDError.
    match c.get_result_artifact(&uuid, &report, "memory_dump").await {
        Err(Failure::Http(404, body)) => assert!(body.contains("analysis_subject"), "{body}"),
        other => panic!("{other:?}"),
    }
    match c
        .get_result_artifact(&"0".repeat(32), &report, "analysis_subject")
        .await
    {
        Err(Failure::Http(412, _)) => {}
        other => panic!("{other:?}"),
    }

    let summary = c.get_result_summary(&uuid, false).await.unwrap();
    assert_eq!(summary["score"], 100);
    assert_eq!(summary["analysis_subject"]["sha256"], EICAR_HASHES[2]);
    let score_only = c.get_result_summary(&uuid, true).await.unwrap();
    assert_eq!(
        score_only,
        serde_json::json!({"task_uuid": uuid, "score": 100})
    );
    let activities = c
        .by_uuid("analysis/get_result_activities", &uuid, false)
        .await
        .unwrap();
    assert_eq!(
        activities["malicious_activity"],
        serde_json::json!(["EICAR anti-virus test file"])
    );
    let activities = c.get_report_activities(&uuid, &report).await.unwrap();
    assert_eq!(activities["findings"][0]["score"], 100);
    match c.get_report_activities(&uuid, &"f".repeat(32)).await {
        Err(Failure::Api(112, msg)) => assert!(msg.contains("report_uuid"), "{msg}"),
        other => panic!("{other:?}"),
    }
    let tags = c
        .by_uuid("analysis/get_analysis_tags", &uuid, false)
        .await
        .unwrap();
    assert!(
        tags["tags"].as_array().unwrap().iter().any(|t| t
            .as_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("eicar")),
        "{tags}"
    );
    let meta = c
        .by_uuid("analysis/get_task_metadata", &uuid, false)
        .await
        .unwrap();
    assert_eq!(meta["task_type"], "file");
    assert_eq!(meta["state"], "completed");
    assert_eq!(meta["sha256"], EICAR_HASHES[2]);
    assert_eq!(meta["context"]["is_download"], true);
    assert_eq!(meta["context"]["protocol"], "http");
    let progress = c
        .by_uuid("analysis/get_progress", &uuid, true)
        .await
        .unwrap();
    assert_eq!(
        progress,
        serde_json::json!({"completed": 1, "progress": 100})
    );
    // get_result(requested_format='pdf'): HTTP 415 with why, which the client shows as
    // the FailedRequestError it raises (not a 404, which it would call an unknown uuid).
    let r = c
        .http
        .get(format!("{}/analysis/get.pdf", c.base))
        .query(&[
            ("uuid", uuid.as_str()),
            ("include_scoring_components", ZERO),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("pdf reports are not offered"));
    // get_result of an unknown task: HTTP 404, which the client maps to InvalidUUIDError.
    match c.get_result(&"0".repeat(32)).await {
        Err(Failure::Http(404, _)) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn hash_queries_as_the_client_sends_them() {
    let app = TestApp::start().await;
    let c = LastlineClient::login(&app).await;
    let path = "analysis/query/file_hash";
    let data = c
        .hash_call(path, "md5", EICAR_HASHES[0], None)
        .await
        .unwrap();
    assert_eq!(data, serde_json::json!({"files_found": 0, "tasks": []}));
    let (uuid, _) = submit_and_wait(&c, EICAR, EICAR_HASHES).await;
    // QueryHelper.download_analysis_subject_by_file_hash reads files_found and
    // tasks[0].task_uuid.
    for (algorithm, hash) in [
        ("md5", EICAR_HASHES[0]),
        ("sha1", EICAR_HASHES[1]),
        ("sha256", EICAR_HASHES[2]),
    ] {
        let data = c.hash_call(path, algorithm, hash, None).await.unwrap();
        assert_eq!(data["files_found"], 1, "{algorithm}");
        assert_eq!(data["tasks"][0]["task_uuid"], uuid.as_str());
    }
    let data = c
        .hash_call(path, "sha256", EICAR_HASHES[2], Some("0"))
        .await
        .unwrap();
    assert_eq!(data["files_found"], 1);
    match c
        .hash_call(path, "sha256", EICAR_HASHES[2], Some("4096"))
        .await
    {
        Err(Failure::Api(112, msg)) => assert!(msg.contains("hash_block_size"), "{msg}"),
        other => panic!("{other:?}"),
    }
    match c.hash_call(path, "mmh3", "12345678", None).await {
        Err(Failure::Api(116, _)) => {}
        other => panic!("{other:?}"),
    }
    let blocked = c
        .hash_call(
            "analysis/query/is_blocked_file_hash",
            "md5",
            EICAR_HASHES[0],
            None,
        )
        .await
        .unwrap();
    assert_eq!(blocked["blocked"], 1, "{blocked}");
}

#[tokio::test]
async fn url_submissions_polling_pending_and_the_calls_not_offered() {
    let app = TestApp::start_without_workers().await;
    let c = LastlineClient::login(&app).await;
    let start = c.get_api_utc_timestamp().await;
    let data = c
        .submit_url(
            "http://203.0.113.5:4444/setup.exe",
            Some("http://mail.example/"),
        )
        .await
        .unwrap();
    let uuid = data["task_uuid"].as_str().unwrap().to_owned();
    let pending = c.get_pending(&fmt(start)).await.unwrap();
    assert_eq!(pending["tasks"], serde_json::json!([uuid]));
    assert_eq!(
        app.metric("pushdetect_analysis_tasks{state=\"queued\"}")
            .await,
        Some(1)
    );
    // Not finished: get_result answers HTTP 412 (NoResultFoundError).
    match c.get_result(&uuid).await {
        Err(Failure::Http(412, _)) => {}
        other => panic!("{other:?}"),
    }
    let app = app.restart(1).await;
    let c = LastlineClient::login(&app).await;
    // TaskCompletion.get_completed: pages until more_results_available is 0, reading
    // `tasks` as a dict of scores.
    let mut found = None;
    for _ in 0..400 {
        let data = c.get_completed(&fmt(start), None, true).await.unwrap();
        assert_eq!(data["more_results_available"].as_i64(), Some(0));
        parse_datetime(data["before"].as_str().unwrap());
        if let Some(score) = data["tasks"].get(&uuid) {
            found = score.as_i64();
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(found, Some(60));
    assert_eq!(
        app.metric("pushdetect_analysis_task_seconds_count").await,
        Some(1)
    );
    assert_eq!(
        app.metric("pushdetect_analysis_tasks{state=\"queued\"}")
            .await,
        Some(0)
    );
    // The same URL again is answered with the finished result, as content is.
    let again = c
        .submit_url("http://203.0.113.5:4444/setup.exe", None)
        .await
        .unwrap();
    assert_eq!(
        (again["task_uuid"].as_str(), again["score"].as_i64()),
        (Some(uuid.as_str()), Some(60))
    );
    let meta = c
        .by_uuid("analysis/get_task_metadata", &uuid, false)
        .await
        .unwrap();
    assert_eq!(meta["context"]["referer"], "http://mail.example/");
    // Calls of Lastline's own service: 108 with why, not an HTTP error.
    let r = c
        .request(
            "management/rescore",
            vec![("uuid", s(&uuid)), ("min_score", s("0"))],
            Vec::new(),
            true,
        )
        .await;
    match r {
        Err(Failure::Api(108, msg)) => assert!(msg.contains("does not offer"), "{msg}"),
        other => panic!("{other:?}"),
    }
    // get_status and ping.
    let status = c
        .request("management/get_status", Vec::new(), Vec::new(), false)
        .await
        .unwrap();
    assert_eq!(status["all_ok"], 1);
    c.request("authentication/ping", Vec::new(), Vec::new(), false)
        .await
        .unwrap();
}

#[tokio::test]
async fn without_a_session_the_client_posts_credentials_with_every_call() {
    // The client's MockSession (a server without login): every GET becomes a POST, with
    // key and api_token added to the form.
    let app = TestApp::start().await;
    let http = reqwest::Client::new();
    let form = [
        ("after", "2039-12-31 23:59:59"),
        ("include_score", "0"),
        // Added to every request when the client's REQUEST_PERFDATA is set.
        ("perfdata", "1"),
        ("key", app.creds.access_key.as_str()),
        ("api_token", app.creds.api_token.as_str()),
    ];
    let v: Value = http
        .post(app.url("/analysis/completed.json"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["success"], 1, "{v}");
    parse_datetime(v["data"]["before"].as_str().unwrap());
}
