//! `pushdetect analyse-file`: submit captured files for analysis, wait for their scores,
//! and push a file download event for each file scoring above the threshold (the spec's
//! analyse_captured_file example, natively).

use crate::client_args::{progress_bar, wait_with_bar, ClientArgs, FileContextSpec, MethodFlags};
use anyhow::Context;
use clap::Args;
use pushdetect_client::{AnalystClient, PapiClient, PushDetection};
use pushdetect_model::FormParams;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

/// Analyse files and push the malicious ones.
#[derive(Debug, Args)]
pub struct AnalyseFileArgs {
    /// Files to analyse.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Push a file download event for files scoring above this (0-100).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u8).range(0..=100))]
    threshold: u8,
    /// How many files are submitted at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,
    /// Give up waiting for results after this many seconds.
    #[arg(long, default_value_t = 600)]
    wait_secs: u64,
    #[command(flatten)]
    client: ClientArgs,
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
}

impl AnalyseFileArgs {
    /// Whether --verbose was given.
    pub fn verbose(&self) -> bool {
        self.client.verbose
    }
}

/// Runs the command; fails when any file could not be analysed or pushed.
pub async fn run(args: AnalyseFileArgs) -> anyhow::Result<()> {
    let config = args.client.load()?;
    let context = args.context.clone().with_defaults("analyse-file", &config);
    // The push context is checked before anything is submitted.
    let mut probe = context.clone();
    probe.push("task_uuid", "0".repeat(32));
    probe.push("filename", "probe");
    PushDetection::check(pushdetect_model::EventKind::FileDownload, &probe)
        .context("the push parameters")?;
    let analyst = Arc::new(args.client.analyst(&config)?);
    let papi = args.client.papi(&config)?;
    let since = analyst.server_clock().await?;

    let bar = progress_bar(args.files.len(), "submitting".into());

    let submissions = submit_all(&analyst, &args.files, args.concurrency).await;
    bar.set_message("analysing");
    let mut rows = Vec::new();
    let mut results = std::collections::BTreeMap::new();
    let mut pending = Vec::new();
    for (file, submission) in args.files.iter().zip(submissions) {
        match submission {
            Ok(s) => {
                if let Some(r) = s.result {
                    bar.inc(1);
                    results.insert(s.task_uuid.clone(), r);
                } else {
                    pending.push(s.task_uuid.clone());
                }
                rows.push(Row::new(file, s.task_uuid, Ok(false)));
            }
            Err(e) => {
                bar.inc(1);
                rows.push(Row::new(file, String::new(), Err(format!("{e:#}"))));
            }
        }
    }
    let waited = wait_with_bar(&analyst, &pending, &since, args.wait_secs, &bar).await?;
    results.extend(waited);

    for row in rows.iter_mut().filter(|r| r.pushed.is_ok()) {
        let Some(result) = results.get(&row.task_uuid) else {
            continue;
        };
        row.score = result.get("score").and_then(Value::as_i64);
        row.sha256 = result["analysis_subject"]["sha256"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if row.score.unwrap_or(0) > i64::from(args.threshold) {
            row.pushed = push(&papi, &context, row).await.map(|_| true);
        }
    }
    print(&rows, args.client.json);
    let failed = rows.iter().filter(|r| r.pushed.is_err()).count();
    anyhow::ensure!(failed == 0, "{failed} of {} file(s) failed", rows.len());
    Ok(())
}

impl Row {
    fn new(file: &std::path::Path, task_uuid: String, pushed: Result<bool, String>) -> Row {
        Row {
            file: file.display().to_string(),
            sha256: String::new(),
            score: None,
            task_uuid,
            pushed,
        }
    }
}

async fn submit_all(
    analyst: &Arc<AnalystClient>,
    files: &[PathBuf],
    concurrency: u16,
) -> Vec<anyhow::Result<pushdetect_client::Submission>> {
    let limit = Arc::new(tokio::sync::Semaphore::new(usize::from(concurrency)));
    let mut tasks = Vec::new();
    for file in files {
        let (analyst, limit, file) = (analyst.clone(), limit.clone(), file.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire().await;
            analyst
                .submit_file(&file, None, &[])
                .await
                .map_err(anyhow::Error::from)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(
            t.await
                .unwrap_or_else(|e| Err(anyhow::anyhow!("submission failed: {e}"))),
        );
    }
    out
}

async fn push(papi: &PapiClient, context: &FormParams, row: &Row) -> Result<(), String> {
    let mut params = context.clone();
    params.push("task_uuid", row.task_uuid.clone());
    if let Some(name) = std::path::Path::new(&row.file).file_name() {
        params.push("filename", name.to_string_lossy().into_owned());
    }
    PushDetection::new(papi)
        .push_file_download(&params)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
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
            Ok(true) => "yes".to_owned(),
            Ok(false) => "no".to_owned(),
            Err(e) => format!("error: {e}"),
        };
        println!("{:width$}  {:64}  {:>5}  {pushed}", r.file, r.sha256, score);
    }
}
