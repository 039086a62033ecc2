//! Opening the store named by `--data-dir` / `--database-url`.

use anyhow::{bail, Context, Result};
use pushdetect_store::sqlite::SqliteStore;
use pushdetect_store::Store;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The database file inside a data dir.
pub const DB_FILE: &str = "pushdetect.db";

/// Where the data lives.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// Directory holding the embedded database.
    #[arg(long, default_value = "./pushdetect-data", env = "PUSHDETECT_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Database URL instead of the data dir's file (sqlite:PATH).
    #[arg(long, env = "PUSHDETECT_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DatabaseArgs {
    /// What is opened, for messages.
    pub fn describe(&self) -> String {
        match &self.database_url {
            Some(url) => url.split('?').next().unwrap_or(url).to_owned(),
            None => self.data_dir.join(DB_FILE).display().to_string(),
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
            Some(url) => bail!(
                "unsupported --database-url '{}': expected sqlite:PATH",
                url.split(':').next().unwrap_or(url)
            ),
            None => open_dir(&self.data_dir).await,
        }
    }
}

async fn open_dir(dir: &Path) -> Result<Arc<dyn Store>> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data dir {}", dir.display()))?;
    let path = dir.join(DB_FILE);
    Ok(Arc::new(SqliteStore::open(&path).await.with_context(
        || format!("cannot open database {}", path.display()),
    )?))
}
