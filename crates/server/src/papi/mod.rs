//! The Portal API (PAPI) under `/papi`: login, pushes and the read API.

pub mod account;
pub mod auth;
pub mod batch;
pub mod caller;
pub mod events;
pub mod form;
pub mod forwarding;
pub mod push;
pub mod reply;
pub mod workflow;
