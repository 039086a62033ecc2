//! The sender and recipients of a captured message, recovered the way mail clients and
//! gateways read sloppy headers.
//!
//! mail-parser reads each address header (RFC 5322 with its obsolete syntax, RFC 2047
//! encoded words, groups); what it leaves is fixed up here, address by address: junk around
//! or after the address (`<x@host.example'>`), brackets and quotes, obsolete routes
//! (`<@relay:x@host>`), `mailto:`, an address written as the display name only
//! (`"x@host.example"`), and internationalised domains (to punycode). When the parsed
//! header yields nothing, an address is looked for in the header's text: an angle address
//! first, then any word with an `@`.
//!
//! Where the addresses come from, in order (the first source with a usable address wins):
//! - sender: From, Sender, Return-Path, the envelope sender of an mbox `From ` line, then
//!   the caller's `--mail-from`;
//! - recipients: To, Cc and Bcc, then Delivered-To, X-Original-To and Envelope-To, then
//!   the caller's `--rcpt`.
//!
//! A local part with non-ASCII characters (RFC 6531) has no ASCII form, which the spec's
//! mail object requires: its non-ASCII bytes (and `%`) are percent-encoded as UTF-8, so
//! `josé@example.com` is sent as `jos%C3%A9@example.com`. The result is a valid address
//! that an analyst recognises and that reads back losslessly.

use mail_parser::{Addr, Header, HeaderForm, HeaderName, HeaderValue, Message};
use pushdetect_model::mail::EmailAddress;
use serde::Serialize;
use std::borrow::Cow;
use std::fmt;

/// Where a recovered address came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// The header (`From`, `Delivered-To`, …), `mbox From_ line`, or the flag
    /// (`--mail-from`, `--rcpt`).
    pub source: &'static str,
    /// What had to be repaired to read it, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repaired: Option<&'static str>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.repaired {
            Some(r) => write!(f, "{} ({r})", self.source),
            None => f.write_str(self.source),
        }
    }
}

/// An address and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The address, as the spec's mail object takes it.
    pub address: EmailAddress,
    /// Its origin.
    pub origin: Origin,
}

/// Why no address was found: which sources were tried, and what the caller can give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The sources tried, in order.
    pub tried: &'static [&'static str],
    /// What the first header that was present held, for the message.
    pub seen: Option<String>,
}

/// Sender headers, in order of preference.
const SENDER_HEADERS: &[(&str, HeaderName<'static>)] = &[
    ("From", HeaderName::From),
    ("Sender", HeaderName::Sender),
    ("Return-Path", HeaderName::ReturnPath),
];
/// Sender sources named when none holds an address.
pub const SENDER_SOURCES: &[&str] = &["From", "Sender", "Return-Path", "mbox From_ line"];

/// Recipient headers of the message itself.
const RECIPIENT_HEADERS: &[(&str, HeaderName<'static>)] = &[
    ("To", HeaderName::To),
    ("Cc", HeaderName::Cc),
    ("Bcc", HeaderName::Bcc),
];
/// Envelope recipients that delivery agents record.
const DELIVERY_HEADERS: &[&str] = &["Delivered-To", "X-Original-To", "Envelope-To"];
/// Recipient sources named when none holds an address.
pub const RECIPIENT_SOURCES: &[&str] = &[
    "To",
    "Cc",
    "Bcc",
    "Delivered-To",
    "X-Original-To",
    "Envelope-To",
];

/// The sender: the first usable address of From, Sender, Return-Path, the mbox envelope
/// sender, then `mail_from`.
pub fn sender(
    message: &Message<'_>,
    envelope_from: Option<&str>,
    mail_from: Option<&str>,
) -> Result<Recovered, Missing> {
    let mut seen = None;
    for (source, name) in SENDER_HEADERS {
        for field in fields(message, name.clone()) {
            seen = seen.or(Some(field.raw));
            if let Some(found) = candidates(&field, source).into_iter().next() {
                return Ok(found);
            }
        }
    }
    let flagged = [
        ("mbox From_ line", envelope_from),
        ("--mail-from", mail_from),
    ];
    for (source, value) in flagged {
        if let Some(found) = value.and_then(|v| repair(v).ok()) {
            return Ok(Recovered {
                address: found.0,
                origin: Origin {
                    source,
                    repaired: found.1,
                },
            });
        }
    }
    Err(Missing {
        tried: SENDER_SOURCES,
        seen: seen.map(shown),
    })
}

/// The recipients: every usable address of To, Cc and Bcc; if none, of Delivered-To,
/// X-Original-To and Envelope-To; if none, `rcpt`. Each address once, in order.
pub fn recipients(message: &Message<'_>, rcpt: &[String]) -> Result<Vec<Recovered>, Missing> {
    let mut seen = None;
    let mut found: Vec<Recovered> = Vec::new();
    let add = |list: Vec<Recovered>, found: &mut Vec<Recovered>| {
        for r in list {
            if !found.iter().any(|f| f.address == r.address) {
                found.push(r);
            }
        }
    };
    for (source, name) in RECIPIENT_HEADERS {
        for field in fields(message, name.clone()) {
            seen = seen.or(Some(field.raw));
            add(candidates(&field, source), &mut found);
        }
    }
    if found.is_empty() {
        for source in DELIVERY_HEADERS {
            for field in fields(message, HeaderName::from(*source)) {
                add(candidates(&field, source), &mut found);
            }
        }
    }
    if found.is_empty() {
        let flagged = rcpt
            .iter()
            .filter_map(|r| repair(r).ok())
            .map(|(a, fix)| Recovered {
                address: a,
                origin: Origin {
                    source: "--rcpt",
                    repaired: fix,
                },
            });
        add(flagged.collect(), &mut found);
    }
    if found.is_empty() {
        return Err(Missing {
            tried: RECIPIENT_SOURCES,
            seen: seen.map(shown),
        });
    }
    Ok(found)
}

/// A header's text as shown in a refusal: one line, at most 80 characters.
fn shown(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut cut: String = one_line.chars().take(80).collect();
    if cut.len() < one_line.len() {
        cut.push('…');
    }
    cut
}

/// One occurrence of an address header: as read as addresses, and its raw text.
struct Field<'m> {
    value: Cow<'m, HeaderValue<'m>>,
    raw: &'m [u8],
}

/// Every occurrence of a header. The address headers mail-parser reads as addresses
/// already (From, To, …) are taken as read; the others (Return-Path, Delivered-To, …)
/// are read as addresses here.
fn fields<'m>(message: &'m Message<'_>, name: HeaderName<'m>) -> Vec<Field<'m>> {
    let found: Vec<&'m Header<'_>> = message
        .headers()
        .iter()
        .filter(|h| h.name == name)
        .collect();
    let raw = |h: &Header<'_>| {
        message
            .raw_message
            .get(h.offset_start as usize..h.offset_end as usize)
            .unwrap_or_default()
    };
    let as_read = found
        .iter()
        .all(|h| matches!(h.value, HeaderValue::Address(_) | HeaderValue::Empty));
    if as_read {
        return found
            .into_iter()
            .map(|h| Field {
                value: Cow::Borrowed(&h.value),
                raw: raw(h),
            })
            .collect();
    }
    message
        .header_as(name, HeaderForm::Addresses)
        .into_iter()
        .zip(found)
        .map(|(value, h)| Field {
            value: Cow::Owned(value),
            raw: raw(h),
        })
        .collect()
}

/// The usable addresses of one header occurrence: from what mail-parser read, repaired;
/// else found in the header's text.
fn candidates(field: &Field<'_>, source: &'static str) -> Vec<Recovered> {
    let origin = |repaired| Origin { source, repaired };
    let mut out: Vec<Recovered> = Vec::new();
    if let HeaderValue::Address(list) = field.value.as_ref() {
        for addr in list.iter() {
            if let Some((address, repaired)) = from_addr(addr) {
                out.push(Recovered {
                    address,
                    origin: origin(repaired),
                });
            }
        }
    }
    // Only text with an '@' (or an encoded word that may hide one) can hold an address.
    let may_hold = field.raw.contains(&b'@') || field.raw.windows(2).any(|w| w == b"=?");
    if out.is_empty() && may_hold {
        let text = String::from_utf8_lossy(field.raw);
        if let Some((address, _)) = search_text(&decode_words(text.trim())) {
            out.push(Recovered {
                address,
                origin: origin(Some("read from the header text")),
            });
        }
    }
    out
}

/// The address of one parsed mailbox, or one written in its display name.
fn from_addr(addr: &Addr<'_>) -> Option<(EmailAddress, Option<&'static str>)> {
    if let Some(found) = addr.address().and_then(|a| repair(a).ok()) {
        return Some(found);
    }
    let name = addr.name()?;
    search_text(name).map(|(a, _)| (a, Some("written as the display name")))
}

/// RFC 2047 encoded words of a raw header decoded, for the text search (mail-parser's
/// unstructured reading does exactly that).
fn decode_words(raw: &str) -> String {
    match mail_parser::MessageParser::default()
        .parse_headers(format!("Subject: {raw}\r\n\r\n").as_bytes())
        .and_then(|m| m.subject().map(str::to_owned))
    {
        Some(text) => text,
        None => raw.to_owned(),
    }
}

/// An address somewhere in free text: the first angle address that is usable, else the
/// first word with an `@` that is.
fn search_text(text: &str) -> Option<(EmailAddress, Option<&'static str>)> {
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else { break };
        if let Ok(found) = repair(&after[..close]) {
            return Some(found);
        }
        rest = &after[close + 1..];
    }
    text.split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|w| w.contains('@'))
        .find_map(|w| repair(w).ok())
}

/// Characters that may surround an address in sloppy headers but are never part of one.
const WRAPPING: &[char] = &[
    '<', '>', '[', ']', '(', ')', '"', '\'', '`', ',', ';', ':', '.',
];

/// Reads one address leniently: wrapping quotes and brackets, `mailto:`, an obsolete
/// route and junk after the domain are dropped; the domain goes to lower case and, when
/// internationalised, to punycode; a non-ASCII local part is percent-encoded. Returns the
/// address and what was repaired, or why it is not an address.
pub fn repair(raw: &str) -> Result<(EmailAddress, Option<&'static str>), &'static str> {
    // Most addresses need nothing.
    if let Ok(clean) = EmailAddress::parse(raw) {
        return Ok((clean, None));
    }
    let mut repaired: Option<&'static str> = None;
    let before = raw.trim();
    let mut v = before.trim_matches(|c: char| WRAPPING.contains(&c) || c.is_whitespace());
    let in_angles = before.len() == v.len() + 2 && before.starts_with('<') && before.ends_with('>');
    if v.len() != before.len() && !in_angles {
        repaired = Some("characters around the address removed");
    }
    if v.get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("mailto:"))
        && v.len() > 7
    {
        v = &v[7..];
    }
    // Obsolete route (RFC 5322 4.4): @relay1,@relay2:user@host.
    if v.starts_with('@') {
        if let Some(colon) = v.rfind(':') {
            v = &v[colon + 1..];
            repaired = Some("obsolete route removed");
        }
    }
    let (local, domain) = v
        .rsplit_once('@')
        .ok_or("an address of the form local@domain")?;
    // Junk after the domain: anything from the first character no domain has.
    let domain_end = domain
        .find(|c: char| c.is_whitespace() || "<>()[]\"',;:/\\?#!*=+&|`~$%^{}".contains(c))
        .unwrap_or(domain.len());
    if domain_end < domain.len() {
        repaired = Some("text after the address removed");
    }
    let domain = domain[..domain_end].trim_end_matches('.');
    // Junk before the local part: text up to the last space or bracket.
    let local_start = local
        .rfind(|c: char| c.is_whitespace() || "<>()[],;:".contains(c))
        .map_or(0, |i| {
            i + local[i..].chars().next().map_or(1, char::len_utf8)
        });
    if local_start > 0 {
        repaired = Some("text before the address removed");
    }
    let mut local = local[local_start..].trim_matches(|c: char| c == '"' || c == '\'');
    let encoded_local;
    if !local.is_ascii() {
        let mut out = String::with_capacity(local.len() * 3);
        for b in local.bytes() {
            if b.is_ascii() && b != b'%' {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        encoded_local = out;
        local = &encoded_local;
        repaired = Some("non-ASCII local part percent-encoded");
    }
    let ascii_domain;
    let domain = if domain.is_ascii() {
        domain
    } else {
        ascii_domain =
            idna::domain_to_ascii(domain).map_err(|_| "a domain that IDNA can write in ASCII")?;
        repaired = repaired.or(Some("internationalised domain written in punycode"));
        &ascii_domain
    };
    let address = EmailAddress::parse(&format!("{local}@{domain}"))?;
    Ok((address, repaired))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multibyte_character_where_mailto_would_end_is_no_panic() {
        assert_eq!(
            repair("doug@\u{202E}example.com")
                .map(|(a, _)| a.to_string())
                .ok(),
            None
        );
        assert!(repair("mailto:a@b.example").is_ok());
    }
    use mail_parser::MessageParser;

    fn parse(headers: &str) -> Message<'static> {
        MessageParser::default()
            .parse(format!("{headers}\r\n\r\nbody").as_bytes())
            .unwrap()
            .into_owned()
    }

    fn sender_of(headers: &str) -> Result<(String, String), Missing> {
        sender(&parse(headers), None, None)
            .map(|r| (r.address.as_str().to_owned(), r.origin.to_string()))
    }

    fn recipients_of(headers: &str) -> Vec<String> {
        recipients(&parse(headers), &[])
            .map(|list| {
                list.into_iter()
                    .map(|r| r.address.as_str().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn the_shapes_real_phishing_mail_has() {
        let cases = [
            (
                "From: Bon d'achat, <info@ml.example.fr>",
                "info@ml.example.fr",
            ),
            ("From: \"Name\" <x@host.example'>", "x@host.example"),
            ("From: Facebook ,_<a@b.com>", "a@b.com"),
            (
                "From: support@paypal.com <evil@phish.example>",
                "evil@phish.example",
            ),
            ("From: \"x@y.com\"", "x@y.com"),
            (
                "From: <@relay.example:user@host.example>",
                "user@host.example",
            ),
            ("From: [ceo@corp.example]", "ceo@corp.example"),
            ("From: mailto:ceo@corp.example", "ceo@corp.example"),
            ("From: John <JOHN@Example.COM> (office)", "JOHN@example.com"),
            (
                "From: =?utf-8?q?J=C3=BCrgen?= <j@m\u{fc}nchen.de>",
                "j@xn--mnchen-3ya.de",
            ),
            ("From: j\u{f6}rg@example.com", "j%C3%B6rg@example.com"),
            (
                "From: =?utf-8?b?UGF5UGFsIDxzZXJ2aWNlQHBheXBhbC5leGFtcGxlPg==?=",
                "service@paypal.example",
            ),
            (
                "From: Undisclosed\r\nsender: Alerts <alerts@bank.example>",
                "alerts@bank.example",
            ),
            (
                "From: nobody\r\nReturn-Path: <bounce@mailer.example>",
                "bounce@mailer.example",
            ),
        ];
        for (headers, want) in cases {
            let got = sender_of(headers).unwrap_or_else(|e| panic!("{headers}: {e:?}"));
            assert_eq!(got.0, want, "{headers}");
        }
        assert_eq!(
            sender_of("From: Undisclosed\r\nSender: a@b.example")
                .unwrap()
                .1,
            "Sender"
        );
        assert_eq!(
            sender_of("From: \"x@y.com\"").unwrap().1,
            "From (written as the display name)"
        );
    }

    #[test]
    fn recipients_fall_back_to_the_delivery_headers() {
        assert_eq!(
            recipients_of("To: Undisclosed recipients:;"),
            Vec::<String>::new()
        );
        assert_eq!(
            recipients_of("To: Undisclosed recipients:;\r\nDelivered-To: phishing@pot"),
            ["phishing@pot"]
        );
        assert_eq!(
            recipients_of(
                "To: \"a, b\" <c@d.com>, e@f.com\r\nCc: c@d.com\r\nX-Original-To: z@z.example"
            ),
            ["c@d.com", "e@f.com"]
        );
        assert_eq!(
            recipients_of(
                "To: x\r\nX-Original-To: one@corp.example\r\nEnvelope-To: two@corp.example"
            ),
            ["one@corp.example", "two@corp.example"]
        );
        let flagged = recipients(&parse("To: nobody"), &["soc@corp.example".into()]).unwrap();
        assert_eq!(flagged[0].origin.source, "--rcpt");
        let missing = recipients(&parse("To: nobody"), &[]).unwrap_err();
        assert_eq!(missing.seen.as_deref(), Some("nobody"));
    }

    #[test]
    fn the_envelope_and_the_flag_come_last() {
        let m = parse("Subject: no sender");
        let r = sender(&m, Some("env@relay.example"), Some("flag@corp.example")).unwrap();
        assert_eq!(r.origin.source, "mbox From_ line");
        let r = sender(&m, None, Some("flag@corp.example")).unwrap();
        assert_eq!(r.origin.source, "--mail-from");
        assert!(sender(&m, None, None).is_err());
    }

    #[test]
    fn what_is_not_an_address_is_refused() {
        for bad in [
            "",
            "@",
            "a@",
            "@b.example",
            "a@b@c.example",
            "a@b..example",
            "<>",
        ] {
            assert!(repair(bad).is_err(), "{bad:?}");
        }
    }
}
