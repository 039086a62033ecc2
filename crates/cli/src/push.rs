//! `pushdetect push file-download | ioc | mail`: one push from the command line, checked
//! offline first, then sent with papi_client's session and retry behaviour; and
//! `pushdetect push --batch FILE`: many pushes of any kind in batch pushes.
//!
//! There is one subcommand per event kind of the model ([`EventKind::ALL`]), with one flag
//! per parameter of its push method; a JSON parameter (push_mail's `mail_json_str`) is
//! read from the file its own flag names (`--mail-json FILE`, `-` for standard input).

use crate::client_args::{method_args, method_params, read_input, with_defaults, ClientArgs};
use crate::spool::{deliver, SpoolArgs};
use clap::error::ErrorKind;
use clap::{Arg, ArgMatches, Args, Command, FromArgMatches, Subcommand};
use pushdetect_client::spool::{new_key, spoolable, SpooledPush, DRAIN_BATCH};
use pushdetect_client::{Delivery, PushDetection};
use pushdetect_model::batch::{split_body, BatchAnswer, ItemResult, Outcome};
use pushdetect_model::method::{MethodSpec, ParamKind, ParamSpec, Requirement};
use pushdetect_model::{BatchItem, EventKind, FormParams};
use serde_json::json;

/// Push one detection, or many with --batch.
#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    spool: SpoolArgs,
    /// Push the items of FILE (JSON lines or a JSON array; each item an object with
    /// "method" and the method's parameters; - for standard input) with batch pushes,
    /// 500 items per request.
    #[arg(long, value_name = "FILE")]
    batch: Option<String>,
    #[command(subcommand)]
    kind: Option<PushKind>,
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
        cmd
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
    match (&args.batch, args.kind) {
        (Some(_), Some(_)) => anyhow::bail!(
            "--batch FILE pushes the items of the file: name no kind of event with it"
        ),
        (Some(file), None) => push_batch(&args.client, &args.spool, file).await,
        (None, Some(kind)) => push_one(&args.client, &args.spool, kind).await,
        (None, None) => anyhow::bail!(
            "name the kind of event to push ({}), or give --batch FILE",
            EventKind::ALL.map(command_name).join(", ")
        ),
    }
}

async fn push_one(client: &ClientArgs, spool: &SpoolArgs, kind: PushKind) -> anyhow::Result<()> {
    let config = client.load()?;
    let PushKind {
        kind,
        params,
        files,
    } = kind;
    let mut params = with_defaults(params, "push", &config);
    for (name, file) in files {
        params.push(name, read_input(&file)?.trim().to_owned());
    }
    // Checked offline first: nothing is sent (or spooled) when a parameter is wrong.
    PushDetection::check(kind, &params)?;
    let papi = client.papi(&config)?;
    let spool = spool.open()?;
    let delivery = deliver(&papi, spool.as_ref(), kind, &params).await?;
    match (&delivery, client.json) {
        (Delivery::Pushed, true) => {
            println!("{}", json!({"pushed": kind.as_str(), "answer": "OK"}))
        }
        (Delivery::Spooled(why), true) => {
            println!("{}", json!({"spooled": kind.as_str(), "reason": why}))
        }
        (Delivery::Pushed, false) => println!("{} event pushed: OK", kind.as_str()),
        (Delivery::Spooled(why), false) => {
            println!("{} event spooled, to be sent later ({why})", kind.as_str())
        }
    }
    Ok(())
}

/// `push --batch FILE`: every item read first (an unreadable item is reported and not
/// sent), then sent in batches of [`DRAIN_BATCH`]; with a spool, a batch that cannot be
/// delivered now is spooled item by item. Fails when any item was refused.
async fn push_batch(client: &ClientArgs, spool: &SpoolArgs, file: &str) -> anyhow::Result<()> {
    let config = client.load()?;
    let body = read_input(file)?;
    let items = split_body(body.as_bytes(), usize::MAX)?;
    let mut results: Vec<Option<ItemResult>> = Vec::with_capacity(items.len());
    let mut readable: Vec<(usize, BatchItem)> = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        match item.and_then(BatchItem::read) {
            Ok(mut item) => {
                if spool.spool.is_some() && item.key.is_none() {
                    // A spooled item is resent later: its key makes that safe.
                    item.key = Some(new_key());
                }
                readable.push((index, item));
                results.push(None);
            }
            Err(e) => results.push(Some(ItemResult::refused(index, &e))),
        }
    }
    let papi = client.papi(&config)?;
    let spool = spool.open()?;
    let push = PushDetection::new(&papi);
    let mut spooled = 0;
    // Once something waits in the spool, every later item joins it, so the order holds.
    let mut queued = false;
    if let Some(spool) = &spool {
        // What waited is sent first.
        let report = spool.lock().await.drain(&push, DRAIN_BATCH).await?;
        crate::spool::print_report(&report, false);
        queued = report.left > 0;
    }
    for chunk in readable.chunks(DRAIN_BATCH) {
        let why = if queued {
            "earlier pushes are still queued".to_owned()
        } else {
            let items: Vec<BatchItem> = chunk.iter().map(|(_, item)| item.clone()).collect();
            match push.push_events(&items).await {
                Ok(answer) => {
                    for r in answer.results {
                        if let Some((index, _)) = chunk.get(r.index) {
                            results[*index] = Some(ItemResult { index: *index, ..r });
                        }
                    }
                    continue;
                }
                Err(e) if spool.is_some() && spoolable(&e) => e.to_string(),
                Err(e) => return Err(e.into()),
            }
        };
        // (Items are kept back only with a spool: without one, errors returned above.)
        if let Some(s) = &spool {
            let s = s.lock().await;
            for (_, item) in chunk {
                if let Some(key) = &item.key {
                    s.append(&SpooledPush::new(item.kind, &item.params, key))?;
                }
            }
            queued = true;
            spooled += chunk.len();
            eprintln!("{} items spooled, to be sent later ({why})", chunk.len());
        }
    }
    let answered: Vec<ItemResult> = results.into_iter().flatten().collect();
    let answer = BatchAnswer::of(answered);
    if client.json {
        println!(
            "{}",
            json!({"items": answer.items + spooled, "stored": answer.stored,
                   "duplicates": answer.duplicates, "refused": answer.refused,
                   "spooled": spooled, "results": answer.results})
        );
    } else {
        for r in answer
            .results
            .iter()
            .filter(|r| r.result == Outcome::Refused)
        {
            eprintln!(
                "item {}: {} (error {})",
                r.index,
                r.error.as_deref().unwrap_or("refused"),
                r.error_code.unwrap_or(0)
            );
        }
        println!(
            "{} items: {} stored, {} already stored, {} refused, {spooled} spooled",
            answer.items + spooled,
            answer.stored,
            answer.duplicates,
            answer.refused
        );
    }
    crate::reported::ensure(answer.refused == 0, || {
        format!("{} items were refused", answer.refused)
    })
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
