//! Forwarding to a real syslog server: Debian's rsyslog, started here with a
//! configuration of the test's own, receiving over TCP, TLS and UDP and writing each
//! message's input, MSGID, structured data and text to a file. The test parses what it
//! wrote back, with parsers of its own, and checks CEF, LEEF and JSON field by field,
//! with values holding `|`, `=`, `\`, line breaks, tabs and non-ASCII text.

use crate::forwarding::create;
use crate::support::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// rsyslogd in the foreground on ports of its own, killed when dropped.
struct Rsyslog {
    tcp: u16,
    udp: u16,
    tls: u16,
    out: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free now on the loopback interface.
fn free_port(udp: bool) -> u16 {
    if udp {
        std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    } else {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }
}

impl Rsyslog {
    /// Starts rsyslogd with TLS from `cert_pem`/`key_pem`; waits until it accepts.
    fn start(cert_pem: &str, key_pem: &str) -> Rsyslog {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("cert.pem"), cert_pem).unwrap();
        std::fs::write(d.join("key.pem"), key_pem).unwrap();
        let (tcp, udp, tls) = (free_port(false), free_port(true), free_port(false));
        let out = d.join("out.log");
        let conf = format!(
            r#"global(workDirectory="{dir}" maxMessageSize="64k" parser.escapeControlCharacterTab="off"
       defaultNetstreamDriverCAFile="{dir}/cert.pem" defaultNetstreamDriverCertFile="{dir}/cert.pem"
       defaultNetstreamDriverKeyFile="{dir}/key.pem")
module(load="imtcp")
module(load="imudp")
input(type="imtcp" port="{tcp}" address="127.0.0.1" ruleset="out" name="tcp")
input(type="imudp" port="{udp}" address="127.0.0.1" ruleset="out" name="udp")
input(type="imtcp" port="{tls}" address="127.0.0.1" ruleset="out" name="tls"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
template(name="line" type="string" string="%inputname%|%msgid%|%structured-data%|%msg%\n")
ruleset(name="out") {{ action(type="omfile" file="{out}" template="line") }}
"#,
            dir = d.display(),
            out = out.display()
        );
        std::fs::write(d.join("rsyslog.conf"), conf).unwrap();
        let child = Command::new(rsyslogd())
            .args(["-n", "-f"])
            .arg(d.join("rsyslog.conf"))
            .arg("-i")
            .arg(d.join("rsyslog.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rsyslogd runs (./scripts/test.sh installs Debian's rsyslog)");
        let deadline = Instant::now() + Duration::from_secs(15);
        for port in [tcp, tls] {
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(Instant::now() < deadline, "rsyslogd listens on {port}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Rsyslog {
            tcp,
            udp,
            tls,
            out,
            child,
            _dir: dir,
        }
    }

    /// The lines written so far, as (input, msgid, structured data, message).
    fn lines(&self) -> Vec<(String, String, String, String)> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let mut parts = l.splitn(4, '|').map(str::to_owned);
                let mut next = || parts.next().unwrap_or_default();
                (next(), next(), next(), next())
            })
            .collect()
    }

    /// Waits (up to 20 s) for `n` lines from `input`.
    async fn wait_for(&self, input: &str, n: usize) -> Vec<(String, String, String, String)> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got: Vec<_> = self.lines().into_iter().filter(|l| l.0 == input).collect();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} lines from {input}: {:?}",
                got.len(),
                self.lines()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn rsyslogd() -> &'static Path {
    Path::new("/usr/sbin/rsyslogd")
}

/// The fields of a CEF record: the seven header fields and the extension, unescaped.
fn parse_cef(record: &str) -> (Vec<String>, HashMap<String, String>) {
    // Header: split on `|` not escaped by `\`.
    let mut header = Vec::new();
    let mut field = String::new();
    let mut chars = record.chars();
    while header.len() < 7 {
        match chars.next().expect("seven header fields") {
            '\\' => field.push(chars.next().unwrap()),
            '|' => header.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    let ext: String = chars.collect();
    // Extension: a key starts after a space (or at the start) and ends at a `=` that is
    // not escaped; its value runs to the next key.
    let bytes: Vec<char> = ext.chars().collect();
    let mut starts = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == '\\' {
            i += 2;
            continue;
        }
        if bytes[i] == '=' {
            let mut k = i;
            while k > 0 && bytes[k - 1].is_ascii_alphanumeric() {
                k -= 1;
            }
            if k == 0 || bytes[k - 1] == ' ' {
                starts.push((k, i));
            }
        }
        i += 1;
    }
    let mut map = HashMap::new();
    for (n, &(k, eq)) in starts.iter().enumerate() {
        let end = starts.get(n + 1).map_or(bytes.len(), |&(next, _)| next - 1);
        let key: String = bytes[k..eq].iter().collect();
        let raw: String = bytes[eq + 1..end].iter().collect();
        map.insert(key, unescape(&raw));
    }
    (header, map)
}

/// Undoes `\\`, `\=`, `\n`, `\r`, `\t` escapes.
fn unescape(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The header and attributes of a LEEF 2.0 record with a tab delimiter.
fn parse_leef(record: &str) -> (Vec<String>, HashMap<String, String>) {
    let (head, body) = record
        .split_once("|x09|")
        .expect("a LEEF 2.0 header with x09");
    let header = head.split('|').map(str::to_owned).collect();
    let attributes = body
        .split('\t')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("key=value");
            (k.to_owned(), unescape(v))
        })
        .collect();
    (header, attributes)
}

/// A mail whose subject and sender hold every character the formats must escape.
const SUBJECT: &str = "Pay|now = \"due\"\nback\\slash\ttab ünïcödé 日本";

fn tricky_mail() -> String {
    json!({
        "message": {
            "message_id": "<a|b=c@x.test>",
            "sender": "billing@evil.test",
            "recipients": ["jane.doe@corp.test", "ops@corp.test"],
            "subject": SUBJECT,
            "received_timestamp": "2024-03-01 10:11:12"
        },
        "attachments": [{"filename": "in|voice=1.exe", "size": 10, "action": "BLOCK"}],
        "urls": [{"url": "http://evil.test/a?b=c|d", "action": "LOG"}],
        "action": "BLOCK"
    })
    .to_string()
}

#[tokio::test]
async fn rsyslog_receives_cef_leef_and_json_over_tcp_udp_and_tls_field_by_field() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let rsyslog = Rsyslog::start(&cert.cert.pem(), &cert.key_pair.serialize_pem());
    let app = TestApp::start().await;
    let admin = app.user_client().await;
    let tcp = format!("tcp://127.0.0.1:{}", rsyslog.tcp);
    let udp = format!("udp://127.0.0.1:{}", rsyslog.udp);
    let tls = format!("tls://127.0.0.1:{}", rsyslog.tls);
    create(
        &admin,
        &[
            ("name", "arcsight"),
            ("target", &tcp),
            ("format", "cef"),
            ("sends", "events,new"),
        ],
    )
    .await;
    create(
        &admin,
        &[
            ("name", "qradar"),
            ("target", &udp),
            ("format", "leef"),
            ("vendor", "Lastline"),
            ("product", "Enterprise"),
        ],
    )
    .await;
    let ca = cert.cert.pem();
    create(
        &admin,
        &[
            ("name", "elastic"),
            ("target", &tls),
            ("format", "json"),
            ("ca_pem", &ca),
            ("server_name", "localhost"),
        ],
    )
    .await;

    let pusher = app.license_client().await;
    assert_ok(
        &pusher
            .post(
                MAIL,
                &pairs(&mail_form(&app.creds.sensor_key, &tricky_mail())),
            )
            .await,
    );
    let event = admin.get_ok(LIST, &[]).await["events"][0].clone();
    let id = event["event_id"].as_i64().unwrap();
    let mut incidents = admin
        .get_ok("/papi/push_detection/incident/list.json", &[])
        .await["incidents"]
        .as_array()
        .unwrap()
        .clone();
    incidents.sort_by_key(|i| i["incident_id"].as_i64());

    // CEF over TCP: the event, then the opening of its incidents, one per recipient.
    let cef = rsyslog.wait_for("tcp", 3).await;
    let (msgid, sd, record) = (&cef[0].1, &cef[0].2, &cef[0].3);
    assert_eq!(msgid, "event");
    assert!(
        sd.starts_with("[pushdetect@32473 delivery=\"") && sd.contains(&format!("event=\"{id}\"")),
        "{sd}"
    );
    let (header, ext) = parse_cef(record);
    assert_eq!(&header[..3], ["CEF:0", "pushdetect", "pushdetect"]);
    assert_eq!(header[4], "mail");
    assert_eq!(
        header[5],
        format!(
            "Mail: {} from billing@evil.test",
            SUBJECT.replace(['\n'], " ")
        )
    );
    assert_eq!(
        header[6],
        event["impact"]
            .as_i64()
            .map_or("Unknown".into(), |i| ((i + 9) / 10).to_string())
    );
    assert_eq!(ext["externalId"], id.to_string());
    assert_eq!(ext["cat"], "mail");
    assert_eq!(ext["act"], "BLOCK");
    assert_eq!(ext["suser"], "billing@evil.test");
    assert_eq!(ext["duser"], "jane.doe@corp.test,ops@corp.test");
    assert_eq!(
        ext["msg"],
        format!("Mail: {SUBJECT} from billing@evil.test")
    );
    assert_eq!(ext["fname"], "in|voice=1.exe");
    assert_eq!(ext["requestUrl"], "http://evil.test/a?b=c|d");
    assert_eq!(
        (ext["cs6Label"].as_str(), ext["cs6"].as_str()),
        ("messageId", "<a|b=c@x.test>")
    );
    assert_eq!(
        (ext["cn1Label"].as_str(), ext["cn1"].clone()),
        ("impact", event["impact"].to_string())
    );
    assert_eq!(ext["cs2"], app.creds.sensor_key);
    let opened: Vec<_> = cef.iter().filter(|l| l.1 == "incident").collect();
    assert_eq!(opened.len(), 2, "{cef:?}");
    for (line, incident) in opened.iter().zip(&incidents) {
        let (header, ext) = parse_cef(&line.3);
        assert_eq!(header[4], "incident.new");
        assert_eq!(ext["externalId"], incident["incident_id"].to_string());
        assert_eq!(ext["dhost"], incident["host"].as_str().unwrap());
        assert_eq!(
            (ext["cs3Label"].as_str(), ext["cs3"].as_str()),
            ("status", "new")
        );
    }

    // LEEF over UDP, with the destination's vendor and product.
    let leef = rsyslog.wait_for("udp", 1).await;
    let (header, attrs) = parse_leef(&leef[0].3);
    assert_eq!(
        header,
        [
            "LEEF:2.0",
            "Lastline",
            "Enterprise",
            env!("CARGO_PKG_VERSION"),
            "mail"
        ]
    );
    assert_eq!(attrs["usrName"], "billing@evil.test");
    assert_eq!(attrs["recipients"], "jane.doe@corp.test,ops@corp.test");
    assert_eq!(
        attrs["msg"],
        format!("Mail: {SUBJECT} from billing@evil.test")
    );
    assert_eq!(attrs["fileName"], "in|voice=1.exe");
    assert_eq!(attrs["messageId"], "<a|b=c@x.test>");
    assert_eq!(attrs["eventId"], id.to_string());
    assert_eq!(attrs["action"], "BLOCK");

    // JSON over TLS: the event as the read API returns it.
    let json_lines = rsyslog.wait_for("tls", 1).await;
    let sent: Value = serde_json::from_str(&json_lines[0].3).unwrap();
    assert_eq!(sent, event);
    assert_eq!(sent["fields"]["message"]["subject"], SUBJECT);
    assert_eq!(
        cef.len() + leef.len() + json_lines.len(),
        rsyslog.lines().len()
    );
}

#[tokio::test]
async fn tls_refuses_a_server_its_ca_did_not_sign_and_says_so() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let rsyslog = Rsyslog::start(&cert.cert.pem(), &cert.key_pair.serialize_pem());
    let app = TestApp::start().await;
    let admin = app.user_client().await;
    let tls = format!("tls://127.0.0.1:{}", rsyslog.tls);
    let wrong_ca = other.cert.pem();
    create(
        &admin,
        &[
            ("name", "wrong"),
            ("target", &tls),
            ("ca_pem", &wrong_ca),
            ("server_name", "localhost"),
        ],
    )
    .await;
    let answer = admin
        .post(crate::forwarding::TEST, &[("destination", "wrong")])
        .await;
    assert_error(&answer, 2011, "TLS handshake");
    let right_ca = cert.cert.pem();
    create(
        &admin,
        &[
            ("name", "right"),
            ("target", &tls),
            ("ca_pem", &right_ca),
            ("server_name", "localhost"),
            ("format", "leef"),
        ],
    )
    .await;
    let answer = admin
        .post(crate::forwarding::TEST, &[("destination", "right")])
        .await;
    assert_eq!(answer["data"]["sent"], true, "{answer}");
    let got = rsyslog.wait_for("tls", 1).await;
    assert!(got[0].3.starts_with("LEEF:2.0|pushdetect|"), "{got:?}");
    assert!(rsyslog.lines().iter().all(|l| !l.3.contains("wrong")));
}
