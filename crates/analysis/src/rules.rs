//! YARA-X rule sets: the pack shipped in `rules/` plus the operator's directories, compiled
//! once. Each rule carries meta `score` (0-100) and `description`.

use std::path::{Path, PathBuf};

/// The rule pack shipped with pushdetect, compiled into the binary.
pub const SHIPPED_RULES: &[(&str, &str)] = &[
    ("rules/eicar.yar", include_str!("../../../rules/eicar.yar")),
    (
        "rules/pe_injection.yar",
        include_str!("../../../rules/pe_injection.yar"),
    ),
    (
        "rules/office_macros.yar",
        include_str!("../../../rules/office_macros.yar"),
    ),
    (
        "rules/powershell.yar",
        include_str!("../../../rules/powershell.yar"),
    ),
    (
        "rules/script_droppers.yar",
        include_str!("../../../rules/script_droppers.yar"),
    ),
    (
        "rules/disguised_executables.yar",
        include_str!("../../../rules/disguised_executables.yar"),
    ),
];

/// Why a rule set could not be built.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// A rule file does not compile; the message names the file and line.
    #[error("{0}")]
    Compile(String),
    /// A rule lacks the required meta.
    #[error("{origin}: rule '{rule}' {problem}")]
    Meta {
        /// File.
        origin: String,
        /// Rule identifier.
        rule: String,
        /// What is wrong.
        problem: String,
    },
    /// A rule directory could not be read.
    #[error("cannot read rule directory {path}: {source}")]
    Io {
        /// Directory or file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// A rule that matched, with its meta.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleMatch {
    /// Rule identifier.
    pub rule: String,
    /// Meta `score`, 0-100.
    pub score: u8,
    /// Meta `description`.
    pub description: String,
}

/// What the scanner is told about the content besides its bytes (YARA-X globals).
#[derive(Debug, Clone, Default)]
pub struct ScanContext<'a> {
    /// The file name, for rules about disguised names (global `filename`).
    pub filename: &'a str,
    /// How deep inside archives the content was found; 0 for the submitted file itself
    /// (global `archive_depth`).
    pub archive_depth: i64,
}

/// Compiled rules.
pub struct RuleSet {
    rules: yara_x::Rules,
    count: usize,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.count)
            .finish()
    }
}

fn new_compiler<'a>() -> yara_x::Compiler<'a> {
    let mut compiler = yara_x::Compiler::new();
    // Defining globals of the declared types cannot fail.
    let _ = compiler.define_global("filename", "");
    let _ = compiler.define_global("archive_depth", 0i64);
    compiler
}

/// The `.yar` and `.yara` files of a directory, sorted, recursively.
fn rule_files(dir: &Path) -> Result<Vec<PathBuf>, RulesError> {
    let io = |source| RulesError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            files.extend(rule_files(&path)?);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yar" | "yara")
        ) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

impl RuleSet {
    /// Compiles the shipped pack and every `.yar`/`.yara` file below `dirs`.
    pub fn load(dirs: &[PathBuf]) -> Result<RuleSet, RulesError> {
        let mut sources: Vec<(String, String)> = SHIPPED_RULES
            .iter()
            .map(|(origin, text)| ((*origin).to_owned(), (*text).to_owned()))
            .collect();
        for dir in dirs {
            for file in rule_files(dir)? {
                let text = std::fs::read_to_string(&file).map_err(|source| RulesError::Io {
                    path: file.clone(),
                    source,
                })?;
                sources.push((file.display().to_string(), text));
            }
        }
        Self::compile(&sources)
    }

    /// Compiles rule sources given as (origin, text) pairs.
    pub fn compile(sources: &[(String, String)]) -> Result<RuleSet, RulesError> {
        let mut compiler = new_compiler();
        for (origin, text) in sources {
            // One namespace per file: equal rule names in different files do not clash,
            // and a rule's namespace tells which file it came from.
            compiler.new_namespace(origin);
            compiler
                .add_source(yara_x::SourceCode::from(text.as_str()).with_origin(origin))
                .map_err(|e| RulesError::Compile(e.to_string()))?;
        }
        let rules = compiler.build();
        let mut count = 0;
        for rule in rules.iter() {
            check_meta(&rule)?;
            count += usize::from(!rule.is_private());
        }
        Ok(RuleSet { rules, count })
    }

    /// Number of reportable (public) rules.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// A scanner over these rules; keep one per worker thread and reuse it.
    pub fn scanner(&self) -> Scanner<'_> {
        Scanner {
            inner: yara_x::Scanner::new(&self.rules),
        }
    }
}

fn meta_score(rule: &yara_x::Rule<'_, '_>) -> Option<i64> {
    rule.metadata().find_map(|(k, v)| match (k, v) {
        ("score", yara_x::MetaValue::Integer(n)) => Some(n),
        _ => None,
    })
}

fn meta_description(rule: &yara_x::Rule<'_, '_>) -> Option<String> {
    rule.metadata().find_map(|(k, v)| match (k, v) {
        ("description", yara_x::MetaValue::String(s)) => Some(s.to_owned()),
        _ => None,
    })
}

/// Every public rule needs meta `score` and `description`; private rules are building blocks
/// of others and never reported, so they need none.
fn check_meta(rule: &yara_x::Rule<'_, '_>) -> Result<(), RulesError> {
    if rule.is_private() {
        return Ok(());
    }
    let problem = match (meta_score(rule), meta_description(rule)) {
        (Some(s), Some(_)) if (0..=100).contains(&s) => return Ok(()),
        (Some(_), Some(_)) => "has a meta score outside 0-100",
        (None, _) => "lacks an integer meta 'score' (0-100)",
        (_, None) => "lacks a string meta 'description'",
    };
    Err(RulesError::Meta {
        origin: rule.namespace().to_owned(),
        rule: rule.identifier().to_owned(),
        problem: problem.to_owned(),
    })
}

/// Scans content with a rule set.
pub struct Scanner<'r> {
    inner: yara_x::Scanner<'r>,
}

impl Scanner<'_> {
    /// The rules matching `content`.
    pub fn scan(&mut self, content: &[u8], ctx: &ScanContext<'_>) -> Vec<RuleMatch> {
        let _ = self.inner.set_global("filename", ctx.filename);
        let _ = self.inner.set_global("archive_depth", ctx.archive_depth);
        let Ok(results) = self.inner.scan(content) else {
            return Vec::new();
        };
        results
            .matching_rules()
            .map(|rule| RuleMatch {
                rule: rule.identifier().to_owned(),
                score: meta_score(&rule).unwrap_or(0).clamp(0, 100) as u8,
                description: meta_description(&rule).unwrap_or_default(),
            })
            .collect()
    }
}
