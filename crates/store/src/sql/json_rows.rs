//! Rows written by column name. A batch of rows of one table is bound as one JSON array of
//! objects keyed by column and read back column by column (the backend's `JSON_ROWS`), so
//! a whole batch costs one statement with one SQL text whatever its size, and a value
//! lands in the column its key names, with that column's type from [`crate::schema`].

use super::{Backend, SqlStore};
use crate::error::{StoreError, StoreResult};
use crate::schema::{self, Kind};
use serde_json::Value;
use sqlx::{Encode, Executor, IntoArguments, Type};

/// The SQL that reads the element `key` of the JSON row `value` as a BIGINT.
pub(super) fn int(key: &str) -> String {
    format!("CAST(value ->> '{key}' AS BIGINT)")
}

/// The SQL that reads the element `key` of the JSON row `value` as text.
pub(super) fn text(key: &str) -> String {
    format!("value ->> '{key}'")
}

/// For rows of `table` with these keys: the column list of the INSERT, and the SELECT
/// list that reads each column from `value` as its type. A key that is not a column of
/// the table is refused (a row must not be stored short of a value).
fn insert_lists<'k>(
    table: &str,
    keys: impl Iterator<Item = &'k String>,
) -> StoreResult<(String, String)> {
    let t = schema::table(table)
        .ok_or_else(|| StoreError::Corrupt(format!("no table '{table}' in the schema")))?;
    let (mut columns, mut select) = (Vec::new(), Vec::new());
    for key in keys {
        let kind = t
            .columns
            .iter()
            .find(|(c, _)| c == key)
            .map(|(_, k)| *k)
            .ok_or_else(|| StoreError::Corrupt(format!("no column '{key}' in {table}")))?;
        select.push(match kind {
            Kind::Int | Kind::OptInt => int(key),
            Kind::Text | Kind::OptText => text(key),
            Kind::Bool => format!("CAST(value ->> '{key}' AS BOOLEAN)"),
        });
        columns.push(key.as_str());
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
    /// Inserts `rows` into `table`: JSON objects keyed by column name, each with the keys of
    /// the first. `on_conflict` says what to do with a row that exists ("" to fail).
    /// Ids of identity columns are given as the rows give them.
    pub(super) async fn insert_rows(
        conn: &mut B::Connection,
        table: &str,
        rows: Vec<Value>,
        on_conflict: &str,
    ) -> StoreResult<()> {
        let Some(first) = rows.first().and_then(Value::as_object) else {
            return Ok(());
        };
        let (columns, select) = insert_lists(table, first.keys())?;
        let overriding = match schema::table(table) {
            Some(t) if t.identity && first.contains_key("id") => B::OVERRIDING,
            _ => "",
        };
        // (`WHERE true` keeps SQLite from reading ON CONFLICT as a join's ON.)
        sqlx::query(&format!(
            "INSERT INTO {table} ({columns}) {overriding} SELECT {select} FROM {} WHERE true \
             {on_conflict}",
            B::JSON_ROWS
        ))
        .bind(Value::Array(rows).to_string())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn each_column_is_read_by_its_name_as_its_type() {
        let (columns, select) = insert_lists(
            "event_hosts",
            keys(&["account_id", "event_id", "host"]).iter(),
        )
        .unwrap();
        assert_eq!(columns, "account_id, event_id, host");
        assert_eq!(
            select,
            "CAST(value ->> 'account_id' AS BIGINT), CAST(value ->> 'event_id' AS BIGINT), \
             value ->> 'host'"
        );
        let (_, select) = insert_lists("accounts", keys(&["disabled"]).iter()).unwrap();
        assert_eq!(select, "CAST(value ->> 'disabled' AS BOOLEAN)");
    }

    #[test]
    fn a_key_that_is_not_a_column_is_refused() {
        let err = insert_lists("event_hosts", keys(&["event_id", "hots"]).iter()).unwrap_err();
        assert!(
            err.to_string().contains("no column 'hots' in event_hosts"),
            "{err}"
        );
        let err = insert_lists("event_host", keys(&["event_id"]).iter()).unwrap_err();
        assert!(err.to_string().contains("no table 'event_host'"), "{err}");
    }
}
