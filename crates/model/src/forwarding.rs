//! Forwarding destinations as an admin names them: where an account's detections are sent
//! (a syslog server or a webhook), in which format, and which of them. Each part parses
//! from the text the CLI, the console and the read API take, and refuses what it cannot
//! send, naming the field; the store keeps a destination's [`Filter`] as JSON and
//! applies it to every event it stores (see docs/forwarding.md).

use crate::error::ApiError;
use crate::event::EventKind;
use crate::values::{value_enum, ItemAction};
use serde::{Serialize, Serializer};
use serde_json::{json, Value};
use std::fmt;
use url::Url;

/// The longest destination name.
pub const MAX_NAME_LEN: usize = 64;
/// The most sensors one filter names.
pub const MAX_FILTER_SENSORS: usize = 1_000;
/// The longest time a delivery may be retried before it is dead-lettered: 30 days.
pub const MAX_DEAD_AFTER_SECS: u64 = 30 * 24 * 3600;

/// A destination's name, unique in its account: 1 to [`MAX_NAME_LEN`] letters, digits,
/// `.`, `_` or `-`, so that it is one word on a command line and in a metric label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationName(String);

impl DestinationName {
    /// Parses the value of parameter `name`.
    pub fn parse(name: &str, value: &str) -> Result<Self, ApiError> {
        let v = value.trim();
        let ok = (1..=MAX_NAME_LEN).contains(&v.len())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if ok {
            Ok(DestinationName(v.to_owned()))
        } else {
            Err(ApiError::invalid(
                name,
                "1 to 64 letters, digits, '.', '_' or '-'",
            ))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

value_enum!(
    /// How syslog messages travel.
    SyslogTransport {
        /// TCP with octet-counting framing (RFC 6587).
        Tcp => "tcp",
        /// TCP and TLS (RFC 5425), framed the same way.
        Tls => "tls",
        /// One message per UDP datagram (RFC 5426).
        Udp => "udp",
    }
);

impl SyslogTransport {
    /// The port used when the target names none: 514, or 6514 for TLS.
    pub fn default_port(self) -> u16 {
        match self {
            SyslogTransport::Tls => 6514,
            SyslogTransport::Tcp | SyslogTransport::Udp => 514,
        }
    }
}

/// Where a destination sends: a syslog server or a webhook URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A syslog server.
    Syslog {
        /// The transport.
        transport: SyslogTransport,
        /// Its host name or address.
        host: String,
        /// Its port.
        port: u16,
    },
    /// An HTTP(S) endpoint that takes JSON POSTs.
    Webhook(Url),
}

impl Target {
    /// Parses the value of parameter `name`: `tcp://HOST[:PORT]`, `tls://HOST[:PORT]`,
    /// `udp://HOST[:PORT]` for syslog, or an `https://` (or `http://`) URL for a webhook.
    pub fn parse(name: &str, value: &str) -> Result<Self, ApiError> {
        const EXPECTED: &str =
            "tcp://HOST[:PORT], tls://HOST[:PORT], udp://HOST[:PORT] or an http(s):// URL";
        let url = Url::parse(value.trim()).map_err(|_| ApiError::invalid(name, EXPECTED))?;
        let transport = match url.scheme() {
            // The URL parser refuses http(s) URLs without a host.
            "http" | "https" => return Ok(Target::Webhook(url)),
            scheme => SyslogTransport::parse(name, scheme)
                .map_err(|_| ApiError::invalid(name, EXPECTED))?,
        };
        let plain = url.path().is_empty() || url.path() == "/";
        let host = match url.host_str() {
            Some(h) if plain && url.query().is_none() && url.username().is_empty() => h,
            _ => return Err(ApiError::invalid(name, EXPECTED)),
        };
        Ok(Target::Syslog {
            transport,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: url.port().unwrap_or(transport.default_port()),
        })
    }

    /// The text it parses from.
    pub fn to_text(&self) -> String {
        match self {
            Target::Syslog {
                transport,
                host,
                port,
            } if host.contains(':') => format!("{transport}://[{host}]:{port}"),
            Target::Syslog {
                transport,
                host,
                port,
            } => format!("{transport}://{host}:{port}"),
            Target::Webhook(url) => url.to_string(),
        }
    }

    /// Whether it is a webhook.
    pub fn is_webhook(&self) -> bool {
        matches!(self, Target::Webhook(_))
    }
}

value_enum!(
    /// What a delivery's message says an event or incident change in.
    PayloadFormat {
        /// ArcSight CEF:0 (syslog only).
        Cef => "cef",
        /// IBM QRadar LEEF 2.0 (syslog only).
        Leef => "leef",
        /// The event as the read API returns it.
        Json => "json",
        /// An OCSF 1.x Detection Finding (class 2004).
        Ocsf => "ocsf",
    }
);

impl PayloadFormat {
    /// Parses the value of parameter `name` for `target`: a webhook sends JSON, so CEF
    /// and LEEF are syslog formats only.
    pub fn parse_for(name: &str, value: &str, target: &Target) -> Result<Self, ApiError> {
        let format = PayloadFormat::parse(name, value)?;
        if target.is_webhook() && matches!(format, PayloadFormat::Cef | PayloadFormat::Leef) {
            return Err(ApiError::invalid(name, "json or ocsf for a webhook"));
        }
        Ok(format)
    }
}

value_enum!(
    /// A change of an incident a destination may be told of.
    IncidentChange {
        /// An incident was opened.
        New => "new",
        /// An incident's impact rose.
        ImpactRaised => "impact_raised",
        /// An analyst changed an incident's status.
        StatusChanged => "status_changed",
    }
);

impl IncidentChange {
    /// Every change.
    pub const ALL: [IncidentChange; 3] = [
        IncidentChange::New,
        IncidentChange::ImpactRaised,
        IncidentChange::StatusChanged,
    ];
}

/// Which events and incident changes a destination is sent. An empty list allows all of
/// its kind; every condition given must hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    /// Whether events are sent at all.
    pub events: bool,
    /// The event types sent; empty: every type.
    pub types: Vec<EventKind>,
    /// The least impact of an event or incident change sent. An event whose impact is
    /// not known yet (a download whose file is not analysed) does not meet any minimum.
    pub min_impact: Option<u8>,
    /// The tools' actions of the events sent; empty: any, or none.
    pub actions: Vec<ItemAction>,
    /// The sensors (subkey ids) whose events are sent; empty: every sensor.
    pub sensors: Vec<i64>,
    /// The incident changes sent; empty: none.
    pub incidents: Vec<IncidentChange>,
}

/// Splits a comma-separated list, dropping empty parts.
fn parts(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|p| !p.is_empty())
}

/// Each element once, in the order first given.
fn once_each<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

impl Filter {
    /// Every event, no incident change: what a destination is sent unless told otherwise.
    pub fn all_events() -> Self {
        Filter {
            events: true,
            ..Filter::default()
        }
    }

    /// Parses `sends`: `events`, `incidents` or `events,incidents` (every incident change),
    /// or incident changes by name (`events,new,status_changed`).
    pub fn parse_sends(name: &str, value: &str) -> Result<(bool, Vec<IncidentChange>), ApiError> {
        const EXPECTED: &str =
            "events, incidents, or both separated by a comma (or incident changes: new, impact_raised, status_changed)";
        let (mut events, mut changes) = (false, Vec::new());
        for part in parts(value) {
            match part.to_ascii_lowercase().as_str() {
                "events" => events = true,
                "incidents" => changes.extend(IncidentChange::ALL),
                other => changes.push(
                    IncidentChange::parse(name, other)
                        .map_err(|_| ApiError::invalid(name, EXPECTED))?,
                ),
            }
        }
        if !events && changes.is_empty() {
            return Err(ApiError::invalid(name, EXPECTED));
        }
        Ok((events, once_each(changes)))
    }

    /// Parses the event types of parameter `name`, separated by commas.
    pub fn parse_types(name: &str, value: &str) -> Result<Vec<EventKind>, ApiError> {
        let types = parts(value)
            .map(|p| {
                EventKind::from_name(&p.to_ascii_lowercase())
                    .ok_or_else(|| ApiError::invalid(name, &EventKind::expected()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(once_each(types))
    }

    /// Parses the least impact of parameter `name`: 0 to 100.
    pub fn parse_min_impact(name: &str, value: &str) -> Result<u8, ApiError> {
        match value.trim().parse::<u8>() {
            Ok(n) if n <= 100 => Ok(n),
            _ => Err(ApiError::invalid(name, "an impact from 0 to 100")),
        }
    }

    /// Parses the actions of parameter `name`, separated by commas.
    pub fn parse_actions(name: &str, value: &str) -> Result<Vec<ItemAction>, ApiError> {
        let actions = parts(value)
            .map(|p| ItemAction::parse(name, p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(once_each(actions))
    }

    /// Parses the sensor ids (subkey ids) of parameter `name`, separated by commas.
    pub fn parse_sensors(name: &str, value: &str) -> Result<Vec<i64>, ApiError> {
        let sensors = parts(value)
            .map(|p| match p.parse::<i64>() {
                Ok(id) if id > 0 => Ok(id),
                _ => Err(ApiError::invalid(
                    name,
                    "sensor ids (subkey_id) separated by commas",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let sensors = once_each(sensors);
        if sensors.len() > MAX_FILTER_SENSORS {
            return Err(ApiError::invalid(name, "at most 1000 sensor ids"));
        }
        Ok(sensors)
    }

    /// Whether a stored event of type `kind`, impact `impact`, action `action` and sensor
    /// `sensor_id` is sent.
    pub fn sends_event(
        &self,
        kind: &str,
        impact: Option<i64>,
        action: Option<&str>,
        sensor_id: i64,
    ) -> bool {
        self.events
            && (self.types.is_empty() || self.types.iter().any(|t| t.as_str() == kind))
            && self.meets_min_impact(impact)
            && (self.actions.is_empty()
                || action.is_some_and(|a| self.actions.iter().any(|x| x.as_str() == a)))
            && (self.sensors.is_empty() || self.sensors.contains(&sensor_id))
    }

    /// Whether an incident change is sent, the incident's impact being `impact` (the
    /// least impact applies to incidents as to events).
    pub fn sends_incident(&self, change: IncidentChange, impact: Option<i64>) -> bool {
        self.incidents.contains(&change) && self.meets_min_impact(impact)
    }

    /// Whether an impact meets the least impact, if there is one (an unknown one never
    /// does).
    fn meets_min_impact(&self, impact: Option<i64>) -> bool {
        self.min_impact
            .is_none_or(|least| impact.is_some_and(|i| i >= i64::from(least)))
    }

    /// The JSON the store keeps.
    pub fn to_json(&self) -> Value {
        json!({
            "events": self.events,
            "types": self.types.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
            "min_impact": self.min_impact,
            "actions": self.actions.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
            "sensors": self.sensors,
            "incidents": self.incidents.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        })
    }

    /// Reads the JSON of [`Filter::to_json`], refusing (naming the key) what it would not
    /// have written.
    pub fn from_json(value: &Value) -> Result<Self, ApiError> {
        let list = |key: &str| -> Result<String, ApiError> {
            match value.get(key) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| match i {
                        Value::String(s) => Ok(s.clone()),
                        Value::Number(n) => Ok(n.to_string()),
                        _ => Err(ApiError::invalid(key, "a list of names or ids")),
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(|v| v.join(",")),
                Some(_) => Err(ApiError::invalid(key, "a list")),
            }
        };
        let incidents = list("incidents")?;
        Ok(Filter {
            events: value
                .get("events")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            types: Filter::parse_types("types", &list("types")?)?,
            min_impact: match value.get("min_impact") {
                None | Some(Value::Null) => None,
                Some(v) => Some(Filter::parse_min_impact("min_impact", &v.to_string())?),
            },
            actions: Filter::parse_actions("actions", &list("actions")?)?,
            sensors: Filter::parse_sensors("sensors", &list("sensors")?)?,
            incidents: parts(&incidents)
                .map(|c| IncidentChange::parse("incidents", c))
                .collect::<Result<Vec<_>, _>>()?,
        })
    }
}

/// Parses how long a delivery is retried before it is dead-lettered, in seconds: 1 to
/// [`MAX_DEAD_AFTER_SECS`].
pub fn parse_dead_after(name: &str, value: &str) -> Result<u64, ApiError> {
    match value.trim().parse::<u64>() {
        Ok(s) if (1..=MAX_DEAD_AFTER_SECS).contains(&s) => Ok(s),
        _ => Err(ApiError::invalid(
            name,
            "a number of seconds from 1 to 2592000 (30 days)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused<T: std::fmt::Debug>(r: Result<T, ApiError>, field: &str) {
        let e = r.expect_err("refused");
        assert!(e.message.contains(&format!("'{field}'")), "{}", e.message);
    }

    #[test]
    fn names_are_one_word_of_bounded_length() {
        assert_eq!(
            DestinationName::parse("name", " splunk-1.a_b ")
                .unwrap()
                .as_str(),
            "splunk-1.a_b"
        );
        assert_eq!(
            DestinationName::parse("name", &"x".repeat(64))
                .unwrap()
                .as_str()
                .len(),
            64
        );
        for bad in ["", "a b", "a/b", "é", &"x".repeat(65)] {
            refused(DestinationName::parse("name", bad), "name");
        }
    }

    #[test]
    fn targets_name_a_syslog_transport_or_a_webhook() {
        let t = Target::parse("target", "tcp://siem.example:1514").unwrap();
        assert_eq!(
            t,
            Target::Syslog {
                transport: SyslogTransport::Tcp,
                host: "siem.example".into(),
                port: 1514
            }
        );
        assert_eq!(t.to_text(), "tcp://siem.example:1514");
        assert!(!t.is_webhook());
        let tls = Target::parse("target", "TLS://siem.example").unwrap();
        assert_eq!(tls.to_text(), "tls://siem.example:6514");
        assert_eq!(
            Target::parse("target", "udp://10.0.0.1").unwrap().to_text(),
            "udp://10.0.0.1:514"
        );
        assert_eq!(
            Target::parse("target", "tcp://siem.example")
                .unwrap()
                .to_text(),
            "tcp://siem.example:514"
        );
        let v6 = Target::parse("target", "udp://[::1]:5514").unwrap();
        assert_eq!(
            v6,
            Target::Syslog {
                transport: SyslogTransport::Udp,
                host: "::1".into(),
                port: 5514
            }
        );
        assert_eq!(v6.to_text(), "udp://[::1]:5514");
        assert_eq!(Target::parse("target", &v6.to_text()).unwrap(), v6);
        let hook = Target::parse("target", "https://hooks.example/x?y=1").unwrap();
        assert!(hook.is_webhook());
        assert_eq!(hook.to_text(), "https://hooks.example/x?y=1");
        for bad in [
            "siem:514",
            "ftp://x",
            "tcp://x/path",
            "tcp://u@x",
            "tcp://x?q",
            "http://",
            "tcp://",
        ] {
            refused(Target::parse("target", bad), "target");
        }
    }

    #[test]
    fn webhooks_send_json_only() {
        let hook = Target::parse("t", "https://h.example/").unwrap();
        let syslog = Target::parse("t", "tcp://h.example").unwrap();
        refused(PayloadFormat::parse_for("format", "cef", &hook), "format");
        refused(PayloadFormat::parse_for("format", "leef", &hook), "format");
        assert_eq!(
            PayloadFormat::parse_for("format", "OCSF", &hook).unwrap(),
            PayloadFormat::Ocsf
        );
        assert_eq!(
            PayloadFormat::parse_for("format", "json", &hook).unwrap(),
            PayloadFormat::Json
        );
        assert_eq!(
            PayloadFormat::parse_for("format", "cef", &syslog).unwrap(),
            PayloadFormat::Cef
        );
        refused(PayloadFormat::parse_for("format", "xml", &syslog), "format");
    }

    #[test]
    fn sends_names_events_and_incident_changes() {
        assert_eq!(
            Filter::parse_sends("sends", "events").unwrap(),
            (true, vec![])
        );
        assert_eq!(
            Filter::parse_sends("sends", "incidents").unwrap(),
            (false, IncidentChange::ALL.to_vec())
        );
        assert_eq!(
            Filter::parse_sends("sends", "Events, new,new").unwrap(),
            (true, vec![IncidentChange::New])
        );
        for bad in ["", " , ", "alerts"] {
            refused(Filter::parse_sends("sends", bad), "sends");
        }
    }

    #[test]
    fn filter_lists_parse_each_item_once() {
        assert_eq!(
            Filter::parse_types("types", "ioc, MAIL,ioc").unwrap(),
            vec![EventKind::Ioc, EventKind::Mail]
        );
        refused(Filter::parse_types("types", "ioc,url"), "types");
        assert_eq!(
            Filter::parse_actions("actions", "block,WARN,block").unwrap(),
            vec![ItemAction::Block, ItemAction::Warn]
        );
        refused(Filter::parse_actions("actions", "drop"), "actions");
        assert_eq!(
            Filter::parse_sensors("sensors", "3, 1,3").unwrap(),
            vec![3, 1]
        );
        for bad in ["0", "-1", "x"] {
            refused(Filter::parse_sensors("sensors", bad), "sensors");
        }
        let many: Vec<String> = (1..=1001).map(|i| i.to_string()).collect();
        refused(Filter::parse_sensors("sensors", &many.join(",")), "sensors");
        assert_eq!(
            Filter::parse_sensors("sensors", &many[..1000].join(","))
                .unwrap()
                .len(),
            1000
        );
        assert_eq!(Filter::parse_min_impact("min_impact", " 100").unwrap(), 100);
        assert_eq!(Filter::parse_min_impact("min_impact", "0").unwrap(), 0);
        for bad in ["101", "-1", "x", "256"] {
            refused(Filter::parse_min_impact("min_impact", bad), "min_impact");
        }
    }

    #[test]
    fn every_condition_of_a_filter_must_hold() {
        let all = Filter::all_events();
        assert!(all.sends_event("ioc", None, None, 1));
        assert!(!Filter::default().sends_event("ioc", Some(100), None, 1));
        let f = Filter {
            events: true,
            types: vec![EventKind::Mail],
            min_impact: Some(50),
            actions: vec![ItemAction::Block],
            sensors: vec![7],
            incidents: vec![],
        };
        assert!(f.sends_event("mail", Some(50), Some("BLOCK"), 7));
        assert!(f.sends_event("mail", Some(90), Some("BLOCK"), 7));
        assert!(!f.sends_event("ioc", Some(90), Some("BLOCK"), 7));
        assert!(!f.sends_event("mail", Some(49), Some("BLOCK"), 7));
        assert!(!f.sends_event("mail", None, Some("BLOCK"), 7));
        assert!(!f.sends_event("mail", Some(90), Some("LOG"), 7));
        assert!(!f.sends_event("mail", Some(90), None, 7));
        assert!(!f.sends_event("mail", Some(90), Some("BLOCK"), 8));
        let no_min = Filter {
            min_impact: None,
            ..f.clone()
        };
        assert!(no_min.sends_event("mail", None, Some("BLOCK"), 7));
        assert!(!f.sends_incident(IncidentChange::New, Some(100)));
        let inc = Filter {
            incidents: vec![IncidentChange::StatusChanged],
            ..Filter::default()
        };
        assert!(inc.sends_incident(IncidentChange::StatusChanged, None));
        assert!(!inc.sends_incident(IncidentChange::New, Some(100)));
        let strong = Filter {
            min_impact: Some(50),
            ..inc
        };
        assert!(strong.sends_incident(IncidentChange::StatusChanged, Some(50)));
        assert!(!strong.sends_incident(IncidentChange::StatusChanged, Some(49)));
        assert!(!strong.sends_incident(IncidentChange::StatusChanged, None));
    }

    #[test]
    fn a_filter_survives_its_json() {
        let f = Filter {
            events: true,
            types: vec![EventKind::Mail, EventKind::Ioc],
            min_impact: Some(0),
            actions: vec![ItemAction::Warn],
            sensors: vec![2, 9],
            incidents: vec![IncidentChange::ImpactRaised],
        };
        assert_eq!(Filter::from_json(&f.to_json()).unwrap(), f);
        assert_eq!(
            Filter::from_json(&Filter::default().to_json()).unwrap(),
            Filter::default()
        );
        assert_eq!(Filter::from_json(&json!({})).unwrap(), Filter::default());
        refused(Filter::from_json(&json!({"types": "ioc"})), "types");
        refused(Filter::from_json(&json!({"types": [true]})), "types");
        refused(Filter::from_json(&json!({"min_impact": 200})), "min_impact");
        refused(
            Filter::from_json(&json!({"incidents": ["gone"]})),
            "incidents",
        );
    }

    #[test]
    fn dead_letter_time_is_bounded() {
        assert_eq!(parse_dead_after("dead_after", "1").unwrap(), 1);
        assert_eq!(
            parse_dead_after("dead_after", "2592000").unwrap(),
            MAX_DEAD_AFTER_SECS
        );
        for bad in ["0", "2592001", "x", "-5"] {
            refused(parse_dead_after("dead_after", bad), "dead_after");
        }
    }
}
