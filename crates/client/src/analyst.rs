//! The Analyst API client, as Lastline's analysis client behaves: it logs in with key and
//! api_token (or, when login answers HTTP 404, sends them with every request), logs in
//! again after 122, and submits a file by hash first and by content when the server
//! answers 101. Waiting for results is [`crate::tracker::Tracker`]'s job.

use crate::config::AnalysisConfig;
use crate::error::ClientError;
use crate::http;
use reqwest::header::COOKIE;
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::path::Path;
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
    /// The SHA-256 of a submitted file.
    pub sha256: Option<String>,
}

/// A body to send: a form, or a multipart upload of a file (re-opened for a retry) or of
/// content in memory.
enum Body<'a> {
    Form(&'a [(String, String)]),
    File {
        path: &'a Path,
        fields: &'a [(String, String)],
    },
    Bytes {
        content: &'a [u8],
        fields: &'a [(String, String)],
    },
}

/// One page of `completed`: the tasks finished in the window with their scores, the
/// `before` to continue from, and whether more are waiting.
#[derive(Debug, Clone)]
pub struct CompletedPage {
    /// Finished tasks and their scores.
    pub tasks: Vec<(String, i64)>,
    /// Where the next poll continues (`after` = this).
    pub before: String,
    /// Whether the server has more in the window already.
    pub more: bool,
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
            Body::File { fields, .. } | Body::Bytes { fields, .. } => fields.to_vec(),
        };
        if session == Session::PerRequest {
            fields.extend(self.credentials());
        }
        tracing::debug!(target: "pushdetect_client::http", "-> {method} {url} {}", http::masked(&fields));
        let content = match body {
            Body::File { path, .. } => {
                let file = tokio::fs::File::open(path)
                    .await
                    .map_err(|e| ClientError::File {
                        path: path.display().to_string(),
                        source: e,
                    })?;
                let size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
                let stream = tokio_util::io::ReaderStream::new(file);
                Some(Part::stream_with_length(
                    reqwest::Body::wrap_stream(stream),
                    size,
                ))
            }
            Body::Bytes { content, .. } => Some(Part::bytes(content.to_vec())),
            Body::Form(_) => None,
        };
        let mut request = match content {
            Some(part) => {
                // The client's dummy part name; the real one is the `filename` field.
                let form = fields
                    .into_iter()
                    .fold(Form::new(), |f, (k, v)| f.text(k, v))
                    .part("file", part.file_name("file"));
                self.http.post(&url).multipart(form)
            }
            None if method == Method::GET => self.http.get(&url).query(&fields),
            None => self.http.request(method, &url).form(&fields),
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
        let content = Body::File {
            path,
            fields: &fields,
        };
        self.submit_by_hash_then(&sha256, &fields, content).await
    }

    /// Submits content held in memory (an attachment): by its SHA-256 first, by content
    /// if the server never saw it.
    pub async fn submit_content(
        &self,
        content: &[u8],
        sha256: &str,
        filename: &str,
    ) -> Result<Submission, ClientError> {
        let fields = vec![("filename".to_owned(), filename.to_owned())];
        let body = Body::Bytes {
            content,
            fields: &fields,
        };
        self.submit_by_hash_then(sha256, &fields, body).await
    }

    async fn submit_by_hash_then(
        &self,
        sha256: &str,
        fields: &[(String, String)],
        content: Body<'_>,
    ) -> Result<Submission, ClientError> {
        let mut by_hash = fields.to_vec();
        by_hash.push(("sha256".into(), sha256.to_owned()));
        let path = "analysis/submit/file.json";
        let answer = match self.call(Method::POST, path, Body::Form(&by_hash)).await {
            Err(ClientError::Api { code, .. }) if code == FILE_NOT_AVAILABLE => {
                self.call(Method::POST, path, content).await?
            }
            other => other?,
        };
        Ok(Submission {
            sha256: Some(sha256.to_owned()),
            ..submission(answer)
        })
    }

    /// The latest finished analysis of a file by its SHA-256 (the hash query): its task
    /// and score, when the server has one for this license.
    pub async fn find_result(&self, sha256: &str) -> Result<Option<(String, i64)>, ClientError> {
        let q = [
            ("hash_value".to_owned(), sha256.to_owned()),
            ("hash_algorithm".to_owned(), "sha256".to_owned()),
        ];
        let data = self
            .call(Method::GET, "analysis/query/file_hash.json", Body::Form(&q))
            .await?;
        let task = &data["tasks"][0];
        Ok(task["task_uuid"]
            .as_str()
            .map(|u| (u.to_owned(), task["score"].as_i64().unwrap_or(0))))
    }

    /// One poll of `completed` from `after`, with scores.
    pub async fn completed(&self, after: &str) -> Result<CompletedPage, ClientError> {
        let q = [
            ("after".to_owned(), after.to_owned()),
            ("include_score".to_owned(), "1".to_owned()),
        ];
        let data = self
            .call(Method::GET, "analysis/completed.json", Body::Form(&q))
            .await?;
        let tasks = match data.get("tasks") {
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| (k.clone(), v.as_i64().unwrap_or(0)))
                .collect(),
            _ => Vec::new(),
        };
        let before = data
            .get("before")
            .and_then(Value::as_str)
            .ok_or_else(|| ClientError::Communication("completed did not echo 'before'".into()))?
            .to_owned();
        let more = data.get("more_results_available").and_then(Value::as_i64) == Some(1);
        Ok(CompletedPage {
            tasks,
            before,
            more,
        })
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
        Ok(self.completed(CLOCK_PROBE).await?.before)
    }
}

fn submission(answer: Value) -> Submission {
    let task_uuid = answer
        .get("task_uuid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    // A reused analysis answers the result itself, with its score.
    let result = answer.get("score").is_some().then_some(answer);
    Submission {
        task_uuid,
        result,
        sha256: None,
    }
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
