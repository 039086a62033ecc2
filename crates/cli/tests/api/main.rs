//! Integration tests: a real server on a random loopback port, real HTTP, real SQLite.

mod access;
mod analyst;
mod auth;
mod batch;
mod client_retry;
mod commands;
mod connections;
mod console;
mod console_forwarding;
mod console_workflow;
mod file_download;
mod forwarding;
mod forwarding_syslog;
mod fuzz_smoke;
mod guessing;
mod incidents;
mod ioc;
mod lastline_client;
mod limits;
mod mail;
mod mail_commands;
mod mail_corpus;
mod network_selection;
mod openapi;

mod process;
mod read_api;
mod resend;
mod retention;
mod server;
mod spool;
mod support;
mod uploads;
mod workflow;
