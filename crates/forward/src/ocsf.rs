//! OCSF 1.1 Detection Finding (class 2004, category 2 "Findings") built from an event, for
//! data lakes and SIEMs that read OCSF (Security Lake, Sentinel, Elastic). The event as
//! the read API returns it rides along in `unmapped`, so nothing is lost.

use crate::facts::{facts, summary, Fact};
use crate::payload::Names;
use pushdetect_store::external::event_json;
use pushdetect_store::StoredEvent;
use serde_json::{json, Map, Value};

/// OCSF's severity_id of an impact: 1 informational .. 5 critical, 0 unknown.
pub fn severity_id(impact: Option<i64>) -> i64 {
    match impact {
        None => 0,
        Some(i) if i >= 80 => 5,
        Some(i) if i >= 60 => 4,
        Some(i) if i >= 40 => 3,
        Some(i) if i >= 20 => 2,
        Some(_) => 1,
    }
}

fn severity_name(id: i64) -> &'static str {
    [
        "Unknown",
        "Informational",
        "Low",
        "Medium",
        "High",
        "Critical",
    ][id.clamp(0, 5) as usize]
}

/// The Detection Finding of an event; `delivery` is the delivery id.
pub fn event(e: &StoredEvent, names: &Names, delivery: i64) -> Value {
    let all = facts(e);
    let fact = |f: Fact| all.iter().find(|(x, _)| *x == f).map(|(_, v)| v.clone());
    let severity = severity_id(e.impact);
    let endpoint =
        |ip: Option<String>, ip6: Option<String>, host: Option<String>, port: Option<String>| {
            let mut m = Map::new();
            if let Some(ip) = ip.or(ip6) {
                m.insert("ip".into(), json!(ip));
            }
            if let Some(h) = host {
                m.insert("hostname".into(), json!(h));
            }
            if let Some(p) = port.and_then(|p| p.parse::<u16>().ok()) {
                m.insert("port".into(), json!(p));
            }
            (!m.is_empty()).then_some(Value::Object(m))
        };
    let mut finding = json!({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200401,
        "time": e.occurred_at_ms,
        "severity_id": severity,
        "severity": severity_name(severity),
        "status_id": 1,
        "status": "New",
        "message": summary(e),
        "metadata": {
            "version": "1.1.0",
            "uid": delivery.to_string(),
            "product": {"name": names.product, "vendor_name": names.vendor, "version": names.version},
            "logged_time": e.received_at_ms,
        },
        "finding_info": {
            "uid": e.id.to_string(),
            "title": summary(e),
            "types": [e.kind],
            "created_time": e.occurred_at_ms,
            "analytic": {"name": format!("{} {}", e.vendor_name, e.tool_name), "type_id": 0, "type": "Unknown"},
        },
        "unmapped": event_json(e),
    });
    if let Some(src) = endpoint(
        fact(Fact::SrcIp),
        fact(Fact::SrcIp6),
        fact(Fact::SrcHost),
        fact(Fact::SrcPort),
    ) {
        finding["src_endpoint"] = src;
    }
    if let Some(dst) = endpoint(
        fact(Fact::DstIp),
        fact(Fact::DstIp6),
        fact(Fact::DstHost),
        fact(Fact::DstPort),
    ) {
        finding["dst_endpoint"] = dst;
    }
    if let Some(action) = &e.action {
        let (id, name) = match action.as_str() {
            "BLOCK" => (2, "Denied"),
            "LOG" | "WARN" => (1, "Allowed"),
            _ => (0, "Unknown"),
        };
        finding["action_id"] = json!(id);
        finding["action"] = json!(name);
    }
    if let Some(i) = e.impact {
        finding["risk_score"] = json!(i);
    }
    finding
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::tests::event as stored;

    #[test]
    fn a_download_becomes_a_detection_finding_with_both_endpoints() {
        let e = stored(
            "file_download",
            json!({"src_ip": "10.0.0.5", "dst_ip": "2001:db8::1", "dst_port": 443, "dst_hostname": "dl.test", "filename": "a.exe"}),
        );
        let f = event(&e, &Names::default(), 7);
        assert_eq!(f["class_uid"], 2004);
        assert_eq!(f["type_uid"], 200401);
        assert_eq!(f["severity_id"], 5);
        assert_eq!(f["severity"], "Critical");
        assert_eq!(f["metadata"]["uid"], "7");
        assert_eq!(f["finding_info"]["uid"], "42");
        assert_eq!(f["src_endpoint"], json!({"ip": "10.0.0.5"}));
        assert_eq!(
            f["dst_endpoint"],
            json!({"ip": "2001:db8::1", "hostname": "dl.test", "port": 443})
        );
        assert_eq!(f["action"], "Denied");
        assert_eq!(f["unmapped"]["event_id"], 42);
    }

    #[test]
    fn severity_follows_the_impact() {
        let ids: Vec<i64> = [None, Some(0), Some(20), Some(40), Some(60), Some(80)]
            .into_iter()
            .map(severity_id)
            .collect();
        assert_eq!(ids, [0, 1, 2, 3, 4, 5]);
        assert_eq!(severity_name(3), "Medium");
    }
}
