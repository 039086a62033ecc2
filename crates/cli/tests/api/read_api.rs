//! The read API: filters, pagination, every stored field.

use crate::support::*;
use serde_json::Value;

fn ids(list: &Value) -> Vec<i64> {
    list["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn filters_select_by_type_time_host_vendor_tool_and_sensor() {
    let app = TestApp::start().await;
    app.create_task(TASK).await;
    let (_, second_sensor, _) = app.second_license().await;
    let c = app.user_client().await;
    let key = app.creds.sensor_key.clone();
    let d1 = with(
        &download_form(&key),
        "download_time",
        Some("2024-01-01 00:00:00"),
    );
    assert_ok(&c.post(FILE_DOWNLOAD, &pairs(&d1)).await);
    let i1 = with(
        &with(
            &ioc_form(&key),
            "check_time_end",
            Some("2024-02-01T00:00:00Z"),
        ),
        "vendor_name",
        Some("Other"),
    );
    assert_ok(&c.post(IOC, &pairs(&i1)).await);
    let i2 = with(
        &with(
            &ioc_form(&second_sensor),
            "check_time_end",
            Some("1709251200"),
        ),
        "tool_name",
        Some("Sweep"),
    );
    let i2 = with(&i2, "main_ipv4", Some("10.9.9.9"));
    assert_ok(&c.post(IOC, &pairs(&i2)).await);
    let all = c.get_ok(LIST, &[]).await;
    assert_eq!(ids(&all), vec![3, 2, 1], "newest first");
    assert_eq!(ids(&c.get_ok(LIST, &[("type", "ioc")]).await), vec![3, 2]);
    assert_eq!(
        ids(&c.get_ok(LIST, &[("type", "file_download")]).await),
        vec![1]
    );
    assert_eq!(
        ids(&c.get_ok(LIST, &[("after", "2024-01-15 00:00:00")]).await),
        vec![3, 2]
    );
    assert_eq!(
        ids(&c.get_ok(LIST, &[("before", "2024-02-01T00:00:00Z")]).await),
        vec![1]
    );
    // As a browser's date and time field sends it (the console's filter form), UTC.
    assert_eq!(
        ids(&c.get_ok(LIST, &[("after", "2024-01-15T00:00")]).await),
        vec![3, 2]
    );
    assert_eq!(
        ids(&c
            .get_ok(LIST, &[("after", "2024-01-15"), ("before", "2024-02-15")])
            .await),
        vec![2]
    );
    assert_eq!(ids(&c.get_ok(LIST, &[("host", "10.0.0.5")]).await), vec![1]);
    assert_eq!(ids(&c.get_ok(LIST, &[("host", "ws-09")]).await), vec![3, 2]);
    // An address names its machine: event 3 tied 10.9.9.9 to ws-09, whose events match.
    assert_eq!(
        ids(&c.get_ok(LIST, &[("host", "10.9.9.9")]).await),
        vec![3, 2]
    );
    assert!(ids(&c.get_ok(LIST, &[("host", "10.9.9.8")]).await).is_empty());
    assert_eq!(
        ids(&c.get_ok(LIST, &[("vendor_name", "Other")]).await),
        vec![2]
    );
    assert_eq!(
        ids(&c.get_ok(LIST, &[("tool_name", "Sweep")]).await),
        vec![3]
    );
    assert_eq!(
        ids(&c.get_ok(LIST, &[("sensor", &second_sensor)]).await),
        vec![3]
    );
    let first_subkey_id = app.creds.subkey_id.to_string();
    assert_eq!(
        ids(&c.get_ok(LIST, &[("sensor", &first_subkey_id)]).await),
        vec![2, 1]
    );
    assert_eq!(
        ids(&c.get_ok(LIST, &[("host", "nowhere.example")]).await),
        Vec::<i64>::new()
    );
    for (name, value) in [
        ("type", "dns"),
        ("after", "never"),
        ("limit", "0"),
        ("limit", "1001"),
        ("cursor", "abc"),
        ("sensor", "NOPE:NOPE"),
    ] {
        assert_error(&c.get(LIST, &[(name, value)]).await, 2002, name);
    }
    assert_error(
        &c.get(LIST, &[("hots", "x")]).await,
        2003,
        "did you mean 'host'",
    );
}

#[tokio::test]
async fn cursor_pagination_walks_every_event_once() {
    let app = TestApp::start().await;
    let c = app.user_client().await;
    for i in 0..7 {
        let f = with(
            &ioc_form(&app.creds.sensor_key),
            "hostname",
            Some(&format!("h{i}")),
        );
        let f = with(&f, "check_time_end", Some("1700000000"));
        assert_ok(&c.post(IOC, &pairs(&f)).await);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = vec![("limit", "3".to_owned())];
        if let Some(cur) = &cursor {
            q.push(("cursor", cur.clone()));
        }
        let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = c.get_ok(LIST, &q).await;
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(page["more_results_available"], 1);
                cursor = Some(next.to_owned());
            }
            None => {
                assert_eq!(page["more_results_available"], 0);
                break;
            }
        }
    }
    assert_eq!(seen, vec![7, 6, 5, 4, 3, 2, 1]);
}

#[tokio::test]
async fn get_returns_every_stored_field_raw_parameters_and_origin() {
    let app = TestApp::start().await;
    let c = app.license_client().await;
    let form = with(&ioc_form(&app.creds.sensor_key), "tool_version", Some("9"));
    assert_ok(&c.post(IOC, &pairs(&form)).await);
    let e = c.get_ok(GET, &[("event_id", "1")]).await;
    assert_eq!(e["event_id"], 1);
    assert_eq!(e["type"], "ioc");
    assert_eq!(e["vendor_name"], "Acme");
    assert_eq!(e["tool_name"], "IocScan");
    assert_eq!(e["license"]["key_id"], app.creds.key_id);
    assert_eq!(e["license"]["access_key"], app.creds.access_key);
    assert_eq!(e["sensor"]["subkey_id"], app.creds.subkey_id);
    assert_eq!(e["sensor"]["key"], app.creds.sensor_key);
    assert_eq!(e["pushed_by"]["auth_method"], "license");
    assert_eq!(e["pushed_by"]["access_key"], app.creds.access_key);
    assert!(e["received_at"].as_str().unwrap().ends_with('Z'));
    let raw: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    for (k, v) in raw {
        assert_eq!(e["raw_parameters"][&k], v.as_str(), "{k}");
    }
    assert_eq!(e["fields"]["tool_version"], "9");
    assert_error(&c.get(GET, &[("event_id", "99")]).await, 2007, "event_id");
    assert_error(&c.get(GET, &[]).await, 2001, "event_id");
    assert_error(&c.get(GET, &[("event_id", "x")]).await, 2002, "event_id");
    let (status, xml) = c
        .text(
            reqwest::Method::GET,
            "/papi/push_detection/event/get.xml?event_id=1",
            &[],
        )
        .await;
    assert_eq!(status, 200);
    assert!(xml.contains("<event_id>1</event_id>"), "{xml}");
    assert!(
        xml.contains("<raw_parameters><vendor_name>Acme</vendor_name>"),
        "{xml}"
    );
}

#[tokio::test]
async fn an_event_list_in_xml_is_one_well_formed_document() {
    let app = TestApp::start().await;
    let c = app.user_client().await;
    for host in ["WS-1", "WS-2"] {
        let form = with(&ioc_form(&app.creds.sensor_key), "hostname", Some(host));
        assert_ok(&c.post(IOC, &pairs(&form)).await);
    }
    let xml = c
        .http
        .get(app.url("/papi/push_detection/event/list.xml"))
        .query(&[("limit", "1")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut items = 0;
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Start(e) if e.name().as_ref() == b"event_id" => items += 1,
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(items, 1, "{xml}");
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><response><success>1</success><data><events><item>"), "{xml}");
    assert!(
        xml.contains("</events><more_results_available>1</more_results_available><next_cursor>"),
        "{xml}"
    );
    assert!(xml.ends_with("</next_cursor></data></response>"), "{xml}");
}
