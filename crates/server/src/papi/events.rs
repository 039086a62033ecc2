//! The read API: the caller's account's events and incidents, as stored.

use super::caller::Caller;
use super::form::Form;
use super::reply::{Failure, Fmt, Reply};
use crate::list_filters as filters;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use pushdetect_model::envelope::ListEnvelope;
use pushdetect_model::method::{EVENT_GET, EVENT_LIST, INCIDENT_GET, INCIDENT_LIST};
use pushdetect_model::params::ParamReader;
use pushdetect_model::values::parse_id;
use pushdetect_model::Format;
use pushdetect_model::{ApiError, ErrorCode, NetworkSelection};
use pushdetect_store::{
    AssigneeFilter, EventCursor, EventFilter, EventOrder, IncidentFilter, Principal, Resolution,
    Status, StoredEvent,
};
use serde_json::{json, Value};

/// Default page size.
const DEFAULT_LIMIT: u32 = 100;
/// Largest page size.
const MAX_LIMIT: u32 = 1000;

/// `GET /papi/push_detection/event/list`: the page is sent while it is read from the store,
/// a batch at a time.
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Fmt(format): Fmt,
    Form(params): Form,
) -> Response {
    let query = match list_query(&app, &caller, &params).await {
        Ok(q) => q,
        Err(f) => return Reply::new(format, Err(f)).into_response(),
    };
    stream_page(app, caller.account_id, query, format).await
}

/// `GET /papi/push_detection/event/get`.
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    Fmt(format): Fmt,
    Form(params): Form,
) -> Reply {
    Reply::new(format, get_event(&app, &caller, &params).await)
}

/// What a list request asks for.
struct ListQuery {
    filter: EventFilter,
    limit: u32,
    order: EventOrder,
}

async fn list_query(
    app: &AppState,
    caller: &Caller,
    params: &pushdetect_model::FormParams,
) -> Result<ListQuery, Failure> {
    let r = ParamReader::new(&EVENT_LIST, params)?;
    let limit = page_size(&r)?;
    let order = r
        .parse_opt("order", api(filters::order))?
        .unwrap_or_default();
    let mut filter = EventFilter {
        kind: r.parse_opt("type", api(filters::kind))?,
        after_ms: r.parse_opt("after", api(filters::time))?,
        before_ms: r.parse_opt("before", api(filters::time))?,
        host: r.parse_opt("host", api(filters::host))?,
        vendor_name: r.parse_opt("vendor_name", api(filters::text))?,
        tool_name: r.parse_opt("tool_name", api(filters::text))?,
        sensor_id: None,
        text: r.parse_opt("q", api(filters::text))?,
        after_id: None,
        action: r.parse_opt("action", api(filters::action))?,
        min_impact: r.parse_opt("min_impact", api(filters::impact))?,
        max_impact: r.parse_opt("max_impact", api(filters::impact))?,
        incident_id: r.parse_opt("incident_id", parse_id)?,
        order,
        cursor: r.parse_opt("cursor", |n, v| {
            filters::parse_event_cursor(n, v, order).map_err(ApiError::from)
        })?,
        // Set per batch while the page is sent.
        limit,
    };
    if let Some(sensor) = r.get("sensor") {
        filter.sensor_id = Some(sensor_id(app, caller, sensor).await?);
    }
    Ok(ListQuery {
        filter,
        limit,
        order,
    })
}

/// Bytes of events one answer holds at most: a page ends early (with a cursor to the rest)
/// rather than pass it, however large the events stored.
pub const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// Events read from the store at once while a page is sent.
const FETCH_BATCH: usize = 100;

/// Sends up to `limit` events as they are read, a batch at a time, ending early at
/// [`MAX_ANSWER_BYTES`]: a request holds one batch of rows, never the whole page. The first
/// batch is read before anything is sent, so that a store that cannot be reached still
/// answers 503; a later failure cuts the answer short (the client sees a broken answer
/// and retries).
async fn stream_page(app: AppState, account_id: i64, query: ListQuery, format: Format) -> Response {
    let ListQuery {
        mut filter,
        limit,
        order,
    } = query;
    let limit = limit as usize;
    // One more than still wanted, to know whether another page exists.
    let want = move |sent: usize| (limit - sent + 1).min(FETCH_BATCH);
    filter.limit = u32::try_from(want(0)).unwrap_or(u32::MAX);
    let first = match app.store.list_events(account_id, &filter).await {
        Ok(batch) => batch,
        Err(e) => return Reply::new(format, Err(Failure::from(e))).into_response(),
    };
    let envelope = ListEnvelope {
        format,
        list: "events",
    };
    let body = async_stream::stream! {
        yield Ok::<_, std::io::Error>(Bytes::from(envelope.head()));
        let (mut batch, mut sent, mut bytes) = (first, 0usize, 0usize);
        let mut last: Option<EventCursor> = None;
        let mut more = false;
        'pages: loop {
            // Every batch asks for at least one row, so an empty one is exhausted too.
            let exhausted = batch.len() < filter.limit as usize;
            for event in &batch {
                let piece = envelope.item(sent, &event_json(event));
                if sent == limit || (sent > 0 && bytes + piece.len() > MAX_ANSWER_BYTES) {
                    more = true;
                    break 'pages;
                }
                bytes += piece.len();
                sent += 1;
                last = Some(EventCursor::after(event));
                yield Ok(Bytes::from(piece));
            }
            if exhausted {
                break;
            }
            filter.cursor = last;
            filter.limit = u32::try_from(want(sent)).unwrap_or(u32::MAX);
            batch = match app.store.list_events(account_id, &filter).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "store failed while an event list was sent");
                    yield Err(std::io::Error::other("the store failed; the answer is incomplete"));
                    return;
                }
            };
        }
        let mut rest = serde_json::Map::new();
        rest.insert("more_results_available".into(), json!(u8::from(more)));
        let next_cursor = match (more, &last) {
            (true, Some(last)) => json!(filters::event_cursor(last, order)),
            _ => Value::Null,
        };
        rest.insert("next_cursor".into(), next_cursor);
        yield Ok(Bytes::from(envelope.tail(&rest)));
    };
    (
        [(header::CONTENT_TYPE, format.content_type())],
        Body::from_stream(body),
    )
        .into_response()
}

async fn get_event(
    app: &AppState,
    caller: &Caller,
    params: &pushdetect_model::FormParams,
) -> Result<Value, Failure> {
    let r = ParamReader::new(&EVENT_GET, params)?;
    let id = r.parse_req("event_id", "the id of an event", parse_id)?;
    let Some(event) = app.store.get_event(caller.account_id, id).await? else {
        return Err(ApiError::new(
            pushdetect_model::ErrorCode::UnknownEvent,
            format!("invalid value for parameter 'event_id': no event {id} in this account"),
        )
        .into());
    };
    let mut out = event_json(&event);
    out["tasks"] = task_links(app, caller, &event).await?;
    Ok(out)
}

/// Each task uuid the event names, and whether it is a task known here (it may have been
/// analysed by another service, e.g. for mail gateways).
async fn task_links(
    app: &AppState,
    caller: &Caller,
    event: &StoredEvent,
) -> Result<Value, Failure> {
    let uuids = &event.task_uuids;
    let known = app.store.known_tasks(caller.account_id, uuids).await?;
    Ok(Value::Array(
        uuids
            .iter()
            .map(|u| {
                let task = known.iter().find(|t| t.uuid == *u);
                json!({
                    "task_uuid": u,
                    "known": task.is_some(),
                    "key_id": task.map(|t| t.license_id),
                })
            })
            .collect(),
    ))
}

/// The page size parameter `limit`: 1 to 1000, default 100.
pub(super) fn page_size(r: &ParamReader<'_>) -> Result<u32, ApiError> {
    Ok(r.parse_opt("limit", |n, v| match v.trim().parse::<u32>() {
        Ok(l) if (1..=MAX_LIMIT).contains(&l) => Ok(l),
        _ => Err(ApiError::invalid(n, "a page size from 1 to 1000")),
    })?
    .unwrap_or(DEFAULT_LIMIT))
}

/// A filter parser of [`filters`] as the read API answers its refusals.
fn api<T>(
    parse: fn(&str, &str) -> Result<T, filters::Refused>,
) -> impl FnOnce(&str, &str) -> Result<T, ApiError> {
    move |name, value| parse(name, value).map_err(ApiError::from)
}

/// `GET /papi/push_detection/incident/list`.
pub async fn list_incidents(
    State(app): State<AppState>,
    caller: Caller,
    Fmt(format): Fmt,
    Form(params): Form,
) -> Reply {
    Reply::new(format, incidents(&app, &caller, &params).await)
}

/// `GET /papi/push_detection/incident/get`.
pub async fn get_incident(
    State(app): State<AppState>,
    caller: Caller,
    Fmt(format): Fmt,
    Form(params): Form,
) -> Reply {
    Reply::new(format, incident(&app, &caller, &params).await)
}

async fn incidents(
    app: &AppState,
    caller: &Caller,
    params: &pushdetect_model::FormParams,
) -> Result<Value, Failure> {
    let r = ParamReader::new(&INCIDENT_LIST, params)?;
    let limit = page_size(&r)?;
    let user = match caller.principal {
        Principal::User(id) => Some(id),
        Principal::License(_) => None,
    };
    let unread = r.parse_opt("unread", pushdetect_model::values::parse_bool)?;
    let unread_by = match (unread, user) {
        (Some(true), Some(user)) => Some(user),
        (Some(true), None) => {
            return Err(ApiError::invalid(
                "unread",
                "False for a license's session: read marks are kept per user",
            )
            .into())
        }
        _ => None,
    };
    let assignee = match r.get("assignee") {
        Some(v) => {
            let expected = "a user name of this account, 'me' or 'nobody'";
            Some(
                match super::workflow::named_assignee(app, caller, v, expected).await? {
                    Some(id) => AssigneeFilter::User(id),
                    None => AssigneeFilter::Nobody,
                },
            )
        }
        None => None,
    };
    let filter = IncidentFilter {
        host: r.parse_opt("host", api(filters::host))?,
        after_ms: r.parse_opt("after", api(filters::time))?,
        before_ms: r.parse_opt("before", api(filters::time))?,
        min_impact: r.parse_opt("min_impact", api(filters::impact))?,
        status: r.parse_opt("status", Status::parse)?,
        resolution: r.parse_opt("resolution", Resolution::parse)?,
        assignee,
        unread_by,
        cursor: r.parse_opt("cursor", api(filters::parse_pair_cursor))?,
        limit: limit + 1,
    };
    let mut list = app.store.list_incidents(caller.account_id, &filter).await?;
    let more = list.len() > limit as usize;
    list.truncate(limit as usize);
    let next_cursor = match (more, list.last()) {
        (true, Some(last)) => json!(format!("{}.{}", last.last_ms, last.id)),
        _ => Value::Null,
    };
    Ok(json!({
        "incidents": list.iter().map(incident_json).collect::<Vec<_>>(),
        "more_results_available": u8::from(more),
        "next_cursor": next_cursor,
    }))
}

async fn incident(
    app: &AppState,
    caller: &Caller,
    params: &pushdetect_model::FormParams,
) -> Result<Value, Failure> {
    let r = ParamReader::new(&INCIDENT_GET, params)?;
    let id = r.parse_req("incident_id", "the id of an incident", parse_id)?;
    let Some(found) = app.store.get_incident(caller.account_id, id).await? else {
        return Err(ApiError::new(
            ErrorCode::UnknownIncident,
            format!("invalid value for parameter 'incident_id': no incident {id} in this account"),
        )
        .into());
    };
    let events = app
        .store
        .list_events(
            caller.account_id,
            &EventFilter {
                incident_id: Some(id),
                order: EventOrder::Oldest,
                limit: MAX_LIMIT,
                ..EventFilter::default()
            },
        )
        .await?;
    if let Principal::User(user) = caller.principal {
        app.store.mark_read(caller.account_id, id, user).await?;
    }
    let mut out = incident_json(&found);
    out["events"] = events.iter().map(event_json).collect();
    Ok(out)
}

use pushdetect_store::external::event_json;
pub use pushdetect_store::external::incident_json;

/// The sensor filter: "access_key:subkey" or a subkey_id, of the caller's account.
async fn sensor_id(app: &AppState, caller: &Caller, value: &str) -> Result<i64, Failure> {
    let sensor = if let Ok(id) = value.trim().parse::<i64>() {
        app.store.find_sensor(id).await?
    } else {
        match NetworkSelection::parse_key("sensor", value)? {
            NetworkSelection::SensorKey { access_key, subkey } => {
                app.store.find_sensor_by_key(&access_key, &subkey).await?
            }
            NetworkSelection::Ids { subkey_id, .. } => app.store.find_sensor(subkey_id).await?,
        }
    };
    sensor
        .filter(|s| s.account_id == caller.account_id)
        .map(|s| s.id)
        .ok_or_else(|| {
            ApiError::invalid(
                "sensor",
                "'access_key:subkey' or subkey_id of a sensor of this account",
            )
            .into()
        })
}
