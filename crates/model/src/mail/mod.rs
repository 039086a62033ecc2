//! The "mail_captured" event of `push_mail`: the mail object carried in `mail_json_str`.
//!
//! The object is read in `parse.rs`.

mod parse;

use crate::error::ApiError;
use crate::event::{Detection, EventKind};
use crate::method::{MethodSpec, PUSH_MAIL};
use crate::params::ParamReader;
use crate::reporter::Reporter;
use crate::triage;
use crate::values::{ItemAction, MailAction, TaskUuid, Timestamp};
use serde::{Serialize, Serializer};
use std::fmt;

/// A mailbox address without friendly name: `local@domain`, ASCII, domain in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses an address. Angle brackets around the address, or a single stray bracket at
    /// either end (the spec's own sample has `support@corp.com>`), are removed; an address
    /// with a friendly name (`Jane <jane@corp.com>`) is refused.
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let mut v = value.trim();
        v = v.strip_prefix('<').unwrap_or(v);
        v = v.strip_suffix('>').unwrap_or(v);
        if v.contains(['<', '>']) || v.contains(char::is_whitespace) || v.contains('"') {
            return Err("a bare address such as jane.doe@corp.com, without friendly name");
        }
        let (local, domain) = v
            .rsplit_once('@')
            .ok_or("an address of the form local@domain")?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>[],;:\\\"@".contains(&b));
        let domain_ok = !domain.is_empty()
            && domain.len() <= 253
            && domain.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !local_ok || !domain_ok {
            return Err("an ASCII address of the form local@domain such as jane.doe@corp.com");
        }
        Ok(EmailAddress(format!(
            "{local}@{}",
            domain.to_ascii_lowercase()
        )))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for EmailAddress {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The message part of the mail object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MailMessage {
    /// The Message-ID header.
    pub message_id: String,
    /// The Date header as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// The Date header in UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_utc: Option<Timestamp>,
    /// From (without friendly name) or the envelope sender.
    pub sender: EmailAddress,
    /// Recipient addresses.
    pub recipients: Vec<EmailAddress>,
    /// The Subject header.
    pub subject: String,
    /// When the gateway received the message (UTC; defaults to the time of the push).
    pub received_timestamp: Timestamp,
}

/// One attachment of the message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attachment {
    /// Its file name.
    pub filename: String,
    /// Its size in bytes.
    pub size: u64,
    /// The analysis task that analysed it, possibly on another analysis service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_uuid: Option<TaskUuid>,
    /// What the gateway did with it.
    pub action: ItemAction,
}

/// One URL found in the message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MailUrl {
    /// The URL with any arguments.
    pub url: String,
    /// The analysis task that analysed it, possibly on another analysis service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_uuid: Option<TaskUuid>,
    /// What the gateway did with it.
    pub action: ItemAction,
}

/// A captured mail and what the gateway did with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MailCaptured {
    /// The message headers.
    pub message: MailMessage,
    /// Its attachments.
    pub attachments: Vec<Attachment>,
    /// URLs found in it.
    pub urls: Vec<MailUrl>,
    /// What the gateway did with the message.
    pub action: MailAction,
    /// Who reported it.
    #[serde(flatten)]
    pub reporter: Reporter,
}

impl MailCaptured {
    /// Parses `mail_json_str` and the reporter parameters; `now` is the default
    /// received_timestamp.
    pub fn read(r: &ParamReader<'_>, now: Timestamp) -> Result<Self, ApiError> {
        let text = r.require(
            "mail_json_str",
            "a JSON string representing the mail object",
        )?;
        let mail = parse::mail_object(text, now)?;
        Ok(mail(Reporter::read(r)?))
    }
}

impl Detection for MailCaptured {
    const KIND: EventKind = EventKind::Mail;
    const METHOD: &'static MethodSpec = &PUSH_MAIL;

    fn read(reader: &ParamReader, now: Timestamp) -> Result<Self, ApiError> {
        MailCaptured::read(reader, now)
    }

    fn reporter(&self) -> &Reporter {
        &self.reporter
    }

    fn occurred_at(&self) -> Option<Timestamp> {
        Some(self.message.received_timestamp)
    }

    /// Its recipients, each a mailbox of its own.
    fn machines(&self) -> Vec<Vec<String>> {
        self.message
            .recipients
            .iter()
            .map(|r| vec![r.as_str().to_ascii_lowercase()])
            .collect()
    }

    /// "<subject> from <sender>".
    fn summary(&self) -> String {
        format!(
            "{} from {}",
            self.message.subject,
            self.message.sender.as_str()
        )
    }

    /// The tasks of its attachments and URLs.
    fn task_uuids(&self) -> Vec<&TaskUuid> {
        self.attachments
            .iter()
            .filter_map(|a| a.task_uuid.as_ref())
            .chain(self.urls.iter().filter_map(|u| u.task_uuid.as_ref()))
            .collect()
    }

    /// The strongest of the message's own action and those of its attachments and URLs.
    fn action(&self) -> Option<ItemAction> {
        let own = match self.action {
            MailAction::Log => ItemAction::Log,
            MailAction::Block => ItemAction::Block,
        };
        triage::strongest(
            self.attachments
                .iter()
                .map(|a| a.action)
                .chain(self.urls.iter().map(|u| u.action))
                .chain(std::iter::once(own)),
        )
    }

    /// What the gateway did: see [`triage::action_impact`].
    fn base_impact(&self) -> Option<u8> {
        Some(triage::action_impact(Detection::action(self)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            EmailAddress::parse("support@corp.com>").unwrap().as_str(),
            "support@corp.com"
        );
        assert_eq!(
            EmailAddress::parse("<Jane.Doe@Corp.COM>").unwrap().as_str(),
            "Jane.Doe@corp.com"
        );
        assert!(EmailAddress::parse("Jane <jane@corp.com>").is_err());
        assert!(EmailAddress::parse("\"Jane\" <jane@corp.com>").is_err());
        assert!(EmailAddress::parse("jane").is_err());
        assert!(EmailAddress::parse("jane@").is_err());
        assert!(EmailAddress::parse("j@ne@corp.com").is_err());
    }
}
