//! What an event says, named once for every format: each [`Fact`] is one thing a SIEM
//! knows (a source address, a sender, a file name), read from the stored event's fields,
//! which CEF and LEEF then name by their own keys ([`crate::cef`], [`crate::leef`]).

use pushdetect_store::external::time;
use pushdetect_store::StoredEvent;
use serde_json::Value;

/// One thing an event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    /// The event id (a receiver's key to drop repeats).
    EventId,
    /// Its type: file_download, ioc, mail.
    Type,
    /// When it happened, ms since the epoch.
    Time,
    /// Its impact, 0-100.
    Impact,
    /// The reporting tool's action.
    Action,
    /// One line saying what it is about.
    Summary,
    /// The reporting tool: vendor, tool and version.
    Tool,
    /// The sensor: access_key:subkey.
    Sensor,
    /// The source IPv4 address.
    SrcIp,
    /// The source IPv6 address.
    SrcIp6,
    /// The source host name.
    SrcHost,
    /// The source port.
    SrcPort,
    /// The destination (or checked machine's) IPv4 address.
    DstIp,
    /// The destination (or checked machine's) IPv6 address.
    DstIp6,
    /// The destination (or checked machine's) host name.
    DstHost,
    /// The destination port.
    DstPort,
    /// The application protocol of a download.
    AppProtocol,
    /// File names: a download's, or a mail's attachments' (comma-separated).
    FileName,
    /// A mail's first URL.
    Url,
    /// A download's HTTP user agent.
    UserAgent,
    /// A download's HTTP referer.
    Referer,
    /// A mail's sender.
    Sender,
    /// A mail's recipients (comma-separated).
    Recipients,
    /// A mail's Message-ID.
    MessageId,
    /// The analysis task of a download (or a mail's first).
    TaskUuid,
    /// An IOC's uuid.
    IocUuid,
    /// Where an IOC came from.
    IocSource,
    /// Whether the IOC matched: 1 or 0.
    IocMatched,
    /// The IOC match's confidence, 0 to 1.
    Confidence,
    /// The checked machine's AD domain or workgroup.
    Domain,
    /// The checked machine's NetBIOS name.
    Netbios,
}

impl Fact {
    /// Every fact, in the order of docs/forwarding.md's table.
    pub const ALL: [Fact; 31] = [
        Fact::EventId,
        Fact::Type,
        Fact::Time,
        Fact::Impact,
        Fact::Action,
        Fact::Summary,
        Fact::Tool,
        Fact::Sensor,
        Fact::SrcIp,
        Fact::SrcIp6,
        Fact::SrcHost,
        Fact::SrcPort,
        Fact::DstIp,
        Fact::DstIp6,
        Fact::DstHost,
        Fact::DstPort,
        Fact::AppProtocol,
        Fact::FileName,
        Fact::Url,
        Fact::UserAgent,
        Fact::Referer,
        Fact::Sender,
        Fact::Recipients,
        Fact::MessageId,
        Fact::TaskUuid,
        Fact::IocUuid,
        Fact::IocSource,
        Fact::IocMatched,
        Fact::Confidence,
        Fact::Domain,
        Fact::Netbios,
    ];
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_owned()),
        _ => None,
    }
}

/// The IPv4 or the IPv6 form of an address field.
fn address(v: Option<&Value>, v6: bool) -> Option<String> {
    text(v).filter(|a| a.contains(':') == v6)
}

/// The values of one key of each element of a list, joined by commas.
fn joined(list: Option<&Value>, key: &str) -> Option<String> {
    let items: Vec<String> = list?
        .as_array()?
        .iter()
        .filter_map(|i| text(i.get(key)))
        .collect();
    (!items.is_empty()).then(|| items.join(","))
}

/// The event's facts, in a fixed order, each once: the common ones, then its type's.
pub fn facts(e: &StoredEvent) -> Vec<(Fact, String)> {
    let f = &e.fields;
    let get = |k: &str| f.get(k);
    let mut out: Vec<(Fact, Option<String>)> = vec![
        (Fact::EventId, Some(e.id.to_string())),
        (Fact::Type, Some(e.kind.clone())),
        (Fact::Time, Some(e.occurred_at_ms.to_string())),
        (Fact::Impact, e.impact.map(|i| i.to_string())),
        (Fact::Action, e.action.clone()),
        (Fact::Summary, Some(summary(e))),
        (Fact::Tool, Some(tool(e))),
        (Fact::Sensor, Some(format!("{}:{}", e.access_key, e.subkey))),
    ];
    match e.kind.as_str() {
        "file_download" => out.extend([
            (Fact::SrcIp, address(get("src_ip"), false)),
            (Fact::SrcIp6, address(get("src_ip"), true)),
            (Fact::SrcHost, text(get("src_hostname"))),
            (Fact::SrcPort, text(get("src_port"))),
            (Fact::DstIp, address(get("dst_ip"), false)),
            (Fact::DstIp6, address(get("dst_ip"), true)),
            (Fact::DstHost, text(get("dst_hostname"))),
            (Fact::DstPort, text(get("dst_port"))),
            (Fact::AppProtocol, text(get("application_protocol"))),
            (Fact::FileName, text(get("filename"))),
            (Fact::UserAgent, text(get("http_user_agent"))),
            (Fact::Referer, text(get("http_referer"))),
            (Fact::TaskUuid, text(get("task_uuid"))),
        ]),
        "ioc" => out.extend([
            (Fact::DstIp, text(get("main_ipv4"))),
            (Fact::DstIp6, text(get("main_ipv6"))),
            (Fact::DstHost, text(get("hostname"))),
            (
                Fact::Domain,
                text(get("ad_domain")).or(text(get("workgroup"))),
            ),
            (Fact::Netbios, text(get("netbios_name"))),
            (Fact::IocUuid, text(get("ioc_uuid"))),
            (Fact::IocSource, text(get("ioc_source"))),
            (Fact::IocMatched, text(get("ioc_matched"))),
            (Fact::Confidence, text(get("match_confidence"))),
        ]),
        "mail" => {
            let message = get("message");
            let m = |k: &str| message.and_then(|m| m.get(k));
            out.extend([
                (Fact::Sender, text(m("sender"))),
                (
                    Fact::Recipients,
                    m("recipients").and_then(|r| {
                        let all: Vec<String> =
                            r.as_array()?.iter().filter_map(|x| text(Some(x))).collect();
                        (!all.is_empty()).then(|| all.join(","))
                    }),
                ),
                (Fact::MessageId, text(m("message_id"))),
                (Fact::FileName, joined(get("attachments"), "filename")),
                (
                    Fact::Url,
                    get("urls")
                        .and_then(Value::as_array)
                        .and_then(|u| u.first())
                        .and_then(|u| text(u.get("url"))),
                ),
                (
                    Fact::TaskUuid,
                    joined(get("attachments"), "task_uuid")
                        .or_else(|| joined(get("urls"), "task_uuid"))
                        .map(|all| all.split(',').next().unwrap_or_default().to_owned()),
                ),
            ]);
        }
        _ => {}
    }
    out.into_iter()
        .filter_map(|(fact, v)| v.map(|v| (fact, v)))
        .collect()
}

/// The reporting tool: vendor, tool and version, as one text.
fn tool(e: &StoredEvent) -> String {
    let version = e.fields.get("tool_version").and_then(Value::as_str);
    match version {
        Some(v) => format!("{} {} {v}", e.vendor_name, e.tool_name),
        None => format!("{} {}", e.vendor_name, e.tool_name),
    }
}

/// One line saying what the event is about.
pub fn summary(e: &StoredEvent) -> String {
    let f = &e.fields;
    let s = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or("?");
    match e.kind.as_str() {
        "file_download" => format!("File download: {}", s("filename")),
        "ioc" => {
            let matched = f.get("ioc_matched").and_then(Value::as_bool) == Some(true);
            let verb = if matched { "matched" } else { "checked" };
            format!("IOC {verb} on {}", s("hostname"))
        }
        "mail" => {
            let m = f.get("message");
            let ms = |k: &str| {
                m.and_then(|m| m.get(k))
                    .and_then(Value::as_str)
                    .unwrap_or("?")
            };
            format!("Mail: {} from {}", ms("subject"), ms("sender"))
        }
        other => format!("{other} event {}", e.id),
    }
}

/// When the event happened, as the API writes times.
pub fn occurred_at(e: &StoredEvent) -> String {
    time(e.occurred_at_ms)
}

/// CEF's severity, 0-10, of an impact: a tenth, rounded up; "Unknown" when not known.
pub fn severity_0_10(impact: Option<i64>) -> String {
    match impact {
        Some(i) => ((i.clamp(0, 100) + 9) / 10).to_string(),
        None => "Unknown".to_owned(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use pushdetect_store::Principal;
    use serde_json::json;

    pub(crate) fn event(kind: &str, fields: Value) -> StoredEvent {
        StoredEvent {
            id: 42,
            kind: kind.into(),
            received_at_ms: 1_700_000_001_000,
            occurred_at_ms: 1_700_000_000_000,
            license_id: 1,
            access_key: "AK".into(),
            sensor_id: 2,
            subkey: "SK".into(),
            pushed_by: Principal::License(1),
            pushed_by_label: "AK".into(),
            vendor_name: "Acme".into(),
            tool_name: "Gate".into(),
            fields,
            raw_params: json!({}),
            hosts: vec![],
            task_uuids: vec![],
            action: Some("BLOCK".into()),
            impact: Some(81),
        }
    }

    fn has(all: &[(Fact, String)], fact: Fact) -> Option<&str> {
        all.iter()
            .find(|(f, _)| *f == fact)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_download_names_both_ends_by_address_family() {
        let e = event(
            "file_download",
            json!({"src_ip": "10.0.0.5", "dst_ip": "2001:db8::1", "dst_port": 443,
                   "filename": "a.exe", "task_uuid": "t1", "tool_version": "2.1",
                   "application_protocol": "HTTPS"}),
        );
        let f = facts(&e);
        assert_eq!(has(&f, Fact::SrcIp), Some("10.0.0.5"));
        assert_eq!(has(&f, Fact::SrcIp6), None);
        assert_eq!(has(&f, Fact::DstIp), None);
        assert_eq!(has(&f, Fact::DstIp6), Some("2001:db8::1"));
        assert_eq!(has(&f, Fact::DstPort), Some("443"));
        assert_eq!(has(&f, Fact::Tool), Some("Acme Gate 2.1"));
        assert_eq!(has(&f, Fact::Summary), Some("File download: a.exe"));
        assert_eq!(has(&f, Fact::Impact), Some("81"));
        assert_eq!(has(&f, Fact::Sensor), Some("AK:SK"));
    }

    #[test]
    fn a_mail_names_its_people_files_and_first_url() {
        let e = event(
            "mail",
            json!({"message": {"sender": "a@x.test", "recipients": ["b@y.test", "c@y.test"],
                               "subject": "Hi", "message_id": "<m@x>"},
                   "attachments": [{"filename": "a.doc", "task_uuid": "t9"}, {"filename": "b.zip"}],
                   "urls": [{"url": "http://x.test/1"}, {"url": "http://x.test/2"}]}),
        );
        let f = facts(&e);
        assert_eq!(has(&f, Fact::Recipients), Some("b@y.test,c@y.test"));
        assert_eq!(has(&f, Fact::FileName), Some("a.doc,b.zip"));
        assert_eq!(has(&f, Fact::Url), Some("http://x.test/1"));
        assert_eq!(has(&f, Fact::TaskUuid), Some("t9"));
        assert_eq!(has(&f, Fact::Summary), Some("Mail: Hi from a@x.test"));
    }

    #[test]
    fn an_ioc_result_names_the_checked_machine() {
        let e = event(
            "ioc",
            json!({"hostname": "ws1", "main_ipv4": "10.1.1.1", "workgroup": "WG",
                   "ioc_matched": true, "match_confidence": 0.5, "ioc_uuid": "u"}),
        );
        let f = facts(&e);
        assert_eq!(has(&f, Fact::DstHost), Some("ws1"));
        assert_eq!(has(&f, Fact::Domain), Some("WG"));
        assert_eq!(has(&f, Fact::IocMatched), Some("1"));
        assert_eq!(has(&f, Fact::Confidence), Some("0.5"));
        assert_eq!(has(&f, Fact::Summary), Some("IOC matched on ws1"));
    }

    #[test]
    fn the_documented_mapping_is_the_one_sent() {
        let docs = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/forwarding.md"
        ));
        let table: Vec<&str> = docs
            .lines()
            .skip_while(|l| !l.starts_with("| what | file_download"))
            .take_while(|l| l.starts_with('|'))
            .skip(2)
            .collect();
        assert_eq!(table.len(), Fact::ALL.len(), "one row per fact");
        for (fact, row) in Fact::ALL.iter().zip(&table) {
            let cef = match crate::cef::key(*fact) {
                (k, Some(label)) => format!("`{k}` ({label})"),
                (k, None) => format!("`{k}`"),
            };
            let want = format!("| {cef} | `{}` |", crate::leef::key(*fact));
            assert!(
                row.ends_with(&want),
                "{fact:?}: {row} should end with {want}"
            );
        }
    }

    #[test]
    fn severity_is_a_tenth_of_the_impact_rounded_up() {
        assert_eq!(severity_0_10(None), "Unknown");
        assert_eq!(severity_0_10(Some(0)), "0");
        assert_eq!(severity_0_10(Some(1)), "1");
        assert_eq!(severity_0_10(Some(10)), "1");
        assert_eq!(severity_0_10(Some(81)), "9");
        assert_eq!(severity_0_10(Some(100)), "10");
        assert_eq!(severity_0_10(Some(250)), "10");
    }
}
