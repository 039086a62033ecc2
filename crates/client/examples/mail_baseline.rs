//! The floor that `analyse-mail --extract-only` is measured against (docs/benchmarks.md):
//! a bare loop of mail-parser and linkify over the same files, taking the same fields
//! (sender, recipients, subject, attachments with their SHA-256, the URLs of text and HTML
//! bodies) with none of the repairs, limits or output. One thread.
//!
//! Usage: `mail_baseline FILE...` (prints the counts, so that nothing is optimised away).

use linkify::{LinkFinder, LinkKind};
use mail_parser::{MessageParser, MimeHeaders};
use sha2::{Digest, Sha256};

fn main() {
    let mut finder = LinkFinder::new();
    finder.kinds(&[LinkKind::Url]).url_must_have_scheme(false);
    let (mut messages, mut urls, mut attachments, mut addresses) = (0usize, 0, 0, 0);
    let mut subject_bytes = 0;
    for path in std::env::args().skip(1) {
        let raw = std::fs::read(&path).unwrap_or_default();
        let Some(message) = MessageParser::default().parse(&raw) else {
            continue;
        };
        messages += 1;
        let sender = message
            .from()
            .and_then(|f| f.first())
            .and_then(|a| a.address())
            .map(str::to_owned);
        let recipients: Vec<String> = [message.to(), message.cc(), message.bcc()]
            .into_iter()
            .flatten()
            .flat_map(|list| list.iter())
            .filter_map(|a| a.address().map(str::to_owned))
            .collect();
        let subject = message.subject().unwrap_or_default().to_owned();
        addresses += usize::from(sender.is_some()) + recipients.len();
        subject_bytes += subject.len();
        for body in message.text_bodies().chain(message.html_bodies()) {
            if let Some(text) = body.text_contents() {
                let found: Vec<String> =
                    finder.links(text).map(|l| l.as_str().to_owned()).collect();
                urls += found.len();
            }
        }
        for part in message.attachments() {
            let _name = part.attachment_name().map(str::to_owned);
            let _sha256 = hex::encode(Sha256::digest(part.contents()));
            attachments += 1;
        }
    }
    println!(
        "{messages} messages, {addresses} addresses, {subject_bytes} subject bytes, \
         {attachments} attachments, {urls} URLs"
    );
}
