//! What every push reads, kept in memory: live sessions, sensors and the license of each
//! analysis task.
//!
//! Each push looks up its session and its sensor, and a file download the task it names;
//! read from the database every time, these lookups cost more than storing the event.
//! Entries live for [`TTL`] at most. A change made through this store (disabling a user,
//! license, sensor or account, rotating a token, ending a session) empties the cache at
//! once, so it takes effect on this node immediately; another node sharing the database,
//! or an `admin` command run beside a server, is seen within [`TTL`].
//!
//! A lookup that started before a change never stores its (possibly stale) answer after
//! it: each change advances a generation, and answers are kept only when the generation
//! they were read under is still current.

use crate::records::{Sensor, Session};
use moka::sync::Cache;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

/// How long an entry is trusted: the longest a change made elsewhere goes unseen.
pub const TTL: Duration = Duration::from_secs(2);

/// A task's license never changes, so it is kept longer (bounded by [`CAPACITY`]).
const TASK_TTL: Duration = Duration::from_secs(600);

/// Entries per kind: enough for every sensor of a large deployment.
const CAPACITY: u64 = 100_000;

/// The cached lookups of one store.
pub(crate) struct Lookups {
    /// Live sessions by id hash.
    pub sessions: Cache<String, Session>,
    /// Sensors by (access key, subkey).
    pub sensors_by_key: Cache<(String, String), Sensor>,
    /// Sensors by subkey_id.
    pub sensors_by_id: Cache<i64, Sensor>,
    /// The license (key_id) of each analysis task, by uuid.
    pub task_licenses: Cache<String, i64>,
    generation: Mutex<u64>,
}

impl std::fmt::Debug for Lookups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lookups").finish_non_exhaustive()
    }
}

impl Default for Lookups {
    fn default() -> Self {
        fn cache<K, V>(ttl: Duration) -> Cache<K, V>
        where
            K: Hash + Eq + Send + Sync + 'static,
            V: Clone + Send + Sync + 'static,
        {
            Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl)
                .build()
        }
        Lookups {
            sessions: cache(TTL),
            sensors_by_key: cache(TTL),
            sensors_by_id: cache(TTL),
            task_licenses: cache(TASK_TTL),
            generation: Mutex::new(0),
        }
    }
}

impl Lookups {
    /// The current generation, to read under.
    pub fn generation(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `value` under `key` if nothing changed since `generation` was read.
    pub fn keep<K, V>(&self, cache: &Cache<K, V>, generation: u64, key: K, value: V)
    where
        K: Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        let current = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        if *current == generation {
            cache.insert(key, value);
        }
    }

    /// Forgets every session and sensor: a credential changed. (Task licenses do not
    /// change.)
    pub fn credentials_changed(&self) {
        let mut current = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        *current += 1;
        self.sessions.invalidate_all();
        self.sensors_by_key.invalidate_all();
        self.sensors_by_id.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookup_read_before_a_credentials_change_is_not_kept() {
        let lookups = Lookups::default();
        assert_eq!(format!("{lookups:?}"), "Lookups { .. }");
        let read_at = lookups.generation();
        lookups.keep(&lookups.task_licenses, read_at, "t1".to_owned(), 1);
        assert_eq!(lookups.task_licenses.get("t1"), Some(1), "kept");
        lookups.credentials_changed();
        lookups.credentials_changed();
        assert_eq!(lookups.generation(), read_at + 2);
        // Read before the change, answered after it: not kept (it may be stale).
        lookups.keep(&lookups.task_licenses, read_at, "t2".to_owned(), 2);
        assert_eq!(lookups.task_licenses.get("t2"), None, "stale, not kept");
        lookups.keep(
            &lookups.task_licenses,
            lookups.generation(),
            "t3".to_owned(),
            3,
        );
        assert_eq!(lookups.task_licenses.get("t3"), Some(3));
    }
}
