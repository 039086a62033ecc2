//! The embedded default backend: SQLite in WAL mode, `synchronous = FULL`, in the data dir.
//!
//! Writes go through a pool of one connection, so write transactions are serialised in
//! process (no SQLITE_BUSY between our own writers, and the resent-push check and the insert
//! are atomic); reads use a separate pool and never wait for writers.

use crate::error::StoreResult;
use crate::sql::{next_chunk, values_sql, Backend, Bound, SqlStore};
use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};
use sqlx::{Sqlite, SqliteConnection};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// Rows of one multi-row INSERT at most: 128 rows of the widest table (16 columns) bind
/// 2,048 values, far below SQLite's limit of 32,766, and the eight sizes up to it (powers
/// of two, see `next_chunk`) keep a few prepared texts per table.
const MOST_ROWS_PER_INSERT: usize = 128;

/// Prepared statements kept per connection: every statement of the store, and the
/// multi-row INSERTs of each size for each table written in batches, with room to spare
/// (sqlx keeps 100 by default).
const STATEMENT_CACHE: usize = 256;

/// SQLite-backed [`Store`](crate::Store).
pub type SqliteStore = SqlStore<Sqlite>;

impl SqliteStore {
    /// Opens (creating if missing) the database file and applies the embedded migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        Self::connect(SqliteConnectOptions::new().filename(path)).await
    }

    /// Opens a database given as a `sqlite:` URL.
    pub async fn open_url(url: &str) -> StoreResult<Self> {
        Self::connect(SqliteConnectOptions::from_str(url)?).await
    }

    /// Opens the database named by `options` with the settings every connection of the
    /// store has (created if missing, WAL, `synchronous = FULL`, foreign keys, the busy
    /// timeout and the statement cache) and applies the migrations.
    async fn connect(options: SqliteConnectOptions) -> StoreResult<Self> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .statement_cache_capacity(STATEMENT_CACHE);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        crate::error::migrate(&sqlx::migrate!("./migrations/sqlite"), &writer).await?;
        let readers = std::thread::available_parallelism()
            .map(|n| n.get() as u32 * 2)
            .unwrap_or(4)
            .max(4);
        let reader = SqlitePoolOptions::new()
            .max_connections(readers)
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqlStore::with_pools(writer, reader))
    }
}

#[async_trait]
impl Backend for Sqlite {
    /// SQLite has no row locks: its single writer serialises claims.
    const SKIP_LOCKED: &'static str = "";
    /// The embedded database belongs to one server.
    const SHARED: bool = false;
    /// One writer connection: a second transaction would only wait for the first.
    const PARALLEL_WRITERS: usize = 1;
    const JSON_ROWS: &'static str = "json_each($1)";
    /// Ids are given explicitly as they are.
    const OVERRIDING: &'static str = "";
    const DB_NOW_MS: &'static str =
        "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)";

    fn delete_asked(t: &str) -> String {
        format!("COALESCE(json_extract({t}.options, '$.delete_after_analysis'), 0) = 1")
    }

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    /// Nothing to lock: write transactions already run one at a time.
    async fn lock_all(
        _conn: &mut SqliteConnection,
        _exclusive: &[String],
        _shared: &[String],
    ) -> StoreResult<()> {
        Ok(())
    }

    /// Ids are AUTOINCREMENT (never reused), and the largest given so far is in
    /// `sqlite_sequence`; with writes serialised, the next `n` are this transaction's.
    async fn next_ids(conn: &mut SqliteConnection, table: &str, n: usize) -> StoreResult<Vec<i64>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let last: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = $1")
                .bind(table)
                .fetch_optional(conn)
                .await?;
        let last = last.unwrap_or(0);
        Ok((1..=n as i64).map(|k| last + k).collect())
    }

    /// Multi-row `VALUES`, each value bound as it is (text borrowed, not copied), in
    /// statements of at most [`MOST_ROWS_PER_INSERT`] rows.
    async fn insert_rows(
        conn: &mut SqliteConnection,
        head: &str,
        on_conflict: &str,
        width: usize,
        values: &[Bound],
    ) -> StoreResult<()> {
        let width = width.max(1);
        let total = values.len() / width;
        let mut done = 0;
        while done < total {
            let n = next_chunk(total - done, MOST_ROWS_PER_INSERT);
            let sql = values_sql(head, width, n, on_conflict);
            let mut q = sqlx::query(&sql);
            for v in &values[done * width..(done + n) * width] {
                q = match v {
                    Bound::Int(v) => q.bind(*v),
                    Bound::Text(v) => q.bind(v.as_deref()),
                    Bound::Bool(v) => q.bind(*v),
                };
            }
            q.execute(&mut *conn).await?;
            done += n;
        }
        Ok(())
    }
}
