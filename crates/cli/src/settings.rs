//! The server's settings from three places besides the defaults: a TOML file (`serve
//! --config FILE`, else `/etc/pushdetect/pushdetect.toml` when it exists), environment
//! variables (`PUSHDETECT_<SETTING>`) and flags, with one precedence rule: flag > env >
//! file > default. Every option of `serve` is a setting of each kind, named after the
//! option (`max_connections`, `PUSHDETECT_MAX_CONNECTIONS`, `--max-connections`); the
//! table of them (`pushdetect config table`, docs/configuration.md) is made from the same
//! clap definitions, so it cannot drift.

use anyhow::{anyhow, bail, Context, Result};
use clap::builder::Resettable;
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Command};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_FILE: &str = "/etc/pushdetect/pushdetect.toml";

/// The settings that are not read from the file (where to find the file itself).
const NOT_IN_FILE: &[&str] = &["config", "help"];

/// The environment variable of a setting.
pub fn env_name(id: &str) -> String {
    format!("PUSHDETECT_{}", id.to_ascii_uppercase())
}

/// `serve` with an environment variable for each of its options.
pub fn with_env(cli: Command) -> Command {
    cli.mut_subcommand("serve", |serve| {
        serve.mut_args(|arg| {
            if arg.get_env().is_some() || arg.is_positional() || arg.get_id() == "help" {
                arg
            } else {
                let name = env_name(arg.get_id().as_str());
                arg.env(name)
            }
        })
    })
}

/// The `serve` command as the binary defines it.
fn serve_command() -> Command {
    let mut cli = with_env(<crate::Cli as clap::CommandFactory>::command());
    cli.build();
    cli.find_subcommand("serve")
        .cloned()
        .unwrap_or_else(|| Command::new("serve"))
}

/// The settings a file may hold: (id, long flag, whether it takes no value).
fn settings(serve: &Command) -> Vec<(String, String, bool)> {
    serve
        .get_arguments()
        .filter(|a| !a.is_positional() && !NOT_IN_FILE.contains(&a.get_id().as_str()))
        .filter_map(|a| {
            let long = a.get_long()?;
            let flag = matches!(a.get_action(), ArgAction::SetTrue | ArgAction::SetFalse);
            Some((a.get_id().to_string(), long.to_owned(), flag))
        })
        .collect()
}

/// The file's settings as `serve` flags, for the settings `given` does not already set
/// on the command line or in the environment. Unknown keys and values of the wrong kind
/// are refused, naming the key.
fn file_args(path: &Path, text: &str, given: Option<&ArgMatches>) -> Result<Vec<OsString>> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| anyhow!("{}: {}", path.display(), e.to_string().trim()))?;
    let serve = serve_command();
    let known = settings(&serve);
    let mut args = Vec::new();
    for (key, value) in &table {
        let Some((id, long, flag)) = known.iter().find(|(id, _, _)| id == key) else {
            let hint =
                pushdetect_model::params::closest(known.iter().map(|(id, _, _)| id.as_str()), key)
                    .map(|k| format!(" (did you mean '{k}'?)"))
                    .unwrap_or_default();
            bail!(
                "{}: unknown setting '{key}'{hint}; the settings are the options of \
                 pushdetect serve, with '_' for '-' (pushdetect config table lists them)",
                path.display()
            );
        };
        let set_elsewhere = given.is_some_and(|m| {
            matches!(
                m.value_source(id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        });
        if set_elsewhere {
            continue;
        }
        let scalar = |v: &toml::Value| -> Result<String> {
            match v {
                toml::Value::String(s) => Ok(s.clone()),
                toml::Value::Integer(i) => Ok(i.to_string()),
                toml::Value::Boolean(b) => Ok(b.to_string()),
                other => bail!(
                    "{}: setting '{key}' is a {}; expected a text, a number or true/false",
                    path.display(),
                    other.type_str()
                ),
            }
        };
        if *flag {
            match value {
                toml::Value::Boolean(true) => args.push(format!("--{long}").into()),
                toml::Value::Boolean(false) => {}
                other => bail!(
                    "{}: setting '{key}' is a {}; expected true or false",
                    path.display(),
                    other.type_str()
                ),
            }
            continue;
        }
        let values = match value {
            toml::Value::Array(items) => items.iter().map(scalar).collect::<Result<Vec<_>>>()?,
            v => vec![scalar(v)?],
        };
        for v in values {
            args.push(format!("--{long}").into());
            args.push(v.into());
        }
    }
    Ok(args)
}

/// The file `serve` reads: `--config` (or `PUSHDETECT_CONFIG`), else the default file if
/// it exists.
fn config_file(serve: &ArgMatches) -> Option<PathBuf> {
    serve
        .get_one::<PathBuf>("config")
        .cloned()
        .or_else(|| Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.is_file()))
}

/// Parses the command line; for `serve`, the settings of its file are added beneath the
/// flags and environment variables that are given.
pub fn parse() -> Result<ArgMatches, clap::Error> {
    let mut cli = with_env(<crate::Cli as clap::CommandFactory>::command());
    let argv: Vec<OsString> = std::env::args_os().collect();
    let matches = cli.clone().try_get_matches_from(&argv)?;
    let Some(("serve", serve)) = matches.subcommand() else {
        return Ok(matches);
    };
    let Some(path) = config_file(serve) else {
        return Ok(matches);
    };
    let extra = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the config file {}", path.display()))
        .and_then(|text| file_args(&path, &text, Some(serve)));
    let extra = match extra {
        Ok(extra) => extra,
        Err(e) => return Err(cli.error(clap::error::ErrorKind::InvalidValue, format!("{e:#}"))),
    };
    let mut all = argv;
    all.extend(extra);
    cli.try_get_matches_from_mut(all).map_err(|e| {
        cli.error(
            e.kind(),
            format!(
                "{} (with the settings of {})",
                naming_the_setting(&e),
                path.display()
            ),
        )
    })
}

/// clap's refusal of a value, its first line, with the setting its flag belongs to named.
fn naming_the_setting(e: &clap::Error) -> String {
    let text = e.to_string();
    let line = text
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_owned();
    let serve = serve_command();
    let named = settings(&serve).into_iter().find(|(_, long, _)| {
        line.contains(&format!("'--{long} ")) || line.contains(&format!("'--{long}'"))
    });
    match named {
        Some((id, _, _)) => format!("setting '{id}': {line}"),
        None => line,
    }
}

/// `pushdetect config …`.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCmd {
    /// Check a config file: every key a setting, every value of its kind, as `serve`
    /// would read it (without the environment or flags).
    Check {
        /// The file (TOML).
        file: PathBuf,
    },
    /// Print the table of every setting: its key, environment variable, flag and default.
    Table,
}

/// Runs a `config` command.
pub fn run(cmd: ConfigCmd) -> Result<()> {
    match cmd {
        ConfigCmd::Check { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let args = file_args(&file, &text, None)?;
            let mut argv: Vec<OsString> = vec!["pushdetect".into(), "serve".into()];
            argv.extend(args);
            let count = text.parse::<toml::Table>().map(|t| t.len()).unwrap_or(0);
            // Only the file counts here: no option reads the environment.
            let plain = <crate::Cli as clap::CommandFactory>::command()
                .mut_args(|a| a.env(Resettable::Reset))
                .mut_subcommand("serve", |serve| {
                    serve.mut_args(|a| a.env(Resettable::Reset))
                });
            plain
                .try_get_matches_from(argv)
                .map_err(|e| anyhow!("{}: {}", file.display(), naming_the_setting(&e)))?;
            println!("{}: {count} settings, all valid", file.display());
            Ok(())
        }
        ConfigCmd::Table => {
            print!("{}", table());
            Ok(())
        }
    }
}

/// The Markdown table of every setting, in the order of `serve --help`.
pub fn table() -> String {
    let serve = serve_command();
    let mut out = String::from(
        "| setting (file) | environment | flag | default | what |\n| --- | --- | --- | --- | --- |\n",
    );
    for arg in serve.get_arguments() {
        let id = arg.get_id().as_str();
        if arg.is_positional() || NOT_IN_FILE.contains(&id) {
            continue;
        }
        let Some(long) = arg.get_long() else { continue };
        let default: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        let default = match (default.is_empty(), arg.get_action()) {
            (true, ArgAction::SetTrue) => "false".to_owned(),
            (true, _) => "—".to_owned(),
            (false, _) => format!("`{}`", default.join(",")),
        };
        let env = arg
            .get_env()
            .map(|e| format!("`{}`", e.to_string_lossy()))
            .unwrap_or_default();
        let help = arg
            .get_help()
            .map(|h| h.to_string().replace('|', "\\|").replace('\n', " "))
            .unwrap_or_default();
        let many = matches!(arg.get_action(), ArgAction::Append);
        out.push_str(&format!(
            "| `{id}`{} | {env} | `--{long}` | {default} | {help} |\n",
            if many { " (list)" } else { "" }
        ));
    }
    out
}
