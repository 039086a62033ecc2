//! API errors with the stable numeric codes documented in `docs/errors.md`.
//!
//! Codes 3001-3004 are the ones Lastline clients answer by logging in again and retrying
//! once, so they are used only with exactly those meanings. Everything a retry cannot fix
//! (a bad parameter, an unknown task) has a code of its own.

use std::fmt;

/// Every error code pushdetect answers with. The numbers are part of the API contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// A required parameter (or both sides of a one-of pair) is missing.
    MissingParameter,
    /// A parameter value does not have the expected format or is not one of the allowed values.
    InvalidParameter,
    /// A parameter name this method does not know: refused so a typo never loses data.
    UnknownParameter,
    /// Parameters that cannot go together (both sides of a one-of pair, a protocol-specific
    /// parameter with another protocol, a parameter given twice).
    ConflictingParameters,
    /// `mail_json_str` is not valid JSON or does not follow the mail object schema.
    InvalidMailObject,
    /// `task_uuid` does not name an analysis task submitted with the selected license.
    UnknownTask,
    /// The requested event does not exist in the caller's account.
    UnknownEvent,
    /// The requested incident does not exist in the caller's account.
    UnknownIncident,
    /// The caller's role does not allow this action (a viewer changing an incident, an
    /// analyst administering the account). Not 3001: logging in again cannot help.
    NotPermitted,
    /// The change is not possible in the state the record is in: an incident merged into
    /// another, a comment past its edit window or of another author, a split that would
    /// leave the incident empty.
    NotPossible,
    /// The request body could not be read as a form.
    MalformedRequest,
    /// The service cannot answer now (the store is unavailable); sent with HTTP 503.
    Unavailable,
    /// The caller may not use the selected key (client retries once after logging in again).
    PermissionDenied,
    /// The key cannot be switched to (client retries once after logging in again).
    CannotSwitchToKey,
    /// No key is selected (client retries once after logging in again).
    NoKeySelected,
    /// Authentication failed: no valid session (missing, expired, logged out), or a login
    /// with unknown or wrong credentials (client logs in again and retries once).
    AuthenticationError,
}

impl ErrorCode {
    /// The number sent as `error_code`.
    pub fn number(self) -> u32 {
        match self {
            ErrorCode::MissingParameter => 2001,
            ErrorCode::InvalidParameter => 2002,
            ErrorCode::UnknownParameter => 2003,
            ErrorCode::ConflictingParameters => 2004,
            ErrorCode::InvalidMailObject => 2005,
            ErrorCode::UnknownTask => 2006,
            ErrorCode::UnknownEvent => 2007,
            ErrorCode::MalformedRequest => 2008,
            ErrorCode::UnknownIncident => 2009,
            ErrorCode::NotPermitted => 2010,
            ErrorCode::NotPossible => 2011,
            ErrorCode::Unavailable => 5001,
            ErrorCode::PermissionDenied => 3001,
            ErrorCode::CannotSwitchToKey => 3002,
            ErrorCode::NoKeySelected => 3003,
            ErrorCode::AuthenticationError => 3004,
        }
    }

    /// Every code, for documentation and metrics.
    pub const ALL: [ErrorCode; 16] = [
        ErrorCode::MissingParameter,
        ErrorCode::InvalidParameter,
        ErrorCode::UnknownParameter,
        ErrorCode::ConflictingParameters,
        ErrorCode::InvalidMailObject,
        ErrorCode::UnknownTask,
        ErrorCode::UnknownEvent,
        ErrorCode::MalformedRequest,
        ErrorCode::UnknownIncident,
        ErrorCode::NotPermitted,
        ErrorCode::NotPossible,
        ErrorCode::Unavailable,
        ErrorCode::PermissionDenied,
        ErrorCode::CannotSwitchToKey,
        ErrorCode::NoKeySelected,
        ErrorCode::AuthenticationError,
    ];
}

/// How much of a client's name is quoted back in an error message: its first 64
/// characters, so that an answer never echoes a huge field.
pub(crate) fn shown(name: &str) -> String {
    name.chars().take(64).collect()
}

/// An API-level error: answered with HTTP 200, `success: 0`, the message and the code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ApiError {
    /// The stable code.
    pub code: ErrorCode,
    /// A message naming the parameter and what is expected.
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (error {})", self.message, self.code.number())
    }
}

impl ApiError {
    /// Builds an error with the given code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// A required parameter is missing.
    pub fn missing(name: &str, expected: &str) -> Self {
        Self::new(
            ErrorCode::MissingParameter,
            format!("missing required parameter '{name}': expected {expected}"),
        )
    }

    /// A parameter has an invalid value.
    pub fn invalid(name: &str, expected: &str) -> Self {
        Self::new(
            ErrorCode::InvalidParameter,
            format!("invalid value for parameter '{name}': expected {expected}"),
        )
    }

    /// Parameters that cannot be combined.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ConflictingParameters, message)
    }

    /// A mail object schema violation at the given JSON path.
    pub fn mail(path: &str, expected: &str) -> Self {
        Self::new(
            ErrorCode::InvalidMailObject,
            format!("invalid mail_json_str: '{path}' {expected}"),
        )
    }

    /// The caller may not use this key. The message starts with "Permission denied",
    /// which Lastline clients also recognise as a reason to log in again.
    pub fn permission_denied(detail: &str) -> Self {
        Self::new(
            ErrorCode::PermissionDenied,
            format!("Permission denied: {detail}"),
        )
    }

    /// The session is missing or expired.
    pub fn authentication(detail: &str) -> Self {
        Self::new(
            ErrorCode::AuthenticationError,
            format!("authentication required: {detail}"),
        )
    }
}
