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

/// Ties and renames of a batch, resolved event by event.
#[derive(Debug, Default)]
pub struct Identities {
    /// (account, identifier) → entity key, as loaded and as the batch changed it.
    bound: HashMap<(i64, String), String>,
    /// (account, entity key) → the key it was renamed to (when entities were tied).
    renamed: HashMap<(i64, String), String>,
    /// (account, identifier) → (entity key when last tied, last seen ms): the ties to write.
    seen: HashMap<(i64, String), (String, i64)>,
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
    /// entity key).
    pub fn new(stored: impl IntoIterator<Item = (i64, String, String)>) -> Self {
        Identities {
            bound: stored
                .into_iter()
                .map(|(account, identifier, entity)| ((account, identifier), entity))
                .collect(),
            ..Identities::default()
        }
    }

    /// The key an entity is known by now (after the renames so far).
    pub fn current(&self, account: i64, key: &str) -> String {
        let mut key = key.to_owned();
        while let Some(next) = self.renamed.get(&(account, key.clone())) {
            key = next.clone();
        }
        key
    }

    /// The entity an identifier belongs to now, if any.
    fn entity_of(&self, account: i64, identifier: &str) -> Option<String> {
        self.bound
            .get(&(account, identifier.to_owned()))
            .map(|e| self.current(account, e))
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
                .filter_map(|n| self.entity_of(account, n))
                .collect();
            entities.extend(
                addresses
                    .iter()
                    .filter_map(|a| self.entity_of(account, a))
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
        for id in identifiers {
            let tied = self.entity_of(account, id);
            if tied.is_some() && names.is_empty() && is_address(id) {
                self.seen
                    .insert((account, id.clone()), (tied.unwrap_or_default(), seen_ms));
                continue;
            }
            self.bound.insert((account, id.clone()), key.clone());
            self.seen
                .insert((account, id.clone()), (key.clone(), seen_ms));
        }
        key
    }

    /// The writes: every rename with its final key, and every tie named, with its entity's
    /// final key.
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
            .map(|((account, id), (entity, ms))| {
                (*account, id.clone(), self.current(*account, entity), *ms)
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
        assert!(w.renamed.is_empty());
        assert_eq!(w.ties.len(), 5);
        assert!(w.ties.contains(&(1, "fe80::5".into(), key.clone(), 10)));
        assert!(w.ties.contains(&(1, "10.0.0.5".into(), key, 9)));
    }

    #[test]
    fn an_address_only_entity_is_taken_into_the_name_it_is_first_seen_with() {
        let stored = vec![(1, "10.0.0.7".to_owned(), "10.0.0.7".to_owned())];
        let mut ids_ = Identities::new(stored);
        assert_eq!(ids_.resolve(1, &ids(&["10.0.0.7"]), 1), "10.0.0.7");
        assert_eq!(ids_.resolve(1, &ids(&["10.0.0.7", "pc7"]), 2), "pc7");
        assert_eq!(ids_.current(1, "10.0.0.7"), "pc7");
        let w = ids_.finish();
        assert_eq!(w.renamed, vec![(1, "10.0.0.7".into(), "pc7".into())]);
        assert!(w.ties.contains(&(1, "10.0.0.7".into(), "pc7".into(), 2)));
    }

    #[test]
    fn a_leased_address_moves_to_its_new_machine_and_never_ties_two_machines() {
        let stored = vec![
            (1, "10.0.0.9".to_owned(), "pc-a".to_owned()),
            (1, "pc-a".to_owned(), "pc-a".to_owned()),
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
            (1, "ws1".to_owned(), "ws1".to_owned()),
            (1, "10.0.0.1".to_owned(), "ws1".to_owned()),
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
}
