//! The fuzz targets of pushdetect, as plain functions of the input bytes.
//!
//! `cargo +nightly fuzz run NAME` drives them with libFuzzer (fuzz_targets/), and the test
//! suite drives the same functions on stable with mutations of the corpora in
//! `fuzz/corpus/` (crates/cli/tests/api/fuzz_smoke.rs), so a short run happens on every
//! test run. Each target checks a property, not only that nothing panics.

use pushdetect_analysis::archive::{walk, ArchiveLimits};
use pushdetect_client::mail::{Envelope, Extractor, Limits};
use pushdetect_model::envelope::{render, success};
use pushdetect_model::{EventKind, FormParams, Format, PushRequest, Timestamp};
use serde_json::{json, Value};

/// A fuzz target: checks its property on one input, panicking when it does not hold.
pub type Target = fn(&[u8]);

/// The targets by name, as `fuzz/corpus/NAME` and `cargo fuzz run NAME` know them.
pub const TARGETS: &[(&str, Target)] = &[
    ("form", form),
    ("mail_json", mail_json),
    ("mime", mime),
    ("xml", xml),
    ("zip", zip),
];

fn now() -> Timestamp {
    Timestamp::from_millis(1_700_000_000_000)
}

/// A request body as each push method reads it: parsed or refused with an error that
/// names what is wrong in a bounded message.
pub fn form(data: &[u8]) {
    let mut params = FormParams::default();
    if let Err(e) = params.push_urlencoded(data) {
        assert!(
            e.message.len() < 4096,
            "unbounded message: {}",
            e.message.len()
        );
        return;
    }
    for kind in [EventKind::FileDownload, EventKind::Ioc, EventKind::Mail] {
        match PushRequest::parse(kind, &params, now()) {
            Ok(_) => {}
            Err(e) => assert!(e.message.len() < 4096, "unbounded message"),
        }
    }
    // The canonical form of a push does not depend on the order of its fields.
    let mut reversed = FormParams::default();
    for (k, v) in params.pairs().iter().rev() {
        reversed.push(k.clone(), v.clone());
    }
    assert_eq!(params.canonical(), reversed.canonical());
}

/// `mail_json_str` as push_mail reads it.
pub fn mail_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let params = FormParams::from_pairs([
        ("mail_json_str", text),
        ("vendor_name", "Fuzz"),
        ("tool_name", "Fuzz"),
        ("key", "k:s"),
    ]);
    let _ = PushRequest::parse(EventKind::Mail, &params, now());
}

/// A message as analyse-mail reads it: whatever it extracts, the server accepts as a
/// mail object.
pub fn mime(data: &[u8]) {
    let extractor = Extractor {
        limits: Limits::default(),
        keep_content: false,
    };
    let Ok(extracted) = extractor.extract(data, &Envelope::default(), "2024-01-01 00:00:00") else {
        return;
    };
    let object = json!({
        "message": extracted.message,
        "attachments": extracted.attachments.iter()
            .map(|a| json!({"filename": a.filename, "size": a.size}))
            .collect::<Vec<_>>(),
        "urls": extracted.urls.iter().map(|u| json!({"url": u})).collect::<Vec<_>>(),
    });
    let text = object.to_string();
    let params = FormParams::from_pairs([
        ("mail_json_str", text.as_str()),
        ("vendor_name", "Fuzz"),
        ("tool_name", "Fuzz"),
        ("key", "k:s"),
    ]);
    if let Err(e) = PushRequest::parse(EventKind::Mail, &params, now()) {
        panic!(
            "the server refuses what analyse-mail extracted: {}",
            e.message
        );
    }
}

/// Any JSON value as an answer: the XML is well-formed and the JSON reads back the same.
pub fn xml(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let envelope = success(value);
    let written = render(&envelope, Format::Xml);
    assert!(
        written.chars().all(pushdetect_model::envelope::is_xml_char),
        "a character XML cannot hold: {written:?}"
    );
    let mut reader = quick_xml::Reader::from_str(&written);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("ill-formed XML ({e}): {written}"),
        }
    }
    let json = render(&envelope, Format::Json);
    assert_eq!(serde_json::from_str::<Value>(&json).ok(), Some(envelope));
}

/// An archive as the analysis opens it: the bytes expanded stay within the budget.
pub fn zip(data: &[u8]) {
    let limits = ArchiveLimits {
        max_expanded_bytes: 8 * 1024 * 1024,
        ..ArchiveLimits::default()
    };
    let mut budget = limits.max_expanded_bytes;
    let mut seen: u64 = 0;
    let _ = walk(
        data,
        "fuzz.zip",
        1,
        &limits,
        &mut budget,
        &mut |content, _, depth| {
            assert!(depth <= limits.max_depth + 1, "opened too deep");
            seen += content.len() as u64;
        },
    );
    assert!(seen <= limits.max_expanded_bytes, "expanded {seen} bytes");
}
