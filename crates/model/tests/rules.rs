//! The spec's rules as the model holds them, each checked on its boundary: the values
//! either side of a limit, every branch of a parser, every name of a table. These are the
//! tests that cargo-mutants measures the model against (docs/testing.md).

use pushdetect_model::analyst::{AnalystCall, AnalystCode, AnalystError};
use pushdetect_model::envelope::{self, Format};
use pushdetect_model::grouping::GroupBy;
use pushdetect_model::mail::EmailAddress;
use pushdetect_model::method::ParamKind;
use pushdetect_model::params::ParamReader;
use pushdetect_model::triage::HostKind;
use pushdetect_model::values::{parse_id, IocUuid, NetbiosName, TaskUuid, Text};
use pushdetect_model::{
    limits, ApiError, ErrorCode, Event, EventKind, FormParams, NetworkSelection, PushRequest,
    Timestamp,
};
use serde_json::json;

const TASK: &str = "0123456789abcdef0123456789abcdef";

fn now() -> Timestamp {
    Timestamp::from_millis(1_700_000_000_000)
}

fn form(pairs: &[(&str, &str)]) -> FormParams {
    FormParams::from_pairs(pairs.iter().copied())
}

fn refused(e: ApiError, code: ErrorCode, needle: &str) {
    assert_eq!(e.code, code, "{e}");
    assert!(e.message.contains(needle), "{needle:?} not in {e}");
}

/// `base` with the pairs of `extra` in place of those of the same name ("" to leave one
/// empty).
fn with(base: &[(&str, &str)], extra: &[(&str, &str)]) -> Vec<(String, String)> {
    base.iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .chain(extra)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn ioc(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    with(
        &[
            ("vendor_name", "Acme"),
            ("tool_name", "IocScan"),
            ("ioc_uuid", "0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10"),
            ("ioc_source", "feed"),
            ("main_ipv4", "10.0.0.9"),
            ("ioc_matched", "True"),
            ("match_confidence", "85"),
            ("hostname", "WS-09"),
            ("key", "AK:SK"),
        ],
        extra,
    )
}

fn push(kind: EventKind, pairs: &[(String, String)]) -> Result<PushRequest, ApiError> {
    PushRequest::parse(kind, &FormParams::from_pairs(pairs.iter().cloned()), now())
}

fn download(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    with(
        &[
            ("task_uuid", TASK),
            ("src_ip", "10.0.0.5"),
            ("dst_ip", "203.0.113.7"),
            ("application_protocol", "HTTP"),
            ("filename", "/d/x.exe"),
            ("vendor_name", "Acme"),
            ("tool_name", "Net"),
            ("key", "AK:SK"),
        ],
        extra,
    )
}

fn mail_push(mail: serde_json::Value) -> Result<PushRequest, ApiError> {
    push(
        EventKind::Mail,
        &[
            ("mail_json_str".to_string(), mail.to_string()),
            ("vendor_name".into(), "Acme".into()),
            ("tool_name".into(), "Gate".into()),
            ("key".into(), "AK:SK".into()),
        ],
    )
}

fn message(extra: serde_json::Value) -> serde_json::Value {
    let mut m = json!({"message_id": "<m@corp.example>", "sender": "a@corp.example",
        "recipients": ["b@corp.example"], "subject": "s"});
    for (k, v) in extra.as_object().unwrap() {
        m[k] = v.clone();
    }
    json!({ "message": m })
}

#[test]
fn free_text_is_bounded_at_4_kib_and_shown_as_given() {
    let at_limit = "a".repeat(4096);
    assert_eq!(limits::MAX_TEXT_BYTES, 4096);
    let t = Text::parse("filename", &format!("  {at_limit} ")).unwrap();
    assert_eq!(t.as_str(), at_limit);
    assert_eq!(t.to_string(), at_limit);
    refused(
        Text::parse("filename", &"a".repeat(4097)).unwrap_err(),
        ErrorCode::InvalidParameter,
        "at most 4096 bytes",
    );
    refused(
        Text::parse("filename", "  ").unwrap_err(),
        ErrorCode::InvalidParameter,
        "'filename'",
    );
}

#[test]
fn netbios_names_are_1_to_15_characters_without_spaces_or_reserved_ones() {
    assert_eq!(
        NetbiosName::parse("n", " ws-09 ").unwrap().as_str(),
        "WS-09"
    );
    assert_eq!(
        NetbiosName::parse("n", &"a".repeat(15)).unwrap().as_str(),
        "A".repeat(15)
    );
    for bad in [
        "",
        "   ",
        &"a".repeat(16),
        "two words",
        "tab\there",
        "back\\slash",
        "a/b",
        "c:",
        "star*",
        "q?",
        "quote\"",
        "<lt",
        "gt>",
        "pi|pe",
        "bell\u{7}",
    ] {
        refused(
            NetbiosName::parse("netbios_name", bad).unwrap_err(),
            ErrorCode::InvalidParameter,
            "'netbios_name'",
        );
    }
}

#[test]
fn ids_are_non_negative_integers() {
    assert_eq!(parse_id("key_id", "0").unwrap(), 0);
    assert_eq!(parse_id("key_id", " 42 ").unwrap(), 42);
    for bad in ["-1", "1.5", "one", "0x1", ""] {
        refused(
            parse_id("key_id", bad).unwrap_err(),
            ErrorCode::InvalidParameter,
            "non-negative integer",
        );
    }
}

#[test]
fn task_uuids_and_ioc_uuids_print_in_their_stored_form() {
    assert_eq!(
        TaskUuid::parse("task_uuid", &TASK.to_uppercase())
            .unwrap()
            .to_string(),
        TASK
    );
    let canonical = "0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10";
    for given in [
        canonical,
        "0B3C7E8A2F554D3E9A512D1F7C9E6B10",
        "{0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10}",
        "urn:uuid:0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10",
        "indicator--0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10",
    ] {
        assert_eq!(
            serde_json::to_value(IocUuid::parse("ioc_uuid", given).unwrap()).unwrap(),
            canonical,
            "{given}"
        );
    }
    for bad in [
        "urn:uuid:",
        "ab--0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10",
        "0b3c7e8a2f55-4d3e-9a51-2d1f-7c9e6b10",
        "0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b1g",
        "0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b1",
    ] {
        assert!(IocUuid::parse("ioc_uuid", bad).is_err(), "{bad}");
    }
}

#[test]
fn times_print_and_store_as_given() {
    let t = Timestamp::parse("download_time", "2024-05-01 17:24:16").unwrap();
    assert_eq!(t.millis(), 1_714_584_256_000);
    assert_eq!(t.to_string(), "2024-05-01T17:24:16.000Z");
    assert_eq!(Timestamp::from_millis(t.millis()), t);
    assert_eq!(
        Timestamp::parse_utc_seconds("2018-06-04 10:11:12")
            .unwrap()
            .millis(),
        1_528_107_072_000
    );
    assert!(Timestamp::parse_utc_seconds("2018-06-04T10:11:12Z").is_none());
}

#[test]
fn mail_addresses_are_bare_ascii_local_at_domain() {
    for (given, stored) in [
        ("Jane.Doe@Corp.Example", "Jane.Doe@corp.example"),
        ("<a@b.example>", "a@b.example"),
        ("support@corp.com>", "support@corp.com"),
        (
            "x-y_z+tag@mail-1.corp.example",
            "x-y_z+tag@mail-1.corp.example",
        ),
        ("a@localhost", "a@localhost"),
    ] {
        let a = EmailAddress::parse(given).unwrap();
        assert_eq!(a.as_str(), stored);
        assert_eq!(a.to_string(), stored);
    }
    for bad in [
        "Jane <jane@corp.example>",
        "a b@corp.example",
        "\"a\"@corp.example",
        "a<@corp.example",
        "a@corp.example>>",
        "no-at-sign",
        "@corp.example",
        &format!("{}@corp.example", "a".repeat(65)),
        "a(b)@corp.example",
        "a,b@corp.example",
        "é@corp.example",
        "a@",
        "a@corp..example",
        "a@.corp.example",
        &format!("a@{}.example", "b".repeat(64)),
        &format!("a@{}", vec!["b".repeat(60); 5].join(".")),
        "a@corp_example.com",
        "a@corp.exam ple",
    ] {
        assert!(EmailAddress::parse(bad).is_err(), "{bad}");
    }
    // A friendly name, a bracket or a quote inside: told so, not only "malformed".
    for friendly in [
        "Jane <jane@corp.example>",
        "a<b@corp.example",
        "a b@corp.example",
        "\"a\"@corp.example",
    ] {
        assert!(
            EmailAddress::parse(friendly)
                .unwrap_err()
                .contains("without friendly name"),
            "{friendly}"
        );
    }
    assert!(EmailAddress::parse(&format!("{}@corp.example", "a".repeat(64))).is_ok());
    assert!(EmailAddress::parse(&format!("a@{}.example", "b".repeat(63))).is_ok());
}

#[test]
fn mail_message_ids_must_be_ascii_without_control_characters() {
    for id in ["<caf\u{e9}@corp.example>", "<a\tb@corp.example>"] {
        refused(
            mail_push(message(json!({ "message_id": id }))).unwrap_err(),
            ErrorCode::InvalidMailObject,
            "'message.message_id' must be an ASCII string without control characters",
        );
    }
    assert!(mail_push(message(json!({"message_id": "<plain@corp.example>"}))).is_ok());
}

#[test]
fn mail_strings_and_lists_are_bounded_on_their_limits() {
    assert_eq!(limits::MAX_SUBJECT_BYTES, 4096);
    assert_eq!(limits::MAX_MAIL_ITEMS, 1000);
    assert!(mail_push(message(json!({"subject": "s".repeat(4096)}))).is_ok());
    refused(
        mail_push(message(json!({"subject": "s".repeat(4097)}))).unwrap_err(),
        ErrorCode::InvalidMailObject,
        "'message.subject' must be at most 4096 bytes long (it is 4097)",
    );
    let recipients =
        |n: usize| -> Vec<String> { (0..n).map(|i| format!("r{i}@corp.example")).collect() };
    assert!(mail_push(message(json!({ "recipients": recipients(1000) }))).is_ok());
    refused(
        mail_push(message(json!({ "recipients": recipients(1001) }))).unwrap_err(),
        ErrorCode::InvalidMailObject,
        "'message.recipients' must list at most 1000 items (it lists 1001)",
    );
    // An empty subject is a subject; other empty strings are absent.
    assert!(mail_push(message(json!({"subject": ""}))).is_ok());
    refused(
        mail_push(message(json!({"sender": "  "}))).unwrap_err(),
        ErrorCode::InvalidMailObject,
        "'message.sender' is required",
    );
    refused(
        mail_push(json!({"message": message(json!({}))["message"], "extra": 1})).unwrap_err(),
        ErrorCode::InvalidMailObject,
        "'extra' is not a known key; expected one of:",
    );
}

#[test]
fn mail_attachments_sizes_urls_and_task_uuids() {
    let with = |extra: serde_json::Value| {
        let mut m = message(json!({}));
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        mail_push(m)
    };
    let event = with(json!({
        "attachments": [
            {"filename": "a.exe", "size": 3, "task_uuid": TASK},
            {"filename": "b.txt", "size": " 7 "}
        ],
        "urls": [{"url": "https://x.example/a?b=c", "task_uuid": TASK.to_uppercase()}]
    }))
    .unwrap()
    .event;
    let Event::Mail(m) = &event else {
        panic!("{event:?}")
    };
    assert_eq!(m.attachments[0].size, 3);
    assert_eq!(m.attachments[1].size, 7);
    assert_eq!(event.task_uuids().len(), 2);
    assert_eq!(event.task_uuids()[0].to_string(), TASK);
    for size in [json!(-1), json!(1.5), json!("x"), json!("-2"), json!(true)] {
        refused(
            with(json!({"attachments": [{"filename": "a", "size": size}]})).unwrap_err(),
            ErrorCode::InvalidMailObject,
            "'attachments[0].size'",
        );
    }
    refused(
        with(json!({"attachments": [{"filename": "a", "size": 1, "task_uuid": "12"}]}))
            .unwrap_err(),
        ErrorCode::InvalidMailObject,
        "'attachments[0].task_uuid' must be 32 hexadecimal characters",
    );
    for url in ["not a url", "https://caf\u{e9}.example/", "relative/path"] {
        refused(
            with(json!({ "urls": [{ "url": url }] })).unwrap_err(),
            ErrorCode::InvalidMailObject,
            "'urls[0].url' must be an absolute ASCII URL",
        );
    }
}

#[test]
fn a_sensor_key_is_two_non_empty_safe_parts() {
    assert_eq!(
        NetworkSelection::parse_key("key", " AK-1_x:SK_2-b ").unwrap(),
        NetworkSelection::SensorKey {
            access_key: "AK-1_x".into(),
            subkey: "SK_2-b".into()
        }
    );
    let longest = format!("{}:{}", "A".repeat(128), "S".repeat(128));
    assert!(NetworkSelection::parse_key("key", &longest).is_ok());
    for bad in [
        "AK",
        ":SK",
        "AK:",
        "A K:SK",
        "AK:S K",
        "AK:SK:X",
        "A/K:SK",
        "AK:S.K",
        "AK:S\u{e9}",
        &format!("{}:S", "A".repeat(129)),
        &format!("A:{}", "S".repeat(129)),
    ] {
        refused(
            NetworkSelection::parse_key("key", bad).unwrap_err(),
            ErrorCode::InvalidParameter,
            "'key'",
        );
    }
}

#[test]
fn key_or_key_id_with_subkey_id_exactly() {
    let by_ids = push(
        EventKind::Ioc,
        &ioc(&[("key", ""), ("key_id", "3"), ("subkey_id", "4")]),
    )
    .unwrap();
    assert_eq!(
        by_ids.network,
        NetworkSelection::Ids {
            key_id: 3,
            subkey_id: 4
        }
    );
    refused(
        push(EventKind::Ioc, &ioc(&[("key_id", "3")])).unwrap_err(),
        ErrorCode::ConflictingParameters,
        "either 'key' or 'key_id'",
    );
    refused(
        push(EventKind::Ioc, &ioc(&[("subkey_id", "3")])).unwrap_err(),
        ErrorCode::ConflictingParameters,
        "either 'key' or 'key_id'",
    );
    refused(
        push(EventKind::Ioc, &ioc(&[("key", ""), ("key_id", "3")])).unwrap_err(),
        ErrorCode::MissingParameter,
        "'subkey_id'",
    );
    refused(
        push(EventKind::Ioc, &ioc(&[("key", ""), ("subkey_id", "3")])).unwrap_err(),
        ErrorCode::MissingParameter,
        "'key_id'",
    );
    refused(
        push(EventKind::Ioc, &ioc(&[("key", "")])).unwrap_err(),
        ErrorCode::MissingParameter,
        "'key'",
    );
}

#[test]
fn ioc_check_times_must_not_run_backwards() {
    let same = push(
        EventKind::Ioc,
        &ioc(&[
            ("check_time_start", "1700000000"),
            ("check_time_end", "1700000000"),
        ]),
    )
    .unwrap();
    assert_eq!(
        same.event.occurred_at().unwrap().millis(),
        1_700_000_000_000
    );
    let later = push(
        EventKind::Ioc,
        &ioc(&[
            ("check_time_start", "1700000000"),
            ("check_time_end", "1700000001"),
        ]),
    )
    .unwrap();
    assert_eq!(
        later.event.occurred_at().unwrap().millis(),
        1_700_000_001_000,
        "the end, when given"
    );
    refused(
        push(
            EventKind::Ioc,
            &ioc(&[
                ("check_time_start", "1700000001"),
                ("check_time_end", "1700000000"),
            ]),
        )
        .unwrap_err(),
        ErrorCode::InvalidParameter,
        "'check_time_end'",
    );
    let start_only = push(EventKind::Ioc, &ioc(&[("check_time_start", "1700000000")])).unwrap();
    assert_eq!(
        start_only.event.occurred_at().unwrap().millis(),
        1_700_000_000_000
    );
}

#[test]
fn events_name_their_hosts_normalised_and_once() {
    let e = push(
        EventKind::Ioc,
        &ioc(&[
            ("main_ipv6", "FE80::1"),
            ("netbios_name", "ws-09"),
            ("ioc_uuid", "0B3C7E8A-2F55-4D3E-9A51-2D1F7C9E6B10"),
            ("hostname", "WS-09.Corp.Example"),
        ]),
    )
    .unwrap()
    .event;
    assert_eq!(
        e.hosts(),
        ["10.0.0.9", "fe80::1", "ws-09", "ws-09.corp.example"]
    );
    // One machine named four ways.
    assert_eq!(e.machines(), [e.hosts()]);
    assert_eq!(
        e.group_keys(),
        [(
            GroupBy::IocUuid,
            "0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10".to_owned()
        )]
    );
    assert!(e.task_uuids().is_empty());
    let d = push(
        EventKind::FileDownload,
        &download(&[
            ("src_hostname", "PC-1.corp.example"),
            ("download_time", "1700000000"),
        ]),
    )
    .unwrap()
    .event;
    assert_eq!(d.hosts(), ["10.0.0.5", "pc-1.corp.example"]);
    assert_eq!(d.machines(), [d.hosts()]);
    assert!(d.group_keys().is_empty());
    assert_eq!(d.occurred_at().unwrap().millis(), 1_700_000_000_000);
    assert_eq!(d.task_uuids()[0].to_string(), TASK);
    let m = mail_push(message(
        json!({"recipients": ["B@Corp.Example", "b@corp.example", "a@x.example"],
               "sender": "Boss@Corp.Example"}),
    ))
    .unwrap()
    .event;
    assert_eq!(m.hosts(), ["a@x.example", "b@corp.example"]);
    // Each recipient is a mailbox of its own.
    assert_eq!(m.machines(), [["a@x.example"], ["b@corp.example"]]);
    assert_eq!(
        m.group_keys(),
        [(GroupBy::MailSender, "boss@corp.example".to_owned())]
    );
}

#[test]
fn a_download_waits_for_its_task_and_a_mail_happened_when_received() {
    let d = push(EventKind::FileDownload, &download(&[])).unwrap().event;
    // Nothing in a download says how bad it is: its task's score will.
    assert_eq!(d.base_impact(), None);
    assert_eq!(d.action(), None);
    let m = mail_push(message(
        json!({"received_timestamp": "2026-11-28 10:00:00"}),
    ))
    .unwrap()
    .event;
    assert_eq!(
        m.occurred_at().unwrap().to_string(),
        "2026-11-28T10:00:00.000Z"
    );
}

#[test]
fn an_ioc_is_refused_without_any_main_address() {
    refused(
        push(EventKind::Ioc, &ioc(&[("main_ipv4", "")])).unwrap_err(),
        ErrorCode::MissingParameter,
        "'main_ipv4'",
    );
    assert!(push(
        EventKind::Ioc,
        &ioc(&[("main_ipv4", ""), ("main_ipv6", "::1")])
    )
    .is_ok());
}

#[test]
fn a_download_needs_a_destination_and_protocol_parameters_only_with_their_protocol() {
    refused(
        push(EventKind::FileDownload, &download(&[("dst_ip", "")])).unwrap_err(),
        ErrorCode::MissingParameter,
        "'dst_ip'",
    );
    assert!(push(
        EventKind::FileDownload,
        &download(&[("dst_ip", ""), ("dst_hostname", "peer.example")])
    )
    .is_ok());
    assert!(push(
        EventKind::FileDownload,
        &download(&[("dst_hostname", "peer.example")])
    )
    .is_ok());
    refused(
        push(
            EventKind::FileDownload,
            &download(&[("ftp_mode", "active")]),
        )
        .unwrap_err(),
        ErrorCode::ConflictingParameters,
        "'ftp_mode' is only allowed with application_protocol FTP",
    );
    assert!(push(
        EventKind::FileDownload,
        &download(&[("application_protocol", "FTP"), ("ftp_mode", "active")])
    )
    .is_ok());
}

#[test]
fn repeated_parameters_and_unknown_names() {
    let spec = EventKind::Ioc.method();
    let same_twice = form(&[("tool_name", "A"), ("tool_name", "A")]);
    let r = ParamReader::new(spec, &same_twice).unwrap();
    assert!(r.has("tool_name"));
    assert!(!r.has("vendor_name"));
    refused(
        ParamReader::new(spec, &form(&[("tool_name", "A"), ("tool_name", "B")]))
            .err()
            .unwrap(),
        ErrorCode::ConflictingParameters,
        "'tool_name' was given more than once",
    );
    // An empty repeat is no second value.
    assert!(ParamReader::new(spec, &form(&[("tool_name", "A"), ("tool_name", "")])).is_ok());
    for (typo, meant) in [
        ("tool_nam", "tool_name"),
        ("toool_nme", "tool_name"),
        ("hostnmae", "hostname"),
    ] {
        refused(
            ParamReader::new(spec, &form(&[(typo, "x")])).err().unwrap(),
            ErrorCode::UnknownParameter,
            &format!("did you mean '{meant}'"),
        );
    }
    // Three edits away is no typo.
    let e = ParamReader::new(spec, &form(&[("txxl_nxme", "x")]))
        .err()
        .unwrap();
    assert_eq!(e.code, ErrorCode::UnknownParameter);
    assert!(!e.message.contains("did you mean"), "{e}");
    assert!(e.message.contains("expected one of: "), "{e}");
}

#[test]
fn received_pairs_are_bounded_by_count_and_name_length() {
    let mut p = FormParams::default();
    assert!(p.is_empty());
    for i in 0..limits::MAX_FIELDS {
        p.push_received(format!("n{i}"), "v".into()).unwrap();
    }
    assert!(!p.is_empty());
    assert_eq!(p.pairs().len(), 256);
    refused(
        p.push_received("one_more".into(), "v".into()).unwrap_err(),
        ErrorCode::MalformedRequest,
        "more than 256 parameters",
    );
    let mut p = FormParams::default();
    p.push_received("a".repeat(64), "v".into()).unwrap();
    refused(
        p.push_received("a".repeat(65), "v".into()).unwrap_err(),
        ErrorCode::UnknownParameter,
        "64 bytes at most",
    );
    let mut p = FormParams::default();
    p.push("name", "value");
    assert_eq!(p.pairs(), [("name".to_string(), "value".to_string())]);
}

#[test]
fn value_limits_per_kind() {
    assert_eq!(limits::max_value_bytes(ParamKind::Text), 4096);
    assert_eq!(limits::max_value_bytes(ParamKind::Json), 1_048_576);
    // A comment of 10,000 characters of up to 4 bytes each.
    assert_eq!(limits::max_value_bytes(ParamKind::Note), 40_000);
    assert_eq!(
        ParamKind::Note.expected(),
        "a non-empty text (line breaks allowed)"
    );
    assert_eq!(limits::MAX_LOGIN_BODY_BYTES, 16_384);
    assert_eq!(limits::MAX_URL_BYTES, 8192);
    assert_eq!(limits::MAX_FIELDS, 256);
    assert_eq!(limits::MAX_NAME_BYTES, 64);
}

#[test]
fn names_of_kinds_formats_and_hosts() {
    for (kind, name, path) in [
        (
            EventKind::FileDownload,
            "file_download",
            "push_detection/file_capture/push_file_download",
        ),
        (EventKind::Ioc, "ioc", "push_detection/ioc/push_result"),
        (
            EventKind::Mail,
            "mail",
            "push_detection/mail_capture/push_mail",
        ),
    ] {
        assert_eq!(kind.as_str(), name);
        assert_eq!(kind.to_string(), name);
        assert_eq!(EventKind::from_name(name), Some(kind));
        assert_eq!(kind.method().path, path);
    }
    assert_eq!(EventKind::from_name("incident"), None);
    assert_eq!(
        pushdetect_model::method::PUSH_IOC_RESULT_SPEC_URL.path,
        "push_detection/push_result"
    );
    assert_eq!(Format::Json.suffix(), "json");
    assert_eq!(Format::Xml.suffix(), "xml");
    assert_eq!(Format::Json.content_type(), "application/json");
    assert_eq!(Format::Xml.content_type(), "application/xml; charset=utf-8");
    assert_eq!(HostKind::of("10.0.0.1").as_str(), "address");
    assert_eq!(HostKind::of("fe80::1").as_str(), "address");
    assert_eq!(HostKind::of("ws-01.corp.example").as_str(), "name");
    assert_eq!(HostKind::of("a@corp.example").as_str(), "mailbox");
    assert_eq!(ParamKind::Port.expected(), "a port number from 0 to 65535");
    assert_eq!(ParamKind::Bool.expected(), "True or False");
}

#[test]
fn parameter_groups_of_the_download_method() {
    let spec = EventKind::FileDownload.method();
    for (name, group) in [
        ("http_user_agent", Some("HTTP")),
        ("ftp_mode", Some("FTP")),
        ("smb_direction", Some("SMB")),
        ("src_ip", None),
    ] {
        let p = spec.param(name).unwrap();
        assert_eq!(p.group, group, "{name}");
    }
}

#[test]
fn xml_element_names_are_made_safe() {
    let xml = envelope::to_xml(&json!({"ok_name-1.x": 1, "bad name/x": 2, "9lives": 3}));
    assert!(xml.contains("<ok_name-1.x>1</ok_name-1.x>"), "{xml}");
    assert!(xml.contains("<bad_name_x>2</bad_name_x>"), "{xml}");
    assert!(xml.contains("<_9lives>3</_9lives>"), "{xml}");
}

#[test]
fn errors_print_with_their_code() {
    let e = ApiError::invalid("src_port", "a port number from 0 to 65535");
    assert_eq!(
        e.to_string(),
        "invalid value for parameter 'src_port': expected a port number from 0 to 65535 (error 2002)"
    );
    let a = AnalystError::new(AnalystCode::InvalidMetadata, "bad");
    assert_eq!(a.to_string(), "bad (error 112)");
    let b = a.clone().before_upload();
    assert!(b.message.starts_with("bad; an upload is read only"), "{b}");
    for (code, number) in [
        (AnalystCode::FileNotAvailable, 101),
        (AnalystCode::TemporarilyUnavailable, 107),
        (AnalystCode::PermissionDenied, 108),
        (AnalystCode::InvalidFileType, 113),
        (AnalystCode::SubmissionLimitExceeded, 115),
        (AnalystCode::InvalidHashAlgorithm, 116),
        (AnalystCode::FileExtractionFailed, 119),
        (AnalystCode::AuthenticationRequired, 122),
        (AnalystCode::InvalidPriority, 124),
    ] {
        assert_eq!(code.number(), number, "{code:?}");
    }
}

#[test]
fn analyst_calls_are_found_by_path_and_check_their_names() {
    let submit = AnalystCall::find("analysis/submit/file").unwrap();
    assert_eq!(submit.path, "analysis/submit/file");
    assert!(submit.changes_state());
    let get = AnalystCall::find("analysis/get").unwrap();
    assert!(!get.changes_state());
    assert!(AnalystCall::find("analysis/nope").is_none());
    assert!(get.check_names(["uuid", "key", "api_token"]).is_ok());
    let e = get.check_names(["uuid", "uudi"]).unwrap_err();
    assert_eq!(e.code, AnalystCode::InvalidMetadata);
    assert!(e.message.contains("'uudi'"), "{e}");
    assert!(e.message.contains("did you mean 'uuid'"), "{e}");
}

/// Lastline's client logs in again and resends after any message holding "Permission
/// denied": a validation error must never say it, or a bad push would be sent twice.
#[test]
fn no_validation_message_says_permission_denied() {
    let mut messages = Vec::new();
    let bases = [
        (EventKind::Ioc, ioc(&[])),
        (EventKind::FileDownload, download(&[])),
        (
            EventKind::Mail,
            with(
                &[
                    ("mail_json_str", "{}"),
                    ("vendor_name", "Acme"),
                    ("tool_name", "Gate"),
                    ("key", "AK:SK"),
                ],
                &[],
            ),
        ),
    ];
    for (kind, base) in &bases {
        for p in kind.method().params {
            for bad in ["", "\u{1}garbage", "-1", "permission", &"x".repeat(5000)] {
                let mut pairs: Vec<(String, String)> =
                    base.iter().filter(|(k, _)| k != p.name).cloned().collect();
                pairs.push((p.name.to_owned(), bad.to_owned()));
                if let Err(e) = push(*kind, &pairs) {
                    messages.push(e);
                }
            }
        }
        let mut unknown = base.clone();
        unknown.push(("permission_denied".into(), "1".into()));
        messages.push(push(*kind, &unknown).unwrap_err());
    }
    assert!(messages.len() > 100, "{}", messages.len());
    for e in messages {
        assert!(
            !e.message.to_lowercase().contains("permission denied"),
            "{e}"
        );
        assert!(
            !matches!(e.code.number(), 3001..=3004),
            "a validation error with a session code: {e}"
        );
    }
}

#[test]
fn event_kinds_are_named_for_type_filters() {
    assert_eq!(
        pushdetect_model::EventKind::names(),
        ["file_download", "ioc", "mail"]
    );
    assert_eq!(
        pushdetect_model::EventKind::expected(),
        "one of file_download, ioc, mail"
    );
}

/// A stored event is rebuilt from its raw parameters (as the store keeps them) by the
/// parser that accepted it, and says in one line what it is about.
#[test]
fn stored_events_are_rebuilt_typed_from_their_raw_parameters() {
    let mail = mail_push(message(json!({"subject": "Invoice"}))).unwrap();
    let cases = [
        (
            EventKind::FileDownload,
            push(EventKind::FileDownload, &download(&[])).unwrap(),
            "/d/x.exe from 203.0.113.7",
        ),
        (
            EventKind::FileDownload,
            push(
                EventKind::FileDownload,
                &download(&[("dst_hostname", "Dl.Example")]),
            )
            .unwrap(),
            "/d/x.exe from dl.example",
        ),
        (
            EventKind::Ioc,
            push(EventKind::Ioc, &ioc(&[("ioc_matched", "False")])).unwrap(),
            "IOC 0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10 from feed: not matched",
        ),
        (
            EventKind::Ioc,
            push(EventKind::Ioc, &ioc(&[])).unwrap(),
            "IOC 0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10 from feed: matched",
        ),
        (EventKind::Mail, mail, "Invoice from a@corp.example"),
    ];
    for (kind, pushed, summary) in cases {
        assert_eq!(pushed.event.summary(), summary);
        // As the store keeps them: a JSON object, a repeated name as an array.
        let raw = match kind {
            EventKind::Mail => {
                json!({"mail_json_str": message(json!({"subject": "Invoice"})).to_string(),
                "vendor_name": "Acme", "tool_name": "Gate", "key": ["AK:SK", "AK:SK"]})
            }
            EventKind::Ioc => pairs_json(&if summary.ends_with("not matched") {
                ioc(&[("ioc_matched", "False")])
            } else {
                ioc(&[])
            }),
            EventKind::FileDownload => pairs_json(&if summary.contains("dl.example") {
                download(&[("dst_hostname", "Dl.Example")])
            } else {
                download(&[])
            }),
        };
        let stored = Event::from_stored(kind, &raw, now()).unwrap();
        assert_eq!(stored, pushed.event, "{kind}");
    }
    // What this version refuses is reported, not guessed.
    let err = Event::from_stored(
        EventKind::Ioc,
        &pairs_json(&ioc(&[("ioc_uuid", "x")])),
        now(),
    )
    .unwrap_err();
    refused(err, ErrorCode::InvalidParameter, "ioc_uuid");
}

fn pairs_json(pairs: &[(String, String)]) -> serde_json::Value {
    FormParams::from_pairs(pairs.iter().cloned()).to_json()
}
