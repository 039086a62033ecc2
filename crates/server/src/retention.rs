//! Applying each account's retention: at every housekeeping tick, the events older than
//! the account keeps are purged in batches (each its own short transaction, so pushes
//! never wait long behind one), with the incidents they leave empty and the analyses and
//! content nothing refers to any more. Counted in `pushdetect_retention_purged_total`
//! and logged.

use crate::state::AppState;
use pushdetect_store::Purged;

/// Events (and tasks) removed per transaction.
pub const BATCH: u32 = 500;
/// The most batches per account per tick: a large backlog (retention just shortened) is
/// worked off over several ticks instead of in one long burst.
pub const BATCHES_PER_TICK: usize = 40;

/// Purges what every account with a retention keeps no longer.
pub async fn apply(app: &AppState) {
    let accounts = match app.store.list_accounts().await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the accounts' retention");
            return;
        }
    };
    let now = chrono::Utc::now().timestamp_millis();
    for account in accounts {
        let Some(days) = account.retention_days else {
            continue;
        };
        let before = now - days * 86_400_000;
        let mut total = Purged::default();
        for _ in 0..BATCHES_PER_TICK {
            let purged = match app.store.purge_account(account.id, before, BATCH).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(account = %account.name, error = %e, "retention purge failed");
                    break;
                }
            };
            for sha256 in &purged.contents {
                if let Err(e) = app.analysis.content.remove(sha256) {
                    tracing::warn!(%sha256, error = %e, "cannot remove purged content");
                }
            }
            let more = purged.events == u64::from(BATCH) || purged.tasks == u64::from(BATCH);
            total.events += purged.events;
            total.incidents += purged.incidents;
            total.tasks += purged.tasks;
            total.contents.extend(purged.contents);
            if !more {
                break;
            }
        }
        if total != Purged::default() {
            app.metrics.retention_purged(&total);
            tracing::info!(
                account = %account.name,
                days,
                events = total.events,
                incidents = total.incidents,
                tasks = total.tasks,
                contents = total.contents.len(),
                "retention: purged what the account keeps no longer"
            );
        }
    }
}
