//! Slows down repeated failed logins for one user name or from one address.
//!
//! After a few failures each further attempt waits longer (doubling, capped), so guessing
//! passwords or tokens gets slow without locking the real user out. State is in memory and
//! forgotten after a quiet period.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before attempts are delayed.
const FREE_FAILURES: u32 = 3;
/// Delay after the first counted failure.
const BASE_DELAY: Duration = Duration::from_millis(250);
/// Longest delay.
const MAX_DELAY: Duration = Duration::from_secs(8);
/// Failures are forgotten after this long without one.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Entries kept at most (oldest forgotten first when full).
const MAX_ENTRIES: usize = 100_000;

/// Failure counts per key (a user name, an access key or a client address).
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

/// The throttle keys of a login attempt: its login name and its peer address.
pub fn login_keys(login_name: &str, peer: std::net::IpAddr) -> [String; 2] {
    [
        format!("login:{}", login_name.to_lowercase()),
        format!("ip:{peer}"),
    ]
}

impl LoginThrottle {
    /// Waits out the delay the earlier failures of these keys call for.
    pub async fn pause(&self, keys: &[&str]) {
        let delay = self.delay(keys);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }

    /// How long an attempt with these keys must wait first.
    pub fn delay(&self, keys: &[&str]) -> Duration {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        keys.iter()
            .filter_map(|k| map.get(*k))
            .filter(|(_, at)| at.elapsed() < FORGET_AFTER)
            .map(|(n, _)| delay_for(*n))
            .max()
            .unwrap_or_default()
    }

    /// Records a failed attempt.
    pub fn failed(&self, keys: &[&str]) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, (_, at)| at.elapsed() < FORGET_AFTER);
        }
        for k in keys {
            let entry = map.entry((*k).to_owned()).or_insert((0, Instant::now()));
            if entry.1.elapsed() >= FORGET_AFTER {
                entry.0 = 0;
            }
            entry.0 += 1;
            entry.1 = Instant::now();
        }
    }

    /// Forgets the failures of a key after a successful login.
    pub fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

fn delay_for(failures: u32) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (failures - FREE_FAILURES).min(16);
    (BASE_DELAY * 2u32.pow(doublings)).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_free_failures_and_reset_on_success() {
        let t = LoginThrottle::default();
        for _ in 0..FREE_FAILURES - 1 {
            t.failed(&["u"]);
        }
        assert_eq!(t.delay(&["u"]), Duration::ZERO);
        t.failed(&["u"]);
        assert_eq!(t.delay(&["u"]), BASE_DELAY);
        t.failed(&["u"]);
        assert_eq!(t.delay(&["u", "other"]), BASE_DELAY * 2);
        for _ in 0..20 {
            t.failed(&["u"]);
        }
        assert_eq!(t.delay(&["u"]), MAX_DELAY);
        t.succeeded("u");
        assert_eq!(t.delay(&["u"]), Duration::ZERO);
    }
}
