//! The files the analyse commands read: paths as given, directories walked (recursively,
//! in name order, so runs are repeatable), and `-` for standard input.

use anyhow::Context;
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

    /// Opens it for reading.
    pub fn open(&self) -> std::io::Result<Box<dyn std::io::BufRead + Send>> {
        Ok(match self {
            Input::Stdin => Box::new(std::io::BufReader::new(std::io::stdin())),
            Input::File(p) => Box::new(std::io::BufReader::with_capacity(
                256 * 1024,
                std::fs::File::open(p)?,
            )),
        })
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

fn walk(dir: &Path, out: &mut Vec<Input>) -> anyhow::Result<()> {
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        if entry.file_type().is_file() {
            out.push(Input::File(entry.into_path()));
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
