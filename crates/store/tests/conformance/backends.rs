//! A fresh database per test, on either backend.

use pushdetect_store::postgres::PgStore;
use pushdetect_store::sqlite::SqliteStore;
use pushdetect_store::Store;
use sqlx::Connection;
use std::sync::atomic::{AtomicU32, Ordering};

/// Which implementation a test runs against.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server the tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("PUSHDETECT_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The URL of database `name` on the test server.
fn postgres_url(name: &str) -> String {
    let admin = postgres_admin_url();
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    format!("{base}/{name}")
}

/// A database of its own for one test, removed when dropped.
pub struct TestDb {
    backend: Backend,
    store: Box<dyn Store>,
    dir: tempfile::TempDir,
    pg_name: Option<String>,
}

impl TestDb {
    /// A new empty database.
    pub async fn new(backend: Backend) -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let pg_name = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                static N: AtomicU32 = AtomicU32::new(0);
                let name = format!(
                    "pushdetect_test_{}_{}_{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed),
                    chrono::Utc::now().timestamp_micros() % 1_000_000
                );
                let mut admin = sqlx::PgConnection::connect(&postgres_admin_url())
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "PostgreSQL at {} is needed for the conformance suite ({e}); \
                             ./scripts/test.sh starts one",
                            postgres_admin_url()
                        )
                    });
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                Some(name)
            }
        };
        let store = open(backend, &dir, pg_name.as_deref()).await;
        TestDb {
            backend,
            store,
            dir,
            pg_name,
        }
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The database file (SQLite only), for what opens it by path.
    pub fn sqlite_path(&self) -> std::path::PathBuf {
        self.dir.path().join("t.db")
    }

    /// The database's URL (PostgreSQL only), for what connects by URL.
    pub fn postgres_url(&self) -> String {
        postgres_url(self.pg_name.as_deref().expect("a PostgreSQL database"))
    }

    /// A second store on the same database, as another server process or an `admin`
    /// command would open it.
    pub async fn open_another(&self) -> Box<dyn Store> {
        open(self.backend, &self.dir, self.pg_name.as_deref()).await
    }

    /// Closes the store, runs `sql` directly on the database (as another program would),
    /// and opens it again, as a restarted server does.
    pub async fn reopen_after(&mut self, sql: &[&str]) {
        self.store.close().await;
        match self.backend {
            Backend::Sqlite => {
                let url = format!("sqlite:{}", self.dir.path().join("t.db").display());
                let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                for q in sql {
                    sqlx::query(q).execute(&mut c).await.unwrap();
                }
            }
            Backend::Postgres => {
                let url = postgres_url(self.pg_name.as_deref().unwrap());
                let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
                for q in sql {
                    sqlx::query(q).execute(&mut c).await.unwrap();
                }
            }
        }
        self.store = open(self.backend, &self.dir, self.pg_name.as_deref()).await;
    }
}

async fn open(backend: Backend, dir: &tempfile::TempDir, pg_name: Option<&str>) -> Box<dyn Store> {
    match backend {
        Backend::Sqlite => Box::new(SqliteStore::open(&dir.path().join("t.db")).await.unwrap()),
        Backend::Postgres => Box::new(
            PgStore::connect(&postgres_url(pg_name.unwrap()))
                .await
                .unwrap(),
        ),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Dropped outside the test's runtime: a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&postgres_admin_url()).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut admin)
                        .await;
                }
            });
        })
        .join();
    }
}

impl TestDb {
    /// Runs `sql` on a connection of its own, as another program would, while the store
    /// stays open; the database's error as text if it refuses.
    pub async fn try_sql(&self, sql: &str) -> Result<(), String> {
        match self.backend {
            Backend::Sqlite => {
                let url = format!("sqlite:{}", self.dir.path().join("t.db").display());
                let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::query(sql)
                    .execute(&mut c)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            Backend::Postgres => {
                let url = postgres_url(self.pg_name.as_deref().unwrap());
                let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
                sqlx::query(sql)
                    .execute(&mut c)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        }
    }
}
