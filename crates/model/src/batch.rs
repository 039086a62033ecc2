//! Batch push: many events of any kind in one request, for high-volume senders.
//!
//! The body is a JSON array of items or JSON lines (one item per line). Each item is an
//! object holding the same parameters as its single push method, plus `method` (which
//! push it is) and optionally `idempotency_key`. Each item is read on its own: a bad item
//! is refused with the error it would get alone and the others go on. Only what makes the
//! whole body unreadable (not JSON, too many items) refuses the request.

use crate::error::{shown, ApiError, ErrorCode};
use crate::event::EventKind;
use crate::method::{MethodSpec, ParamKind};
use crate::params::FormParams;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// The method that pushes many events at once. Its body is JSON, not a form: it has no
/// form parameters of its own.
pub static PUSH_EVENTS: MethodSpec = MethodSpec {
    name: "push_detection.batch.push_events",
    path: "push_detection/batch/push_events",
    http_method: "POST",
    summary: "Push up to a thousand events of any kind in one request (a JSON array or JSON \
              lines of items); one result per item, in order",
    params: &[],
};

/// The item field that names the push method.
pub const METHOD_FIELD: &str = "method";

/// The item field that carries an item's idempotency key.
pub const KEY_FIELD: &str = "idempotency_key";

/// The header that carries a push's idempotency key.
pub const KEY_HEADER: &str = "Idempotency-Key";

/// Longest idempotency key, in bytes (a UUID or a hash fits with room to spare).
pub const MAX_KEY_BYTES: usize = 128;

/// A sender's name for one push, so that a late resend of it is stored once.
///
/// Printable ASCII without spaces, 1 to [`MAX_KEY_BYTES`] bytes: it travels in a header
/// and in logs, and a key that could hold anything would be a place to hide things.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Parses a key received in `field` (a header or an item field, named in the error).
    pub fn parse(field: &str, raw: &str) -> Result<Self, ApiError> {
        let expected =
            format!("1 to {MAX_KEY_BYTES} printable ASCII characters without spaces (a UUID, say)");
        if raw.is_empty() || raw.len() > MAX_KEY_BYTES || !raw.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(ApiError::invalid(field, &expected));
        }
        Ok(IdempotencyKey(raw.to_owned()))
    }

    /// The key of the item at `index` of a batch sent with this key in its header: a
    /// resent batch is recognised item by item.
    pub fn for_item(&self, index: usize) -> IdempotencyKey {
        IdempotencyKey(format!("{}/{index}", self.0))
    }

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One item of a batch, read: which push, its parameters as a form push would carry them,
/// and its idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchItem {
    /// Which push method.
    pub kind: EventKind,
    /// The item's parameters, as the single method's form fields.
    pub params: FormParams,
    /// The item's own key, if it has one.
    pub key: Option<IdempotencyKey>,
}

/// The short name of each kind's push method, as an item's `method` names it (the
/// method's full dotted name is accepted too).
pub fn method_name(kind: EventKind) -> &'static str {
    let name = kind.method().name;
    name.rsplit('.').next().unwrap_or(name)
}

/// The kind whose push method `name` is (short or dotted name).
fn kind_of_method(name: &str) -> Option<EventKind> {
    EventKind::ALL
        .into_iter()
        .find(|k| method_name(*k) == name || k.method().name == name)
}

/// Splits a batch body into items: a JSON array, or JSON lines (blank lines skipped).
/// A body that holds more than `max_items` items is refused whole, as is an array that is
/// not valid JSON; a line of JSON lines that is not JSON refuses only its item.
pub fn split_body(body: &[u8], max_items: usize) -> Result<Vec<Result<Value, ApiError>>, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        malformed(format!(
            "the body is not UTF-8 (at byte {}); expected a JSON array or JSON lines",
            e.valid_up_to()
        ))
    })?;
    let trimmed = text.trim_start();
    let items: Vec<Result<Value, ApiError>> = if trimmed.starts_with('[') {
        let items: Vec<Value> = serde_json::from_str(trimmed).map_err(|e| {
            malformed(format!(
                "the body is not a JSON array ({e}); expected a JSON array of objects or JSON \
                 lines"
            ))
        })?;
        too_many(items.len(), max_items)?;
        items.into_iter().map(Ok).collect()
    } else {
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        too_many(lines.len(), max_items)?;
        lines
            .into_iter()
            .map(|line| {
                serde_json::from_str(line).map_err(|e| {
                    malformed(format!(
                        "the item is not JSON ({e}); expected one JSON object per line"
                    ))
                })
            })
            .collect()
    };
    if items.is_empty() {
        return Err(malformed(
            "the batch holds no item; expected a JSON array or JSON lines of at least one \
             object"
                .into(),
        ));
    }
    Ok(items)
}

fn too_many(count: usize, max_items: usize) -> Result<(), ApiError> {
    if count > max_items {
        return Err(malformed(format!(
            "the batch holds {count} items; at most {max_items} are accepted in one request"
        )));
    }
    Ok(())
}

fn malformed(message: String) -> ApiError {
    ApiError::new(ErrorCode::MalformedRequest, message)
}

impl BatchItem {
    /// Reads one item: an object with `method`, optionally `idempotency_key`, and the
    /// method's parameters. Strings, numbers and booleans are the values a form would send;
    /// `null` is absent; an object or array is accepted only for a parameter that holds a
    /// JSON document (`mail_json_str`), as that document.
    pub fn read(item: Value) -> Result<Self, ApiError> {
        let Value::Object(fields) = item else {
            return Err(malformed(format!(
                "the item is {}; expected a JSON object with '{METHOD_FIELD}' and the method's \
                 parameters",
                json_type(&item)
            )));
        };
        let methods = || {
            EventKind::ALL
                .into_iter()
                .map(method_name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let kind = match fields.get(METHOD_FIELD) {
            Some(Value::String(name)) => kind_of_method(name).ok_or_else(|| {
                ApiError::invalid(
                    METHOD_FIELD,
                    &format!("one of {} (got '{}')", methods(), shown(name)),
                )
            })?,
            Some(_) => {
                return Err(ApiError::invalid(
                    METHOD_FIELD,
                    &format!("a string, one of {}", methods()),
                ))
            }
            None => {
                return Err(ApiError::missing(
                    METHOD_FIELD,
                    &format!("the push method of the item, one of {}", methods()),
                ))
            }
        };
        let mut params = FormParams::default();
        let mut key = None;
        for (name, value) in fields {
            if name == METHOD_FIELD {
                continue;
            }
            if name == KEY_FIELD {
                key = match value {
                    Value::String(raw) => Some(IdempotencyKey::parse(KEY_FIELD, &raw)?),
                    Value::Null => None,
                    _ => return Err(ApiError::invalid(KEY_FIELD, "a string")),
                };
                continue;
            }
            let json_param = kind
                .method()
                .param(&name)
                .is_some_and(|p| p.kind == ParamKind::Json);
            let text = match value {
                Value::Null => continue,
                Value::String(s) => s,
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                doc @ (Value::Object(_) | Value::Array(_)) if json_param => doc.to_string(),
                other => {
                    return Err(ApiError::invalid(
                        &shown(&name),
                        &format!("a string, number or boolean (got {})", json_type(&other)),
                    ));
                }
            };
            params.push_received(name, text)?;
        }
        Ok(BatchItem { kind, params, key })
    }

    /// The item as a sender writes it: `method`, the key if any, and each parameter as a
    /// string (a name given twice keeps its first value: the server refuses a name
    /// repeated with different values anyway).
    pub fn to_json(&self) -> Value {
        let mut item = serde_json::Map::new();
        item.insert(METHOD_FIELD.into(), Value::from(method_name(self.kind)));
        if let Some(key) = &self.key {
            item.insert(KEY_FIELD.into(), Value::from(key.as_str()));
        }
        for (name, value) in self.params.pairs() {
            item.entry(name.clone())
                .or_insert_with(|| Value::from(value.as_str()));
        }
        Value::Object(item)
    }
}

/// What became of one item of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Stored.
    #[serde(rename = "OK")]
    Stored,
    /// A resend of a push already stored (by its key or its content); not stored again.
    #[serde(rename = "duplicate")]
    Duplicate,
    /// Refused, with the error its single push would get.
    #[serde(rename = "error")]
    Refused,
}

/// The result of one item, at its position in the batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemResult {
    /// The item's position, from 0.
    pub index: usize,
    /// What became of it.
    pub result: Outcome,
    /// The error code, when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u32>,
    /// The error message, when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ItemResult {
    /// An item stored or recognised as a resend.
    pub fn accepted(index: usize, duplicate: bool) -> Self {
        ItemResult {
            index,
            result: if duplicate {
                Outcome::Duplicate
            } else {
                Outcome::Stored
            },
            error_code: None,
            error: None,
        }
    }

    /// An item refused with `e`.
    pub fn refused(index: usize, e: &ApiError) -> Self {
        ItemResult {
            index,
            result: Outcome::Refused,
            error_code: Some(e.code.number()),
            error: Some(e.message.clone()),
        }
    }
}

/// The answer's data: counts, and one result per item in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAnswer {
    /// Items in the batch.
    pub items: usize,
    /// Items stored.
    pub stored: usize,
    /// Items recognised as resends.
    pub duplicates: usize,
    /// Items refused.
    pub refused: usize,
    /// One result per item, in order.
    pub results: Vec<ItemResult>,
}

impl BatchAnswer {
    /// The answer made of the items' results, in order.
    pub fn of(results: Vec<ItemResult>) -> Self {
        let count = |o| results.iter().filter(|r| r.result == o).count();
        BatchAnswer {
            items: results.len(),
            stored: count(Outcome::Stored),
            duplicates: count(Outcome::Duplicate),
            refused: count(Outcome::Refused),
            results,
        }
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value) -> Result<BatchItem, ApiError> {
        BatchItem::read(v)
    }

    #[test]
    fn an_item_names_its_method_short_or_dotted() {
        let a = read(json!({"method": "push_result", "ioc_type": "url"})).unwrap();
        assert_eq!(a.kind, EventKind::Ioc);
        let b = read(json!({"method": "push_detection.mail_capture.push_mail"})).unwrap();
        assert_eq!(b.kind, EventKind::Mail);
        let c = read(json!({"method": "push_file_download"})).unwrap();
        assert_eq!(c.kind, EventKind::FileDownload);
        let e = read(json!({"method": "push_ioc"})).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameter);
        assert_eq!(
            e.message,
            "invalid value for parameter 'method': expected one of push_file_download, \
             push_result, push_mail (got 'push_ioc')"
        );
        let e = read(json!({"ioc_type": "url"})).unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingParameter);
        assert!(e.message.contains("'method'"), "{}", e.message);
        let e = read(json!({"method": 3})).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameter);
        let e = read(json!(["push_result"])).unwrap_err();
        assert_eq!(e.code, ErrorCode::MalformedRequest);
        assert!(
            e.message.starts_with("the item is an array;"),
            "{}",
            e.message
        );
    }

    #[test]
    fn values_become_the_form_fields_a_single_push_would_send() {
        let item = read(json!({
            "method": "push_mail",
            "key_id": 4,
            "subkey_id": 5,
            "mail_json_str": {"subject": "hi"},
            "received_timestamp": null,
            "remote_port": 25,
            "x": true,
        }))
        .unwrap();
        let mut pairs = item.params.pairs().to_vec();
        pairs.sort();
        assert_eq!(
            pairs,
            [
                ("key_id", "4"),
                ("mail_json_str", "{\"subject\":\"hi\"}"),
                ("remote_port", "25"),
                ("subkey_id", "5"),
                ("x", "true"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        assert_eq!(item.key, None);
    }

    #[test]
    fn documents_only_where_the_parameter_holds_one() {
        let e = read(json!({"method": "push_result", "ioc_type": {"a": 1}})).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameter);
        assert_eq!(
            e.message,
            "invalid value for parameter 'ioc_type': expected a string, number or boolean \
             (got an object)"
        );
        let e = read(json!({"method": "push_result", "ioc_type": ["url"]})).unwrap_err();
        assert!(e.message.contains("(got an array)"), "{}", e.message);
    }

    #[test]
    fn item_keys_are_checked_like_header_keys() {
        let item = read(json!({"method": "push_result", "idempotency_key": "a-1"})).unwrap();
        assert_eq!(item.key.unwrap().as_str(), "a-1");
        assert!(item.params.is_empty(), "the key is no parameter");
        let item = read(json!({"method": "push_result", "idempotency_key": null})).unwrap();
        assert_eq!(item.key, None, "null is no key, as for every field");
        for bad in [
            json!(""),
            json!("a b"),
            json!("é"),
            json!(7),
            json!("k".repeat(129)),
        ] {
            let e = read(json!({"method": "push_result", "idempotency_key": bad})).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidParameter, "{bad}");
            assert!(e.message.contains("'idempotency_key'"), "{}", e.message);
        }
        let longest = "k".repeat(MAX_KEY_BYTES);
        assert!(IdempotencyKey::parse(KEY_HEADER, &longest).is_ok());
        let e = IdempotencyKey::parse(KEY_HEADER, "a\tb").unwrap_err();
        assert!(e.message.contains("'Idempotency-Key'"), "{}", e.message);
        let header = IdempotencyKey::parse(KEY_HEADER, "batch-9").unwrap();
        assert_eq!(header.for_item(3).to_string(), "batch-9/3");
    }

    #[test]
    fn an_item_written_by_a_sender_reads_back_the_same() {
        let item = BatchItem {
            kind: EventKind::Mail,
            params: FormParams::from_pairs([
                ("key_id", "4"),
                ("mail_json_str", "{}"),
                ("key_id", "4"),
            ]),
            key: Some(IdempotencyKey::parse(KEY_FIELD, "k-1").unwrap()),
        };
        let json = item.to_json();
        assert_eq!(
            json,
            json!({"method": "push_mail", "idempotency_key": "k-1", "key_id": "4",
                   "mail_json_str": "{}"})
        );
        let back = BatchItem::read(json).unwrap();
        assert_eq!(back.kind, EventKind::Mail);
        assert_eq!(back.key, item.key);
        assert_eq!(back.params.canonical(), item.params.canonical());
    }

    #[test]
    fn the_answer_counts_each_outcome_and_reads_as_the_wire_shows_it() {
        let e = ApiError::new(ErrorCode::InvalidParameter, "bad");
        let answer = BatchAnswer::of(vec![
            ItemResult::accepted(0, false),
            ItemResult::refused(1, &e),
            ItemResult::accepted(2, true),
            ItemResult::accepted(3, false),
        ]);
        assert_eq!(
            (
                answer.items,
                answer.stored,
                answer.duplicates,
                answer.refused
            ),
            (4, 2, 1, 1)
        );
        let wire = serde_json::to_value(&answer).unwrap();
        assert_eq!(
            wire["results"],
            json!([
                {"index": 0, "result": "OK"},
                {"index": 1, "result": "error", "error_code": 2002, "error": "bad"},
                {"index": 2, "result": "duplicate"},
                {"index": 3, "result": "OK"},
            ])
        );
        assert_eq!(serde_json::from_value::<BatchAnswer>(wire).unwrap(), answer);
    }

    #[test]
    fn a_body_is_an_array_or_json_lines() {
        let items = split_body(br#" [{"a":1}, 2]"#, 10).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].as_ref().unwrap(), &json!({"a": 1}));
        let items = split_body(b"{\"a\":1}\n\n{oops\r\n{\"b\":2}\n", 10).unwrap();
        assert_eq!(items.len(), 3, "blank lines are no items");
        assert_eq!(
            items[1].as_ref().unwrap_err().code,
            ErrorCode::MalformedRequest
        );
        assert_eq!(items[2].as_ref().unwrap(), &json!({"b": 2}));
        let e = split_body(b"[{\"a\":1},", 10).unwrap_err();
        assert_eq!(e.code, ErrorCode::MalformedRequest);
        assert!(
            e.message.starts_with("the body is not a JSON array"),
            "{}",
            e.message
        );
        let e = split_body(b"\n \n", 10).unwrap_err();
        assert!(
            e.message.starts_with("the batch holds no item"),
            "{}",
            e.message
        );
        let e = split_body(b"[]", 10).unwrap_err();
        assert!(
            e.message.starts_with("the batch holds no item"),
            "{}",
            e.message
        );
        let e = split_body(b"\xff", 10).unwrap_err();
        assert!(
            e.message.starts_with("the body is not UTF-8"),
            "{}",
            e.message
        );
    }

    #[test]
    fn the_item_limit_holds_for_both_shapes() {
        assert_eq!(split_body(b"[1,2,3]", 3).unwrap().len(), 3);
        let e = split_body(b"[1,2,3,4]", 3).unwrap_err();
        assert_eq!(
            e.message,
            "the batch holds 4 items; at most 3 are accepted in one request"
        );
        assert_eq!(split_body(b"1\n2\n3", 3).unwrap().len(), 3);
        let e = split_body(b"1\n2\n3\n4", 3).unwrap_err();
        assert_eq!(e.code, ErrorCode::MalformedRequest);
    }
}
