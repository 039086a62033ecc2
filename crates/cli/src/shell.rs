//! `pushdetect shell`: an interactive shell like papi_shell. Calls are written as
//! `VIEW.METHOD name=value ...`; views, methods and parameter names complete with Tab;
//! `help METHOD` shows the parameters; results print as pretty JSON. Fed from a pipe, it
//! runs each line without prompts, so it can be scripted.

use crate::client_args::ClientArgs;
use clap::Args;
use pushdetect_client::{PapiClient, PushDetection};
use pushdetect_model::batch::PUSH_EVENTS;
use pushdetect_model::method::{MethodSpec, EVENT_GET, EVENT_LIST, INCIDENT_GET, INCIDENT_LIST};
use pushdetect_model::{EventKind, FormParams};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};
use std::io::{BufRead, IsTerminal};
use std::sync::LazyLock;

/// The interactive shell.
#[derive(Debug, Args)]
pub struct ShellArgs {
    #[command(flatten)]
    client: ClientArgs,
}

/// One method callable from the shell.
struct ShellMethod {
    /// The name typed, e.g. `push_detection.push_result`.
    name: String,
    /// Its table (none for ping).
    spec: Option<&'static MethodSpec>,
    /// The push it makes, checked offline before sending.
    kind: Option<EventKind>,
}

/// Every method of the shell: a push per event kind (`push_detection.` and the last part
/// of its method's name, as papi_shell names them), the read API, and ping.
static METHODS: LazyLock<Vec<ShellMethod>> = LazyLock::new(|| {
    let push = EventKind::ALL.into_iter().map(|kind| {
        let spec = kind.method();
        let method = spec.name.rsplit('.').next().unwrap_or(spec.name);
        ShellMethod {
            name: format!("push_detection.{method}"),
            spec: Some(spec),
            kind: Some(kind),
        }
    });
    let read = [
        ("push_detection.event.list", &EVENT_LIST),
        ("push_detection.event.get", &EVENT_GET),
        ("push_detection.incident.list", &INCIDENT_LIST),
        ("push_detection.incident.get", &INCIDENT_GET),
    ]
    .into_iter()
    .map(|(name, spec)| ShellMethod {
        name: name.to_owned(),
        spec: Some(spec),
        kind: None,
    });
    let batch = ShellMethod {
        name: "push_detection.push_events".to_owned(),
        spec: Some(&PUSH_EVENTS),
        kind: None,
    };
    let ping = ShellMethod {
        name: "push_detection.ping".to_owned(),
        spec: None,
        kind: None,
    };
    push.chain([batch])
        .chain(read)
        .chain(std::iter::once(ping))
        .collect()
});

const COMMANDS: &[&str] = &["help", "exit", "quit"];

/// The batch push takes its items from a file or from the line, not as form parameters.
const BATCH_PARAMS: &[(&str, &str)] = &[
    (
        "file",
        "A file of items: JSON lines or a JSON array, each item an object with \"method\" \
         and the method's parameters.",
    ),
    ("items", "The items themselves, as a JSON array (quoted)."),
];

/// The parameter names a method takes in the shell.
fn param_names(spec: &MethodSpec) -> Vec<&'static str> {
    if std::ptr::eq(spec, &PUSH_EVENTS) {
        return BATCH_PARAMS.iter().map(|(name, _)| *name).collect();
    }
    spec.params.iter().map(|p| p.name).collect()
}

/// Finds a method by its shell name or by the spec's full dotted name.
fn method(name: &str) -> Option<&'static ShellMethod> {
    METHODS
        .iter()
        .find(|m| m.name == name || m.spec.is_some_and(|s| s.name == name))
}

/// Tab completion of methods and parameter names.
struct ShellHelper;

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before.rfind(' ').map_or(0, |i| i + 1);
        let word = &before[start..];
        let first = before[..start].split_whitespace().next();
        let candidates: Vec<String> = match first {
            None => METHODS
                .iter()
                .map(|m| m.name.to_owned())
                .chain(COMMANDS.iter().map(|c| c.to_string()))
                .collect(),
            Some("help") => METHODS.iter().map(|m| m.name.to_owned()).collect(),
            Some(name) => method(name)
                .and_then(|m| m.spec)
                .map(|s| param_names(s).iter().map(|p| format!("{p}=")).collect())
                .unwrap_or_default(),
        };
        let pairs = candidates
            .into_iter()
            .filter(|c| c.starts_with(word))
            .map(|c| Pair {
                display: c.clone(),
                replacement: c,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}
impl Highlighter for ShellHelper {}
impl Validator for ShellHelper {}
impl Helper for ShellHelper {}

fn help(name: Option<&str>) -> String {
    let Some(name) = name else {
        let mut out = String::from("Calls: METHOD name=value ... (quote values with spaces)\n");
        for m in METHODS.iter() {
            let summary = m.spec.map_or("Check the session.", |s| s.summary);
            out.push_str(&format!("  {:38} {summary}\n", m.name));
        }
        out.push_str("  help METHOD                            the parameters of METHOD\n");
        out.push_str("  exit, quit, Ctrl-D                     leave");
        return out;
    };
    match method(name) {
        None => format!("no method '{name}'; 'help' lists them"),
        Some(ShellMethod {
            spec: None, name, ..
        }) => format!("{name}: no parameters"),
        Some(ShellMethod {
            spec: Some(spec), ..
        }) => {
            let mut out = format!("{}\n{}\n", spec.name, spec.summary);
            for p in spec.params {
                out.push_str(&format!("  {:36} {}\n", p.name, p.doc));
            }
            if std::ptr::eq(*spec, &PUSH_EVENTS) {
                for (name, doc) in BATCH_PARAMS {
                    out.push_str(&format!("  {name:36} {doc}\n"));
                }
            }
            out.trim_end().to_owned()
        }
    }
}

/// What one input line asks for.
enum Outcome {
    Continue,
    Exit,
}

async fn execute(papi: &PapiClient, line: &str) -> Result<Outcome, String> {
    let words = shlex::split(line).ok_or("unbalanced quotes")?;
    let Some((head, rest)) = words.split_first() else {
        return Ok(Outcome::Continue);
    };
    match head.as_str() {
        "exit" | "quit" => return Ok(Outcome::Exit),
        "help" => {
            println!("{}", help(rest.first().map(String::as_str)));
            return Ok(Outcome::Continue);
        }
        _ => {}
    }
    let m = method(head).ok_or_else(|| format!("no method '{head}'; 'help' lists them"))?;
    let mut params = FormParams::default();
    for word in rest {
        let (k, v) = word
            .split_once('=')
            .ok_or_else(|| format!("'{word}': write parameters as name=value"))?;
        params.push(k, v);
    }
    let view = PushDetection::new(papi);
    let result = match (m.kind, m.spec) {
        (None, Some(spec)) if std::ptr::eq(spec, &PUSH_EVENTS) => {
            let body = batch_body(&params)?;
            view.push_lines(body.as_bytes())
                .await
                .map(|answer| serde_json::to_value(answer).unwrap_or_default())
        }
        (Some(kind), _) => view.push(kind, &params).await,
        (None, Some(spec)) => view.call(spec, &params).await,
        (None, None) => view.ping().await,
    };
    let value = result.map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::to_string_pretty(&value).unwrap_or_default()
    );
    Ok(Outcome::Continue)
}

/// The body of a batch push typed in the shell: `file=PATH` or `items=JSON`.
fn batch_body(params: &FormParams) -> Result<String, String> {
    match params.pairs() {
        [(name, path)] if name == "file" => {
            std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))
        }
        [(name, items)] if name == "items" => Ok(items.clone()),
        _ => Err("push_detection.push_events takes file=PATH or items=JSON (one of them)".into()),
    }
}

impl ShellArgs {
    /// Whether --verbose was given.
    pub fn verbose(&self) -> bool {
        self.client.verbose
    }
}

/// What an interactive shell says first: the version, the server, and every call it
/// offers (made from [`METHODS`], so a call added there is listed here).
fn banner(url: &str) -> String {
    let calls: Vec<&str> = METHODS
        .iter()
        .map(|m| m.name.trim_start_matches("push_detection."))
        .collect();
    format!(
        "pushdetect shell {} on {url}\nviews loaded: push_detection ({})\n'help' lists the calls, \
         'help METHOD' its parameters; Tab completes, 'exit' leaves.",
        env!("CARGO_PKG_VERSION"),
        calls.join(", ")
    )
}

/// How a call is written, for `shell --help`.
pub const SYNTAX: &str = "Each line is one call: VIEW.METHOD name=value name=value ...
  push_detection.push_result vendor_name=Acme tool_name=IocScan ioc_uuid=... hostname=ws-09 key=KEY:SUBKEY
  push_detection.incident.list status=new min_impact=70
  push_detection.push_events file=items.jsonl
A value with spaces is quoted as in a shell (tool_name='Ioc Scan'). 'help' lists the calls,
'help METHOD' the parameters of one. Pushes are checked before they are sent. From a pipe,
each line runs without prompts, and the shell fails if any call failed.";

/// Runs the shell until exit or end of input; fails if any piped command failed.
pub async fn run(args: ShellArgs) -> anyhow::Result<()> {
    let config = args.client.load()?;
    let papi = args.client.papi(&config)?;
    let interactive = std::io::stdin().is_terminal();
    let mut failures = 0;
    if !interactive {
        for line in std::io::stdin().lock().lines() {
            let line = line?;
            match execute(&papi, line.trim()).await {
                Ok(Outcome::Exit) => break,
                Ok(Outcome::Continue) => {}
                Err(e) => {
                    failures += 1;
                    eprintln!("error: {e}");
                }
            }
        }
        anyhow::ensure!(failures == 0, "{failures} command(s) failed");
        return Ok(());
    }
    println!("{}", banner(papi.config().url.as_str()));
    let mut editor = rustyline::Editor::<ShellHelper, rustyline::history::DefaultHistory>::new()?;
    editor.set_helper(Some(ShellHelper));
    let history =
        std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".pushdetect_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    loop {
        match editor.readline("papi> ") {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                match execute(&papi, line.trim()).await {
                    Ok(Outcome::Exit) => break,
                    Ok(Outcome::Continue) => {}
                    Err(e) => eprintln!("error: {e}"),
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_banner_lists_every_call_of_the_shell() {
        let banner = banner("http://h/papi");
        for m in METHODS.iter() {
            let call = m.name.trim_start_matches("push_detection.");
            assert!(banner.contains(call), "{call} missing: {banner}");
        }
        assert!(banner.contains("incident.list") && banner.contains("incident.get"));
    }
    use rustyline::history::DefaultHistory;

    fn complete(line: &str) -> Vec<String> {
        let history = DefaultHistory::new();
        let ctx = Context::new(&history);
        let (_, pairs) = ShellHelper.complete(line, line.len(), &ctx).unwrap();
        pairs.into_iter().map(|p| p.replacement).collect()
    }

    #[test]
    fn completes_views_methods_and_parameters() {
        assert_eq!(
            complete("push_detection.push_r"),
            ["push_detection.push_result"]
        );
        assert!(complete("push_").len() >= 5);
        assert_eq!(
            complete("push_detection.push_result vendor_n"),
            ["vendor_name="]
        );
        assert_eq!(
            complete("help push_detection.event.l"),
            ["push_detection.event.list"]
        );
    }

    #[test]
    fn help_names_every_parameter() {
        let text = help(Some("push_detection.push_file_download"));
        // One of each group of the spec's parameters, spelled out.
        for p in [
            "task_uuid",
            "dst_hostname",
            "subkey_id",
            "download_time",
            "http_content_disposition_filename",
            "ftp_direction",
            "smb_mount_point",
            "transport_protocol",
        ] {
            assert!(text.contains(p), "{p}");
        }
        assert!(help(Some("nope")).contains("no method"));
    }
}
