//! How an analyst triages events: what the reporting tool did about it (its action), how
//! bad it is (its impact, 0-100), and what kind of host it is about.
//!
//! The impact of an event is the highest of:
//! - the score of every analysis task it refers to (known once the task completes);
//! - for an IOC result, its `match_confidence` when `ioc_matched` is true (0 otherwise);
//! - for a mail, what the gateway did: [`BLOCK_IMPACT`] for a block, [`WARN_IMPACT`] for a
//!   warning, nothing for LOG.
//!
//! A file download's impact is unknown until its task is scored. An incident's impact is
//! the highest impact of its events.

use crate::values::ItemAction;
use std::net::IpAddr;

/// The impact a mail gateway's BLOCK stands for: the gateway judged it malicious.
pub const BLOCK_IMPACT: u8 = 80;
/// The impact a mail gateway's WARN stands for: the gateway judged it suspicious.
pub const WARN_IMPACT: u8 = 50;
/// Events at or above this impact are "high impact" (the dashboard lists them).
pub const HIGH_IMPACT: u8 = 70;

/// The actions a tool reports, weakest first.
pub const ACTIONS: [ItemAction; 3] = [ItemAction::Log, ItemAction::Warn, ItemAction::Block];

fn rank(action: ItemAction) -> u8 {
    match action {
        ItemAction::Log => 0,
        ItemAction::Warn => 1,
        ItemAction::Block => 2,
    }
}

/// The strongest of these actions (a tool that reports several: a mail and each of its
/// attachments and URLs).
pub(crate) fn strongest(actions: impl Iterator<Item = ItemAction>) -> Option<ItemAction> {
    actions.max_by_key(|a| rank(*a))
}

/// The impact a gateway's strongest action stands for: [`BLOCK_IMPACT`], [`WARN_IMPACT`],
/// or 0 for LOG.
pub(crate) fn action_impact(action: Option<ItemAction>) -> u8 {
    match action {
        Some(ItemAction::Block) => BLOCK_IMPACT,
        Some(ItemAction::Warn) => WARN_IMPACT,
        Some(ItemAction::Log) | None => 0,
    }
}

/// What a host of the protected network is: incidents group events per host, and mail
/// recipients are hosts of their own kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKind {
    /// An IPv4 or IPv6 address.
    Address,
    /// A host name (or NetBIOS name).
    Name,
    /// A mail recipient.
    Mailbox,
}

impl HostKind {
    /// The kind of a stored (normalised) host.
    pub fn of(host: &str) -> HostKind {
        if host.contains('@') {
            HostKind::Mailbox
        } else if host.parse::<IpAddr>().is_ok() {
            HostKind::Address
        } else {
            HostKind::Name
        }
    }

    /// Its name in answers: `address`, `name` or `mailbox`.
    pub fn as_str(self) -> &'static str {
        match self {
            HostKind::Address => "address",
            HostKind::Name => "name",
            HostKind::Mailbox => "mailbox",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;
    use crate::{EventKind, FormParams, PushRequest, Timestamp};

    fn event(kind: EventKind, params: &[(&str, &str)]) -> Event {
        let params = FormParams::from_pairs(
            params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .chain([("key".into(), "a:b".into())]),
        );
        PushRequest::parse(kind, &params, Timestamp(chrono::Utc::now()))
            .unwrap()
            .event
    }

    fn ioc(matched: &str, confidence: &str) -> Event {
        event(
            EventKind::Ioc,
            &[
                ("vendor_name", "v"),
                ("tool_name", "t"),
                ("ioc_uuid", "0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10"),
                ("ioc_source", "s"),
                ("main_ipv4", "10.0.0.1"),
                ("ioc_matched", matched),
                ("match_confidence", confidence),
                ("hostname", "h"),
            ],
        )
    }

    fn mail(json: &str) -> Event {
        event(
            EventKind::Mail,
            &[
                ("vendor_name", "v"),
                ("tool_name", "t"),
                ("mail_json_str", json),
            ],
        )
    }

    #[test]
    fn ioc_impact_is_the_confidence_of_a_match() {
        assert_eq!(ioc("True", "87.4").base_impact(), Some(87));
        assert_eq!(ioc("False", "87").base_impact(), Some(0));
        assert_eq!(ioc("True", "87").action(), None);
    }

    #[test]
    fn mail_action_is_the_strongest_of_message_and_items() {
        let head = r#""message": {"message_id": "m", "sender": "a@b.c", "recipients": ["d@e.f"], "subject": "s"}"#;
        let plain = mail(&format!("{{{head}}}"));
        assert_eq!(plain.action(), Some(ItemAction::Log));
        assert_eq!(plain.base_impact(), Some(0));
        let warned = mail(&format!(
            r#"{{{head}, "urls": [{{"url": "http://x.test/", "action": "WARN"}}]}}"#
        ));
        assert_eq!(warned.action(), Some(ItemAction::Warn));
        assert_eq!(warned.base_impact(), Some(WARN_IMPACT));
        let blocked = mail(&format!(
            r#"{{{head}, "attachments": [{{"filename": "f", "size": 1, "action": "WARN"}}], "action": "BLOCK"}}"#
        ));
        assert_eq!(blocked.action(), Some(ItemAction::Block));
        assert_eq!(blocked.base_impact(), Some(BLOCK_IMPACT));
    }

    #[test]
    fn host_kinds() {
        assert_eq!(HostKind::of("10.1.2.3"), HostKind::Address);
        assert_eq!(HostKind::of("2001:db8::1"), HostKind::Address);
        assert_eq!(HostKind::of("ws-17.corp"), HostKind::Name);
        assert_eq!(HostKind::of("jane@corp.com"), HostKind::Mailbox);
    }
}
