//! IBM QRadar LEEF 2.0, its attributes separated by a tab (declared as `x09` in the
//! header). QRadar's own attribute names where they exist (cat, devTime, sev, src, dst,
//! srcPort, dstPort, usrName, url, proto), plain names otherwise. Values escape `\`, the
//! tab and line breaks with `\`; the header escapes `|` and `\`. `devTime` is in
//! milliseconds since the epoch, which QRadar reads without a `devTimeFormat`.

use crate::facts::{facts, Fact};
use crate::payload::Names;
use pushdetect_store::StoredEvent;

/// The LEEF attribute of a fact.
pub fn key(fact: Fact) -> &'static str {
    match fact {
        Fact::EventId => "eventId",
        Fact::Type => "cat",
        Fact::Time => "devTime",
        Fact::Impact => "impact",
        Fact::Action => "action",
        Fact::Summary => "msg",
        Fact::Tool => "tool",
        Fact::Sensor => "sensor",
        Fact::SrcIp => "src",
        Fact::SrcIp6 => "srcIPv6",
        Fact::SrcHost => "srcHostName",
        Fact::SrcPort => "srcPort",
        Fact::DstIp => "dst",
        Fact::DstIp6 => "dstIPv6",
        Fact::DstHost => "dstHostName",
        Fact::DstPort => "dstPort",
        Fact::AppProtocol => "proto",
        Fact::FileName => "fileName",
        Fact::Url => "url",
        Fact::UserAgent => "userAgent",
        Fact::Referer => "referer",
        Fact::Sender => "usrName",
        Fact::Recipients => "recipients",
        Fact::MessageId => "messageId",
        Fact::TaskUuid => "taskUuid",
        Fact::IocUuid => "iocUuid",
        Fact::IocSource => "iocSource",
        Fact::IocMatched => "iocMatched",
        Fact::Confidence => "matchConfidence",
        Fact::Domain => "domain",
        Fact::Netbios => "netbiosName",
    }
}

/// A header field: `\` and `|` escaped, line breaks made spaces.
pub fn header(value: &str) -> String {
    crate::cef::header(value)
}

/// An attribute value: `\`, tab and line breaks escaped.
pub fn value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// QRadar's severity, 1-10, of an impact (1 when not known).
pub fn sev(impact: Option<i64>) -> i64 {
    impact.map_or(1, |i| ((i.clamp(0, 100) + 9) / 10).max(1))
}

fn record(names: &Names, event_id: &str, attributes: Vec<(&str, String)>) -> String {
    let body: Vec<String> = attributes
        .into_iter()
        .map(|(k, v)| format!("{k}={}", value(&v)))
        .collect();
    format!(
        "LEEF:2.0|{}|{}|{}|{}|x09|{}",
        header(&names.vendor),
        header(&names.product),
        header(&names.version),
        header(event_id),
        body.join("\t")
    )
}

/// The LEEF record of an event; `devTime` is in ms since the epoch.
pub fn event(e: &StoredEvent, names: &Names) -> String {
    let mut attributes = vec![("sev", sev(e.impact).to_string())];
    for (fact, v) in facts(e) {
        attributes.push((key(fact), v));
    }
    record(names, &e.kind, attributes)
}

/// The LEEF record of an incident change.
pub fn incident(i: &pushdetect_store::Incident, change: &str, names: &Names) -> String {
    record(
        names,
        &format!("incident.{change}"),
        vec![
            ("sev", sev(i.impact).to_string()),
            ("cat", "incident".to_owned()),
            ("incidentId", i.id.to_string()),
            ("change", change.to_owned()),
            ("groupedBy", i.grouped_by.as_str().to_owned()),
            ("dstHostName", i.host.clone()),
            ("status", i.workflow.status.as_str().to_owned()),
            ("impact", i.impact.map_or(String::new(), |v| v.to_string())),
            ("eventCount", i.events.to_string()),
            ("devTime", i.last_ms.to_string()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::tests::event as stored;
    use serde_json::json;

    #[test]
    fn values_escape_the_delimiter_and_line_breaks() {
        assert_eq!(value("a\tb\nc\\d=e|f"), "a\\tb\\nc\\\\d=e|f");
        assert_eq!(sev(None), 1);
        assert_eq!(sev(Some(0)), 1);
        assert_eq!(sev(Some(55)), 6);
        assert_eq!(sev(Some(100)), 10);
    }

    #[test]
    fn an_event_is_one_tab_separated_line() {
        let e = stored(
            "file_download",
            json!({"src_ip": "10.0.0.5", "src_port": 5555, "dst_hostname": "dl.test",
                   "filename": "in\tvoice.exe", "http_user_agent": "UA/1"}),
        );
        let line = event(&e, &Names::default());
        assert!(!line.contains('\n'));
        let (head, body) = line.split_at(line.find("|x09|").unwrap() + 5);
        assert!(
            head.starts_with("LEEF:2.0|pushdetect|pushdetect|"),
            "{head}"
        );
        assert!(head.ends_with("|file_download|x09|"), "{head}");
        let attrs: Vec<&str> = body.split('\t').collect();
        assert_eq!(attrs[0], "sev=9");
        for want in [
            "src=10.0.0.5",
            "srcPort=5555",
            "dstHostName=dl.test",
            "fileName=in\\tvoice.exe",
            "userAgent=UA/1",
            "devTime=1700000000000",
            "eventId=42",
            "cat=file_download",
        ] {
            assert!(attrs.contains(&want), "{want} in {attrs:?}");
        }
    }
}
