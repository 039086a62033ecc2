//! The pushdetect scoring engine.
//!
//! Files are scanned with YARA-X rules (the shipped pack in `rules/` plus operator
//! directories), looked up in the operator's known-bad hash list, and opened when they are
//! zip archives (with limits; bombs are reported, never expanded). URLs are scored by
//! heuristics and the operator's blocklist. A verdict's score is the highest score of its
//! findings, 0-100, and its malicious activity lists their descriptions.

pub mod archive;
pub mod engine;
pub mod hashlist;
pub mod rules;
pub mod subject;
pub mod url_heuristics;

pub use engine::{Engine, EngineConfig, Snapshot, Verdict};
pub use rules::{RuleSet, RulesError};

/// One reason for a score.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Finding {
    /// What found it: `yara`, `hash`, `archive` or `url`.
    pub source: String,
    /// Rule (or check) identifier.
    pub rule: String,
    /// Its score, 0-100.
    pub score: u8,
    /// Why it matters, for analysts.
    pub description: String,
    /// Where inside archives, when not the submitted content itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}
