//! The scale-out backend: PostgreSQL, shared by every server node.
//!
//! Nodes share nothing but this database. Writes that must not run twice at once across
//! nodes take a transaction-scoped advisory lock on a name (a push's fingerprint, an
//! account's host), task claims skip rows other nodes have locked, and reading a task's
//! score at insert locks its row against a completion in flight.

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
        })
    }
}

type Db = Postgres;
type DbRow = PgRow;
type DbConn = PgConnection;
type ThisStore = PgStore;
/// Reading a task's score waits for a completion in flight.
const FOR_SHARE: &str = " FOR SHARE";
/// A claim skips tasks another node is claiming.
const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";

/// A lock on `key` until the transaction ends, across every node.
async fn lock(conn: &mut DbConn, key: &str) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Several nodes share the database.
const SHARED: bool = true;

include!("shared_sql.rs");
