//! `pushdetect init` and the first start of `serve`: a first account with its credentials.

use crate::database::DatabaseArgs;
use anyhow::{bail, Result};
use pushdetect_server::provision::{init_account, InitialCredentials};
use pushdetect_store::Store;

/// Name of the first account.
pub const FIRST_ACCOUNT: &str = "default";
/// Name of the first account's admin user.
pub const FIRST_USER: &str = "admin";

/// `pushdetect init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// Print the credentials as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Creates the database and the first account; refuses an initialised one.
pub async fn run(args: InitArgs) -> Result<()> {
    let store = args.db.open().await?;
    if store.has_accounts().await? {
        bail!(
            "{} is already initialised; nothing was changed (use `pushdetect admin` to add \
             accounts, users, licenses and sensors)",
            args.db.describe()
        );
    }
    let creds = create_first_account(store.as_ref()).await?;
    print_credentials(&creds, args.json, &args.db.describe());
    store.close().await;
    Ok(())
}

/// Creates the first account.
pub async fn create_first_account(store: &dyn Store) -> Result<InitialCredentials> {
    let (_, creds) = init_account(store, FIRST_ACCOUNT, FIRST_USER).await?;
    Ok(creds)
}

/// Prints the credentials once, for a person or (with `json`) a script.
pub fn print_credentials(creds: &InitialCredentials, json: bool, where_: &str) {
    if json {
        println!("{}", serde_json::to_string(creds).unwrap_or_default());
        return;
    }
    println!("pushdetect initialised: {where_}");
    println!("  account 'default', admin user and one license with one sensor:");
    println!("  username:   {}", creds.username);
    println!("  password:   {}", creds.password);
    println!("  access_key: {}", creds.access_key);
    println!("  api_token:  {}", creds.api_token);
    println!("  key_id:     {}", creds.key_id);
    println!("  subkey:     {}", creds.subkey);
    println!("  subkey_id:  {}", creds.subkey_id);
    println!("  sensor_key: {}", creds.sensor_key);
    println!("The password and API token are shown only this once; they are stored hashed.");
}
