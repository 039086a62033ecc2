//! The embedded default backend: SQLite in WAL mode, `synchronous = FULL`, in the data dir.
//!
//! Writes go through a pool of one connection, so write transactions are serialised in
//! process (no SQLITE_BUSY between our own writers, and the resent-push check and the insert
//! are atomic); reads use a separate pool and never wait for writers.

use crate::error::{conflict_as, StoreError, StoreResult};
use crate::records::*;
use crate::Store;
use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// SQLite-backed [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    lookups: std::sync::Arc<crate::cache::Lookups>,
    completions: crate::completions::Completions,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file and applies the embedded migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        Self::connect(options).await
    }

    /// Opens a database given as a `sqlite:` URL.
    pub async fn open_url(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        Self::connect(options).await
    }

    async fn connect(options: SqliteConnectOptions) -> StoreResult<Self> {
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let readers = std::thread::available_parallelism()
            .map(|n| n.get() as u32 * 2)
            .unwrap_or(4)
            .max(4);
        let reader = SqlitePoolOptions::new()
            .max_connections(readers)
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore {
            writer,
            reader,
            lookups: Default::default(),
            completions: Default::default(),
        })
    }
}

type Db = Sqlite;
type DbRow = SqliteRow;
type DbConn = SqliteConnection;
type ThisStore = SqliteStore;
/// SQLite has no row locks: its single writer serialises claims.
const SKIP_LOCKED: &str = "";

/// Nothing to lock: write transactions already run one at a time.
async fn lock_all(
    _conn: &mut DbConn,
    _exclusive: &[String],
    _shared: &[String],
) -> StoreResult<()> {
    Ok(())
}

/// The embedded database belongs to one server.
const SHARED: bool = false;
/// One writer connection: a second transaction would only wait for the first.
const PARALLEL_WRITERS: usize = 1;
/// The elements of the JSON array bound as `$1`.
const JSON_ROWS: &str = "json_each($1)";
/// Ids are given explicitly as they are.
const OVERRIDING: &str = "";

/// The next `n` ids of `table`, ascending. Its ids are AUTOINCREMENT (never reused), and
/// the largest given so far is in `sqlite_sequence`; with writes serialised, the next `n`
/// are this transaction's.
async fn next_ids(conn: &mut DbConn, table: &str, n: usize) -> StoreResult<Vec<i64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let last: Option<i64> = sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = $1")
        .bind(table)
        .fetch_optional(conn)
        .await?;
    let last = last.unwrap_or(0);
    Ok((1..=n as i64).map(|k| last + k).collect())
}

/// Whether the task row `t` asked for its content to be deleted after analysis.
fn delete_asked(t: &str) -> String {
    format!("COALESCE(json_extract({t}.options, '$.delete_after_analysis'), 0) = 1")
}

/// The database clock in milliseconds since the epoch, read when evaluated.
const DB_NOW_MS: &str = "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)";

include!("shared_sql.rs");
include!("event_writes.rs");
