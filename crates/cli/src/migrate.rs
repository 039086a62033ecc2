//! `pushdetect migrate`: moves an embedded installation to PostgreSQL.

use crate::database::{masked, DB_FILE};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

/// Arguments of `pushdetect migrate`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// The data dir of the SQLite installation (holding pushdetect.db). Stop its server
    /// first.
    #[arg(long)]
    from: PathBuf,
    /// The PostgreSQL database to copy into (created when missing; must hold no accounts).
    #[arg(long)]
    database_url: String,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Copies every table, verifies it, and reports the rows copied per table.
pub async fn run(args: MigrateArgs) -> Result<()> {
    if !(args.database_url.starts_with("postgres://")
        || args.database_url.starts_with("postgresql://"))
    {
        bail!("--database-url must be a postgres:// URL");
    }
    let source = args.from.join(DB_FILE);
    if !source.exists() {
        bail!(
            "no pushdetect database in {} (expected {})",
            args.from.display(),
            source.display()
        );
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let progress = |table: &str, rows: u64| bar.set_message(format!("{table}: {rows} rows"));
    let report = pushdetect_store::copy::sqlite_to_postgres(&source, &args.database_url, &progress)
        .await
        .with_context(|| {
            format!(
                "copying {} into {} failed; nothing was written",
                source.display(),
                masked(&args.database_url)
            )
        })?;
    bar.finish_and_clear();
    if args.json {
        let tables: serde_json::Map<String, serde_json::Value> = report
            .tables
            .iter()
            .map(|(t, n)| (t.clone(), (*n).into()))
            .collect();
        println!(
            "{}",
            serde_json::json!({"verified": true, "tables": tables})
        );
    } else {
        for (table, rows) in &report.tables {
            println!("{table:<18} {rows:>10} rows copied and verified");
        }
        println!(
            "{} is now in {}. Start the servers with --database-url and a --data-dir every node shares (copy {}/content there).",
            source.display(),
            masked(&args.database_url),
            args.from.display()
        );
    }
    Ok(())
}
