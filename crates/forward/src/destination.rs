//! A leased destination made ready to send: its stored target, format and options parsed
//! back (they were checked when it was created), and the names its records carry.

use crate::payload::Names;
use crate::SendError;
use pushdetect_model::forwarding::{PayloadFormat, Target};
use pushdetect_store::forwarding::Leased;
use serde_json::{json, Value};

/// What the transport needs besides the target, as kept in the destination's `options`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    /// PEM CA certificates that sign the server's certificate (TLS syslog, https
    /// webhooks); the public web roots when absent.
    pub ca_pem: Option<String>,
    /// The PEM certificate chain to present (TLS syslog); its key is the secret.
    pub client_cert_pem: Option<String>,
    /// The name the server's certificate must carry, when not the target's host.
    pub server_name: Option<String>,
    /// CEF/LEEF device vendor, when not "pushdetect".
    pub vendor: Option<String>,
    /// CEF/LEEF device product, when not "pushdetect".
    pub product: Option<String>,
    /// The syslog facility, 0-23 (default 1, user).
    pub facility: Option<u8>,
}

impl Options {
    /// The JSON the store keeps.
    pub fn to_json(&self) -> Value {
        json!({
            "ca_pem": self.ca_pem,
            "client_cert_pem": self.client_cert_pem,
            "server_name": self.server_name,
            "vendor": self.vendor,
            "product": self.product,
            "facility": self.facility,
        })
    }

    /// Reads the JSON of [`Options::to_json`].
    pub fn from_json(v: &Value) -> Self {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Options {
            ca_pem: s("ca_pem"),
            client_cert_pem: s("client_cert_pem"),
            server_name: s("server_name"),
            vendor: s("vendor"),
            product: s("product"),
            facility: v
                .get("facility")
                .and_then(Value::as_u64)
                .and_then(|f| u8::try_from(f).ok())
                .filter(|f| *f <= 23),
        }
    }

    /// The syslog facility messages carry: the destination's, else 1 (user).
    pub fn syslog_facility(&self) -> u8 {
        self.facility.unwrap_or(1)
    }

    /// The names records carry.
    pub fn names(&self) -> Names {
        let d = Names::default();
        Names {
            vendor: self.vendor.clone().unwrap_or(d.vendor),
            product: self.product.clone().unwrap_or(d.product),
            version: d.version,
        }
    }
}

/// A destination ready to send.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Its id.
    pub id: i64,
    /// Its account.
    pub account_id: i64,
    /// Its name.
    pub name: String,
    /// Where it sends.
    pub target: Target,
    /// The payload format.
    pub format: PayloadFormat,
    /// Transport options.
    pub options: Options,
    /// The signing key or TLS client key.
    pub secret: Option<String>,
    /// How long a delivery is retried, ms.
    pub dead_after_ms: i64,
}

impl Prepared {
    /// Parses a leased destination back.
    pub fn from_leased(l: &Leased) -> Result<Self, SendError> {
        let d = &l.destination;
        let target =
            Target::parse("target", &d.target).map_err(|e| SendError::Settings(e.message))?;
        let format = PayloadFormat::parse_for("format", &d.format, &target)
            .map_err(|e| SendError::Settings(e.message))?;
        Ok(Prepared {
            id: d.id,
            account_id: d.account_id,
            name: d.name.clone(),
            target,
            format,
            options: Options::from_json(&d.options),
            secret: l.secret.clone(),
            dead_after_ms: d.dead_after_secs.saturating_mul(1000),
        })
    }
}
