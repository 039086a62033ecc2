//! Captured mail, read the way a mail gateway must read it: every real message gives the
//! spec's mail object (sender, recipients, subject, dates), its attachments and the links
//! a reader could follow, or one line saying why it cannot.
//!
//! Messages are parsed by mail-parser; what it leaves of sloppy address headers is
//! repaired in [`address`], links are found in [`links`], and mbox files are split in
//! [`mailbox`]. Nothing a message holds can exhaust the reader: its size, the depth of
//! nested messages, the number of attachments and URLs and their decoded size are bounded
//! by [`Limits`], and what a limit cut is reported in [`Extracted::cut`].

pub mod address;
pub mod links;
pub mod mailbox;

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use pushdetect_model::limits;
use pushdetect_model::mail::EmailAddress;
use pushdetect_model::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use address::{Missing, Origin};

/// Bounds on what one message may make the reader do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message read, in bytes.
    pub max_message_bytes: u64,
    /// Deepest attached message followed (1: attachments of the message itself only).
    pub max_depth: usize,
    /// Most attachments taken from one message, nested ones included.
    pub max_attachments: usize,
    /// Most URLs taken from one message.
    pub max_urls: usize,
    /// Most decoded attachment bytes taken from one message, all attachments together.
    pub max_attachment_bytes: u64,
}

impl Default for Limits {
    /// 64 MiB messages (the server's upload limit), 8 levels, 100 attachments, 100 URLs.
    fn default() -> Self {
        Limits {
            max_message_bytes: 64 * 1024 * 1024,
            max_depth: 8,
            max_attachments: 100,
            max_urls: 100,
            max_attachment_bytes: 64 * 1024 * 1024,
        }
    }
}

/// What the caller knows besides the message: the envelope, as a gateway has it.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    /// The envelope sender of an mbox `From ` line.
    pub mbox_from: Option<String>,
    /// `--mail-from`: the sender when no header holds one.
    pub mail_from: Option<String>,
    /// `--rcpt`: the recipients when no header holds one.
    pub rcpt: Vec<String>,
}

/// The spec's `message` object (without actions).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MailFields {
    /// The Message-ID (angle brackets removed), or `pushdetect-` and the first 32 hex
    /// digits of the message's SHA-256 when it has none: stable for the same message.
    pub message_id: String,
    /// The Date header, RFC 2822, when it has a readable one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// The sender, without display name.
    pub sender: EmailAddress,
    /// The recipients, each once.
    pub recipients: Vec<EmailAddress>,
    /// The Subject, decoded.
    pub subject: String,
    /// When the message was received (the first Received header's date, else now), UTC,
    /// `YYYY-MM-DD HH:MM:SS`.
    pub received_timestamp: String,
}

/// One attachment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attachment {
    /// Its file name (a nested message without one: its subject and `.eml`).
    pub filename: String,
    /// Its decoded size in bytes.
    pub size: u64,
    /// The SHA-256 of its decoded content.
    pub sha256: String,
    /// The decoded content, when asked for ([`Extractor::keep_content`]).
    #[serde(skip)]
    pub content: Option<Vec<u8>>,
}

/// Where the sender and each recipient came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Origins {
    /// The sender's origin.
    pub sender: Origin,
    /// Each recipient's origin, in the order of `recipients`.
    pub recipients: Vec<Origin>,
}

/// What a message holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Extracted {
    /// The spec's message fields.
    pub message: MailFields,
    /// Attachments, nested messages' included, in order.
    pub attachments: Vec<Attachment>,
    /// Distinct http(s) and ftp URLs of the text and HTML bodies, in order.
    pub urls: Vec<String>,
    /// Where the addresses came from.
    pub origins: Origins,
    /// What the limits cut, one line each (empty when nothing was).
    pub cut: Vec<String>,
}

/// Why a message cannot be used. Each message completes "FILE: …" in one line and, where
/// the caller can help, names the flag that does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    /// Not a mail message at all (empty, binary, plain text without header fields).
    #[error("not an RFC 5322 message: {0}")]
    NotMail(&'static str),
    /// Larger than [`Limits::max_message_bytes`].
    #[error(
        "the message is larger than the limit of {limit} bytes; --max-message-bytes raises it"
    )]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// No header (nor the envelope) names a usable sender.
    #[error("no sender: {}; --mail-from ADDRESS supplies one", explain(.0))]
    NoSender(Missing),
    /// No header (nor the envelope) names a usable recipient.
    #[error("no recipients: {}; --rcpt ADDRESS supplies them", explain(.0))]
    NoRecipients(Missing),
}

/// "none of From, Sender, … is present" or "From is 'x', and none of … holds an address".
fn explain(m: &Missing) -> String {
    let list = m.tried.join(", ");
    match &m.seen {
        None => format!("the message has none of {list}"),
        Some(seen) => format!("no usable address in {list} (first one: '{seen}')"),
    }
}

/// Header fields that only mail has; a file with none of them is not a message.
const MAIL_HEADERS: &[&str] = &[
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "received",
    "return-path",
    "delivered-to",
    "x-original-to",
    "envelope-to",
    "reply-to",
    "mime-version",
    "in-reply-to",
    "references",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
];

/// Content types that make mail-parser read a part as a message of its own. Nested
/// messages are nested values, dropped recursively: a message nested a few hundred
/// thousand levels deep (13 MB of headers) overflows the stack.
/// Matched from the `/`, which is rare in headers and text, so the scan is cheap; a path
/// such as `/global` elsewhere only counts towards a limit no real message nears.
const NESTING_MARKERS: &[&str] = &["/rfc822", "/global", "/digest"];
/// Most nesting markers a message may hold for its body to be read; past it only its
/// headers are (a real message has a handful, a digest of a mailing list some dozens).
const MAX_NESTING_MARKERS: usize = 1000;

/// Whether the message names more nested messages than can be read safely.
fn too_nested(raw: &[u8]) -> bool {
    use std::sync::OnceLock;
    static MARKERS: OnceLock<Option<aho_corasick::AhoCorasick>> = OnceLock::new();
    let Some(markers) = MARKERS.get_or_init(|| {
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(NESTING_MARKERS)
            .ok()
    }) else {
        return false;
    };
    markers.find_iter(raw).nth(MAX_NESTING_MARKERS).is_some()
}

/// Reads messages into what a push needs.
#[derive(Debug, Clone)]
pub struct Extractor {
    /// The bounds.
    pub limits: Limits,
    /// Whether attachment contents are kept (for submission) or only hashed.
    pub keep_content: bool,
}

impl Extractor {
    /// Extracts one message. `now` (`YYYY-MM-DD HH:MM:SS`, UTC) is the received time of a
    /// message without a dated Received header.
    pub fn extract(
        &self,
        raw: &[u8],
        envelope: &Envelope,
        now: &str,
    ) -> Result<Extracted, Unusable> {
        if raw.len() as u64 > self.limits.max_message_bytes {
            return Err(Unusable::TooLarge {
                limit: self.limits.max_message_bytes,
            });
        }
        check_header_start(raw)?;
        let too_nested = too_nested(raw);
        let parser = MessageParser::default();
        let message = if too_nested {
            parser.parse_headers(raw)
        } else {
            parser.parse(raw)
        }
        .ok_or(Unusable::NotMail("no header field could be read"))?;
        let is_mail = message
            .headers()
            .iter()
            .any(|h| MAIL_HEADERS.contains(&h.name().to_ascii_lowercase().as_str()));
        if !is_mail {
            return Err(Unusable::NotMail(
                "none of its header fields is a mail header (From, To, Subject, Date, …)",
            ));
        }
        let sender = address::sender(
            &message,
            envelope.mbox_from.as_deref(),
            envelope.mail_from.as_deref(),
        )
        .map_err(Unusable::NoSender)?;
        let recipients =
            address::recipients(&message, &envelope.rcpt).map_err(Unusable::NoRecipients)?;
        let fields = MailFields {
            message_id: message_id(&message, raw),
            // A Date the server would not read (day 97, year 0) is left out, not sent.
            date: message
                .date()
                .map(|d| d.to_rfc822())
                .filter(|d| Timestamp::parse_rfc2822(d).is_some()),
            sender: sender.address,
            recipients: recipients.iter().map(|r| r.address.clone()).collect(),
            subject: fit(
                message.subject().unwrap_or_default(),
                limits::MAX_SUBJECT_BYTES,
            ),
            received_timestamp: received(&message).unwrap_or_else(|| now.to_owned()),
        };
        let mut walk = Walk {
            extractor: self,
            attachments: Vec::new(),
            attachment_bytes: 0,
            links: links::Links::new(self.limits.max_urls),
            cut: Cut::default(),
        };
        if !too_nested {
            walk.message(&message, 1);
        }
        let mut cut = walk.cut.lines(&self.limits, walk.links.cut);
        if too_nested {
            cut.push(format!(
                "the body was not read: it names more than {MAX_NESTING_MARKERS} nested messages"
            ));
        }
        Ok(Extracted {
            message: fields,
            attachments: walk.attachments,
            urls: walk.links.urls,
            origins: Origins {
                sender: sender.origin,
                recipients: recipients.into_iter().map(|r| r.origin).collect(),
            },
            cut,
        })
    }
}

/// A message starts with a header field (after an optional byte order mark): a name of
/// printable ASCII without colon, then a colon. Anything else (empty files, binaries,
/// plain text) is not a message; mail-parser would read it as one header-less body.
fn check_header_start(raw: &[u8]) -> Result<(), Unusable> {
    let raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
    let start = raw
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .ok_or(Unusable::NotMail("the file is empty"))?;
    let line = &raw[start..];
    let name_len = line
        .iter()
        .position(|b| !(33..=126).contains(b) || *b == b':')
        .unwrap_or(line.len());
    let after_name = line[name_len..]
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t'))
        .copied();
    if name_len == 0 || after_name != Some(b':') {
        return Err(Unusable::NotMail(
            "its first line is not a header field (Name: value)",
        ));
    }
    Ok(())
}

/// `text` cut to at most `max` bytes at a character boundary, ending in `…` when cut: the
/// server refuses longer fields, and a mail is worth pushing with its subject shortened.
fn fit(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let ellipsis = '…';
    let mut end = max - ellipsis.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ellipsis}", &text[..end])
}

/// The Message-ID (one too long for the server, too, counts as none); a message without
/// one gets a stable id: `pushdetect-` and 32 hex
/// digits of the SHA-256 of its header block and its size (the header block holds the
/// Received trace, Date and addresses that tell messages apart; hashing it alone keeps
/// the cost independent of the attachments).
fn message_id(message: &Message<'_>, raw: &[u8]) -> String {
    message
        .message_id()
        .map(|id| {
            id.chars()
                .filter(char::is_ascii_graphic)
                .collect::<String>()
        })
        .filter(|id| !id.is_empty() && id.len() <= limits::MAX_MESSAGE_ID_BYTES)
        .unwrap_or_else(|| {
            let head_end = message.root_part().offset_body as usize;
            let mut hasher = Sha256::new();
            hasher.update(raw.get(..head_end).unwrap_or(raw));
            hasher.update((raw.len() as u64).to_be_bytes());
            format!("pushdetect-{}", &hex::encode(hasher.finalize())[..32])
        })
}

/// The date of the first (most recent) Received header, UTC.
fn received(message: &Message<'_>) -> Option<String> {
    let date = message.received()?.date()?;
    chrono::DateTime::from_timestamp(date.to_timestamp(), 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// Counts of what the limits cut.
#[derive(Debug, Default)]
struct Cut {
    attachments: usize,
    attachment_bytes: u64,
    too_deep: usize,
}

impl Cut {
    fn lines(&self, limits: &Limits, urls: usize) -> Vec<String> {
        let mut lines = Vec::new();
        if self.attachments > 0 {
            lines.push(format!(
                "{} attachment(s) beyond the limit of {}",
                self.attachments, limits.max_attachments
            ));
        }
        if self.attachment_bytes > 0 {
            lines.push(format!(
                "{} attachment byte(s) beyond the limit of {} bytes in all",
                self.attachment_bytes, limits.max_attachment_bytes
            ));
        }
        if self.too_deep > 0 {
            lines.push(format!(
                "{} message(s) nested deeper than {} levels not read",
                self.too_deep, limits.max_depth
            ));
        }
        if urls > 0 {
            lines.push(format!(
                "{urls} URL(s) beyond the limit of {} (or longer than {} bytes)",
                limits.max_urls,
                links::MAX_URL_BYTES
            ));
        }
        lines
    }
}

/// One pass over a message and the messages attached to it.
struct Walk<'e> {
    extractor: &'e Extractor,
    attachments: Vec<Attachment>,
    attachment_bytes: u64,
    links: links::Links,
    cut: Cut,
}

impl Walk<'_> {
    fn message(&mut self, message: &Message<'_>, depth: usize) {
        let mut bodies: Vec<u32> = message
            .text_body
            .iter()
            .chain(message.html_body.iter())
            .copied()
            .collect();
        bodies.sort_unstable();
        bodies.dedup();
        for id in bodies {
            match message.part(id).map(|p| &p.body) {
                Some(PartType::Text(text)) => self.links.add_text(text),
                Some(PartType::Html(html)) => self.links.add_html(html),
                _ => {}
            }
        }
        for (i, part) in message.attachments().enumerate() {
            let nested = part.message();
            let name = part
                .attachment_name()
                .map(str::to_owned)
                .or_else(|| nested.and_then(|m| m.subject()).map(|s| format!("{s}.eml")))
                .unwrap_or_else(|| format!("attachment-{}", i + 1));
            self.attachment(&fit(&name, limits::MAX_FILENAME_BYTES), part.contents());
            if let Some(nested) = nested {
                if depth < self.extractor.limits.max_depth {
                    self.message(nested, depth + 1);
                } else {
                    self.cut.too_deep += 1;
                }
            }
        }
    }

    fn attachment(&mut self, name: &str, content: &[u8]) {
        let limits = &self.extractor.limits;
        if self.attachments.len() >= limits.max_attachments {
            self.cut.attachments += 1;
            return;
        }
        let size = content.len() as u64;
        if self.attachment_bytes + size > limits.max_attachment_bytes {
            self.cut.attachment_bytes += size;
            return;
        }
        self.attachment_bytes += size;
        self.attachments.push(Attachment {
            filename: file_name(name),
            size,
            sha256: hex::encode(Sha256::digest(content)),
            content: self.extractor.keep_content.then(|| content.to_vec()),
        });
    }
}

/// An attachment name as the mail object takes it: control characters replaced, at most
/// 255 characters, never empty.
fn file_name(name: &str) -> String {
    let clean: String = name
        .trim()
        .chars()
        .map(|c| if c.is_control() { '_' } else { c })
        .take(255)
        .collect();
    if clean.is_empty() {
        "attachment".to_owned()
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_longer_than_the_server_takes_are_shortened_at_a_character() {
        let subject = "é".repeat(limits::MAX_SUBJECT_BYTES);
        let cut = fit(&subject, limits::MAX_SUBJECT_BYTES);
        assert!(cut.len() <= limits::MAX_SUBJECT_BYTES && cut.ends_with('…'));
        assert_eq!(fit("short", 10), "short");
    }

    fn extract(raw: &str) -> Result<Extracted, Unusable> {
        Extractor {
            limits: Limits::default(),
            keep_content: false,
        }
        .extract(raw.as_bytes(), &Envelope::default(), "2026-01-01 00:00:00")
    }

    #[test]
    fn what_is_not_mail_says_so() {
        for (input, why) in [
            ("", "empty"),
            ("\r\n\r\n", "empty"),
            (
                r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*",
                "first line",
            ),
            ("MZ\u{90}\0\u{3}\0\0\0\u{4}\0", "first line"),
            ("just some text\nwithout headers\n", "first line"),
            ("Note: buy milk\n\nand bread\n", "mail header"),
        ] {
            match extract(input) {
                Err(Unusable::NotMail(msg)) => assert!(msg.contains(why), "{input:?}: {msg}"),
                other => panic!("{input:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_refusal_names_the_headers_and_the_flag() {
        let e = extract("From: Undisclosed\r\nTo: a@b.example\r\n\r\nx").unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("no sender: no usable address in From, Sender, Return-Path")
                && text.contains("'Undisclosed'")
                && text.ends_with("--mail-from ADDRESS supplies one"),
            "{text}"
        );
        let e = extract("From: a@b.example\r\nSubject: x\r\n\r\nx").unwrap_err();
        assert_eq!(
            e.to_string(),
            "no recipients: the message has none of To, Cc, Bcc, Delivered-To, X-Original-To, \
             Envelope-To; --rcpt ADDRESS supplies them"
        );
    }

    #[test]
    fn limits_cut_and_say_what() {
        let mut parts = String::new();
        for i in 0..5 {
            parts.push_str(&format!(
                "--b\r\nContent-Type: application/octet-stream\r\n\
                 Content-Disposition: attachment; filename=f{i}.bin\r\n\r\ncontent {i}\r\n"
            ));
        }
        let raw = format!(
            "From: a@b.example\r\nTo: c@d.example\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
             {parts}--b--\r\n"
        );
        let extractor = Extractor {
            limits: Limits {
                max_attachments: 3,
                ..Limits::default()
            },
            keep_content: true,
        };
        let e = extractor
            .extract(raw.as_bytes(), &Envelope::default(), "2026-01-01 00:00:00")
            .unwrap();
        assert_eq!(e.attachments.len(), 3);
        assert_eq!(e.attachments[0].content.as_deref(), Some(&b"content 0"[..]));
        assert_eq!(e.cut, ["2 attachment(s) beyond the limit of 3"]);
        let small = Extractor {
            limits: Limits {
                max_message_bytes: 10,
                ..Limits::default()
            },
            keep_content: false,
        };
        assert_eq!(
            small.extract(raw.as_bytes(), &Envelope::default(), "now"),
            Err(Unusable::TooLarge { limit: 10 })
        );
    }
}
