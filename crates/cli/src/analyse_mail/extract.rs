//! What analyse-mail takes out of a message: the spec's message fields, the attachments
//! (nested messages included, and their own attachments), and the URLs of text and HTML
//! bodies.

use mail_parser::{Message, MessageParser, MimeHeaders};
use pushdetect_model::mail::EmailAddress;
use sha2::{Digest, Sha256};

/// Most URLs taken from one message.
const MAX_URLS: usize = 100;
/// Deepest nesting of attached messages followed.
const MAX_DEPTH: usize = 5;

/// A message ready for analysis.
#[derive(Debug)]
pub struct Extracted {
    /// The spec's `message` object (without actions).
    pub message: serde_json::Value,
    /// Attachments: name and content.
    pub attachments: Vec<(String, Vec<u8>)>,
    /// Distinct URLs, in order of appearance.
    pub urls: Vec<String>,
}

/// Why a message cannot be used; the text completes "FILE: ...".
#[derive(Debug, thiserror::Error)]
pub enum Unusable {
    /// Not a mail message at all.
    #[error("not a mail message (no headers could be read)")]
    NotMail,
    /// No usable sender.
    #[error("no usable sender: the From header is missing or not an address ({0})")]
    Sender(String),
    /// No usable recipient.
    #[error("no recipients: To, Cc and Bcc hold no usable address")]
    Recipients,
}

fn addresses(message: &Message<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for list in [message.to(), message.cc(), message.bcc()]
        .into_iter()
        .flatten()
    {
        for addr in list.iter() {
            if let Some(a) = addr.address().and_then(|a| EmailAddress::parse(a).ok()) {
                if !out.iter().any(|o| o == a.as_str()) {
                    out.push(a.as_str().to_owned());
                }
            }
        }
    }
    out
}

/// Parses `raw` and extracts what analyse-mail needs; `received_now` is used when no
/// Received header carries a date.
pub fn extract(raw: &[u8], received_now: &str) -> Result<Extracted, Unusable> {
    let message = MessageParser::default()
        .parse(raw)
        .filter(|m| !m.headers().is_empty())
        .ok_or(Unusable::NotMail)?;
    let from = message
        .from()
        .and_then(|f| f.first())
        .and_then(|a| a.address())
        .unwrap_or_default();
    let sender = EmailAddress::parse(from).map_err(|e| Unusable::Sender(e.to_owned()))?;
    let recipients = addresses(&message);
    if recipients.is_empty() {
        return Err(Unusable::Recipients);
    }
    // A message without Message-ID gets a stable one from its content.
    let message_id = message
        .message_id()
        .map(|id| {
            id.chars()
                .filter(char::is_ascii_graphic)
                .collect::<String>()
        })
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| format!("pushdetect-{}", &hex::encode(Sha256::digest(raw))[..32]));
    let received = message
        .received()
        .and_then(|r| r.date())
        .map(|d| {
            chrono::DateTime::from_timestamp(d.to_timestamp(), 0)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| received_now.to_owned())
        })
        .unwrap_or_else(|| received_now.to_owned());
    let mut object = serde_json::json!({
        "message_id": message_id,
        "sender": sender.as_str(),
        "recipients": recipients,
        "subject": message.subject().unwrap_or_default(),
        "received_timestamp": received,
    });
    if let Some(date) = message.date() {
        object["date"] = serde_json::json!(date.to_rfc822());
    }
    let mut extracted = Extracted {
        message: object,
        attachments: Vec::new(),
        urls: Vec::new(),
    };
    collect(&message, 0, &mut extracted);
    Ok(extracted)
}

fn collect(message: &Message<'_>, depth: usize, out: &mut Extracted) {
    for body in message.text_bodies().chain(message.html_bodies()) {
        if let Some(text) = body.text_contents() {
            for url in find_urls(text) {
                if out.urls.len() < MAX_URLS && !out.urls.contains(&url) {
                    out.urls.push(url);
                }
            }
        }
    }
    for (i, part) in message.attachments().enumerate() {
        let name = part
            .attachment_name()
            .map(str::to_owned)
            .or_else(|| {
                part.message()
                    .and_then(|m| m.subject())
                    .map(|s| format!("{s}.eml"))
            })
            .unwrap_or_else(|| format!("attachment-{}", i + 1));
        out.attachments.push((name, part.contents().to_vec()));
        if let Some(nested) = part.message() {
            if depth < MAX_DEPTH {
                collect(nested, depth + 1, out);
            }
        }
    }
}

/// The http(s) URLs in a text or HTML body: up to whitespace, a quote or an angle
/// bracket; HTML's `&amp;` decoded; trailing punctuation dropped.
pub fn find_urls(text: &str) -> Vec<String> {
    let mut urls = Vec::new();
    let lower = text.to_ascii_lowercase();
    let mut at = 0;
    while let Some(found) = ["http://", "https://"]
        .iter()
        .filter_map(|p| lower[at..].find(p))
        .min()
    {
        let start = at + found;
        let end = text[start..]
            .find(|c: char| c.is_whitespace() || "\"'<>`".contains(c))
            .map_or(text.len(), |e| start + e);
        let url = text[start..end]
            .replace("&amp;", "&")
            .trim_end_matches(['.', ',', ';', ':', ')', ']', '!', '?'])
            .to_owned();
        if url.len() > "https://".len() && url::Url::parse(&url).is_ok() {
            urls.push(url);
        }
        at = end.max(start + 1);
    }
    urls
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_text_and_html() {
        let found = find_urls(
            "see https://a.example/x?y=1&amp;z=2, or <a href=\"HTTP://b.example/\">b</a>. \
             not: http:// nor ftp://c.example",
        );
        assert_eq!(found, ["https://a.example/x?y=1&z=2", "HTTP://b.example/"]);
    }
}
