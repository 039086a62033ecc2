//! push_file_download: every parameter and rule of the spec.

use crate::support::*;
use serde_json::json;

#[tokio::test]
async fn http_download_with_every_optional_parameter_is_stored_as_sent() {
    let app = TestApp::start().await;
    app.create_task(TASK).await;
    let c = app.user_client().await;
    let mut form = download_form(&app.creds.sensor_key);
    for (k, v) in [
        ("dst_hostname", "Files.Example.COM"),
        ("download_time", "2024-05-01 17:24:16"),
        ("transport_protocol", "tcp"),
        ("src_port", "49152"),
        ("dst_port", "80"),
        ("src_hostname", "ws-01.corp.example"),
        ("tool_version", "2.1"),
        ("http_user_agent", "Mozilla/5.0"),
        ("http_referer", "http://example.com/"),
        ("http_content_disposition_filename", "invoice.exe"),
    ] {
        form.push((k, v.to_owned()));
    }
    assert_ok(&c.post(FILE_DOWNLOAD, &pairs(&form)).await);
    let list = c.get_ok(LIST, &[]).await;
    let event = &list["events"][0];
    assert_eq!(event["type"], "file_download");
    assert_eq!(event["occurred_at"], "2024-05-01T17:24:16.000Z");
    assert_eq!(
        event["fields"],
        json!({
            "task_uuid": TASK, "src_ip": "10.0.0.5", "src_hostname": "ws-01.corp.example",
            "dst_ip": "203.0.113.7", "dst_hostname": "files.example.com",
            "application_protocol": "HTTP", "filename": "/downloads/invoice.exe",
            "download_time": "2024-05-01T17:24:16.000Z", "transport_protocol": "TCP",
            "src_port": 49152, "dst_port": 80, "http_user_agent": "Mozilla/5.0",
            "http_referer": "http://example.com/", "http_content_disposition_filename": "invoice.exe",
            "vendor_name": "Acme", "tool_name": "NetSensor", "tool_version": "2.1"
        })
    );
    assert_eq!(event["raw_parameters"]["transport_protocol"], "tcp");
    assert_eq!(event["raw_parameters"]["dst_hostname"], "Files.Example.COM");
}

#[tokio::test]
async fn ftp_and_smb_parameters_with_their_protocols() {
    let app = TestApp::start().await;
    app.create_task(TASK).await;
    let c = app.user_client().await;
    let base = download_form(&app.creds.sensor_key);
    let ftp = with(&base, "application_protocol", Some("FTP"));
    let ftp = with(&ftp, "ftp_mode", Some("passive"));
    let ftp = with(&ftp, "ftp_direction", Some("download"));
    assert_ok(&c.post(FILE_DOWNLOAD, &pairs(&ftp)).await);
    let smb = with(&base, "application_protocol", Some("SMB"));
    let smb = with(&smb, "smb_direction", Some("read"));
    let smb = with(&smb, "smb_mount_point", Some("\\\\fs01\\share"));
    assert_ok(&c.post(FILE_DOWNLOAD, &pairs(&smb)).await);
    let other = with(&base, "application_protocol", Some("other"));
    let other = with(&other, "dst_ip", None);
    let other = with(&other, "dst_hostname", Some("peer.example"));
    assert_ok(&c.post(FILE_DOWNLOAD, &pairs(&other)).await);
    let events = c.get_ok(LIST, &[]).await["events"].clone();
    assert_eq!(events[0]["fields"]["application_protocol"], "other");
    assert_eq!(events[1]["fields"]["smb_direction"], "read");
    assert_eq!(events[1]["fields"]["smb_mount_point"], "\\\\fs01\\share");
    assert_eq!(events[2]["fields"]["ftp_mode"], "passive");
    assert_eq!(events[2]["fields"]["ftp_direction"], "download");
}

#[tokio::test]
async fn each_required_parameter_missing_is_named() {
    let app = TestApp::start().await;
    app.create_task(TASK).await;
    let c = app.user_client().await;
    let form = download_form(&app.creds.sensor_key);
    for name in [
        "task_uuid",
        "src_ip",
        "application_protocol",
        "filename",
        "vendor_name",
        "tool_name",
        "key",
    ] {
        let v = c
            .post(FILE_DOWNLOAD, &pairs(&with(&form, name, None)))
            .await;
        assert_error(&v, 2001, &format!("'{name}'"));
        // An empty value counts as absent.
        let v = c
            .post(FILE_DOWNLOAD, &pairs(&with(&form, name, Some(""))))
            .await;
        assert_error(&v, 2001, &format!("'{name}'"));
    }
    // dst_ip / dst_hostname: one of them is required.
    let v = c
        .post(FILE_DOWNLOAD, &pairs(&with(&form, "dst_ip", None)))
        .await;
    assert_error(&v, 2001, "dst_hostname");
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn each_enum_and_format_violation_is_named() {
    let app = TestApp::start().await;
    app.create_task(TASK).await;
    let c = app.user_client().await;
    let form = download_form(&app.creds.sensor_key);
    let cases: &[(&str, &str, &str)] = &[
        (
            "application_protocol",
            "GOPHER",
            "HTTP, HTTPS, FTP, SMB, other",
        ),
        ("transport_protocol", "SCTP", "TCP, UDP"),
        ("src_ip", "10.0.0.256", "IP"),
        ("dst_ip", "not-an-ip", "IP"),
        ("src_port", "65536", "0 to 65535"),
        ("dst_port", "-1", "0 to 65535"),
        (
            "task_uuid",
            "88450dbe-3c06-0000-0ffa-2b3a90b8560d",
            "32 hexadecimal",
        ),
        ("task_uuid", "xyz", "32 hexadecimal"),
        ("download_time", "yesterday", "epoch seconds"),
        ("src_hostname", "bad host name", "host name"),
        ("dst_hostname", "bad/host", "host name"),
        ("key", "ACCESSKEYONLY", "access_key:subkey"),
        ("filename", "a\u{7}b", "control characters"),
    ];
    for (name, value, expected) in cases {
        let v = c
            .post(FILE_DOWNLOAD, &pairs(&with(&form, name, Some(value))))
            .await;
        assert_error(&v, 2002, name);
        assert_error(&v, 2002, expected);
    }
    let ftp = with(&form, "application_protocol", Some("FTP"));
    let v = c
        .post(
            FILE_DOWNLOAD,
            &pairs(&with(&ftp, "ftp_mode", Some("sideways"))),
        )
        .await;
    assert_error(&v, 2002, "active, passive");
    let v = c
        .post(
            FILE_DOWNLOAD,
            &pairs(&with(&ftp, "ftp_direction", Some("both"))),
        )
        .await;
    assert_error(&v, 2002, "upload, download");
    let smb = with(&form, "application_protocol", Some("SMB"));
    let v = c
        .post(
            FILE_DOWNLOAD,
            &pairs(&with(&smb, "smb_direction", Some("append"))),
        )
        .await;
    assert_error(&v, 2002, "read, write");
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn protocol_specific_parameters_only_with_their_protocol() {
    let app = TestApp::start().await;
    app.create_task(TASK).await;
    let c = app.user_client().await;
    let form = download_form(&app.creds.sensor_key);
    let http_params = [
        ("http_user_agent", "x"),
        ("http_referer", "http://example.com/"),
        ("http_content_disposition_filename", "x.exe"),
    ];
    let ftp_params = [("ftp_mode", "active"), ("ftp_direction", "upload")];
    let smb_params = [("smb_direction", "write"), ("smb_mount_point", "/mnt")];
    for (protocol, refused) in [
        ("HTTP", [&ftp_params[..], &smb_params[..]].concat()),
        ("HTTPS", [&ftp_params[..], &smb_params[..]].concat()),
        ("FTP", [&http_params[..], &smb_params[..]].concat()),
        ("SMB", [&http_params[..], &ftp_params[..]].concat()),
        (
            "other",
            [&http_params[..], &ftp_params[..], &smb_params[..]].concat(),
        ),
    ] {
        let base = with(&form, "application_protocol", Some(protocol));
        for (name, value) in refused {
            let v = c
                .post(FILE_DOWNLOAD, &pairs(&with(&base, name, Some(value))))
                .await;
            assert_error(&v, 2004, name);
            assert_error(&v, 2004, "application_protocol");
        }
    }
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn https_udp_and_the_other_directions_are_accepted() {
    let app = TestApp::start().await;
    app.create_task(TASK).await;
    let c = app.user_client().await;
    let base = download_form(&app.creds.sensor_key);
    let mut https = with(&base, "application_protocol", Some("HTTPS"));
    for (k, v) in [
        ("transport_protocol", "UDP"),
        ("http_user_agent", "curl/8.5"),
        ("http_referer", "https://example.com/"),
        ("http_content_disposition_filename", "setup.msi"),
    ] {
        https.push((k, v.to_owned()));
    }
    assert_ok(&c.post(FILE_DOWNLOAD, &pairs(&https)).await);
    let ftp = with(&base, "application_protocol", Some("FTP"));
    let ftp = with(&ftp, "ftp_mode", Some("active"));
    let ftp = with(&ftp, "ftp_direction", Some("upload"));
    assert_ok(&c.post(FILE_DOWNLOAD, &pairs(&ftp)).await);
    let smb = with(&base, "application_protocol", Some("SMB"));
    let smb = with(&smb, "smb_direction", Some("write"));
    assert_ok(&c.post(FILE_DOWNLOAD, &pairs(&smb)).await);
    let events = c.get_ok(LIST, &[]).await["events"].clone();
    assert_eq!(events[0]["fields"]["smb_direction"], "write");
    assert_eq!(events[1]["fields"]["ftp_mode"], "active");
    assert_eq!(events[1]["fields"]["ftp_direction"], "upload");
    let https = &events[2]["fields"];
    assert_eq!(https["application_protocol"], "HTTPS");
    assert_eq!(https["transport_protocol"], "UDP");
    assert_eq!(https["http_user_agent"], "curl/8.5");
    assert_eq!(https["http_referer"], "https://example.com/");
    assert_eq!(https["http_content_disposition_filename"], "setup.msi");
}

#[tokio::test]
async fn unknown_repeated_and_conflicting_parameters_and_the_key_ids() {
    let app = TestApp::start().await;
    app.create_task(TASK).await;
    let c = app.user_client().await;
    let form = download_form(&app.creds.sensor_key);
    // Unknown parameter names are refused, with a suggestion.
    let v = c
        .post(FILE_DOWNLOAD, &pairs(&with(&form, "scr_port", Some("1"))))
        .await;
    assert_error(&v, 2003, "did you mean 'src_port'");
    // The same parameter twice with different values.
    let mut twice = form.clone();
    twice.push(("src_ip", "10.0.0.6".to_owned()));
    assert_error(
        &c.post(FILE_DOWNLOAD, &pairs(&twice)).await,
        2004,
        "more than once",
    );
    // key and key_id together.
    let both = with(&form, "key_id", Some("1"));
    assert_error(&c.post(FILE_DOWNLOAD, &pairs(&both)).await, 2004, "key_id");
    // key_id and subkey_id are integers.
    let by_ids = with(&form, "key", None);
    let key_id = app.creds.key_id.to_string();
    let subkey_id = app.creds.subkey_id.to_string();
    for (key_id, subkey_id, bad) in [
        ("one", subkey_id.as_str(), "key_id"),
        (key_id.as_str(), "1.5", "subkey_id"),
        (key_id.as_str(), "0x1", "subkey_id"),
    ] {
        let v = c
            .post(
                FILE_DOWNLOAD,
                &pairs(&with(
                    &with(&by_ids, "key_id", Some(key_id)),
                    "subkey_id",
                    Some(subkey_id),
                )),
            )
            .await;
        assert_error(&v, 2002, bad);
        assert_error(&v, 2002, "integer");
    }
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn key_id_with_subkey_id_selects_the_sensor() {
    let app = TestApp::start().await;
    app.create_task(TASK).await;
    let c = app.user_client().await;
    let form = with(&download_form(""), "key", None);
    let key_id = app.creds.key_id.to_string();
    let subkey_id = app.creds.subkey_id.to_string();
    let ids = with(
        &with(&form, "key_id", Some(&key_id)),
        "subkey_id",
        Some(&subkey_id),
    );
    assert_ok(&c.post(FILE_DOWNLOAD, &pairs(&ids)).await);
    // key_id alone does not name a sensor.
    let v = c
        .post(FILE_DOWNLOAD, &pairs(&with(&form, "key_id", Some(&key_id))))
        .await;
    assert_error(&v, 2001, "subkey_id");
    let v = c
        .post(
            FILE_DOWNLOAD,
            &pairs(&with(&form, "subkey_id", Some(&subkey_id))),
        )
        .await;
    assert_error(&v, 2001, "key_id");
    // A subkey_id of another license does not match the key_id.
    let (_, second_sensor, _) = app.second_license().await;
    let second_subkey_id = app.subkey_id_of(&second_sensor).await.to_string();
    let wrong = with(
        &with(&form, "key_id", Some(&key_id)),
        "subkey_id",
        Some(&second_subkey_id),
    );
    assert_error(
        &c.post(FILE_DOWNLOAD, &pairs(&wrong)).await,
        3001,
        "Permission denied",
    );
    assert_eq!(app.event_count().await, 1);
}

#[tokio::test]
async fn task_uuid_must_belong_to_the_sensors_license() {
    let app = TestApp::start().await;
    let c = app.user_client().await;
    let form = download_form(&app.creds.sensor_key);
    // Unknown task.
    let v = c.post(FILE_DOWNLOAD, &pairs(&form)).await;
    assert_error(&v, 2006, "task_uuid");
    // A task of another license of the same account is refused too.
    let (other_key_id, _, _) = app.second_license().await;
    app.create_task_for(TASK, other_key_id).await;
    let v = c.post(FILE_DOWNLOAD, &pairs(&form)).await;
    assert_error(&v, 2006, "same license");
    // Upper-case uuid of a task of this license is accepted.
    app.create_task("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").await;
    let ok = with(&form, "task_uuid", Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    assert_ok(&c.post(FILE_DOWNLOAD, &pairs(&ok)).await);
    assert_eq!(app.event_count().await, 1);
}

#[tokio::test]
async fn xml_answers_and_multipart_bodies() {
    let app = TestApp::start().await;
    app.create_task(TASK).await;
    let c = app.user_client().await;
    let form = download_form(&app.creds.sensor_key);
    let xml_path = FILE_DOWNLOAD.replace(".json", ".xml");
    let (status, body) = c
        .text(reqwest::Method::POST, &xml_path, &pairs(&form))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><response><success>1</success><data>OK</data></response>"
    );
    let bad = with(&form, "src_port", Some("x"));
    let (status, body) = c.text(reqwest::Method::POST, &xml_path, &pairs(&bad)).await;
    assert_eq!(status, 200);
    assert!(body.contains("<success>0</success>"), "{body}");
    assert!(body.contains("<error_code>2002</error_code>"), "{body}");
    assert!(body.contains("src_port"), "{body}");
    // No suffix means JSON.
    let plain = FILE_DOWNLOAD.trim_end_matches(".json");
    let other = with(&form, "src_ip", Some("10.0.0.77"));
    assert_ok(&c.post(plain, &pairs(&other)).await);
    // multipart/form-data, as clients may send.
    let mut mp = reqwest::multipart::Form::new();
    for (k, v) in with(&form, "src_ip", Some("10.0.0.78")) {
        mp = mp.text(k, v);
    }
    let r = c
        .http
        .post(app.url(FILE_DOWNLOAD))
        .multipart(mp)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_ok(&r.json().await.unwrap());
    assert_eq!(app.event_count().await, 3);
}
