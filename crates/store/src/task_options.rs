//! What a submission to the Analyst API asked of its analysis, kept with its task.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The checked options of a submission: the flags the server acts on, and the context
/// the client sent about where the file or URL came from (kept with the task and shown
/// with it). Stored as JSON in the task's `options` column; the store's SQL reads
/// `delete_after_analysis` there (see `Backend::delete_asked`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SubmissionOptions {
    /// Delete the submitted content once no task needs it any more.
    #[serde(default)]
    pub delete_after_analysis: bool,
    /// Analyse again even if this license had the same subject analysed before.
    #[serde(default)]
    pub bypass_cache: bool,
    /// Where a downloaded file came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_ip: Option<String>,
    /// The server of the connection the file was seen on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_ip: Option<String>,
    /// The client of that connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// The port of `download_ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_port: Option<u16>,
    /// The port of `server_ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_port: Option<u16>,
    /// The port of `client_ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_port: Option<u16>,
    /// Whether the client saw the file as a download.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_download: Option<bool>,
    /// The score from which results carry the full report (-1: never, 101: always).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_report_score: Option<i64>,
    /// The analysis time the client asked for, in seconds (accepted; analysis is static).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis_timeout: Option<i64>,
    /// The priority the client asked for, 0-10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// Free-text context (`download_url`, `user_agent`, ...), in the order received.
    #[serde(flatten)]
    pub context: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn options_keep_their_names_and_stored_ones_read_back() {
        let mut o = SubmissionOptions {
            delete_after_analysis: true,
            download_port: Some(8080),
            ..Default::default()
        };
        o.context.insert("user_agent".into(), json!("curl/8"));
        let stored = serde_json::to_value(&o).unwrap();
        assert_eq!(
            stored,
            json!({"delete_after_analysis": true, "bypass_cache": false,
                   "download_port": 8080, "user_agent": "curl/8"})
        );
        assert_eq!(
            serde_json::from_value::<SubmissionOptions>(stored).unwrap(),
            o
        );
        // What older versions stored (and external tasks): no options at all.
        let empty: SubmissionOptions = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, SubmissionOptions::default());
    }
}
