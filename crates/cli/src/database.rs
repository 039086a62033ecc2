//! Opening the store named by `--data-dir` / `--database-url`.

use anyhow::{bail, Context, Result};
use pushdetect_store::postgres::PgStore;
use pushdetect_store::sqlite::SqliteStore;
use pushdetect_store::Store;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The database file inside a data dir.
pub const DB_FILE: &str = "pushdetect.db";

/// Where the data lives.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// Directory holding the embedded database and the analysed content. With PostgreSQL,
    /// every node must see the same directory (a shared mount) for analysis content.
    #[arg(long, default_value = "./pushdetect-data", env = "PUSHDETECT_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Database URL instead of the data dir's file: sqlite:PATH, or postgres://… for a
    /// database several nodes share.
    #[arg(long, env = "PUSHDETECT_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DatabaseArgs {
    /// What is opened, for messages.
    /// A password in the URL is masked, and the query string left out.
    pub fn describe(&self) -> String {
        match &self.database_url {
            Some(url) => masked(url.split('?').next().unwrap_or(url)),
            None => self.data_dir.join(DB_FILE).display().to_string(),
        }
    }

    /// The embedded database's file, for the commands that work on the file itself
    /// (backup, restore); PostgreSQL has its own tools for that.
    pub fn sqlite_file(&self) -> Result<PathBuf> {
        match &self.database_url {
            None => Ok(self.data_dir.join(DB_FILE)),
            Some(url) => match url.strip_prefix("sqlite:") {
                Some(path) => Ok(PathBuf::from(
                    path.trim_start_matches("//")
                        .split('?')
                        .next()
                        .unwrap_or(path),
                )),
                None => bail!(
                    "{} is not an embedded database: back up PostgreSQL with pg_dump and \
                     restore it with pg_restore (docs/operations.md)",
                    self.describe()
                ),
            },
        }
    }

    /// The flags that name this database again, for a message that says what to run.
    pub fn describe_flags(&self) -> String {
        match &self.database_url {
            Some(url) => format!("--database-url {}", masked(url)),
            None => format!("--data-dir {}", self.data_dir.display()),
        }
    }

    /// Opens (creating if needed) the store.
    pub async fn open(&self) -> Result<Arc<dyn Store>> {
        match &self.database_url {
            Some(url) if url.starts_with("sqlite:") => {
                Ok(Arc::new(SqliteStore::open_url(url).await.with_context(
                    || format!("cannot open database {}", self.describe()),
                )?))
            }
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Arc::new(PgStore::connect(url).await.with_context(
                    || format!("cannot open database {}", self.describe()),
                )?))
            }
            Some(url) => bail!(
                "unsupported --database-url '{}': expected sqlite:PATH or postgres://USER@HOST/DB",
                url.split(':').next().unwrap_or(url)
            ),
            None => open_dir(&self.data_dir).await,
        }
    }
}

async fn open_dir(dir: &Path) -> Result<Arc<dyn Store>> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data dir {}", dir.display()))?;
    warn_if_shared(dir);
    let path = dir.join(DB_FILE);
    Ok(Arc::new(SqliteStore::open(&path).await.with_context(
        || format!("cannot open database {}", path.display()),
    )?))
}

/// A data dir that others may read was made so by someone on purpose (pushdetect creates
/// it 0700); it is left as it is, and said once.
fn warn_if_shared(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(dir) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                data_dir = %dir.display(),
                mode = format!("{mode:o}"),
                "the data dir is open to other users; pushdetect creates it 0700"
            );
        }
    }
}

/// `scheme://user:password@host/db` with the password replaced by `***`.
pub fn masked(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::masked;

    #[test]
    fn database_passwords_are_masked() {
        assert_eq!(
            masked("postgres://app:s3cret@db.internal:5432/pushdetect"),
            "postgres://app:***@db.internal:5432/pushdetect"
        );
        assert_eq!(masked("postgres://app@db/p"), "postgres://app@db/p");
        assert_eq!(masked("sqlite:/var/lib/p.db"), "sqlite:/var/lib/p.db");
    }
}
