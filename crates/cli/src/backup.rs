//! `pushdetect backup` and `pushdetect restore`: a consistent snapshot of the embedded
//! database taken while the server runs, and a data dir made from one. PostgreSQL
//! installations use pg_dump and pg_restore instead (docs/operations.md).

use crate::database::DatabaseArgs;
use anyhow::{Context, Result};
use pushdetect_store::backup::{self, Snapshot};
use std::path::PathBuf;

/// Arguments of `pushdetect backup`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// The file to write (it must not exist). The snapshot holds every event stored
    /// before the backup began; the server keeps running meanwhile.
    #[arg(long)]
    to: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `pushdetect restore`.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// A file written by `pushdetect backup`.
    #[arg(long)]
    from: PathBuf,
    /// Where it becomes the database: a data dir without one (or --database-url sqlite:PATH).
    #[command(flatten)]
    db: DatabaseArgs,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

fn report(what: &str, path: &std::path::Path, s: &Snapshot, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({
                "file": path.display().to_string(),
                "bytes": s.bytes,
                "schema": s.schema,
                "accounts": s.accounts,
                "events": s.events,
            })
        );
    } else {
        println!(
            "{what} {}: {} bytes, schema {}, {} accounts, {} events, integrity checked",
            path.display(),
            s.bytes,
            s.schema,
            s.accounts,
            s.events
        );
    }
}

/// Writes the snapshot and checks it.
pub async fn run_backup(args: BackupArgs) -> Result<()> {
    let db = args.db.sqlite_file()?;
    let snapshot = backup::backup(&db, &args.to)
        .await
        .with_context(|| format!("cannot back up {} to {}", db.display(), args.to.display()))?;
    report("wrote", &args.to, &snapshot, args.json);
    Ok(())
}

/// Checks the snapshot and makes it the data dir's database.
pub async fn run_restore(args: RestoreArgs) -> Result<()> {
    let db = args.db.sqlite_file()?;
    let snapshot = backup::restore(&args.from, &db)
        .await
        .with_context(|| format!("cannot restore {} as {}", args.from.display(), db.display()))?;
    report("restored", &db, &snapshot, args.json);
    if !args.json {
        println!(
            "Start the server on it (pushdetect serve {}); analysed files kept for \
             re-analysis are not in a backup: copy the old data dir's content/ there too.",
            args.db.describe_flags()
        );
    }
    Ok(())
}
