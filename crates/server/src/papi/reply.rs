//! The answer of every PAPI call: the envelope in the format of the URL suffix, HTTP 200 for
//! API errors (Lastline clients treat any HTTP error as a communication failure), HTTP 503
//! only when the store is unavailable.

use crate::metrics::ErrorCodeSeen;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use pushdetect_model::envelope::{failure, render, success};
use pushdetect_model::{ApiError, Format};
use pushdetect_store::StoreError;
use serde_json::Value;
use std::convert::Infallible;

/// Why a call failed.
#[derive(Debug)]
pub enum Failure {
    /// Refused: HTTP 200 with success 0.
    Api(ApiError),
    /// The store failed: HTTP 503 so the client retries.
    Unavailable(StoreError),
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Api(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Unavailable(e)
    }
}

/// The response format, taken from the path suffix (`.xml`, else JSON).
#[derive(Debug, Clone, Copy)]
pub struct Fmt(pub Format);

impl Fmt {
    /// The format of a request path.
    pub fn of_path(path: &str) -> Format {
        if path.ends_with(".xml") {
            Format::Xml
        } else {
            Format::Json
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Fmt {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Fmt(Fmt::of_path(parts.uri.path())))
    }
}

/// A rendered PAPI answer.
#[derive(Debug)]
pub struct Reply {
    format: Format,
    result: Result<Value, Failure>,
    extra_headers: Vec<(header::HeaderName, String)>,
}

impl Reply {
    /// Wraps a handler's result.
    pub fn new(format: Format, result: Result<Value, Failure>) -> Self {
        Reply {
            format,
            result,
            extra_headers: Vec::new(),
        }
    }

    /// An API error.
    pub fn error(format: Format, err: ApiError) -> Self {
        Self::new(format, Err(Failure::Api(err)))
    }

    /// Adds a header (e.g. Set-Cookie).
    pub fn with_header(mut self, name: header::HeaderName, value: String) -> Self {
        self.extra_headers.push((name, value));
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let (status, envelope, code) = match self.result {
            Ok(data) => (StatusCode::OK, success(data), None),
            Err(Failure::Api(e)) => (StatusCode::OK, failure(&e), Some(e.code.number())),
            Err(Failure::Unavailable(e)) => {
                tracing::error!(error = %e, "store unavailable");
                let e = ApiError::new(
                    pushdetect_model::ErrorCode::Unavailable,
                    "the service is temporarily unavailable; retry later",
                );
                (StatusCode::SERVICE_UNAVAILABLE, failure(&e), None)
            }
        };
        let mut response = (
            status,
            [(header::CONTENT_TYPE, self.format.content_type())],
            render(&envelope, self.format),
        )
            .into_response();
        for (name, value) in self.extra_headers {
            if let Ok(v) = value.parse() {
                response.headers_mut().append(name, v);
            }
        }
        if let Some(code) = code {
            response.extensions_mut().insert(ErrorCodeSeen(code));
        }
        response
    }
}
