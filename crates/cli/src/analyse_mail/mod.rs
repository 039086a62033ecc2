//! `pushdetect analyse-mail`: read captured messages (.eml files, mbox files, directories
//! of them, standard input), submit every attachment and URL for analysis, set each item's
//! action from its score, and push the spec's mail_captured event for each message with a
//! score above the threshold (the spec's analyse_captured_mail example, natively).
//!
//! Messages are read by one thread and analysed concurrently (`--concurrency`); results
//! are collected as analyses finish. `--extract-only` reads messages without any server
//! and prints what would be pushed. A message that cannot be used is reported in one line
//! and the others go on.

mod analyse;
mod report;

use crate::client_args::{ClientArgs, MailSpec, MethodFlags};
use crate::inputs::{expand, Input};
use clap::Args;
use futures::StreamExt;
use pushdetect_client::mail::mailbox::{Captured, Messages};
use pushdetect_client::mail::{Envelope, Extracted, Extractor, Limits, Unusable};
use report::{Outcome, Report};
use std::path::PathBuf;
use std::sync::Arc;

/// Analyse mails and push the malicious ones.
#[derive(Debug, Args)]
pub struct AnalyseMailArgs {
    /// Messages to read: .eml files, mbox files, directories (read recursively), or `-`
    /// for standard input.
    #[arg(required = true, value_name = "PATH")]
    inputs: Vec<PathBuf>,
    /// Items scoring above this are WARN, and the mail is pushed (0-100).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u8).range(0..=100))]
    threshold: u8,
    /// Items scoring this or more are BLOCK, and so is the message (0-100).
    #[arg(long, default_value_t = 70, value_parser = clap::value_parser!(u8).range(0..=100))]
    block_threshold: u8,
    /// Analyse, but print each mail object instead of pushing it.
    #[arg(long)]
    dry_run: bool,
    /// Only read the messages, with no server: one JSON object per message on stdout
    /// (the mail object, attachments with their SHA-256, URLs, where each address came
    /// from, and what the limits cut).
    #[arg(long, conflicts_with = "dry_run")]
    extract_only: bool,
    /// How many messages are analysed at once (and requests sent at once); with
    /// --extract-only, how many are read at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Give up waiting for one item's analysis after this many seconds.
    #[arg(long, default_value_t = 600)]
    wait_secs: u64,
    /// The sender when no header (From, Sender, Return-Path) holds a usable address.
    #[arg(long, value_name = "ADDRESS")]
    mail_from: Option<String>,
    /// A recipient when no header (To, Cc, Bcc, Delivered-To, X-Original-To,
    /// Envelope-To) holds a usable address; repeatable.
    #[arg(long, value_name = "ADDRESS")]
    rcpt: Vec<String>,
    /// Largest message read, in bytes; larger ones are reported and skipped.
    #[arg(long, default_value_t = Limits::default().max_message_bytes)]
    max_message_bytes: u64,
    /// Most URLs taken from one message; the rest are counted as cut.
    #[arg(long, default_value_t = Limits::default().max_urls)]
    max_urls: usize,
    /// Most attachments taken from one message (nested messages' included).
    #[arg(long, default_value_t = Limits::default().max_attachments)]
    max_attachments: usize,
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    context: MethodFlags<MailSpec>,
}

impl AnalyseMailArgs {
    /// Whether --verbose was given.
    pub fn verbose(&self) -> bool {
        self.client.verbose
    }

    fn extractor(&self, keep_content: bool) -> Extractor {
        Extractor {
            limits: Limits {
                max_message_bytes: self.max_message_bytes,
                max_urls: self.max_urls,
                max_attachments: self.max_attachments,
                max_attachment_bytes: self.max_message_bytes,
                ..Limits::default()
            },
            keep_content,
        }
    }
}

/// One message read from an input, ready to be extracted.
pub struct Item {
    /// The input's name, and `#N` for the N-th message of an mbox.
    pub name: String,
    /// The message, or why it could not be read.
    pub captured: Result<Captured, String>,
}

/// Runs the command; fails when any message could not be used, analysed or pushed.
pub async fn run(args: AnalyseMailArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.block_threshold > args.threshold,
        "--block-threshold ({}) must be above --threshold ({})",
        args.block_threshold,
        args.threshold
    );
    let inputs = expand(&args.inputs, true)?;
    let analysis = if args.extract_only {
        None
    } else {
        Some(Arc::new(analyse::Context::new(&args).await?))
    };
    let mut report = Report::new(&args, inputs.len());
    let (sender, receiver) = tokio::sync::mpsc::channel::<Item>(usize::from(args.concurrency) * 2);
    let limit = args.max_message_bytes;
    let bar = report.bar.clone();
    let reader = tokio::task::spawn_blocking(move || read_inputs(inputs, limit, sender, bar));
    let extractor = Arc::new(args.extractor(analysis.is_some()));
    let envelope = Arc::new(Envelope {
        mbox_from: None,
        mail_from: args.mail_from.clone(),
        rcpt: args.rcpt.clone(),
    });
    let items = futures::stream::unfold(receiver, |mut r| async move {
        r.recv().await.map(|item| (item, r))
    });
    let work = items.map(|item| {
        let (extractor, envelope, analysis) =
            (extractor.clone(), envelope.clone(), analysis.clone());
        async move {
            let name = item.name.clone();
            let extracted = extract(extractor, envelope, item).await;
            let result = match (extracted, analysis) {
                (Err(e), _) => Err(e),
                (Ok(x), None) => Ok(report::Done::Extracted(x)),
                (Ok(x), Some(a)) => a.analyse(x).await.map(report::Done::Analysed),
            };
            Outcome { name, result }
        }
    });
    let concurrency = usize::from(args.concurrency);
    if args.extract_only {
        // In input order: the output of the same inputs is the same.
        let mut outcomes = std::pin::pin!(work.buffered(concurrency));
        while let Some(o) = outcomes.next().await {
            report.add(o);
        }
    } else {
        let mut outcomes = std::pin::pin!(work.buffer_unordered(concurrency));
        while let Some(o) = outcomes.next().await {
            report.add(o);
        }
    }
    reader.await??;
    report.finish()
}

/// Reads every message of every input, in order, into the channel; the bar's length grows
/// as an mbox turns out to hold more than one message.
fn read_inputs(
    inputs: Vec<Input>,
    limit: u64,
    sender: tokio::sync::mpsc::Sender<Item>,
    bar: indicatif::ProgressBar,
) -> anyhow::Result<()> {
    for input in inputs {
        let name = input.name();
        let reader = match input.open() {
            Ok(r) => r,
            Err(e) => {
                let item = Item {
                    name,
                    captured: Err(format!("cannot read: {e}")),
                };
                if sender.blocking_send(item).is_err() {
                    return Ok(());
                }
                continue;
            }
        };
        for (i, message) in Messages::new(reader, limit).enumerate() {
            if i > 0 {
                bar.inc_length(1);
            }
            let item = match message {
                Ok(m) => Item {
                    name: match m.index {
                        Some(n) => format!("{name}#{n}"),
                        None => name.clone(),
                    },
                    captured: Ok(m),
                },
                Err(e) => Item {
                    name: name.clone(),
                    captured: Err(format!("cannot read: {e}")),
                },
            };
            let stop = item.captured.is_err();
            if sender.blocking_send(item).is_err() {
                return Ok(());
            }
            if stop {
                break;
            }
        }
    }
    Ok(())
}

/// Extracts one message on the blocking pool (parsing is CPU work).
async fn extract(
    extractor: Arc<Extractor>,
    envelope: Arc<Envelope>,
    item: Item,
) -> Result<Extracted, String> {
    let captured = item.captured?;
    if captured.oversize {
        return Err(Unusable::TooLarge {
            limit: extractor.limits.max_message_bytes,
        }
        .to_string());
    }
    tokio::task::spawn_blocking(move || {
        let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
        let envelope = Envelope {
            mbox_from: captured.envelope_from,
            ..(*envelope).clone()
        };
        extractor
            .extract(&captured.bytes, &envelope, &now)
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| format!("reading the message failed: {e}"))?
}
