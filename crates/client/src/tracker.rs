//! Waiting for many analyses at once, as Lastline's `SubmissionTracker` does: one poller
//! reads `completed` (with scores) from the server's clock, continuing each poll from the
//! previous answer's `before`, and hands each finished task's score to whoever waits for
//! it. Results arrive as tasks finish: the poller polls again at once while it makes
//! progress, and backs off (20 ms doubling to 500 ms) only while nothing finishes; a new
//! waiter wakes it.
//!
//! A task can finish before its waiter registers (the submission's answer and the poll
//! race): scores seen in the last two minutes are kept for such late waiters.

use crate::analyst::AnalystClient;
use crate::error::ClientError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, Notify};

/// How long a score nobody waited for is kept for a late waiter.
const KEEP_UNCLAIMED: Duration = Duration::from_secs(120);
/// The shortest and longest pause between polls that found nothing.
const PAUSE_MIN: Duration = Duration::from_millis(20);
const PAUSE_MAX: Duration = Duration::from_millis(500);
/// How long polls may fail in a row before the waiters are told.
const FAILING_FOR: Duration = Duration::from_secs(30);

/// What a waiter receives: the score, or why there will be none.
type Outcome = Result<i64, String>;

#[derive(Default)]
struct State {
    waiting: HashMap<String, Vec<oneshot::Sender<Outcome>>>,
    recent: HashMap<String, (i64, Instant)>,
}

struct Shared {
    state: Mutex<State>,
}

/// Waits for analysis tasks of one Analyst API session to finish. Dropping it stops its
/// poller.
pub struct Tracker {
    shared: Arc<Shared>,
    /// Wakes the poller when a waiter comes.
    wake: Arc<Notify>,
}

impl Tracker {
    /// Reads the server clock (before anything is submitted, so nothing is missed) and
    /// starts the poller.
    pub async fn start(client: Arc<AnalystClient>) -> Result<Tracker, ClientError> {
        let after = client.server_clock().await?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
        });
        let wake = Arc::new(Notify::new());
        tokio::spawn(poll(client, Arc::downgrade(&shared), wake.clone(), after));
        Ok(Tracker { shared, wake })
    }

    /// The score of task `uuid` once it is finished, waiting at most `timeout`.
    pub async fn wait(&self, uuid: &str, timeout: Duration) -> Result<i64, ClientError> {
        let receiver = {
            let mut state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((score, _)) = state.recent.remove(uuid) {
                return Ok(score);
            }
            let (sender, receiver) = oneshot::channel();
            state
                .waiting
                .entry(uuid.to_owned())
                .or_default()
                .push(sender);
            receiver
        };
        self.wake.notify_one();
        match tokio::time::timeout(timeout, receiver).await {
            Ok(Ok(Ok(score))) => Ok(score),
            Ok(Ok(Err(why))) => Err(ClientError::Communication(why)),
            Ok(Err(_)) => Err(ClientError::Communication(
                "the completion poller stopped".into(),
            )),
            Err(_) => {
                let mut state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(list) = state.waiting.get_mut(uuid) {
                    list.retain(|s| !s.is_closed());
                    if list.is_empty() {
                        state.waiting.remove(uuid);
                    }
                }
                Err(ClientError::Timeout(format!(
                    "analysis task {uuid} not finished after {} s",
                    timeout.as_secs()
                )))
            }
        }
    }
}

/// The poller: runs until the tracker is dropped.
async fn poll(
    client: Arc<AnalystClient>,
    shared: Weak<Shared>,
    wake: Arc<Notify>,
    mut after: String,
) {
    let mut pause = PAUSE_MIN;
    let mut failing_since: Option<Instant> = None;
    loop {
        let Some(s) = shared.upgrade() else { return };
        let idle = s
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .waiting
            .is_empty();
        if idle {
            // Nothing to wait for: sleep until a waiter comes (waking now and then to
            // notice the tracker was dropped). The next poll continues from `after`, so
            // what finished meanwhile is read then.
            drop(s);
            let _ = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
            pause = PAUSE_MIN;
            continue;
        }
        let progressed = match client.completed(&after).await {
            Ok(page) => {
                failing_since = None;
                let mut state = s.state.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                let mut progressed = page.more;
                for (uuid, score) in page.tasks {
                    match state.waiting.remove(&uuid) {
                        Some(waiters) => {
                            progressed = true;
                            for w in waiters {
                                let _ = w.send(Ok(score));
                            }
                        }
                        None => {
                            state.recent.insert(uuid, (score, now));
                        }
                    }
                }
                state
                    .recent
                    .retain(|_, (_, seen)| now.duration_since(*seen) < KEEP_UNCLAIMED);
                after = page.before;
                progressed
            }
            Err(e) => {
                let since = *failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= FAILING_FOR {
                    let mut state = s.state.lock().unwrap_or_else(|e| e.into_inner());
                    for (_, waiters) in state.waiting.drain() {
                        for w in waiters {
                            let _ = w.send(Err(format!("polling for results failed: {e}")));
                        }
                    }
                    failing_since = None;
                }
                false
            }
        };
        if progressed {
            pause = PAUSE_MIN;
            continue;
        }
        drop(s);
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = wake.notified() => {}
        }
        pause = (pause * 2).min(PAUSE_MAX);
    }
}
