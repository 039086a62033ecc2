//! Server settings, with the defaults `pushdetect serve` uses.

use std::time::Duration;

/// Tunables of the HTTP application.
#[derive(Debug, Clone)]
pub struct Config {
    /// A session not used for this long expires (answers 3004).
    pub session_idle: Duration,
    /// The same push from the same credential within this window is stored once.
    pub dedup_window: Duration,
    /// Events about one host at most this far apart form one incident.
    pub incident_window: Duration,
    /// Largest accepted request body; larger answers HTTP 413.
    pub max_body_bytes: usize,
    /// A request taking longer is answered HTTP 408.
    pub request_timeout: Duration,
    /// Concurrent TCP connections; further ones wait to be accepted.
    pub max_connections: usize,
    /// Mark the session cookie `Secure` (set when served over HTTPS, e.g. behind a proxy).
    pub secure_cookies: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            session_idle: Duration::from_secs(30 * 60),
            dedup_window: Duration::from_secs(5 * 60),
            incident_window: Duration::from_secs(60 * 60),
            max_body_bytes: 4 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            max_connections: 1024,
            secure_cookies: false,
        }
    }
}

impl Config {
    /// The incident window in milliseconds, as the store takes it.
    pub fn incident_window_ms(&self) -> i64 {
        i64::try_from(self.incident_window.as_millis()).unwrap_or(i64::MAX)
    }
}
