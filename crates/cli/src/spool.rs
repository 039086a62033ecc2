//! The client spool on the command line: `--spool DIR` for the commands that push
//! (`push`, `analyse-file`, `analyse-mail`), and `pushdetect spool drain|status DIR`.
//! The queue itself is the client library's [`pushdetect_client::spool`].

use crate::client_args::ClientArgs;
use anyhow::Context;
use clap::{Args, Subcommand};
use pushdetect_client::spool::{DrainReport, DRAIN_BATCH};
use pushdetect_client::{ClientError, Delivery, PapiClient, PushDetection, Spool};
use pushdetect_model::{EventKind, FormParams};
use serde_json::json;
use std::path::PathBuf;
use tokio::sync::Mutex;

/// `--spool DIR` of the commands that push.
#[derive(Debug, Clone, Args)]
pub struct SpoolArgs {
    /// Keep pushes that cannot be delivered now (server unreachable or failing) in this
    /// durable local queue, sending what it holds first; `pushdetect spool drain DIR`
    /// sends it later. Each push then carries an idempotency key, so a resend is stored
    /// once.
    #[arg(long, global = true, value_name = "DIR", env = "PUSHDETECT_SPOOL")]
    pub spool: Option<PathBuf>,
}

impl SpoolArgs {
    /// The spool, opened and locked, if one was given.
    pub fn open(&self) -> anyhow::Result<Option<Mutex<Spool>>> {
        self.spool
            .as_deref()
            .map(|dir| Spool::open(dir).map(Mutex::new))
            .transpose()
            .context("cannot use the spool")
    }
}

/// Pushes one event: through the spool when there is one (after what it holds; kept in
/// it when it cannot be delivered now), else directly.
pub async fn deliver(
    papi: &PapiClient,
    spool: Option<&Mutex<Spool>>,
    kind: EventKind,
    params: &FormParams,
) -> Result<Delivery, ClientError> {
    let push = PushDetection::new(papi);
    match spool {
        Some(spool) => spool.lock().await.deliver(&push, kind, params).await,
        None => push.push(kind, params).await.map(|_| Delivery::Pushed),
    }
}

/// Send or inspect a spool of pushes kept while the server was away.
#[derive(Debug, Args)]
pub struct SpoolCommandArgs {
    #[command(subcommand)]
    command: SpoolCommand,
}

impl SpoolCommandArgs {
    /// Whether --verbose was given.
    pub fn verbose(&self) -> bool {
        match &self.command {
            SpoolCommand::Drain { client, .. } => client.verbose,
            SpoolCommand::Status { client, .. } => client.verbose,
        }
    }
}

#[derive(Debug, Subcommand)]
enum SpoolCommand {
    /// Send the spooled pushes in order (batch pushes), removing each after the server's
    /// answer; exits non-zero if some are left.
    Drain {
        /// The spool directory.
        dir: PathBuf,
        /// Pushes per request.
        #[arg(long, default_value_t = DRAIN_BATCH, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000))]
        batch: usize,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// How many pushes wait, since when, and the last delivery error.
    Status {
        /// The spool directory.
        dir: PathBuf,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// Runs `pushdetect spool …`.
pub async fn run(args: SpoolCommandArgs) -> anyhow::Result<()> {
    match args.command {
        SpoolCommand::Drain { dir, batch, client } => {
            let config = client.load()?;
            let papi = client.papi(&config)?;
            let spool = Spool::open(&dir).context("cannot use the spool")?;
            let report = spool.drain(&PushDetection::new(&papi), batch).await?;
            print_report(&report, client.json);
            if let Some(why) = &report.stopped {
                return Err(crate::reported::Reported(format!(
                    "{} pushes left in the spool: {why}",
                    report.left
                ))
                .into());
            }
            Ok(())
        }
        SpoolCommand::Status { dir, client } => {
            anyhow::ensure!(
                dir.join("queue").is_dir(),
                "{} is not a spool (no queue directory in it)",
                dir.display()
            );
            let status = Spool::open(&dir)
                .context("cannot use the spool")?
                .status()?;
            if client.json {
                println!("{}", serde_json::to_string(&status)?);
                return Ok(());
            }
            let oldest = status.oldest_spooled_at_ms.map_or("-".to_owned(), |ms| {
                let age = chrono::Utc::now().timestamp_millis().saturating_sub(ms) / 1000;
                let when = chrono::DateTime::from_timestamp_millis(ms)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default();
                format!("{when} ({age} s ago)")
            });
            println!("queued: {}", status.queued);
            println!("oldest: {oldest}");
            println!(
                "last error: {}",
                status.last_error.as_deref().unwrap_or("-")
            );
            println!("rejected: {}", status.rejected);
            println!("corrupt: {}", status.corrupt);
            Ok(())
        }
    }
}

/// Prints what a drain did.
pub fn print_report(report: &DrainReport, as_json: bool) {
    if as_json {
        println!(
            "{}",
            json!({
                "sent": report.sent, "duplicates": report.duplicates,
                "rejected": report.rejected, "corrupt": report.corrupt,
                "stopped": report.stopped, "left": report.left,
            })
        );
        return;
    }
    for c in &report.corrupt {
        eprintln!("corrupt record set aside: {c}");
    }
    for r in &report.rejected {
        eprintln!("refused by the server, set aside: {r}");
    }
    println!(
        "{} sent, {} already stored, {} refused, {} corrupt, {} left",
        report.sent,
        report.duplicates,
        report.rejected.len(),
        report.corrupt.len(),
        report.left
    );
}
