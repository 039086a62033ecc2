//! The answer of every PAPI call: the envelope in the format of the URL suffix, HTTP 200 for
//! API errors (Lastline clients treat any HTTP error as a communication failure), HTTP 503
//! only when the store is unavailable or the node is at one of its bounds.

use crate::envelope::respond;
pub use crate::envelope::Fmt;
use crate::metrics::ErrorCodeSeen;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use pushdetect_model::envelope::{failure, success};
use pushdetect_model::{ApiError, Format};
use pushdetect_store::StoreError;
use serde_json::Value;

/// Why a call failed.
#[derive(Debug)]
pub enum Failure {
    /// Refused: HTTP 200 with success 0.
    Api(ApiError),
    /// The store failed: HTTP 503 so the client retries.
    Unavailable(StoreError),
    /// The node holds all it allows at once (what, in the message): HTTP 503 with error
    /// 5001 so the client retries later.
    Busy(&'static str),
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Api(e)
    }
}

impl From<StoreError> for Failure {
    /// A store that refused a change by a rule of the model answers that rule's error;
    /// anything else means the store could not do its work.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Refused(api) => Failure::Api(api),
            e => Failure::Unavailable(e),
        }
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
            Err(Failure::Busy(message)) => {
                let e = ApiError::new(pushdetect_model::ErrorCode::Unavailable, message);
                let code = Some(e.code.number());
                (StatusCode::SERVICE_UNAVAILABLE, failure(&e), code)
            }
        };
        let mut response = respond(self.format, status, &envelope, self.extra_headers);
        if let Some(code) = code {
            response.extensions_mut().insert(ErrorCodeSeen(code));
        }
        response
    }
}
