//! The files the analyse commands read: paths as given, directories walked (recursively,
//! in name order, so runs are repeatable), and `-` for standard input.

use anyhow::Context;
use pushdetect_client::mail::mailbox::{self, Captured, Messages};
use std::path::{Path, PathBuf};

/// One input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input.
    Stdin,
    /// A file.
    File(PathBuf),
}

impl Input {
    /// How the input is named in output lines.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "-".to_owned(),
            Input::File(p) => p.display().to_string(),
        }
    }

    /// Its messages (one, or each of an mbox), each at most `limit` bytes.
    pub fn messages(
        &self,
        limit: u64,
    ) -> std::io::Result<Box<dyn Iterator<Item = std::io::Result<Captured>> + Send>> {
        match self {
            Input::Stdin => Ok(Box::new(Messages::new(
                std::io::BufReader::new(std::io::stdin()),
                limit,
            ))),
            Input::File(p) => mailbox::file(p, limit),
        }
    }
}

/// The inputs named by `paths`. A directory is walked when `recursive` is set (files
/// below it, in name order; hidden ones included) and refused otherwise, naming the flag.
pub fn expand(paths: &[PathBuf], recursive: bool) -> anyhow::Result<Vec<Input>> {
    let mut out = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            out.push(Input::Stdin);
            continue;
        }
        let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
        if !meta.is_dir() {
            out.push(Input::File(path.clone()));
            continue;
        }
        anyhow::ensure!(
            recursive,
            "{} is a directory; --recursive reads the files below it",
            path.display()
        );
        walk(path, &mut out)?;
    }
    Ok(out)
}

/// The files below `dir`, depth first, each directory's entries in name order (symbolic
/// links followed to files, not to directories, so a loop cannot be walked forever).
fn walk(dir: &Path, out: &mut Vec<Input>) -> anyhow::Result<()> {
    let mut entries: Vec<(std::ffi::OsString, PathBuf, bool)> = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        // The kind as the directory lists it; only a symbolic link costs a stat.
        let kind = entry.file_type().ok();
        let is_file = match kind {
            Some(t) if t.is_symlink() => entry.path().is_file(),
            Some(t) => t.is_file(),
            None => false,
        };
        let is_dir = kind.is_some_and(|t| t.is_dir());
        if is_dir || is_file {
            entries.push((entry.file_name(), entry.path(), is_dir));
        }
    }
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (_, path, is_dir) in entries {
        if is_dir {
            walk(&path, out)?;
        } else {
            out.push(Input::File(path));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_are_walked_in_order_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b/c")).unwrap();
        for f in ["b/c/3.eml", "a.eml", "b/2.eml"] {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        let found = expand(&[dir.path().to_owned(), "-".into()], true).unwrap();
        let names: Vec<String> = found
            .iter()
            .map(|i| {
                i.name()
                    .trim_start_matches(&dir.path().display().to_string())
                    .to_owned()
            })
            .collect();
        assert_eq!(names, ["/a.eml", "/b/2.eml", "/b/c/3.eml", "-"]);
        let refused = expand(&[dir.path().to_owned()], false).unwrap_err();
        assert!(refused.to_string().contains("--recursive"), "{refused}");
        assert!(expand(&[dir.path().join("missing")], true).is_err());
    }
}
