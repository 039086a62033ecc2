//! The `pushdetect` binary: serve the Push Detection API, initialise a data dir, administer
//! accounts, users, licenses and sensors; and, as a client of a server, push detections,
//! analyse files and mails, and run an interactive shell.

mod admin;
mod analyse_file;
mod analyse_mail;
mod backup;
mod client_args;
mod database;
mod destinations;
mod init;
mod inputs;
mod manual;
mod migrate;
mod push;
mod reported;
mod serve;
mod settings;
mod shell;
mod spool;
mod tokens;

use clap::{FromArgMatches, Parser, Subcommand};

/// mimalloc instead of the system allocator: a server allocates and frees many small
/// buffers per request, and glibc's malloc was a sixth of a push's CPU time
/// (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// An open, self-hosted implementation of the Lastline Push Detection API.
#[derive(Debug, Parser)]
#[command(name = "pushdetect", version)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"], env = "PUSHDETECT_LOG_FORMAT")]
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
    /// Manage accounts, users, API tokens, licenses, sensors, destinations and rules.
    Admin(admin::AdminArgs),
    /// Copy an embedded (SQLite) installation into PostgreSQL, verified.
    Migrate(migrate::MigrateArgs),
    /// Write a consistent snapshot of the embedded database while the server runs.
    Backup(backup::BackupArgs),
    /// Make a snapshot written by `backup` the database of a new data dir.
    Restore(backup::RestoreArgs),
    /// Push one detection to a server (push_file_download, push_result, push_mail).
    Push(push::PushArgs),
    /// Submit files for analysis and push those scoring above a threshold.
    AnalyseFile(analyse_file::AnalyseFileArgs),
    /// Analyse the attachments and URLs of mails and push the malicious mails.
    AnalyseMail(analyse_mail::AnalyseMailArgs),
    /// An interactive shell for the Push Detection API, like papi_shell.
    #[command(after_help = shell::SYNTAX)]
    Shell(shell::ShellArgs),
    /// Send or inspect a spool of pushes kept while the server was away (--spool).
    Spool(spool::SpoolCommandArgs),
    /// Print the shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(manual::CompletionsArgs),
    /// Print the manual page, or write one per command with --dir.
    Man(manual::ManArgs),
    /// Check a server config file, or print the table of every setting.
    #[command(subcommand)]
    Config(settings::ConfigCmd),
}

impl Command {
    /// Client commands log only warnings, unless --verbose shows the HTTP exchange.
    fn default_log_filter(&self) -> &'static str {
        let verbose = match self {
            Command::Push(a) => a.verbose(),
            Command::AnalyseFile(a) => a.verbose(),
            Command::AnalyseMail(a) => a.verbose(),
            Command::Shell(a) => a.verbose(),
            Command::Spool(a) => a.verbose(),
            _ => return "info,sqlx=warn",
        };
        if verbose {
            "warn,pushdetect_client::http=debug"
        } else {
            "warn"
        }
    }
}

fn init_logging(format: &str, default_filter: &str) {
    let filter = EnvFilter::try_from_env("PUSHDETECT_LOG")
        .unwrap_or_else(|_| EnvFilter::new(default_filter));
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
    let cli = match settings::parse().and_then(|m| Cli::from_arg_matches(&m)) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // Every command's --json asks for JSON on standard output.
    let json_output = std::env::args().skip(1).any(|a| a == "--json");
    // The database, analysed content, spools and keys hold tenants' detections and
    // secrets: whatever pushdetect creates is readable by its own user only (files 0600,
    // directories 0700), whatever umask it was started with.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    init_logging(&cli.log_format, cli.command.default_log_filter());
    let result = match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Init(args) => init::run(args).await,
        Command::Admin(args) => admin::run(args).await,
        Command::Migrate(args) => migrate::run(args).await,
        Command::Backup(args) => backup::run_backup(args).await,
        Command::Restore(args) => backup::run_restore(args).await,
        Command::Push(args) => push::run(args).await,
        Command::AnalyseFile(args) => analyse_file::run(args).await,
        Command::AnalyseMail(args) => analyse_mail::run(args).await,
        Command::Shell(args) => shell::run(args).await,
        Command::Spool(args) => spool::run(args).await,
        Command::Completions(args) => manual::completions(args),
        Command::Man(args) => manual::man(args),
        Command::Config(cmd) => settings::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if json_output && e.downcast_ref::<reported::Reported>().is_none() => {
            // A caller that asked for JSON reads standard output: the failure is JSON there
            // too (and said on stderr, as without --json).
            eprintln!("pushdetect: {}", describe(&e));
            let code = e.chain().find_map(|c| match c.downcast_ref() {
                Some(pushdetect_client::ClientError::Api { code, .. }) => Some(*code),
                Some(pushdetect_client::ClientError::Invalid(refused)) => {
                    Some(refused.code.number())
                }
                _ => None,
            });
            println!(
                "{}",
                serde_json::json!({"error": describe(&e), "error_code": code})
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("pushdetect: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, each said once: a cause whose text its wrapper
/// already quotes (a database error quoting the driver's, which quotes the system's) is
/// not repeated.
fn describe(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}
