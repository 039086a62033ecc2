//! The `pushdetect` binary: serve the Push Detection API, initialise a data dir, administer
//! accounts, users, licenses and sensors.

mod admin;
mod database;
mod init;
mod serve;

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// An open, self-hosted implementation of the Lastline Push Detection API.
#[derive(Debug, Parser)]
#[command(name = "pushdetect", version, about)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (initialising an empty database first).
    Serve(serve::ServeArgs),
    /// Create the database and a first account, and print its credentials once.
    Init(init::InitArgs),
    /// Manage accounts, users, licenses and sensors.
    Admin(admin::AdminArgs),
}

fn init_logging(format: &str) {
    let filter = EnvFilter::try_from_env("PUSHDETECT_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log_format);
    let result = match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Init(args) => init::run(args).await,
        Command::Admin(args) => admin::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pushdetect: {e:#}");
            ExitCode::FAILURE
        }
    }
}
