//! Reading the mail object of `mail_json_str`. It is walked by hand rather than derived so
//! that every refusal names the JSON path and what is expected there, and unknown keys are
//! refused like unknown parameters.

use super::{Attachment, EmailAddress, MailCaptured, MailMessage, MailUrl};
use crate::error::ApiError;
use crate::limits;
use crate::reporter::Reporter;
use crate::values::{ItemAction, MailAction, TaskUuid, Timestamp};
use serde_json::{Map, Value};

/// Parses the mail object alone; the result completes the event once given its reporter.
pub(super) fn mail_object(
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
