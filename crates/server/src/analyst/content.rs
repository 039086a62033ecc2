//! Submitted content, kept content-addressed in the data dir (`content/ab/abcdef…`).
//! Uploads are streamed to a temporary file while hashed, then moved into place.
//!
//! Nodes sharing a data dir each receive uploads in a directory of their own under
//! `content/tmp`, locked for as long as the node runs; a starting node removes the
//! directories of nodes that are no longer running (stopped by `kill -9` mid-upload, say),
//! so interrupted uploads never stay on disk. The bytes of all uploads in flight on a node
//! are bounded: beyond the budget an upload is refused instead of filling the disk.

use crate::budget::Held;
use pushdetect_analysis::subject::Hasher;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::Semaphore;

/// Default budget of upload bytes in flight on one node.
pub const DEFAULT_UPLOAD_BUDGET: u64 = 256 * 1024 * 1024;

/// Loose temporary files (of an older layout) older than this are removed at start.
const STALE_LOOSE_FILE: Duration = Duration::from_secs(3600);

/// The content directory.
#[derive(Debug, Clone)]
pub struct ContentStore {
    root: PathBuf,
    /// This node's directory for uploads in progress.
    tmp: PathBuf,
    /// Held locked while the node runs, so other nodes leave `tmp` alone.
    _lock: Arc<File>,
    /// Bytes of uploads in flight, in permits of one byte.
    budget: Arc<Semaphore>,
    budget_bytes: u64,
}

/// An upload being received: written to a temporary file and hashed as it arrives.
pub struct Upload {
    file: tempfile::NamedTempFile,
    hasher: Hasher,
    limit: u64,
    written: u64,
    budget: Arc<Semaphore>,
    held: Held,
}

/// Why a chunk of an upload was not taken.
#[derive(Debug)]
pub enum Refused {
    /// The upload is larger than its limit.
    TooLarge,
    /// Uploads in flight on this node already hold the whole budget; retry later.
    Busy,
    /// The temporary file could not be written.
    Io(std::io::Error),
}

/// A received upload, hashed, not yet in place.
pub struct Received {
    file: tempfile::NamedTempFile,
    /// Its share of the upload budget, given back when it is kept or dropped.
    _held: Held,
    /// MD5.
    pub md5: String,
    /// SHA-1.
    pub sha1: String,
    /// SHA-256.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

impl Upload {
    /// Feeds a chunk; fails as soon as the limit or the node's budget is passed.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), Refused> {
        self.written += chunk.len() as u64;
        if self.written > self.limit {
            return Err(Refused::TooLarge);
        }
        if !self.held.take(&self.budget, chunk.len()) {
            return Err(Refused::Busy);
        }
        self.hasher.update(chunk);
        self.file.write_all(chunk).map_err(Refused::Io)
    }

    /// Finishes hashing.
    pub fn finish(mut self) -> std::io::Result<Received> {
        self.file.flush()?;
        let (md5, sha1, sha256, size) = self.hasher.finish();
        Ok(Received {
            file: self.file,
            _held: self.held,
            md5,
            sha1,
            sha256,
            size,
        })
    }
}

impl ContentStore {
    /// Uses (creating) `root`, removes what stopped nodes left in `tmp`, and takes a
    /// temporary directory of this node's own.
    pub fn open(root: &Path) -> std::io::Result<ContentStore> {
        let tmp_root = root.join("tmp");
        std::fs::create_dir_all(&tmp_root)?;
        sweep(&tmp_root)?;
        let tmp = tempfile::Builder::new()
            .prefix("node-")
            .tempdir_in(&tmp_root)?
            .keep();
        let lock = File::create(lock_path(&tmp))?;
        lock.try_lock().map_err(std::io::Error::other)?;
        Ok(ContentStore {
            root: root.to_owned(),
            tmp,
            _lock: Arc::new(lock),
            budget: Arc::new(Semaphore::new(budget_permits(DEFAULT_UPLOAD_BUDGET))),
            budget_bytes: DEFAULT_UPLOAD_BUDGET,
        })
    }

    /// Bounds the bytes of all uploads in flight on this node.
    pub fn with_upload_budget(mut self, bytes: u64) -> ContentStore {
        self.budget = Arc::new(Semaphore::new(budget_permits(bytes)));
        self.budget_bytes = bytes;
        self
    }

    /// The bytes all uploads in flight on this node may hold together.
    pub fn upload_budget(&self) -> u64 {
        self.budget_bytes
    }

    /// Starts receiving an upload of at most `limit` bytes.
    pub fn upload(&self, limit: u64) -> std::io::Result<Upload> {
        Ok(Upload {
            file: tempfile::NamedTempFile::new_in(&self.tmp)?,
            hasher: Hasher::default(),
            limit,
            written: 0,
            budget: self.budget.clone(),
            held: Held::default(),
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

fn budget_permits(bytes: u64) -> usize {
    usize::try_from(bytes)
        .unwrap_or(usize::MAX)
        .min(Semaphore::MAX_PERMITS)
}

/// The lock file beside a node's temporary directory.
fn lock_path(dir: &Path) -> PathBuf {
    dir.with_extension("lock")
}

/// Removes the temporary directories of nodes no longer running (their lock is free) and
/// loose temporary files of an older layout that nobody has written to for an hour.
fn sweep(tmp_root: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(tmp_root)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            let lock = lock_path(&path);
            let abandoned = match File::options().write(true).open(&lock) {
                Ok(f) => f.try_lock().is_ok(),
                // No lock file: a directory left between its creation and its lock.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    older_than(&path, STALE_LOOSE_FILE)
                }
                Err(e) => return Err(e),
            };
            if abandoned {
                std::fs::remove_dir_all(&path)?;
                let _ = std::fs::remove_file(&lock);
            }
        } else if path.extension().is_some_and(|e| e == "lock") {
            if !path.with_extension("").exists() {
                let _ = std::fs::remove_file(&path);
            }
        } else if older_than(&path, STALE_LOOSE_FILE) {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

fn older_than(path: &Path, age: Duration) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|d| d > age)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_starting_node_removes_what_stopped_nodes_left_and_spares_running_ones() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("content");
        let running = ContentStore::open(&root).unwrap();
        let mut live = running.upload(1 << 20).unwrap();
        live.write(b"in progress").unwrap();
        // A node stopped by kill -9: its directory stays, its lock is free.
        let dead = root.join("tmp/node-dead");
        std::fs::create_dir_all(&dead).unwrap();
        std::fs::write(dead.join("upload"), vec![0u8; 4096]).unwrap();
        std::fs::write(lock_path(&dead), b"").unwrap();
        // A lock file whose directory is gone already.
        let orphan = lock_path(&root.join("tmp/node-gone"));
        std::fs::write(&orphan, b"").unwrap();
        let _second = ContentStore::open(&root).unwrap();
        assert!(!dead.exists(), "a stopped node's uploads stayed");
        assert!(!lock_path(&dead).exists());
        assert!(!orphan.exists(), "a lock without its directory stayed");
        assert!(
            running.tmp.exists(),
            "a running node's uploads were removed"
        );
        assert!(
            lock_path(&running.tmp).exists(),
            "a running node's lock was removed"
        );
        assert!(live.file.path().exists());
    }

    #[test]
    fn loose_files_and_unlocked_directories_go_only_once_an_hour_old() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let aged = |path: &Path| {
            // The owner may set the times through a read-only handle, of a directory too.
            let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
            File::open(path)
                .and_then(|f| f.set_modified(two_hours_ago))
                .unwrap();
        };
        // Of an older layout: loose upload files; and directories a node made but had not
        // locked yet when it stopped.
        let (fresh_file, old_file) = (tmp.join("upload-new"), tmp.join("upload-old"));
        let (fresh_dir, old_dir) = (tmp.join("node-new"), tmp.join("node-old"));
        for f in [&fresh_file, &old_file] {
            std::fs::write(f, b"x").unwrap();
        }
        for d in [&fresh_dir, &old_dir] {
            std::fs::create_dir(d).unwrap();
        }
        aged(&old_file);
        aged(&old_dir);
        let _store = ContentStore::open(dir.path()).unwrap();
        assert!(
            fresh_file.exists() && fresh_dir.exists(),
            "removed while recent"
        );
        assert!(
            !old_file.exists() && !old_dir.exists(),
            "kept after an hour"
        );
    }

    #[test]
    fn a_lock_that_cannot_be_read_stops_the_start_instead_of_guessing() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("tmp/node-other");
        std::fs::create_dir_all(&other).unwrap();
        // Its lock cannot be opened (here: it is a directory): whether that node runs
        // cannot be told, so nothing is removed and the start fails.
        std::fs::create_dir(lock_path(&other)).unwrap();
        assert!(ContentStore::open(dir.path()).is_err());
        assert!(other.exists());
    }

    #[test]
    fn removing_content_that_is_gone_already_is_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::open(dir.path()).unwrap();
        let sha = "ab".repeat(32);
        let path = store.path(&sha);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"content").unwrap();
        store.remove(&sha).unwrap();
        assert!(!path.exists());
        // Two tasks of the same content may both ask for its deletion.
        store.remove(&sha).unwrap();
        // Any other failure is reported: here the path is a directory.
        std::fs::create_dir_all(&path).unwrap();
        assert!(store.remove(&sha).is_err());
    }

    #[test]
    fn uploads_in_flight_share_one_budget() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::open(dir.path())
            .unwrap()
            .with_upload_budget(100);
        let mut a = store.upload(1000).unwrap();
        let mut b = store.upload(1000).unwrap();
        a.write(&[1; 60]).unwrap();
        assert!(matches!(b.write(&[2; 60]), Err(Refused::Busy)));
        b.write(&[2; 40]).unwrap();
        assert!(matches!(a.write(&[1; 1]), Err(Refused::Busy)));
        // A finished upload holds its share until it is kept or dropped.
        let received = a.finish().unwrap();
        let mut c = store.upload(1000).unwrap();
        assert!(matches!(c.write(&[3; 1]), Err(Refused::Busy)));
        drop(received);
        c.write(&[3; 60]).unwrap();
        assert!(matches!(c.write(&[3; 1001]), Err(Refused::TooLarge)));
    }
}
