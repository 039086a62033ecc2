//! The PAPI client, behaving as Lastline's papi_client does: it logs in on first use,
//! keeps the session cookie, and after a communication error or a 3001-3004 answer drops
//! the session, logs in again and sends the request once more (at most twice in all).

use crate::config::{Auth, PapiConfig};
use crate::error::ClientError;
use crate::http;
use pushdetect_model::batch::KEY_HEADER;
use reqwest::header::{CONTENT_TYPE, COOKIE};
use reqwest::Method;
use serde_json::Value;
use tokio::sync::Mutex;

/// What a call sends.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    /// Form fields (the query string of a GET).
    Form(&'a [(String, String)]),
    /// A JSON body (JSON lines or an array: the batch push).
    Json(&'a [u8]),
}

/// A PAPI session.
pub struct PapiClient {
    config: PapiConfig,
    http: reqwest::Client,
    /// The session cookie (`name=value`), once logged in.
    session: Mutex<Option<String>>,
}

impl PapiClient {
    /// A client for `config`; nothing is sent until the first call.
    pub fn new(config: PapiConfig) -> Result<PapiClient, ClientError> {
        let http = http::build(&config.transport)?;
        Ok(PapiClient {
            config,
            http,
            session: Mutex::new(None),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &PapiConfig {
        &self.config
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/{}",
            self.config.url.as_str().trim_end_matches('/'),
            path
        )
    }

    /// Logs in (again), replacing any session.
    pub async fn login(&self) -> Result<(), ClientError> {
        let mut session = self.session.lock().await;
        *session = None;
        let form: Vec<(String, String)> = match &self.config.auth {
            Auth::Account { username, password } => vec![
                ("username".into(), username.clone()),
                ("password".into(), password.clone()),
            ],
            Auth::License { api_key, api_token } => vec![
                ("api_key".into(), api_key.clone()),
                ("api_token".into(), api_token.clone()),
            ],
        };
        let url = self.url("login");
        tracing::debug!(target: "pushdetect_client::http", "-> POST {url} {}", http::masked(&form));
        let response = self.http.post(&url).form(&form).send().await?;
        if !response.status().is_success() {
            let mut message = format!("login at {url} answered HTTP {}", response.status());
            if !self
                .config
                .url
                .path()
                .trim_end_matches('/')
                .ends_with("/papi")
            {
                message.push_str(&format!(
                    "; the PAPI url ends in /papi: try {}/papi",
                    self.config.url.as_str().trim_end_matches('/')
                ));
            }
            return Err(ClientError::Communication(message));
        }
        let cookie = http::session_cookie(&response);
        let (status, value) = http::envelope(response).await?;
        http::open(status, value)?;
        *session = Some(cookie.ok_or_else(|| {
            ClientError::Communication("login succeeded but set no session cookie".into())
        })?);
        Ok(())
    }

    /// Ends the session, if there is one.
    pub async fn logout(&self) -> Result<(), ClientError> {
        if self.session.lock().await.is_none() {
            return Ok(());
        }
        let result = self
            .send(Method::POST, "logout.json", Body::Form(&[]), None)
            .await;
        *self.session.lock().await = None;
        result.map(|_| ())
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Body<'_>,
        key: Option<&str>,
    ) -> Result<Value, ClientError> {
        let url = self.url(path);
        let cookie = self.session.lock().await.clone();
        let mut request = match body {
            Body::Form(params) => {
                tracing::debug!(target: "pushdetect_client::http", "-> {method} {url} {}", http::masked(params));
                if method == Method::GET {
                    self.http.get(&url).query(params)
                } else {
                    self.http.request(method, &url).form(params)
                }
            }
            Body::Json(bytes) => {
                tracing::debug!(target: "pushdetect_client::http", "-> {method} {url} ({} bytes of JSON)", bytes.len());
                self.http
                    .request(method, &url)
                    .header(CONTENT_TYPE, "application/json")
                    .body(bytes.to_vec())
            }
        };
        if let Some(c) = cookie {
            request = request.header(COOKIE, c);
        }
        if let Some(key) = key {
            request = request.header(KEY_HEADER, key);
        }
        let response = request.send().await?;
        let status = response.status();
        if !status.is_success() {
            // papi_client raises for the status before reading the body.
            return Err(ClientError::Communication(format!(
                "HTTP {status} from {url}"
            )));
        }
        let (status, value) = http::envelope(response).await?;
        http::open(status, value)
    }

    /// Calls `path` (below the base URL, e.g. `push_detection/ping.json`): logs in first
    /// if needed; after a communication error or a session error, logs in again and sends
    /// the request a second and last time.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        params: &[(String, String)],
    ) -> Result<Value, ClientError> {
        self.call_with(method, path, Body::Form(params), None).await
    }

    /// [`PapiClient::call`] with any body, and an idempotency key sent in the
    /// `Idempotency-Key` header: the server stores a push resent with the same key once.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Body<'_>,
        key: Option<&str>,
    ) -> Result<Value, ClientError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = async {
                if self.session.lock().await.is_none() {
                    self.login().await?;
                }
                self.send(method.clone(), path, body, key).await
            }
            .await;
            match result {
                Err(e)
                    if attempt == 1
                        && (matches!(e, ClientError::Communication(_)) || e.is_session_error()) =>
                {
                    tracing::debug!(target: "pushdetect_client::http", "retrying once after: {e}");
                    *self.session.lock().await = None;
                }
                other => return other,
            }
        }
    }
}
