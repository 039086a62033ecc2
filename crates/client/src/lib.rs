//! The pushdetect client library: the Push Detection API (PAPI) with the session and retry
//! behaviour of Lastline's `papi_client`, its `push_detection` view with requests checked
//! offline by the model crate, the Analyst API client, and captured mail read into the
//! spec's mail object ([`mail`]). Configuration comes from `papi_client.ini` files,
//! unchanged, and the environment. Pushes that cannot be delivered wait in a durable
//! local queue ([`spool`]).

pub mod analyst;
pub mod config;
pub mod error;
pub mod http;
pub mod mail;
pub mod papi;
pub mod push;
pub mod spool;
pub mod tracker;

pub use analyst::{AnalystClient, CompletedPage, Submission};
pub use config::{AnalysisConfig, Auth, ClientConfig, PapiConfig, Transport};
pub use error::ClientError;
pub use papi::PapiClient;
pub use push::PushDetection;
pub use spool::{Delivery, Spool};
pub use tracker::Tracker;
