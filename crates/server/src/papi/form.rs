//! Reads a request's form fields: urlencoded or multipart body, plus the query string.

use super::reply::{Fmt, Reply};
use crate::request::{content_type, query_params, utf8_field};
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pushdetect_model::{ApiError, ErrorCode, FormParams};

/// The form fields of a request, in the order received.
#[derive(Debug)]
pub struct Form(pub FormParams);

fn malformed(path: &str, detail: &str) -> Response {
    Reply::error(
        Fmt::of_path(path),
        ApiError::new(
            ErrorCode::MalformedRequest,
            format!("the request body could not be read: {detail}"),
        ),
    )
    .into_response()
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let path = req.uri().path().to_owned();
        let refuse = |e: ApiError| Reply::error(Fmt::of_path(&path), e).into_response();
        let mut params = query_params(&req).map_err(refuse)?;
        let content_type = content_type(&req);
        if content_type.starts_with("multipart/form-data") {
            let mut multipart = Multipart::from_request(req, state)
                .await
                .map_err(|e| malformed(&path, &e.body_text()))?;
            loop {
                match multipart.next_field().await {
                    Ok(None) => break,
                    Ok(Some(field)) => {
                        let name = field.name().unwrap_or_default().to_owned();
                        match field.bytes().await {
                            Ok(bytes) => {
                                let text = utf8_field(&name, bytes).map_err(refuse)?;
                                params.push_received(name, text).map_err(refuse)?;
                            }
                            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                                return Err(StatusCode::PAYLOAD_TOO_LARGE.into_response())
                            }
                            Err(e) => return Err(malformed(&path, &e.body_text())),
                        }
                    }
                    Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                        return Err(StatusCode::PAYLOAD_TOO_LARGE.into_response())
                    }
                    Err(e) => return Err(malformed(&path, &e.body_text())),
                }
            }
            return Ok(Form(params));
        }
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if !body.is_empty() {
            if !content_type.is_empty()
                && !content_type.starts_with("application/x-www-form-urlencoded")
            {
                return Err(malformed(
                    &path,
                    "expected Content-Type application/x-www-form-urlencoded or multipart/form-data",
                ));
            }
            params.push_urlencoded(&body).map_err(refuse)?;
        }
        Ok(Form(params))
    }
}
