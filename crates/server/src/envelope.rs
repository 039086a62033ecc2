//! The HTTP side of the answer envelope that the PAPI and the Analyst API share: the
//! format named by the path suffix, and an envelope rendered in it with its status and
//! headers. What goes into the envelope (each API's own error codes) stays with each API.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use pushdetect_model::envelope::render;
use pushdetect_model::Format;
use serde_json::Value;
use std::convert::Infallible;

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

/// An envelope rendered in `format` with this status and the extra headers (a header
/// whose value cannot be sent is left out).
pub fn respond(
    format: Format,
    status: StatusCode,
    envelope: &Value,
    headers: Vec<(HeaderName, String)>,
) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, format.content_type())],
        render(envelope, format),
    )
        .into_response();
    for (name, value) in headers {
        if let Ok(v) = value.parse() {
            response.headers_mut().append(name, v);
        }
    }
    response
}
