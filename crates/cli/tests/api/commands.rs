//! The client commands (push, analyse-file, analyse-mail, shell) run as the real binary
//! against a real server, configured by papi_client.ini files in the documented format.

use crate::support::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub(crate) const EICAR: &str =
    r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// A papi_client.ini for the first account, in the documented format (inline comments).
pub(crate) fn write_ini(dir: &Path, app: &TestApp, base: &str, method: &str) -> PathBuf {
    let c = &app.creds;
    let auth = match method {
        "account" => format!("username = {}\npassword = {}\n", c.username, c.password),
        _ => format!("api_key = {}\napi_token = {}\n", c.access_key, c.api_token),
    };
    let text = format!(
        "[papi]\nurl = {base}/papi\nauth_method = {method}          # or: license\n{auth}\
         verify_ssl = True\ntimeout = 20\nkey = {}\n\n\
         [analysis]\nurl = {base}\nkey = {}\napi_token = {}\n",
        c.sensor_key, c.access_key, c.api_token
    );
    let path = dir.join(format!("papi_client_{method}.ini"));
    std::fs::write(&path, text).unwrap();
    path
}

/// The context flags of a file download that analyse-file pushes.
pub(crate) const DOWNLOAD_FLAGS: &[&str] = &[
    "--src-ip",
    "10.0.0.5",
    "--dst-ip",
    "203.0.113.7",
    "--application-protocol",
    "HTTP",
];

/// The flags of a complete IOC push.
pub(crate) const IOC_FLAGS: &[&str] = &[
    "--ioc-uuid",
    "0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10",
    "--ioc-source",
    "feed",
    "--main-ipv4",
    "10.0.0.9",
    "--ioc-matched",
    "True",
    "--hostname",
    "WS-09",
];

/// `push ioc` with the complete IOC flags and `extra`.
fn ioc_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["push", "ioc"];
    args.extend_from_slice(IOC_FLAGS);
    args.extend_from_slice(extra);
    args
}

/// Output of one run of the binary.
pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub(crate) async fn run(config: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_pushdetect"));
    cmd.args(args)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // The client reads PAPI_* and ANALYSIS_* settings from the environment: a test
    // sets what it means to, nothing leaks in from the shell that runs the suite.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("PAPI_") || name.starts_with("ANALYSIS_") {
            cmd.env_remove(name.as_ref());
        }
    }
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(stdin.unwrap_or("").as_bytes())
        .await
        .unwrap();
    drop(input);
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        child.wait_with_output(),
    )
    .await
    .expect("the command finished")
    .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub(crate) async fn events(app: &TestApp) -> Vec<Value> {
    let c = app.user_client().await;
    c.get_ok(LIST, &[("limit", "1000")]).await["events"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn push_commands_store_each_type_with_both_auth_methods() {
    let app = TestApp::start().await;
    app.create_task(TASK).await;
    let dir = tempfile::tempdir().unwrap();
    let account = write_ini(dir.path(), &app, &app.base, "account");
    let license = write_ini(dir.path(), &app, &app.base, "license");

    let r = run(
        &account,
        &[
            "push",
            "file-download",
            "--task-uuid",
            TASK,
            "--src-ip",
            "10.0.0.5",
            "--dst-hostname",
            "dl.example.net",
            "--application-protocol",
            "HTTP",
            "--filename",
            "/tmp/setup.exe",
        ],
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "file_download event pushed: OK");

    let r = run(
        &license,
        &ioc_args(&[
            "--json",
            "--match-confidence",
            "90",
            "--vendor-name",
            "Acme",
            "--tool-name",
            "IocScan",
        ]),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["answer"], "OK");

    let r = run(
        &license,
        &["push", "mail", "--mail-json", "-"],
        Some(SPEC_SAMPLE_MAIL),
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);

    let list = events(&app).await;
    assert_eq!(list.len(), 3, "{list:?}");
    let download = list.iter().find(|e| e["type"] == "file_download").unwrap();
    assert_eq!(download["vendor_name"], "pushdetect", "the default vendor");
    assert_eq!(download["tool_name"], "push", "the default tool");
}

#[tokio::test]
async fn a_bad_push_is_refused_before_sending_with_one_line_naming_the_flag() {
    let app = TestApp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ini = write_ini(dir.path(), &app, &app.base, "account");
    let r = run(&ini, &ioc_args(&["--match-confidence", "150"]), None).await;
    assert_ne!(r.code, 0);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("match_confidence"), "{}", r.stderr);
    assert!(r.stderr.contains("before sending"), "{}", r.stderr);
    assert_eq!(app.event_count().await, 0);
    // A config file without the PAPI url fails with one line saying what is missing.
    std::fs::write(dir.path().join("empty.ini"), "[papi]\n").unwrap();
    let r = run(
        &dir.path().join("empty.ini"),
        &["shell"],
        Some("push_detection.ping\n"),
    )
    .await;
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("PAPI_URL"), "{}", r.stderr);
}

#[tokio::test]
async fn analyse_file_pushes_eicar_and_not_a_harmless_file() {
    let app = TestApp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ini = write_ini(dir.path(), &app, &app.base, "account");
    std::fs::write(dir.path().join("eicar.com"), EICAR).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "meeting at noon").unwrap();
    let eicar = dir.path().join("eicar.com");
    let notes = dir.path().join("notes.txt");
    let mut args = vec![
        "analyse-file",
        eicar.to_str().unwrap(),
        notes.to_str().unwrap(),
    ];
    args.extend_from_slice(DOWNLOAD_FLAGS);
    let r = run(&ini, &args, None).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let eicar_line = r.stdout.lines().find(|l| l.contains("eicar.com")).unwrap();
    assert!(
        eicar_line.contains(" 100 ") && eicar_line.ends_with("yes"),
        "{}",
        r.stdout
    );
    let notes_line = r.stdout.lines().find(|l| l.contains("notes.txt")).unwrap();
    assert!(notes_line.ends_with("no"), "{}", r.stdout);
    let list = events(&app).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["tool_name"], "analyse-file");
}

/// A message as a gateway captures it.
pub(crate) fn eml(headers: &str, body: &str) -> String {
    format!("{headers}MIME-Version: 1.0\r\n{body}")
        .replace('\n', "\r\n")
        .replace("\r\r", "\r")
}

#[tokio::test]
async fn analyse_mail_scores_attachments_urls_and_nested_messages() {
    let app = TestApp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ini = write_ini(dir.path(), &app, &app.base, "license");
    let head = "From: \"Billing\" <billing@vendor.example>\nTo: Jane <jane.doe@corp.com>\n\
                Cc: soc@corp.com\nSubject: =?utf-8?q?Rechnung_f=C3=BCr_Mai?=\n\
                Date: Tue, 1 May 2018 17:24:16 -0400\nMessage-ID: <m1@vendor.example>\n";
    let eicar_b64 = "WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNULUZJTEUhJEgrSCo=";
    let attachment = eml(
        head,
        &format!(
            "Content-Type: multipart/mixed; boundary=b1\n\n--b1\nContent-Type: text/plain\n\n\
             See attached.\n--b1\nContent-Type: application/octet-stream; name=invoice.com\n\
             Content-Disposition: attachment; filename=invoice.com\n\
             Content-Transfer-Encoding: base64\n\n{eicar_b64}\n--b1--\n"
        ),
    );
    let html_url = eml(
        &head.replace("m1@", "m2@"),
        "Content-Type: text/html; charset=utf-8\n\n<p>Pay <a href=\"http://203.0.113.5:4444/setup.exe\">here</a></p>\n",
    );
    let nested = eml(
        &head.replace("m1@", "m3@"),
        &format!(
            "Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: text/plain\n\nFwd.\n\
             --o\nContent-Type: message/rfc822\n\nFrom: a@b.example\nTo: c@d.example\n\
             Subject: inner\nContent-Type: multipart/mixed; boundary=i\n\n--i\n\
             Content-Type: application/octet-stream\n\
             Content-Disposition: attachment; filename=inner.com\n\
             Content-Transfer-Encoding: base64\n\n{eicar_b64}\n--i--\n--o--\n"
        ),
    );
    let broken = eml(
        &head.replace("m1@", "m4@"),
        "Content-Type: text/plain; charset=no-such-charset\nContent-Transfer-Encoding: base64\n\n\
         %%% not base64 at all %%%\n",
    );
    let headless = "just some text\nwithout any headers\n".to_owned();
    let files = [
        ("attachment.eml", attachment),
        ("html-url.eml", html_url),
        ("nested.eml", nested),
        ("broken.eml", broken),
        ("headless.eml", headless),
    ];
    let mut args = vec!["analyse-mail".to_owned()];
    for (name, text) in &files {
        std::fs::write(dir.path().join(name), text).unwrap();
        args.push(dir.path().join(name).display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run(&ini, &args, None).await;
    assert_ne!(r.code, 0, "the headless message fails the run");
    let stderr: Vec<&str> = r.stderr.lines().filter(|l| l.contains(".eml")).collect();
    assert_eq!(stderr.len(), 1, "{}", r.stderr);
    assert!(
        stderr[0].contains("headless.eml") && stderr[0].contains("not an RFC 5322 message"),
        "{}",
        r.stderr
    );
    for name in ["attachment.eml", "html-url.eml", "nested.eml"] {
        let line = r
            .stdout
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_default();
        assert!(
            line.ends_with("pushed") && !line.ends_with("not pushed"),
            "{name}: {}",
            r.stdout
        );
    }
    let line = r.stdout.lines().find(|l| l.contains("broken.eml")).unwrap();
    assert!(line.ends_with("not pushed"), "{}", r.stdout);

    let list = events(&app).await;
    assert_eq!(list.len(), 3, "{list:?}");
    let mails: Vec<Value> = list.iter().map(|e| e["fields"].clone()).collect();
    let by_id = |id: &str| {
        mails
            .iter()
            .find(|m| {
                m["message"]["message_id"]
                    .as_str()
                    .unwrap_or("")
                    .contains(id)
            })
            .unwrap_or_else(|| panic!("{id} in {mails:?}"))
    };
    let m1 = by_id("m1@");
    assert_eq!(m1["message"]["sender"], "billing@vendor.example");
    assert_eq!(
        m1["message"]["recipients"],
        serde_json::json!(["jane.doe@corp.com", "soc@corp.com"])
    );
    assert_eq!(m1["message"]["subject"], "Rechnung für Mai");
    assert_eq!(m1["attachments"][0]["filename"], "invoice.com");
    assert_eq!(m1["attachments"][0]["action"], "BLOCK");
    assert_eq!(m1["action"], "BLOCK");
    let m2 = by_id("m2@");
    assert_eq!(m2["urls"][0]["url"], "http://203.0.113.5:4444/setup.exe");
    assert_eq!(m2["urls"][0]["action"], "WARN");
    assert_eq!(m2["action"], "LOG");
    // The report and the stored event (what the console shows) agree on the action: the
    // strongest of the message's and its items'.
    let stored = list
        .iter()
        .find(|e| {
            e["fields"]["message"]["message_id"]
                .as_str()
                .unwrap_or("")
                .contains("m2@")
        })
        .unwrap();
    assert_eq!(stored["action"], "WARN");
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("html-url.eml"))
        .unwrap();
    assert!(line.contains("action WARN"), "{line}");
    let m3 = by_id("m3@");
    let names: Vec<&str> = m3["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["filename"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"inner.com"), "{names:?}");
}

#[tokio::test]
async fn analyse_mail_dry_run_prints_the_mail_object_and_pushes_nothing() {
    let app = TestApp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ini = write_ini(dir.path(), &app, &app.base, "license");
    // No Message-ID, no Date: a stable id is derived, the received time is now.
    let text = eml(
        "From: alerts@vendor.example\nBcc: ops@corp.com\nSubject: plain\n",
        "Content-Type: text/plain\n\nvisit https://docs.example.org/guide, thanks\n",
    );
    std::fs::write(dir.path().join("plain.eml"), text).unwrap();
    let path = dir.path().join("plain.eml");
    let r = run(
        &ini,
        &["analyse-mail", "--dry-run", path.to_str().unwrap()],
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mail: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert!(mail["message"]["message_id"]
        .as_str()
        .unwrap()
        .starts_with("pushdetect-"));
    assert_eq!(
        mail["message"]["recipients"],
        serde_json::json!(["ops@corp.com"])
    );
    assert_eq!(mail["urls"][0]["url"], "https://docs.example.org/guide");
    assert_eq!(mail["urls"][0]["action"], "LOG");
    assert_eq!(mail["action"], "LOG");
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn the_shell_reads_commands_from_a_pipe() {
    let app = TestApp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ini = write_ini(dir.path(), &app, &app.base, "account");
    let script = format!(
        "help push_detection.push_result\n\
         push_detection.push_result vendor_name=Acme tool_name=\"Ioc Scan\" \
         ioc_uuid=0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10 ioc_source=feed main_ipv4=10.0.0.9 \
         ioc_matched=True match_confidence=80 hostname=WS-09 key={}\n\
         push_detection.incident.list host=10.0.0.9\n\
         push_detection.ping\nexit\npush_detection.ping\n",
        app.creds.sensor_key
    );
    let r = run(&ini, &["shell"], Some(&script)).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("match_confidence"),
        "help lists parameters: {}",
        r.stdout
    );
    assert!(r.stdout.contains("\"OK\""), "{}", r.stdout);
    assert!(
        r.stdout.contains("\"host\": \"ws-09\""),
        "the incident of the push: {}",
        r.stdout
    );
    assert_eq!(
        r.stdout.matches("pong").count(),
        1,
        "exit stops reading: {}",
        r.stdout
    );
    assert!(!r.stdout.contains("papi>"), "no prompt on a pipe");
    let list = events(&app).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["tool_name"], "Ioc Scan");
}

/// A proxy in front of the server that drops the connection carrying the first push
/// after the server has answered it: the answer never reaches the client.
async fn dropping_proxy(upstream: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            let dropped = dropped.clone();
            tokio::spawn(async move {
                let mut server = TcpStream::connect(upstream).await.unwrap();
                let mut buf = vec![0u8; 65536];
                let mut back = vec![0u8; 65536];
                loop {
                    tokio::select! {
                        n = client.read(&mut buf) => {
                            let Ok(n) = n else { return };
                            if n == 0 { return; }
                            let push = String::from_utf8_lossy(&buf[..n]).contains("push_result");
                            server.write_all(&buf[..n]).await.unwrap();
                            if push && !dropped.swap(true, std::sync::atomic::Ordering::SeqCst) {
                                // Wait for the server's answer, then hang up on the client.
                                let _ = server.read(&mut back).await;
                                return;
                            }
                        }
                        n = server.read(&mut back) => {
                            let Ok(n) = n else { return };
                            if n == 0 { return; }
                            if client.write_all(&back[..n]).await.is_err() { return; }
                        }
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_dropped_connection_is_retried_once_and_stores_one_event() {
    let app = TestApp::start().await;
    let upstream = app.base.trim_start_matches("http://").to_owned();
    let proxy = dropping_proxy(upstream).await;
    let dir = tempfile::tempdir().unwrap();
    let ini = write_ini(dir.path(), &app, &proxy, "account");
    let r = run(
        &ini,
        &ioc_args(&["--verbose", "--match-confidence", "90"]),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("retrying once"), "{}", r.stderr);
    assert!(
        r.stderr.contains("password=***"),
        "secrets masked: {}",
        r.stderr
    );
    assert!(!r.stderr.contains(&app.creds.password), "{}", r.stderr);
    assert_eq!(app.event_count().await, 1, "the resent push is recognised");
}

/// A server serving HTTPS itself with a self-signed certificate for `localhost`: the
/// app, its HTTPS base URL, the certificate (PEM), and the directory holding the files.
async fn https_app() -> (TestApp, String, String, tempfile::TempDir) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let files = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (files.path().join("c.pem"), files.path().join("k.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
    let tls = pushdetect_server::tls::Tls::load(&cert_file, &key_file).unwrap();
    let app = TestApp::start_with(pushdetect_server::Config {
        tls: Some(std::sync::Arc::new(tls)),
        ..Default::default()
    })
    .await;
    let port = app.addr().rsplit(':').next().unwrap().to_owned();
    (
        app,
        format!("https://localhost:{port}"),
        cert.cert.pem(),
        files,
    )
}

#[tokio::test]
async fn tls_is_verified_unless_turned_off_and_a_ca_bundle_is_trusted() {
    let (app, base, pem, _files) = https_app().await;
    let dir = tempfile::tempdir().unwrap();
    let ini = write_ini(dir.path(), &app, &base, "account");
    let ping = Some("push_detection.ping\n");
    let r = run(&ini, &["shell"], ping).await;
    assert_ne!(r.code, 0, "a self-signed certificate is refused by default");
    assert!(
        r.stderr.to_lowercase().contains("certificate"),
        "{}",
        r.stderr
    );

    let text = std::fs::read_to_string(&ini).unwrap();
    std::fs::write(
        &ini,
        text.replace("verify_ssl = True", "verify_ssl = False"),
    )
    .unwrap();
    let r = run(&ini, &["shell"], ping).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("pong"));

    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pem).unwrap();
    let text = format!("{text}\n").replace(
        "verify_ssl = True\n",
        &format!("verify_ssl = True\nca_bundle = {}\n", ca.display()),
    );
    std::fs::write(&ini, text).unwrap();
    let r = run(&ini, &["shell"], ping).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("pong"));
}

/// An HTTPS proxy (HTTP CONNECT tunnels); returns its URL and the tunnels it opened.
async fn connect_proxy() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let Some(target) = head
                    .strip_prefix("CONNECT ")
                    .and_then(|r| r.split(' ').next())
                else {
                    return;
                };
                log.lock().unwrap().push(target.to_owned());
                let target = target.replace("localhost", "127.0.0.1");
                let mut server = TcpStream::connect(target).await.unwrap();
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    (url, seen)
}

#[tokio::test]
async fn requests_go_through_the_configured_https_proxy() {
    let (app, base, _, _files) = https_app().await;
    let (proxy, seen) = connect_proxy().await;
    let dir = tempfile::tempdir().unwrap();
    let ini = write_ini(dir.path(), &app, &base, "account");
    let text = std::fs::read_to_string(&ini).unwrap().replace(
        "verify_ssl = True\n",
        &format!("verify_ssl = False\nproxy = {proxy}\n"),
    );
    std::fs::write(&ini, text).unwrap();
    let r = run(&ini, &["shell"], Some("push_detection.ping\n")).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("pong"));
    let port = base.rsplit(':').next().unwrap();
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|t| t == &format!("localhost:{port}")),
        "{:?}",
        seen.lock().unwrap()
    );
}

/// The mistakes users make with the client, each explained in one line: a PAPI url
/// without /papi, https against a plain HTTP server, a missing file (said once); and with
/// --json, an error is JSON too.
#[tokio::test]
async fn client_mistakes_are_explained_plainly() {
    let app = TestApp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let good = write_ini(dir.path(), &app, &app.base, "account");
    let text = std::fs::read_to_string(&good).unwrap();
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let no_papi = write(
        "no_papi.ini",
        text.replace(&format!("{}/papi", app.base), &app.base),
    );
    let r = run(&no_papi, &ioc_args(&["--match-confidence", "85"]), None).await;
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains(&format!("try {}/papi", app.base)),
        "{}",
        r.stderr
    );
    let https = write("https.ini", text.replace("http://", "https://"));
    let r = run(&https, &ioc_args(&["--match-confidence", "85"]), None).await;
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("plain HTTP") && r.stderr.contains("http://"),
        "{}",
        r.stderr
    );
    // --json: the failure is a JSON object on standard output, with the server's code.
    let r = run(
        &good,
        &ioc_args(&["--json", "--match-confidence", "150"]),
        None,
    )
    .await;
    assert_ne!(r.code, 0);
    let v: Value =
        serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    assert!(
        v["error"].as_str().unwrap().contains("match_confidence"),
        "{v}"
    );
    let missing = dir.path().join("missing.exe");
    let r = run(&good, &["analyse-file", missing.to_str().unwrap()], None).await;
    assert_eq!(
        r.stdout.matches("No such file").count() + r.stderr.matches("No such file").count(),
        1,
        "{}{}",
        r.stdout,
        r.stderr
    );
}
