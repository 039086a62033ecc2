//! `push_detection/batch/push_events`: many pushes of any kind in one request.
//!
//! Each item is checked as its single push would be (`push::prepare`), the accepted ones
//! are stored in one transaction, and the answer holds one result per item in order: "OK",
//! "duplicate" (a resend recognised; nothing stored again) or the error it would get
//! alone. Only a body that cannot be read as items refuses the whole request.

use super::caller::Caller;
use super::push::{header_key, prepare, stored};
use super::reply::{Failure, Fmt, Reply};
use crate::budget::Held;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use pushdetect_model::batch::{split_body, BatchAnswer, ItemResult};
use pushdetect_model::{ApiError, BatchItem, ErrorCode, EventKind, Timestamp};
use pushdetect_store::Inserted;
use serde_json::Value;

/// Handles `push_detection/batch/push_events`. The caller is known before the body is read
/// (the session cookie); the body is bounded by `--max-batch-bytes` (HTTP 413), and the
/// bodies held at once on the node by `--batch-budget-bytes` (HTTP 503, retry later).
pub async fn push_events(
    State(app): State<AppState>,
    caller: Caller,
    Fmt(format): Fmt,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (body, _held) = match read_body(&app, body).await {
        Ok(read) => read,
        Err(refusal) => return refusal.into_response(format),
    };
    Reply::new(format, push_all(&app, &caller, &headers, &body).await).into_response()
}

/// Why a batch body was not read.
enum BodyRefused {
    /// Larger than `--max-batch-bytes`.
    TooLarge,
    /// The node holds its whole batch budget already.
    Busy,
    /// The connection failed while sending.
    Broken(String),
}

impl BodyRefused {
    fn into_response(self, format: pushdetect_model::Format) -> Response {
        match self {
            BodyRefused::TooLarge => StatusCode::PAYLOAD_TOO_LARGE.into_response(),
            BodyRefused::Busy => Reply::new(
                format,
                Err(Failure::Busy(
                    "too many batch pushes are being received at once; retry later",
                )),
            )
            .into_response(),
            BodyRefused::Broken(why) => Reply::error(
                format,
                ApiError::new(
                    ErrorCode::MalformedRequest,
                    format!("the request body could not be read: {why}"),
                ),
            )
            .into_response(),
        }
    }
}

/// Reads the body chunk by chunk, each chunk first taken from the node's batch budget;
/// the permit is held until the batch is answered.
async fn read_body(app: &AppState, body: Body) -> Result<(Vec<u8>, Held), BodyRefused> {
    let limit = app.config.max_batch_bytes;
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    let mut held = Held::default();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BodyRefused::Broken(e.to_string()))?;
        if bytes.len() + chunk.len() > limit {
            return Err(BodyRefused::TooLarge);
        }
        if !held.take(&app.batch_budget, chunk.len()) {
            return Err(BodyRefused::Busy);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((bytes, held))
}

async fn push_all(
    app: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, Failure> {
    let header_key = header_key(headers)?;
    let items = split_body(body, app.config.max_batch_items)?;
    let now = Timestamp(chrono::Utc::now());
    let mut results: Vec<Option<ItemResult>> = Vec::with_capacity(items.len());
    // The accepted items: their writes, and the position and kind of each.
    let (mut writes, mut accepted): (Vec<_>, Vec<(usize, EventKind)>) = Default::default();
    for (index, item) in items.into_iter().enumerate() {
        let item = match item.and_then(BatchItem::read) {
            Ok(item) => item,
            Err(e) => {
                results.push(Some(ItemResult::refused(index, &e)));
                continue;
            }
        };
        // An item's own key, else the header's key made the item's own.
        let key = item
            .key
            .or_else(|| header_key.as_ref().map(|k| k.for_item(index)));
        match prepare(app, caller, item.kind, &item.params, key, now).await {
            Ok(write) => {
                writes.push(write);
                accepted.push((index, item.kind));
                results.push(None);
            }
            Err(Failure::Api(e)) => results.push(Some(ItemResult::refused(index, &e))),
            Err(unavailable) => return Err(unavailable),
        }
    }
    let inserted = app.events.write_all(writes).await?;
    if !inserted.is_empty() {
        app.live.notify_waiters();
    }
    for (&(index, kind), inserted) in accepted.iter().zip(inserted) {
        stored(app, kind, inserted, caller.account_id);
        let duplicate = matches!(inserted, Inserted::Duplicate(_));
        results[index] = Some(ItemResult::accepted(index, duplicate));
    }
    let answer = BatchAnswer::of(results.into_iter().flatten().collect());
    tracing::debug!(
        items = answer.items,
        stored = answer.stored,
        duplicates = answer.duplicates,
        refused = answer.refused,
        account = caller.account_id,
        "batch push"
    );
    // (Counts and strings only: serialising cannot fail.)
    Ok(serde_json::to_value(&answer).unwrap_or_default())
}
