//! Connection exhaustion: idle sockets, slowly sent heads, a full house, and shutdown with
//! such clients connected.

use crate::support::*;
use pushdetect_server::Config;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Long enough for any of these waits on a loaded machine; the server's own timeouts in
/// these tests are far shorter, so reaching this bound means the server did not act.
const PATIENCE: Duration = Duration::from_secs(20);

/// Reads until the server closes the connection; the bytes it sent before that.
async fn read_until_closed(s: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(PATIENCE, s.read(&mut buf)).await {
            Err(_) => panic!("the server kept the connection open"),
            Ok(Ok(0)) | Ok(Err(_)) => return all,
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
        }
    }
}

fn head(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// A login request whose head is complete but whose body never finishes: the connection
/// is busy with a request.
async fn busy_connection(addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!(
            "POST /papi/login HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 40\r\n\r\nusername=x"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    s
}

#[tokio::test]
async fn idle_connections_at_the_limit_make_room_for_new_ones() {
    // Heads may take a minute here: only closing idle connections to make room lets the
    // later clients in.
    let app = TestApp::start_with(Config {
        max_connections: 16,
        header_timeout: Duration::from_secs(60),
        ..Config::default()
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(TcpStream::connect(app.addr()).await.unwrap());
    }
    let health = tokio::time::timeout(PATIENCE, reqwest::get(app.url("/healthz")))
        .await
        .expect("/healthz did not answer with the connection limit taken by idle sockets")
        .unwrap();
    assert_eq!(health.status(), 200);
    let c = app.user_client().await;
    assert_ok(&c.post(IOC, &pairs(&ioc_form(&app.creds.sensor_key))).await);
    // The oldest idle connections were the ones closed.
    assert!(read_until_closed(&mut idle[0]).await.is_empty());
}

#[tokio::test]
async fn a_connection_that_never_completes_its_head_is_closed() {
    let app = TestApp::start_with(Config {
        header_timeout: Duration::from_millis(500),
        ..Config::default()
    })
    .await;
    // Says nothing at all.
    let mut silent = TcpStream::connect(app.addr()).await.unwrap();
    // Sends a head one header at a time, never finishing it.
    let mut slow = TcpStream::connect(app.addr()).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let trickle = async {
        for i in 0.. {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if slow
                .write_all(format!("X-Slow-{i}: y\r\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
    };
    tokio::time::timeout(PATIENCE, trickle)
        .await
        .expect("a head sent one header at a time was never cut off");
    assert!(read_until_closed(&mut silent).await.is_empty());
}

#[tokio::test]
async fn idle_keepalive_connections_are_closed() {
    let app = TestApp::start_with(Config {
        keepalive_timeout: Duration::from_millis(500),
        ..Config::default()
    })
    .await;
    let mut s = TcpStream::connect(app.addr()).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut s).await;
    assert_eq!(head(&answer), "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn with_every_slot_busy_a_new_connection_is_refused_at_once() {
    let app = TestApp::start_with(Config {
        max_connections: 2,
        ..Config::default()
    })
    .await;
    // Until the server has read a busy connection's head it counts as idle and a probe
    // closes it to make room: start again with fresh ones, waiting longer each time.
    let mut answer = String::new();
    for attempt in 1..=40 {
        let _a = busy_connection(&app.addr()).await;
        let _b = busy_connection(&app.addr()).await;
        tokio::time::sleep(Duration::from_millis(25 * attempt)).await;
        let mut c = TcpStream::connect(app.addr()).await.unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        answer = head(&read_until_closed(&mut c).await);
        if answer.starts_with("HTTP/1.1 503") {
            break;
        }
    }
    assert_eq!(answer, "HTTP/1.1 503 Service Unavailable");
}

#[tokio::test]
async fn shutdown_finishes_within_the_grace_period_with_hostile_clients_connected() {
    let mut app = TestApp::start_with(Config {
        header_timeout: Duration::from_secs(120),
        keepalive_timeout: Duration::from_secs(120),
        request_timeout: Duration::from_secs(120),
        // Long enough for the login in flight (an argon2 check) on a slow machine.
        shutdown_grace: Duration::from_secs(5),
        ..Config::default()
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..50 {
        idle.push(TcpStream::connect(app.addr()).await.unwrap());
    }
    let mut slow = TcpStream::connect(app.addr()).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // One request in flight that finishes during the grace period, one that never does.
    let mut finishing = busy_connection(&app.addr()).await;
    let _stuck = busy_connection(&app.addr()).await;
    app.wait_for_requests_in_flight(2).await;
    app.signal_stop();
    app.wait_until_refusing().await;
    finishing
        .write_all(b"&password=0123456789abcdef1234")
        .await
        .unwrap();
    let answer = read_until_closed(&mut finishing).await;
    assert_eq!(head(&answer), "HTTP/1.1 200 OK");
    assert!(
        String::from_utf8_lossy(&answer).contains("login failed"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    tokio::time::timeout(PATIENCE, app.stop())
        .await
        .expect("the server did not stop within its grace period");
}
