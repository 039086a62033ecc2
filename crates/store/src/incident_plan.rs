//! Which incident each new event joins, planned in memory for a whole batch of events.
//!
//! Events about one host form an incident when each is at most the window from the next
//! (see `pushdetect_model::triage`). An event within reach of several incidents joins the
//! earliest one an analyst has acted on ("pinned"), else the earliest, and merges the
//! others that no analyst has acted on into it: an analyst's merge, split or close is
//! never undone by a late event. A closed incident an event joins is reopened, unless
//! the server keeps closed incidents closed: then it is out of reach. Storing a batch of events one statement at a time
//! would cost several round trips per event; instead the store loads the incidents the
//! batch can reach, this plan assigns every event in order (creating, growing and merging
//! incidents exactly as one-at-a-time storage would), and the store writes the outcome in
//! a handful of statements.

use crate::records::{GroupBy, Incident, Status, Workflow};
use std::collections::HashMap;

/// One incident the batch knows: loaded from the store or created by the batch.
#[derive(Debug)]
struct Slot {
    account_id: i64,
    incident: Incident,
    /// Loaded from the store (else created by this batch; its id is assigned at the end).
    stored: bool,
    changed: bool,
    /// Merged into this other slot; no longer exists.
    merged_into: Option<usize>,
    /// Closed when loaded and reopened by this event.
    reopened: Option<(Workflow, i64)>,
}

/// The assignment of a batch's events to incidents, built event by event.
#[derive(Debug, Default)]
pub struct Plan {
    slots: Vec<Slot>,
    /// (account, grouped by, key) → its incidents.
    by_key: HashMap<(i64, GroupBy, String), Vec<usize>>,
    /// (slot, event id)
    memberships: Vec<(usize, i64)>,
}

/// What a finished plan writes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Writes {
    /// New incidents, with their ids, and their accounts.
    pub created: Vec<(i64, Incident)>,
    /// Stored incidents that grew.
    pub updated: Vec<Incident>,
    /// Stored incidents merged into another (from, into): their events move, then they go.
    pub merged: Vec<(i64, i64)>,
    /// (incident id, event id) of each new event and host.
    pub memberships: Vec<(i64, i64)>,
    /// Stored incidents that were closed and are reopened: (account, incident id, the
    /// workflow before, the event that reopened it).
    pub reopened: Vec<(i64, i64, Workflow, i64)>,
}

impl Plan {
    /// A plan starting from stored incidents: every incident of the batch's hosts within
    /// reach of any of its events, with their accounts.
    pub fn new(stored: Vec<(i64, Incident)>) -> Self {
        let mut plan = Plan::default();
        for (account_id, incident) in stored {
            plan.push(Slot {
                account_id,
                incident,
                stored: true,
                changed: false,
                merged_into: None,
                reopened: None,
            });
        }
        plan
    }

    fn push(&mut self, slot: Slot) -> usize {
        let index = self.slots.len();
        self.by_key
            .entry((
                slot.account_id,
                slot.incident.grouped_by,
                slot.incident.host.clone(),
            ))
            .or_default()
            .push(index);
        self.slots.push(slot);
        index
    }

    /// Adds an event of group `key` (a host entity's key, or a grouping rule's): it joins
    /// the incident of that key within `window_ms` of it (see the module's rule), or a new
    /// one. A closed incident is within reach only if `reopen_closed`, and is then reopened.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        account_id: i64,
        (grouped_by, key): (GroupBy, &str),
        event_id: i64,
        occurred_at_ms: i64,
        impact: Option<i64>,
        window_ms: i64,
        reopen_closed: bool,
    ) {
        let lo = occurred_at_ms.saturating_sub(window_ms);
        let hi = occurred_at_ms.saturating_add(window_ms);
        let mut near: Vec<usize> = self
            .by_key
            .get(&(account_id, grouped_by, key.to_owned()))
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| {
                let s = &self.slots[i];
                s.merged_into.is_none()
                    && s.incident.merged_into.is_none()
                    && (reopen_closed || s.incident.workflow.status != Status::Closed)
                    && s.incident.last_ms >= lo
                    && s.incident.first_ms <= hi
            })
            .collect();
        // The store's order: by first event, then id; incidents created here come after
        // stored ones, in order of creation.
        near.sort_by_key(|&i| {
            let s = &self.slots[i];
            (
                s.incident.first_ms,
                !s.stored,
                if s.stored { s.incident.id } else { i as i64 },
            )
        });
        let keep = near
            .iter()
            .copied()
            .find(|&i| self.slots[i].incident.pinned)
            .or(near.first().copied());
        let keep = match keep {
            None => self.push(Slot {
                account_id,
                incident: Incident::opened(grouped_by, key, occurred_at_ms, event_id, impact),
                stored: false,
                changed: true,
                merged_into: None,
                reopened: None,
            }),
            Some(keep) => {
                let mut merged = self.slots[keep].incident.clone();
                merged.first_ms = merged.first_ms.min(occurred_at_ms);
                merged.last_ms = merged.last_ms.max(occurred_at_ms);
                merged.events += 1;
                merged.impact = higher(merged.impact, impact);
                merged.last_event_id = merged.last_event_id.max(event_id);
                for &other in &near {
                    let o = &mut self.slots[other];
                    if other == keep || o.incident.pinned {
                        continue;
                    }
                    o.merged_into = Some(keep);
                    merged.first_ms = merged.first_ms.min(o.incident.first_ms);
                    merged.last_ms = merged.last_ms.max(o.incident.last_ms);
                    merged.events += o.incident.events;
                    merged.impact = higher(merged.impact, o.incident.impact);
                    merged.last_event_id = merged.last_event_id.max(o.incident.last_event_id);
                }
                let k = &mut self.slots[keep];
                if merged.workflow.status == Status::Closed {
                    k.reopened
                        .get_or_insert((merged.workflow.clone(), event_id));
                    merged.workflow = merged.workflow.reopened();
                }
                k.incident = merged;
                k.changed = true;
                keep
            }
        };
        self.memberships.push((keep, event_id));
    }

    /// How many new incidents need an id.
    pub fn new_incidents(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| !s.stored && s.merged_into.is_none())
            .count()
    }

    /// The writes, with `ids` (as many as [`Plan::new_incidents`], ascending) given to
    /// the new incidents in order of creation.
    pub fn finish(mut self, ids: &[i64]) -> Writes {
        let mut ids = ids.iter().copied();
        for s in &mut self.slots {
            if !s.stored && s.merged_into.is_none() {
                s.incident.id = ids.next().unwrap_or_default();
            }
        }
        let last = |mut i: usize| {
            while let Some(next) = self.slots[i].merged_into {
                i = next;
            }
            i
        };
        let mut writes = Writes::default();
        for (i, s) in self.slots.iter().enumerate() {
            match (s.stored, s.merged_into) {
                (true, Some(_)) => writes
                    .merged
                    .push((s.incident.id, self.slots[last(i)].incident.id)),
                (true, None) if s.changed => writes.updated.push(s.incident.clone()),
                (false, None) => writes.created.push((s.account_id, s.incident.clone())),
                _ => {}
            }
        }
        writes.reopened = self
            .slots
            .iter()
            .filter(|s| s.merged_into.is_none())
            .filter_map(|s| {
                let (before, event) = s.reopened.clone()?;
                Some((s.account_id, s.incident.id, before, event))
            })
            .collect();
        writes.memberships = self
            .memberships
            .iter()
            .map(|&(slot, event)| (self.slots[last(slot)].incident.id, event))
            .collect();
        writes
    }
}

/// The higher of two impacts, either of which may be unknown.
pub fn higher(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(id: i64, host: &str, first_ms: i64, last_ms: i64, events: i64) -> (i64, Incident) {
        let mut incident = Incident::opened(GroupBy::Host, host, first_ms, id * 10, Some(10));
        incident.id = id;
        incident.last_ms = last_ms;
        incident.events = events;
        (1, incident)
    }

    #[test]
    fn an_event_far_from_every_incident_opens_one_and_a_near_one_joins_it() {
        // Incident 8 (host g) is loaded but no event reaches it: nothing to write for it.
        let mut plan = Plan::new(vec![stored(7, "h", 0, 100, 2), stored(8, "g", 0, 100, 1)]);
        plan.add(1, (GroupBy::Host, "h"), 50, 10_000, Some(30), 1000, true);
        plan.add(1, (GroupBy::Host, "h"), 51, 10_500, None, 1000, true);
        plan.add(1, (GroupBy::Host, "h"), 52, 150, None, 1000, true);
        plan.add(2, (GroupBy::Host, "h"), 53, 150, None, 1000, true);
        assert_eq!(plan.new_incidents(), 2);
        let w = plan.finish(&[20, 21]);
        assert_eq!(w.memberships, vec![(20, 50), (20, 51), (7, 52), (21, 53)]);
        assert_eq!(w.created[0].1.events, 2);
        assert_eq!(w.created[0].1.impact, Some(30));
        assert_eq!((w.created[1].0, w.created[1].1.host.as_str()), (2, "h"));
        assert_eq!(w.updated.len(), 1, "only the incident that grew is written");
        assert_eq!(w.updated[0].last_ms, 150);
        assert_eq!(w.updated[0].events, 3);
        assert!(w.merged.is_empty());
    }

    #[test]
    fn a_bridging_event_merges_stored_and_new_incidents_into_the_earliest() {
        // Stored 7 at [5000, 5000]; the batch opens one at 2000 (before it), then an event
        // at 3500 reaches both: everything lands in the new one, whose id is given last.
        let mut plan = Plan::new(vec![stored(7, "h", 5000, 5000, 3)]);
        plan.add(1, (GroupBy::Host, "h"), 60, 2000, None, 1000, true);
        plan.add(1, (GroupBy::Host, "h"), 61, 3000, Some(90), 2000, true);
        assert_eq!(plan.new_incidents(), 1);
        let w = plan.finish(&[30]);
        assert_eq!(w.merged, vec![(7, 30)]);
        assert_eq!(w.memberships, vec![(30, 60), (30, 61)]);
        let (_, created) = &w.created[0];
        assert_eq!(
            (created.first_ms, created.last_ms, created.events),
            (2000, 5000, 5)
        );
        assert_eq!(created.impact, Some(90));
        assert!(w.updated.is_empty());
    }

    #[test]
    fn merges_follow_chains_and_a_new_incident_merged_away_needs_no_id() {
        let mut plan = Plan::new(vec![stored(1, "h", 0, 0, 1), stored(2, "h", 3000, 3000, 1)]);
        plan.add(1, (GroupBy::Host, "h"), 70, 6000, None, 1000, true); // new incident N
        plan.add(1, (GroupBy::Host, "h"), 71, 1500, None, 1500, true); // merges 1 and 2 into 1
        plan.add(1, (GroupBy::Host, "h"), 72, 4500, None, 1500, true); // merges N into 1
        assert_eq!(plan.new_incidents(), 0);
        let w = plan.finish(&[]);
        assert_eq!(w.merged, vec![(2, 1)]);
        assert_eq!(w.memberships, vec![(1, 70), (1, 71), (1, 72)]);
        assert_eq!(w.updated.len(), 1);
        assert_eq!((w.updated[0].first_ms, w.updated[0].last_ms), (0, 6000));
        assert_eq!(w.updated[0].events, 5);
    }

    #[test]
    fn one_key_under_two_rules_is_two_groups() {
        // A mailbox that is both a recipient (host) and a sender (rule) of the same account.
        let mut plan = Plan::new(vec![stored(7, "x@corp.example", 0, 100, 1)]);
        plan.add(
            1,
            (GroupBy::MailSender, "x@corp.example"),
            50,
            100,
            None,
            1000,
            true,
        );
        plan.add(
            1,
            (GroupBy::Host, "x@corp.example"),
            51,
            100,
            None,
            1000,
            true,
        );
        let w = plan.finish(&[8]);
        assert_eq!(w.memberships, vec![(8, 50), (7, 51)]);
        assert_eq!(w.created[0].1.grouped_by, GroupBy::MailSender);
    }

    fn pinned(mut stored: (i64, Incident), status: Status) -> (i64, Incident) {
        stored.1.pinned = true;
        stored.1.workflow.status = status;
        if status == Status::Closed {
            stored.1.workflow.resolution = Some(crate::records::Resolution::Benign);
            stored.1.workflow.reason = Some("scan".into());
        }
        stored.1.workflow.assignee = Some(3);
        stored
    }

    #[test]
    fn an_incident_an_analyst_acted_on_takes_the_event_and_is_never_merged_away() {
        // 1 (earliest, untouched), 2 (acknowledged by an analyst), 3 (split off by one):
        // an event reaching all three joins 2, merges 1 into it and leaves 3 alone.
        let mut plan = Plan::new(vec![
            stored(1, "h", 0, 0, 1),
            pinned(stored(2, "h", 1000, 1000, 2), Status::Acknowledged),
            pinned(stored(3, "h", 2000, 2000, 1), Status::New),
        ]);
        plan.add(1, (GroupBy::Host, "h"), 80, 1000, Some(50), 5000, true);
        let w = plan.finish(&[]);
        assert_eq!(w.merged, vec![(1, 2)]);
        assert_eq!(w.memberships, vec![(2, 80)]);
        assert_eq!(w.updated.len(), 1);
        let two = &w.updated[0];
        assert_eq!((two.id, two.first_ms, two.events), (2, 0, 4));
        assert_eq!(two.last_event_id, 80);
        assert_eq!(two.workflow.status, Status::Acknowledged);
        assert!(w.reopened.is_empty());
    }

    #[test]
    fn a_closed_incident_is_reopened_by_an_event_or_left_closed_out_of_reach() {
        let closed = || pinned(stored(5, "h", 1000, 1000, 1), Status::Closed);
        let mut plan = Plan::new(vec![closed()]);
        plan.add(1, (GroupBy::Host, "h"), 90, 1500, None, 1000, true);
        plan.add(1, (GroupBy::Host, "h"), 91, 1600, None, 1000, true);
        let w = plan.finish(&[]);
        assert_eq!(w.memberships, vec![(5, 90), (5, 91)]);
        let reopened = &w.updated[0];
        assert_eq!(reopened.workflow, closed().1.workflow.reopened());
        assert_eq!(reopened.last_event_id, 91);
        // Recorded once, with the state before and the first event that reopened it.
        assert_eq!(w.reopened, vec![(1, 5, closed().1.workflow, 90)]);

        let mut plan = Plan::new(vec![closed()]);
        plan.add(1, (GroupBy::Host, "h"), 92, 1500, None, 1000, false);
        assert_eq!(plan.new_incidents(), 1);
        let w = plan.finish(&[6]);
        assert_eq!(w.memberships, vec![(6, 92)]);
        assert!(w.updated.is_empty() && w.reopened.is_empty());
        assert_eq!(w.created[0].1.workflow.status, Status::New);
    }
}
