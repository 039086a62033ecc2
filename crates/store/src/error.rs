//! Store errors.

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A unique name is already taken.
    #[error("{0} already exists")]
    Conflict(String),
    /// The named record does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A copy into a database that already holds an installation.
    #[error("the target database is not empty: {0}")]
    NotEmpty(String),
    /// The server is shutting down and no longer stores events.
    #[error("the store is shutting down")]
    Stopped,
    /// The change breaks a rule of the workflow (the model's error says which, naming the
    /// field).
    #[error("{0}")]
    Refused(pushdetect_model::ApiError),
    /// A stored value could not be read back.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// The database was brought to a schema this binary does not know: a newer
    /// pushdetect wrote it. Nothing was changed.
    #[error(
        "the database was written by a newer pushdetect (it has schema migration {found}; \
         this version knows up to {known}): run that version or a later one"
    )]
    NewerSchema {
        /// A migration applied to the database and unknown here.
        found: i64,
        /// The newest migration this binary knows.
        known: i64,
    },
}

/// Runs `migrator` on `pool`, refusing a database a newer binary migrated with
/// [`StoreError::NewerSchema`] (sqlx would say that a migration "is missing").
pub(crate) async fn migrate<'a, A>(migrator: &sqlx::migrate::Migrator, pool: A) -> StoreResult<()>
where
    A: sqlx::Acquire<'a>,
    <A::Connection as std::ops::Deref>::Target: sqlx::migrate::Migrate,
{
    let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    migrator.run(pool).await.map_err(|e| match e {
        sqlx::migrate::MigrateError::VersionMissing(found) => {
            StoreError::NewerSchema { found, known }
        }
        e => StoreError::Migrate(e),
    })
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// Maps a unique-constraint violation to [`StoreError::Conflict`] naming `what`.
pub(crate) fn conflict_as(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what.into()),
        _ => StoreError::Database(e),
    }
}
