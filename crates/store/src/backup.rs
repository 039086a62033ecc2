//! Backups of the embedded (SQLite) database: a consistent snapshot taken while the
//! server runs (`VACUUM INTO`, one read transaction, so every commit before it is in and
//! none after), written under a temporary name, flushed and renamed into place; and a
//! restore that checks a snapshot before it becomes a data dir's database. PostgreSQL
//! installations use pg_dump and pg_restore (docs/operations.md).

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection, Row};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a backup or restore did not do, and why.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The file to write exists: a backup or database is never overwritten.
    #[error("{0} already exists; choose another name or move it away first")]
    Exists(PathBuf),
    /// The file to read is missing.
    #[error("{0} does not exist")]
    Missing(PathBuf),
    /// The file is not a pushdetect database, or is damaged.
    #[error("{path} is not a usable pushdetect database: {why}")]
    NotADatabase {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The snapshot was made by a newer pushdetect.
    #[error(
        "{path} was written by a newer pushdetect (schema {found}; this one knows up to \
         {known}): restore it with that version or a later one"
    )]
    Newer {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this binary knows.
        known: i64,
    },
    /// Reading or writing a file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// What a snapshot holds, as checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Its size in bytes.
    pub bytes: u64,
    /// Its schema version (the last migration applied).
    pub schema: i64,
    /// Accounts in it.
    pub accounts: i64,
    /// Events in it.
    pub events: i64,
}

/// The newest schema version of the embedded database this binary knows.
pub fn known_schema() -> i64 {
    sqlx::migrate!("./migrations/sqlite")
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

async fn connect(path: &Path, read_only: bool) -> Result<SqliteConnection, BackupError> {
    Ok(SqliteConnectOptions::new()
        .filename(path)
        .read_only(read_only)
        .busy_timeout(Duration::from_secs(30))
        .connect()
        .await?)
}

/// Checks that `path` is an intact pushdetect database and says what it holds.
pub async fn inspect(path: &Path) -> Result<Snapshot, BackupError> {
    if !path.exists() {
        return Err(BackupError::Missing(path.to_owned()));
    }
    let not_ours = |why: String| BackupError::NotADatabase {
        path: path.to_owned(),
        why,
    };
    let mut conn = connect(path, true)
        .await
        .map_err(|e| not_ours(e.to_string()))?;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| not_ours(e.to_string()))?;
    if check != "ok" {
        return Err(not_ours(format!("integrity check: {check}")));
    }
    let schema: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .map_err(|_| not_ours("it has no pushdetect schema".into()))?;
    let counts = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM accounts) AS accounts, (SELECT COUNT(*) FROM events) AS events",
    )
    .fetch_one(&mut conn)
    .await
    .map_err(|_| not_ours("it has no pushdetect schema".into()))?;
    conn.close().await?;
    Ok(Snapshot {
        bytes: std::fs::metadata(path)?.len(),
        schema,
        accounts: counts.try_get("accounts")?,
        events: counts.try_get("events")?,
    })
}

/// Writes a consistent snapshot of the database at `db` to `to` (which must not exist),
/// while other connections keep writing, and checks it.
pub async fn backup(db: &Path, to: &Path) -> Result<Snapshot, BackupError> {
    if !db.exists() {
        return Err(BackupError::Missing(db.to_owned()));
    }
    if to.exists() {
        return Err(BackupError::Exists(to.to_owned()));
    }
    let partial = partial_name(to);
    let _ = std::fs::remove_file(&partial);
    let mut conn = connect(db, false).await?;
    let written = sqlx::query("VACUUM INTO $1")
        .bind(partial.to_string_lossy().into_owned())
        .execute(&mut conn)
        .await;
    conn.close().await?;
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e.into());
    }
    settle(&partial, to)?;
    inspect(to).await
}

/// Makes the snapshot `from` the database at `db` (which must not exist), after checking
/// it; a snapshot of a newer version is refused. The server then opens it as usual
/// (bringing an older schema up to date).
pub async fn restore(from: &Path, db: &Path) -> Result<Snapshot, BackupError> {
    if db.exists() {
        return Err(BackupError::Exists(db.to_owned()));
    }
    let snapshot = inspect(from).await?;
    let known = known_schema();
    if snapshot.schema > known {
        return Err(BackupError::Newer {
            path: from.to_owned(),
            found: snapshot.schema,
            known,
        });
    }
    if let Some(dir) = db.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let partial = partial_name(db);
    std::fs::copy(from, &partial)?;
    settle(&partial, db)?;
    Ok(snapshot)
}

/// `NAME.partial` beside `path`: what is written before it is complete.
fn partial_name(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".partial");
    path.with_file_name(name)
}

/// Flushes `partial`, renames it to `done` and flushes the directory, so that `done`
/// exists only complete, and survives a crash once this returns.
fn settle(partial: &Path, done: &Path) -> std::io::Result<()> {
    std::fs::File::open(partial)?.sync_all()?;
    std::fs::rename(partial, done)?;
    let dir = match done.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}
