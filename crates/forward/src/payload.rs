//! What one delivery sends: the text of a syslog message or the JSON body of a webhook,
//! in the destination's format, built from what the delivery carries as it is when sent.

use crate::{cef, leef, ocsf};
use pushdetect_model::forwarding::PayloadFormat;
use pushdetect_store::external::{event_json, incident_json};
use pushdetect_store::forwarding::{Carried, Delivery};
use serde_json::{json, Value};

/// The names CEF and LEEF headers (and OCSF metadata) give the sender. A destination may
/// set vendor and product (say, to what SIEM parsers written for another product expect).
#[derive(Debug, Clone, PartialEq)]
pub struct Names {
    /// Device vendor.
    pub vendor: String,
    /// Device product.
    pub product: String,
    /// Device version.
    pub version: String,
}

impl Default for Names {
    fn default() -> Self {
        Names {
            vendor: "pushdetect".into(),
            product: "pushdetect".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// One delivery, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    /// The delivery id.
    pub delivery_id: i64,
    /// `event`, or the incident change.
    pub change: String,
    /// The event it carries.
    pub event_id: Option<i64>,
    /// The incident it carries.
    pub incident_id: Option<i64>,
    /// The impact of what it carries.
    pub impact: Option<i64>,
    /// The syslog message text, or the webhook's JSON body.
    pub text: String,
}

/// The line a chat channel shows for what a delivery carries.
fn chat_line(carried: &Carried, change: &str) -> String {
    let impact = |i: Option<i64>| i.map_or("impact unknown".to_owned(), |i| format!("impact {i}"));
    match carried {
        Carried::Event(e) => format!(
            "[pushdetect] {} ({}{}): event {}",
            crate::facts::summary(e),
            impact(e.impact),
            e.action
                .as_deref()
                .map(|a| format!(", {a}"))
                .unwrap_or_default(),
            e.id
        ),
        Carried::Incident(i) => format!(
            "[pushdetect] incident {} on {} ({}, {}): {change}",
            i.id,
            i.host,
            impact(i.impact),
            i.workflow.status.as_str()
        ),
        Carried::Gone => String::new(),
    }
}

/// The JSON a webhook (or a JSON syslog message) carries for one delivery.
fn envelope(delivery: &Delivery, carried: &Carried) -> Option<Value> {
    let (key, value) = match carried {
        Carried::Event(e) => ("event", event_json(e)),
        Carried::Incident(i) => ("incident", incident_json(i)),
        Carried::Gone => return None,
    };
    Some(json!({
        "delivery_id": delivery.id,
        "change": delivery.change,
        "text": chat_line(carried, &delivery.change),
        key: value,
    }))
}

/// Builds a delivery for a syslog server (`webhook` false) or a webhook; None when what it
/// carried is gone.
pub fn build(
    format: PayloadFormat,
    names: &Names,
    delivery: &Delivery,
    carried: &Carried,
    webhook: bool,
) -> Option<Built> {
    let text = match (format, carried) {
        (_, Carried::Gone) => return None,
        (PayloadFormat::Cef, Carried::Event(e)) => cef::event(e, names),
        (PayloadFormat::Cef, Carried::Incident(i)) => cef::incident(i, &delivery.change, names),
        (PayloadFormat::Leef, Carried::Event(e)) => leef::event(e, names),
        (PayloadFormat::Leef, Carried::Incident(i)) => leef::incident(i, &delivery.change, names),
        (PayloadFormat::Ocsf, Carried::Event(e)) => {
            let mut finding = ocsf::event(e, names, delivery.id);
            if webhook {
                finding["text"] = json!(chat_line(carried, &delivery.change));
            }
            finding.to_string()
        }
        (PayloadFormat::Json, Carried::Event(e)) if !webhook => event_json(e).to_string(),
        (PayloadFormat::Json | PayloadFormat::Ocsf, _) => envelope(delivery, carried)?.to_string(),
    };
    let impact = match carried {
        Carried::Event(e) => e.impact,
        Carried::Incident(i) => i.impact,
        Carried::Gone => None,
    };
    Some(Built {
        delivery_id: delivery.id,
        change: delivery.change.clone(),
        event_id: delivery.event_id,
        incident_id: delivery.incident_id,
        impact,
        text,
    })
}
