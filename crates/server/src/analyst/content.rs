//! Submitted content, kept content-addressed in the data dir (`content/ab/abcdef…`).
//! Uploads are streamed to a temporary file while hashed, then moved into place.

use pushdetect_analysis::subject::Hasher;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The content directory.
#[derive(Debug, Clone)]
pub struct ContentStore {
    root: PathBuf,
}

/// An upload being received: written to a temporary file and hashed as it arrives.
pub struct Upload {
    file: tempfile::NamedTempFile,
    hasher: Hasher,
    limit: u64,
    written: u64,
}

/// A received upload, hashed, not yet in place.
pub struct Received {
    file: tempfile::NamedTempFile,
    /// MD5.
    pub md5: String,
    /// SHA-1.
    pub sha1: String,
    /// SHA-256.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// The upload is larger than the limit.
#[derive(Debug)]
pub struct TooLarge;

impl Upload {
    /// Feeds a chunk; fails as soon as the limit is passed.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), std::io::Result<TooLarge>> {
        self.written += chunk.len() as u64;
        if self.written > self.limit {
            return Err(Ok(TooLarge));
        }
        self.hasher.update(chunk);
        self.file.write_all(chunk).map_err(Err)
    }

    /// Finishes hashing.
    pub fn finish(mut self) -> std::io::Result<Received> {
        self.file.flush()?;
        let (md5, sha1, sha256, size) = self.hasher.finish();
        Ok(Received {
            file: self.file,
            md5,
            sha1,
            sha256,
            size,
        })
    }
}

impl ContentStore {
    /// Uses (creating) `root`.
    pub fn open(root: &Path) -> std::io::Result<ContentStore> {
        std::fs::create_dir_all(root.join("tmp"))?;
        Ok(ContentStore {
            root: root.to_owned(),
        })
    }

    /// Starts receiving an upload of at most `limit` bytes.
    pub fn upload(&self, limit: u64) -> std::io::Result<Upload> {
        Ok(Upload {
            file: tempfile::NamedTempFile::new_in(self.root.join("tmp"))?,
            hasher: Hasher::default(),
            limit,
            written: 0,
        })
    }

    /// Where content with this SHA-256 lives.
    pub fn path(&self, sha256: &str) -> PathBuf {
        let prefix = sha256.get(..2).unwrap_or("00");
        self.root.join(prefix).join(sha256)
    }

    /// Moves a received upload into place (durably) under its SHA-256.
    pub fn keep(&self, received: Received) -> std::io::Result<()> {
        let path = self.path(&received.sha256);
        if path.exists() {
            return Ok(());
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        received.file.as_file().sync_all()?;
        received.file.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Whether the content is present.
    pub fn has(&self, sha256: &str) -> bool {
        self.path(sha256).exists()
    }

    /// Reads content.
    pub fn read(&self, sha256: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.path(sha256))
    }

    /// Deletes content (after analysis, when asked to).
    pub fn remove(&self, sha256: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.path(sha256)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}
