//! What an analysis found: written by the worker as its task's result, read back by the
//! Analyst API's result calls and by the console. Stored as JSON in the task's `result`.

use pushdetect_analysis::{Finding, Verdict};
use pushdetect_store::Task;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The result of one analysis.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// What was analysed: a file's hashes, size, type and name, or the URL.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub analysis_subject: Value,
    /// Its score, 0-100 (also the task's own score).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<i64>,
    /// What the findings describe, highest score first, each once.
    #[serde(default)]
    pub malicious_activity: Vec<String>,
    /// Every finding.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Why the subject could not be analysed, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Outcome {
    /// The verdict on a subject.
    pub fn of_verdict(subject: Value, verdict: &Verdict) -> Outcome {
        Outcome {
            analysis_subject: subject,
            score: Some(i64::from(verdict.score)),
            malicious_activity: verdict.malicious_activity.clone(),
            findings: verdict.findings.clone(),
            error: None,
        }
    }

    /// A subject that could not be analysed, and why.
    pub fn failed(subject: Value, error: String) -> Outcome {
        Outcome {
            analysis_subject: subject,
            error: Some(error),
            ..Outcome::default()
        }
    }

    /// The result of a task: empty while it has none; for a stored result this version
    /// cannot read, an outcome that says so (and a warning in the log).
    pub fn of(task: &Task) -> Outcome {
        let Some(stored) = &task.result else {
            return Outcome::default();
        };
        Outcome::deserialize(stored).unwrap_or_else(|e| {
            tracing::warn!(task = %task.uuid, error = %e, "a stored analysis result is unreadable");
            Outcome::failed(Value::Null, format!("the stored result is unreadable: {e}"))
        })
    }

    /// As stored, and as the Analyst API's `get` answers it.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|e| json!({"error": e.to_string()}))
    }

    /// The rules that matched, in the order of the findings, each once.
    pub fn rules(&self) -> Vec<&str> {
        let mut rules: Vec<&str> = Vec::new();
        for f in &self.findings {
            if !rules.contains(&f.rule.as_str()) {
                rules.push(&f.rule);
            }
        }
        rules
    }

    /// The subject's name for a one-line list: its file name, URL or SHA-256.
    pub fn subject_name(&self) -> &str {
        let s = &self.analysis_subject;
        s["filename"]
            .as_str()
            .or(s["url"].as_str())
            .or(s["sha256"].as_str())
            .unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &str) -> Finding {
        Finding {
            source: "yara".into(),
            rule: rule.into(),
            score: 70,
            description: "d".into(),
            path: None,
        }
    }

    #[test]
    fn an_outcome_reads_back_what_was_stored_and_names_its_rules_once() {
        let o = Outcome {
            analysis_subject: json!({"url": "http://x.example/"}),
            score: Some(70),
            malicious_activity: vec!["d".into()],
            findings: vec![finding("a"), finding("b"), finding("a")],
            error: None,
        };
        let stored = o.to_json();
        assert_eq!(stored["findings"][1]["rule"], "b");
        assert_eq!(serde_json::from_value::<Outcome>(stored).unwrap(), o);
        assert_eq!(o.rules(), ["a", "b"]);
        assert_eq!(o.subject_name(), "http://x.example/");
    }

    #[test]
    fn a_stored_result_is_read_back_and_an_unreadable_one_says_so() {
        let mut task = Task::external("0123456789abcdef0123456789abcdef", 1, 1, 0);
        assert_eq!(Outcome::of(&task), Outcome::default(), "no result yet");
        // What an earlier version stored: read with what it holds.
        task.result = Some(json!({"malicious_activity": ["m"], "score": 40}));
        let o = Outcome::of(&task);
        assert_eq!(o.malicious_activity, ["m"]);
        assert_eq!(o.score, Some(40));
        assert!(o.findings.is_empty());
        task.result = Some(json!({"findings": "not a list"}));
        let o = Outcome::of(&task);
        assert!(o.error.unwrap().contains("the stored result is unreadable"));
    }

    #[test]
    fn a_failure_keeps_its_reason_and_no_empty_subject() {
        let o = Outcome::failed(Value::Null, "gone".into());
        let stored = o.to_json();
        assert_eq!(stored["error"], "gone");
        assert!(stored.get("analysis_subject").is_none());
        assert_eq!(o.subject_name(), "");
    }
}
