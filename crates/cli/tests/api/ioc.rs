//! push_result: both URLs, every parameter and rule.

use crate::support::*;
use serde_json::json;

#[tokio::test]
async fn ioc_result_with_every_optional_parameter_at_both_urls() {
    let app = TestApp::start().await;
    let c = app.license_client().await;
    let mut form = ioc_form(&app.creds.sensor_key);
    for (k, v) in [
        ("main_ipv6", "2001:DB8::9"),
        ("tool_version", "1.0"),
        ("check_time_start", "1714584000"),
        ("check_time_end", "1714584060"),
        ("ad_domain", "CORP"),
        ("workgroup", "WORKGROUP"),
        ("netbios_name", "ws-09"),
    ] {
        form.push((k, v.to_owned()));
    }
    assert_ok(&c.post(IOC, &pairs(&form)).await);
    let spec_url = with(&form, "hostname", Some("ws-10"));
    assert_ok(&c.post(IOC_SPEC_URL, &pairs(&spec_url)).await);
    let events = c.get_ok(LIST, &[]).await["events"].clone();
    assert_eq!(events.as_array().unwrap().len(), 2);
    let e = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["fields"]["hostname"] == "ws-09")
        .unwrap();
    assert_eq!(e["type"], "ioc");
    assert_eq!(
        e["fields"],
        json!({
            "ioc_uuid": "0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10", "ioc_source": "threat-feed",
            "main_ipv4": "10.0.0.9", "main_ipv6": "2001:db8::9", "ioc_matched": true,
            "match_confidence": 85.0, "hostname": "ws-09",
            "check_time_start": "2024-05-01T17:20:00.000Z",
            "check_time_end": "2024-05-01T17:21:00.000Z",
            "ad_domain": "CORP", "workgroup": "WORKGROUP", "netbios_name": "WS-09",
            "vendor_name": "Acme", "tool_name": "IocScan", "tool_version": "1.0"
        })
    );
    assert_eq!(e["occurred_at"], "2024-05-01T17:21:00.000Z");
    assert_eq!(e["pushed_by"]["auth_method"], "license");
}

#[tokio::test]
async fn each_required_ioc_parameter_missing_is_named() {
    let app = TestApp::start().await;
    let c = app.user_client().await;
    let form = ioc_form(&app.creds.sensor_key);
    for name in IOC_REQUIRED.into_iter().chain(["key"]) {
        let v = c.post(IOC, &pairs(&with(&form, name, None))).await;
        assert_error(&v, 2001, &format!("'{name}'"));
    }
    let v = c.post(IOC, &pairs(&with(&form, "main_ipv4", None))).await;
    assert_error(&v, 2001, "main_ipv6");
    // main_ipv6 alone is enough.
    let v6 = with(
        &with(&form, "main_ipv4", None),
        "main_ipv6",
        Some("fe80::1"),
    );
    assert_ok(&c.post(IOC, &pairs(&v6)).await);
    assert_eq!(app.event_count().await, 1);
}

#[tokio::test]
async fn ioc_format_violations_and_booleans() {
    let app = TestApp::start().await;
    let c = app.user_client().await;
    let form = ioc_form(&app.creds.sensor_key);
    let cases: &[(&str, &str, &str)] = &[
        ("main_ipv4", "2001:db8::1", "IPv4"),
        ("main_ipv6", "10.0.0.1", "IPv6"),
        ("ioc_matched", "perhaps", "True or False"),
        ("match_confidence", "101", "0 to 100"),
        ("match_confidence", "high", "0 to 100"),
        ("ioc_uuid", "not-a-uuid", "UUID"),
        ("check_time_start", "soon", "epoch seconds"),
        ("hostname", "two words", "host name"),
        ("netbios_name", "THIS-NAME-IS-TOO-LONG", "NetBIOS"),
    ];
    for (name, value, expected) in cases {
        let v = c.post(IOC, &pairs(&with(&form, name, Some(value)))).await;
        assert_error(&v, 2002, name);
        assert_error(&v, 2002, expected);
    }
    let reversed = with(
        &with(&form, "check_time_start", Some("1714584060")),
        "check_time_end",
        Some("1714584000"),
    );
    assert_error(
        &c.post(IOC, &pairs(&reversed)).await,
        2002,
        "check_time_end",
    );
    assert_eq!(app.event_count().await, 0);
    for (i, (value, expected)) in [
        ("True", true),
        ("False", false),
        ("true", true),
        ("0", false),
        ("yes", true),
    ]
    .into_iter()
    .enumerate()
    {
        let host = format!("host-{i}");
        let f = with(
            &with(&form, "ioc_matched", Some(value)),
            "hostname",
            Some(&host),
        );
        assert_ok(&c.post(IOC, &pairs(&f)).await);
        let list = c.get_ok(LIST, &[("host", &host)]).await;
        assert_eq!(
            list["events"][0]["fields"]["ioc_matched"], expected,
            "{value}"
        );
    }
}

#[tokio::test]
async fn ioc_uuids_in_every_common_notation_are_stored_in_one_form_and_found_by_it() {
    let app = TestApp::start().await;
    let c = app.license_client().await;
    let form = ioc_form(&app.creds.sensor_key);
    let notations = [
        "0B3C7E8A2F554D3E9A512D1F7C9E6B10",
        "{0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10}",
        "urn:uuid:0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10",
        "indicator--0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10",
    ];
    for (i, notation) in notations.iter().enumerate() {
        let host = format!("ws-{i}");
        let f = with(
            &with(&form, "ioc_uuid", Some(notation)),
            "hostname",
            Some(&host),
        );
        assert_ok(&c.post(IOC, &pairs(&f)).await);
    }
    let found = c
        .get_ok(LIST, &[("q", "0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10")])
        .await["events"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(found.len(), notations.len());
    let mut originals: Vec<String> = Vec::new();
    for e in &found {
        assert_eq!(
            e["fields"]["ioc_uuid"],
            "0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10"
        );
        originals.push(e["raw_parameters"]["ioc_uuid"].as_str().unwrap().to_owned());
    }
    originals.sort();
    let mut expected: Vec<String> = notations.iter().map(|n| n.to_string()).collect();
    expected.sort();
    assert_eq!(originals, expected, "the value as sent is kept");
    let v = c
        .post(
            IOC,
            &pairs(&with(
                &form,
                "ioc_uuid",
                Some("Indicator--0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10"),
            )),
        )
        .await;
    assert_error(&v, 2002, "STIX");
}
