//! `pushdetect admin token`: users' API tokens, directly on the database; how the
//! operator makes a token for a service account or revokes a leaked one.

use anyhow::{anyhow, Result};
use clap::Subcommand;
use pushdetect_model::account_api::{parse_token_days, parse_token_name, TokenScope};
use pushdetect_server::papi::account::token_json;
use pushdetect_server::provision::create_token;
use pushdetect_store::{Actor, Store};
use serde_json::{json, Value};

/// `pushdetect admin token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Make an API token for a user; it is printed once. Scripts send it as
    /// `Authorization: Bearer TOKEN`.
    Add {
        /// The user it acts for.
        username: String,
        /// What it is for, unique among the user's tokens.
        #[arg(long)]
        name: String,
        /// read (the reading calls only) or write (what the user's role allows).
        #[arg(long, default_value = "read", value_parser = parse_scope)]
        scope: TokenScope,
        /// Days until it stops working, 1 to 3650 (default: until revoked).
        #[arg(long, value_parser = parse_days)]
        expires_days: Option<i64>,
    },
    /// List tokens (never their secrets), of one user or all.
    List {
        /// Only this user's.
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a token: it stops working at once.
    Revoke {
        /// The token's id, as `token list` shows it.
        token_id: i64,
    },
}

fn parse_scope(v: &str) -> Result<TokenScope, String> {
    TokenScope::parse("--scope", v).map_err(|e| e.message)
}

fn parse_days(v: &str) -> Result<i64, String> {
    parse_token_days("--expires-days", v).map_err(|e| e.message)
}

/// Runs a token command as the operator.
pub async fn execute(store: &dyn Store, cmd: TokenCmd) -> Result<Value> {
    let by = Actor::operator();
    let user_named = |name: String| async move {
        store
            .find_user(&name)
            .await?
            .ok_or_else(|| anyhow!("no user '{name}'"))
    };
    Ok(match cmd {
        TokenCmd::Add {
            username,
            name,
            scope,
            expires_days,
        } => {
            let user = user_named(username).await?;
            let name = parse_token_name("--name", &name).map_err(|e| anyhow!(e.message))?;
            let (token, secret) = create_token(
                store,
                user.account_id,
                user.id,
                &name,
                scope,
                expires_days,
                &by,
            )
            .await?;
            let mut v = token_json(&token);
            v["token"] = json!(secret);
            v
        }
        TokenCmd::List { user } => {
            let user_id = match user {
                Some(name) => Some(user_named(name).await?.id),
                None => None,
            };
            json!(store
                .list_api_tokens(None, user_id)
                .await?
                .iter()
                .map(token_json)
                .collect::<Vec<_>>())
        }
        TokenCmd::Revoke { token_id } => {
            store
                .revoke_api_token(token_id, &by)
                .await
                .map_err(|e| match e {
                    pushdetect_store::StoreError::NotFound(_) => anyhow!("no token {token_id}"),
                    e => e.into(),
                })?;
            json!({"ok": format!("token {token_id} revoked")})
        }
    })
}
