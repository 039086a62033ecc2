//! The three push methods: parse, check the sensor and task against the caller, store
//! durably, answer "OK".

use super::caller::Caller;
use super::form::Form;
use super::reply::{Failure, Fmt, Reply};
use crate::state::AppState;
use axum::extract::State;
use pushdetect_model::{
    ApiError, ErrorCode, Event, EventKind, FormParams, NetworkSelection, PushRequest, Timestamp,
};
use pushdetect_store::{Dedup, Inserted, NewEvent, Principal, Sensor};
use serde_json::json;
use sha2::{Digest, Sha256};

/// Handles `push_file_download`, `push_result` and `push_mail`.
pub async fn push(
    kind: EventKind,
    State(app): State<AppState>,
    caller: Caller,
    Fmt(format): Fmt,
    Form(params): Form,
) -> Reply {
    Reply::new(
        format,
        store_push(&app, &caller, kind, &params)
            .await
            .map(|_| json!("OK")),
    )
}

async fn store_push(
    app: &AppState,
    caller: &Caller,
    kind: EventKind,
    params: &FormParams,
) -> Result<Inserted, Failure> {
    let now = Timestamp(chrono::Utc::now());
    let request = PushRequest::parse(kind, params, now)?;
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
    };
    // A zero window turns resent-push recognition off.
    let window = app.config.dedup_window;
    let dedup = (!window.is_zero()).then(|| Dedup {
        fingerprint: fingerprint(caller.principal, kind, params),
        since_ms: now
            .millis()
            .saturating_sub(i64::try_from(window.as_millis()).unwrap_or(i64::MAX)),
    });
    let inserted = app.events.insert(event, dedup).await?;
    app.live.notify_waiters();
    match inserted {
        Inserted::New(id) => {
            app.metrics.event_stored(kind.as_str());
            tracing::debug!(event_id = id, kind = %kind, account = caller.account_id, "event stored");
        }
        Inserted::Duplicate(id) => {
            tracing::info!(event_id = id, kind = %kind, "resent push recognised; not stored again");
        }
    }
    Ok(inserted)
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

/// The sensor named by the push, if the caller may use it; otherwise 3001. The answer is the
/// same whether the sensor does not exist or belongs to someone else, so nothing leaks.
async fn usable_sensor(
    app: &AppState,
    caller: &Caller,
    selection: &NetworkSelection,
) -> Result<Sensor, Failure> {
    let (sensor, shown) = match selection {
        NetworkSelection::SensorKey { access_key, subkey } => (
            app.store.find_sensor_by_key(access_key, subkey).await?,
            format!("key '{access_key}:{subkey}'"),
        ),
        NetworkSelection::Ids { key_id, subkey_id } => (
            app.store
                .find_sensor(*subkey_id)
                .await?
                .filter(|s| s.license_id == *key_id),
            format!("key_id {key_id} with subkey_id {subkey_id}"),
        ),
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
        ApiError::permission_denied(&format!(
            "{shown} is not an enabled sensor this login may push for"
        ))
        .into()
    })
}
