//! `pushdetect admin`: accounts, users, licenses and sensors, directly on the database.

use crate::database::DatabaseArgs;
use anyhow::{anyhow, Result};
use clap::Subcommand;
use pushdetect_model::values::TaskUuid;
use pushdetect_server::credentials::random_task_uuid;
use pushdetect_server::provision::{add_license, add_sensor, add_user, init_account, rotate_token};
use pushdetect_store::{Account, Actor, Grouping, Role, Store, Task};
use serde_json::{json, Value};

/// `pushdetect admin`.
#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// Print results as JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, Subcommand)]
enum What {
    /// Accounts (tenants).
    #[command(subcommand)]
    Account(AccountCmd),
    /// Users who log in with username and password.
    #[command(subcommand)]
    User(UserCmd),
    /// Licenses: access key and API token; their id is the key_id.
    #[command(subcommand)]
    License(LicenseCmd),
    /// Sensors of a license: the subkeys events are pushed for; their id is the subkey_id.
    #[command(subcommand)]
    Sensor(SensorCmd),
    /// Analysis tasks done elsewhere, registered so push_file_download may name them.
    #[command(subcommand)]
    Task(TaskCmd),
    /// Analysis rules.
    #[command(subcommand)]
    Rules(RulesCmd),
    /// Forwarding destinations: syslog servers and webhooks detections are sent on to.
    #[command(subcommand)]
    Destination(crate::destinations::DestinationCmd),
    /// Users' API tokens for the read API (Authorization: Bearer).
    #[command(subcommand)]
    Token(crate::tokens::TokenCmd),
}

#[derive(Debug, Subcommand)]
enum RulesCmd {
    /// Compile the shipped pack plus these directories and report the first error with its
    /// file and line, without touching a server.
    Check {
        /// A rule directory, as given to `serve --rules`; repeatable.
        #[arg(long = "rules", value_name = "DIR")]
        rule_dirs: Vec<std::path::PathBuf>,
    },
    /// Ask the server running on this data dir to reload its rules (SIGHUP).
    Reload,
}

#[derive(Debug, Subcommand)]
enum TaskCmd {
    /// Register an analysis task of a license (e.g. one analysed by an external service).
    Add {
        /// The license (key_id) that submitted it.
        #[arg(long)]
        license: i64,
        /// Its uuid, 32 hex characters (default: a new random one).
        #[arg(long)]
        uuid: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AccountCmd {
    /// Create an account with an admin user, a license and a sensor.
    Add {
        /// Unique account name.
        name: String,
        /// User name of its admin.
        #[arg(long)]
        admin: String,
    },
    /// List accounts.
    List,
    /// Disable an account: its users and licenses can no longer log in or push.
    Disable {
        /// Account id or name.
        account: String,
    },
    /// Enable a disabled account.
    Enable {
        /// Account id or name.
        account: String,
    },
    /// Set how the account groups events into incidents, for events stored from now on:
    /// rules in order of preference, separated by commas, from mail_sender (a mail's
    /// sender), ioc_uuid (an IOC), task_sha256 (the file a task analysed); events no rule
    /// applies to group by host. `host` alone restores the default.
    Grouping {
        /// Account id or name.
        account: String,
        /// For example `mail_sender,task_sha256`, or `host`.
        rules: String,
    },
    /// Keep the account's events this many days (1-3650), or `off` for ever (the
    /// default). Older events, the incidents they leave empty and the analyses nothing
    /// refers to any more are purged in the background.
    Retention {
        /// Account id or name.
        account: String,
        /// Days, or off.
        days: String,
    },
}

#[derive(Debug, Subcommand)]
enum UserCmd {
    /// Create a user with a random password.
    Add {
        /// Unique user name.
        username: String,
        /// Account id or name.
        #[arg(long)]
        account: String,
        /// What the user may do: admin (everything), analyst (work on incidents) or
        /// viewer (read only).
        #[arg(long, default_value = "analyst", value_parser = parse_role)]
        role: Role,
        /// The same as `--role admin`.
        #[arg(long, conflicts_with = "role")]
        admin: bool,
    },
    /// Change a user's role (admin, analyst or viewer); it applies to their next request.
    Role {
        /// User name.
        username: String,
        /// The new role.
        #[arg(value_parser = parse_role)]
        role: Role,
    },
    /// List users.
    List {
        /// Only this account (id or name).
        #[arg(long)]
        account: Option<String>,
    },
    /// Disable a user and end their sessions.
    Disable {
        /// User name.
        username: String,
    },
    /// Enable a disabled user.
    Enable {
        /// User name.
        username: String,
    },
    /// Give a user a new random password, printed once, and end their sessions: how a
    /// forgotten password (the first admin's too) is recovered.
    ResetPassword {
        /// User name.
        username: String,
    },
}

#[derive(Debug, Subcommand)]
enum LicenseCmd {
    /// Create a license with a random access key and API token.
    Add {
        /// Account id or name.
        #[arg(long)]
        account: String,
        /// Display name.
        #[arg(long, default_value = "license")]
        name: String,
    },
    /// List licenses.
    List {
        /// Only this account (id or name).
        #[arg(long)]
        account: Option<String>,
    },
    /// Disable a license and end its sessions.
    Disable {
        /// The key_id.
        key_id: i64,
    },
    /// Enable a disabled license.
    Enable {
        /// The key_id.
        key_id: i64,
    },
    /// Replace the API token (the old one stops working, its sessions end).
    RotateToken {
        /// The key_id.
        key_id: i64,
    },
}

#[derive(Debug, Subcommand)]
enum SensorCmd {
    /// Create a sensor with a random subkey.
    Add {
        /// The license's key_id.
        #[arg(long)]
        license: i64,
        /// Display name.
        #[arg(long, default_value = "sensor")]
        name: String,
    },
    /// List sensors.
    List {
        /// Only this license (key_id).
        #[arg(long)]
        license: Option<i64>,
    },
    /// Disable a sensor: pushes for it are refused.
    Disable {
        /// The subkey_id.
        subkey_id: i64,
    },
    /// Enable a disabled sensor.
    Enable {
        /// The subkey_id.
        subkey_id: i64,
    },
}

/// The account named by its id or name.
pub(crate) async fn account(store: &dyn Store, id_or_name: &str) -> Result<Account> {
    store
        .find_account(id_or_name)
        .await?
        .ok_or_else(|| anyhow!("no account '{id_or_name}'"))
}

async fn account_filter(store: &dyn Store, a: &Option<String>) -> Result<Option<i64>> {
    Ok(match a {
        Some(a) => Some(account(store, a).await?.id),
        None => None,
    })
}

/// Signals the server serving `data_dir` to reload its rules.
fn signal_reload(data_dir: &std::path::Path) -> Result<Value> {
    let pid_file = data_dir.join(crate::serve::PID_FILE);
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .map_err(|e| {
            anyhow!(
                "no server is running on {} ({}: {e})",
                data_dir.display(),
                pid_file.display()
            )
        })?
        .trim()
        .parse()
        .map_err(|_| anyhow!("{} does not hold a process id", pid_file.display()))?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGHUP,
    )
    .map_err(|e| anyhow!("cannot signal pushdetect process {pid}: {e}"))?;
    Ok(
        json!({"ok": format!("asked pushdetect process {pid} to reload its rules; its log reports the result")}),
    )
}

/// Runs an admin command.
pub async fn run(args: AdminArgs) -> Result<()> {
    if let What::Rules(cmd) = &args.what {
        let value = match cmd {
            RulesCmd::Reload => signal_reload(&args.db.data_dir)?,
            RulesCmd::Check { rule_dirs } => {
                let rules = pushdetect_analysis::RuleSet::load(rule_dirs)?;
                json!({"ok": format!("{} rules compile", rules.len()), "rules": rules.len()})
            }
        };
        print_result(&value, args.json);
        return Ok(());
    }
    let store = args.db.open().await?;
    let result = execute(store.as_ref(), args.what).await;
    store.close().await;
    print_result(&result?, args.json);
    Ok(())
}

fn print_result(value: &Value, json: bool) {
    if json {
        println!("{value}");
    } else {
        print_human(value);
    }
}

async fn execute(store: &dyn Store, what: What) -> Result<Value> {
    let done = |what: String| json!({"ok": what});
    // The audit trail records these as done by the operator at the server's machine.
    let by = Actor::operator();
    Ok(match what {
        What::Account(cmd) => match cmd {
            AccountCmd::Add { name, admin } => {
                let (account, creds) = init_account(store, &name, &admin).await?;
                let mut v = serde_json::to_value(creds)?;
                v["account_id"] = json!(account.id);
                v["account"] = json!(account.name);
                v
            }
            AccountCmd::List => json!(store
                .list_accounts()
                .await?
                .into_iter()
                .map(|a| json!({
                    "id": a.id,
                    "name": a.name,
                    "disabled": a.disabled,
                    "grouping": a.grouping,
                }))
                .collect::<Vec<_>>()),
            AccountCmd::Disable { account: a } => {
                let acc = account(store, &a).await?;
                store.set_account_disabled(acc.id, true, &by).await?;
                done(format!("account {} disabled", acc.name))
            }
            AccountCmd::Enable { account: a } => {
                let acc = account(store, &a).await?;
                store.set_account_disabled(acc.id, false, &by).await?;
                done(format!("account {} enabled", acc.name))
            }
            AccountCmd::Retention { account: a, days } => {
                let acc = account(store, &a).await?;
                let days = pushdetect_model::account_api::parse_retention_days("days", &days)
                    .map_err(|e| anyhow!(e.message))?;
                store.set_account_retention(acc.id, days, &by).await?;
                done(match days {
                    Some(d) => format!("account {} keeps its events {d} days", acc.name),
                    None => format!("account {} keeps its events for ever", acc.name),
                })
            }
            AccountCmd::Grouping { account: a, rules } => {
                let acc = account(store, &a).await?;
                let grouping = Grouping::parse("rules", &rules).map_err(|e| anyhow!(e.message))?;
                store.set_account_grouping(acc.id, &grouping, &by).await?;
                done(format!(
                    "account {} groups incidents by {}",
                    acc.name,
                    grouping.to_text()
                ))
            }
        },
        What::User(cmd) => match cmd {
            UserCmd::Add {
                username,
                account: a,
                role,
                admin,
            } => {
                let role = if admin { Role::Admin } else { role };
                if username.contains('/') || username.trim().is_empty() {
                    return Err(anyhow!(
                        "the username must not be empty or hold '/': names with '/' are \
                             those an account's admin makes on the console (account/name)"
                    ));
                }
                let acc = account(store, &a).await?;
                let new = add_user(store, acc.id, &username, role, &by).await?;
                json!({"user_id": new.user.id, "username": new.user.username,
                       "password": new.password, "account_id": acc.id, "role": role.as_str()})
            }
            UserCmd::Role { username, role } => {
                store
                    .set_user_role(user_id(store, &username).await?, role, &by)
                    .await?;
                done(format!("user {username} is now {role}"))
            }
            UserCmd::List { account: a } => {
                let filter = account_filter(store, &a).await?;
                json!(store
                    .list_users(filter)
                    .await?
                    .into_iter()
                    .map(
                        |u| json!({"id": u.id, "username": u.username, "account_id": u.account_id,
                                    "role": u.role.as_str(), "disabled": u.disabled})
                    )
                    .collect::<Vec<_>>())
            }
            UserCmd::Disable { username } => {
                store
                    .set_user_disabled(user_id(store, &username).await?, true, &by)
                    .await?;
                done(format!("user {username} disabled"))
            }
            UserCmd::ResetPassword { username } => {
                let id = user_id(store, &username).await?;
                let password = pushdetect_server::provision::reset_password(store, id, &by).await?;
                json!({"username": username, "password": password})
            }
            UserCmd::Enable { username } => {
                store
                    .set_user_disabled(user_id(store, &username).await?, false, &by)
                    .await?;
                done(format!("user {username} enabled"))
            }
        },
        What::License(cmd) => match cmd {
            LicenseCmd::Add { account: a, name } => {
                let acc = account(store, &a).await?;
                let new = add_license(store, acc.id, &name, &by).await?;
                json!({"key_id": new.license.id, "access_key": new.license.access_key,
                       "api_token": new.api_token, "account_id": acc.id, "name": name})
            }
            LicenseCmd::List { account: a } => {
                let filter = account_filter(store, &a).await?;
                json!(store
                    .list_licenses(filter)
                    .await?
                    .into_iter()
                    .map(
                        |l| json!({"key_id": l.id, "access_key": l.access_key, "name": l.name,
                                    "account_id": l.account_id, "disabled": l.disabled})
                    )
                    .collect::<Vec<_>>())
            }
            LicenseCmd::Disable { key_id } => {
                store.set_license_disabled(key_id, true, &by).await?;
                done(format!("license {key_id} disabled"))
            }
            LicenseCmd::Enable { key_id } => {
                store.set_license_disabled(key_id, false, &by).await?;
                done(format!("license {key_id} enabled"))
            }
            LicenseCmd::RotateToken { key_id } => {
                let token = rotate_token(store, key_id, &by).await?;
                json!({"key_id": key_id, "api_token": token})
            }
        },
        What::Rules(_) => unreachable!("rules commands need no store"),
        What::Token(cmd) => crate::tokens::execute(store, cmd).await?,
        What::Destination(cmd) => {
            crate::destinations::execute(store, cmd, &pushdetect_server::config::system_hostname())
                .await?
        }
        What::Task(TaskCmd::Add { license, uuid }) => {
            let l = store
                .find_license(license)
                .await?
                .ok_or_else(|| anyhow!("no license with key_id {license}"))?;
            let uuid = match uuid {
                Some(u) => TaskUuid::parse("--uuid", &u).map_err(|e| anyhow!(e.message))?,
                None => TaskUuid::parse("--uuid", &random_task_uuid())
                    .map_err(|e| anyhow!(e.message))?,
            };
            let now = chrono::Utc::now().timestamp_millis();
            store
                .create_task(&Task::external(uuid.as_str(), l.account_id, l.id, now))
                .await?;
            json!({"task_uuid": uuid.to_string(), "key_id": l.id})
        }
        What::Sensor(cmd) => match cmd {
            SensorCmd::Add { license, name } => {
                let l = store
                    .find_license(license)
                    .await?
                    .ok_or_else(|| anyhow!("no license with key_id {license}"))?;
                let s = add_sensor(store, l.id, &name, &by).await?;
                json!({"subkey_id": s.id, "subkey": s.subkey, "key_id": l.id,
                       "sensor_key": format!("{}:{}", l.access_key, s.subkey), "name": name})
            }
            SensorCmd::List { license } => json!(store
                .list_sensors(license)
                .await?
                .into_iter()
                .map(
                    |s| json!({"subkey_id": s.id, "subkey": s.subkey, "key_id": s.license_id,
                                "sensor_key": format!("{}:{}", s.access_key, s.subkey),
                                "name": s.name, "disabled": s.disabled})
                )
                .collect::<Vec<_>>()),
            SensorCmd::Disable { subkey_id } => {
                store.set_sensor_disabled(subkey_id, true, &by).await?;
                done(format!("sensor {subkey_id} disabled"))
            }
            SensorCmd::Enable { subkey_id } => {
                store.set_sensor_disabled(subkey_id, false, &by).await?;
                done(format!("sensor {subkey_id} enabled"))
            }
        },
    })
}

async fn user_id(store: &dyn Store, username: &str) -> Result<i64> {
    Ok(store
        .find_user(username)
        .await?
        .ok_or_else(|| anyhow!("no user '{username}'"))?
        .id)
}

/// Prints a result for a person: objects as "key: value" lines, lists as one line per item.
fn print_human(value: &Value) {
    let scalar = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match value {
        Value::Array(items) => {
            if items.is_empty() {
                println!("(none)");
            }
            for item in items {
                let line: Vec<String> = item
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| format!("{k}={}", scalar(v)))
                    .collect();
                println!("{}", line.join("  "));
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                println!("{k}: {}", scalar(v));
            }
        }
        other => println!("{}", scalar(other)),
    }
}

/// Reads a role as `--role` and `user role` take it.
fn parse_role(value: &str) -> Result<Role, String> {
    Role::parse("role", value).map_err(|e| e.message)
}
