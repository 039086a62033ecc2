//! The `push_detection` view: the three push methods, each request checked with the model
//! crate before it is sent, so a user sees the server's clear error offline.

use crate::error::ClientError;
use crate::papi::{Body, PapiClient};
use pushdetect_model::batch::{BatchAnswer, PUSH_EVENTS};
use pushdetect_model::method::MethodSpec;
use pushdetect_model::{BatchItem, EventKind, FormParams, IdempotencyKey, PushRequest, Timestamp};
use reqwest::Method;
use serde_json::Value;

/// The push_detection view of a PAPI session.
pub struct PushDetection<'a> {
    papi: &'a PapiClient,
}

impl<'a> PushDetection<'a> {
    /// The view over `papi`.
    pub fn new(papi: &'a PapiClient) -> Self {
        PushDetection { papi }
    }

    /// Checks a push offline, by the same rules the server applies.
    pub fn check(kind: EventKind, params: &FormParams) -> Result<PushRequest, ClientError> {
        PushRequest::parse(kind, params, Timestamp(chrono::Utc::now()))
            .map_err(ClientError::Invalid)
    }

    /// Checks and sends a push; the server's answer is `"OK"`.
    pub async fn push(&self, kind: EventKind, params: &FormParams) -> Result<Value, ClientError> {
        Self::check(kind, params)?;
        self.call(kind.method(), params).await
    }

    /// Checks and sends a push that carries an idempotency key: a resend with the same key
    /// (a retry after a lost answer, a spooled copy drained later) is stored once.
    pub async fn push_keyed(
        &self,
        kind: EventKind,
        params: &FormParams,
        key: &IdempotencyKey,
    ) -> Result<Value, ClientError> {
        Self::check(kind, params)?;
        self.send(
            kind.method(),
            Body::Form(params.pairs()),
            Some(key.as_str()),
        )
        .await
    }

    /// `push_detection.batch.push_events`: many pushes in one request, sent as JSON lines.
    /// Items are not checked here: the server answers each with its own result, in order.
    pub async fn push_events(&self, items: &[BatchItem]) -> Result<BatchAnswer, ClientError> {
        let mut body = Vec::new();
        for item in items {
            body.extend_from_slice(item.to_json().to_string().as_bytes());
            body.push(b'\n');
        }
        self.push_lines(&body).await
    }

    /// `push_detection.batch.push_events` with a body as the caller wrote it (a JSON array
    /// or JSON lines), e.g. read from a file.
    pub async fn push_lines(&self, body: &[u8]) -> Result<BatchAnswer, ClientError> {
        let data = self.send(&PUSH_EVENTS, Body::Json(body), None).await?;
        serde_json::from_value(data).map_err(|e| {
            ClientError::Communication(format!("the batch answer is not as documented: {e}"))
        })
    }

    /// `push_detection.file_capture.push_file_download`.
    pub async fn push_file_download(&self, params: &FormParams) -> Result<Value, ClientError> {
        self.push(EventKind::FileDownload, params).await
    }

    /// `push_detection.ioc.push_result`.
    pub async fn push_result(&self, params: &FormParams) -> Result<Value, ClientError> {
        self.push(EventKind::Ioc, params).await
    }

    /// `push_detection.mail_capture.push_mail`.
    pub async fn push_mail(&self, params: &FormParams) -> Result<Value, ClientError> {
        self.push(EventKind::Mail, params).await
    }

    /// `push_detection.ping`.
    pub async fn ping(&self) -> Result<Value, ClientError> {
        self.papi
            .call(Method::GET, "push_detection/ping.json", &[])
            .await
    }

    /// Any method of the view, by its table, with parameters as given (the server checks).
    pub async fn call(&self, spec: &MethodSpec, params: &FormParams) -> Result<Value, ClientError> {
        self.send(spec, Body::Form(params.pairs()), None).await
    }

    /// Sends `body` to the method of `spec`, with an idempotency key if given.
    async fn send(
        &self,
        spec: &MethodSpec,
        body: Body<'_>,
        key: Option<&str>,
    ) -> Result<Value, ClientError> {
        let method = Method::from_bytes(spec.http_method.as_bytes()).unwrap_or(Method::POST);
        self.papi
            .call_with(method, &format!("{}.json", spec.path), body, key)
            .await
    }
}
