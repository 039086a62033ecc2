//! The console's HTML escaper: askama's HTML escaping, plus characters that change how the
//! text around them looks shown as visible code points.
//!
//! A right-to-left override (U+202E) makes `invoice<U+202E>gpj.exe` display as
//! `invoiceexe.jpg`; byte-order marks and the other bidirectional controls hide in the same
//! way. An analyst must see what was pushed, so every template value shows them as
//! `<U+202E>` instead of obeying them.

use askama::filters::Escaper;
use std::fmt::{self, Write};

/// The escaper askama.toml names for `.html` templates.
#[derive(Debug, Clone, Copy, Default)]
pub struct Html;

/// Whether `c` is shown as its code point rather than obeyed.
pub fn is_hidden_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
    )
}

impl Escaper for Html {
    fn write_escaped_str<W: Write>(&self, mut dest: W, string: &str) -> fmt::Result {
        let mut rest = string;
        while let Some(at) = rest.find(is_hidden_control) {
            askama::filters::Html.write_escaped_str(&mut dest, &rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            write!(dest, "&lt;U+{:04X}&gt;", u32::from(c))?;
            rest = &rest[at + c.len_utf8()..];
        }
        askama::filters::Html.write_escaped_str(dest, rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_controls_and_byte_order_marks_are_shown_not_obeyed() {
        let mut out = String::new();
        Html.write_escaped_str(&mut out, "\u{FEFF}invoice\u{202E}gpj.exe <b>")
            .unwrap();
        assert_eq!(
            out,
            "&lt;U+FEFF&gt;invoice&lt;U+202E&gt;gpj.exe &#60;b&#62;"
        );
        let mut out = String::new();
        Html.write_escaped_str(&mut out, "日本語 \u{200D} ok")
            .unwrap();
        assert_eq!(out, "日本語 \u{200D} ok");
    }
}
