//! What analyse-mail prints: one line (or JSON object) per message as it is done, a
//! progress bar with count and ETA on a terminal, and a closing summary.
//!
//! stdout carries the results (`--json`: one object per message, then a summary object;
//! `--extract-only`: one object per message; `--dry-run`: each mail object); stderr carries
//! the bar, refusals in text mode, what limits cut, `--verbose` address origins, and the
//! text summary.

use super::analyse::Analysed;
use super::AnalyseMailArgs;
use indicatif::{ProgressBar, ProgressStyle};
use pushdetect_client::mail::{Attachment, Extracted, MailFields, Origins};
use serde::Serialize;
use serde_json::{json, Value};
use std::io::Write;
use std::time::Instant;

/// How one message ended.
pub enum Done {
    /// Read (`--extract-only`).
    Extracted(Extracted),
    /// Analysed, and pushed if above the threshold.
    Analysed(Analysed),
}

/// One message's outcome.
pub struct Outcome {
    /// The message's name (file, and `#N` in an mbox).
    pub name: String,
    /// What came of it, or why it failed.
    pub result: Result<Done, String>,
}

/// Counts for the summary.
#[derive(Debug, Default)]
struct Counts {
    messages: u64,
    pushed: u64,
    spooled: u64,
    not_pushed: u64,
    would_push: u64,
    extracted: u64,
    failed: u64,
    attachments: u64,
    urls: u64,
    reused: u64,
}

/// The output of one run.
pub struct Report {
    /// The progress bar (hidden when stderr is not a terminal).
    pub bar: ProgressBar,
    json: bool,
    verbose: bool,
    dry_run: bool,
    extract_only: bool,
    counts: Counts,
    started: Instant,
    /// stdout: buffered with --extract-only (flushed per chunk), line by line otherwise.
    stdout: Box<dyn Write + Send>,
}

impl Report {
    /// A report for `files` inputs (the bar grows when an mbox holds several messages).
    pub fn new(args: &AnalyseMailArgs, files: usize) -> Report {
        let bar = ProgressBar::new(files as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{bar:30}] {pos}/{len} messages {per_sec} ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        Report {
            bar,
            json: args.client.json,
            verbose: args.client.verbose,
            dry_run: args.dry_run,
            extract_only: args.extract_only,
            counts: Counts::default(),
            started: Instant::now(),
            stdout: if args.extract_only {
                Box::new(std::io::BufWriter::with_capacity(
                    1 << 16,
                    std::io::stdout(),
                ))
            } else {
                Box::new(std::io::stdout())
            },
        }
    }

    fn out(&mut self, line: String) {
        let out = &mut self.stdout;
        // A closed stdout (a pipe into `head`) ends nothing here: the summary still counts.
        self.bar.suspend(|| {
            let _ = writeln!(out, "{line}");
        });
    }

    fn out_json(&mut self, value: &impl Serialize) {
        let out = &mut self.stdout;
        self.bar.suspend(|| {
            let _ = serde_json::to_writer(&mut *out, value);
            let _ = out.write_all(b"\n");
        });
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) {
        let out = &mut self.stdout;
        self.bar.suspend(|| {
            let _ = out.flush();
        });
    }

    fn err(&self, line: String) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    /// Prints and counts one message's outcome.
    pub fn add(&mut self, outcome: Outcome) {
        self.bar.inc(1);
        self.counts.messages += 1;
        let name = outcome.name;
        match outcome.result {
            Err(e) => {
                self.counts.failed += 1;
                if self.json || self.extract_only {
                    self.out(json!({"file": name, "error": e}).to_string());
                } else {
                    self.err(format!("{name}: {e}"));
                }
            }
            Ok(Done::Extracted(x)) => {
                self.counts.extracted += 1;
                self.counts.attachments += x.attachments.len() as u64;
                self.counts.urls += x.urls.len() as u64;
                self.details(&name, &x);
                let line = ExtractedLine {
                    file: &name,
                    mail: ExtractedMail {
                        message: &x.message,
                        attachments: &x.attachments,
                        urls: x.urls.iter().map(|url| UrlOnly { url }).collect(),
                    },
                    origins: &x.origins,
                    cut: &x.cut,
                };
                self.out_json(&line);
            }
            Ok(Done::Analysed(a)) => {
                self.count(&a);
                self.details(&name, &a.extracted);
                let line = self.analysed_line(&name, &a);
                self.out(line);
            }
        }
    }

    fn count(&mut self, a: &Analysed) {
        let c = &mut self.counts;
        match (a.pushed, a.above) {
            (true, _) if a.spooled.is_some() => c.spooled += 1,
            (true, _) => c.pushed += 1,
            (false, true) => c.would_push += 1,
            (false, false) => c.not_pushed += 1,
        }
        for item in &a.items {
            match item.kind {
                "attachment" => c.attachments += 1,
                _ => c.urls += 1,
            }
            c.reused += u64::from(item.scored.reused);
        }
    }

    /// What the limits cut (always), and where each address came from (`--verbose`), on
    /// stderr in text mode; `--json` output carries both.
    fn details(&self, name: &str, x: &Extracted) {
        if self.json || self.extract_only {
            return;
        }
        for cut in &x.cut {
            self.err(format!("{name}: cut: {cut}"));
        }
        if self.verbose {
            let m = &x.message;
            self.err(format!(
                "{name}: sender {} from {}",
                m.sender, x.origins.sender
            ));
            for (r, origin) in m.recipients.iter().zip(&x.origins.recipients) {
                self.err(format!("{name}: recipient {r} from {origin}"));
            }
        }
    }

    fn analysed_line(&self, name: &str, a: &Analysed) -> String {
        let action = event_action(&a.object);
        let action = action.as_str();
        if self.json {
            return json!({
                "file": name,
                "mail": a.object,
                "items": a.items,
                "highest_score": a.top,
                "action": action,
                "pushed": a.pushed,
                "spooled": a.spooled,
                "above_threshold": a.above,
                "origins": a.extracted.origins,
                "cut": a.extracted.cut,
            })
            .to_string();
        }
        if self.dry_run {
            return a.object.to_string();
        }
        let outcome = match (&a.spooled, a.pushed) {
            (Some(why), _) => format!("spooled, to be pushed later ({why})"),
            (None, true) => "pushed".to_owned(),
            (None, false) => "not pushed".to_owned(),
        };
        format!(
            "{name}: {} attachment(s), {} URL(s), highest score {}, action {action}; {outcome}",
            a.extracted.attachments.len(),
            a.extracted.urls.len(),
            a.top
        )
    }

    /// Prints the summary; fails when any message could not be used, analysed or pushed.
    pub fn finish(mut self) -> anyhow::Result<()> {
        self.bar.finish_and_clear();
        let _ = self.stdout.flush();
        let c = &self.counts;
        let seconds = self.started.elapsed().as_secs_f64();
        let rate = c.messages as f64 / seconds.max(1e-9);
        if self.json {
            let summary: Value = json!({"summary": {
                "messages": c.messages,
                "extracted": c.extracted,
                "pushed": c.pushed,
                "spooled": c.spooled,
                "would_push": c.would_push,
                "not_pushed": c.not_pushed,
                "failed": c.failed,
                "attachments": c.attachments,
                "urls": c.urls,
                "reused": c.reused,
                "seconds": (seconds * 1000.0).round() / 1000.0,
                "messages_per_second": rate.round(),
            }});
            let _ = writeln!(self.stdout, "{summary}");
            let _ = self.stdout.flush();
        } else if self.extract_only {
            eprintln!(
                "{} message(s) in {seconds:.1} s ({rate:.0}/s): {} read, {} refused; \
                 {} attachment(s), {} URL(s)",
                c.messages, c.extracted, c.failed, c.attachments, c.urls
            );
        } else {
            let pushed = if self.dry_run {
                format!("{} would be pushed", c.would_push)
            } else {
                format!("{} pushed, {} spooled", c.pushed, c.spooled)
            };
            eprintln!(
                "{} message(s) in {seconds:.1} s ({rate:.0}/s): {pushed}, {} not pushed, {} failed; \
                 {} attachment(s) and {} URL(s) analysed, {} reused",
                c.messages, c.not_pushed, c.failed, c.attachments, c.urls, c.reused
            );
        }
        crate::reported::ensure(c.failed == 0, || {
            format!(
                "{} of {} message(s) could not be used, analysed or pushed",
                c.failed, c.messages
            )
        })
    }
}

/// `--extract-only`'s object for one message, serialised straight to stdout.
#[derive(Serialize)]
struct ExtractedLine<'a> {
    file: &'a str,
    mail: ExtractedMail<'a>,
    origins: &'a Origins,
    cut: &'a [String],
}

/// The action of the event the mail object makes, as the server derives it (the
/// strongest of the message's own and its attachments' and links': a mail logged with a
/// warned link is a WARN event), so that this report and the console say the same.
fn event_action(object: &Value) -> String {
    let raw = json!({
        "mail_json_str": object.to_string(),
        "vendor_name": "pushdetect",
        "tool_name": "analyse-mail",
    });
    let received = pushdetect_model::Timestamp::from_millis(0);
    pushdetect_model::Event::from_stored(pushdetect_model::EventKind::Mail, &raw, received)
        .ok()
        .and_then(|event| event.action())
        .map(|a| a.as_str().to_owned())
        .unwrap_or_else(|| object["action"].as_str().unwrap_or("LOG").to_owned())
}

/// The mail object as read, without actions or tasks.
#[derive(Serialize)]
struct ExtractedMail<'a> {
    message: &'a MailFields,
    attachments: &'a [Attachment],
    urls: Vec<UrlOnly<'a>>,
}

#[derive(Serialize)]
struct UrlOnly<'a> {
    url: &'a str,
}
