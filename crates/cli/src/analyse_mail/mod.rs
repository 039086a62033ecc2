//! `pushdetect analyse-mail`: for each captured message, submit every attachment and URL
//! for analysis, set each item's action from its score, and push the spec's mail_captured
//! event when any score is above the threshold (the spec's analyse_captured_mail example,
//! natively). A message that cannot be used is reported in one line; the others go on.

mod extract;

use crate::client_args::{progress_bar, wait_with_bar, ClientArgs, MailSpec, MethodFlags};
use anyhow::Context;
use clap::Args;
use pushdetect_client::{AnalystClient, PapiClient, PushDetection};
use pushdetect_model::{EventKind, FormParams};
use serde_json::{json, Value};
use std::path::PathBuf;

/// Analyse mails and push the malicious ones.
#[derive(Debug, Args)]
pub struct AnalyseMailArgs {
    /// Messages to analyse (.eml, RFC 5322).
    #[arg(required = true, value_name = "FILE.eml")]
    files: Vec<PathBuf>,
    /// Items scoring above this are WARN, and the mail is pushed (0-100).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u8).range(0..=100))]
    threshold: u8,
    /// Items scoring this or more are BLOCK, and so is the message (0-100).
    #[arg(long, default_value_t = 70, value_parser = clap::value_parser!(u8).range(0..=100))]
    block_threshold: u8,
    /// Analyse, but print each mail_json_str instead of pushing.
    #[arg(long)]
    dry_run: bool,
    /// Give up waiting for one message's results after this many seconds.
    #[arg(long, default_value_t = 600)]
    wait_secs: u64,
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    context: MethodFlags<MailSpec>,
}

/// The action of one analysed item.
fn item_action(score: i64, threshold: u8, block: u8) -> &'static str {
    if score >= i64::from(block) {
        "BLOCK"
    } else if score > i64::from(threshold) {
        "WARN"
    } else {
        "LOG"
    }
}

impl AnalyseMailArgs {
    /// Whether --verbose was given.
    pub fn verbose(&self) -> bool {
        self.client.verbose
    }
}

/// Runs the command; fails when any message could not be used, analysed or pushed.
pub async fn run(args: AnalyseMailArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.block_threshold > args.threshold,
        "--block-threshold ({}) must be above --threshold ({})",
        args.block_threshold,
        args.threshold
    );
    let config = args.client.load()?;
    let context = args.context.clone().with_defaults("analyse-mail", &config);
    let analyst = args.client.analyst(&config)?;
    let papi = if args.dry_run {
        None
    } else {
        Some(args.client.papi(&config)?)
    };
    let mut failed = 0;
    for file in &args.files {
        match analyse_one(&args, &analyst, papi.as_ref(), &context, file).await {
            Ok(line) => println!("{line}"),
            Err(e) => {
                failed += 1;
                eprintln!("{}: {e:#}", file.display());
            }
        }
    }
    anyhow::ensure!(
        failed == 0,
        "{failed} of {} message(s) failed",
        args.files.len()
    );
    Ok(())
}

async fn analyse_one(
    args: &AnalyseMailArgs,
    analyst: &AnalystClient,
    papi: Option<&PapiClient>,
    context: &FormParams,
    file: &std::path::Path,
) -> anyhow::Result<String> {
    let raw = std::fs::read(file).context("cannot read the file")?;
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let mail = extract::extract(&raw, &now)?;
    let since = analyst.server_clock().await?;
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;

    let bar = progress_bar(
        mail.attachments.len() + mail.urls.len(),
        file.display().to_string(),
    );

    // Submit every item; results reused from earlier analyses come back at once.
    let mut items: Vec<(String, Option<Value>)> = Vec::new();
    let mut attachments = Vec::new();
    for (i, (name, content)) in mail.attachments.iter().enumerate() {
        let path = dir.path().join(format!("{i}"));
        std::fs::write(&path, content).context("cannot write a temporary file")?;
        let s = analyst.submit_file(&path, Some(name), &[]).await?;
        attachments
            .push(json!({"filename": name, "size": content.len(), "task_uuid": s.task_uuid}));
        items.push((s.task_uuid, s.result));
    }
    let mut urls = Vec::new();
    for url in &mail.urls {
        match analyst.submit_url(url).await {
            Ok(s) => {
                urls.push(json!({"url": url, "task_uuid": s.task_uuid}));
                items.push((s.task_uuid, s.result));
            }
            // A URL the analysis refuses (117) is kept, logged, not scored.
            Err(pushdetect_client::ClientError::Api { code: 117, .. }) => {
                urls.push(json!({"url": url}));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let pending: Vec<String> = items
        .iter()
        .filter(|(_, r)| r.is_none())
        .map(|(u, _)| u.clone())
        .collect();
    bar.set_position((items.len() - pending.len()) as u64);
    let waited = wait_with_bar(analyst, &pending, &since, args.wait_secs, &bar).await;
    let mut scores = std::collections::BTreeMap::new();
    for (uuid, result) in items
        .iter()
        .filter_map(|(u, r)| r.clone().map(|r| (u.clone(), r)))
    {
        scores.insert(uuid, result);
    }
    scores.extend(waited?);
    let score_of = |item: &Value| {
        item.get("task_uuid")
            .and_then(Value::as_str)
            .and_then(|u| scores.get(u))
            .and_then(|r| r.get("score"))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    let mut top = 0;
    let mut block = false;
    for item in attachments.iter_mut().chain(urls.iter_mut()) {
        let score = score_of(item);
        let action = item_action(score, args.threshold, args.block_threshold);
        top = top.max(score);
        block |= action == "BLOCK";
        item["action"] = json!(action);
    }
    let object = json!({
        "message": mail.message,
        "attachments": attachments,
        "urls": urls,
        "action": if block { "BLOCK" } else { "LOG" },
    });
    let mail_json_str = object.to_string();
    let mut params = context.clone();
    params.push("mail_json_str", mail_json_str.clone());
    PushDetection::check(EventKind::Mail, &params).context("the mail object")?;
    let summary = format!(
        "{}: {} attachment(s), {} URL(s), highest score {top}, action {}",
        file.display(),
        attachments.len(),
        urls.len(),
        object["action"].as_str().unwrap_or("LOG")
    );
    if top <= i64::from(args.threshold) {
        return Ok(output(args, &object, format!("{summary}; not pushed")));
    }
    match papi {
        None => Ok(mail_json_str),
        Some(papi) => {
            PushDetection::new(papi).push_mail(&params).await?;
            Ok(output(args, &object, format!("{summary}; pushed")))
        }
    }
}

fn output(args: &AnalyseMailArgs, object: &Value, summary: String) -> String {
    if args.dry_run {
        object.to_string()
    } else if args.client.json {
        json!({"summary": summary, "mail": object}).to_string()
    } else {
        summary
    }
}
