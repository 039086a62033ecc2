//! The Analyst API client, as Lastline's analysis client behaves: it logs in with key and
//! api_token (or, when login answers HTTP 404, sends them with every request), logs in
//! again after 122, submits a file by hash first and by content when the server answers
//! 101, and waits for results by polling `completed` from the server's own clock.

use crate::config::AnalysisConfig;
use crate::error::ClientError;
use crate::http;
use reqwest::header::COOKIE;
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Error codes of the Analyst API the client acts on.
const FILE_NOT_AVAILABLE: u32 = 101;
const AUTHENTICATION_REQUIRED: u32 = 122;

/// A far-future `after`: `completed` then lists nothing and only echoes the server clock.
const CLOCK_PROBE: &str = "2039-12-31 23:59:59";

/// How a session is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Session {
    None,
    Cookie(String),
    /// The server has no login call: credentials go with every request.
    PerRequest,
}

/// An accepted submission: its task, and the result when the server reused a finished
/// analysis of the same content.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The task uuid (for `get` and for push_file_download's task_uuid).
    pub task_uuid: String,
    /// The result, when already known.
    pub result: Option<Value>,
}

/// A body to send: a form, or a multipart upload of a file (re-opened for a retry).
enum Body<'a> {
    Form(&'a [(String, String)]),
    File {
        path: &'a Path,
        fields: &'a [(String, String)],
    },
}

/// An Analyst API session.
pub struct AnalystClient {
    config: AnalysisConfig,
    http: reqwest::Client,
    session: Mutex<Session>,
}

impl AnalystClient {
    /// A client for `config`; nothing is sent until the first call.
    pub fn new(config: AnalysisConfig) -> Result<AnalystClient, ClientError> {
        Ok(AnalystClient {
            http: http::build(&config.transport)?,
            config,
            session: Mutex::new(Session::None),
        })
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/{}",
            self.config.url.as_str().trim_end_matches('/'),
            path
        )
    }

    fn credentials(&self) -> Vec<(String, String)> {
        vec![
            ("key".into(), self.config.key.clone()),
            ("api_token".into(), self.config.api_token.clone()),
        ]
    }

    /// Logs in; when the server has no login call (HTTP 404), sends the credentials with
    /// every request instead.
    pub async fn login(&self) -> Result<(), ClientError> {
        let mut session = self.session.lock().await;
        let url = self.url("authentication/login.json");
        let form = self.credentials();
        tracing::debug!(target: "pushdetect_client::http", "-> POST {url} {}", http::masked(&form));
        let response = self.http.post(&url).form(&form).send().await?;
        if response.status() == StatusCode::NOT_FOUND {
            *session = Session::PerRequest;
            return Ok(());
        }
        let cookie = http::session_cookie(&response);
        let (status, value) = http::envelope(response).await?;
        http::open(status, value)?;
        *session = cookie.map_or(Session::PerRequest, Session::Cookie);
        Ok(())
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: &Body<'_>,
    ) -> Result<Value, ClientError> {
        let session = self.session.lock().await.clone();
        let url = self.url(path);
        let mut fields: Vec<(String, String)> = match body {
            Body::Form(f) => f.to_vec(),
            Body::File { fields, .. } => fields.to_vec(),
        };
        if session == Session::PerRequest {
            fields.extend(self.credentials());
        }
        tracing::debug!(target: "pushdetect_client::http", "-> {method} {url} {}", http::masked(&fields));
        let mut request = match body {
            Body::File { path, .. } => {
                let file = tokio::fs::File::open(path)
                    .await
                    .map_err(|e| ClientError::File {
                        path: path.display().to_string(),
                        source: e,
                    })?;
                let size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
                let stream = tokio_util::io::ReaderStream::new(file);
                let part = Part::stream_with_length(reqwest::Body::wrap_stream(stream), size)
                    .file_name("file");
                let form = fields
                    .into_iter()
                    .fold(Form::new(), |f, (k, v)| f.text(k, v))
                    .part("file", part);
                self.http.post(&url).multipart(form)
            }
            Body::Form(_) if method == Method::GET => self.http.get(&url).query(&fields),
            Body::Form(_) => self.http.request(method, &url).form(&fields),
        };
        if let Session::Cookie(c) = &session {
            request = request.header(COOKIE, c);
        }
        let response = request.send().await?;
        let status = response.status();
        // `get` answers 404 (unknown task) and 412 (no result yet) with the envelope.
        if !status.is_success()
            && status != StatusCode::NOT_FOUND
            && status != StatusCode::PRECONDITION_FAILED
        {
            return Err(ClientError::Communication(format!(
                "HTTP {status} from {url}"
            )));
        }
        let (status, value) = http::envelope(response).await?;
        http::open(status, value)
    }

    async fn call(&self, method: Method, path: &str, body: Body<'_>) -> Result<Value, ClientError> {
        // Logs in at most twice after 122, and retries once after a communication error.
        let (mut logins, mut resends) = (0, 0);
        loop {
            if *self.session.lock().await == Session::None {
                self.login().await?;
            }
            match self.send(method.clone(), path, &body).await {
                Err(ClientError::Api { code, .. })
                    if code == AUTHENTICATION_REQUIRED && logins < 2 =>
                {
                    logins += 1;
                    *self.session.lock().await = Session::None;
                }
                Err(ClientError::Communication(e)) if resends < 1 => {
                    tracing::debug!(target: "pushdetect_client::http", "retrying once after: {e}");
                    resends += 1;
                    *self.session.lock().await = Session::None;
                }
                other => return other,
            }
        }
    }

    /// Submits a file: by its SHA-256 first, by content if the server never saw it.
    pub async fn submit_file(
        &self,
        path: &Path,
        filename: Option<&str>,
        extra: &[(String, String)],
    ) -> Result<Submission, ClientError> {
        let sha256 = sha256_of_file(path).await.map_err(|e| ClientError::File {
            path: path.display().to_string(),
            source: e,
        })?;
        let name = filename
            .map(str::to_owned)
            .or_else(|| path.file_name().map(|n| n.to_string_lossy().into_owned()));
        let mut fields: Vec<(String, String)> = extra.to_vec();
        if let Some(n) = name {
            fields.push(("filename".into(), n));
        }
        let mut by_hash = fields.clone();
        by_hash.push(("sha256".into(), sha256));
        let answer = match self
            .call(
                Method::POST,
                "analysis/submit/file.json",
                Body::Form(&by_hash),
            )
            .await
        {
            Err(ClientError::Api { code, .. }) if code == FILE_NOT_AVAILABLE => {
                self.call(
                    Method::POST,
                    "analysis/submit/file.json",
                    Body::File {
                        path,
                        fields: &fields,
                    },
                )
                .await?
            }
            other => other?,
        };
        Ok(submission(answer))
    }

    /// Submits a URL.
    pub async fn submit_url(&self, url: &str) -> Result<Submission, ClientError> {
        let form = [("url".to_owned(), url.to_owned())];
        let answer = self
            .call(Method::POST, "analysis/submit/url.json", Body::Form(&form))
            .await?;
        Ok(submission(answer))
    }

    /// The result of a finished task.
    pub async fn get_result(&self, uuid: &str) -> Result<Value, ClientError> {
        let q = [("uuid".to_owned(), uuid.to_owned())];
        self.call(Method::GET, "analysis/get.json", Body::Form(&q))
            .await
    }

    /// The server's clock, as `completed` echoes it in `before`: poll from it.
    pub async fn server_clock(&self) -> Result<String, ClientError> {
        let q = [("after".to_owned(), CLOCK_PROBE.to_owned())];
        let data = self
            .call(Method::GET, "analysis/completed.json", Body::Form(&q))
            .await?;
        data.get("before")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ClientError::Communication("completed did not echo 'before'".into()))
    }

    /// Waits until every task in `uuids` is completed, polling `completed` from `since`
    /// (a `server_clock` read before submitting) with backoff from 0.5 s to 5 s, and calls
    /// `on_done` with each result as it arrives. Each poll reaches a few seconds back, so a
    /// completion committed just after a poll is not missed. Gives up after `timeout`.
    pub async fn wait_for(
        &self,
        uuids: &[String],
        since: &str,
        timeout: Duration,
        mut on_done: impl FnMut(&str, &Value),
    ) -> Result<BTreeMap<String, Value>, ClientError> {
        let deadline = Instant::now() + timeout;
        let mut waiting: BTreeSet<String> = uuids.iter().cloned().collect();
        let mut results = BTreeMap::new();
        let mut after = since.to_owned();
        let mut pause = Duration::from_millis(500);
        while !waiting.is_empty() {
            let q = [
                ("after".to_owned(), after.clone()),
                ("include_score".to_owned(), "1".to_owned()),
            ];
            let data = self
                .call(Method::GET, "analysis/completed.json", Body::Form(&q))
                .await?;
            let done: Vec<String> = match data.get("tasks") {
                Some(Value::Object(m)) => m.keys().cloned().collect(),
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            let mut progressed = false;
            for uuid in done {
                if !waiting.contains(&uuid) {
                    continue;
                }
                let result = self.get_result(&uuid).await?;
                on_done(&uuid, &result);
                waiting.remove(&uuid);
                results.insert(uuid, result);
                progressed = true;
            }
            if let Some(b) = data.get("before").and_then(Value::as_str) {
                after = overlapped(b);
            }
            let more = data.get("more_results_available").and_then(Value::as_i64) == Some(1);
            if waiting.is_empty() || more {
                continue;
            }
            if Instant::now() >= deadline {
                return Err(ClientError::Timeout(format!(
                    "{} analysis task(s) not finished after {} s: {}",
                    waiting.len(),
                    timeout.as_secs(),
                    waiting.iter().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            if progressed {
                pause = Duration::from_millis(500);
            }
            tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
        Ok(results)
    }
}

/// How far each poll reaches back before the previous `before`: a task whose completion
/// time was taken just before that instant may become visible just after it, and would
/// otherwise be missed. Tasks seen twice are ignored.
const POLL_OVERLAP: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

fn overlapped(before: &str) -> String {
    chrono::NaiveDateTime::parse_from_str(before, "%Y-%m-%d %H:%M:%S%.f")
        .map(|t| {
            (t - POLL_OVERLAP)
                .format("%Y-%m-%d %H:%M:%S%.6f")
                .to_string()
        })
        .unwrap_or_else(|_| before.to_owned())
}

fn submission(answer: Value) -> Submission {
    let task_uuid = answer
        .get("task_uuid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    // A reused analysis answers the result itself, with its score.
    let result = answer.get("score").is_some().then_some(answer);
    Submission { task_uuid, result }
}

/// The SHA-256 of a file, read in chunks: memory stays bounded however large it is.
async fn sha256_of_file(path: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    use tokio::io::AsyncReadExt;
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn polls_overlap_the_previous_window() {
        assert_eq!(
            super::overlapped("2026-01-01 00:00:03.250000"),
            "2025-12-31 23:59:58.250000"
        );
        assert_eq!(super::overlapped("garbage"), "garbage");
    }
}
