//! Rows written by column name. Each row is built with [`row!`], which writes every value
//! beside its column's name; a whole batch ([`Rows`]) is bound as one JSON array and read
//! back column by column (the backend's `JSON_ROWS`), so it costs one statement with one
//! SQL text whatever its size. On the wire a row is an array in the order of its columns
//! and is read by position, which costs the database less than finding each value by name
//! (measured: about a fifth of SQLite's batch insert rate); the positions are derived from
//! the names here, never written by hand.

use super::{Backend, SqlStore};
use crate::error::{StoreError, StoreResult};
use crate::schema::{self, Kind};
use serde_json::Value;
use sqlx::{Encode, Executor, IntoArguments, Type};

/// One row of named columns: `row! { id: id, host: h }` is the column names (`["id",
/// "host"]`) and the row's values as a JSON array in that order, for [`Rows::push`].
macro_rules! row {
    ($($column:ident: $value:expr),+ $(,)?) => {
        (
            &[$(stringify!($column)),+] as &'static [&'static str],
            serde_json::json!([$($value),+]),
        )
    };
}
pub(super) use row;

/// Rows of one statement, every one made by the same [`row!`].
#[derive(Debug, Default)]
pub(super) struct Rows {
    columns: &'static [&'static str],
    rows: Vec<Value>,
}

impl Rows {
    /// Adds a row made by [`row!`].
    pub(super) fn push(&mut self, (columns, row): (&'static [&'static str], Value)) {
        self.columns = columns;
        self.rows.push(row);
    }

    /// Whether there are none.
    pub(super) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The SQL that reads column `key` of the row `value` as a BIGINT.
    pub(super) fn int(&self, key: &str) -> String {
        format!("CAST(value ->> {} AS BIGINT)", self.at(key))
    }

    /// The SQL that reads column `key` of the row `value` as text.
    pub(super) fn text(&self, key: &str) -> String {
        format!("value ->> {}", self.at(key))
    }

    /// The position of `key` (past the end, so read as NULL, if it is not a column).
    fn at(&self, key: &str) -> usize {
        self.columns
            .iter()
            .position(|k| *k == key)
            .unwrap_or(self.columns.len())
    }

    /// The JSON text bound as `$1`.
    pub(super) fn json(&self) -> StoreResult<String> {
        serde_json::to_string(&self.rows)
            .map_err(|e| StoreError::Corrupt(format!("rows as JSON: {e}")))
    }
}

impl FromIterator<(&'static [&'static str], Value)> for Rows {
    fn from_iter<I: IntoIterator<Item = (&'static [&'static str], Value)>>(iter: I) -> Self {
        let mut rows = Rows::default();
        for row in iter {
            rows.push(row);
        }
        rows
    }
}

/// For rows of `table` with these columns: the column list of the INSERT, and the SELECT
/// list that reads each column from `value` by position as its type. A column that the
/// table does not have is refused.
fn insert_lists(table: &str, columns: &[&str]) -> StoreResult<(String, String)> {
    let t = schema::table(table)
        .ok_or_else(|| StoreError::Corrupt(format!("no table '{table}' in the schema")))?;
    let mut select = Vec::with_capacity(columns.len());
    for (i, column) in columns.iter().enumerate() {
        let kind = t
            .columns
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, k)| *k)
            .ok_or_else(|| StoreError::Corrupt(format!("no column '{column}' in {table}")))?;
        select.push(match kind {
            Kind::Int | Kind::OptInt => format!("CAST(value ->> {i} AS BIGINT)"),
            Kind::Text | Kind::OptText => format!("value ->> {i}"),
            Kind::Bool => format!("CAST(value ->> {i} AS BOOLEAN)"),
        });
    }
    Ok((columns.join(", "), select.join(", ")))
}

impl<B> SqlStore<B>
where
    B: Backend,
    for<'c> &'c mut B::Connection: Executor<'c, Database = B>,
    for<'q> B::Arguments<'q>: IntoArguments<'q, B>,
    for<'q> String: Encode<'q, B> + Type<B>,
{
    /// Inserts `rows` into `table`. `on_conflict` says what to do with a row that exists
    /// ("" to fail). Ids of identity columns are given as the rows give them.
    pub(super) async fn insert_rows(
        conn: &mut B::Connection,
        table: &str,
        rows: &Rows,
        on_conflict: &str,
    ) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let (columns, select) = insert_lists(table, rows.columns)?;
        let overriding = match schema::table(table) {
            Some(t) if t.identity && rows.columns.contains(&"id") => B::OVERRIDING,
            _ => "",
        };
        // (`WHERE true` keeps SQLite from reading ON CONFLICT as a join's ON.)
        sqlx::query(&format!(
            "INSERT INTO {table} ({columns}) {overriding} SELECT {select} FROM {} WHERE true \
             {on_conflict}",
            B::JSON_ROWS
        ))
        .bind(rows.json()?)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_column_is_read_at_its_position_as_its_type() {
        let (columns, select) =
            insert_lists("event_hosts", &["account_id", "event_id", "host"]).unwrap();
        assert_eq!(columns, "account_id, event_id, host");
        assert_eq!(
            select,
            "CAST(value ->> 0 AS BIGINT), CAST(value ->> 1 AS BIGINT), value ->> 2"
        );
        let (_, select) = insert_lists("accounts", &["disabled"]).unwrap();
        assert_eq!(select, "CAST(value ->> 0 AS BOOLEAN)");
    }

    #[test]
    fn rows_name_their_columns_and_travel_as_arrays() {
        let rows: Rows = [(1, 2)]
            .into_iter()
            .map(|(from, into)| row! { from: from, into: into })
            .collect();
        assert_eq!(rows.columns, ["from", "into"]);
        assert_eq!(rows.json().unwrap(), "[[1,2]]");
        assert_eq!(rows.int("into"), "CAST(value ->> 1 AS BIGINT)");
        assert_eq!(rows.text("from"), "value ->> 0");
        assert_eq!(rows.text("onto"), "value ->> 2");
        assert!(!rows.is_empty());
        assert!(Rows::default().is_empty());
    }

    #[test]
    fn a_column_that_the_table_does_not_have_is_refused() {
        let err = insert_lists("event_hosts", &["event_id", "hots"]).unwrap_err();
        assert!(
            err.to_string().contains("no column 'hots' in event_hosts"),
            "{err}"
        );
        let err = insert_lists("event_host", &["event_id"]).unwrap_err();
        assert!(err.to_string().contains("no table 'event_host'"), "{err}");
    }
}
