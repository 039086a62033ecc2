//! A test message: what the console's test-send button and
//! `pushdetect admin destination test` send, through the destination's own format and
//! transport, to show that it is reachable and parses what it receives.

use crate::destination::Prepared;
use crate::payload::build;
use crate::syslog::{self, SyslogSender};
use crate::webhook::WebhookSender;
use crate::SendError;
use pushdetect_store::forwarding::{Carried, Delivery, Destination, Leased};
use pushdetect_store::{Principal, Store, StoredEvent};
use serde_json::json;

/// Sends one test event (delivery id 0, event id 0) now; Ok once the transport took it
/// (a webhook answered 2xx).
pub async fn send_test(d: &Prepared, hostname: &str) -> Result<(), SendError> {
    let now = chrono::Utc::now().timestamp_millis();
    let event = StoredEvent {
        id: 0,
        kind: "ioc".into(),
        received_at_ms: now,
        occurred_at_ms: now,
        license_id: 0,
        access_key: "test".into(),
        sensor_id: 0,
        subkey: "test".into(),
        pushed_by: Principal::License(0),
        pushed_by_label: "test".into(),
        vendor_name: "pushdetect".into(),
        tool_name: "destination test".into(),
        fields: json!({"hostname": "pushdetect-test", "ioc_matched": false,
                       "ioc_uuid": "00000000-0000-0000-0000-000000000000",
                       "ioc_source": "a test message from pushdetect"}),
        raw_params: json!({}),
        hosts: vec![],
        task_uuids: vec![],
        action: None,
        impact: Some(0),
    };
    let delivery = Delivery {
        id: 0,
        destination_id: d.id,
        change: "test".into(),
        event_id: Some(0),
        incident_id: None,
        created_at_ms: now,
        retry_since_ms: now,
        attempts: 0,
        next_attempt_ms: now,
        last_error: None,
        dead_at_ms: None,
    };
    let carried = Carried::Event(Box::new(event));
    let webhook = d.target.is_webhook();
    let built = build(d.format, &d.options.names(), &delivery, &carried, webhook)
        .ok_or_else(|| SendError::Settings("nothing to send".into()))?;
    if webhook {
        WebhookSender::new(d)?.send(0, &built.text, now).await
    } else {
        let message = syslog::message(&built, d.options.syslog_facility(), hostname, now);
        SyslogSender::new(d)?.send(&[message]).await
    }
}

/// Sends one test event to a stored destination (its secret read from the store): what
/// the console, the CLI and the read API run.
pub async fn test_destination(
    store: &dyn Store,
    destination: Destination,
    hostname: &str,
) -> Result<(), SendError> {
    let secret = store
        .destination_secret(destination.id)
        .await
        .map_err(|e| SendError::retry(format!("reading the destination: {e}")))?;
    let prepared = Prepared::from_leased(&Leased {
        destination,
        secret,
    })?;
    send_test(&prepared, hostname).await
}
