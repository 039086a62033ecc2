//! `pushdetect analyse-file`: submit captured files for analysis, wait for their scores,
//! and push a file download event for each file scoring above the threshold (the spec's
//! analyse_captured_file example, natively).

use crate::client_args::{ClientArgs, FileContextSpec, MethodFlags};
use crate::inputs::{expand, Input};
use crate::spool::{deliver, SpoolArgs};
use anyhow::Context;
use clap::Args;
use futures::StreamExt;
use pushdetect_client::{AnalystClient, Delivery, PapiClient, PushDetection, Spool, Tracker};
use pushdetect_model::{EventKind, FormParams};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, Semaphore};

/// Analyse files and push the malicious ones.
#[derive(Debug, Args)]
pub struct AnalyseFileArgs {
    /// Files to analyse (directories with --recursive).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Read the files below each directory given, recursively.
    #[arg(long, short = 'r')]
    recursive: bool,
    /// Push a file download event for files scoring above this (0-100).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u8).range(0..=100))]
    threshold: u8,
    /// How many files are submitted at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,
    /// Give up waiting for one file's analysis after this many seconds.
    #[arg(long, default_value_t = 600)]
    wait_secs: u64,
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    spool: SpoolArgs,
    #[command(flatten)]
    context: MethodFlags<FileContextSpec>,
}

/// One file's outcome.
struct Row {
    file: String,
    sha256: String,
    score: Option<i64>,
    task_uuid: String,
    pushed: Result<bool, String>,
    /// Why the push was spooled instead of delivered now, if it was.
    spooled: Option<String>,
}

impl AnalyseFileArgs {
    /// Whether --verbose was given.
    pub fn verbose(&self) -> bool {
        self.client.verbose
    }
}

/// What each file's analysis shares.
struct Shared {
    analyst: Arc<AnalystClient>,
    tracker: Tracker,
    papi: PapiClient,
    spool: Option<Mutex<Spool>>,
    context: FormParams,
    threshold: i64,
    wait: Duration,
    submissions: Semaphore,
}

/// Runs the command; fails when any file could not be analysed or pushed.
pub async fn run(args: AnalyseFileArgs) -> anyhow::Result<()> {
    let inputs = expand(&args.files, args.recursive)?;
    anyhow::ensure!(
        !inputs.contains(&Input::Stdin),
        "analyse-file reads files: save standard input to a file first"
    );
    let config = args.client.load()?;
    let context = args.context.clone().with_defaults("analyse-file", &config);
    // The push context is checked before anything is submitted.
    let mut probe = context.clone();
    probe.push("task_uuid", "0".repeat(32));
    probe.push("filename", "probe");
    PushDetection::check(EventKind::FileDownload, &probe).context("the push parameters")?;
    let analyst = Arc::new(args.client.analyst(&config)?);
    let shared = Arc::new(Shared {
        tracker: Tracker::start(analyst.clone()).await?,
        analyst,
        papi: args.client.papi(&config)?,
        spool: args.spool.open()?,
        context,
        threshold: i64::from(args.threshold),
        wait: Duration::from_secs(args.wait_secs),
        submissions: Semaphore::new(usize::from(args.concurrency)),
    });
    let bar = progress_bar(inputs.len());
    // Submissions are bounded by the semaphore; waiting for results is not, so many
    // files are in flight while the server analyses.
    let in_flight = usize::from(args.concurrency) * 16;
    let work = futures::stream::iter(inputs.into_iter().enumerate()).map(|(i, input)| {
        let shared = shared.clone();
        let bar = bar.clone();
        async move {
            let row = analyse(&shared, &input).await;
            bar.inc(1);
            (i, row)
        }
    });
    let mut rows: Vec<(usize, Row)> = work.buffer_unordered(in_flight).collect().await;
    bar.finish_and_clear();
    rows.sort_by_key(|(i, _)| *i);
    let rows: Vec<Row> = rows.into_iter().map(|(_, r)| r).collect();
    print(&rows, args.client.json);
    let failed = rows.iter().filter(|r| r.pushed.is_err()).count();
    crate::reported::ensure(failed == 0, || {
        format!("{failed} of {} file(s) failed", rows.len())
    })
}

/// A progress bar on stderr (hidden when stderr is not a terminal) with count and ETA.
fn progress_bar(len: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{bar:30}] {pos}/{len} files {per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Submits one file, waits for its score, and pushes it when above the threshold.
async fn analyse(shared: &Shared, input: &Input) -> Row {
    let file = input.name();
    let mut row = Row {
        file: file.clone(),
        sha256: String::new(),
        score: None,
        task_uuid: String::new(),
        pushed: Ok(false),
        spooled: None,
    };
    let Input::File(path) = input else {
        return row;
    };
    let submitted = {
        let _permit = shared.submissions.acquire().await;
        shared.analyst.submit_file(path, None, &[]).await
    };
    let submission = match submitted {
        Ok(s) => s,
        Err(e) => {
            row.pushed = Err(row_error(&e));
            return row;
        }
    };
    row.task_uuid = submission.task_uuid.clone();
    row.sha256 = submission.sha256.clone().unwrap_or_default();
    let score = match submission.result.as_ref().and_then(|r| r["score"].as_i64()) {
        Some(score) => Ok(score),
        None => shared.tracker.wait(&row.task_uuid, shared.wait).await,
    };
    match score {
        Ok(score) => row.score = Some(score),
        Err(e) => {
            row.pushed = Err(e.to_string());
            return row;
        }
    }
    if row.score.unwrap_or(0) > shared.threshold {
        match push(shared, &row).await {
            Ok(Delivery::Pushed) => row.pushed = Ok(true),
            Ok(Delivery::Spooled(why)) => {
                row.pushed = Ok(true);
                row.spooled = Some(why);
            }
            Err(e) => row.pushed = Err(e),
        }
    }
    row
}

async fn push(shared: &Shared, row: &Row) -> Result<Delivery, String> {
    let mut params = shared.context.clone();
    params.push("task_uuid", row.task_uuid.clone());
    if let Some(name) = std::path::Path::new(&row.file).file_name() {
        params.push("filename", name.to_string_lossy().into_owned());
    }
    deliver(
        &shared.papi,
        shared.spool.as_ref(),
        EventKind::FileDownload,
        &params,
    )
    .await
    .map_err(|e| e.to_string())
}

/// Why a file's row failed, for its PUSHED column: the row already names the file, so a
/// file error says only what happened to it.
fn row_error(e: &pushdetect_client::ClientError) -> String {
    match e {
        pushdetect_client::ClientError::File { source, .. } => source.to_string(),
        e => e.to_string(),
    }
}

fn print(rows: &[Row], as_json: bool) {
    if as_json {
        let list: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "file": r.file, "sha256": r.sha256, "score": r.score,
                    "task_uuid": r.task_uuid,
                    "pushed": r.pushed.as_ref().ok(),
                    "spooled": r.spooled,
                    "error": r.pushed.as_ref().err(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        );
        return;
    }
    let width = rows.iter().map(|r| r.file.len()).max().unwrap_or(4).max(4);
    println!("{:width$}  {:64}  {:>5}  PUSHED", "FILE", "SHA256", "SCORE");
    for r in rows {
        let score = r.score.map_or("-".to_owned(), |s| s.to_string());
        let pushed = match &r.pushed {
            Ok(true) if r.spooled.is_some() => "spooled".to_owned(),
            Ok(true) => "yes".to_owned(),
            Ok(false) => "no".to_owned(),
            Err(e) => format!("error: {e}"),
        };
        println!("{:width$}  {:64}  {:>5}  {pushed}", r.file, r.sha256, score);
    }
}

#[cfg(test)]
mod tests {
    use super::row_error;
    use pushdetect_client::ClientError;

    #[test]
    fn a_file_error_in_a_row_does_not_repeat_the_file() {
        let e = ClientError::File {
            path: "/data/a.exe".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory"),
        };
        assert_eq!(row_error(&e), "No such file or directory");
        let api = ClientError::Api {
            code: 115,
            message: "queue full".into(),
        };
        assert_eq!(row_error(&api), "queue full (error 115)");
    }
}
