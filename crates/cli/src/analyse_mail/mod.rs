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
use pushdetect_client::mail::mailbox::Captured;
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
    #[command(flatten)]
    spool: crate::spool::SpoolArgs,
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
    let extractor = Arc::new(args.extractor(analysis.is_some()));
    let envelope = Arc::new(Envelope {
        mbox_from: None,
        mail_from: args.mail_from.clone(),
        rcpt: args.rcpt.clone(),
    });
    let limit = args.max_message_bytes;
    let concurrency = usize::from(args.concurrency);
    let Some(analysis) = analysis else {
        return tokio::task::spawn_blocking(move || {
            extract_only(
                inputs,
                &extractor,
                &envelope,
                limit,
                concurrency,
                &mut report,
            )?;
            report.finish()
        })
        .await?;
    };
    let (sender, receiver) = tokio::sync::mpsc::channel::<Item>(concurrency * 2);
    let bar = report.bar.clone();
    let reader = tokio::task::spawn_blocking(move || {
        for item in messages(inputs, limit, bar) {
            if sender.blocking_send(item).is_err() {
                break;
            }
        }
    });
    let items = futures::stream::unfold(receiver, |mut r| async move {
        r.recv().await.map(|item| (item, r))
    });
    let work = items.map(|item| {
        let (extractor, envelope, analysis) =
            (extractor.clone(), envelope.clone(), analysis.clone());
        async move {
            let name = item.name.clone();
            let result = match extract(extractor, envelope, item).await {
                Ok(x) => analysis.analyse(x).await.map(report::Done::Analysed),
                Err(e) => Err(e),
            };
            Outcome { name, result }
        }
    });
    let mut outcomes = std::pin::pin!(work.buffer_unordered(concurrency));
    while let Some(o) = outcomes.next().await {
        report.add(o);
    }
    reader.await?;
    report.finish()
}

/// The time messages without a dated Received header are taken as received: now, to the
/// second, formatted once per second rather than once per message.
#[derive(Default)]
struct Now {
    second: i64,
    text: String,
}

impl Now {
    fn get(&mut self) -> &str {
        let now = chrono::Utc::now();
        if now.timestamp() != self.second || self.text.is_empty() {
            self.second = now.timestamp();
            self.text = now.format("%Y-%m-%d %H:%M:%S").to_string();
        }
        &self.text
    }
}

/// `--extract-only`: messages extracted on up to `concurrency` threads and printed in
/// input order. On one thread this is a plain loop, each message extracted as soon as it
/// is read.
fn extract_only(
    inputs: Vec<Input>,
    extractor: &Extractor,
    envelope: &Envelope,
    limit: u64,
    concurrency: usize,
    report: &mut Report,
) -> anyhow::Result<()> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(concurrency)
        .max(1);
    if threads == 1 {
        // Each message extracted as soon as it is read, while its bytes are in the cache.
        let mut now = Now::default();
        for item in messages(inputs, limit, report.bar.clone()) {
            let result = extract_one(extractor, envelope, &item, now.get());
            report.add(Outcome {
                name: item.name,
                result: result.map(report::Done::Extracted),
            });
        }
        report.flush();
        return Ok(());
    }
    // Several threads: one reads, `threads` extract, this one prints in input order. The
    // queues are bounded, so at most a few messages per thread are held at once.
    let (to_extract, work) = std::sync::mpsc::sync_channel::<(usize, Item)>(threads * 4);
    let (to_print, done) = std::sync::mpsc::sync_channel::<(usize, Outcome)>(threads * 4);
    let work = std::sync::Mutex::new(work);
    let bar = report.bar.clone();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for (seq, item) in messages(inputs, limit, bar).enumerate() {
                if to_extract.send((seq, item)).is_err() {
                    return;
                }
            }
        });
        for _ in 0..threads {
            let (work, to_print) = (&work, to_print.clone());
            scope.spawn(move || {
                let mut now = Now::default();
                loop {
                    let next = work.lock().map(|w| w.recv());
                    let Ok(Ok((seq, item))) = next else { return };
                    let result = extract_one(extractor, envelope, &item, now.get());
                    let outcome = Outcome {
                        name: item.name,
                        result: result.map(report::Done::Extracted),
                    };
                    if to_print.send((seq, outcome)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(to_print);
        let mut waiting: std::collections::BTreeMap<usize, Outcome> = Default::default();
        let mut next = 0;
        for (seq, outcome) in done {
            waiting.insert(seq, outcome);
            while let Some(outcome) = waiting.remove(&next) {
                report.add(outcome);
                next += 1;
            }
        }
    });
    report.flush();
    Ok(())
}

/// Every message of every input, in order; the bar's length grows as an mbox turns out to
/// hold more than one message. An input that cannot be read is one item saying so.
fn messages(
    inputs: Vec<Input>,
    limit: u64,
    bar: indicatif::ProgressBar,
) -> impl Iterator<Item = Item> {
    inputs.into_iter().flat_map(move |input| {
        let name = input.name();
        let bar = bar.clone();
        // An input that cannot be opened reads as one failed message.
        let read = input
            .messages(limit)
            .unwrap_or_else(|e| Box::new(std::iter::once(Err(e))));
        let mut stop = false;
        read.enumerate().map_while(move |(i, message)| {
            if stop {
                return None;
            }
            if i > 0 {
                bar.inc_length(1);
            }
            Some(match message {
                Ok(m) => Item {
                    name: match m.index {
                        Some(n) => format!("{name}#{n}"),
                        None => name.clone(),
                    },
                    captured: Ok(m),
                },
                Err(e) => {
                    // A read error ends this input: its remaining messages are unknown.
                    stop = true;
                    Item {
                        name: name.clone(),
                        captured: Err(format!("cannot read: {e}")),
                    }
                }
            })
        })
    })
}

/// Extracts one message.
fn extract_one(
    extractor: &Extractor,
    envelope: &Envelope,
    item: &Item,
    now: &str,
) -> Result<Extracted, String> {
    let captured = item.captured.as_ref().map_err(Clone::clone)?;
    if captured.oversize {
        return Err(Unusable::TooLarge {
            limit: extractor.limits.max_message_bytes,
        }
        .to_string());
    }
    let envelope = Envelope {
        mbox_from: captured.envelope_from.clone(),
        ..envelope.clone()
    };
    extractor
        .extract(&captured.bytes, &envelope, now)
        .map_err(|e| e.to_string())
}

/// Extracts one message on the blocking pool (parsing is CPU work).
async fn extract(
    extractor: Arc<Extractor>,
    envelope: Arc<Envelope>,
    item: Item,
) -> Result<Extracted, String> {
    tokio::task::spawn_blocking(move || {
        let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
        extract_one(&extractor, &envelope, &item, &now)
    })
    .await
    .map_err(|e| format!("reading the message failed: {e}"))?
}
