//! analyse-mail and analyse-file as a user runs them on real-world input: malformed
//! headers recovered, mbox files, directories and standard input read, items analysed once
//! per run and reused across runs, JSON output and its summary.

use crate::commands::{eml, events, run, write_ini, DOWNLOAD_FLAGS, EICAR};
use crate::support::*;
use serde_json::Value;
use std::path::Path;

/// EICAR's SHA-256, as published.
pub(crate) const EICAR_SHA256: &str =
    "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

/// A multipart body with EICAR attached under `name`, and `text` as its text part.
fn with_eicar(name: &str, text: &str) -> String {
    format!(
        "Content-Type: multipart/mixed; boundary=b1\n\n--b1\nContent-Type: text/html; charset=utf-8\n\n\
         {text}\n--b1\nContent-Type: application/octet-stream\n\
         Content-Disposition: attachment; filename={name}\n\n{EICAR}\n--b1--\n"
    )
}

/// Analysis tasks of the first license.
async fn tasks(app: &TestApp) -> usize {
    let license = app.creds.key_id;
    let done = app
        .store
        .completed_tasks(license, 0, i64::MAX, 100_000)
        .await
        .unwrap();
    let pending = app
        .store
        .pending_tasks(license, 0, i64::MAX, 100_000)
        .await
        .unwrap();
    done.len() + pending.len()
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[tokio::test]
async fn malformed_real_world_headers_are_recovered_and_pushed() {
    let app = TestApp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ini = write_ini(dir.path(), &app, &app.base, "license");
    let messages = [
        (
            "comma.eml",
            eml(
                "From: Bon d'achat, <info@ml.example.fr>\nTo: Undisclosed recipients:;\n\
                 Delivered-To: phishing@pot\nSubject: Votre bon\nMessage-ID: <c1@ml.example.fr>\n",
                &with_eicar("bon.com", "<p>Bonjour</p>"),
            ),
        ),
        (
            "idn.eml",
            eml(
                "sender: Bank <alerts@b\u{e4}nk.example>\nTO: \"Doe, Jane\" <jane@corp.example>\n\
                 Subject: Konto\nMessage-ID: <c2@bank.example>\n",
                &with_eicar(
                    "konto.com",
                    "<a href=\"https://b\u{e4}nk.example/anmelden?n\u{e4}me=j\u{f6}rg\">Anmelden</a>",
                ),
            ),
        ),
        (
            "nobody.eml",
            eml(
                "From: it-desk@corp.example\nSubject: Password expiry\nMessage-ID: <c3@corp.example>\n",
                &with_eicar("reset.com", "reset now"),
            ),
        ),
    ];
    let mut args = vec!["analyse-mail".to_owned(), "--verbose".to_owned()];
    for (name, text) in &messages {
        std::fs::write(dir.path().join(name), text).unwrap();
        args.push(dir.path().join(name).display().to_string());
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run(&ini, &argv, None).await;
    assert_ne!(r.code, 0, "one message has no recipients");
    // The refusal names what is missing and the flag that supplies it.
    let refused: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("nobody.eml:"))
        .collect();
    assert_eq!(refused.len(), 1, "{}", r.stderr);
    assert!(
        refused[0].contains("no recipients: the message has none of To, Cc, Bcc, Delivered-To")
            && refused[0].ends_with("--rcpt ADDRESS supplies them"),
        "{}",
        refused[0]
    );
    // --verbose says where each address came from.
    assert!(
        r.stderr
            .contains("comma.eml: recipient phishing@pot from Delivered-To"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("idn.eml: sender alerts@xn--bnk-qla.example from Sender"),
        "{}",
        r.stderr
    );
    assert!(r
        .stdout
        .contains("comma.eml: 1 attachment(s), 0 URL(s), highest score 100"));
    // --rcpt supplies the recipients of the third.
    let nobody = dir.path().join("nobody.eml");
    let r = run(
        &ini,
        &[
            "analyse-mail",
            nobody.to_str().unwrap(),
            "--rcpt",
            "soc@corp.example",
        ],
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mails: Vec<Value> = events(&app)
        .await
        .iter()
        .map(|e| e["fields"].clone())
        .collect();
    assert_eq!(mails.len(), 3);
    let by_id = |id: &str| {
        mails
            .iter()
            .find(|m| m["message"]["message_id"] == id)
            .unwrap_or_else(|| panic!("{id}: {mails:?}"))
            .clone()
    };
    let comma = by_id("c1@ml.example.fr");
    assert_eq!(comma["message"]["sender"], "info@ml.example.fr");
    assert_eq!(
        comma["message"]["recipients"],
        serde_json::json!(["phishing@pot"])
    );
    assert_eq!(comma["action"], "BLOCK");
    let idn = by_id("c2@bank.example");
    assert_eq!(idn["message"]["sender"], "alerts@xn--bnk-qla.example");
    assert_eq!(
        idn["urls"][0]["url"],
        "https://xn--bnk-qla.example/anmelden?n%C3%A4me=j%C3%B6rg"
    );
    let nobody = by_id("c3@corp.example");
    assert_eq!(
        nobody["message"]["recipients"],
        serde_json::json!(["soc@corp.example"])
    );
}

/// Runs the binary with no configuration at all (no papi_client.ini, no PAPI_* variables).
async fn run_without_config(args: &[&str], stdin: &str, home: &Path) -> (i32, String, String) {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_pushdetect"))
        .args(args)
        .env("HOME", home)
        .env_remove("PAPI_URL")
        .env_remove("ANALYSIS_URL")
        .current_dir(home)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = child.wait_with_output().await.unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn extract_only_reads_directories_mbox_files_and_stdin_without_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let mail = dir.path().join("mail");
    std::fs::create_dir_all(mail.join("2026/11")).unwrap();
    std::fs::write(
        mail.join("2026/11/one.eml"),
        eml(
            "From: a@b.example\nTo: c@d.example\nSubject: one\n",
            &with_eicar("x.com", "<a href='http://one.example/?a=1&amp;b=2'>x</a>"),
        ),
    )
    .unwrap();
    let mbox = "From alice@relay.example Mon Jan  1 00:00:00 2024\n\
                Subject: no From header\nTo: bob@corp.example\n\nsee www.two.example/x\n\n\
                From carol@relay.example Tue Jan  2 00:00:00 2024\n\
                From: carol@corp.example\nTo: dan@corp.example\n\n>From the archive\n";
    std::fs::write(mail.join("archive.mbox"), mbox).unwrap();
    std::fs::write(mail.join("eicar.com"), EICAR).unwrap();
    let stdin = eml("From: in@stdin.example\nTo: out@corp.example\n", "\nbody\n");
    let (code, stdout, stderr) = run_without_config(
        &[
            "analyse-mail",
            "--extract-only",
            mail.to_str().unwrap(),
            "-",
        ],
        &stdin,
        dir.path(),
    )
    .await;
    assert_eq!(code, 1, "the EICAR file is not mail: {stderr}");
    let lines = json_lines(&stdout);
    let names: Vec<String> = lines
        .iter()
        .map(|l| {
            l["file"]
                .as_str()
                .unwrap()
                .trim_start_matches(&mail.display().to_string())
                .to_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "/2026/11/one.eml",
            "/archive.mbox#1",
            "/archive.mbox#2",
            "/eicar.com",
            "-"
        ]
    );
    let one = &lines[0]["mail"];
    assert_eq!(one["attachments"][0]["sha256"], EICAR_SHA256);
    assert_eq!(one["attachments"][0]["filename"], "x.com");
    assert_eq!(one["urls"][0]["url"], "http://one.example/?a=1&b=2");
    let first = &lines[1];
    assert_eq!(first["mail"]["message"]["sender"], "alice@relay.example");
    assert_eq!(first["origins"]["sender"]["source"], "mbox From_ line");
    assert_eq!(first["mail"]["urls"][0]["url"], "http://www.two.example/x");
    assert_eq!(lines[2]["mail"]["message"]["sender"], "carol@corp.example");
    assert!(
        lines[3]["error"]
            .as_str()
            .unwrap()
            .starts_with("not an RFC 5322 message"),
        "{}",
        lines[3]
    );
    assert_eq!(lines[4]["mail"]["message"]["sender"], "in@stdin.example");
    assert!(
        stderr.contains("5 message(s)") && stderr.contains("4 read, 1 refused"),
        "{stderr}"
    );
}

#[tokio::test]
async fn each_item_is_analysed_once_per_run_and_reused_by_hash_across_runs() {
    let app = TestApp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ini = write_ini(dir.path(), &app, &app.base, "license");
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    // Twenty messages: one attachment and two URLs in common, one URL each of their own.
    for i in 0..20 {
        let text = format!(
            "<a href='http://shared.example/a'>a</a> http://shared.example/b \
             <img src='http://203.0.113.{i}:4444/setup.exe'>"
        );
        let head = format!("From: s{i}@phish.example\nTo: v{i}@corp.example\nSubject: m{i}\n");
        std::fs::write(
            inbox.join(format!("m{i:02}.eml")),
            eml(&head, &with_eicar("p.com", &text)),
        )
        .unwrap();
    }
    let dir_arg = inbox.to_str().unwrap();
    let args = [
        "analyse-mail",
        "--dry-run",
        "--json",
        "--concurrency",
        "8",
        dir_arg,
    ];
    let r = run(&ini, &args, None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines = json_lines(&r.stdout);
    let (summary, messages) = lines.split_last().unwrap();
    assert_eq!(messages.len(), 20);
    for m in messages {
        assert_eq!(m["highest_score"], 100, "{m}");
        assert_eq!(m["pushed"], false);
        assert_eq!(m["above_threshold"], true);
        assert_eq!(m["items"].as_array().unwrap().len(), 4, "{m}");
        assert_eq!(m["mail"]["action"], "BLOCK");
    }
    let s = &summary["summary"];
    assert_eq!(
        (s["messages"].as_u64(), s["would_push"].as_u64()),
        (Some(20), Some(20))
    );
    assert_eq!(
        (s["attachments"].as_u64(), s["urls"].as_u64()),
        (Some(20), Some(60))
    );
    // One task for the attachment, two for the shared URLs, one per message's own URL.
    assert_eq!(tasks(&app).await, 23);
    assert_eq!(app.event_count().await, 0, "a dry run pushes nothing");
    // Again: everything is reused (the attachment by the hash query, the URLs by the
    // server's result of the same URL); nothing is submitted.
    let r = run(&ini, &args, None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let summary = json_lines(&r.stdout).pop().unwrap();
    assert_eq!(summary["summary"]["reused"], 80, "{summary}");
    assert_eq!(tasks(&app).await, 23);
    // And for real: each message is pushed once, still with no new task.
    let r = run(&ini, &["analyse-mail", dir_arg], None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout.lines().filter(|l| l.ends_with("; pushed")).count(),
        20
    );
    assert!(
        r.stderr.contains("20 message(s)") && r.stderr.contains("20 pushed"),
        "{}",
        r.stderr
    );
    assert_eq!(app.event_count().await, 20);
    assert_eq!(tasks(&app).await, 23);
}

#[tokio::test]
async fn analyse_file_reads_directories_with_recursive() {
    let app = TestApp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ini = write_ini(dir.path(), &app, &app.base, "license");
    let captured = dir.path().join("captured");
    std::fs::create_dir_all(captured.join("sub")).unwrap();
    std::fs::write(captured.join("sub/eicar.com"), EICAR).unwrap();
    std::fs::write(captured.join("notes.txt"), "lunch").unwrap();
    let mut args = vec!["analyse-file", captured.to_str().unwrap()];
    args.extend_from_slice(DOWNLOAD_FLAGS);
    let r = run(&ini, &args, None).await;
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .contains("is a directory; --recursive reads the files below it"),
        "{}",
        r.stderr
    );
    args.push("--recursive");
    let r = run(&ini, &args, None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows: Vec<&str> = r.stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{}", r.stdout);
    assert!(
        rows[0].contains("notes.txt") && rows[0].ends_with("no"),
        "{}",
        r.stdout
    );
    assert!(
        rows[1].contains("sub/eicar.com")
            && rows[1].contains(EICAR_SHA256)
            && rows[1].ends_with("yes"),
        "{}",
        r.stdout
    );
    assert_eq!(events(&app).await.len(), 1);
}
