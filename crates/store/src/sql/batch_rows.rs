//! Rows written by column name. Each row is built with [`row!`], which writes every value
//! beside its column's name, as typed values ([`Bound`]) that a batch ([`Rows`]) keeps in
//! one flat list.
//!
//! An INSERT binds the values as they are, through the backend ([`Backend::insert_rows`]):
//! multi-row `VALUES` on SQLite, one array per column unnested on PostgreSQL. No text is
//! built only for the database to parse it again (JSON rows cost SQLite about a fifth of
//! its CPU in a batch write, docs/benchmarks.md). The few statements that read a batch as
//! a table to join with (the incidents a batch reaches, merges, updates) still bind it as
//! one JSON array read by position (`JSON_ROWS`), the positions derived from the names here.

use super::statement::Bound;
use super::{Backend, SqlStore};
use crate::error::{StoreError, StoreResult};
use crate::schema::{self, Kind};
use sqlx::{Encode, Executor, IntoArguments, Type};

/// One row of named columns: `row! { id: id, host: h }` is the column names (`["id",
/// "host"]`) and the row's values in that order, for [`Rows::push`].
macro_rules! row {
    ($($column:ident: $value:expr),+ $(,)?) => {
        (
            &[$(stringify!($column)),+] as &'static [&'static str],
            [$($crate::sql::Bound::from($value)),+],
        )
    };
}
pub(super) use row;

/// Rows of one statement, every one made by the same [`row!`], their values row after row.
#[derive(Debug, Default)]
pub(super) struct Rows {
    columns: &'static [&'static str],
    values: Vec<Bound>,
}

impl Rows {
    /// Adds a row made by [`row!`].
    pub(super) fn push<const N: usize>(
        &mut self,
        (columns, row): (&'static [&'static str], [Bound; N]),
    ) {
        self.columns = columns;
        self.values.extend(row);
    }

    /// Whether there are none.
    pub(super) fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The SQL that reads column `key` of the row `value` of `JSON_ROWS` as a BIGINT.
    pub(super) fn int(&self, key: &str) -> String {
        format!("CAST(value ->> {} AS BIGINT)", self.at(key))
    }

    /// The SQL that reads column `key` of the row `value` of `JSON_ROWS` as text.
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

    /// The rows as one JSON array of arrays, bound as `$1` of `JSON_ROWS`.
    pub(super) fn json(&self) -> StoreResult<String> {
        let rows: Vec<&[Bound]> = self.values.chunks(self.columns.len().max(1)).collect();
        serde_json::to_string(&rows).map_err(|e| StoreError::Corrupt(format!("rows as JSON: {e}")))
    }
}

impl<const N: usize> FromIterator<(&'static [&'static str], [Bound; N])> for Rows {
    fn from_iter<I: IntoIterator<Item = (&'static [&'static str], [Bound; N])>>(iter: I) -> Self {
        let mut rows = Rows::default();
        for row in iter {
            rows.push(row);
        }
        rows
    }
}

/// The head of an INSERT of these columns into `table` (`INSERT INTO t (a, b)`, with the
/// backend's `overriding` clause when ids of an identity column are given), after checking
/// that the table has each column and that every value is of its column's type.
fn insert_head(
    table: &str,
    columns: &[&str],
    values: &[Bound],
    overriding: &str,
) -> StoreResult<String> {
    let t = schema::table(table)
        .ok_or_else(|| StoreError::Corrupt(format!("no table '{table}' in the schema")))?;
    let mut kinds = Vec::with_capacity(columns.len());
    for column in columns {
        let kind = t
            .columns
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, k)| *k)
            .ok_or_else(|| StoreError::Corrupt(format!("no column '{column}' in {table}")))?;
        kinds.push(kind);
    }
    for row in values.chunks(columns.len().max(1)) {
        for ((value, kind), column) in row.iter().zip(&kinds).zip(columns) {
            let fits = matches!(
                (kind, value),
                (Kind::Int, Bound::Int(Some(_)))
                    | (Kind::OptInt, Bound::Int(_))
                    | (Kind::Text, Bound::Text(Some(_)))
                    | (Kind::OptText, Bound::Text(_))
                    | (Kind::Bool, Bound::Bool(_))
            );
            if !fits {
                return Err(StoreError::Corrupt(format!(
                    "{table}.{column} is {kind:?}, given {value:?}"
                )));
            }
        }
    }
    let overriding = if t.identity && columns.contains(&"id") {
        overriding
    } else {
        ""
    };
    Ok(format!(
        "INSERT INTO {table} ({}) {overriding}",
        columns.join(", ")
    ))
}

/// `head VALUES (?, ?), (?, ?) tail` for `rows` rows of `width` values: the multi-row
/// INSERT of a backend that binds a batch value by value.
pub(crate) fn values_sql(head: &str, width: usize, rows: usize, tail: &str) -> String {
    let row = format!("({})", vec!["?"; width].join(", "));
    format!("{head} VALUES {} {tail}", vec![row; rows].join(", "))
}

/// The number of rows of the next multi-row INSERT out of `left`, at most `most`: a power
/// of two, so that a backend's statement cache holds a few texts per table, whatever the
/// sizes of batches.
pub(crate) fn next_chunk(left: usize, most: usize) -> usize {
    let n = left.min(most).max(1);
    1 << (usize::BITS - 1 - n.leading_zeros())
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
        let head = insert_head(table, rows.columns, &rows.values, B::OVERRIDING)?;
        B::insert_rows(conn, &head, on_conflict, rows.columns.len(), &rows.values).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_insert_names_its_columns_and_overrides_identity_ids_only() {
        let values = [Bound::from(1), Bound::from(2), Bound::from("h")];
        let head = insert_head(
            "event_hosts",
            &["account_id", "event_id", "host"],
            &values,
            "OVERRIDING SYSTEM VALUE",
        )
        .unwrap();
        assert_eq!(
            head,
            "INSERT INTO event_hosts (account_id, event_id, host) "
        );
        let values = [Bound::from(1), Bound::from("h")];
        let head = insert_head("incidents", &["id", "host"], &values, "OVERRIDING").unwrap();
        assert_eq!(head, "INSERT INTO incidents (id, host) OVERRIDING");
        let head =
            insert_head("incidents", &["account_id", "host"], &values, "OVERRIDING").unwrap();
        assert_eq!(head, "INSERT INTO incidents (account_id, host) ");
    }

    #[test]
    fn a_value_of_another_type_than_its_column_is_refused() {
        let err = insert_head(
            "event_hosts",
            &["event_id", "host"],
            &[Bound::from(1), Bound::from(2)],
            "",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("event_hosts.host is Text"),
            "{err}"
        );
        let err = insert_head(
            "incidents",
            &["impact"],
            &[Bound::from(Some("x".to_owned()))],
            "",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("incidents.impact is OptInt"),
            "{err}"
        );
        let missing =
            insert_head("event_hosts", &["event_id"], &[Bound::Int(None)], "").unwrap_err();
        assert!(
            missing.to_string().contains("event_hosts.event_id is Int"),
            "{missing}"
        );
        assert!(insert_head("incidents", &["impact"], &[Bound::Int(None)], "").is_ok());
        assert!(insert_head("accounts", &["disabled"], &[Bound::from(true)], "").is_ok());
        assert!(insert_head("accounts", &["disabled"], &[Bound::from(1)], "").is_err());
    }

    #[test]
    fn rows_name_their_columns_and_read_as_json_arrays() {
        let rows: Rows = [(1, 2), (3, 4)]
            .into_iter()
            .map(|(from, into)| row! { from: from, into: into })
            .collect();
        assert_eq!(rows.columns, ["from", "into"]);
        assert_eq!(rows.json().unwrap(), "[[1,2],[3,4]]");
        assert_eq!(rows.int("into"), "CAST(value ->> 1 AS BIGINT)");
        assert_eq!(rows.text("from"), "value ->> 0");
        assert_eq!(rows.text("onto"), "value ->> 2");
        assert!(!rows.is_empty());
        assert!(Rows::default().is_empty());
        let mixed: Rows = [row! { a: "x", b: None::<i64>, c: true }]
            .into_iter()
            .collect();
        assert_eq!(mixed.json().unwrap(), r#"[["x",null,true]]"#);
    }

    #[test]
    fn a_column_that_the_table_does_not_have_is_refused() {
        let err = insert_head("event_hosts", &["event_id", "hots"], &[], "").unwrap_err();
        assert!(
            err.to_string().contains("no column 'hots' in event_hosts"),
            "{err}"
        );
        let err = insert_head("event_host", &["event_id"], &[], "").unwrap_err();
        assert!(err.to_string().contains("no table 'event_host'"), "{err}");
    }

    #[test]
    fn multi_row_inserts_come_in_powers_of_two() {
        assert_eq!(
            values_sql("INSERT INTO t (a, b)", 2, 2, "ON CONFLICT DO NOTHING"),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?) ON CONFLICT DO NOTHING"
        );
        let sizes = |mut left: usize| {
            let mut out = Vec::new();
            while left > 0 {
                let n = next_chunk(left, 128);
                out.push(n);
                left -= n;
            }
            out
        };
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(100), [64, 32, 4]);
        assert_eq!(sizes(128), [128]);
        assert_eq!(sizes(300), [128, 128, 32, 8, 4]);
        assert_eq!(next_chunk(0, 128), 1);
        assert_eq!(next_chunk(7, 4), 4);
    }
}
