//! ArcSight CEF:0. The header's `|` and `\` are escaped with `\`; extension values escape
//! `\`, `=` and line breaks (`\n`, `\r`), so a value never ends the record or starts a
//! key. Keys are CEF's own where one exists (src, dst, spt, dpt, shost, dhost, suser,
//! duser, fname, requestUrl, requestClientApplication, act, msg, rt) and labelled custom
//! fields (csN/cnN/cfp1 with their `Label`) otherwise; docs/forwarding.md has the table.

use crate::facts::{facts, severity_0_10, summary, Fact};
use crate::payload::Names;
use pushdetect_store::StoredEvent;

/// The CEF key of a fact, and the label of a custom key.
pub fn key(fact: Fact) -> (&'static str, Option<&'static str>) {
    match fact {
        Fact::EventId => ("externalId", None),
        Fact::Type => ("cat", None),
        Fact::Time => ("rt", None),
        Fact::Impact => ("cn1", Some("impact")),
        Fact::Action => ("act", None),
        Fact::Summary => ("msg", None),
        Fact::Tool => ("cs1", Some("tool")),
        Fact::Sensor => ("cs2", Some("sensor")),
        Fact::SrcIp => ("src", None),
        Fact::SrcIp6 => ("c6a2", Some("sourceIPv6")),
        Fact::SrcHost => ("shost", None),
        Fact::SrcPort => ("spt", None),
        Fact::DstIp => ("dst", None),
        Fact::DstIp6 => ("c6a3", Some("destinationIPv6")),
        Fact::DstHost => ("dhost", None),
        Fact::DstPort => ("dpt", None),
        Fact::AppProtocol => ("app", None),
        Fact::FileName => ("fname", None),
        Fact::Url => ("requestUrl", None),
        Fact::UserAgent => ("requestClientApplication", None),
        Fact::Referer => ("requestContext", None),
        Fact::Sender => ("suser", None),
        Fact::Recipients => ("duser", None),
        Fact::MessageId => ("cs6", Some("messageId")),
        Fact::TaskUuid => ("cs3", Some("taskUuid")),
        Fact::IocUuid => ("cs4", Some("iocUuid")),
        Fact::IocSource => ("cs5", Some("iocSource")),
        Fact::IocMatched => ("cn2", Some("iocMatched")),
        Fact::Confidence => ("cfp1", Some("matchConfidence")),
        Fact::Domain => ("dntdom", None),
        Fact::Netbios => ("cs6", Some("netbiosName")),
    }
}

/// A header field: `\` and `|` escaped, line breaks made spaces.
pub fn header(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}

/// An extension value: `\`, `=` and line breaks escaped.
pub fn value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// The CEF record of an event.
pub fn event(e: &StoredEvent, names: &Names) -> String {
    let mut ext = Vec::new();
    for (fact, v) in facts(e) {
        let (k, label) = key(fact);
        if let Some(label) = label {
            ext.push(format!("{k}Label={}", value(label)));
        }
        ext.push(format!("{k}={}", value(&v)));
    }
    format!(
        "CEF:0|{}|{}|{}|{}|{}|{}|{}",
        header(&names.vendor),
        header(&names.product),
        header(&names.version),
        header(&e.kind),
        header(&summary(e)),
        severity_0_10(e.impact),
        ext.join(" ")
    )
}

/// The CEF record of an incident change (`change`: new, impact_raised, status_changed).
pub fn incident(i: &pushdetect_store::Incident, change: &str, names: &Names) -> String {
    let ext = [
        format!("externalId={}", i.id),
        "cat=incident".to_owned(),
        format!("rt={}", i.last_ms),
        format!("cs1Label=change cs1={}", value(change)),
        format!("cs2Label=groupedBy cs2={}", value(i.grouped_by.as_str())),
        format!("dhost={}", value(&i.host)),
        format!("cs3Label=status cs3={}", value(i.workflow.status.as_str())),
        format!("cn1Label=impact cn1={}", i.impact.unwrap_or(-1)),
        format!("cnt={}", i.events),
        format!(
            "msg={}",
            value(&format!("Incident {} on {}: {change}", i.id, i.host))
        ),
    ];
    format!(
        "CEF:0|{}|{}|{}|incident.{}|{}|{}|{}",
        header(&names.vendor),
        header(&names.product),
        header(&names.version),
        header(change),
        header(&format!("Incident {change}")),
        severity_0_10(i.impact),
        ext.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::tests::event as stored;
    use serde_json::json;

    #[test]
    fn header_and_values_escape_what_would_end_them() {
        assert_eq!(header("a|b\\c\nd"), "a\\|b\\\\c d");
        assert_eq!(value("k=v\\w\nx\ry|z"), "k\\=v\\\\w\\nx\\ry|z");
        assert_eq!(value("é ü"), "é ü");
    }

    #[test]
    fn an_event_is_one_line_with_standard_and_labelled_keys() {
        let e = stored(
            "mail",
            json!({"message": {"sender": "a=b@x.test", "recipients": ["c@y.test"],
                               "subject": "Pay|now\nplease \\ ok", "message_id": "<m@x>"}}),
        );
        let line = event(&e, &Names::default());
        assert!(!line.contains('\n'));
        assert!(line.starts_with("CEF:0|pushdetect|pushdetect|"), "{line}");
        assert!(
            line.contains("|mail|Mail: Pay\\|now please \\\\ ok from a=b@x.test|9|"),
            "{line}"
        );
        assert!(line.contains(" suser=a\\=b@x.test "), "{line}");
        assert!(line.contains(" duser=c@y.test"), "{line}");
        assert!(line.contains("cs6Label=messageId cs6=<m@x>"), "{line}");
        assert!(
            line.contains(
                "externalId=42 cat=mail rt=1700000000000 cn1Label=impact cn1=81 act=BLOCK "
            ),
            "{line}"
        );
    }

    #[test]
    fn vendor_and_product_names_are_the_destinations() {
        let names = Names {
            vendor: "Lastline".into(),
            product: "Enterprise".into(),
            version: "1|2".into(),
        };
        let line = event(&stored("ioc", json!({"hostname": "h"})), &names);
        assert!(
            line.starts_with("CEF:0|Lastline|Enterprise|1\\|2|ioc|IOC checked on h|9|"),
            "{line}"
        );
    }
}
