//! The client spool: `--spool DIR` keeps what cannot be delivered, `spool drain` sends it
//! in order and once, whatever happens to the server or the client in between.

use crate::commands::{events, run, write_ini, DOWNLOAD_FLAGS, EICAR, IOC_FLAGS};
use crate::support::*;
use pushdetect_client::spool::{new_key, Spool, SpooledPush};
use pushdetect_model::{EventKind, FormParams};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A base URL where nothing listens.
async fn nowhere() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// A papi_client.ini in a directory of its own.
fn ini(dir: &Path, name: &str, app: &TestApp, base: &str) -> PathBuf {
    let sub = dir.join(name);
    std::fs::create_dir_all(&sub).unwrap();
    write_ini(&sub, app, base, "account")
}

/// `push ioc` of the IOC numbered `n` through the spool.
fn push_args(n: usize, spool: &Path) -> Vec<String> {
    let mut args: Vec<String> = ["push", "--spool", spool.to_str().unwrap(), "ioc"]
        .map(str::to_owned)
        .to_vec();
    let mut flags = IOC_FLAGS.iter();
    while let Some(flag) = flags.next() {
        args.push((*flag).to_owned());
        let value = flags.next().unwrap();
        args.push(if *flag == "--ioc-uuid" {
            numbered_uuid(n)
        } else {
            (*value).to_owned()
        });
    }
    args.extend(
        [
            "--match-confidence",
            "85",
            "--vendor-name",
            "Acme",
            "--tool-name",
            "IocScan",
        ]
        .map(str::to_owned),
    );
    args
}

async fn run_args(config: &Path, args: &[String]) -> crate::commands::Run {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(config, &args, None).await
}

async fn status(config: &Path, spool: &Path) -> Value {
    let out = run(
        config,
        &["spool", "status", spool.to_str().unwrap(), "--json"],
        None,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

/// Spools `n` IOC pushes through the library, as a command would.
fn spool_many(spool: &Path, key: &str, range: std::ops::RangeInclusive<usize>) {
    let s = Spool::open(spool).unwrap();
    for n in range {
        let params = FormParams::from_pairs(ioc_numbered(key, n));
        s.append(&SpooledPush::new(EventKind::Ioc, &params, &new_key()))
            .unwrap();
    }
}

#[tokio::test]
async fn pushes_spooled_while_the_server_is_away_are_sent_in_order_once() {
    let app = TestApp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let down = ini(dir.path(), "down", &app, &nowhere().await);
    let up = ini(dir.path(), "up", &app, &app.base);
    for n in 1..=3 {
        let out = run_args(&down, &push_args(n, &spool)).await;
        assert_eq!(out.code, 0, "spooled is success: {}", out.stderr);
        assert!(
            out.stdout
                .starts_with("ioc event spooled, to be sent later (communication error"),
            "{}",
            out.stdout
        );
    }
    let s = status(&up, &spool).await;
    assert_eq!(s["queued"], 3, "{s}");
    assert!(
        s["last_error"]
            .as_str()
            .unwrap()
            .contains("communication error"),
        "{s}"
    );
    assert!(s["oldest_spooled_at_ms"].as_i64().unwrap() > 0, "{s}");
    assert!(app.stored_ioc_uuids().await.is_empty());
    // The next push with the spool sends what waited first, then itself.
    let out = run_args(&up, &push_args(4, &spool)).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "ioc event pushed: OK\n");
    assert_eq!(
        app.stored_ioc_uuids().await,
        [
            numbered_uuid(1),
            numbered_uuid(2),
            numbered_uuid(3),
            numbered_uuid(4)
        ]
    );
    let s = status(&up, &spool).await;
    assert_eq!(s["queued"], 0, "{s}");
    assert_eq!(
        s["last_error"],
        Value::Null,
        "cleared by a complete drain: {s}"
    );
    // Draining an empty spool sends nothing.
    let out = run(&up, &["spool", "drain", spool.to_str().unwrap()], None).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "0 sent, 0 already stored, 0 refused, 0 corrupt, 0 left\n"
    );
    assert_eq!(app.stored_ioc_uuids().await.len(), 4);
}

#[tokio::test]
async fn a_drain_that_cannot_reach_the_server_keeps_everything_and_fails() {
    let app = TestApp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    spool_many(&spool, &app.creds.sensor_key, 1..=2);
    let down = ini(dir.path(), "down", &app, &nowhere().await);
    let out = run(&down, &["spool", "drain", spool.to_str().unwrap()], None).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("2 pushes left in the spool"),
        "{}",
        out.stderr
    );
    assert_eq!(status(&down, &spool).await["queued"], 2);
}

#[tokio::test]
async fn a_corrupt_record_is_reported_and_set_aside_and_the_rest_drained() {
    let app = TestApp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    spool_many(&spool, &app.creds.sensor_key, 1..=3);
    let mut files: Vec<PathBuf> = std::fs::read_dir(spool.join("queue"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut bytes = std::fs::read(&files[1]).unwrap();
    let last = bytes.len() - 5;
    bytes[last] ^= 0x20;
    std::fs::write(&files[1], bytes).unwrap();
    let up = ini(dir.path(), "up", &app, &app.base);
    let out = run(&up, &["spool", "drain", spool.to_str().unwrap()], None).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("corrupt record set aside") && out.stderr.contains("checksum"),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stdout,
        "2 sent, 0 already stored, 0 refused, 1 corrupt, 0 left\n"
    );
    assert_eq!(
        app.stored_ioc_uuids().await,
        [numbered_uuid(1), numbered_uuid(3)]
    );
    let s = status(&up, &spool).await;
    assert_eq!(
        (s["queued"].as_i64(), s["corrupt"].as_i64()),
        (Some(0), Some(1)),
        "{s}"
    );
}

#[tokio::test]
async fn a_push_the_server_refuses_for_good_is_set_aside_not_retried_forever() {
    let app = TestApp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    spool_many(&spool, &app.creds.sensor_key, 1..=1);
    // Spooled by a client whose sensor was then disabled... or never existed.
    spool_many(&spool, "AAAA:nope", 2..=2);
    spool_many(&spool, &app.creds.sensor_key, 3..=3);
    let up = ini(dir.path(), "up", &app, &app.base);
    let out = run(&up, &["spool", "drain", spool.to_str().unwrap()], None).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("(error 3001)"), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "2 sent, 0 already stored, 1 refused, 0 corrupt, 0 left\n"
    );
    assert_eq!(
        app.stored_ioc_uuids().await,
        [numbered_uuid(1), numbered_uuid(3)]
    );
    assert_eq!(status(&up, &spool).await["rejected"], 1);
}

#[tokio::test]
async fn a_drain_killed_midway_loses_nothing_and_stores_nothing_twice() {
    let app = TestApp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let total = 2000;
    spool_many(&spool, &app.creds.sensor_key, 1..=total);
    let up = ini(dir.path(), "up", &app, &app.base);
    let queued = || std::fs::read_dir(spool.join("queue")).unwrap().count();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_pushdetect"))
        .args(["spool", "drain", spool.to_str().unwrap(), "--batch", "5"])
        .arg("--config")
        .arg(&up)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while queued() > total - 50 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the drain never started"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();
    let left = queued();
    assert!(left > 0, "killed before the end (left {left})");
    let out = run(&up, &["spool", "drain", spool.to_str().unwrap()], None).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let expected: Vec<String> = (1..=total).map(numbered_uuid).collect();
    assert_eq!(
        app.stored_ioc_uuids().await,
        expected,
        "each once, in order"
    );
    assert_eq!(queued(), 0);
}

/// A file of batch items: IOC pushes numbered by `numbers`, and `extra` lines as given.
fn batch_file(dir: &Path, key: &str, numbers: &[usize], extra: &[&str]) -> PathBuf {
    let mut text = String::new();
    for &n in numbers {
        text.push_str(&batch_item("push_result", &ioc_numbered(key, n)).to_string());
        text.push('\n');
    }
    for line in extra {
        text.push_str(line);
        text.push('\n');
    }
    let path = dir.join("items.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn push_batch_sends_a_file_of_items_and_names_each_refused_one() {
    let app = TestApp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let up = ini(dir.path(), "up", &app, &app.base);
    let file = batch_file(
        dir.path(),
        &app.creds.sensor_key,
        &[1, 2, 1],
        &[r#"{"method": "push_result", "key": "x"}"#],
    );
    let out = run(&up, &["push", "--batch", file.to_str().unwrap()], None).await;
    assert_eq!(out.code, 1, "a refused item fails the command");
    assert_eq!(
        out.stdout,
        "4 items: 2 stored, 1 already stored, 1 refused, 0 spooled\n"
    );
    assert!(
        out.stderr.contains("item 3: missing required parameter")
            && out.stderr.contains("(error 2001)"),
        "{}",
        out.stderr
    );
    assert_eq!(
        app.stored_ioc_uuids().await,
        [numbered_uuid(1), numbered_uuid(2)]
    );
    // The shell sends items too.
    let items = format!(
        "push_detection.push_events items='{}'\n",
        std::fs::read_to_string(batch_file(dir.path(), &app.creds.sensor_key, &[3], &[]))
            .unwrap()
            .trim()
    );
    let out = run(&up, &["shell"], Some(&items)).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let answer: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(answer["stored"], 1, "{answer}");
    assert_eq!(
        app.stored_ioc_uuids().await,
        [numbered_uuid(1), numbered_uuid(2), numbered_uuid(3)]
    );
}

#[tokio::test]
async fn push_batch_spools_what_it_cannot_deliver_and_a_drain_sends_it() {
    let app = TestApp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let down = ini(dir.path(), "down", &app, &nowhere().await);
    let up = ini(dir.path(), "up", &app, &app.base);
    let file = batch_file(dir.path(), &app.creds.sensor_key, &[1, 2, 3], &[]);
    let args = [
        "push",
        "--batch",
        file.to_str().unwrap(),
        "--spool",
        spool.to_str().unwrap(),
    ];
    let out = run(&down, &args, None).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout.lines().last(),
        Some("3 items: 0 stored, 0 already stored, 0 refused, 3 spooled")
    );
    assert_eq!(status(&up, &spool).await["queued"], 3);
    let out = run(&up, &["spool", "drain", spool.to_str().unwrap()], None).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "3 sent, 0 already stored, 0 refused, 0 corrupt, 0 left\n"
    );
    assert_eq!(
        app.stored_ioc_uuids().await,
        [numbered_uuid(1), numbered_uuid(2), numbered_uuid(3)]
    );
}

/// A papi_client.ini whose Analyst API is the server and whose PAPI is away: analyses are
/// made, their pushes cannot be delivered.
fn ini_papi_away(dir: &Path, app: &TestApp, nowhere: &str) -> PathBuf {
    let sub = dir.join("papi-away");
    std::fs::create_dir_all(&sub).unwrap();
    let path = write_ini(&sub, app, &app.base, "license");
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        &format!("url = {}/papi", app.base),
        &format!("url = {nowhere}/papi"),
        1,
    );
    assert!(text.contains(nowhere), "{text}");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn analyse_file_and_analyse_mail_spool_their_pushes_while_the_papi_is_away() {
    let app = TestApp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let away = ini_papi_away(dir.path(), &app, &nowhere().await);
    let up = ini(dir.path(), "up", &app, &app.base);
    let eicar = dir.path().join("eicar.com");
    std::fs::write(&eicar, EICAR).unwrap();
    let mut args = vec![
        "analyse-file",
        "--spool",
        spool.to_str().unwrap(),
        eicar.to_str().unwrap(),
    ];
    args.extend_from_slice(DOWNLOAD_FLAGS);
    let out = run(&away, &args, None).await;
    assert_eq!(
        out.code, 0,
        "spooled is success: {}\n{}",
        out.stdout, out.stderr
    );
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("eicar.com"))
        .unwrap();
    assert!(line.ends_with("spooled"), "{}", out.stdout);
    let mail = crate::commands::eml(
        "From: billing@vendor.example\nTo: jane.doe@corp.com\nSubject: invoice\n\
         Message-ID: <spooled@vendor.example>\n",
        &format!(
            "Content-Type: multipart/mixed; boundary=b1\n\n--b1\nContent-Type: text/plain\n\n\
             See attached.\n--b1\nContent-Type: application/octet-stream; name=invoice.com\n\
             Content-Disposition: attachment; filename=invoice.com\n\
             Content-Transfer-Encoding: base64\n\n{}\n--b1--\n",
            "WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNULUZJTEUhJEgrSCo="
        ),
    );
    let message = dir.path().join("invoice.eml");
    std::fs::write(&message, mail).unwrap();
    let out = run(
        &away,
        &[
            "analyse-mail",
            "--spool",
            spool.to_str().unwrap(),
            message.to_str().unwrap(),
        ],
        None,
    )
    .await;
    assert_eq!(
        out.code, 0,
        "spooled is success: {}\n{}",
        out.stdout, out.stderr
    );
    assert!(
        out.stdout
            .contains("spooled, to be pushed later (communication error"),
        "{}",
        out.stdout
    );
    assert!(events(&app).await.is_empty());
    assert_eq!(status(&up, &spool).await["queued"], 2);
    // Drained once the PAPI is reachable: the file download first, then the mail.
    let out = run(&up, &["spool", "drain", spool.to_str().unwrap()], None).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "2 sent, 0 already stored, 0 refused, 0 corrupt, 0 left\n"
    );
    let mut stored = events(&app).await;
    stored.sort_by_key(|e| e["event_id"].as_i64());
    let kinds: Vec<&str> = stored.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["file_download", "mail"], "{stored:?}");
    assert_eq!(stored[0]["tool_name"], "analyse-file");
}
