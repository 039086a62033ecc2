//! `pushdetect push file-download | ioc | mail`: one push from the command line, checked
//! offline first, then sent with papi_client's session and retry behaviour.
//!
//! There is one subcommand per event kind of the model ([`EventKind::ALL`]), with one flag
//! per parameter of its push method; a JSON parameter (push_mail's `mail_json_str`) is
//! read from the file its own flag names (`--mail-json FILE`, `-` for standard input).

use crate::client_args::{method_args, method_params, read_input, with_defaults, ClientArgs};
use clap::error::ErrorKind;
use clap::{Arg, ArgMatches, Args, Command, FromArgMatches, Subcommand};
use pushdetect_client::PushDetection;
use pushdetect_model::method::{MethodSpec, ParamKind, ParamSpec, Requirement};
use pushdetect_model::{EventKind, FormParams};
use serde_json::json;

/// Push one detection.
#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    kind: PushKind,
}

impl PushArgs {
    /// Whether --verbose was given.
    pub fn verbose(&self) -> bool {
        self.client.verbose
    }
}

/// The subcommand of a kind: its name with `-` for `_` (`file-download`).
fn command_name(kind: EventKind) -> String {
    kind.as_str().replace('_', "-")
}

/// The JSON parameters of a method, read from files rather than given on the command line.
fn json_params(spec: &'static MethodSpec) -> impl Iterator<Item = &'static ParamSpec> {
    spec.params.iter().filter(|p| p.kind == ParamKind::Json)
}

/// The names of a method's JSON parameters, left out of its plain flags.
fn json_names(spec: &'static MethodSpec) -> Vec<&'static str> {
    json_params(spec).map(|p| p.name).collect()
}

/// The file flag of a JSON parameter: `mail_json_str` is `--mail-json FILE`.
fn file_flag(p: &ParamSpec) -> String {
    p.name.trim_end_matches("_str").replace('_', "-")
}

/// The event to push: its kind, its parameters, and the files of its JSON parameters.
#[derive(Debug)]
struct PushKind {
    kind: EventKind,
    params: FormParams,
    files: Vec<(&'static str, String)>,
}

impl FromArgMatches for PushKind {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let (name, sub) = m
            .subcommand()
            .ok_or_else(|| clap::Error::new(ErrorKind::MissingSubcommand))?;
        let kind = EventKind::ALL
            .into_iter()
            .find(|k| command_name(*k) == name)
            .ok_or_else(|| clap::Error::new(ErrorKind::InvalidSubcommand))?;
        let spec = kind.method();
        let files = json_params(spec)
            .filter_map(|p| {
                let file = sub.get_one::<String>(&file_flag(p))?;
                Some((p.name, file.clone()))
            })
            .collect();
        Ok(PushKind {
            kind,
            params: method_params(sub, spec, &json_names(spec)),
            files,
        })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl Subcommand for PushKind {
    fn augment_subcommands(mut cmd: Command) -> Command {
        for kind in EventKind::ALL {
            let spec = kind.method();
            let mut sub =
                Command::new(command_name(kind)).about(format!("{} ({})", spec.summary, spec.name));
            for p in json_params(spec) {
                sub = sub.arg(
                    Arg::new(file_flag(p))
                        .long(file_flag(p))
                        .value_name("FILE")
                        .required(p.requirement == Requirement::Required)
                        .help(format!(
                            "{} Read from FILE, or - for standard input.",
                            p.doc
                        )),
                );
            }
            cmd = cmd.subcommand(method_args(sub, spec, &json_names(spec)));
        }
        cmd.subcommand_required(true)
    }

    fn augment_subcommands_for_update(cmd: Command) -> Command {
        Self::augment_subcommands(cmd)
    }

    fn has_subcommand(name: &str) -> bool {
        EventKind::ALL.into_iter().any(|k| command_name(k) == name)
    }
}

/// Runs the command.
pub async fn run(args: PushArgs) -> anyhow::Result<()> {
    let config = args.client.load()?;
    let PushKind {
        kind,
        params,
        files,
    } = args.kind;
    let mut params = with_defaults(params, "push", &config);
    for (name, file) in files {
        params.push(name, read_input(&file)?.trim().to_owned());
    }
    // Checked offline first: nothing is sent when a parameter is wrong.
    PushDetection::check(kind, &params)?;
    let papi = args.client.papi(&config)?;
    let answer = PushDetection::new(&papi).push(kind, &params).await?;
    if args.client.json {
        println!("{}", json!({"pushed": kind.as_str(), "answer": answer}));
    } else {
        println!(
            "{} event pushed: {}",
            kind.as_str(),
            answer.as_str().unwrap_or("OK")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        kind: PushKind,
    }

    fn parse(args: &[&str]) -> Result<PushKind, clap::Error> {
        use clap::Parser;
        let mut line = vec!["push"];
        line.extend_from_slice(args);
        Cli::try_parse_from(line).map(|c| c.kind)
    }

    #[test]
    fn every_kind_is_a_subcommand_with_its_methods_flags() {
        let ioc = parse(&["ioc", "--ioc-uuid", "u", "--match-confidence", "90"]).unwrap();
        assert_eq!(ioc.kind, EventKind::Ioc);
        assert_eq!(
            ioc.params.pairs(),
            [
                ("ioc_uuid".to_owned(), "u".to_owned()),
                ("match_confidence".to_owned(), "90".to_owned())
            ]
        );
        for kind in EventKind::ALL {
            assert!(PushKind::has_subcommand(&command_name(kind)), "{kind}");
        }
        assert!(parse(&["dns-query"]).is_err());
    }

    #[test]
    fn a_json_parameter_comes_from_the_file_its_flag_names() {
        let mail = parse(&["mail", "--mail-json", "-", "--vendor-name", "Acme"]).unwrap();
        assert_eq!(mail.kind, EventKind::Mail);
        assert_eq!(mail.files, [("mail_json_str", "-".to_owned())]);
        assert!(mail
            .params
            .pairs()
            .iter()
            .all(|(k, _)| k != "mail_json_str"));
        // Required, and not a flag of its own.
        assert!(parse(&["mail"]).is_err());
        assert!(parse(&["mail", "--mail-json-str", "{}"]).is_err());
    }
}
