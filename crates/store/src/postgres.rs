//! The scale-out backend: PostgreSQL, shared by every server node.
//!
//! Nodes share nothing but this database. Writes that must not run twice at once across
//! nodes take a transaction-scoped advisory lock on a name (a push's fingerprint, an
//! account's host), task claims skip rows other nodes have locked, and reading a task's
//! score at insert shares a lock on the task that its completion takes alone.

use crate::error::{conflict_as, StoreError, StoreResult};
use crate::records::*;
use crate::Store;
use async_trait::async_trait;
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, QueryBuilder, Row};
use std::time::Duration;

/// PostgreSQL-backed [`Store`].
#[derive(Debug, Clone)]
pub struct PgStore {
    writer: PgPool,
    reader: PgPool,
    lookups: std::sync::Arc<crate::cache::Lookups>,
    completions: crate::completions::Completions,
}

impl PgStore {
    /// Connects to a `postgres://` URL, creating the database when it does not exist yet
    /// (given the right), and applies the embedded migrations (idempotent: a node joining
    /// a database already set up applies nothing).
    pub async fn connect(url: &str) -> StoreResult<Self> {
        if !Postgres::database_exists(url).await? {
            Postgres::create_database(url).await?;
        }
        let pool = PgPoolOptions::new()
            .max_connections(32)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PgStore {
            writer: pool.clone(),
            reader: pool,
            lookups: Default::default(),
            completions: Default::default(),
        })
    }
}

type Db = Postgres;
type DbRow = PgRow;
type DbConn = PgConnection;
type ThisStore = PgStore;
/// A claim skips tasks another node is claiming.
const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";

/// Locks on names until the transaction ends, across every node: `exclusive` ones held
/// alone, `shared` ones held beside other sharers. Exclusive ones are taken first, each
/// kind in the order of the lock ids (sorted in a subquery, so that each is taken as its
/// row arrives; `UNION ALL` runs its parts in order): the same order in every
/// transaction, so none waits on another in a cycle. One round trip.
async fn lock_all(conn: &mut DbConn, exclusive: &[String], shared: &[String]) -> StoreResult<()> {
    if exclusive.is_empty() && shared.is_empty() {
        return Ok(());
    }
    let sorted = |n: u8| {
        format!(
            "(SELECT DISTINCT hashtextextended(key, 0) AS id FROM unnest(CAST(${n} AS text[])) \
             AS keys(key) ORDER BY id)"
        )
    };
    sqlx::query(&format!(
        "SELECT pg_advisory_xact_lock(id) FROM {} AS alone \
         UNION ALL SELECT pg_advisory_xact_lock_shared(id) FROM {} AS beside",
        sorted(1),
        sorted(2)
    ))
    .bind(exclusive)
    .bind(shared)
    .execute(conn)
    .await?;
    Ok(())
}

/// Several nodes share the database.
const SHARED: bool = true;
/// Two batches of one node at a time (their locks never cross, see `lock_all`): one is
/// written while the other waits for its commit. More only added contention in the
/// benchmark (docs/benchmarks.md).
const PARALLEL_WRITERS: usize = 2;
/// The elements of the JSON array bound as `$1`.
const JSON_ROWS: &str = "jsonb_array_elements(CAST($1 AS jsonb)) AS items(value)";
/// Ids are identity columns (GENERATED ALWAYS): ids reserved by `next_ids` are given so.
const OVERRIDING: &str = "OVERRIDING SYSTEM VALUE";

/// The next `n` ids of `table` from its identity sequence, ascending (unique across nodes).
async fn next_ids(conn: &mut DbConn, table: &str, n: usize) -> StoreResult<Vec<i64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let mut ids: Vec<i64> = sqlx::query_scalar(
        "SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2)",
    )
    .bind(table)
    .bind(i64::try_from(n).unwrap_or(i64::MAX))
    .fetch_all(conn)
    .await?;
    ids.sort_unstable();
    Ok(ids)
}

/// Whether the task row `t` asked for its content to be deleted after analysis.
fn delete_asked(t: &str) -> String {
    format!("COALESCE(({t}.options::jsonb ->> 'delete_after_analysis') = 'true', FALSE)")
}

/// The database clock in milliseconds since the epoch, read when evaluated.
const DB_NOW_MS: &str = "CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) AS BIGINT)";

include!("shared_sql.rs");
include!("event_writes.rs");
