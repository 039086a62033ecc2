//! The HTTP side shared by both API clients: building the connection from the transport
//! settings, reading the envelope, and describing exchanges with secrets masked.

use crate::config::Transport;
use crate::error::ClientError;
use serde_json::Value;

/// Parameter names whose values never appear in logs.
const SECRET_NAMES: &[&str] = &["password", "api_token"];

/// A reqwest client honouring `verify_ssl`, the CA bundle, the proxy and the timeout.
pub fn build(transport: &Transport) -> Result<reqwest::Client, ClientError> {
    let mut builder = reqwest::Client::builder()
        .timeout(transport.timeout)
        .connect_timeout(transport.timeout.min(std::time::Duration::from_secs(30)))
        .user_agent(concat!("pushdetect-client/", env!("CARGO_PKG_VERSION")))
        .danger_accept_invalid_certs(!transport.verify_ssl);
    if let Some(path) = &transport.ca_bundle {
        let pem = std::fs::read(path).map_err(|e| ClientError::File {
            path: path.display().to_string(),
            source: e,
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| ClientError::Config(format!("ca_bundle {}: {e}", path.display())))?;
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    if let Some(proxy) = &transport.proxy {
        let proxy = reqwest::Proxy::all(proxy)
            .map_err(|e| ClientError::Config(format!("proxy '{proxy}': {e}")))?;
        builder = builder.proxy(proxy);
    }
    builder
        .build()
        .map_err(|e| ClientError::Config(format!("cannot set up HTTPS: {e}")))
}

/// The session cookie (`name=value`) a login answer sets, if any.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .next()
        .map(str::to_owned)
}

/// `name=value` pairs for a log line, secrets replaced by `***`.
pub fn masked(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| {
            if SECRET_NAMES.contains(&k.as_str()) {
                format!("{k}=***")
            } else {
                let shown: String = v.chars().take(200).collect();
                format!("{k}={shown}")
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The envelope's data, or the API error it carries. As papi_client does, an HTTP error
/// status is a communication error and its body is not read.
pub async fn envelope(
    response: reqwest::Response,
) -> Result<(reqwest::StatusCode, Value), ClientError> {
    let status = response.status();
    let body = response.bytes().await?;
    tracing::debug!(target: "pushdetect_client::http", "<- {status} {}", String::from_utf8_lossy(&body[..body.len().min(2000)]));
    let value: Value = serde_json::from_slice(&body).map_err(|_| {
        ClientError::Communication(format!("HTTP {status}: the answer is not a JSON envelope"))
    })?;
    Ok((status, value))
}

/// Splits an envelope into its data or its error.
pub fn open(status: reqwest::StatusCode, value: Value) -> Result<Value, ClientError> {
    match value.get("success").and_then(Value::as_i64) {
        Some(1) => value
            .get("data")
            .cloned()
            .ok_or_else(|| ClientError::Communication("the envelope has no data".into())),
        Some(0) => Err(ClientError::Api {
            code: value.get("error_code").and_then(Value::as_u64).unwrap_or(0) as u32,
            message: value
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("unknown error")
                .to_owned(),
        }),
        _ => Err(ClientError::Communication(format!(
            "HTTP {status}: the answer has no 'success' field"
        ))),
    }
}
