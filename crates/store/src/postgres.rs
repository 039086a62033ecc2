//! The scale-out backend: PostgreSQL, shared by every server node.
//!
//! Nodes share nothing but this database. Writes that must not run twice at once across
//! nodes take a transaction-scoped advisory lock on a name (a push's fingerprint, an
//! account's host), task claims skip rows other nodes have locked, and reading a task's
//! score at insert shares a lock on the task that its completion takes alone.

use crate::error::StoreResult;
use crate::sql::{Backend, Bound, SqlStore};
use async_trait::async_trait;
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgConnection, PgPoolOptions, PgQueryResult};
use sqlx::Postgres;
use std::time::Duration;

/// PostgreSQL-backed [`Store`](crate::Store).
pub type PgStore = SqlStore<Postgres>;

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
        crate::error::migrate(&sqlx::migrate!("./migrations/postgres"), &pool).await?;
        Ok(SqlStore::with_pools(pool.clone(), pool))
    }
}

#[async_trait]
impl Backend for Postgres {
    /// A claim skips tasks another node is claiming.
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";
    /// Several nodes share the database.
    const SHARED: bool = true;
    /// Two batches of one node at a time (their locks never cross, see `lock_all`): one is
    /// written while the other waits for its commit. More only added contention in the
    /// benchmark (docs/benchmarks.md).
    const PARALLEL_WRITERS: usize = 2;
    const JSON_ROWS: &'static str = "jsonb_array_elements(CAST($1 AS jsonb)) AS items(value)";
    /// Ids are identity columns (GENERATED ALWAYS): ids reserved by `next_ids` are given so.
    const OVERRIDING: &'static str = "OVERRIDING SYSTEM VALUE";
    const DB_NOW_MS: &'static str =
        "CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) AS BIGINT)";

    fn delete_asked(t: &str) -> String {
        format!("COALESCE(({t}.options::jsonb ->> 'delete_after_analysis') = 'true', FALSE)")
    }

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }

    /// Locks on names until the transaction ends, across every node: `exclusive` ones held
    /// alone, `shared` ones held beside other sharers. Exclusive ones are taken first, each
    /// kind in the order of the lock ids (sorted in a subquery, so that each is taken as its
    /// row arrives; `UNION ALL` runs its parts in order): the same order in every
    /// transaction, so none waits on another in a cycle. One round trip.
    async fn lock_all(
        conn: &mut PgConnection,
        exclusive: &[String],
        shared: &[String],
    ) -> StoreResult<()> {
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

    /// From the table's identity sequence: unique across nodes.
    async fn next_ids(conn: &mut PgConnection, table: &str, n: usize) -> StoreResult<Vec<i64>> {
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

    /// One statement whatever the number of rows: each column's values bound as one array
    /// and unnested (`SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], ...)`), so the SQL
    /// text is the same for every batch of a table.
    async fn insert_rows(
        conn: &mut PgConnection,
        head: &str,
        on_conflict: &str,
        width: usize,
        values: &[Bound],
    ) -> StoreResult<()> {
        /// One column's values, as the array bound for it.
        enum Column<'a> {
            Int(Vec<Option<i64>>),
            Text(Vec<Option<&'a str>>),
            Bool(Vec<bool>),
        }
        let width = width.max(1);
        let mut columns = Vec::with_capacity(width);
        let mut arrays = Vec::with_capacity(width);
        for c in 0..width.min(values.len()) {
            let cells = values.iter().skip(c).step_by(width);
            // Every value of a column is of its first's type (checked by the caller).
            let (column, cast) = match values[c] {
                Bound::Int(_) => (
                    Column::Int(
                        cells
                            .map(|v| match v {
                                Bound::Int(i) => *i,
                                _ => None,
                            })
                            .collect(),
                    ),
                    "BIGINT[]",
                ),
                Bound::Text(_) => (
                    Column::Text(
                        cells
                            .map(|v| match v {
                                Bound::Text(t) => t.as_deref(),
                                _ => None,
                            })
                            .collect(),
                    ),
                    "TEXT[]",
                ),
                Bound::Bool(_) => (
                    Column::Bool(cells.map(|v| matches!(v, Bound::Bool(true))).collect()),
                    "BOOLEAN[]",
                ),
            };
            columns.push(column);
            arrays.push(format!("CAST(${} AS {cast})", c + 1));
        }
        let sql = format!(
            "{head} SELECT * FROM UNNEST({}) {on_conflict}",
            arrays.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for column in columns {
            q = match column {
                Column::Int(v) => q.bind(v),
                Column::Text(v) => q.bind(v),
                Column::Bool(v) => q.bind(v),
            };
        }
        q.execute(conn).await?;
        Ok(())
    }
}
