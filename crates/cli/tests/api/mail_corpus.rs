//! Mail that no one here wrote: the test messages mail-parser ships in its package
//! (`resources/eml/`, `resources/maildir/`, read where cargo unpacked it) and CPython's
//! email test data (Debian's `libpython3.11-testsuite`, installed by ./scripts/test.sh),
//! then the malformed header shapes of real phishing mail applied to each of those
//! messages, then hostile structures. Every input gives a mail object or one line saying
//! why not, and none panics. Run with `--nocapture` to see the counts.

use pushdetect_client::mail::{Envelope, Extracted, Extractor, Limits, Unusable};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where Debian's libpython3.11-testsuite puts CPython's email test data.
const CPYTHON_EMAIL_DATA: &str = "/usr/lib/python3.11/test/test_email/data";

/// The directory of the mail-parser package cargo unpacked for this workspace.
fn mail_parser_resources() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_owned());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let manifest = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "mail-parser")
        .expect("mail-parser is a dependency")["manifest_path"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = Path::new(&manifest).parent().unwrap().join("resources");
    assert!(
        dir.join("eml").is_dir(),
        "{} holds mail-parser's test messages",
        dir.display()
    );
    dir
}

fn cpython_data() -> PathBuf {
    let dir = PathBuf::from(CPYTHON_EMAIL_DATA);
    assert!(
        dir.is_dir(),
        "{CPYTHON_EMAIL_DATA} is missing: install Debian's libpython3.11-testsuite \
         (./scripts/test.sh does)"
    );
    dir
}

/// Every file below `dir`, in name order.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walk(dir);
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The messages of the corpus: mail-parser's .eml files and maildir messages, and
/// CPython's msg_*.txt; and the files of CPython's data that are not mail (images, sounds).
fn corpus() -> (Vec<PathBuf>, Vec<PathBuf>) {
    let resources = mail_parser_resources();
    let mut messages: Vec<PathBuf> = files(&resources.join("eml"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    messages.extend(
        files(&cpython_data())
            .into_iter()
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("msg_")),
    );
    let not_mail: Vec<PathBuf> = files(&cpython_data())
        .into_iter()
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with("msg_"))
        .collect();
    (messages, not_mail)
}

fn extractor() -> Extractor {
    Extractor {
        limits: Limits::default(),
        keep_content: false,
    }
}

/// Extracts one input, as analyse-mail does (each message of an mbox), catching a panic
/// so that the one input that causes it is named.
fn extract_all(path: &Path, raw: &[u8]) -> Vec<Result<Extracted, Unusable>> {
    let messages = pushdetect_client::mail::mailbox::Messages::new(raw, u64::MAX);
    let mut out = Vec::new();
    for m in messages {
        let m = m.unwrap();
        let envelope = Envelope {
            mbox_from: m.envelope_from.clone(),
            ..Envelope::default()
        };
        let result = std::panic::catch_unwind(|| {
            extractor().extract(&m.bytes, &envelope, "2026-01-01 00:00:00")
        })
        .unwrap_or_else(|_| panic!("{} made the reader panic", path.display()));
        out.push(result);
    }
    out
}

/// The kind of a refusal, for the counts.
fn kind(e: &Unusable) -> &'static str {
    match e {
        Unusable::NotMail(_) => "not an RFC 5322 message",
        Unusable::TooLarge { .. } => "too large",
        Unusable::NoSender(_) => "no sender",
        Unusable::NoRecipients(_) => "no recipients",
    }
}

#[test]
fn every_corpus_message_gives_a_mail_object_or_one_line() {
    let (messages, not_mail) = corpus();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut read: BTreeMap<String, Extracted> = BTreeMap::new();
    for path in &messages {
        let raw = std::fs::read(path).unwrap();
        for (i, result) in extract_all(path, &raw).into_iter().enumerate() {
            match result {
                Ok(x) => {
                    *counts.entry("mail object").or_default() += 1;
                    let name = path.file_name().unwrap().to_string_lossy();
                    read.insert(format!("{name}#{i}"), x);
                }
                Err(e) => {
                    let line = e.to_string();
                    assert!(
                        !line.contains('\n') && !line.is_empty(),
                        "{}: {line:?}",
                        path.display()
                    );
                    *counts.entry(kind(&e)).or_default() += 1;
                }
            }
        }
    }
    for path in &not_mail {
        let raw = std::fs::read(path).unwrap();
        for result in extract_all(path, &raw) {
            match result {
                Err(Unusable::NotMail(_)) => *counts.entry("non-mail refused").or_default() += 1,
                other => panic!("{} is not mail: {other:?}", path.display()),
            }
        }
    }
    eprintln!(
        "corpus: {} message files, {} other files: {counts:?}",
        messages.len(),
        not_mail.len()
    );
    // mail-parser ships 107 messages (its malformed/ ones are parser stress cases, many
    // without any address header), CPython 47; most are complete messages.
    assert!(messages.len() >= 150, "{}", messages.len());
    assert!(counts["mail object"] >= 100, "{counts:?}");
    assert!(not_mail.len() >= 10 && counts["non-mail refused"] == not_mail.len());
    // A few read in detail: an mbox message whose From is the null sender takes the
    // envelope sender of its From_ line; an encoded subject is decoded; links are found.
    let bounce = &read["msg_43.txt#0"];
    assert_eq!(
        bounce.message.sender.as_str(),
        "SRS0=aO/p=ON=bag.python.org=None@bounce2.pobox.com"
    );
    assert_eq!(bounce.origins.sender.source, "mbox From_ line");
    assert!(read.values().any(|x| x
        .urls
        .iter()
        .any(|u| u == "http://www.zzz.org/mailman/listinfo/ppp")));
}

/// A message's head and body, with its line ending.
fn split(raw: &str) -> Option<(&str, &str, &'static str)> {
    if let Some(i) = raw.find("\r\n\r\n") {
        return Some((&raw[..i], &raw[i + 4..], "\r\n"));
    }
    raw.find("\n\n").map(|i| (&raw[..i], &raw[i + 2..], "\n"))
}

/// Header fields that carry addresses: the variants replace them.
const ADDRESS_FIELDS: &[&str] = &[
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "return-path",
    "delivered-to",
    "x-original-to",
    "envelope-to",
    "resent-from",
    "resent-to",
];

/// The message with its address fields replaced by `fields` (lines joined by `\n`).
fn with_address_fields(raw: &str, fields: &str) -> Option<String> {
    let (head, body, eol) = split(raw)?;
    let mut kept: Vec<&str> = Vec::new();
    let mut dropping = false;
    for line in head.split(eol) {
        let continued = line.starts_with(' ') || line.starts_with('\t');
        if !continued {
            let name = line
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            dropping = ADDRESS_FIELDS.contains(&name.as_str());
        }
        if !dropping {
            kept.push(line);
        }
    }
    let fields = fields.replace('\n', eol);
    Some(format!("{fields}{eol}{}{eol}{eol}{body}", kept.join(eol)))
}

/// What a variant gives: its sender and recipients, or the line refusing it.
type Recovered = Result<(&'static str, &'static [&'static str]), &'static str>;

/// The shapes seen in a public corpus of real phishing mail, and what a reader recovers.
const SHAPES: &[(&str, Recovered)] = &[
    (
        "From: Bon d'achat, <info@ml.example.fr>\nTo: Undisclosed recipients:;\nDelivered-To: phishing@pot",
        Ok(("info@ml.example.fr", &["phishing@pot"])),
    ),
    (
        "From: \"Name\" <x@host.example'>\nTo: phishing@pot",
        Ok(("x@host.example", &["phishing@pot"])),
    ),
    (
        "From: Facebook ,_<a@b.com>\nto: Victim <victim@corp.example>",
        Ok(("a@b.com", &["victim@corp.example"])),
    ),
    (
        "sender: alerts@bank.example\nTO: \"Doe, Jane\" <jane@corp.example>, bob@corp.example",
        Ok(("alerts@bank.example", &["jane@corp.example", "bob@corp.example"])),
    ),
    (
        "From: support@paypal.com <evil@phish.example>\nTo: <@relay.example:user@corp.example>",
        Ok(("evil@phish.example", &["user@corp.example"])),
    ),
    (
        "From: \"x@y.com\"\nTo: [a@b.example], mailto:c@d.example",
        Ok(("x@y.com", &["a@b.example", "c@d.example"])),
    ),
    (
        "From: =?utf-8?b?UGF5UGFsIDxzZXJ2aWNlQHBheXBhbC5leGFtcGxlPg==?=\nCc: audit@corp.example",
        Ok(("service@paypal.example", &["audit@corp.example"])),
    ),
    (
        "From: J\u{f6}rg <j\u{f6}rg@m\u{fc}nchen.example>\nTo: victim@corp.example",
        Ok(("j%C3%B6rg@xn--mnchen-3ya.example", &["victim@corp.example"])),
    ),
    (
        "From: <>\nReturn-Path: <bounce@mailer.example>\nX-Original-To: one@corp.example",
        Ok(("bounce@mailer.example", &["one@corp.example"])),
    ),
    (
        "From: Microsoft Account Team\nEnvelope-To: two@corp.example",
        Err("no sender: no usable address in From, Sender, Return-Path, mbox From_ line \
             (first one: 'Microsoft Account Team'); --mail-from ADDRESS supplies one"),
    ),
    (
        "From: it-desk@corp.example\nTo: Undisclosed recipients:;",
        Err("no recipients: no usable address in To, Cc, Bcc, Delivered-To, X-Original-To, \
             Envelope-To (first one: 'Undisclosed recipients:;'); --rcpt ADDRESS supplies them"),
    ),
];

#[test]
fn malformed_headers_of_real_phishing_applied_to_every_corpus_message() {
    let (messages, _) = corpus();
    let mut variants = 0;
    for path in &messages {
        let raw = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
        if raw.starts_with("From ") {
            continue; // an mbox: its From_ line would be the sender
        }
        // Only messages that read as a whole: the variants change nothing else.
        let base = extractor().extract(raw.as_bytes(), &Envelope::default(), "2026-01-01 00:00:00");
        let Ok(base) = base else { continue };
        for (fields, want) in SHAPES {
            let Some(variant) = with_address_fields(&raw, fields) else {
                continue;
            };
            variants += 1;
            let got = extractor().extract(variant.as_bytes(), &Envelope::default(), "now");
            match (want, got) {
                (Ok((sender, recipients)), Ok(x)) => {
                    assert_eq!(
                        x.message.sender.as_str(),
                        *sender,
                        "{}: {fields}",
                        path.display()
                    );
                    let got: Vec<&str> = x.message.recipients.iter().map(|r| r.as_str()).collect();
                    assert_eq!(got, *recipients, "{}: {fields}", path.display());
                    assert_eq!(x.attachments, base.attachments, "{}", path.display());
                    assert_eq!(x.urls, base.urls, "{}", path.display());
                }
                (Err(line), Err(e)) => assert_eq!(e.to_string(), *line, "{}", path.display()),
                (want, got) => panic!("{}: {fields}: want {want:?}, got {got:?}", path.display()),
            }
        }
    }
    eprintln!("malformed variants: {variants} read as expected");
    assert!(variants >= 100 * SHAPES.len(), "{variants}");
}

#[test]
fn hostile_structures_are_bounded_and_reported() {
    let head = "From: a@b.example\r\nTo: c@d.example\r\n";
    // A message nested 300,000 levels deep: its headers are read, its body is not.
    let mut nested = format!("{head}Content-Type: message/rfc822\r\n\r\n").repeat(300_000);
    nested.push_str(&format!(
        "{head}Subject: leaf\r\n\r\nhttp://leaf.example/\r\n"
    ));
    let x = extractor()
        .extract(nested.as_bytes(), &Envelope::default(), "now")
        .unwrap();
    assert!(
        x.urls.is_empty() && x.cut[0].contains("nested messages"),
        "{:?}",
        x.cut
    );
    // Just below the limit (999 levels), the message is read and dropped on a test
    // thread's 2 MiB stack, as on analyse-mail's reading threads.
    let mut deep = format!("{head}Content-Type: message/rfc822\r\n\r\n").repeat(999);
    deep.push_str(&format!("{head}Subject: leaf\r\n\r\nleaf\r\n"));
    let x = extractor()
        .extract(deep.as_bytes(), &Envelope::default(), "now")
        .unwrap();
    assert!(
        x.cut.iter().any(|c| c.contains("deeper than 8")),
        "{:?}",
        x.cut
    );
    // Nested a few levels: attachments of the first eight levels are read, the rest cut.
    let mut shallow = String::new();
    for level in 0..12 {
        shallow.push_str(&format!(
            "{head}Subject: level {level}\r\nContent-Type: multipart/mixed; boundary=b{level}\r\n\r\n\
             --b{level}\r\nContent-Type: text/plain\r\n\r\nhttp://level{level}.example/\r\n\
             --b{level}\r\nContent-Type: message/rfc822\r\n\r\n"
        ));
    }
    shallow.push_str(&format!("{head}\r\nleaf\r\n"));
    let x = extractor()
        .extract(shallow.as_bytes(), &Envelope::default(), "now")
        .unwrap();
    assert_eq!(x.urls.len(), 8, "{:?}", x.urls);
    assert!(
        x.cut.iter().any(|c| c.contains("deeper than 8")),
        "{:?}",
        x.cut
    );
    // 20,000 parts, 1,000 URLs, a 1 MB header line, NUL bytes, broken base64, and
    // invalid UTF-8: each is read or refused in one line.
    let mut parts = format!("{head}Content-Type: multipart/mixed; boundary=p\r\n\r\n");
    for i in 0..20_000 {
        parts.push_str(&format!(
            "--p\r\nContent-Type: application/octet-stream\r\n\
             Content-Disposition: attachment; filename=f{i}\r\n\r\nx\r\n"
        ));
    }
    let urls: String = (0..1000)
        .map(|i| format!("http://u{i}.example/ "))
        .collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("parts", parts.into_bytes()),
        ("urls", format!("{head}\r\n{urls}").into_bytes()),
        (
            "long header",
            format!("{head}Subject: {}\r\n\r\nx", "A".repeat(1 << 20)).into_bytes(),
        ),
        (
            "nul",
            format!("{head}Subject: a\0b\r\n\r\n\0\0\0").into_bytes(),
        ),
        (
            "base64",
            format!("{head}Content-Transfer-Encoding: base64\r\n\r\n%%%=@@@=").into_bytes(),
        ),
        (
            "utf-8",
            [head.as_bytes(), b"Subject: \xff\xfe\xc3\r\n\r\n\xff"].concat(),
        ),
    ];
    for (name, raw) in cases {
        match extractor().extract(&raw, &Envelope::default(), "now") {
            Ok(x) => {
                if name == "parts" {
                    assert_eq!(x.attachments.len(), 100);
                    assert_eq!(x.cut, ["19900 attachment(s) beyond the limit of 100"]);
                }
                if name == "urls" {
                    assert_eq!(x.urls.len(), 100);
                    assert!(x.cut[0].starts_with("900 URL(s) beyond"), "{:?}", x.cut);
                }
            }
            Err(e) => assert!(!e.to_string().contains('\n'), "{name}: {e}"),
        }
    }
}

#[tokio::test]
async fn extract_only_reads_the_corpus_directories_without_a_server() {
    let resources = mail_parser_resources();
    let dirs = [resources.join("eml"), cpython_data()];
    let expected: usize = dirs
        .iter()
        .flat_map(|d| files(d))
        .map(|p| {
            pushdetect_client::mail::mailbox::Messages::new(
                std::fs::read(&p).unwrap().as_slice(),
                u64::MAX,
            )
            .count()
        })
        .sum();
    let home = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_pushdetect"))
        .arg("analyse-mail")
        .arg("--extract-only")
        .arg("--json")
        .args(&dirs)
        .env("HOME", home.path())
        .env_remove("PAPI_URL")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "some files are not mail");
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (summary, objects) = lines.split_last().unwrap();
    assert_eq!(objects.len(), expected);
    let read = objects.iter().filter(|o| o.get("mail").is_some()).count();
    let refused = objects.iter().filter(|o| o.get("error").is_some()).count();
    assert_eq!(read + refused, expected);
    assert_eq!(summary["summary"]["messages"], expected);
    assert_eq!(summary["summary"]["extracted"], read);
    assert_eq!(summary["summary"]["failed"], refused);
    for o in objects.iter().filter(|o| o.get("mail").is_some()) {
        for a in o["mail"]["attachments"].as_array().unwrap() {
            assert_eq!(a["sha256"].as_str().unwrap().len(), 64, "{o}");
        }
    }
    eprintln!("extract-only: {read} mail objects, {refused} refused of {expected} inputs");
}
