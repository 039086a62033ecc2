//! Copying an embedded SQLite installation into PostgreSQL, row for row with the same ids,
//! in one PostgreSQL transaction, then verified table by table: the same number of rows
//! and the same multiset of row contents on both sides.

use crate::error::{StoreError, StoreResult};
use crate::postgres::PgStore;
use crate::schema::{Kind, Kind::*, Table, TABLES};
use crate::sqlite::SqliteStore;
use crate::Store;
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Postgres, QueryBuilder, Row};
use std::path::Path;

/// One copied value.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Bool(bool),
}

/// Rows per INSERT.
const BATCH: usize = 500;

/// What was copied: rows per table, each verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// (table, rows), in copy order.
    pub tables: Vec<(String, u64)>,
}

fn column_list(t: &Table) -> String {
    t.columns
        .iter()
        .map(|(c, _)| *c)
        .collect::<Vec<_>>()
        .join(", ")
}

fn read_sqlite(row: &SqliteRow, columns: &[(&str, Kind)]) -> StoreResult<Vec<Value>> {
    columns
        .iter()
        .map(|(c, k)| {
            Ok(match k {
                Int => Value::Int(Some(row.try_get(*c)?)),
                OptInt => Value::Int(row.try_get(*c)?),
                Text => Value::Text(Some(row.try_get(*c)?)),
                OptText => Value::Text(row.try_get(*c)?),
                Bool => Value::Bool(row.try_get(*c)?),
            })
        })
        .collect()
}

fn read_pg(row: &PgRow, columns: &[(&str, Kind)]) -> StoreResult<Vec<Value>> {
    columns
        .iter()
        .map(|(c, k)| {
            Ok(match k {
                // INTEGER columns (incidents_indexed) are read as such and widened.
                Int | OptInt => Value::Int(match row.try_get::<Option<i64>, _>(*c) {
                    Ok(v) => v,
                    Err(_) => row.try_get::<Option<i32>, _>(*c)?.map(i64::from),
                }),
                Text | OptText => Value::Text(row.try_get(*c)?),
                Bool => Value::Bool(row.try_get(*c)?),
            })
        })
        .collect()
}

/// An order-independent digest of a multiset of rows: the sum of each row's hash.
#[derive(Debug, Default, PartialEq, Eq)]
struct Digest128 {
    rows: u64,
    sum: u128,
}

impl Digest128 {
    fn add(&mut self, row: &[Value]) {
        let h = Sha256::digest(format!("{row:?}").as_bytes());
        let mut first = [0u8; 16];
        first.copy_from_slice(&h[..16]);
        self.sum = self.sum.wrapping_add(u128::from_le_bytes(first));
        self.rows += 1;
    }
}

async fn insert_batch(
    tx: &mut sqlx::PgConnection,
    t: &Table,
    rows: &[Vec<Value>],
) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let overriding = if t.identity {
        " OVERRIDING SYSTEM VALUE"
    } else {
        ""
    };
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "INSERT INTO {} ({}){overriding} ",
        t.name,
        column_list(t)
    ));
    q.push_values(rows, |mut b, row| {
        for v in row {
            match v {
                Value::Int(i) => b.push_bind(*i),
                Value::Text(s) => b.push_bind(s.clone()),
                Value::Bool(x) => b.push_bind(*x),
            };
        }
    });
    q.build().execute(&mut *tx).await?;
    Ok(())
}

/// Copies the SQLite database at `source` into the PostgreSQL database at `target_url`
/// (created when missing), which must hold no accounts yet. `progress` is told each
/// table's name and rows copied so far. Nothing is written unless everything is copied
/// and verified.
pub async fn sqlite_to_postgres(
    source: &Path,
    target_url: &str,
    progress: &(dyn Fn(&str, u64) + Sync),
) -> StoreResult<CopyReport> {
    if !source.exists() {
        return Err(StoreError::NotFound(format!(
            "database {}",
            source.display()
        )));
    }
    // Opening brings the source to the current schema, as a server start would.
    let from = SqliteStore::open(source).await?;
    let to = PgStore::connect(target_url).await?;
    let (src, dst) = (from.pool(), to.pool());
    let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
        .fetch_one(dst)
        .await?;
    if existing > 0 {
        return Err(StoreError::NotEmpty(format!(
            "it holds {existing} account(s); copy into an empty database"
        )));
    }
    let mut tx = dst.begin().await?;
    let mut report = CopyReport { tables: Vec::new() };
    for t in TABLES {
        let select = format!("SELECT {} FROM {}", column_list(t), t.name);
        let mut rows = sqlx::query(&select).fetch(src);
        let mut batch = Vec::with_capacity(BATCH);
        let mut copied = 0u64;
        let mut source_digest = Digest128::default();
        while let Some(row) = rows.try_next().await? {
            let values = read_sqlite(&row, t.columns)?;
            source_digest.add(&values);
            batch.push(values);
            if batch.len() == BATCH {
                insert_batch(&mut tx, t, &batch).await?;
                copied += batch.len() as u64;
                batch.clear();
                progress(t.name, copied);
            }
        }
        insert_batch(&mut tx, t, &batch).await?;
        copied += batch.len() as u64;
        progress(t.name, copied);
        if t.identity {
            // New rows continue after the copied ids.
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{0}', 'id'), \
                 COALESCE((SELECT MAX(id) FROM {0}), 0) + 1, false)",
                t.name
            ))
            .execute(&mut *tx)
            .await?;
        }
        // Verify inside the transaction: what PostgreSQL now holds is what SQLite held.
        let mut target_digest = Digest128::default();
        let mut copied_rows = sqlx::query(&select).fetch(&mut *tx);
        while let Some(row) = copied_rows.try_next().await? {
            target_digest.add(&read_pg(&row, t.columns)?);
        }
        drop(copied_rows);
        if target_digest != source_digest {
            return Err(StoreError::Corrupt(format!(
                "table {}: {} row(s) read, {} found after the copy, or their contents differ",
                t.name, source_digest.rows, target_digest.rows
            )));
        }
        report.tables.push((t.name.to_owned(), copied));
    }
    tx.commit().await?;
    from.close().await;
    to.close().await;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, name: &str) -> Vec<Value> {
        vec![
            Value::Int(Some(id)),
            Value::Text(Some(name.into())),
            Value::Bool(false),
        ]
    }

    fn digest(rows: &[Vec<Value>]) -> Digest128 {
        let mut d = Digest128::default();
        for r in rows {
            d.add(r);
        }
        d
    }

    #[test]
    fn the_digest_is_of_the_multiset_of_rows() {
        let (a, b, c) = (row(1, "a"), row(2, "b"), row(3, "c"));
        let abc = digest(&[a.clone(), b.clone(), c.clone()]);
        assert_eq!(abc.rows, 3);
        assert_eq!(
            digest(&[c.clone(), a.clone(), b.clone()]),
            abc,
            "order does not count"
        );
        assert_ne!(digest(&[a.clone(), b.clone()]), abc, "a row missing");
        assert_ne!(
            digest(&[a.clone(), b.clone(), row(3, "C")]),
            abc,
            "a value changed"
        );
        // Same count, same rows but one twice: the sum tells them apart.
        assert_ne!(
            digest(&[a.clone(), a.clone(), b.clone()]),
            digest(&[a, b, c])
        );
        assert_ne!(digest(&[row(1, "a")]), Digest128::default());
    }

    #[test]
    fn columns_are_listed_in_table_order() {
        let accounts = &TABLES[0];
        assert_eq!(
            column_list(accounts),
            "id, name, disabled, created_at_ms, grouping, retention_days"
        );
    }
}
