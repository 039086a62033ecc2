//! Slows down password and token guessing without locking out the real owner.
//!
//! Every login attempt (PAPI login, console login, Analyst API key + api_token) takes a
//! turn on three counters: its (address, name) pairing, its name (a user name or an access
//! key), and its address. Once a counter has seen a few failures, turns on it are spaced
//! out (doubling, capped), and attempts *in flight* count as failures until they finish, so
//! guesses sent in parallel queue up behind each other instead of running at once. An
//! attempt whose turn would come later than [`MAX_WAIT`] is refused at once, without
//! checking its secret.
//!
//! A pairing that has logged in successfully is known-good: its attempts skip the name and
//! address counters, so a user is not slowed down by someone guessing their password from
//! elsewhere, and one address (a reverse proxy, a NAT) guessing wrongly does not slow down
//! the other users behind it. State is in memory, bounded, and forgotten after a quiet
//! period.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Delay of the first spaced turn.
const BASE_DELAY: Duration = Duration::from_millis(250);
/// Longest spacing between two turns of one counter.
const MAX_DELAY: Duration = Duration::from_secs(8);
/// An attempt whose turn is further away than this is refused instead of waiting.
pub const MAX_WAIT: Duration = Duration::from_secs(10);
/// Failures are forgotten after this long without one.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// A successful pairing stays known-good this long.
const KNOWN_GOOD_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Counters and known-good pairings kept at most, each.
const MAX_ENTRIES: usize = 100_000;

/// What kind of secret an attempt presents with its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Credential {
    /// A user name with a password.
    User,
    /// A license access key with its API token.
    License,
}

/// The three counters an attempt takes a turn on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Pairing(IpAddr, Credential, String),
    Name(Credential, String),
    Address(IpAddr),
}

impl Key {
    /// Failures a counter allows before its turns are spaced.
    fn free_failures(&self) -> u32 {
        match self {
            Key::Pairing(..) | Key::Name(..) => 3,
            // Many users may share one address (a proxy, a NAT, an office).
            Key::Address(_) => 20,
        }
    }
}

#[derive(Debug)]
struct Counter {
    failures: u32,
    in_flight: u32,
    next_turn: Instant,
    last_failure: Instant,
}

#[derive(Debug, Default)]
struct State {
    counters: HashMap<Key, Counter>,
    known_good: HashMap<(IpAddr, Credential, String), Instant>,
}

/// The failed-attempt counters of the server.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    state: Mutex<State>,
}

/// An attempt refused because its turn is too far away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyAttempts {
    /// When to try again.
    pub retry_after: Duration,
}

impl TooManyAttempts {
    /// What to tell the caller.
    pub fn message(&self) -> String {
        format!(
            "too many failed login attempts for this name; try again in {} s",
            self.retry_after.as_secs().max(1)
        )
    }
}

/// A login attempt holding its turn; report how it ended with [`Attempt::failed`] or
/// [`Attempt::succeeded`] (dropped without either, it only gives up its place in flight).
#[must_use = "report whether the attempt failed or succeeded"]
#[derive(Debug)]
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    pairing: (IpAddr, Credential, String),
    keys: Vec<Key>,
    done: bool,
}

impl LoginThrottle {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a turn for an attempt to log in as `name` from `addr`, waiting for it; refused
    /// when the turn is more than [`MAX_WAIT`] away.
    pub async fn begin(
        &self,
        credential: Credential,
        name: &str,
        addr: IpAddr,
    ) -> Result<Attempt<'_>, TooManyAttempts> {
        let (attempt, wait) = self.reserve(credential, name, addr, Instant::now())?;
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok(attempt)
    }

    /// Reserves the attempt's turn at `now`: the attempt and how long until its turn.
    fn reserve(
        &self,
        credential: Credential,
        name: &str,
        addr: IpAddr,
        now: Instant,
    ) -> Result<(Attempt<'_>, Duration), TooManyAttempts> {
        let name = name.to_lowercase();
        let pairing = (addr, credential, name.clone());
        let mut state = self.lock();
        let known_good = state
            .known_good
            .get(&pairing)
            .is_some_and(|at| now.duration_since(*at) < KNOWN_GOOD_FOR);
        let mut keys = vec![Key::Pairing(addr, credential, name.clone())];
        if !known_good {
            keys.push(Key::Name(credential, name));
            keys.push(Key::Address(addr));
        }
        if state.counters.len() >= MAX_ENTRIES {
            prune(&mut state.counters, now);
        }
        let turn = keys
            .iter()
            .filter_map(|k| state.counters.get(k))
            .filter(|c| !forgotten(c, now))
            .map(|c| c.next_turn.max(now))
            .max()
            .unwrap_or(now);
        let wait = turn.duration_since(now);
        if wait > MAX_WAIT {
            return Err(TooManyAttempts { retry_after: wait });
        }
        for key in &keys {
            let free = key.free_failures();
            let c = state.counters.entry(key.clone()).or_insert(Counter {
                failures: 0,
                in_flight: 0,
                next_turn: now,
                last_failure: now,
            });
            if forgotten(c, now) {
                c.failures = 0;
            }
            // Attempts in flight count as failures until they finish. Each counter keeps
            // its own schedule: a slow name does not slow down its address's other users.
            c.next_turn = c.next_turn.max(now) + spacing(c.failures + c.in_flight, free);
            c.in_flight += 1;
        }
        drop(state);
        Ok((
            Attempt {
                throttle: self,
                pairing,
                keys,
                done: false,
            },
            wait,
        ))
    }
}

impl Attempt<'_> {
    /// The secret was wrong: the failure counts on every counter of the attempt.
    pub fn failed(mut self) {
        self.finish(|c| {
            c.failures = c.failures.saturating_add(1);
            c.last_failure = Instant::now();
        });
    }

    /// The secret was right: the pairing becomes known-good and its and the name's
    /// failures are forgotten (the address's are not: one good account behind an address
    /// does not excuse guessing at others).
    pub fn succeeded(mut self) {
        self.finish(|_| {});
        let mut state = self.throttle.lock();
        let now = Instant::now();
        for key in &self.keys {
            if !matches!(key, Key::Address(_)) {
                if let Some(c) = state.counters.get_mut(key) {
                    c.failures = 0;
                }
            }
        }
        if state.known_good.len() >= MAX_ENTRIES {
            state
                .known_good
                .retain(|_, at| now.duration_since(*at) < KNOWN_GOOD_FOR);
            if state.known_good.len() >= MAX_ENTRIES {
                state.known_good.clear();
            }
        }
        state.known_good.insert(self.pairing.clone(), now);
    }

    fn finish(&mut self, outcome: impl Fn(&mut Counter)) {
        if self.done {
            return;
        }
        self.done = true;
        let mut state = self.throttle.lock();
        for key in &self.keys {
            if let Some(c) = state.counters.get_mut(key) {
                c.in_flight = c.in_flight.saturating_sub(1);
                outcome(c);
            }
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        self.finish(|_| {});
    }
}

fn forgotten(c: &Counter, now: Instant) -> bool {
    c.in_flight == 0 && now.duration_since(c.last_failure) >= FORGET_AFTER
}

/// Drops forgotten counters, then, if still full, those that slow nobody down.
fn prune(counters: &mut HashMap<Key, Counter>, now: Instant) {
    counters.retain(|_, c| !forgotten(c, now));
    if counters.len() >= MAX_ENTRIES {
        counters.retain(|k, c| c.in_flight > 0 || c.failures >= k.free_failures());
    }
}

/// The time between two turns of a counter that has seen `failures` (finished or in
/// flight) after `free` free ones.
fn spacing(failures: u32, free: u32) -> Duration {
    if failures < free {
        return Duration::ZERO;
    }
    let doublings = (failures - free).min(16);
    (BASE_DELAY * 2u32.pow(doublings)).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    fn wait(t: &LoginThrottle, name: &str, addr: IpAddr, now: Instant) -> Duration {
        let (attempt, wait) = t.reserve(Credential::User, name, addr, now).unwrap();
        attempt.failed();
        wait
    }

    /// A wrong guess, or nothing when it is refused unchecked.
    fn guess(t: &LoginThrottle, name: &str, addr: IpAddr, now: Instant) {
        if let Ok((attempt, _)) = t.reserve(Credential::User, name, addr, now) {
            attempt.failed();
        }
    }

    #[test]
    fn sequential_failures_are_spaced_after_the_free_ones() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(wait(&t, "alice", A, now), Duration::ZERO);
        }
        assert_eq!(wait(&t, "alice", A, now), Duration::ZERO);
        // The fourth failure spaced the next turn by the base delay, the fifth by twice.
        assert_eq!(wait(&t, "alice", A, now), Duration::from_millis(250));
        assert_eq!(wait(&t, "alice", A, now), Duration::from_millis(750));
    }

    #[test]
    fn attempts_in_flight_queue_behind_each_other_and_the_far_ones_are_refused() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        let mut held = Vec::new();
        let mut waits = Vec::new();
        let mut refused = 0;
        for _ in 0..100 {
            match t.reserve(Credential::User, "alice", A, now) {
                Ok((attempt, wait)) => {
                    held.push(attempt);
                    waits.push(wait.as_millis());
                }
                Err(e) => {
                    assert!(e.retry_after > MAX_WAIT);
                    refused += 1;
                }
            }
        }
        assert_eq!(waits, [0, 0, 0, 0, 250, 750, 1750, 3750, 7750]);
        assert_eq!(refused, 91);
    }

    #[test]
    fn a_known_good_pairing_is_not_slowed_by_guessing_elsewhere() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        let (ok, _) = t.reserve(Credential::User, "alice", A, now).unwrap();
        ok.succeeded();
        // Someone at B guesses alice's password, and guesses other names at A's address.
        for _ in 0..10 {
            guess(&t, "alice", B, now);
        }
        for i in 0..30 {
            guess(&t, &format!("user{i}"), A, now);
        }
        assert!(t.reserve(Credential::User, "alice", B, now).is_err());
        let (_, w) = t.reserve(Credential::User, "alice", A, now).unwrap();
        assert_eq!(w, Duration::ZERO);
        // A pairing never seen before waits for the name's and the address's counters.
        assert!(t.reserve(Credential::User, "carol", A, now).is_err());
        // The same name as a license key is another counter.
        let (_, w) = t.reserve(Credential::License, "alice", B, now).unwrap();
        assert_eq!(w, Duration::ZERO);
    }

    #[test]
    fn failures_are_forgotten_after_a_quiet_period() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..6 {
            wait(&t, "alice", A, now);
        }
        assert!(wait(&t, "alice", A, now) > Duration::ZERO);
        let later = now + FORGET_AFTER + MAX_DELAY * 4;
        assert_eq!(wait(&t, "alice", A, later), Duration::ZERO);
    }
}
