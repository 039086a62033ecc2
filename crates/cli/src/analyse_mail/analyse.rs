//! Analysing one message: every attachment and URL is scored (each distinct one once per
//! run, however many messages hold it), the items' and the message's actions are set, and
//! the mail object is pushed when a score is above the threshold.
//!
//! An attachment is first looked up by its SHA-256 with the hash query: content the
//! server has analysed before is not submitted again. Otherwise it is submitted by hash,
//! then by content; results come from the shared [`Tracker`] as the analyses finish.

use super::AnalyseMailArgs;
use anyhow::Context as _;
use futures::future::{BoxFuture, FutureExt, Shared};
use pushdetect_client::mail::Extracted;
use pushdetect_client::{AnalystClient, ClientError, Delivery, PapiClient, PushDetection, Tracker};
use pushdetect_model::{EventKind, FormParams};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// The analysis of one item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    /// The task that analysed it (none for a URL the analysis refuses).
    pub task_uuid: Option<String>,
    /// Its score (none when not analysed).
    pub score: Option<i64>,
    /// Whether an earlier analysis was reused instead of a new submission.
    pub reused: bool,
}

/// One item of a message and what its analysis said.
#[derive(Debug, Clone, Serialize)]
pub struct ItemResult {
    /// `attachment` or `url`.
    pub kind: &'static str,
    /// The attachment's file name, or the URL.
    pub name: String,
    /// The attachment's SHA-256.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The analysis.
    #[serde(flatten)]
    pub scored: Scored,
    /// LOG, WARN or BLOCK.
    pub action: &'static str,
}

/// An analysed message.
#[derive(Debug, Clone)]
pub struct Analysed {
    /// What was read from it.
    pub extracted: Extracted,
    /// The mail object (`mail_json_str`).
    pub object: Value,
    /// Each item's analysis.
    pub items: Vec<ItemResult>,
    /// The highest score.
    pub top: i64,
    /// Whether it was pushed, or spooled to be pushed later (always false in a dry run).
    pub pushed: bool,
    /// Why it was spooled instead of pushed now (`--spool`), if it was.
    pub spooled: Option<String>,
    /// Whether a score is above the threshold (it is, or would be, pushed).
    pub above: bool,
}

type Pending = Shared<BoxFuture<'static, Result<Scored, String>>>;

/// How many distinct items a run remembers before forgetting the finished ones.
const REMEMBERED: usize = 50_000;

/// What every message's analysis shares.
pub struct Context {
    analyst: Arc<AnalystClient>,
    tracker: Tracker,
    papi: Option<PapiClient>,
    spool: Option<tokio::sync::Mutex<pushdetect_client::Spool>>,
    params: FormParams,
    threshold: i64,
    block_threshold: i64,
    wait: Duration,
    /// Requests to the server in flight.
    requests: Arc<Semaphore>,
    /// Each distinct attachment (by SHA-256) and URL of the run, analysed once.
    items: Mutex<HashMap<String, Pending>>,
}

impl Context {
    /// Logs nothing in yet: sessions start with the first request. Reads the server clock
    /// for the tracker, so the server must answer.
    pub async fn new(args: &AnalyseMailArgs) -> anyhow::Result<Context> {
        let config = args.client.load()?;
        let params = args.context.clone().with_defaults("analyse-mail", &config);
        // The push context is checked before anything is read or submitted.
        let mut probe = params.clone();
        probe.push(
            "mail_json_str",
            r#"{"message": {"message_id": "probe", "sender": "a@b.example",
                "recipients": ["c@d.example"], "subject": ""}}"#,
        );
        PushDetection::check(EventKind::Mail, &probe).context("the push parameters")?;
        let analyst = Arc::new(args.client.analyst(&config)?);
        let tracker = Tracker::start(analyst.clone()).await?;
        let papi = if args.dry_run {
            None
        } else {
            Some(args.client.papi(&config)?)
        };
        Ok(Context {
            analyst,
            tracker,
            papi,
            spool: if args.dry_run {
                None
            } else {
                args.spool.open()?
            },
            params,
            threshold: i64::from(args.threshold),
            block_threshold: i64::from(args.block_threshold),
            wait: Duration::from_secs(args.wait_secs),
            requests: Arc::new(Semaphore::new(usize::from(args.concurrency))),
            items: Mutex::new(HashMap::new()),
        })
    }

    fn action(&self, score: Option<i64>) -> &'static str {
        match score {
            Some(s) if s >= self.block_threshold => "BLOCK",
            Some(s) if s > self.threshold => "WARN",
            _ => "LOG",
        }
    }

    /// The run's analysis of an item, started by the first message that holds it. The
    /// finished ones are forgotten past [`REMEMBERED`] items, so memory stays bounded on
    /// any number of messages (an item seen again after that is looked up again).
    fn once(
        self: &Arc<Self>,
        key: String,
        start: impl FnOnce() -> BoxFuture<'static, Result<Scored, String>>,
    ) -> Pending {
        let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        if items.len() >= REMEMBERED && !items.contains_key(&key) {
            items.retain(|_, p| p.peek().is_none());
        }
        items.entry(key).or_insert_with(|| start().shared()).clone()
    }

    fn attachment(self: &Arc<Self>, sha256: &str, name: &str, content: Vec<u8>) -> Pending {
        let (ctx, sha256_owned, name) = (self.clone(), sha256.to_owned(), name.to_owned());
        self.once(format!("sha256:{sha256}"), move || {
            async move {
                let submitted = {
                    let _permit = ctx.requests.acquire().await.map_err(|e| e.to_string())?;
                    if let Some((uuid, score)) =
                        ctx.analyst.find_result(&sha256_owned).await.map_err(text)?
                    {
                        return Ok(Scored {
                            task_uuid: Some(uuid),
                            score: Some(score),
                            reused: true,
                        });
                    }
                    ctx.analyst
                        .submit_content(&content, &sha256_owned, &name)
                        .await
                        .map_err(text)?
                };
                ctx.finished(submitted).await
            }
            .boxed()
        })
    }

    fn url(self: &Arc<Self>, url: &str) -> Pending {
        let (ctx, url_owned) = (self.clone(), url.to_owned());
        self.once(format!("url:{url}"), move || {
            async move {
                let submitted = {
                    let _permit = ctx.requests.acquire().await.map_err(|e| e.to_string())?;
                    match ctx.analyst.submit_url(&url_owned).await {
                        Ok(s) => s,
                        // A URL the analysis refuses (117) is kept, logged, not scored.
                        Err(ClientError::Api { code: 117, .. }) => {
                            return Ok(Scored {
                                task_uuid: None,
                                score: None,
                                reused: false,
                            })
                        }
                        Err(e) => return Err(text(e)),
                    }
                };
                ctx.finished(submitted).await
            }
            .boxed()
        })
    }

    /// The score of a submission: at once when the server reused a finished analysis,
    /// else when the tracker sees the task finish.
    async fn finished(&self, s: pushdetect_client::Submission) -> Result<Scored, String> {
        let reused = s.result.is_some();
        let score = match s.result.as_ref().and_then(|r| r["score"].as_i64()) {
            Some(score) => score,
            None => self
                .tracker
                .wait(&s.task_uuid, self.wait)
                .await
                .map_err(text)?,
        };
        Ok(Scored {
            task_uuid: Some(s.task_uuid),
            score: Some(score),
            reused,
        })
    }

    /// Analyses one message and pushes it when a score is above the threshold.
    pub async fn analyse(self: &Arc<Self>, mut extracted: Extracted) -> Result<Analysed, String> {
        let mut pending = Vec::new();
        for a in &mut extracted.attachments {
            let content = a.content.take().unwrap_or_default();
            pending.push(("attachment", a.filename.clone(), Some(a.sha256.clone()), {
                self.attachment(&a.sha256, &a.filename, content)
            }));
        }
        for u in &extracted.urls {
            pending.push(("url", u.clone(), None, self.url(u)));
        }
        let scores = futures::future::join_all(pending.iter().map(|p| p.3.clone())).await;
        let mut items = Vec::new();
        for ((kind, name, sha256, _), scored) in pending.into_iter().zip(scores) {
            let scored = scored.map_err(|e| format!("{kind} {name}: {e}"))?;
            let action = self.action(scored.score);
            items.push(ItemResult {
                kind,
                name,
                sha256,
                scored,
                action,
            });
        }
        let top = items
            .iter()
            .filter_map(|i| i.scored.score)
            .max()
            .unwrap_or(0);
        let object = self.mail_object(&extracted, &items);
        let mut params = self.params.clone();
        params.push("mail_json_str", object.to_string());
        // Checked here for every message, pushed or not; the push sends it as checked.
        PushDetection::check(EventKind::Mail, &params)
            .map_err(|e| format!("the mail object: {e}"))?;
        let above = top > self.threshold;
        let (pushed, spooled) = match (&self.papi, above) {
            (Some(papi), true) => {
                match crate::spool::deliver(papi, self.spool.as_ref(), EventKind::Mail, &params)
                    .await
                    .map_err(|e| format!("push: {e}"))?
                {
                    Delivery::Pushed => (true, None),
                    Delivery::Spooled(why) => (true, Some(why)),
                }
            }
            _ => (false, None),
        };
        Ok(Analysed {
            extracted,
            object,
            items,
            top,
            pushed,
            spooled,
            above,
        })
    }

    /// The spec's mail object: the message, each item with its task and action, and the
    /// message's action (BLOCK when any item is).
    fn mail_object(&self, extracted: &Extracted, items: &[ItemResult]) -> Value {
        let mut attachments = Vec::new();
        let mut urls = Vec::new();
        for (item, a) in items.iter().zip(&extracted.attachments) {
            let mut v = json!({"filename": a.filename, "size": a.size, "action": item.action});
            if let Some(t) = &item.scored.task_uuid {
                v["task_uuid"] = json!(t);
            }
            attachments.push(v);
        }
        for item in items.iter().skip(extracted.attachments.len()) {
            let mut v = json!({"url": item.name, "action": item.action});
            if let Some(t) = &item.scored.task_uuid {
                v["task_uuid"] = json!(t);
            }
            urls.push(v);
        }
        let block = items.iter().any(|i| i.action == "BLOCK");
        json!({
            "message": extracted.message,
            "attachments": attachments,
            "urls": urls,
            "action": if block { "BLOCK" } else { "LOG" },
        })
    }
}

fn text(e: ClientError) -> String {
    e.to_string()
}
