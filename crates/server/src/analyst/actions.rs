//! The table of the Analyst API: each call of the model's list
//! ([`pushdetect_model::analyst::CALLS`]) and what the server does for it. The router
//! routes each path to its [`Action`]; the handler's `match` over actions is exhaustive,
//! so a new action is handled before it compiles.

/// What the server does for one Analyst API call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `authentication/login`: a session for a license's key and token.
    Login,
    /// `authentication/logout`.
    Logout,
    /// `authentication/ping`: the credentials are good.
    Ping,
    /// `management/get_status`: whether the store answers (no credentials needed).
    Status,
    /// `analysis/submit/file`.
    SubmitFile,
    /// `analysis/submit/download`.
    SubmitDownload,
    /// `analysis/submit/url`.
    SubmitUrl,
    /// `analysis/get`: the full result.
    Get,
    /// `analysis/get_result`: the summary.
    Summary,
    /// `analysis/get_result_activities`.
    ResultActivities,
    /// `analysis/get_report_activities`.
    ReportActivities,
    /// `analysis/get_task_metadata`.
    Metadata,
    /// `analysis/get_analysis_tags`.
    Tags,
    /// `analysis/query_task_artifact`.
    QueryArtifact,
    /// `analysis/get_result_artifact` and `analysis/get_report_artifact`: a download.
    Artifact,
    /// `analysis/get_progress`.
    Progress,
    /// `analysis/completed`.
    Completed,
    /// `analysis/get_pending`.
    Pending,
    /// `analysis/query/file_hash`.
    QueryHash,
    /// `analysis/query/is_blocked_file_hash`.
    IsBlocked,
}

impl Action {
    /// Whether the call changes state (a submission): accepted by POST only, so that a
    /// page elsewhere cannot make a browser holding the session cookie submit by a GET.
    pub fn changes_state(self) -> bool {
        matches!(
            self,
            Action::SubmitFile | Action::SubmitDownload | Action::SubmitUrl
        )
    }
}

/// Every path of the Analyst API and its action.
pub const ACTIONS: &[(&str, Action)] = &[
    ("authentication/login", Action::Login),
    ("authentication/logout", Action::Logout),
    ("authentication/ping", Action::Ping),
    ("management/get_status", Action::Status),
    ("analysis/submit/file", Action::SubmitFile),
    ("analysis/submit/download", Action::SubmitDownload),
    ("analysis/submit/url", Action::SubmitUrl),
    ("analysis/get", Action::Get),
    ("analysis/get_result", Action::Summary),
    ("analysis/get_result_activities", Action::ResultActivities),
    ("analysis/get_report_activities", Action::ReportActivities),
    ("analysis/get_task_metadata", Action::Metadata),
    ("analysis/get_analysis_tags", Action::Tags),
    ("analysis/query_task_artifact", Action::QueryArtifact),
    ("analysis/get_result_artifact", Action::Artifact),
    ("analysis/get_report_artifact", Action::Artifact),
    ("analysis/get_progress", Action::Progress),
    ("analysis/completed", Action::Completed),
    ("analysis/get_pending", Action::Pending),
    ("analysis/query/file_hash", Action::QueryHash),
    ("analysis/query/is_blocked_file_hash", Action::IsBlocked),
];

#[cfg(test)]
mod tests {
    use super::*;
    use pushdetect_model::analyst::{AnalystCall, CALLS};

    #[test]
    fn every_call_of_the_model_has_one_action_and_every_action_a_call() {
        let mut table: Vec<&str> = ACTIONS.iter().map(|(p, _)| *p).collect();
        let mut calls: Vec<&str> = CALLS.iter().map(|c| c.path).collect();
        table.sort();
        calls.sort();
        assert_eq!(table, calls);
        for (path, action) in ACTIONS {
            let call = AnalystCall::find(path).unwrap();
            assert_eq!(action.changes_state(), call.changes_state(), "{path}");
        }
    }
}
