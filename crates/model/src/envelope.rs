//! Response envelopes in JSON and XML, as Lastline clients read them.
//!
//! JSON: `{"success": 1, "data": …}` or `{"success": 0, "error": "…", "error_code": N}`.
//! XML: the same fields as elements of `<response>`; lists become repeated `<item>`
//! elements and objects become elements named by their keys.

use crate::error::ApiError;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde_json::{json, Value};

/// The response format chosen by the URL suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `.json`, or no suffix.
    #[default]
    Json,
    /// `.xml`.
    Xml,
}

impl Format {
    /// The suffix without dot.
    pub fn suffix(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Xml => "xml",
        }
    }

    /// The Content-Type of a body in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Xml => "application/xml; charset=utf-8",
        }
    }
}

/// The envelope of a successful answer.
pub fn success(data: Value) -> Value {
    json!({"success": 1, "data": data})
}

/// The envelope of an API error.
pub fn failure(err: &ApiError) -> Value {
    json!({"success": 0, "error": err.message, "error_code": err.code.number()})
}

/// Renders an envelope in the chosen format.
pub fn render(envelope: &Value, format: Format) -> String {
    match format {
        Format::Json => envelope.to_string(),
        Format::Xml => to_xml(envelope),
    }
}

/// Renders a JSON value as an XML document with root element `response`.
pub fn to_xml(value: &Value) -> String {
    let mut out = xml_declaration();
    out.push_str(&xml_element("response", value));
    out
}

fn xml_declaration() -> String {
    let mut w = Writer::new(Vec::new());
    // Writing into a Vec cannot fail.
    let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    String::from_utf8(w.into_inner()).unwrap_or_default()
}

/// One element holding `value`, as `to_xml` writes it inside a document.
fn xml_element(name: &str, value: &Value) -> String {
    let mut w = Writer::new(Vec::new());
    write_element(&mut w, name, value);
    String::from_utf8(w.into_inner()).unwrap_or_default()
}

/// A successful answer whose data is an object that starts with one long list, written in
/// pieces so that it can be sent while its items are still being read: [`head`], one
/// [`item`] per element, then [`tail`] with the data's other fields. The pieces together
/// are exactly what [`render`] writes for the whole envelope.
///
/// [`head`]: ListEnvelope::head
/// [`item`]: ListEnvelope::item
/// [`tail`]: ListEnvelope::tail
#[derive(Debug, Clone, Copy)]
pub struct ListEnvelope {
    /// The format written.
    pub format: Format,
    /// The list's key in the data object.
    pub list: &'static str,
}

impl ListEnvelope {
    /// Everything before the first item.
    pub fn head(&self) -> String {
        match self.format {
            Format::Json => format!("{{\"success\":1,\"data\":{{{}:[", Value::from(self.list)),
            Format::Xml => format!(
                "{}<response><success>1</success><data><{}>",
                xml_declaration(),
                xml_name(self.list)
            ),
        }
    }

    /// The item at `index` (0 for the first).
    pub fn item(&self, index: usize, value: &Value) -> String {
        match self.format {
            Format::Json if index == 0 => value.to_string(),
            Format::Json => format!(",{value}"),
            Format::Xml => xml_element("item", value),
        }
    }

    /// Everything after the last item: the data's other fields, in order.
    pub fn tail(&self, rest: &serde_json::Map<String, Value>) -> String {
        match self.format {
            Format::Json => {
                let mut out = String::from("]");
                for (k, v) in rest {
                    out.push_str(&format!(",{}:{v}", Value::from(k.as_str())));
                }
                out.push_str("}}");
                out
            }
            Format::Xml => {
                let mut out = format!("</{}>", xml_name(self.list));
                for (k, v) in rest {
                    out.push_str(&xml_element(k, v));
                }
                out.push_str("</data></response>");
                out
            }
        }
    }
}

fn write_element(w: &mut Writer<Vec<u8>>, name: &str, value: &Value) {
    let name = xml_name(name);
    let _ = w.write_event(Event::Start(BytesStart::new(name.as_str())));
    match value {
        Value::Null => {}
        Value::Bool(b) => {
            let _ = w.write_event(Event::Text(BytesText::new(if *b { "1" } else { "0" })));
        }
        Value::Number(n) => {
            let _ = w.write_event(Event::Text(BytesText::new(&n.to_string())));
        }
        Value::String(s) => {
            let _ = w.write_event(Event::Text(BytesText::new(&xml_chars(s))));
        }
        Value::Array(items) => {
            for item in items {
                write_element(w, "item", item);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                write_element(w, k, v);
            }
        }
    }
    let _ = w.write_event(Event::End(BytesEnd::new(name.as_str())));
}

/// Whether XML 1.0 can hold the character at all (not even as a character reference).
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Text with the characters XML cannot hold (C0 controls but tab and line ends, U+FFFE,
/// U+FFFF) replaced by U+FFFD: the XML answer stays well-formed; the JSON answer carries
/// the text exactly.
fn xml_chars(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().all(is_xml_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
            .collect(),
    )
}

/// Makes a key usable as an element name (keys here are identifiers, but raw parameter
/// names come from clients).
fn xml_name(key: &str) -> String {
    let mut out: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn xml_success_and_failure() {
        assert_eq!(
            to_xml(&success(json!("OK"))),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><response><success>1</success><data>OK</data></response>"
        );
        let err = ApiError::new(ErrorCode::MissingParameter, "a < b");
        assert_eq!(
            to_xml(&failure(&err)),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><response><success>0</success><error>a &lt; b</error><error_code>2001</error_code></response>"
        );
    }

    #[test]
    fn xml_lists_and_odd_names() {
        let x = to_xml(&json!({"a": [1, 2], "9 x": null}));
        assert!(x.contains("<a><item>1</item><item>2</item></a>"), "{x}");
        assert!(x.contains("<_9_x></_9_x>"), "{x}");
    }

    #[test]
    fn characters_xml_cannot_hold_are_replaced_in_xml_only() {
        let v = serde_json::json!({"s": "a\u{1}b\u{FFFE}\tc"});
        let xml = render(&success(v.clone()), Format::Xml);
        assert!(xml.contains("<s>a\u{FFFD}b\u{FFFD}\tc</s>"), "{xml}");
        let json = render(&success(v), Format::Json);
        assert!(json.contains("a\\u0001b"), "{json}");
    }

    #[test]
    fn a_list_written_in_pieces_is_the_whole_answer() {
        let items = [json!({"event_id": 1, "a b": "x<y"}), json!({"event_id": 2})];
        let mut rest = serde_json::Map::new();
        rest.insert("more_results_available".into(), json!(1));
        rest.insert("next_cursor".into(), Value::Null);
        for format in [Format::Json, Format::Xml] {
            for items in [&items[..], &items[..0]] {
                let list = ListEnvelope {
                    format,
                    list: "events",
                };
                let mut pieces = list.head();
                for (i, item) in items.iter().enumerate() {
                    pieces.push_str(&list.item(i, item));
                }
                pieces.push_str(&list.tail(&rest));
                let mut data = serde_json::Map::new();
                data.insert("events".into(), Value::Array(items.to_vec()));
                data.extend(rest.clone());
                assert_eq!(pieces, render(&success(Value::Object(data)), format));
            }
        }
    }
}
