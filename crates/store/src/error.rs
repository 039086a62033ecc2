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
