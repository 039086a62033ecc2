//! Zip archives, opened with limits: depth, entry count and expanded size. An archive that
//! would break a limit is reported as a bomb and not expanded further.

use std::io::{Cursor, Read};

/// Limits on what is expanded from one submission.
#[derive(Debug, Clone, Copy)]
pub struct ArchiveLimits {
    /// Archives inside archives are opened down to this depth.
    pub max_depth: u32,
    /// Most entries in one archive.
    pub max_entries: usize,
    /// Most bytes expanded from one submission, all archives together.
    pub max_expanded_bytes: u64,
    /// Highest compression ratio of an entry before it counts as a bomb.
    pub max_ratio: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            max_depth: 3,
            max_entries: 10_000,
            max_expanded_bytes: 256 * 1024 * 1024,
            max_ratio: 200,
        }
    }
}

/// Something found while opening archives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveIssue {
    /// A decompression bomb: the reason says which limit it would break.
    Bomb(String),
    /// Archives nested deeper than the limit were not opened.
    TooDeep(String),
    /// Entries that could not be read (encrypted or damaged).
    Unreadable(String),
}

/// An entry's name for reports; an undecodable name is shown as such.
fn entry_name(name: Result<std::borrow::Cow<'_, str>, zip::result::ZipError>) -> String {
    name.map(|n| n.into_owned())
        .unwrap_or_else(|_| "(undecodable name)".to_owned())
}

/// Whether content is a zip archive.
pub fn is_zip(content: &[u8]) -> bool {
    content.starts_with(b"PK\x03\x04") || content.starts_with(b"PK\x05\x06")
}

/// Walks an archive tree, calling `visit(content, path, depth)` for every entry (depth 1 for
/// entries of the submitted archive), and returns the issues met. `budget` is the bytes still
/// allowed to be expanded.
pub fn walk(
    content: &[u8],
    path: &str,
    depth: u32,
    limits: &ArchiveLimits,
    budget: &mut u64,
    visit: &mut dyn FnMut(&[u8], &str, u32),
) -> Vec<ArchiveIssue> {
    let mut issues = Vec::new();
    let Ok(mut archive) = zip::ZipArchive::new(Cursor::new(content)) else {
        issues.push(ArchiveIssue::Unreadable(format!(
            "{path}: not a readable zip archive"
        )));
        return issues;
    };
    if archive.len() > limits.max_entries {
        issues.push(ArchiveIssue::Bomb(format!(
            "{path}: {} entries (limit {})",
            archive.len(),
            limits.max_entries
        )));
        return issues;
    }
    // Refuse before expanding anything when the declared sizes already break the limits.
    let mut declared: u64 = 0;
    for i in 0..archive.len() {
        let Ok(entry) = archive.by_index_raw(i) else {
            continue;
        };
        declared = declared.saturating_add(entry.size());
        let ratio = entry.size() / entry.compressed_size().max(1);
        if entry.size() > 1024 * 1024 && ratio > limits.max_ratio {
            issues.push(ArchiveIssue::Bomb(format!(
                "{path}/{}: compression ratio {ratio}:1 (limit {}:1)",
                entry_name(entry.name()),
                limits.max_ratio
            )));
            return issues;
        }
    }
    if declared > *budget {
        issues.push(ArchiveIssue::Bomb(format!(
            "{path}: expands to {declared} bytes (limit {} bytes)",
            limits.max_expanded_bytes
        )));
        return issues;
    }
    for i in 0..archive.len() {
        let mut entry = match archive.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                issues.push(ArchiveIssue::Unreadable(format!("{path}: entry {i}: {e}")));
                continue;
            }
        };
        if entry.is_dir() {
            continue;
        }
        let name = format!("{path}/{}", entry_name(entry.name()));
        // Declared sizes may lie: never read more than the remaining budget.
        let mut data = Vec::new();
        let read = (&mut entry).take(*budget + 1).read_to_end(&mut data);
        if let Err(e) = read {
            issues.push(ArchiveIssue::Unreadable(format!("{name}: {e}")));
            continue;
        }
        if data.len() as u64 > *budget {
            issues.push(ArchiveIssue::Bomb(format!(
                "{name}: expands beyond {} bytes",
                limits.max_expanded_bytes
            )));
            return issues;
        }
        *budget -= data.len() as u64;
        visit(&data, &name, depth + 1);
        if is_zip(&data) {
            if depth + 1 >= limits.max_depth {
                issues.push(ArchiveIssue::TooDeep(format!(
                    "{name}: archives nested deeper than {} levels were not opened",
                    limits.max_depth
                )));
            } else {
                issues.extend(walk(&data, &name, depth + 1, limits, budget, visit));
            }
            if issues.iter().any(|i| matches!(i, ArchiveIssue::Bomb(_))) {
                return issues;
            }
        }
    }
    issues
}
