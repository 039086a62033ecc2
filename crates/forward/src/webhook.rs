//! Webhooks: one HTTPS POST of JSON per delivery, signed.
//!
//! Headers: `X-Pushdetect-Delivery` (the delivery id, stable across retries: a receiver
//! drops repeats by it), `X-Pushdetect-Timestamp` (Unix seconds) and
//! `X-Pushdetect-Signature: sha256=HEX`, the HMAC-SHA256 under the destination's key of
//! the timestamp, a `.` and the body. A 2xx answer is delivery; a network error, a 5xx or
//! a 429 is retried (not before its Retry-After, if it says); any other answer would fail
//! the same way again and is dead-lettered at once.

use crate::destination::Prepared;
use crate::SendError;
use hmac::{Hmac, Mac};
use pushdetect_model::forwarding::Target;
use rand::RngCore;
use sha2::Sha256;
use std::time::Duration;

/// The longest wait for a receiver's answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The longest Retry-After honoured: a receiver asking for more is tried after this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// The delivery id header.
pub const DELIVERY_HEADER: &str = "X-Pushdetect-Delivery";
/// The timestamp header.
pub const TIMESTAMP_HEADER: &str = "X-Pushdetect-Timestamp";
/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Pushdetect-Signature";

/// A new signing key: 32 random bytes, hex. Shown once when the destination is created.
pub fn new_signing_key() -> String {
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    hex::encode(key)
}

/// The signature header's value: `sha256=` and the hex HMAC-SHA256 of `timestamp.body`.
pub fn sign(key: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// When a Retry-After value (seconds, or an HTTP date) says to try again, ms since the
/// epoch, bounded by [`MAX_RETRY_AFTER`].
pub fn retry_after(value: &str, now_ms: i64) -> Option<i64> {
    let max = now_ms + MAX_RETRY_AFTER.as_millis() as i64;
    let at = match value.trim().parse::<u64>() {
        Ok(secs) => {
            now_ms.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000))
        }
        Err(_) => chrono::DateTime::parse_from_rfc2822(value.trim())
            .ok()?
            .timestamp_millis(),
    };
    Some(at.clamp(now_ms, max))
}

/// Sends a destination's deliveries.
pub struct WebhookSender {
    client: reqwest::Client,
    url: reqwest::Url,
    key: Option<String>,
}

impl WebhookSender {
    /// A sender for a webhook destination (its CA bundle trusted when it has one).
    pub fn new(d: &Prepared) -> Result<Self, SendError> {
        let Target::Webhook(url) = &d.target else {
            return Err(SendError::Settings("not a webhook destination".into()));
        };
        let mut builder = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("pushdetect/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &d.options.ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| SendError::Settings(format!("CA bundle: {e}")))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .build()
            .map_err(|e| SendError::Settings(e.to_string()))?;
        Ok(WebhookSender {
            client,
            url: url.clone(),
            key: d.secret.clone(),
        })
    }

    /// POSTs one delivery's JSON body.
    pub async fn send(&self, delivery_id: i64, body: &str, now_ms: i64) -> Result<(), SendError> {
        let timestamp = now_ms / 1000;
        let mut request = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(DELIVERY_HEADER, delivery_id.to_string())
            .header(TIMESTAMP_HEADER, timestamp.to_string());
        if let Some(key) = &self.key {
            request = request.header(SIGNATURE_HEADER, sign(key, timestamp, body.as_bytes()));
        }
        let answer = request
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| SendError::retry(format!("POST {}: {}", self.url, without_url(&e))))?;
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        let not_before_ms = answer
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, now_ms));
        let message = format!("POST {} answered HTTP {}", self.url, status.as_u16());
        if status.is_server_error() || status.as_u16() == 429 {
            Err(SendError::Retry {
                message,
                not_before_ms,
            })
        } else {
            Err(SendError::Refused(message))
        }
    }
}

/// What went wrong with a request, without the URL (already said), with its causes.
fn without_url(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac key
        assert_eq!(
            sign("key", 1_700_000_000, br#"{"a":1}"#),
            "sha256=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03"
        );
        assert_eq!(new_signing_key().len(), 64);
        assert_ne!(new_signing_key(), new_signing_key());
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date_within_an_hour() {
        assert_eq!(retry_after("3", 1_000), Some(4_000));
        assert_eq!(retry_after("999999", 0), Some(3_600_000));
        assert_eq!(
            retry_after("Tue, 14 Nov 2023 22:13:30 GMT", 1_700_000_000_000),
            Some(1_700_000_010_000)
        );
        assert_eq!(
            retry_after("Tue, 14 Nov 2023 22:13:00 GMT", 1_700_000_000_000),
            Some(1_700_000_000_000)
        );
        assert_eq!(retry_after("soon", 0), None);
    }
}
