//! The links a reader of a message could follow: URLs in its text bodies (found by
//! linkify, as mail clients make them clickable), and in its HTML bodies the URL-bearing
//! attributes (`href`, `src`, `action`, …) and the URLs in the text between tags. XML
//! namespace declarations (`xmlns`), DOCTYPE identifiers and comments are not links and
//! are left out; the HTML is read by html5gum, a WHATWG tokenizer, so entities are
//! decoded as a browser decodes them.
//!
//! Each URL is written as a browser sends it (the `url` crate, WHATWG rules): host in
//! lower case and punycode, non-ASCII characters percent-encoded. Only http, https and ftp
//! URLs are kept; `www.` links without a scheme get `http://`.

use html5gum::emitters::callback::{CallbackEmitter, CallbackEvent};
use html5gum::{Emitter, ForwardingEmitter, Span, Tokenizer};
use linkify::{LinkFinder, LinkKind};

/// Longest URL kept, in bytes (longer ones are counted as cut).
pub const MAX_URL_BYTES: usize = 4096;

/// Attributes whose value is a URL (or, for `srcset` and `content`, holds URLs).
const URL_ATTRIBUTES: &[&[u8]] = &[
    b"href",
    b"src",
    b"action",
    b"formaction",
    b"background",
    b"poster",
    b"cite",
    b"longdesc",
    b"lowsrc",
    b"dynsrc",
    b"data",
    b"codebase",
    b"srcset",
    b"content",
    b"ping",
];

/// Distinct URLs, in order of appearance, up to a limit.
#[derive(Debug)]
pub struct Links {
    /// The URLs kept.
    pub urls: Vec<String>,
    /// How many more distinct URLs were found beyond the limit, or were too long.
    pub cut: usize,
    limit: usize,
    finder: LinkFinder,
}

impl Links {
    /// An empty collection keeping at most `limit` URLs.
    pub fn new(limit: usize) -> Links {
        let mut finder = LinkFinder::new();
        finder.kinds(&[LinkKind::Url]).url_must_have_scheme(false);
        Links {
            urls: Vec::new(),
            cut: 0,
            limit,
            finder,
        }
    }

    /// Adds one URL as written, if it is an http(s) or ftp URL.
    fn add(&mut self, candidate: &str) {
        let candidate = candidate.trim();
        if candidate.len() > MAX_URL_BYTES {
            self.cut += 1;
            return;
        }
        let Some(url) = normalise(candidate) else {
            return;
        };
        if self.urls.contains(&url) {
            return;
        }
        if self.urls.len() >= self.limit {
            self.cut += 1;
            return;
        }
        self.urls.push(url);
    }

    /// Adds the URLs in plain text.
    pub fn add_text(&mut self, text: &str) {
        let found: Vec<&str> = self.finder.links(text).map(|l| l.as_str()).collect();
        for url in found {
            self.add(url);
        }
    }

    /// Adds the URLs of an HTML document: its URL attributes and its text (including the
    /// text of scripts and styles, where redirects and tracking images hide).
    pub fn add_html(&mut self, html: &str) {
        // Every link kept has a scheme ("://") or starts with "www.", possibly written
        // with character references ("https&#58;//"): a document with none of these has
        // no link, and is not tokenized.
        let bytes = html.as_bytes();
        let any = [&b"://"[..], b"www.", b"WWW.", b"&#", b"&colon;"]
            .iter()
            .any(|needle| memchr::memmem::find(bytes, needle).is_some());
        if !any {
            return;
        }
        let finder = &self.finder;
        let mut in_url_attribute = false;
        let mut emitter = CallbackEmitter::new(
            move |event: CallbackEvent<'_>, _: Span<()>| -> Option<Found> {
                match event {
                    CallbackEvent::AttributeName { name } => {
                        in_url_attribute =
                            URL_ATTRIBUTES.iter().any(|a| a.eq_ignore_ascii_case(name));
                        None
                    }
                    CallbackEvent::AttributeValue { value } if in_url_attribute => Some(
                        Found::Attribute(String::from_utf8_lossy(value).into_owned()),
                    ),
                    // Only text with a ':' (a scheme) or "www." can hold a link.
                    CallbackEvent::String { value } if may_hold_link(value) => {
                        let text = String::from_utf8_lossy(value);
                        let urls: Vec<String> =
                            finder.links(&text).map(|l| l.as_str().to_owned()).collect();
                        (!urls.is_empty()).then_some(Found::Text(urls))
                    }
                    _ => None,
                }
            },
        );
        emitter.naively_switch_states(true);
        let found: Vec<Found> = Tokenizer::new_with_emitter(html, Quiet(emitter))
            .filter_map(Result::ok)
            .collect();
        for f in found {
            match f {
                Found::Attribute(value) => {
                    let whole = value.trim();
                    let single = !whole.contains(char::is_whitespace);
                    if single && (normalise(whole).is_some() || whole.len() > MAX_URL_BYTES) {
                        self.add(whole);
                    } else {
                        // srcset, meta refresh ("0; url=…") and the like hold URLs.
                        self.add_text(&value);
                    }
                }
                Found::Text(urls) => urls.iter().for_each(|u| self.add(u)),
            }
        }
    }
}

/// Whether text may hold a link that is kept: one with a scheme (`:`) or starting with
/// `www.`. Most text between tags holds neither, and is then not searched.
fn may_hold_link(text: &[u8]) -> bool {
    memchr::memchr(b':', text).is_some()
        || memchr::memmem::find(text, b"www.").is_some()
        || memchr::memmem::find(text, b"WWW.").is_some()
}

/// An emitter that asks the tokenizer for no parse errors: they would be ignored here, and
/// checking every character for them is a quarter of the tokenizer's work.
struct Quiet<E>(E);

impl<E: Emitter> ForwardingEmitter for Quiet<E> {
    type Token = E::Token;

    fn inner(&mut self) -> &mut impl Emitter<Token = Self::Token> {
        &mut self.0
    }

    fn should_emit_errors(&mut self) -> bool {
        false
    }
}

/// What the HTML tokenizer hands over.
enum Found {
    /// The value of a URL attribute.
    Attribute(String),
    /// The URLs found in a text between tags.
    Text(Vec<String>),
}

/// A URL as a browser would send it, if it is an absolute http, https or ftp URL.
fn normalise(candidate: &str) -> Option<String> {
    let lower_start: String = candidate
        .chars()
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase();
    let with_scheme;
    let text = if lower_start.starts_with("www.") {
        with_scheme = format!("http://{candidate}");
        &with_scheme
    } else {
        candidate
    };
    let url = url::Url::parse(text).ok()?;
    if !matches!(url.scheme(), "http" | "https" | "ftp") || url.host_str().is_none_or(str::is_empty)
    {
        return None;
    }
    Some(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(doc: &str) -> Vec<String> {
        let mut links = Links::new(100);
        links.add_html(doc);
        links.urls
    }

    #[test]
    fn text_links_as_mail_clients_find_them() {
        let mut links = Links::new(100);
        links.add_text(
            "see https://a.example/x?y=1&z=2, or (www.b.example/p). \
             not: http:// nor ftp:/c nor mailto:x@y.example nor javascript:alert(1); \
             https://A.Example/x?y=1&z=2 again",
        );
        assert_eq!(
            links.urls,
            ["https://a.example/x?y=1&z=2", "http://www.b.example/p"]
        );
    }

    #[test]
    fn html_attributes_and_text_but_not_namespaces_or_doctypes() {
        let doc = r#"<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
            "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
            <html xmlns="http://www.w3.org/1999/xhtml" xmlns:o="urn:schemas-microsoft-com:office:office">
            <!-- http://comment.example/ -->
            <meta http-equiv="refresh" content="0; url=https://refresh.example/go">
            <body background="https://bg.example/i.png">
            <a HREF="https://evil.example/login?a=1&amp;b=2">Sign in at https://shown.example/</a>
            <img src="https://track.example/p.gif" srcset="https://s1.example/1x.png 1x, https://s2.example/2x.png 2x">
            <form action="https://post.example/collect"></form>
            <a href="/relative">x</a> <a href="mailto:a@b.example">m</a>
            <script>location = "https://script.example/next";</script>
            </body></html>"#;
        assert_eq!(
            html(doc),
            [
                "https://refresh.example/go",
                "https://bg.example/i.png",
                "https://evil.example/login?a=1&b=2",
                "https://shown.example/",
                "https://track.example/p.gif",
                "https://s1.example/1x.png",
                "https://s2.example/2x.png",
                "https://post.example/collect",
                "https://script.example/next",
            ]
        );
    }

    #[test]
    fn international_urls_are_written_as_browsers_send_them() {
        assert_eq!(
            html("<a href='https://b\u{fc}cher.example/s\u{fc}\u{df}?q=\u{e9}'>x</a>"),
            ["https://xn--bcher-kva.example/s%C3%BC%C3%9F?q=%C3%A9"]
        );
        let mut links = Links::new(100);
        links.add_text("visit http://пример.example/путь now");
        assert_eq!(
            links.urls,
            ["http://xn--e1afmkfd.example/%D0%BF%D1%83%D1%82%D1%8C"]
        );
    }

    #[test]
    fn links_written_with_character_references_are_found() {
        assert_eq!(
            html("<a href='https&#58;&#x2F;/evil.example/&#112;ay'>x</a>"),
            ["https://evil.example/pay"]
        );
        assert_eq!(
            html("<p>no links at all, only <b>words</b></p>"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn the_limit_counts_what_it_cuts() {
        let mut links = Links::new(2);
        links.add_text("http://a.example http://b.example http://a.example http://c.example");
        assert_eq!(links.urls.len(), 2);
        assert_eq!(links.cut, 1);
        let long = format!("http://x.example/{}", "a".repeat(MAX_URL_BYTES));
        links.add_text(&long);
        assert_eq!(links.cut, 2);
    }
}
