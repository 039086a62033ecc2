//! Server settings, with the defaults `pushdetect serve` uses.

use std::time::Duration;

/// The default of each setting, in the unit `pushdetect serve` takes it: written once, for
/// [`Config::default`] and the command line alike.
pub mod defaults {
    /// `--session-idle-secs`.
    pub const SESSION_IDLE_SECS: u64 = 30 * 60;
    /// `--dedup-window-secs`.
    pub const DEDUP_WINDOW_SECS: u64 = 5 * 60;
    /// `--idempotency-window-secs`: a day, so a spool drained the next morning is safe.
    pub const IDEMPOTENCY_WINDOW_SECS: u64 = 24 * 60 * 60;
    /// `--max-batch-items`.
    pub const MAX_BATCH_ITEMS: usize = 1000;
    /// `--max-batch-bytes`: a thousand events with room for large mail objects.
    pub const MAX_BATCH_BYTES: usize = 32 * 1024 * 1024;
    /// `--batch-budget-bytes`: the batch bodies held in memory at once, together.
    pub const BATCH_BUDGET_BYTES: usize = 256 * 1024 * 1024;
    /// `--incident-window-secs`.
    pub const INCIDENT_WINDOW_SECS: u64 = 60 * 60;
    /// `--max-body-bytes`.
    pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
    /// `--request-timeout-secs`.
    pub const REQUEST_TIMEOUT_SECS: u64 = 30;
    /// `--max-connections`.
    pub const MAX_CONNECTIONS: usize = 1024;
    /// `--header-timeout-secs`.
    pub const HEADER_TIMEOUT_SECS: u64 = 10;
    /// `--keepalive-timeout-secs`.
    pub const KEEPALIVE_TIMEOUT_SECS: u64 = 30;
    /// `--shutdown-grace-secs`.
    pub const SHUTDOWN_GRACE_SECS: u64 = 10;
}

/// Tunables of the HTTP application.
#[derive(Debug, Clone)]
pub struct Config {
    /// A session not used for this long expires (answers 3004).
    pub session_idle: Duration,
    /// The same push from the same credential within this window is stored once.
    pub dedup_window: Duration,
    /// A push carrying an idempotency key already seen from the same license within this
    /// window is stored once.
    pub idempotency_window: Duration,
    /// Events about one host at most this far apart form one incident.
    pub incident_window: Duration,
    /// A closed incident that receives a new event is reopened (else the event starts a
    /// new incident and the closed one stays closed).
    pub reopen_closed: bool,
    /// Largest accepted request body; larger answers HTTP 413.
    pub max_body_bytes: usize,
    /// Most items of one batch push.
    pub max_batch_items: usize,
    /// Largest body of a batch push; larger answers HTTP 413.
    pub max_batch_bytes: usize,
    /// Bytes of batch bodies held in memory at once on this node, together; beyond it a
    /// batch push answers HTTP 503 (retry later) instead of the node running out of memory.
    pub batch_budget_bytes: usize,
    /// A request taking longer is answered HTTP 408.
    pub request_timeout: Duration,
    /// Connections served at once; at the limit the connection idle longest is closed to
    /// make room, and when none is idle a new one is answered 503.
    pub max_connections: usize,
    /// Time a new connection has to send its first complete request head.
    pub header_timeout: Duration,
    /// Time a connection may stay open with no request in flight after its first request.
    pub keepalive_timeout: Duration,
    /// Time busy connections get to finish their requests once shutdown begins.
    pub shutdown_grace: Duration,
    /// Reverse proxies whose `X-Forwarded-For` names the client (for throttling and logs).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// HTTPS: the certificate and key served (cookies are then `Secure` and answers carry
    /// HSTS).
    pub tls: Option<std::sync::Arc<crate::tls::Tls>>,
    /// Mark the session cookie `Secure` (set when served over HTTPS, e.g. behind a proxy).
    pub secure_cookies: bool,
    /// This node's name in forwarding leases: unique among the nodes sharing a database,
    /// and the same across restarts, so that a restarted node takes its destinations back
    /// at once instead of waiting for its old lease to expire.
    pub node_name: String,
    /// The host name syslog messages carry.
    pub hostname: String,
    /// How often expired sessions and fingerprints are purged, abandoned analyses taken
    /// back, and accounts' retention applied.
    pub housekeeping_every: Duration,
}

/// The machine's host name (`/proc/sys/kernel/hostname`, else `HOSTNAME`), or "pushdetect".
pub fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "pushdetect".to_owned())
}

impl Default for Config {
    fn default() -> Self {
        Config {
            session_idle: Duration::from_secs(defaults::SESSION_IDLE_SECS),
            dedup_window: Duration::from_secs(defaults::DEDUP_WINDOW_SECS),
            idempotency_window: Duration::from_secs(defaults::IDEMPOTENCY_WINDOW_SECS),
            incident_window: Duration::from_secs(defaults::INCIDENT_WINDOW_SECS),
            reopen_closed: true,
            max_body_bytes: defaults::MAX_BODY_BYTES,
            max_batch_items: defaults::MAX_BATCH_ITEMS,
            max_batch_bytes: defaults::MAX_BATCH_BYTES,
            batch_budget_bytes: defaults::BATCH_BUDGET_BYTES,
            request_timeout: Duration::from_secs(defaults::REQUEST_TIMEOUT_SECS),
            max_connections: defaults::MAX_CONNECTIONS,
            header_timeout: Duration::from_secs(defaults::HEADER_TIMEOUT_SECS),
            keepalive_timeout: Duration::from_secs(defaults::KEEPALIVE_TIMEOUT_SECS),
            shutdown_grace: Duration::from_secs(defaults::SHUTDOWN_GRACE_SECS),
            trusted_proxies: Vec::new(),
            tls: None,
            secure_cookies: false,
            node_name: system_hostname(),
            hostname: system_hostname(),
            housekeeping_every: Duration::from_secs(60),
        }
    }
}

impl Config {
    /// Whether cookies are marked `Secure`: when asked, and always when serving HTTPS.
    pub fn cookies_secure(&self) -> bool {
        self.secure_cookies || self.tls.is_some()
    }

    /// The bounds of each connection.
    pub fn connection_limits(&self) -> crate::listener::ConnectionLimits {
        crate::listener::ConnectionLimits {
            max_connections: self.max_connections,
            header_timeout: self.header_timeout,
            keepalive_timeout: self.keepalive_timeout,
            // Longer than the request timeout, so a slow handler answers 408 first.
            stall_timeout: self.request_timeout.saturating_mul(2),
            shutdown_grace: self.shutdown_grace,
        }
    }

    /// The incident window in milliseconds, as the store takes it.
    pub fn incident_window_ms(&self) -> i64 {
        i64::try_from(self.incident_window.as_millis()).unwrap_or(i64::MAX)
    }
}
