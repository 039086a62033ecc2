//! The engine: the current rules, hash list and blocklist, replaceable at run time
//! (reload) without disturbing scans in progress.

use crate::archive::{self, ArchiveIssue, ArchiveLimits};
use crate::hashlist::{HashList, HashListError};
use crate::rules::{RuleSet, RulesError, ScanContext, Scanner};
use crate::subject::FileSubject;
use crate::url_heuristics::{self, InvalidUrl, UrlBlocklist};
use crate::Finding;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// Where the engine's inputs live.
#[derive(Debug, Clone, Default)]
pub struct EngineConfig {
    /// Operator rule directories, besides the shipped pack.
    pub rule_dirs: Vec<PathBuf>,
    /// Known-bad hash list (CSV), if any.
    pub hash_list: Option<PathBuf>,
    /// URL blocklist (one host or URL prefix a line), if any.
    pub url_blocklist: Option<PathBuf>,
    /// Archive limits.
    pub archive_limits: ArchiveLimits,
}

/// Why the engine could not (re)load.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Rules.
    #[error(transparent)]
    Rules(#[from] RulesError),
    /// Hash list.
    #[error(transparent)]
    HashList(#[from] HashListError),
    /// Blocklist.
    #[error("cannot read URL blocklist {path}: {source}")]
    Blocklist {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// The result of an analysis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The highest finding score, 0 without findings.
    pub score: u8,
    /// The descriptions of the findings, highest score first, without repeats.
    pub malicious_activity: Vec<String>,
    /// Every finding.
    pub findings: Vec<Finding>,
}

impl Verdict {
    fn from_findings(mut findings: Vec<Finding>) -> Verdict {
        findings.sort_by(|a, b| b.score.cmp(&a.score).then(a.rule.cmp(&b.rule)));
        let mut activity: Vec<String> = Vec::new();
        for f in &findings {
            if !activity.contains(&f.description) {
                activity.push(f.description.clone());
            }
        }
        Verdict {
            score: findings.first().map(|f| f.score).unwrap_or(0),
            malicious_activity: activity,
            findings,
        }
    }
}

/// One consistent set of rules, hashes and blocklist. Workers keep a snapshot and a scanner
/// over its rules, and take a new snapshot after a reload.
#[derive(Debug)]
pub struct Snapshot {
    /// Compiled rules.
    pub rules: RuleSet,
    /// Known-bad hashes.
    pub hashes: HashList,
    /// Blocked hosts and URL prefixes.
    pub blocklist: UrlBlocklist,
    /// Archive limits.
    pub limits: ArchiveLimits,
    /// Increases with every reload.
    pub generation: u64,
}

impl Snapshot {
    /// Analyses a file held in memory, reusing `scanner` (made from `self.rules`).
    pub fn analyse_file(
        &self,
        scanner: &mut Scanner<'_>,
        content: &[u8],
        filename: Option<&str>,
    ) -> (FileSubject, Verdict) {
        let subject = FileSubject::of(content, filename);
        let mut findings = Vec::new();
        if let Some((score, description)) = self.hashes.lookup(&subject.md5, &subject.sha256) {
            findings.push(Finding {
                source: "hash".into(),
                rule: "known_bad_hash".into(),
                score: *score,
                description: description.clone(),
                path: None,
            });
        }
        let name = filename.unwrap_or("");
        let top = ScanContext {
            filename: name,
            archive_depth: 0,
        };
        findings.extend(yara_findings(scanner.scan(content, &top), None));
        if archive::is_zip(content) {
            let mut budget = self.limits.max_expanded_bytes;
            let mut visit = |data: &[u8], path: &str, depth: u32| {
                let entry_name = path.rsplit('/').next().unwrap_or(path);
                let ctx = ScanContext {
                    filename: entry_name,
                    archive_depth: i64::from(depth),
                };
                findings.extend(yara_findings(scanner.scan(data, &ctx), Some(path)));
                let inner = FileSubject::of(data, None);
                if let Some((score, description)) = self.hashes.lookup(&inner.md5, &inner.sha256) {
                    findings.push(Finding {
                        source: "hash".into(),
                        rule: "known_bad_hash".into(),
                        score: *score,
                        description: description.clone(),
                        path: Some(path.to_owned()),
                    });
                }
            };
            let root = if name.is_empty() { "archive" } else { name };
            let issues = archive::walk(content, root, 0, &self.limits, &mut budget, &mut visit);
            findings.extend(issues.into_iter().map(archive_finding));
        }
        (subject, Verdict::from_findings(findings))
    }

    /// Analyses a URL.
    pub fn analyse_url(&self, url: &str) -> Result<(url::Url, Verdict), InvalidUrl> {
        let parsed = url_heuristics::parse_url(url)?;
        let findings = url_heuristics::assess(&parsed, &self.blocklist);
        Ok((parsed, Verdict::from_findings(findings)))
    }
}

fn yara_findings(matches: Vec<crate::rules::RuleMatch>, path: Option<&str>) -> Vec<Finding> {
    matches
        .into_iter()
        .map(|m| Finding {
            source: "yara".into(),
            rule: m.rule,
            score: m.score,
            description: m.description,
            path: path.map(str::to_owned),
        })
        .collect()
}

fn archive_finding(issue: ArchiveIssue) -> Finding {
    let (rule, score, description) = match issue {
        ArchiveIssue::Bomb(why) => (
            "archive_bomb",
            80,
            format!("Decompression bomb: {why}; not expanded"),
        ),
        ArchiveIssue::TooDeep(why) => (
            "archive_too_deep",
            30,
            format!("Deeply nested archive: {why}"),
        ),
        ArchiveIssue::Unreadable(why) => (
            "archive_unreadable",
            10,
            format!("Archive entries could not be read (encrypted or damaged): {why}"),
        ),
    };
    Finding {
        source: "archive".into(),
        rule: rule.into(),
        score,
        description,
        path: None,
    }
}

/// The engine: a snapshot replaced atomically by [`Engine::reload`].
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    current: RwLock<Arc<Snapshot>>,
}

fn load(config: &EngineConfig, generation: u64) -> Result<Snapshot, LoadError> {
    let rules = RuleSet::load(&config.rule_dirs)?;
    let hashes = match &config.hash_list {
        Some(p) => HashList::load(p)?,
        None => HashList::default(),
    };
    let blocklist = match &config.url_blocklist {
        Some(p) => UrlBlocklist::parse(&std::fs::read_to_string(p).map_err(|source| {
            LoadError::Blocklist {
                path: p.display().to_string(),
                source,
            }
        })?),
        None => UrlBlocklist::default(),
    };
    Ok(Snapshot {
        rules,
        hashes,
        blocklist,
        limits: config.archive_limits,
        generation,
    })
}

impl Engine {
    /// Loads everything once; fails with the file and line of a rule that does not compile.
    pub fn new(config: EngineConfig) -> Result<Engine, LoadError> {
        let snapshot = load(&config, 0)?;
        Ok(Engine {
            config,
            current: RwLock::new(Arc::new(snapshot)),
        })
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reloads rules, hash list and blocklist. On error the previous set stays in force.
    /// Returns the new number of rules.
    pub fn reload(&self) -> Result<usize, LoadError> {
        let generation = self.snapshot().generation + 1;
        let snapshot = load(&self.config, generation)?;
        let count = snapshot.rules.len();
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(snapshot);
        Ok(count)
    }

    /// Analyses one file with a fresh scanner (workers reuse theirs through [`Snapshot`]).
    pub fn analyse_file(&self, content: &[u8], filename: Option<&str>) -> (FileSubject, Verdict) {
        let snapshot = self.snapshot();
        let mut scanner = snapshot.rules.scanner();
        snapshot.analyse_file(&mut scanner, content, filename)
    }

    /// Analyses a URL.
    pub fn analyse_url(&self, url: &str) -> Result<(url::Url, Verdict), InvalidUrl> {
        self.snapshot().analyse_url(url)
    }
}
