//! Form parameters as received, and a reader that enforces the method's parameter list.
//!
//! Rules that hold for every method live here once: empty values count as absent, a name the
//! method does not know is refused (a typo must not silently lose data), and a parameter
//! given twice with different values is refused (which one would be meant is unknowable).

use crate::error::{shown, ApiError, ErrorCode};
use crate::limits::{max_value_bytes, MAX_FIELDS, MAX_NAME_BYTES};
use crate::method::MethodSpec;
use std::collections::BTreeMap;

/// Form fields in the order received (urlencoded body, multipart fields, query string).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormParams {
    pairs: Vec<(String, String)>,
}

impl FormParams {
    /// Collects name/value pairs.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        FormParams {
            pairs: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Adds one pair.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.pairs.push((name.into(), value.into()));
    }

    /// Adds one pair received from a caller, within the limits of [`crate::limits`]: at
    /// most [`MAX_FIELDS`] pairs, names of at most [`MAX_NAME_BYTES`] (no method has a
    /// longer one; refusing them early keeps the did-you-mean search cheap).
    pub fn push_received(&mut self, name: String, value: String) -> Result<(), ApiError> {
        if self.pairs.len() >= MAX_FIELDS {
            return Err(ApiError::new(
                ErrorCode::MalformedRequest,
                format!("more than {MAX_FIELDS} parameters in one request"),
            ));
        }
        if name.len() > MAX_NAME_BYTES {
            let shown: String = name.chars().take(MAX_NAME_BYTES).collect();
            return Err(ApiError::new(
                ErrorCode::UnknownParameter,
                format!(
                    "unknown parameter '{shown}…': longer than any parameter name \
                     ({MAX_NAME_BYTES} bytes at most)"
                ),
            ));
        }
        self.pairs.push((name, value));
        Ok(())
    }

    /// Adds the pairs of an `application/x-www-form-urlencoded` text (a body or a query
    /// string), percent-decoded. Values must be UTF-8: the raw parameters are kept exactly
    /// as received, so bytes that are not UTF-8 are refused (naming the field) rather than
    /// replaced.
    pub fn push_urlencoded(&mut self, encoded: &[u8]) -> Result<(), ApiError> {
        for piece in encoded.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match piece.iter().position(|b| *b == b'=') {
                Some(i) => (&piece[..i], &piece[i + 1..]),
                None => (piece, &b""[..]),
            };
            let name = String::from_utf8(form_decode(name)).map_err(|_| {
                ApiError::new(
                    ErrorCode::MalformedRequest,
                    "a parameter name is not valid UTF-8; expected UTF-8 text",
                )
            })?;
            let value = match String::from_utf8(form_decode(value)) {
                Ok(v) => v,
                Err(_) => {
                    let shown: String = name.chars().take(MAX_NAME_BYTES).collect();
                    return Err(not_utf8(&shown));
                }
            };
            self.push_received(name, value)?;
        }
        Ok(())
    }

    /// The pairs of raw parameters kept as [`FormParams::to_json`] wrote them: a repeated
    /// name's values in the order received. The order of different names is not kept,
    /// which no rule depends on.
    pub fn from_json(raw: &serde_json::Value) -> Self {
        let mut params = FormParams::default();
        for (name, value) in raw.as_object().into_iter().flatten() {
            let values = match value {
                serde_json::Value::Array(items) => items.iter().collect(),
                single => vec![single],
            };
            for v in values {
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                params.push(name.clone(), text);
            }
        }
        params
    }

    /// The pairs, as received.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Whether no pair was received.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The raw parameters as a JSON object (a repeated name becomes an array), kept with
    /// each stored event so an analyst can see exactly what the tool sent.
    pub fn to_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for (k, v) in &self.pairs {
            match map.get_mut(k) {
                None => {
                    map.insert(k.clone(), serde_json::Value::String(v.clone()));
                }
                Some(serde_json::Value::Array(items)) => {
                    items.push(serde_json::Value::String(v.clone()))
                }
                Some(existing) => {
                    let first = existing.take();
                    *existing =
                        serde_json::Value::Array(vec![first, serde_json::Value::String(v.clone())]);
                }
            }
        }
        serde_json::Value::Object(map)
    }

    /// A canonical form (sorted pairs, empty and blank values dropped and a pair repeated
    /// with the same value taken once, as the parser reads them) used to recognise a resent
    /// push.
    pub fn canonical(&self) -> String {
        let mut pairs: Vec<&(String, String)> = self
            .pairs
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .collect();
        pairs.sort();
        pairs.dedup();
        let mut out = String::new();
        for (k, v) in pairs {
            out.push_str(&k.len().to_string());
            out.push(':');
            out.push_str(k);
            out.push_str(&v.len().to_string());
            out.push(':');
            out.push_str(v);
        }
        out
    }
}

/// Reads a method's parameters after checking names and repetitions against its spec.
#[derive(Debug)]
pub struct ParamReader<'a> {
    values: BTreeMap<&'a str, &'a str>,
}

impl<'a> ParamReader<'a> {
    /// Checks every name against `spec`, drops empty values and refuses conflicting repeats.
    pub fn new(spec: &MethodSpec, params: &'a FormParams) -> Result<Self, ApiError> {
        let mut values: BTreeMap<&'a str, &'a str> = BTreeMap::new();
        for (name, value) in params.pairs() {
            let Some(param) = spec.param(name) else {
                return Err(unknown_parameter(spec, name));
            };
            let max = max_value_bytes(param.kind);
            if value.len() > max {
                return Err(ApiError::invalid(
                    name,
                    &format!("at most {max} bytes (the value has {})", value.len()),
                ));
            }
            let value = value.as_str();
            if value.trim().is_empty() {
                continue;
            }
            match values.get(name.as_str()) {
                Some(previous) if *previous != value => {
                    return Err(ApiError::conflict(format!(
                        "parameter '{name}' was given more than once with different values; \
                         expected a single value"
                    )))
                }
                _ => {
                    values.insert(name.as_str(), value);
                }
            }
        }
        Ok(ParamReader { values })
    }

    /// The value of an optional parameter, if present and non-empty.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.values.get(name).copied()
    }

    /// Whether a non-empty value was given.
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The value of a required parameter.
    pub fn require(&self, name: &str, expected: &str) -> Result<&'a str, ApiError> {
        self.get(name)
            .ok_or_else(|| ApiError::missing(name, expected))
    }

    /// Parses an optional parameter.
    pub fn parse_opt<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str, &str) -> Result<T, ApiError>,
    ) -> Result<Option<T>, ApiError> {
        self.get(name).map(|v| parse(name, v)).transpose()
    }

    /// Parses a required parameter; `expected` describes it in the "missing" message.
    pub fn parse_req<T>(
        &self,
        name: &str,
        expected: &str,
        parse: impl FnOnce(&str, &str) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        parse(name, self.require(name, expected)?)
    }
}

/// The known name closest to `name` (at most two edits away): the name a typo meant.
pub fn closest<'a>(known: impl Iterator<Item = &'a str>, name: &str) -> Option<&'a str> {
    known
        .map(|k| (edit_distance(k, name), k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

/// The refusal of a value that is not UTF-8.
pub fn not_utf8(name: &str) -> ApiError {
    ApiError::invalid(
        name,
        "UTF-8 text (the value holds bytes that are not UTF-8; they are refused, not replaced)",
    )
}

/// `application/x-www-form-urlencoded` decoding of one name or value: `+` is a space.
fn form_decode(raw: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_encoding::percent_decode(&spaced).collect()
}

fn unknown_parameter(spec: &MethodSpec, name: &str) -> ApiError {
    // A name much longer than every known one is no typo of one: no search.
    let suggestion = (name.len() <= MAX_NAME_BYTES)
        .then(|| closest(spec.params.iter().map(|p| p.name), name))
        .flatten()
        .map(|n| format!(" (did you mean '{n}'?)"))
        .unwrap_or_default();
    ApiError::new(
        ErrorCode::UnknownParameter,
        format!(
            "unknown parameter '{}' for {}{suggestion}; expected one of: {}",
            shown(name),
            spec.name,
            spec.params
                .iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
}

/// Levenshtein distance, used only to suggest the parameter a typo meant.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("src_ip", "scr_ip"), 2);
        assert_eq!(edit_distance("src_ip", "src_ip"), 0);
        assert_eq!(edit_distance("dst_ip", "dst_ipp"), 1);
    }

    #[test]
    fn repeated_names_become_arrays_in_raw_json() {
        let p = FormParams::from_pairs([("a", "1"), ("a", "2"), ("b", "x")]);
        assert_eq!(p.to_json(), serde_json::json!({"a": ["1", "2"], "b": "x"}));
    }

    #[test]
    fn canonical_form_ignores_order_and_empty_values() {
        let a = FormParams::from_pairs([("a", "1"), ("b", "2"), ("c", ""), ("d", "  ")]);
        let b = FormParams::from_pairs([("b", "2"), ("a", "1")]);
        assert_eq!(a.canonical(), b.canonical());
        let c = FormParams::from_pairs([("a", "12"), ("b", "")]);
        let d = FormParams::from_pairs([("a", "1"), ("b", "2")]);
        assert_ne!(c.canonical(), d.canonical());
    }

    #[test]
    fn values_that_are_not_utf8_are_refused_naming_the_field() {
        let mut p = FormParams::default();
        let e = p
            .push_urlencoded(b"sensor=a&subject=caf%E9&x=1")
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameter);
        assert!(e.message.contains("'subject'"), "{}", e.message);
        let mut p = FormParams::default();
        p.push_urlencoded(b"a=caf%C3%A9+au+lait&b&&c=%2B").unwrap();
        assert_eq!(
            p.pairs(),
            [
                ("a".to_owned(), "café au lait".to_owned()),
                ("b".to_owned(), String::new()),
                ("c".to_owned(), "+".to_owned())
            ]
        );
    }

    #[test]
    fn field_counts_and_name_lengths_are_bounded() {
        let mut p = FormParams::default();
        let many = "a=1&".repeat(MAX_FIELDS + 1);
        let e = p.push_urlencoded(many.as_bytes()).unwrap_err();
        assert_eq!(e.code, ErrorCode::MalformedRequest);
        let mut p = FormParams::default();
        let long = format!("{}=1", "n".repeat(3_000_000));
        let e = p.push_urlencoded(long.as_bytes()).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnknownParameter);
        assert!(e.message.len() < 200, "{}", e.message);
    }

    #[test]
    fn values_longer_than_their_kind_allows_are_refused_naming_the_field() {
        let spec = &crate::method::PUSH_MAIL;
        let big = "x".repeat(crate::limits::max_value_bytes(crate::method::ParamKind::Json) + 1);
        let p = FormParams::from_pairs([("mail_json_str", big.as_str())]);
        let e = ParamReader::new(spec, &p).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameter);
        assert!(e.message.contains("'mail_json_str'"), "{}", e.message);
        assert!(e.message.contains("at most 1048576 bytes"), "{}", e.message);
    }

    #[test]
    fn a_pair_repeated_with_the_same_value_is_the_same_push() {
        let once = FormParams::from_pairs([("a", "1"), ("b", "2")]);
        let twice = FormParams::from_pairs([("b", "2"), ("a", "1"), ("a", "1")]);
        assert_eq!(once.canonical(), twice.canonical());
        let other = FormParams::from_pairs([("a", "1"), ("a", "3"), ("b", "2")]);
        assert_ne!(once.canonical(), other.canonical());
    }
}
