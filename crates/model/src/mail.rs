//! The "mail_captured" event of `push_mail`: the mail object carried in `mail_json_str`.
//!
//! The object is walked by hand rather than derived so that every refusal names the JSON
//! path and what is expected there, and unknown keys are refused like unknown parameters.

use crate::error::ApiError;
use crate::event::{Detection, EventKind};
use crate::limits;
use crate::method::{MethodSpec, PUSH_MAIL};
use crate::params::ParamReader;
use crate::reporter::Reporter;
use crate::triage;
use crate::values::{ItemAction, MailAction, TaskUuid, Timestamp};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
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
        let mail = parse_mail_object(text, now)?;
        Ok(mail(Reporter::read(r)?))
    }
}

/// Parses the mail object alone; the result completes the event once given its reporter.
fn parse_mail_object(
    text: &str,
    now: Timestamp,
) -> Result<impl FnOnce(Reporter) -> MailCaptured, ApiError> {
    let root: Value = serde_json::from_str(text).map_err(|e| {
        ApiError::new(
            crate::error::ErrorCode::InvalidMailObject,
            format!("invalid mail_json_str: not valid JSON ({e}); expected a JSON object"),
        )
    })?;
    let mut root = Obj::new(root, "")?;
    root.only(&["message", "attachments", "urls", "action"])?;
    let message = parse_message(root.required("message")?, now)?;
    let attachments = root.list("attachments")?;
    at_most("attachments", attachments.len())?;
    let attachments = attachments
        .into_iter()
        .enumerate()
        .map(|(i, v)| parse_attachment(v, &format!("attachments[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let urls = root.list("urls")?;
    at_most("urls", urls.len())?;
    let urls = urls
        .into_iter()
        .enumerate()
        .map(|(i, v)| parse_url(v, &format!("urls[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let action = match root.opt_str("action")? {
        None => MailAction::Log,
        Some(a) => MailAction::parse("action", &a)
            .map_err(|_| ApiError::mail("action", "must be one of LOG, BLOCK"))?,
    };
    Ok(move |reporter| MailCaptured {
        message,
        attachments,
        urls,
        action,
        reporter,
    })
}

fn parse_message(v: Value, now: Timestamp) -> Result<MailMessage, ApiError> {
    let mut m = Obj::new(v, "message")?;
    m.only(&[
        "message_id",
        "date",
        "sender",
        "recipients",
        "subject",
        "received_timestamp",
    ])?;
    let message_id = m.req_str("message_id")?;
    bounded(
        "message.message_id",
        &message_id,
        limits::MAX_MESSAGE_ID_BYTES,
    )?;
    if !message_id.is_ascii() || message_id.chars().any(|c| c.is_control()) {
        return Err(ApiError::mail(
            "message.message_id",
            "must be an ASCII string without control characters",
        ));
    }
    let (date, date_utc) = match m.opt_str("date")? {
        None => (None, None),
        Some(d) => {
            bounded("message.date", &d, limits::MAX_DATE_BYTES)?;
            let t = Timestamp::parse_rfc2822(&d).ok_or_else(|| {
                ApiError::mail(
                    "message.date",
                    "must be a date as RFC 2822 specifies, such as 'Tue, 1 May 2018 17:24:16 -0400'",
                )
            })?;
            (Some(d), Some(t))
        }
    };
    let sender = m.req_str("sender")?;
    bounded("message.sender", &sender, limits::MAX_ADDRESS_BYTES)?;
    let sender = EmailAddress::parse(&sender)
        .map_err(|e| ApiError::mail("message.sender", &format!("must be {e}")))?;
    let recipients_value = m.required("recipients")?;
    let Value::Array(items) = recipients_value else {
        return Err(ApiError::mail(
            "message.recipients",
            "must be a list of addresses",
        ));
    };
    if items.is_empty() {
        return Err(ApiError::mail(
            "message.recipients",
            "must list at least one address",
        ));
    }
    at_most("message.recipients", items.len())?;
    let recipients = items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let path = format!("message.recipients[{i}]");
            let s = v
                .as_str()
                .ok_or_else(|| ApiError::mail(&path, "must be a string"))?;
            bounded(&path, s, limits::MAX_ADDRESS_BYTES)?;
            EmailAddress::parse(s).map_err(|e| ApiError::mail(&path, &format!("must be {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let subject = match m.required("subject")? {
        Value::String(s) => s,
        _ => return Err(ApiError::mail("message.subject", "must be a string")),
    };
    bounded("message.subject", &subject, limits::MAX_SUBJECT_BYTES)?;
    let received_timestamp = match m.opt_str("received_timestamp")? {
        None => now,
        Some(t) => Timestamp::parse_utc_seconds(&t).ok_or_else(|| {
            ApiError::mail(
                "message.received_timestamp",
                "must be a UTC time 'YYYY-MM-DD HH:MM:SS'",
            )
        })?,
    };
    Ok(MailMessage {
        message_id,
        date,
        date_utc,
        sender,
        recipients,
        subject,
        received_timestamp,
    })
}

fn parse_attachment(v: Value, path: &str) -> Result<Attachment, ApiError> {
    let mut a = Obj::new(v, path)?;
    a.only(&["filename", "size", "task_uuid", "action"])?;
    let filename = a.req_str("filename")?;
    bounded(
        &format!("{path}.filename"),
        &filename,
        limits::MAX_FILENAME_BYTES,
    )?;
    if filename.chars().any(|c| c.is_control()) {
        return Err(ApiError::mail(
            &format!("{path}.filename"),
            "must not contain control characters",
        ));
    }
    let size = match a.required("size")? {
        Value::Number(n) if n.is_u64() => n.as_u64().unwrap_or_default(),
        Value::String(s) if s.trim().parse::<u64>().is_ok() => s.trim().parse().unwrap_or(0),
        _ => {
            return Err(ApiError::mail(
                &format!("{path}.size"),
                "must be a non-negative integer (bytes)",
            ))
        }
    };
    Ok(Attachment {
        filename,
        size,
        task_uuid: a.task_uuid()?,
        action: a.item_action()?,
    })
}

fn parse_url(v: Value, path: &str) -> Result<MailUrl, ApiError> {
    let mut u = Obj::new(v, path)?;
    u.only(&["url", "task_uuid", "action"])?;
    let url = u.req_str("url")?;
    bounded(&format!("{path}.url"), &url, limits::MAX_URL_BYTES)?;
    let parsed_ok = url::Url::parse(url.trim()).is_ok()
        && url.is_ascii()
        && !url.trim().contains(char::is_whitespace);
    if !parsed_ok {
        return Err(ApiError::mail(
            &format!("{path}.url"),
            "must be an absolute ASCII URL such as https://host.example/path?arg=1",
        ));
    }
    Ok(MailUrl {
        url: url.trim().to_owned(),
        task_uuid: u.task_uuid()?,
        action: u.item_action()?,
    })
}

/// Refuses a string of the mail object longer than its limit.
fn bounded(path: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.len() > max {
        return Err(ApiError::mail(
            path,
            &format!("must be at most {max} bytes long (it is {})", value.len()),
        ));
    }
    Ok(())
}

/// Refuses a list of the mail object longer than the limit.
fn at_most(path: &str, len: usize) -> Result<(), ApiError> {
    if len > limits::MAX_MAIL_ITEMS {
        return Err(ApiError::mail(
            path,
            &format!(
                "must list at most {} items (it lists {len})",
                limits::MAX_MAIL_ITEMS
            ),
        ));
    }
    Ok(())
}

/// A JSON object being taken apart, with the path used in error messages.
struct Obj {
    map: Map<String, Value>,
    path: String,
}

impl Obj {
    fn new(v: Value, path: &str) -> Result<Self, ApiError> {
        match v {
            Value::Object(map) => Ok(Obj {
                map,
                path: path.to_owned(),
            }),
            _ => Err(ApiError::mail(
                if path.is_empty() { "(top level)" } else { path },
                "must be a JSON object",
            )),
        }
    }

    fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn only(&self, keys: &[&str]) -> Result<(), ApiError> {
        if let Some(k) = self.map.keys().find(|k| !keys.contains(&k.as_str())) {
            return Err(ApiError::mail(
                &self.at(k),
                &format!("is not a known key; expected one of: {}", keys.join(", ")),
            ));
        }
        Ok(())
    }

    /// A present, non-null, non-empty-string value.
    fn take(&mut self, key: &str) -> Option<Value> {
        match self.map.remove(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() && key != "subject" => None,
            Some(v) => Some(v),
        }
    }

    fn required(&mut self, key: &str) -> Result<Value, ApiError> {
        self.take(key)
            .ok_or_else(|| ApiError::mail(&self.at(key), "is required"))
    }

    fn req_str(&mut self, key: &str) -> Result<String, ApiError> {
        match self.required(key)? {
            Value::String(s) => Ok(s.trim().to_owned()),
            _ => Err(ApiError::mail(&self.at(key), "must be a string")),
        }
    }

    fn opt_str(&mut self, key: &str) -> Result<Option<String>, ApiError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
            Some(_) => Err(ApiError::mail(&self.at(key), "must be a string")),
        }
    }

    fn list(&mut self, key: &str) -> Result<Vec<Value>, ApiError> {
        match self.take(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(ApiError::mail(&self.at(key), "must be a list")),
        }
    }

    fn task_uuid(&mut self) -> Result<Option<TaskUuid>, ApiError> {
        let path = self.at("task_uuid");
        self.opt_str("task_uuid")?
            .map(|t| {
                TaskUuid::parse("task_uuid", &t)
                    .map_err(|_| ApiError::mail(&path, "must be 32 hexadecimal characters"))
            })
            .transpose()
    }

    fn item_action(&mut self) -> Result<ItemAction, ApiError> {
        let path = self.at("action");
        match self.opt_str("action")? {
            None => Ok(ItemAction::Log),
            Some(a) => ItemAction::parse("action", &a)
                .map_err(|_| ApiError::mail(&path, "must be one of LOG, WARN, BLOCK")),
        }
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

    /// Its recipients.
    fn hosts(&self) -> Vec<String> {
        self.message
            .recipients
            .iter()
            .map(|r| r.as_str().to_ascii_lowercase())
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
