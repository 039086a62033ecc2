//! `pushdetect admin destination`: an account's forwarding destinations (syslog servers,
//! webhooks) and their dead letters, directly on the database. The flags are the read
//! API's parameters (docs/forwarding.md); PEM material is read from files.

use anyhow::{anyhow, Context, Result};
use clap::Subcommand;
use pushdetect_forward::setup::{delivery_json, destination_json, from_params, listed};
use pushdetect_model::forwarding_api::MAX_RESEND_IDS;
use pushdetect_model::workflow_api::parse_ids;
use pushdetect_store::forwarding::Destination;
use pushdetect_store::{Account, Actor, Store};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;

/// `pushdetect admin destination …`.
#[derive(Debug, Subcommand)]
pub enum DestinationCmd {
    /// Create a destination: a syslog server (tcp://, tls://, udp://) or a webhook
    /// (https://). A webhook's signing key is generated and printed once, unless given.
    Add(Box<AddArgs>),
    /// List the account's destinations with their outbox.
    List {
        /// Account id or name.
        account: String,
    },
    /// Stop sending to a destination; what is pushed meanwhile is not queued for it.
    Disable {
        /// Account id or name.
        account: String,
        /// Destination name.
        name: String,
    },
    /// Send to a disabled destination again.
    Enable {
        /// Account id or name.
        account: String,
        /// Destination name.
        name: String,
    },
    /// Remove a destination and its outbox.
    Remove {
        /// Account id or name.
        account: String,
        /// Destination name.
        name: String,
    },
    /// Send a test message now and say whether it was delivered.
    Test {
        /// Account id or name.
        account: String,
        /// Destination name.
        name: String,
    },
    /// List a destination's dead-lettered deliveries, newest first.
    Dead {
        /// Account id or name.
        account: String,
        /// Destination name.
        name: String,
    },
    /// Send dead-lettered deliveries again (all of them unless --ids).
    Resend {
        /// Account id or name.
        account: String,
        /// Destination name.
        name: String,
        /// Delivery ids separated by commas.
        #[arg(long)]
        ids: Option<String>,
    },
}

/// `pushdetect admin destination add`.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Account id or name.
    account: String,
    /// Its name in the account.
    name: String,
    /// tcp://HOST[:PORT], tls://HOST[:PORT], udp://HOST[:PORT] or an https:// URL.
    target: String,
    /// cef, leef, json or ocsf (default cef for syslog, json for a webhook).
    #[arg(long)]
    format: Option<String>,
    /// events, incidents, or both separated by a comma; or incident changes by name.
    #[arg(long)]
    sends: Option<String>,
    /// Event types sent: file_download, ioc, mail, separated by commas.
    #[arg(long)]
    types: Option<String>,
    /// The least impact (0-100) of an event, or of an incident whose change is sent.
    #[arg(long)]
    min_impact: Option<String>,
    /// Tool actions of the events sent: LOG, WARN, BLOCK.
    #[arg(long)]
    actions: Option<String>,
    /// Sensor ids (subkey_id) whose events are sent.
    #[arg(long)]
    sensors: Option<String>,
    /// Seconds a delivery is retried before it is dead-lettered (default 86400).
    #[arg(long)]
    dead_after: Option<String>,
    /// PEM file of the CA certificates the server's certificate must chain to.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// The name the server's certificate must carry (tls://).
    #[arg(long)]
    server_name: Option<String>,
    /// PEM file of the client certificate chain to present (tls://).
    #[arg(long)]
    client_cert_file: Option<PathBuf>,
    /// PEM file of its private key: kept secret, never shown again.
    #[arg(long)]
    client_key_file: Option<PathBuf>,
    /// A webhook's HMAC-SHA256 key (default: generated and printed once).
    #[arg(long)]
    signing_key: Option<String>,
    /// CEF/LEEF device vendor.
    #[arg(long)]
    vendor: Option<String>,
    /// CEF/LEEF device product.
    #[arg(long)]
    product: Option<String>,
    /// Syslog facility, 0-23 (default 1, user).
    #[arg(long)]
    facility: Option<String>,
}

fn read(path: &Option<PathBuf>) -> Result<Option<String>> {
    path.as_ref()
        .map(|p| std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display())))
        .transpose()
}

async fn named(store: &dyn Store, account: &Account, name: &str) -> Result<Destination> {
    store
        .find_destination(account.id, name)
        .await?
        .ok_or_else(|| anyhow!("no destination '{name}' in account {}", account.name))
}

/// Runs a destination command.
pub async fn execute(store: &dyn Store, cmd: DestinationCmd, hostname: &str) -> Result<Value> {
    let find = |a: &str| {
        let a = a.to_owned();
        async move { crate::admin::account(store, &a).await }
    };
    let by = Actor::operator();
    let now = chrono::Utc::now().timestamp_millis();
    Ok(match cmd {
        DestinationCmd::Add(a) => {
            let account = find(&a.account).await?;
            let mut params: HashMap<&str, String> = HashMap::new();
            params.insert("name", a.name.clone());
            params.insert("target", a.target.clone());
            for (k, v) in [
                ("format", &a.format),
                ("sends", &a.sends),
                ("types", &a.types),
                ("min_impact", &a.min_impact),
                ("actions", &a.actions),
                ("sensors", &a.sensors),
                ("dead_after", &a.dead_after),
                ("server_name", &a.server_name),
                ("signing_key", &a.signing_key),
                ("vendor", &a.vendor),
                ("product", &a.product),
                ("facility", &a.facility),
            ] {
                if let Some(v) = v {
                    params.insert(k, v.clone());
                }
            }
            for (k, file) in [
                ("ca_pem", &a.ca_file),
                ("client_cert_pem", &a.client_cert_file),
                ("client_key_pem", &a.client_key_file),
            ] {
                if let Some(text) = read(file)? {
                    params.insert(k, text);
                }
            }
            let get = |k: &str| {
                params
                    .get(k)
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
            };
            let created = from_params(account.id, &get, now).map_err(|e| anyhow!(e.message))?;
            let stored = store.create_destination(&created.new, &by).await?;
            let mut v = destination_json(&stored, None);
            if let Some(key) = created.signing_key {
                v["signing_key"] = json!(key);
                v["note"] = json!("the signing key is shown only this once");
            }
            v
        }
        DestinationCmd::List { account } => {
            let account = find(&account).await?;
            json!(listed(store, account.id)
                .await?
                .iter()
                .map(|(d, depth)| destination_json(d, depth.as_ref()))
                .collect::<Vec<_>>())
        }
        DestinationCmd::Disable { account, name } => {
            let account = find(&account).await?;
            let d = named(store, &account, &name).await?;
            store
                .set_destination_disabled(account.id, d.id, true, &by)
                .await?;
            json!({"ok": format!("destination {name} disabled")})
        }
        DestinationCmd::Enable { account, name } => {
            let account = find(&account).await?;
            let d = named(store, &account, &name).await?;
            store
                .set_destination_disabled(account.id, d.id, false, &by)
                .await?;
            json!({"ok": format!("destination {name} enabled")})
        }
        DestinationCmd::Remove { account, name } => {
            let account = find(&account).await?;
            let d = named(store, &account, &name).await?;
            store.remove_destination(account.id, d.id, &by).await?;
            json!({"ok": format!("destination {name} removed with its outbox")})
        }
        DestinationCmd::Test { account, name } => {
            let account = find(&account).await?;
            let d = named(store, &account, &name).await?;
            pushdetect_forward::probe::test_destination(store, d, hostname)
                .await
                .map_err(|e| anyhow!("the test message to {name} was not delivered: {e}"))?;
            json!({"ok": format!("a test message was delivered to {name}")})
        }
        DestinationCmd::Dead { account, name } => {
            let account = find(&account).await?;
            let d = named(store, &account, &name).await?;
            json!(store
                .dead_letters(account.id, d.id, 1000)
                .await?
                .iter()
                .map(delivery_json)
                .collect::<Vec<_>>())
        }
        DestinationCmd::Resend { account, name, ids } => {
            let account = find(&account).await?;
            let d = named(store, &account, &name).await?;
            let ids = ids
                .map(|v| parse_ids("--ids", &v, MAX_RESEND_IDS))
                .transpose()
                .map_err(|e| anyhow!(e.message))?
                .unwrap_or_default();
            let n = store.resend(account.id, d.id, &ids, now, &by).await?;
            json!({"ok": format!("{n} deliveries to {name} will be sent again")})
        }
    })
}
