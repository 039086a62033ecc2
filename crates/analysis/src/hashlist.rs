//! The operator's known-bad hash list: CSV rows `hash,score,description`, the hash an MD5
//! or SHA-256.

use std::collections::HashMap;
use std::path::Path;

/// Why a hash list could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HashListError {
    /// The file could not be read.
    #[error("cannot read hash list {path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A row is malformed.
    #[error("hash list line {line}: {problem}")]
    Row {
        /// 1-based line.
        line: u64,
        /// What is wrong.
        problem: String,
    },
}

/// Known-bad hashes with their score and description.
#[derive(Debug, Clone, Default)]
pub struct HashList {
    entries: HashMap<String, (u8, String)>,
}

impl HashList {
    /// Parses CSV text. A first row starting with `hash`/`sha256`/`md5` is a header.
    pub fn parse(text: &str) -> Result<HashList, HashListError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .comment(Some(b'#'))
            .from_reader(text.as_bytes());
        let mut entries = HashMap::new();
        for (i, row) in reader.records().enumerate() {
            let row = row.map_err(|e| HashListError::Row {
                line: i as u64 + 1,
                problem: e.to_string(),
            })?;
            let line = row.position().map(|p| p.line()).unwrap_or(i as u64 + 1);
            let hash = row.get(0).unwrap_or("").to_ascii_lowercase();
            if i == 0 && matches!(hash.as_str(), "hash" | "sha256" | "md5") {
                continue;
            }
            let bad = |problem: &str| HashListError::Row {
                line,
                problem: problem.to_owned(),
            };
            if !(hash.len() == 32 || hash.len() == 64)
                || !hash.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return Err(bad(
                    "expected an MD5 (32 hex) or SHA-256 (64 hex) hash first",
                ));
            }
            let score: u8 = row
                .get(1)
                .and_then(|s| s.parse().ok())
                .filter(|s| *s <= 100)
                .ok_or_else(|| bad("expected a score from 0 to 100 second"))?;
            let description = row.get(2).unwrap_or("").to_owned();
            if description.is_empty() {
                return Err(bad("expected a description third"));
            }
            entries.insert(hash, (score, description));
        }
        Ok(HashList { entries })
    }

    /// Reads a CSV file.
    pub fn load(path: &Path) -> Result<HashList, HashListError> {
        let text = std::fs::read_to_string(path).map_err(|source| HashListError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    /// The entry for an MD5 or SHA-256, if listed.
    pub fn lookup(&self, md5: &str, sha256: &str) -> Option<&(u8, String)> {
        self.entries.get(sha256).or_else(|| self.entries.get(md5))
    }

    /// Number of hashes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
