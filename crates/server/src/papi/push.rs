//! The three push methods: parse, check the sensor and task against the caller, store
//! durably, answer "OK". The batch push (`batch.rs`) prepares each of its items here too.

use super::caller::Caller;
use super::form::Form;
use super::reply::{Failure, Fmt, Reply};
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use pushdetect_model::batch::KEY_HEADER;
use pushdetect_model::{
    ApiError, ErrorCode, Event, EventKind, FormParams, IdempotencyKey, NetworkSelection,
    PushRequest, Timestamp,
};
use pushdetect_store::group_commit::EventWrite;
use pushdetect_store::{Dedup, Inserted, NewEvent, Principal, Sensor};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Handles `push_file_download`, `push_result` and `push_mail`.
pub async fn push(
    kind: EventKind,
    State(app): State<AppState>,
    caller: Caller,
    Fmt(format): Fmt,
    headers: HeaderMap,
    Form(params): Form,
) -> Reply {
    let result = async {
        let key = header_key(&headers)?;
        let now = Timestamp(chrono::Utc::now());
        let write = prepare(&app, &caller, kind, &params, key, now).await?;
        let inserted = app.events.write(write).await?;
        app.live.notify_waiters();
        stored(&app, kind, inserted, caller.account_id);
        Ok(json!("OK"))
    };
    Reply::new(format, result.await)
}

/// The idempotency key of the `Idempotency-Key` header, if sent.
pub(super) fn header_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = headers.get(KEY_HEADER) else {
        return Ok(None);
    };
    // A value that is not visible ASCII is refused as an empty one is.
    IdempotencyKey::parse(KEY_HEADER, value.to_str().unwrap_or_default()).map(Some)
}

/// Records a stored push in the metrics and the log.
pub(super) fn stored(app: &AppState, kind: EventKind, inserted: Inserted, account_id: i64) {
    match inserted {
        Inserted::New(id) => {
            app.metrics.event_stored(kind.as_str());
            tracing::debug!(event_id = id, kind = %kind, account = account_id, "event stored");
        }
        Inserted::Duplicate(id) => {
            tracing::info!(event_id = id, kind = %kind, "resent push recognised; not stored again");
        }
    }
}

/// Checks one push and makes its write: parsed, its sensor usable by the caller, its task
/// (if any) submitted with the sensor's license, and how a resend of it is recognised.
pub(super) async fn prepare(
    app: &AppState,
    caller: &Caller,
    kind: EventKind,
    params: &FormParams,
    key: Option<IdempotencyKey>,
    now: Timestamp,
) -> Result<EventWrite, Failure> {
    let request = PushRequest::parse(kind, params, now)?;
    // (The store keeps what pushes look up, sensors and task licenses, in its cache:
    // a batch naming one sensor a thousand times reads it once.)
    let sensor = usable_sensor(app, caller, &request.network).await?;
    if let Event::FileDownload(download) = &request.event {
        let license = app.store.task_license(download.task_uuid.as_str()).await?;
        if license != Some(sensor.license_id) {
            return Err(ApiError::new(
                ErrorCode::UnknownTask,
                format!(
                    "invalid value for parameter 'task_uuid': no analysis task {} was submitted \
                     with the license of this sensor (key_id {}); expected the uuid of a task \
                     submitted with the same license",
                    download.task_uuid, sensor.license_id
                ),
            )
            .into());
        }
    }
    let reporter = request.event.reporter();
    let dedup = dedup(app, caller, kind, params, sensor.license_id, key, now);
    let event = NewEvent {
        account_id: sensor.account_id,
        sensor_id: sensor.id,
        license_id: sensor.license_id,
        pushed_by: caller.principal,
        kind: kind.as_str().to_owned(),
        received_at_ms: now.millis(),
        occurred_at_ms: request.event.occurred_at().unwrap_or(now).millis(),
        vendor_name: reporter.vendor_name.to_string(),
        tool_name: reporter.tool_name.to_string(),
        hosts: request.event.hosts(),
        fields: serde_json::to_value(&request.event).unwrap_or_default(),
        raw_params: params.to_json(),
        triage: crate::triage::of_event(&request.event),
        incident_window_ms: app.config.incident_window_ms(),
        reopen_closed: app.config.reopen_closed,
    };
    Ok(EventWrite { event, dedup })
}

/// How a resend of a push is recognised: by its idempotency key within the idempotency
/// window when it has one, else by its content within the resend window (a zero window
/// turns that off).
fn dedup(
    app: &AppState,
    caller: &Caller,
    kind: EventKind,
    params: &FormParams,
    license_id: i64,
    key: Option<IdempotencyKey>,
    now: Timestamp,
) -> Option<Dedup> {
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let (fingerprint, window) = match key {
        Some(key) => (
            key_fingerprint(license_id, &key),
            app.config.idempotency_window,
        ),
        None if app.config.dedup_window.is_zero() => return None,
        None => (
            fingerprint(caller.principal, kind, params),
            app.config.dedup_window,
        ),
    };
    Some(Dedup {
        fingerprint,
        since_ms: now.millis().saturating_sub(ms(window)),
        keep_until_ms: now.millis().saturating_add(ms(window)),
    })
}

/// The fingerprint of a push: who sent it (the credential, not the session: a retrying
/// client logs in again first), which method, and the parameters in canonical order.
fn fingerprint(principal: Principal, kind: EventKind, params: &FormParams) -> String {
    let who = match principal {
        Principal::User(id) => format!("user:{id}"),
        Principal::License(id) => format!("license:{id}"),
    };
    let mut h = Sha256::new();
    h.update(who.as_bytes());
    h.update([0]);
    h.update(kind.as_str().as_bytes());
    h.update([0]);
    h.update(params.canonical().as_bytes());
    hex::encode(h.finalize())
}

/// The fingerprint of an idempotency key: the same key of another license is another
/// push. (It cannot equal a content fingerprint: those start from a credential's name.)
fn key_fingerprint(license_id: i64, key: &IdempotencyKey) -> String {
    let mut h = Sha256::new();
    h.update(format!("key:{license_id}").as_bytes());
    h.update([0]);
    h.update(key.as_str().as_bytes());
    hex::encode(h.finalize())
}

/// The sensor named by the push, if the caller may use it; otherwise 3001. The answer is the
/// same whether the sensor does not exist or belongs to someone else, so nothing leaks.
async fn usable_sensor(
    app: &AppState,
    caller: &Caller,
    selection: &NetworkSelection,
) -> Result<Sensor, Failure> {
    let sensor = match selection {
        NetworkSelection::SensorKey { access_key, subkey } => {
            app.store.find_sensor_by_key(access_key, subkey).await?
        }
        NetworkSelection::Ids { key_id, subkey_id } => app
            .store
            .find_sensor(*subkey_id)
            .await?
            .filter(|s| s.license_id == *key_id),
    };
    let allowed = |s: &Sensor| {
        !s.disabled
            && s.account_id == caller.account_id
            && match caller.principal {
                Principal::User(_) => true,
                Principal::License(l) => s.license_id == l,
            }
    };
    sensor.filter(allowed).ok_or_else(|| {
        let shown = match selection {
            NetworkSelection::SensorKey { access_key, subkey } => {
                format!("key '{access_key}:{subkey}'")
            }
            NetworkSelection::Ids { key_id, subkey_id } => {
                format!("key_id {key_id} with subkey_id {subkey_id}")
            }
        };
        ApiError::permission_denied(&format!(
            "{shown} is not an enabled sensor this login may push for"
        ))
        .into()
    })
}
