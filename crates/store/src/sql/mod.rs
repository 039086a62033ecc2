//! The one SQL implementation of the [`Store`], shared by SQLite and PostgreSQL: one SQL
//! text for both (`$N` placeholders, which sqlx binds on SQLite too), generic over a
//! [`Backend`] that names the few differences of dialect and locking.
//!
//! Each part of the store is implemented in its own module: [`Directory`](crate::Directory)
//! in `directory.rs`, [`Analyses`](crate::Analyses) in `analyses.rs`,
//! [`EventLog`](crate::EventLog) in `event_log.rs` (batch writes in `event_writes.rs`, rows
//! written by column name in `batch_rows.rs`), row mapping in `rows.rs`.
//!
//! The generic code needs sqlx to run statements on the backend's connections and to
//! encode and decode `i64`, `bool` and text there. Rust does not carry such bounds from a
//! trait to its users, so every generic `impl` here states the same `where` clause, the one
//! on [`SqlStore`]'s [`Store`] implementation below.

mod analyses;
mod audit;
mod batch_rows;
mod directory;
mod event_log;
mod event_writes;
mod forwarding;
mod retention;
mod rows;
mod statement;
mod tokens;
mod workflow;

pub(crate) use batch_rows::{next_chunk, values_sql};
pub use statement::Bound;

use crate::cache::Lookups;
use crate::completions::Completions;
use crate::error::{StoreError, StoreResult};
use crate::Store;
use async_trait::async_trait;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Type};
use std::sync::Arc;

/// What a database must provide beyond the SQL that both dialects share: each backend's
/// module (`sqlite.rs`, `postgres.rs`) implements it for sqlx's database type.
#[async_trait]
pub trait Backend: Database {
    /// The row-locking clause of claims ("" where the backend has none).
    const SKIP_LOCKED: &'static str;
    /// Whether several server nodes may use the database.
    const SHARED: bool;
    /// How many write transactions are worth running at once.
    const PARALLEL_WRITERS: usize;
    /// A table expression with one row (`value`) per element of the JSON array bound as
    /// `$1`, so that a batch of rows joined as a table is one statement with one SQL text.
    const JSON_ROWS: &'static str;
    /// What an INSERT says to give ids of identity columns explicitly ("" where ids are
    /// given as they are).
    const OVERRIDING: &'static str;
    /// The database clock in milliseconds since the epoch, read when evaluated.
    const DB_NOW_MS: &'static str;

    /// Whether the task row `t` asked for its content to be deleted after analysis.
    fn delete_asked(t: &str) -> String;

    /// How many rows a statement changed.
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// Transaction-scoped locks on names, `exclusive` ones held alone and `shared` ones
    /// beside other sharers, taken in one fixed order, for work that must not run twice
    /// at once across nodes (a no-op where writes are already serialised).
    async fn lock_all(
        conn: &mut Self::Connection,
        exclusive: &[String],
        shared: &[String],
    ) -> StoreResult<()>;

    /// The next `n` ids of `table`, ascending, reserved for this transaction.
    async fn next_ids(conn: &mut Self::Connection, table: &str, n: usize) -> StoreResult<Vec<i64>>;

    /// Inserts rows of `width` values each (`values`, row after row, every column's values
    /// of one type) with `head` (`INSERT INTO t (a, b) ...`) and `on_conflict` after the
    /// rows, binding the values as they are, in as few statements as the backend allows.
    async fn insert_rows(
        conn: &mut Self::Connection,
        head: &str,
        on_conflict: &str,
        width: usize,
        values: &[Bound],
    ) -> StoreResult<()>;
}

/// The [`Store`] over one database: a pool that writes and one that reads (the same pool
/// where the database has no separate readers), and the caches in front of them.
#[derive(Debug)]
pub struct SqlStore<B: Backend> {
    writer: Pool<B>,
    reader: Pool<B>,
    lookups: Arc<Lookups>,
    completions: Completions,
}

impl<B: Backend> Clone for SqlStore<B> {
    fn clone(&self) -> Self {
        SqlStore {
            writer: self.writer.clone(),
            reader: self.reader.clone(),
            lookups: self.lookups.clone(),
            completions: self.completions.clone(),
        }
    }
}

impl<B: Backend> SqlStore<B> {
    /// A store over these pools, with empty caches.
    pub(crate) fn with_pools(writer: Pool<B>, reader: Pool<B>) -> Self {
        SqlStore {
            writer,
            reader,
            lookups: Default::default(),
            completions: Default::default(),
        }
    }

    /// The pool that writes, for whole-database work such as copying.
    pub(crate) fn pool(&self) -> &Pool<B> {
        &self.writer
    }
}

/// The SQL of a LIKE pattern that finds `text` as a plain substring.
fn like_pattern(text: &str) -> String {
    format!(
        "%{}%",
        text.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

#[async_trait]
impl<B> Store for SqlStore<B>
where
    B: Backend,
    for<'c> &'c mut B::Connection: Executor<'c, Database = B>,
    for<'q> B::Arguments<'q>: IntoArguments<'q, B>,
    for<'r> &'r str: ColumnIndex<B::Row>,
    usize: ColumnIndex<B::Row>,
    for<'q> i64: Encode<'q, B> + Decode<'q, B> + Type<B>,
    for<'q> bool: Encode<'q, B> + Decode<'q, B> + Type<B>,
    for<'q> String: Encode<'q, B> + Decode<'q, B> + Type<B>,
    for<'q> &'q str: Encode<'q, B> + Type<B>,
    for<'q> Option<i64>: Encode<'q, B>,
    for<'q> Option<String>: Encode<'q, B>,
{
    async fn purge(&self, sessions_before_ms: i64, now_ms: i64) -> StoreResult<u64> {
        let mut tx = self.writer.begin().await?;
        let a = sqlx::query("DELETE FROM sessions WHERE last_seen_ms < $1")
            .bind(sessions_before_ms)
            .execute(&mut *tx)
            .await?;
        let b = sqlx::query("DELETE FROM push_fingerprints WHERE keep_until_ms < $1")
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        // Deliveries a push queued for a destination removed while it was being stored.
        let c = sqlx::query(
            "DELETE FROM outbox WHERE NOT EXISTS \
             (SELECT 1 FROM destinations d WHERE d.id = outbox.destination_id)",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(B::rows_affected(&a) + B::rows_affected(&b) + B::rows_affected(&c))
    }

    async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

impl<B> SqlStore<B>
where
    B: Backend,
    for<'c> &'c mut B::Connection: Executor<'c, Database = B>,
    for<'q> B::Arguments<'q>: IntoArguments<'q, B>,
{
    /// Fails with NotFound when an update touched no row.
    fn expect_row(result: B::QueryResult, what: String) -> StoreResult<()> {
        if B::rows_affected(&result) == 0 {
            Err(StoreError::NotFound(what))
        } else {
            Ok(())
        }
    }

    /// Sets one column of one row and, when `end_sessions` names the sessions column that
    /// refers to that row, ends those sessions, and writes the change's audit record, in
    /// one transaction. NotFound if no such row.
    #[allow(clippy::too_many_arguments)]
    async fn update_row<V>(
        &self,
        table: &str,
        column: &str,
        value: V,
        id: i64,
        end_sessions: Option<&str>,
        actor: &crate::records::Actor,
        record: crate::records::NewAudit,
    ) -> StoreResult<()>
    where
        V: Send + for<'q> Encode<'q, B> + Type<B> + 'static,
        for<'r> &'r str: ColumnIndex<B::Row>,
        usize: ColumnIndex<B::Row>,
        for<'q> i64: Encode<'q, B> + Decode<'q, B> + Type<B>,
        for<'q> bool: Encode<'q, B> + Decode<'q, B> + Type<B>,
        for<'q> String: Encode<'q, B> + Decode<'q, B> + Type<B>,
        for<'q> &'q str: Encode<'q, B> + Type<B>,
        for<'q> Option<i64>: Encode<'q, B>,
        for<'q> Option<String>: Encode<'q, B>,
    {
        let mut tx = self.writer.begin().await?;
        let r = sqlx::query(&format!("UPDATE {table} SET {column} = $1 WHERE id = $2"))
            .bind(value)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        Self::expect_row(r, format!("{} {id}", table.trim_end_matches('s')))?;
        if let Some(session_column) = end_sessions {
            sqlx::query(&format!("DELETE FROM sessions WHERE {session_column} = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        Self::write_audit(
            &mut tx,
            actor,
            &record,
            chrono::Utc::now().timestamp_millis(),
        )
        .await?;
        tx.commit().await?;
        self.lookups.credentials_changed();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn a_like_pattern_finds_its_text_literally() {
        assert_eq!(like_pattern("a%b_c\\"), "%a\\%b\\_c\\\\%");
    }
}
