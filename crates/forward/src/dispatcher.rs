//! The dispatcher: each node runs one. It leases destinations with deliveries due (one
//! node holds a destination at a time), sends their deliveries in order, a batch at a
//! time, and deletes each once sent; a failure puts the first unsent delivery back with
//! exponential backoff and jitter (not before the receiver's Retry-After), which holds
//! back the ones after it, until the destination's dead-letter time has passed since
//! retrying began. Pushes never wait for it: the outbox only grows while a destination
//! is down, and its depth and age are metrics.

use crate::destination::Prepared;
use crate::payload::{build, Built};
use crate::stats::{labels, ForwardStats};
use crate::syslog::{self, SyslogSender};
use crate::webhook::WebhookSender;
use crate::SendError;
use pushdetect_store::forwarding::{Carried, Delivery, Leased};
use pushdetect_store::{Store, StoreError};
use rand::Rng;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How the dispatcher works.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// This node's name in leases: unique among the nodes sharing a database.
    pub node: String,
    /// The host name syslog messages carry.
    pub hostname: String,
    /// How often to look for due deliveries when idle.
    pub poll: Duration,
    /// How long a lease lasts without renewal; a node that dies loses its destinations
    /// to the others after this.
    pub lease: Duration,
    /// Deliveries read and sent at once.
    pub batch: u32,
    /// Destinations served at once.
    pub concurrency: u32,
    /// The first retry's delay; each next one doubles it.
    pub backoff_base: Duration,
    /// The longest delay between retries.
    pub backoff_max: Duration,
}

impl DispatchConfig {
    /// The defaults for a node: a 200 ms poll, 30 s leases, batches of 100, 8 destinations
    /// at once, retries from 1 s doubling up to 5 minutes.
    pub fn for_node(node: String, hostname: String) -> Self {
        DispatchConfig {
            node,
            hostname,
            poll: Duration::from_millis(200),
            lease: Duration::from_secs(30),
            batch: 100,
            concurrency: 8,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The delay before retry number `attempts + 1`: the base doubled per attempt, at most
/// the maximum, less up to a fifth at random so that retries of many spread out.
pub fn backoff(attempts: i64, base: Duration, max: Duration) -> Duration {
    let doubled = base.saturating_mul(1u32 << attempts.clamp(0, 20));
    let full = doubled.min(max);
    let jitter = rand::thread_rng().gen_range(0.0..0.2);
    full.mul_f64(1.0 - jitter)
}

/// A destination's sender, kept between rounds with the settings it was made from.
enum Sender {
    Syslog(SyslogSender),
    Webhook(WebhookSender),
}

impl Sender {
    fn new(d: &Prepared) -> Result<Self, SendError> {
        if d.target.is_webhook() {
            Ok(Sender::Webhook(WebhookSender::new(d)?))
        } else {
            Ok(Sender::Syslog(SyslogSender::new(d)?))
        }
    }
}

/// The fingerprint of the settings a sender was made from: a changed destination gets a
/// new sender.
fn settings_of(l: &Leased) -> String {
    let d = &l.destination;
    format!(
        "{}|{}|{}|{:?}",
        d.target,
        d.format,
        d.options,
        l.secret.as_ref().map(String::len)
    )
}

/// Sends the outbox. See the module documentation.
pub struct Dispatcher {
    store: Arc<dyn Store>,
    config: DispatchConfig,
    stats: ForwardStats,
    senders: Mutex<HashMap<i64, (String, Sender)>>,
}

/// What a failed attempt did with the delivery.
enum Outcome {
    Retried,
    DeadLettered,
}

impl Dispatcher {
    /// A dispatcher over a store, counting into `stats`.
    pub fn new(store: Arc<dyn Store>, config: DispatchConfig, stats: ForwardStats) -> Arc<Self> {
        Arc::new(Dispatcher {
            store,
            config,
            stats,
            senders: Mutex::new(HashMap::new()),
        })
    }

    /// Runs until the task is dropped: a round whenever the last one sent something,
    /// else after the poll interval; the outbox gauges every few seconds.
    pub async fn run(self: Arc<Self>) {
        let mut gauges_at = Instant::now();
        loop {
            let busy = match self.round().await {
                Ok(busy) => busy,
                Err(e) => {
                    tracing::warn!(error = %e, "forwarding round failed");
                    false
                }
            };
            if gauges_at.elapsed() >= Duration::from_secs(5) {
                gauges_at = Instant::now();
                if let Err(e) = self.refresh_gauges().await {
                    tracing::warn!(error = %e, "reading the outbox depth failed");
                }
            }
            if !busy {
                tokio::time::sleep(self.config.poll).await;
            }
        }
    }

    /// Sets the outbox gauges from the store.
    pub async fn refresh_gauges(&self) -> Result<(), StoreError> {
        let now = now_ms();
        for d in self.store.outbox_depths(None).await? {
            let l = labels(d.account_id, &d.name);
            self.stats.depth.get_or_create(&l).set(d.pending);
            self.stats.dead.get_or_create(&l).set(d.dead);
            let age = d.oldest_pending_ms.map_or(0, |t| (now - t).max(0) / 1000);
            self.stats.oldest_age.get_or_create(&l).set(age);
        }
        Ok(())
    }

    /// One round: leases what is due and serves each destination for up to half a lease.
    /// Returns whether anything was sent.
    pub async fn round(self: &Arc<Self>) -> Result<bool, StoreError> {
        let now = now_ms();
        let leased = self
            .store
            .lease_destinations(
                &self.config.node,
                now,
                now.saturating_add(ms(self.config.lease)),
                self.config.concurrency,
            )
            .await?;
        let mut tasks = tokio::task::JoinSet::new();
        for l in leased {
            let me = self.clone();
            tasks.spawn(async move { me.serve(l).await });
        }
        let mut busy = false;
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(Ok(sent)) => busy |= sent,
                Ok(Err(e)) => tracing::warn!(error = %e, "forwarding to a destination failed"),
                Err(e) => tracing::error!(error = %e, "a forwarding task panicked"),
            }
        }
        Ok(busy)
    }

    /// Serves one leased destination; returns whether anything was sent.
    async fn serve(&self, l: Leased) -> Result<bool, StoreError> {
        let id = l.destination.id;
        let label = labels(l.destination.account_id, &l.destination.name);
        let settings = settings_of(&l);
        let kept = self.senders.lock().await.remove(&id);
        let ready = Prepared::from_leased(&l).and_then(|p| {
            let sender = match kept {
                Some((s, sender)) if s == settings => sender,
                _ => Sender::new(&p)?,
            };
            Ok((p, sender))
        });
        let (prepared, mut sender) = match ready {
            Ok(ready) => ready,
            Err(e) => {
                // Unusable settings: the first delivery waits (and is dead-lettered in
                // time) until the destination is fixed.
                let head = self.store.pending_deliveries(id, 1).await?;
                if let Some(d) = head.first() {
                    let dead_after_ms = l.destination.dead_after_secs.saturating_mul(1000);
                    self.failed(d, dead_after_ms, &label, e).await?;
                }
                return Ok(false);
            }
        };
        let deadline = Instant::now() + self.config.lease / 2;
        let names = prepared.options.names();
        let mut sent_any = false;
        loop {
            let pending = self.store.pending_deliveries(id, self.config.batch).await?;
            let now = now_ms();
            match pending.first() {
                Some(head) if head.next_attempt_ms <= now => {}
                _ => break,
            }
            let carried = self.store.carried(&pending).await?;
            let mut gone = Vec::new();
            let mut built: Vec<(&Delivery, Built)> = Vec::with_capacity(pending.len());
            for (d, c) in pending.iter().zip(&carried) {
                match build(prepared.format, &names, d, c, prepared.target.is_webhook()) {
                    Some(b) => built.push((d, b)),
                    None => {
                        debug_assert!(matches!(c, Carried::Gone));
                        gone.push(d.id);
                    }
                }
            }
            self.store.delivered(&gone).await?;
            let (sent, failure) = self
                .send(&mut sender, &prepared, &built, &label, now, deadline)
                .await?;
            self.mark_sent(&sent, &label).await?;
            sent_any |= !sent.is_empty();
            if let Some((d, e)) = failure {
                if let Outcome::Retried = self.failed(d, prepared.dead_after_ms, &label, e).await? {
                    break;
                }
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        self.senders.lock().await.insert(id, (settings, sender));
        Ok(sent_any)
    }

    /// Sends built deliveries in order: the ids sent, and the first that failed with why.
    /// Webhooks stop at `deadline` (each POST may take its whole timeout), so that the
    /// lease never runs out while this node still sends.
    async fn send<'a>(
        &self,
        sender: &mut Sender,
        d: &Prepared,
        built: &[(&'a Delivery, Built)],
        label: &crate::stats::Labels,
        now: i64,
        deadline: Instant,
    ) -> Result<(Vec<i64>, Option<(&'a Delivery, SendError)>), StoreError> {
        match sender {
            Sender::Syslog(s) => {
                let facility = d.options.syslog_facility();
                let messages: Vec<String> = built
                    .iter()
                    .map(|(_, b)| syslog::message(b, facility, &self.config.hostname, now))
                    .collect();
                match s.send(&messages).await {
                    Ok(()) => Ok((built.iter().map(|(d, _)| d.id).collect(), None)),
                    Err(e) => Ok((Vec::new(), built.first().map(|(d, _)| (*d, e)))),
                }
            }
            Sender::Webhook(w) => {
                let mut sent = Vec::new();
                for (delivery, b) in built {
                    if Instant::now() >= deadline {
                        break;
                    }
                    match w.send(delivery.id, &b.text, now_ms()).await {
                        Ok(()) => sent.push(delivery.id),
                        Err(refused @ SendError::Refused(_)) => {
                            // This one would fail again; the ones after it may not.
                            self.mark_sent(&sent, label).await?;
                            sent.clear();
                            self.failed(delivery, d.dead_after_ms, label, refused)
                                .await?;
                        }
                        Err(e) => return Ok((sent, Some((*delivery, e)))),
                    }
                }
                Ok((sent, None))
            }
        }
    }

    /// Deletes sent deliveries and counts them.
    async fn mark_sent(&self, ids: &[i64], label: &crate::stats::Labels) -> Result<(), StoreError> {
        self.store.delivered(ids).await?;
        self.stats
            .sent
            .get_or_create(label)
            .inc_by(ids.len() as u64);
        Ok(())
    }

    /// Records a failed attempt: dead-lettered if refused or retried long enough, else
    /// tried again after a backoff.
    async fn failed(
        &self,
        d: &Delivery,
        dead_after_ms: i64,
        label: &crate::stats::Labels,
        e: SendError,
    ) -> Result<Outcome, StoreError> {
        let now = now_ms();
        self.stats.failed.get_or_create(label).inc();
        let message = e.to_string();
        let expired = now.saturating_sub(d.retry_since_ms) >= dead_after_ms;
        if matches!(e, SendError::Refused(_)) || expired {
            tracing::warn!(delivery = d.id, error = %message, "delivery dead-lettered");
            self.store.dead_letter(&[d.id], now, &message).await?;
            self.stats.dead_lettered.get_or_create(label).inc();
            return Ok(Outcome::DeadLettered);
        }
        let wait = backoff(
            d.attempts,
            self.config.backoff_base,
            self.config.backoff_max,
        );
        let mut next = now.saturating_add(ms(wait));
        if let SendError::Retry {
            not_before_ms: Some(at),
            ..
        } = e
        {
            next = next.max(at);
        }
        tracing::info!(delivery = d.id, error = %message, retry_in_ms = next - now, "delivery will be retried");
        self.store.retry_delivery(d.id, next, &message).await?;
        self.stats.retried.get_or_create(label).inc();
        Ok(Outcome::Retried)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_maximum_less_some_jitter() {
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(300);
        for attempts in 0..12 {
            let d = backoff(attempts, base, max);
            let full = (base * (1 << attempts)).min(max);
            assert!(
                d <= full && d >= full.mul_f64(0.8),
                "{attempts}: {d:?} of {full:?}"
            );
        }
        assert!(backoff(1_000, base, max) <= max);
    }
}
