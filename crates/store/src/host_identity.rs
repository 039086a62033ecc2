//! Which host entity each machine an event names belongs to: the rule that ties the
//! identifiers of one machine together.
//!
//! An event names a machine by one or more identifiers (an IOC check: its IPv4 and IPv6
//! addresses, host name and NetBIOS name; a download: its address and, if the sensor knew
//! it, its name). The store keeps, per account, which entity each identifier belongs to;
//! an entity is known by its key, its preferred identifier ([`preferred`]), which its
//! incidents carry as their host. For each machine of each event, in order:
//!
//! - **Names are for good.** A host name, NetBIOS name or mailbox belongs to one entity
//!   forever: an event naming two names of different entities ties those entities into
//!   one (the preferred key stays; the other entity's identifiers and incidents take it).
//! - **Addresses are leases.** An address belongs to the entity of the names it was last
//!   seen with: seen with another machine's name (DHCP gave it to someone else), it moves
//!   to that machine, and the earlier machine's incidents stay where they are. An entity
//!   known only by addresses (never seen with a name) is taken into the entity of the
//!   first name its address is seen with, incidents and all.
//! - **Addresses alone decide nothing.** An event naming only addresses joins the entity
//!   of the first address that has one, and ties the unknown ones to it; it never ties two
//!   known entities together.
//!
//! The whole batch is resolved in memory from the ties of its identifiers (loaded by the
//! store), then the store writes the new ties and renames in a few statements.

use pushdetect_model::triage::HostKind;
use std::cmp::Reverse;
use std::collections::HashMap;

/// A stored tie's "last seen" is moved forward at most this often (ms): a busy machine
/// costs one write per identifier per interval, not one per event.
pub const TOUCH_MS: i64 = 5 * 60 * 1000;

/// Ties and renames of a batch, resolved event by event.
///
/// An identifier no stored tie names is an entity of its own, keyed by itself; such an
/// identifier seen alone needs no row. A tie is written when it is new and names another
/// identifier (or was seen with others), when its entity changes, or when its "last seen"
/// is [`TOUCH_MS`] old.
#[derive(Debug, Default)]
pub struct Identities {
    /// (account, identifier) → entity key, as loaded and as the batch changed it.
    bound: HashMap<(i64, String), String>,
    /// (account, identifier) → (entity key, last seen ms), as stored.
    stored: HashMap<(i64, String), (String, i64)>,
    /// (account, entity key) → the key it was renamed to (when entities were tied).
    renamed: HashMap<(i64, String), String>,
    /// (account, identifier) → (entity key when last tied, last seen ms, seen with other
    /// identifiers): the ties that may need writing.
    seen: HashMap<(i64, String), (String, i64, bool)>,
}

/// What a resolved batch writes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct IdentityWrites {
    /// (account, old key, new key): entities taken into another, their identifiers and
    /// incidents renamed.
    pub renamed: Vec<(i64, String, String)>,
    /// (account, identifier, entity key, seen ms): every identifier the batch named.
    pub ties: Vec<(i64, String, String, i64)>,
}

/// Whether an identifier is an address (a lease) rather than a name.
fn is_address(identifier: &str) -> bool {
    HostKind::of(identifier) == HostKind::Address
}

/// The key an entity is known by, among candidates: a name before a mailbox before an
/// address; the longer (a fully qualified name before a short one); then the first in
/// order. Total, so the same set always gives the same key.
pub fn preferred<'a>(candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let rank = |id: &str| match HostKind::of(id) {
        HostKind::Name => 0,
        HostKind::Mailbox => 1,
        HostKind::Address => 2,
    };
    candidates
        .into_iter()
        .min_by_key(|id| (rank(id), Reverse(id.len()), *id))
}

impl Identities {
    /// Starts from the stored ties of the batch's identifiers: (account, identifier,
    /// entity key, last seen ms).
    pub fn new(stored: impl IntoIterator<Item = (i64, String, String, i64)>) -> Self {
        let mut identities = Identities::default();
        for (account, identifier, entity, last_seen_ms) in stored {
            let at = (account, identifier);
            identities.bound.insert(at.clone(), entity.clone());
            identities.stored.insert(at, (entity, last_seen_ms));
        }
        identities
    }

    /// The key an entity is known by now (after the renames so far).
    pub fn current(&self, account: i64, key: &str) -> String {
        let mut key = key.to_owned();
        while let Some(next) = self.renamed.get(&(account, key.clone())) {
            key = next.clone();
        }
        key
    }

    /// The entity an identifier is tied to now, if any.
    fn entity_of(&self, account: i64, identifier: &str) -> Option<String> {
        self.bound
            .get(&(account, identifier.to_owned()))
            .map(|e| self.current(account, e))
    }

    /// The entity an identifier belongs to now: its tie's, else its own.
    fn entity_or_self(&self, account: i64, identifier: &str) -> String {
        self.entity_of(account, identifier)
            .unwrap_or_else(|| self.current(account, identifier))
    }

    /// Resolves one machine of an event seen at `seen_ms`, named by `identifiers` (not
    /// empty): ties them as the module's rule says and answers its entity's key.
    pub fn resolve(&mut self, account: i64, identifiers: &[String], seen_ms: i64) -> String {
        let (addresses, names): (Vec<&String>, Vec<&String>) =
            identifiers.iter().partition(|id| is_address(id));
        let key = if names.is_empty() {
            // Addresses alone: the first one's entity, else a new one.
            addresses
                .iter()
                .find_map(|a| self.entity_of(account, a))
                .or_else(|| preferred(addresses.iter().map(|a| a.as_str())).map(str::to_owned))
                .unwrap_or_default()
        } else {
            // The entities of the names, and the address-only entities of the addresses.
            let mut entities: Vec<String> = names
                .iter()
                .map(|n| self.entity_or_self(account, n))
                .collect();
            entities.extend(
                addresses
                    .iter()
                    .map(|a| self.entity_or_self(account, a))
                    .filter(|e| is_address(e)),
            );
            entities.sort();
            entities.dedup();
            let key = preferred(
                entities
                    .iter()
                    .map(String::as_str)
                    .chain(names.iter().map(|n| n.as_str())),
            )
            .unwrap_or_default()
            .to_owned();
            for e in entities {
                if e != key {
                    self.renamed.insert((account, e), key.clone());
                }
            }
            key
        };
        // Addresses already tied elsewhere move only with names (a lease changing hands).
        let multi = identifiers.len() > 1;
        for id in identifiers {
            let at = (account, id.clone());
            let entity = match self.entity_of(account, id) {
                Some(tied) if names.is_empty() && is_address(id) => tied,
                _ => {
                    self.bound.insert(at.clone(), key.clone());
                    key.clone()
                }
            };
            let was_multi = self.seen.get(&at).is_some_and(|s| s.2);
            self.seen.insert(at, (entity, seen_ms, multi || was_multi));
        }
        key
    }

    /// The writes: every rename with its final key, and every tie to write (see
    /// [`Identities`]), with its entity's final key.
    pub fn finish(self) -> IdentityWrites {
        let mut renamed: Vec<(i64, String, String)> = self
            .renamed
            .keys()
            .map(|(account, old)| (*account, old.clone(), self.current(*account, old)))
            .collect();
        renamed.sort();
        let mut ties: Vec<(i64, String, String, i64)> = self
            .seen
            .iter()
            .filter_map(|((account, id), (entity, ms, multi))| {
                let entity = self.current(*account, entity);
                let write = match self.stored.get(&(*account, id.clone())) {
                    Some((stored, last)) => {
                        self.current(*account, stored) != entity
                            || *ms >= last.saturating_add(TOUCH_MS)
                    }
                    None => *multi || entity != *id,
                };
                write.then(|| (*account, id.clone(), entity, *ms))
            })
            .collect();
        ties.sort();
        IdentityWrites { renamed, ties }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_preferred_key_is_a_name_then_the_longest_then_the_first() {
        assert_eq!(
            preferred(["10.0.0.5", "ws1", "ws1.corp.example", "a@corp.example"]),
            Some("ws1.corp.example")
        );
        assert_eq!(
            preferred(["10.0.0.5", "a@corp.example"]),
            Some("a@corp.example")
        );
        assert_eq!(preferred(["10.0.0.5", "10.0.0.40"]), Some("10.0.0.40"));
        assert_eq!(preferred(["ws2", "ws1"]), Some("ws1"));
        assert_eq!(preferred([]), None);
    }

    #[test]
    fn one_event_ties_every_identifier_of_its_machine() {
        let mut ids_ = Identities::default();
        let key = ids_.resolve(
            1,
            &ids(&["10.0.0.5", "fe80::5", "ws5", "ws5.corp.example"]),
            9,
        );
        assert_eq!(key, "ws5.corp.example");
        // Later events naming it by any one identifier join it; other accounts do not.
        assert_eq!(ids_.resolve(1, &ids(&["fe80::5"]), 10), key);
        assert_eq!(ids_.resolve(1, &ids(&["ws5"]), 11), key);
        assert_eq!(ids_.resolve(2, &ids(&["ws5"]), 11), "ws5");
        let w = ids_.finish();
        // Each identifier was an entity of its own (with whatever incidents it had).
        assert_eq!(
            w.renamed,
            vec![
                (1, "10.0.0.5".into(), key.clone()),
                (1, "fe80::5".into(), key.clone()),
                (1, "ws5".into(), key.clone()),
            ]
        );
        // Account 2's ws5, seen alone and tied to nothing, needs no row.
        assert_eq!(w.ties.len(), 4);
        assert!(w.ties.contains(&(1, "fe80::5".into(), key.clone(), 10)));
        assert!(w.ties.contains(&(1, "10.0.0.5".into(), key, 9)));
    }

    #[test]
    fn an_address_only_entity_is_taken_into_the_name_it_is_first_seen_with() {
        let stored = vec![(1, "10.0.0.7".to_owned(), "10.0.0.7".to_owned(), 0)];
        let mut ids_ = Identities::new(stored);
        assert_eq!(ids_.resolve(1, &ids(&["10.0.0.7"]), 1), "10.0.0.7");
        assert_eq!(ids_.resolve(1, &ids(&["10.0.0.7", "pc7"]), 2), "pc7");
        assert_eq!(ids_.current(1, "10.0.0.7"), "pc7");
        let w = ids_.finish();
        assert_eq!(w.renamed, vec![(1, "10.0.0.7".into(), "pc7".into())]);
        // The address's tie follows the rename; pc7's is new.
        assert_eq!(w.ties, vec![(1, "pc7".into(), "pc7".into(), 2)]);
    }

    #[test]
    fn a_leased_address_moves_to_its_new_machine_and_never_ties_two_machines() {
        let stored = vec![
            (1, "10.0.0.9".to_owned(), "pc-a".to_owned(), 0),
            (1, "pc-a".to_owned(), "pc-a".to_owned(), 0),
        ];
        let mut ids_ = Identities::new(stored);
        // Alone, the address is still pc-a's.
        assert_eq!(ids_.resolve(1, &ids(&["10.0.0.9"]), 1), "pc-a");
        // Seen with pc-b's name, it moves to pc-b; pc-a keeps its name and incidents.
        assert_eq!(ids_.resolve(1, &ids(&["10.0.0.9", "pc-b"]), 2), "pc-b");
        assert_eq!(ids_.resolve(1, &ids(&["10.0.0.9"]), 3), "pc-b");
        assert_eq!(ids_.resolve(1, &ids(&["pc-a"]), 4), "pc-a");
        // Addresses alone tie the unknown ones to the first known one, nothing more.
        assert_eq!(ids_.resolve(1, &ids(&["10.0.0.9", "fe80::9"]), 5), "pc-b");
        let w = ids_.finish();
        assert!(w.renamed.is_empty());
        assert!(w.ties.contains(&(1, "10.0.0.9".into(), "pc-b".into(), 5)));
        assert!(w.ties.contains(&(1, "fe80::9".into(), "pc-b".into(), 5)));
    }

    #[test]
    fn two_names_tie_their_entities_under_the_preferred_key_through_chains() {
        let stored = vec![
            (1, "ws1".to_owned(), "ws1".to_owned(), 0),
            (1, "10.0.0.1".to_owned(), "ws1".to_owned(), 0),
        ];
        let mut ids_ = Identities::new(stored);
        // A NetBIOS name first seen alone, then with the full name: one entity.
        assert_eq!(ids_.resolve(1, &ids(&["ws1-nb"]), 1), "ws1-nb");
        assert_eq!(ids_.resolve(1, &ids(&["ws1", "ws1-nb"]), 2), "ws1-nb");
        assert_eq!(
            ids_.resolve(1, &ids(&["ws1", "ws1.corp.example"]), 3),
            "ws1.corp.example"
        );
        assert_eq!(ids_.resolve(1, &ids(&["10.0.0.1"]), 4), "ws1.corp.example");
        let w = ids_.finish();
        assert_eq!(
            w.renamed,
            vec![
                (1, "ws1".into(), "ws1.corp.example".into()),
                (1, "ws1-nb".into(), "ws1.corp.example".into()),
            ]
        );
        assert!(w
            .ties
            .iter()
            .all(|(_, _, entity, _)| entity == "ws1.corp.example"));
    }

    #[test]
    fn an_identifier_seen_alone_is_its_own_entity_and_a_later_name_takes_its_incidents() {
        let mut ids_ = Identities::default();
        assert_eq!(ids_.resolve(1, &ids(&["10.0.0.3"]), 1), "10.0.0.3");
        assert_eq!(ids_.resolve(1, &ids(&["ws3"]), 1), "ws3");
        let w = ids_.finish();
        assert_eq!(w, IdentityWrites::default(), "nothing to write");
        // Stored incidents of 10.0.0.3 and of ws3 (no ties): both join ws3.corp.example.
        let mut ids_ = Identities::default();
        let key = ids_.resolve(1, &ids(&["10.0.0.3", "ws3", "ws3.corp.example"]), 2);
        assert_eq!(key, "ws3.corp.example");
        let w = ids_.finish();
        assert_eq!(
            w.renamed,
            vec![
                (1, "10.0.0.3".into(), key.clone()),
                (1, "ws3".into(), key.clone()),
            ]
        );
        assert_eq!(w.ties.len(), 3);
    }

    #[test]
    fn a_known_tie_is_written_when_it_changes_or_its_last_seen_is_old() {
        let stored = vec![
            (1, "10.0.0.4".to_owned(), "ws4".to_owned(), 1_000),
            (1, "ws4".to_owned(), "ws4".to_owned(), 1_000),
        ];
        let mut ids_ = Identities::new(stored.clone());
        ids_.resolve(1, &ids(&["10.0.0.4"]), 1_000 + TOUCH_MS - 1);
        assert!(
            ids_.finish().ties.is_empty(),
            "seen just now: nothing to write"
        );
        let mut ids_ = Identities::new(stored);
        ids_.resolve(1, &ids(&["10.0.0.4"]), 1_000 + TOUCH_MS);
        ids_.resolve(1, &ids(&["ws4", "ws4-nb"]), 1_001);
        assert_eq!(
            ids_.finish().ties,
            // ws4's own tie follows the rename (written by it), seen too recently to touch.
            vec![
                (1, "10.0.0.4".into(), "ws4-nb".into(), 1_000 + TOUCH_MS),
                (1, "ws4-nb".into(), "ws4-nb".into(), 1_001),
            ]
        );
        assert_eq!(TOUCH_MS, 300_000);
    }
}
