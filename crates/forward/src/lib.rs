//! Forwarding: what pushdetect sends on to SIEMs and chat, and how.
//!
//! The store writes a delivery into the outbox in the transaction that stores each event
//! (or changes each incident) a destination's filter sends (`pushdetect_store::forwarding`).
//! The [`dispatcher`] of each node leases destinations, reads their deliveries in order,
//! formats each ([`payload`]: CEF, LEEF, JSON, OCSF), sends them ([`syslog`] over TCP, TLS
//! or UDP; [`webhook`], signed) and deletes what was sent; what fails is retried with
//! backoff, and dead-lettered after the destination's time. docs/forwarding.md maps every
//! field of every event type.

pub mod cef;
pub mod destination;
pub mod dispatcher;
pub mod facts;
pub mod leef;
pub mod ocsf;
pub mod payload;
pub mod probe;
pub mod setup;
pub mod stats;
pub mod syslog;
pub mod webhook;

pub use destination::{Options, Prepared};
pub use dispatcher::{DispatchConfig, Dispatcher};
pub use stats::ForwardStats;

/// Why a delivery was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later (network error, timeout, 5xx, 429), perhaps not before
    /// the time the receiver asked for (Retry-After), in ms since the epoch.
    #[error("{message}")]
    Retry {
        /// What happened.
        message: String,
        /// Not before, when the receiver said.
        not_before_ms: Option<i64>,
    },
    /// Sending it again would fail the same way (another 4xx): dead-lettered at once.
    #[error("{0}")]
    Refused(String),
    /// The destination's stored settings do not make a sender (a bad CA bundle).
    #[error("destination settings: {0}")]
    Settings(String),
}

impl SendError {
    /// A retryable failure.
    pub fn retry(message: impl Into<String>) -> Self {
        SendError::Retry {
            message: message.into(),
            not_before_ms: None,
        }
    }
}
