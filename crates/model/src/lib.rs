//! The Push Detection API's domain: every rule of the spec about what a push may contain.
//!
//! Form parameters are parsed into typed events ([`PushRequest::parse`]); a value of any
//! type here is valid by construction. Refusals are [`ApiError`]s that name the parameter
//! and what is expected. Response envelopes (JSON and XML) live in [`envelope`]. No I/O.

pub mod account_api;
pub mod analyst;
pub mod batch;
pub mod envelope;
pub mod error;
pub mod event;
pub mod file_download;
pub mod forwarding;
pub mod forwarding_api;
pub mod grouping;
pub mod ioc;
pub mod limits;
pub mod mail;
pub mod method;
pub mod network;
pub mod params;
pub mod reporter;
pub mod triage;
pub mod values;
pub mod workflow;
pub mod workflow_api;

pub use batch::{BatchItem, IdempotencyKey};
pub use envelope::Format;
pub use error::{ApiError, ErrorCode};
pub use event::{Event, EventKind, PushRequest};
pub use network::NetworkSelection;
pub use params::FormParams;
pub use values::Timestamp;
