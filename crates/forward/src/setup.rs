//! Creating destinations and showing them: one set of named parameters for the CLI's
//! flags, the console's form and the read API (declared in the model's
//! `forwarding_api::DESTINATION_CREATE`), checked
//! here once, each refusal naming its parameter; and one external form of a destination,
//! which never includes its secret.

use crate::destination::Options;
use crate::webhook::new_signing_key;
use pushdetect_model::forwarding::{
    parse_dead_after, DestinationName, Filter, PayloadFormat, SyslogTransport, Target,
};
use pushdetect_model::ApiError;
use pushdetect_store::external::time;
use pushdetect_store::forwarding::{Delivery, Destination, NewDestination, OutboxDepth};
use pushdetect_store::{Store, StoreResult};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};

/// A destination to create, and the signing key to show once (a webhook's, generated).
#[derive(Debug, Clone)]
pub struct Created {
    /// What to store.
    pub new: NewDestination,
    /// The webhook's signing key when it was generated: shown to the admin once.
    pub signing_key: Option<String>,
}

/// A short single-line text of 1 to 63 printable characters.
fn label(name: &str, value: &str) -> Result<String, ApiError> {
    let v = value.trim();
    if (1..=63).contains(&v.chars().count()) && !v.chars().any(char::is_control) {
        Ok(v.to_owned())
    } else {
        Err(ApiError::invalid(name, "1 to 63 printable characters"))
    }
}

/// PEM certificates, at least one, each readable.
fn certificates(name: &str, pem: &str) -> Result<String, ApiError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem.as_bytes()).collect();
    match certs {
        Ok(c) if !c.is_empty() => Ok(pem.to_owned()),
        _ => Err(ApiError::invalid(
            name,
            "PEM certificates (-----BEGIN CERTIFICATE-----)",
        )),
    }
}

/// Reads a destination from named parameters (`get` answers a parameter's value, None
/// when absent or empty).
pub fn from_params(
    account_id: i64,
    get: &dyn Fn(&str) -> Option<String>,
    now_ms: i64,
) -> Result<Created, ApiError> {
    let name = DestinationName::parse(
        "name",
        &get("name").ok_or_else(|| ApiError::missing("name", "a destination name"))?,
    )?;
    let target_text = get("target").ok_or_else(|| {
        ApiError::missing(
            "target",
            "tcp://, tls://, udp:// HOST[:PORT] or an https:// URL",
        )
    })?;
    let target = Target::parse("target", &target_text)?;
    let webhook = target.is_webhook();
    let format = match get("format") {
        Some(f) => PayloadFormat::parse_for("format", &f, &target)?,
        None if webhook => PayloadFormat::Json,
        None => PayloadFormat::Cef,
    };
    let (events, incidents) = match get("sends") {
        Some(s) => Filter::parse_sends("sends", &s)?,
        None => (true, Vec::new()),
    };
    let filter = Filter {
        events,
        incidents,
        types: get("types").map_or(Ok(Vec::new()), |v| Filter::parse_types("types", &v))?,
        min_impact: get("min_impact")
            .map(|v| Filter::parse_min_impact("min_impact", &v))
            .transpose()?,
        actions: get("actions").map_or(Ok(Vec::new()), |v| Filter::parse_actions("actions", &v))?,
        sensors: get("sensors").map_or(Ok(Vec::new()), |v| Filter::parse_sensors("sensors", &v))?,
    };
    let dead_after = get("dead_after")
        .map(|v| parse_dead_after("dead_after", &v))
        .transpose()?
        .unwrap_or(86_400);
    let tls = matches!(
        target,
        Target::Syslog {
            transport: SyslogTransport::Tls,
            ..
        }
    );
    let https = matches!(&target, Target::Webhook(u) if u.scheme() == "https");
    let only = |param: &str, allowed: bool, expected: &str| -> Result<(), ApiError> {
        if get(param).is_some() && !allowed {
            Err(ApiError::invalid(param, expected))
        } else {
            Ok(())
        }
    };
    only(
        "ca_pem",
        tls || https,
        "nothing: only tls:// and https:// targets take a CA bundle",
    )?;
    only(
        "server_name",
        tls,
        "nothing: only tls:// targets take a server name",
    )?;
    only(
        "client_cert_pem",
        tls,
        "nothing: only tls:// targets take a client certificate",
    )?;
    only(
        "client_key_pem",
        tls,
        "nothing: only tls:// targets take a client key",
    )?;
    only("signing_key", webhook, "nothing: only webhooks are signed")?;
    only(
        "facility",
        !webhook,
        "nothing: webhooks have no syslog facility",
    )?;
    let options = Options {
        ca_pem: get("ca_pem")
            .map(|p| certificates("ca_pem", &p))
            .transpose()?,
        client_cert_pem: get("client_cert_pem")
            .map(|p| certificates("client_cert_pem", &p))
            .transpose()?,
        server_name: get("server_name")
            .map(|s| label("server_name", &s))
            .transpose()?,
        vendor: get("vendor").map(|s| label("vendor", &s)).transpose()?,
        product: get("product").map(|s| label("product", &s)).transpose()?,
        facility: get("facility")
            .map(|f| match f.trim().parse::<u8>() {
                Ok(n) if n <= 23 => Ok(n),
                _ => Err(ApiError::invalid(
                    "facility",
                    "a syslog facility from 0 to 23",
                )),
            })
            .transpose()?,
    };
    let client_key = get("client_key_pem");
    if options.client_cert_pem.is_some() != client_key.is_some() {
        return Err(ApiError::invalid(
            "client_key_pem",
            "a PEM private key together with client_cert_pem, or neither",
        ));
    }
    if let Some(key) = &client_key {
        PrivateKeyDer::from_pem_slice(key.as_bytes())
            .map_err(|_| ApiError::invalid("client_key_pem", "a PEM private key"))?;
    }
    let (secret, signing_key) = if webhook {
        match get("signing_key") {
            Some(k) if (16..=256).contains(&k.trim().len()) => (Some(k.trim().to_owned()), None),
            Some(_) => return Err(ApiError::invalid("signing_key", "16 to 256 characters")),
            None => {
                let k = new_signing_key();
                (Some(k.clone()), Some(k))
            }
        }
    } else {
        (client_key, None)
    };
    Ok(Created {
        new: NewDestination {
            account_id,
            name: name.as_str().to_owned(),
            target: target.to_text(),
            format: format.as_str().to_owned(),
            filter: filter.to_json(),
            options: options.to_json(),
            secret,
            dead_after_secs: i64::try_from(dead_after).unwrap_or(i64::MAX),
            created_at_ms: now_ms,
        },
        signing_key,
    })
}

/// The account's destinations, by name, each with its outbox: what the read API, the CLI
/// and the console list.
pub async fn listed(
    store: &dyn Store,
    account_id: i64,
) -> StoreResult<Vec<(Destination, Option<OutboxDepth>)>> {
    let mut depths = store.outbox_depths(Some(account_id)).await?;
    Ok(store
        .list_destinations(account_id)
        .await?
        .into_iter()
        .map(|d| {
            let depth = depths
                .iter()
                .position(|o| o.destination_id == d.id)
                .map(|i| depths.swap_remove(i));
            (d, depth)
        })
        .collect())
}

/// The external form of a delivery (a dead letter, as listed).
pub fn delivery_json(d: &Delivery) -> Value {
    json!({
        "delivery_id": d.id,
        "change": d.change,
        "event_id": d.event_id,
        "incident_id": d.incident_id,
        "created_at": time(d.created_at_ms),
        "attempts": d.attempts,
        "last_error": d.last_error,
        "dead_lettered_at": d.dead_at_ms.map(time),
    })
}

/// The external form of a destination (never its secret), with its outbox when known.
pub fn destination_json(d: &Destination, depth: Option<&OutboxDepth>) -> Value {
    let options = Options::from_json(&d.options);
    json!({
        "destination_id": d.id,
        "name": d.name,
        "target": d.target,
        "format": d.format,
        "filter": d.filter,
        "dead_after": d.dead_after_secs,
        "disabled": d.disabled,
        "created_at": time(d.created_at_ms),
        "has_secret": d.has_secret,
        "ca_pem": options.ca_pem.is_some(),
        "client_certificate": options.client_cert_pem.is_some(),
        "server_name": options.server_name,
        "vendor": options.vendor,
        "product": options.product,
        "facility": options.facility,
        "pending": depth.map_or(0, |o| o.pending),
        "dead_lettered": depth.map_or(0, |o| o.dead),
        "oldest_pending_at": depth.and_then(|o| o.oldest_pending_ms).map(time),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn create(pairs: &[(&str, &str)]) -> Result<Created, ApiError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        from_params(1, &|k| map.get(k).cloned(), 5)
    }

    fn refused(pairs: &[(&str, &str)], field: &str) {
        let e = create(pairs).expect_err("refused");
        assert!(
            e.message.contains(&format!("'{field}'")),
            "{field}: {}",
            e.message
        );
    }

    #[test]
    fn a_webhook_gets_a_generated_key_shown_once_and_json_by_default() {
        let c = create(&[("name", "chat"), ("target", "https://hooks.example/x")]).unwrap();
        let key = c.signing_key.expect("generated");
        assert_eq!(c.new.secret.as_deref(), Some(key.as_str()));
        assert_eq!(c.new.format, "json");
        assert_eq!(c.new.filter, Filter::all_events().to_json());
        assert_eq!(c.new.dead_after_secs, 86_400);
        let own = create(&[
            ("name", "c"),
            ("target", "https://h.example/"),
            ("signing_key", "0123456789abcdef"),
        ])
        .unwrap();
        assert_eq!(
            (own.signing_key, own.new.secret.as_deref()),
            (None, Some("0123456789abcdef"))
        );
    }

    #[test]
    fn a_syslog_destination_takes_its_filter_and_names() {
        let c = create(&[
            ("name", "qradar"),
            ("target", "udp://10.0.0.9"),
            ("format", "leef"),
            ("sends", "events,new"),
            ("types", "mail"),
            ("min_impact", "70"),
            ("actions", "BLOCK"),
            ("sensors", "4"),
            ("dead_after", "600"),
            ("vendor", "Lastline"),
            ("product", "Enterprise"),
            ("facility", "16"),
        ])
        .unwrap();
        assert_eq!(c.signing_key, None);
        assert_eq!(c.new.secret, None);
        assert_eq!(c.new.target, "udp://10.0.0.9:514");
        let f = Filter::from_json(&c.new.filter).unwrap();
        assert_eq!(f.min_impact, Some(70));
        assert_eq!(f.incidents.len(), 1);
        assert_eq!(
            Options::from_json(&c.new.options).names().vendor,
            "Lastline"
        );
        assert_eq!(Options::from_json(&c.new.options).facility, Some(16));
    }

    #[test]
    fn what_a_transport_cannot_use_is_refused_by_name() {
        let syslog = [("name", "s"), ("target", "tcp://h.example")];
        refused(&[("target", "tcp://h")], "name");
        refused(&[("name", "s")], "target");
        refused(&[syslog[0], syslog[1], ("ca_pem", "x")], "ca_pem");
        refused(
            &[syslog[0], syslog[1], ("signing_key", "0123456789abcdef")],
            "signing_key",
        );
        refused(&[syslog[0], syslog[1], ("server_name", "h")], "server_name");
        refused(&[syslog[0], syslog[1], ("facility", "24")], "facility");
        refused(
            &[
                ("name", "w"),
                ("target", "https://h.example/"),
                ("facility", "1"),
            ],
            "facility",
        );
        refused(
            &[
                ("name", "w"),
                ("target", "https://h.example/"),
                ("signing_key", "short"),
            ],
            "signing_key",
        );
        refused(
            &[
                ("name", "t"),
                ("target", "tls://h.example"),
                ("ca_pem", "not pem"),
            ],
            "ca_pem",
        );
        refused(
            &[
                ("name", "t"),
                ("target", "tls://h.example"),
                ("client_key_pem", "x"),
            ],
            "client_key_pem",
        );
        refused(&[syslog[0], syslog[1], ("vendor", "")], "vendor");
        refused(&[syslog[0], syslog[1], ("dead_after", "0")], "dead_after");
        refused(&[syslog[0], syslog[1], ("format", "xml")], "format");
    }
}
