//! Uploads: nothing reaches the disk before the caller has proven who they are.

use crate::support::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes in the temporary upload directories under the data dir.
fn bytes_in_tmp(app: &TestApp) -> u64 {
    fn walk(dir: &std::path::Path) -> u64 {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| {
                        let p = e.path();
                        if p.is_dir() {
                            walk(&p)
                        } else {
                            e.metadata().map(|m| m.len()).unwrap_or(0)
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(&app.data_dir().join("content/tmp"))
}

#[tokio::test]
async fn an_upload_without_credentials_is_refused_before_its_file_is_read() {
    let app = TestApp::start().await;
    let mut s = tokio::net::TcpStream::connect(app.addr()).await.unwrap();
    let boundary = "XyZ";
    let preamble = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"filename\"\r\n\r\nbig.bin\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"dummy\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    // A 60 MB upload is promised; a megabyte is sent and the rest never comes.
    s.write_all(
        format!(
            "POST /analysis/submit/file.json HTTP/1.1\r\nHost: x\r\n\
             Content-Type: multipart/form-data; boundary={boundary}\r\n\
             Content-Length: {}\r\n\r\n{preamble}",
            60_000_000
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let chunk = vec![b'A'; 64 * 1024];
    for _ in 0..16 {
        if s.write_all(&chunk).await.is_err() {
            break;
        }
    }
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(20), s.read(&mut answer))
        .await
        .expect("no answer before the whole upload was sent")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).into_owned();
    assert!(answer.contains("\"error_code\":122"), "{answer}");
    assert_eq!(bytes_in_tmp(&app), 0);
}
