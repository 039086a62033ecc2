//! How an account groups its events into incidents.
//!
//! By default events group by machine: events about one machine, each at most the incident
//! window from the next, form one incident. A machine is a host entity: every identifier
//! an event names it by (address, host name, NetBIOS name) is tied to it, so later events
//! naming it by any of them join its incidents (the store keeps the ties; see its
//! `host_identity` module). Each mail recipient is a mailbox of its own.
//!
//! An account may add grouping rules ([`Grouping`]), in order of preference. An event that
//! a rule gives a key (a mail's sender, an IOC's uuid, the SHA-256 of a file an analysis
//! task analysed) is grouped by the first such rule's key, within the same window, instead
//! of by machine: one incident per phishing sender, per IOC, per malicious file, whatever
//! the number of recipients or hosts. Events no rule gives a key still group by machine.

use crate::error::ApiError;
use crate::values::value_enum;
use serde::{Serialize, Serializer};
use std::fmt;

value_enum!(
    /// What an incident groups its events by.
    GroupBy {
        /// The machine (host entity) or mailbox the events are about: the default.
        Host => "host",
        /// A mail's sender.
        MailSender => "mail_sender",
        /// An IOC result's IOC uuid.
        IocUuid => "ioc_uuid",
        /// The SHA-256 of a file an event's analysis task analysed.
        TaskSha256 => "task_sha256",
    }
);

/// An account's grouping rules, in order of preference: the rules besides grouping by
/// host, each once. Empty (the default) groups every event by host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grouping(Vec<GroupBy>);

impl Grouping {
    /// Parses the value of parameter `name`: rule names separated by commas, in order of
    /// preference (`mail_sender,ioc_uuid`); `host` alone (or nothing) means the default.
    /// `host` may only come alone or last, since no rule after it could apply.
    pub fn parse(name: &str, value: &str) -> Result<Self, ApiError> {
        let mut rules = Vec::new();
        let parts: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        for (i, part) in parts.iter().enumerate() {
            let rule = GroupBy::parse(name, part)?;
            if rule == GroupBy::Host {
                if i + 1 != parts.len() {
                    return Err(ApiError::invalid(
                        name,
                        "rules separated by commas, with host (the fallback) only last",
                    ));
                }
                continue;
            }
            if rules.contains(&rule) {
                return Err(ApiError::invalid(
                    name,
                    "rules separated by commas, each once",
                ));
            }
            rules.push(rule);
        }
        Ok(Grouping(rules))
    }

    /// The rules, in order of preference (host, the fallback, not among them).
    pub fn rules(&self) -> &[GroupBy] {
        &self.0
    }

    /// Its canonical spelling: the rules separated by commas, ending with `host`.
    pub fn to_text(&self) -> String {
        let mut names: Vec<&str> = self.0.iter().map(|r| r.as_str()).collect();
        names.push(GroupBy::Host.as_str());
        names.join(",")
    }

    /// The key an event is grouped by among `keys` (what the event offers; see
    /// [`crate::Event::group_keys`]): the first rule of the account's that the event has a
    /// key for, with every key it has for that rule; none means by host.
    pub fn pick<'a>(&self, keys: &'a [(GroupBy, String)]) -> Option<(GroupBy, Vec<&'a str>)> {
        self.0.iter().find_map(|&rule| {
            let of_rule: Vec<&str> = keys
                .iter()
                .filter(|(r, _)| *r == rule)
                .map(|(_, k)| k.as_str())
                .collect();
            (!of_rule.is_empty()).then_some((rule, of_rule))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn rules_parse_in_order_with_host_only_last() {
        let g = Grouping::parse("grouping", " Mail_Sender , ioc_uuid,host").unwrap();
        assert_eq!(g.rules(), [GroupBy::MailSender, GroupBy::IocUuid]);
        assert_eq!(g.to_text(), "mail_sender,ioc_uuid,host");
        assert_eq!(Grouping::parse("g", "").unwrap(), Grouping::default());
        assert_eq!(Grouping::parse("g", "host").unwrap().to_text(), "host");
        for bad in ["host,ioc_uuid", "ioc_uuid,ioc_uuid", "sender"] {
            let e = Grouping::parse("grouping", bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidParameter, "{bad}");
            assert!(e.message.contains("'grouping'"), "{}", e.message);
        }
    }

    #[test]
    fn the_first_rule_the_event_has_keys_for_wins() {
        let keys = vec![
            (GroupBy::IocUuid, "u".to_owned()),
            (GroupBy::TaskSha256, "a".to_owned()),
            (GroupBy::TaskSha256, "b".to_owned()),
        ];
        let g = Grouping::parse("g", "mail_sender,task_sha256,ioc_uuid").unwrap();
        assert_eq!(g.pick(&keys), Some((GroupBy::TaskSha256, vec!["a", "b"])));
        let g = Grouping::parse("g", "ioc_uuid,task_sha256").unwrap();
        assert_eq!(g.pick(&keys), Some((GroupBy::IocUuid, vec!["u"])));
        assert_eq!(
            Grouping::parse("g", "mail_sender").unwrap().pick(&keys),
            None
        );
        assert_eq!(Grouping::default().pick(&keys), None);
    }
}
