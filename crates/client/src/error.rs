//! What can go wrong for a client call.

use pushdetect_model::ApiError;

/// A client error. Every variant says what failed in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The configuration is missing or unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// The request was checked before sending and is not valid; nothing was sent.
    #[error("{0} (found before sending)")]
    Invalid(ApiError),
    /// The server answered with an API error.
    #[error("{message} (error {code})")]
    Api {
        /// The server's error code.
        code: u32,
        /// The server's message.
        message: String,
    },
    /// The server could not be reached, or answered outside the protocol (an HTTP error
    /// status or a body that is not the envelope).
    #[error("communication error: {0}")]
    Communication(String),
    /// Waiting for an analysis took longer than allowed.
    #[error("timed out: {0}")]
    Timeout(String),
    /// A local file could not be read.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl ClientError {
    /// Whether papi_client would log in again and retry after this error: error codes
    /// 3001-3004, or a message containing "Permission denied".
    pub fn is_session_error(&self) -> bool {
        match self {
            ClientError::Api { code, message } => {
                (3001..=3004).contains(code) || message.contains("Permission denied")
            }
            _ => false,
        }
    }
}

impl From<reqwest::Error> for ClientError {
    fn from(e: reqwest::Error) -> Self {
        // The chain names the cause (refused, TLS, timeout), the URL without query.
        let e = e.without_url();
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(&format!(": {s}"));
            source = s.source();
        }
        // What rustls reports when the answer to its hello is not TLS at all.
        if message.contains("InvalidContentType") {
            message = format!(
                "the server did not answer in TLS: it serves plain HTTP there, so use an \
                 http:// url (or give the server --tls-cert and --tls-key) ({message})"
            );
        }
        ClientError::Communication(message)
    }
}
