//! What both APIs read from a request before their own rules apply: the query string's
//! fields, the Content-Type, and a multipart text field's value as UTF-8.

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::header;
use pushdetect_model::params::not_utf8;
use pushdetect_model::{ApiError, FormParams};

/// The fields of a request's query string.
pub fn query_params(req: &Request) -> Result<FormParams, ApiError> {
    let mut params = FormParams::default();
    if let Some(query) = req.uri().query() {
        params.push_urlencoded(query.as_bytes())?;
    }
    Ok(params)
}

/// A multipart text field's value: UTF-8, refused naming the field otherwise.
pub fn utf8_field(name: &str, bytes: Bytes) -> Result<String, ApiError> {
    String::from_utf8(bytes.into()).map_err(|_| not_utf8(name))
}

/// A request's Content-Type, lower case ("" when absent).
pub fn content_type(req: &Request) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}
