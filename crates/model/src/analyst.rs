//! The Analyst API's own error codes, as the public Lastline analysis client knows them.

use std::fmt;

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
    /// 112: a parameter is missing or malformed.
    InvalidMetadata,
    /// 116: hash algorithm is not md5, sha1 or sha256.
    InvalidHashAlgorithm,
    /// 117: the submitted URL is not usable.
    InvalidUrl,
    /// 122: no session and no key/api_token (the client logs in again).
    AuthenticationRequired,
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
            AnalystCode::InvalidHashAlgorithm => 116,
            AnalystCode::InvalidUrl => 117,
            AnalystCode::AuthenticationRequired => 122,
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
