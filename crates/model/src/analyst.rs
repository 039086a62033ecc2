//! The Analyst API's own error codes, as the public Lastline analysis client knows them.

use crate::error::shown;
use crate::params::closest;
use std::fmt;

/// One call of the Analyst API: its path below the base URL (without the format suffix)
/// and the parameters it accepts. A parameter outside the list is refused with 112 naming
/// it, so a typo is never silently ignored.
#[derive(Debug, Clone, Copy)]
pub struct AnalystCall {
    /// Path below the base URL, e.g. `analysis/submit/file`.
    pub path: &'static str,
    /// One-line summary, for the OpenAPI document.
    pub summary: &'static str,
    /// Accepted parameter names, besides the `key` and `api_token` of every call.
    pub params: &'static [&'static str],
}

impl AnalystCall {
    /// Whether the call changes state (a submission): accepted by POST only, so that a
    /// page elsewhere cannot make a browser holding the session cookie submit by a GET.
    pub fn changes_state(&self) -> bool {
        self.path.starts_with("analysis/submit/")
    }
}

/// Parameters every call accepts: the credentials sent with each request when the client
/// does not keep a session, and `perfdata`, which the public client adds to every request
/// when its `REQUEST_PERFDATA` switch is on (accepted and ignored: there is no performance
/// data to return).
pub const CREDENTIAL_PARAMS: &[&str] = &["key", "api_token", "perfdata"];

/// Fields of a file submission, by content or by hash: every field the public client's
/// `submit_file` and `submit_file_hash` send. What pushdetect does with each is in
/// docs/analyst-api.md.
const SUBMIT_FILE: &[&str] = &[
    "file",
    "filename",
    "md5",
    "sha1",
    "sha256",
    "full_report_score",
    "bypass_cache",
    "delete_after_analysis",
    "require_file_analysis",
    "mime_type",
    "download_ip",
    "download_port",
    "server_ip",
    "server_port",
    "client_ip",
    "client_port",
    "is_download",
    "protocol",
    "password",
    "analysis_timeout",
    "priority",
    "download_url",
    "download_host",
    "download_path",
    "download_agent",
    "download_referer",
    "download_request",
    "password_candidates",
    "analysis_env",
    "allow_network_traffic",
    "keep_file_dumps",
    "keep_memory_dumps",
    "keep_behavior_log",
    "push_to_portal_account",
    "report_version",
    "analysis_task_uuid",
    "analysis_engine",
    "task_metadata",
    "bypass_prefilter",
    "fast_analysis",
    "apk_package_name",
];

/// Fields of `submit_file_metadata` (the deprecated `analysis/submit/download`).
const SUBMIT_DOWNLOAD: &[&str] = &[
    "md5",
    "sha1",
    "download_ip",
    "download_port",
    "download_host",
    "download_path",
    "download_agent",
    "download_referer",
    "download_request",
];

const SUBMIT_URL: &[&str] = &[
    "url",
    "referer",
    "full_report_score",
    "bypass_cache",
    "delete_after_analysis",
    "analysis_timeout",
    "priority",
    "user_agent",
    "push_to_portal_account",
    "report_version",
    "analysis_task_uuid",
    "analysis_engine",
    "task_metadata",
    "fast_analysis",
    "password_candidates",
];

/// Fields of the hash queries: the public client sends `hash_value`, `hash_algorithm` and
/// `hash_block_size`; `md5`, `sha1`, `sha256` are accepted as shorthands.
const HASH_QUERY: &[&str] = &[
    "md5",
    "sha1",
    "sha256",
    "mmh3",
    "hash_value",
    "hash_algorithm",
    "hash_block_size",
    "block_size",
];

/// Calls of the public client that belong to Lastline's own service (rescoring, tickets,
/// sandbox imports, IOC reports): answered with 108 and a message saying pushdetect does
/// not offer them, instead of an HTTP 404 the client would report as a network failure.
pub const NOT_OFFERED: &[(&str, &str)] = &[
    (
        "management/rescore",
        "rescoring is done by editing the rules (docs/rules.md)",
    ),
    (
        "management/rescore_scanner",
        "rescoring is done by editing the rules (docs/rules.md)",
    ),
    (
        "management/suppress_scanner",
        "rules are disabled by editing the rule files (docs/rules.md)",
    ),
    (
        "management/create_ticket",
        "there is no ticket system behind pushdetect",
    ),
    (
        "analysis/analyze_sandbox_result",
        "there is no sandbox behind pushdetect",
    ),
    (
        "analysis/query/analysis_engine_tasks",
        "there is no sandbox behind pushdetect",
    ),
    (
        "analysis/ioc/get_ioc_metadata",
        "pushdetect does not generate IOC reports",
    ),
    (
        "analysis/ioc/get_ioc_report",
        "pushdetect does not generate IOC reports",
    ),
    (
        "analysis/ioc/create_ioc_from_result",
        "pushdetect does not generate IOC reports",
    ),
];

/// Every call of the Analyst API.
pub const CALLS: &[AnalystCall] = &[
    AnalystCall {
        path: "authentication/login",
        summary: "Log in with a license's key and api_token; sets the session cookie.",
        params: &[],
    },
    AnalystCall {
        path: "authentication/logout",
        summary: "End the session.",
        params: &[],
    },
    AnalystCall {
        path: "authentication/ping",
        summary: "Check the credentials.",
        params: &[],
    },
    AnalystCall {
        path: "analysis/submit/file",
        summary: "Submit a file (multipart part 'file') or name one by md5, sha1 or sha256.",
        params: SUBMIT_FILE,
    },
    AnalystCall {
        path: "analysis/submit/download",
        summary: "Report a download of a file submitted before (by md5 or sha1), with its context.",
        params: SUBMIT_DOWNLOAD,
    },
    AnalystCall {
        path: "analysis/submit/url",
        summary: "Submit a URL.",
        params: SUBMIT_URL,
    },
    AnalystCall {
        path: "analysis/get",
        summary: "The result of a task (HTTP 404: unknown task, HTTP 412: no result yet).",
        params: &[
            "uuid",
            "full_report_score",
            "report_uuid",
            "include_scoring_components",
            "report_version",
            "allow_datacenter_redirect",
        ],
    },
    AnalystCall {
        path: "analysis/get_result",
        summary: "The summary of a task's result (score_only: the score alone).",
        params: &["uuid", "score_only"],
    },
    AnalystCall {
        path: "analysis/get_result_activities",
        summary: "What the analysis found in a task's subject.",
        params: &["uuid"],
    },
    AnalystCall {
        path: "analysis/get_report_activities",
        summary: "What one report of a task found (a task has one report, named by the task uuid).",
        params: &["uuid", "report_uuid"],
    },
    AnalystCall {
        path: "analysis/get_task_metadata",
        summary: "A task's submission: kind, subject, state and times.",
        params: &["uuid"],
    },
    AnalystCall {
        path: "analysis/query_task_artifact",
        summary: "Whether an artifact of a task (analysis_subject) can be downloaded.",
        params: &["uuid", "artifact_name"],
    },
    AnalystCall {
        path: "analysis/get_result_artifact",
        summary: "Download an artifact named 'REPORT_UUID:NAME' (raw bytes; HTTP 404, 410, 412 on errors).",
        params: &["uuid", "artifact_uuid"],
    },
    AnalystCall {
        path: "analysis/get_report_artifact",
        summary: "Download an artifact of a report (raw bytes; HTTP 404, 410, 412 on errors).",
        params: &["uuid", "report_uuid", "artifact_name"],
    },
    AnalystCall {
        path: "analysis/get_progress",
        summary: "How far a task is.",
        params: &["uuid"],
    },
    AnalystCall {
        path: "analysis/completed",
        summary: "Tasks completed in a time range, with scores on request; echoes 'before'.",
        params: &["after", "before", "include_score"],
    },
    AnalystCall {
        path: "analysis/get_pending",
        summary: "Tasks not yet completed, submitted in a time range.",
        params: &["after", "before"],
    },
    AnalystCall {
        path: "analysis/query/file_hash",
        summary: "Finished analyses of a file, by hash.",
        params: HASH_QUERY,
    },
    AnalystCall {
        path: "analysis/query/is_blocked_file_hash",
        summary: "Whether a file, by hash, scored as malicious (70 or more) in a finished analysis.",
        params: HASH_QUERY,
    },
    AnalystCall {
        path: "analysis/get_analysis_tags",
        summary: "The tags of a task: the names of the rules that matched its subject.",
        params: &["uuid"],
    },
    AnalystCall {
        path: "management/get_status",
        summary: "Whether the service is healthy.",
        params: &[],
    },
];

impl AnalystCall {
    /// The call at `path`, if there is one.
    pub fn find(path: &str) -> Option<&'static AnalystCall> {
        CALLS.iter().find(|c| c.path == path)
    }

    /// Refuses the first parameter this call does not know (112), suggesting the name a
    /// typo probably meant.
    pub fn check_names<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), AnalystError> {
        let known = || self.params.iter().chain(CREDENTIAL_PARAMS).copied();
        for name in names {
            if known().any(|k| k == name) {
                continue;
            }
            let suggestion = closest(known(), name)
                .map(|n| format!(" (did you mean '{n}'?)"))
                .unwrap_or_default();
            let expected: Vec<&str> = known().collect();
            return Err(AnalystError::new(
                AnalystCode::InvalidMetadata,
                format!(
                    "unknown parameter '{}' for {}{suggestion}; expected one of: {}",
                    shown(name),
                    self.path,
                    expected.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

/// An Analyst API error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnalystCode {
    /// 101: submitted by hash, but the content was never received.
    FileNotAvailable,
    /// 104: wrong key or token.
    InvalidCredentials,
    /// 105: no such task (or not one of this license).
    InvalidUuid,
    /// 106: the task has no result yet.
    NoResultFound,
    /// 107: try again later.
    TemporarilyUnavailable,
    /// 108: not allowed.
    PermissionDenied,
    /// 109: the upload is larger than the limit.
    FileTooLarge,
    /// 112: a parameter is missing, malformed or unknown.
    InvalidMetadata,
    /// 113: the file type is not accepted.
    InvalidFileType,
    /// 114: no such artifact in the task's report.
    InvalidArtifactUuid,
    /// 115: too many submissions.
    SubmissionLimitExceeded,
    /// 116: hash algorithm is not md5, sha1 or sha256.
    InvalidHashAlgorithm,
    /// 117: the submitted URL is not usable.
    InvalidUrl,
    /// 119: an archive could not be extracted.
    FileExtractionFailed,
    /// 122: no session and no key/api_token (the client logs in again).
    AuthenticationRequired,
    /// 124: `priority` is not a usable priority.
    InvalidPriority,
}

impl AnalystCode {
    /// The number sent as `error_code`.
    pub fn number(self) -> u32 {
        match self {
            AnalystCode::FileNotAvailable => 101,
            AnalystCode::InvalidCredentials => 104,
            AnalystCode::InvalidUuid => 105,
            AnalystCode::NoResultFound => 106,
            AnalystCode::TemporarilyUnavailable => 107,
            AnalystCode::PermissionDenied => 108,
            AnalystCode::FileTooLarge => 109,
            AnalystCode::InvalidMetadata => 112,
            AnalystCode::InvalidFileType => 113,
            AnalystCode::InvalidArtifactUuid => 114,
            AnalystCode::SubmissionLimitExceeded => 115,
            AnalystCode::InvalidHashAlgorithm => 116,
            AnalystCode::InvalidUrl => 117,
            AnalystCode::FileExtractionFailed => 119,
            AnalystCode::AuthenticationRequired => 122,
            AnalystCode::InvalidPriority => 124,
        }
    }
}

/// An Analyst API error: the code, a message naming the parameter, and the HTTP status
/// (200 except where the protocol says otherwise: `get` answers 404 and 412).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalystError {
    /// The code.
    pub code: AnalystCode,
    /// What went wrong and what is expected.
    pub message: String,
    /// HTTP status to send.
    pub status: u16,
}

impl AnalystError {
    /// An error answered with HTTP 200.
    pub fn new(code: AnalystCode, message: impl Into<String>) -> Self {
        AnalystError {
            code,
            message: message.into(),
            status: 200,
        }
    }

    /// The same error with another HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// An authentication failure met at an upload's file part: says where the credentials
    /// must come so the file is read.
    pub fn before_upload(self) -> Self {
        let message = format!(
            "{}; an upload is read only from a caller already known: log in first, or send \
             key and api_token in the query string or as form fields before the file part",
            self.message
        );
        AnalystError { message, ..self }
    }

    /// A missing or malformed parameter (112), naming it.
    pub fn metadata(name: &str, expected: &str) -> Self {
        Self::new(
            AnalystCode::InvalidMetadata,
            format!("invalid or missing parameter '{name}': expected {expected}"),
        )
    }
}

impl fmt::Display for AnalystError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (error {})", self.message, self.code.number())
    }
}

impl std::error::Error for AnalystError {}

impl From<crate::ApiError> for AnalystError {
    /// Parameter errors of the shared parsers become "invalid metadata".
    fn from(e: crate::ApiError) -> Self {
        AnalystError::new(AnalystCode::InvalidMetadata, e.message)
    }
}
