//! The filters of the event and incident lists, read the same way by the read API
//! (`papi/events.rs`) and the console (`console/events.rs`, `console/incidents.rs`): one
//! parser per filter, and the cursor texts of both lists' pages. A refused value is a
//! [`Refused`] naming the filter and what it expects: the read API answers it as an
//! invalid parameter, the console shows it above its form.

use pushdetect_model::values::{parse_percent, Hostname, ItemAction, Text};
use pushdetect_model::{ApiError, EventKind, Timestamp};
use pushdetect_store::{EventCursor, EventOrder};

/// A filter value that was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    name: String,
    got: String,
    expected: String,
    /// The model's own error, when a model parser refused it (the read API answers it).
    error: Option<ApiError>,
}

impl Refused {
    fn new(name: &str, got: &str, expected: &str) -> Self {
        Refused {
            name: name.to_owned(),
            got: got.trim().to_owned(),
            expected: expected.to_owned(),
            error: None,
        }
    }

    /// Refused by a model parser: its error, and what the console says is expected.
    fn by_model(name: &str, got: &str, expected: &str, error: ApiError) -> Self {
        Refused {
            error: Some(error),
            ..Refused::new(name, got, expected)
        }
    }

    /// The console's sentence: "'order' must be one of ..., not 'score'".
    pub fn sentence(&self) -> String {
        format!(
            "'{}' must be {}, not '{}'",
            self.name, self.expected, self.got
        )
    }
}

impl From<Refused> for ApiError {
    fn from(r: Refused) -> Self {
        r.error
            .unwrap_or_else(|| ApiError::invalid(&r.name, &r.expected))
    }
}

/// A parser of a closed set of values of the model (a status, a resolution) as filters
/// refuse: "one of …".
pub fn one_of<T>(
    parse: fn(&str, &str) -> Result<T, ApiError>,
    allowed: &'static [&'static str],
) -> impl FnOnce(&str, &str) -> Result<T, Refused> {
    move |name, value| {
        parse(name, value).map_err(|e| {
            Refused::by_model(name, value, &format!("one of {}", allowed.join(", ")), e)
        })
    }
}

/// A refusal of a field that must be one of `expected`.
pub fn refuse(name: &str, got: &str, expected: &str) -> Refused {
    Refused::new(name, got, expected)
}

/// A field of a form, where empty means absent: `None`, or what `parse` reads.
pub fn optional<T>(
    name: &str,
    value: &str,
    parse: impl FnOnce(&str, &str) -> Result<T, Refused>,
) -> Result<Option<T>, Refused> {
    match value.trim() {
        "" => Ok(None),
        v => parse(name, v).map(Some),
    }
}

/// `type`: an event kind.
pub fn kind(name: &str, v: &str) -> Result<String, Refused> {
    EventKind::from_name(v.trim())
        .map(|k| k.as_str().to_owned())
        .ok_or_else(|| Refused::new(name, v, &EventKind::expected()))
}

/// `order`: the order of an event list.
pub fn order(name: &str, v: &str) -> Result<EventOrder, Refused> {
    EventOrder::from_name(v).ok_or_else(|| Refused::new(name, v, &EventOrder::expected()))
}

/// `action`: the strongest action a tool took, in any case.
pub fn action(name: &str, v: &str) -> Result<String, Refused> {
    ItemAction::parse(name, v)
        .map(|a| a.as_str().to_owned())
        .map_err(|e| Refused::by_model(name, v, "one of LOG, WARN, BLOCK", e))
}

/// `min_impact`, `max_impact`: a number from 0 to 100, rounded to a whole one.
pub fn impact(name: &str, v: &str) -> Result<i64, Refused> {
    parse_percent(name, v)
        .map(|p| p.round() as i64)
        .map_err(|e| Refused::by_model(name, v, "a number from 0 to 100", e))
}

/// `host`: matched as stored, IP addresses canonical, names and mail addresses in lower
/// case.
pub fn host(name: &str, v: &str) -> Result<String, Refused> {
    let t = v.trim();
    if let Ok(ip) = t.parse::<std::net::IpAddr>() {
        return Ok(ip.to_string());
    }
    if t.contains('@') {
        return Ok(t.to_ascii_lowercase());
    }
    Hostname::parse(name, t)
        .map(|h| h.as_str().to_owned())
        .map_err(|e| Refused::by_model(name, v, "an IP address, a host name or a mail address", e))
}

/// `after`, `before`: a time in any form the API accepts, or as a browser's date and time
/// field sends it (`2026-11-28T10:00`, UTC), in milliseconds.
pub fn time(name: &str, v: &str) -> Result<i64, Refused> {
    Timestamp::parse(name, v)
        .or_else(|e| {
            let local = v.trim().replace('T', " ");
            Timestamp::parse(name, &format!("{local}:00")).map_err(|_| e)
        })
        .map(Timestamp::millis)
        .map_err(|e| Refused::by_model(name, v, "a date and time such as 2026-11-28T10:00", e))
}

/// `sensor` as the console's form picks it: a sensor's id (the read API names a sensor by
/// its key instead).
pub fn sensor_id(name: &str, v: &str) -> Result<i64, Refused> {
    v.trim()
        .parse()
        .map_err(|_| Refused::new(name, v, "a sensor id (a number)"))
}

/// `vendor_name`, `tool_name`, `q`: a non-empty text.
pub fn text(name: &str, v: &str) -> Result<String, Refused> {
    Text::parse(name, v)
        .map(|t| t.to_string())
        .map_err(|e| Refused::by_model(name, v, "a text", e))
}

/// The text of an event list's cursor: `occurred.id`, or `impact.occurred.id` in impact
/// order.
pub fn event_cursor(c: &EventCursor, order: EventOrder) -> String {
    match order {
        EventOrder::Impact => format!("{}.{}.{}", c.impact, c.occurred_at_ms, c.id),
        EventOrder::Newest | EventOrder::Oldest => format!("{}.{}", c.occurred_at_ms, c.id),
    }
}

/// Reads a cursor written by [`event_cursor`] for the same order.
pub fn parse_event_cursor(name: &str, v: &str, order: EventOrder) -> Result<EventCursor, Refused> {
    let parts: Option<Vec<i64>> = v.trim().split('.').map(|p| p.parse().ok()).collect();
    match (order, parts.as_deref()) {
        (EventOrder::Impact, Some(&[impact, occurred_at_ms, id])) => Ok(EventCursor {
            impact,
            occurred_at_ms,
            id,
        }),
        (EventOrder::Newest | EventOrder::Oldest, Some(&[occurred_at_ms, id])) => Ok(EventCursor {
            impact: -1,
            occurred_at_ms,
            id,
        }),
        _ => Err(Refused::new(
            name,
            v,
            "the next_cursor of a previous page with the same order",
        )),
    }
}

/// Reads an incident list's cursor: `last.id` (last event time, incident id).
pub fn parse_pair_cursor(name: &str, v: &str) -> Result<(i64, i64), Refused> {
    v.trim()
        .split_once('.')
        .and_then(|(at, id)| Some((at.parse().ok()?, id.parse().ok()?)))
        .ok_or_else(|| Refused::new(name, v, "the next_cursor of a previous page"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_and_the_console_word_one_refusal_each_their_way() {
        let r = order("order", "score").unwrap_err();
        assert_eq!(
            r.sentence(),
            "'order' must be one of newest, oldest, impact, not 'score'"
        );
        assert_eq!(
            ApiError::from(r).message,
            "invalid value for parameter 'order': expected one of newest, oldest, impact"
        );
        // A model parser's refusal reaches the API as the model worded it.
        let model = Timestamp::parse("after", "soon").unwrap_err();
        assert_eq!(ApiError::from(time("after", "soon").unwrap_err()), model);
    }

    #[test]
    fn times_are_read_as_the_api_and_as_a_browser_sends_them() {
        let api = time("after", "2026-11-28 10:00:00").unwrap();
        assert_eq!(time("after", "2026-11-28T10:00").unwrap(), api);
        assert_eq!(time("after", " 2026-11-28T10:00:00Z ").unwrap(), api);
    }

    #[test]
    fn hosts_are_matched_as_stored() {
        assert_eq!(host("host", " 2001:DB8::1 ").unwrap(), "2001:db8::1");
        assert_eq!(
            host("host", "Mail@Example.COM").unwrap(),
            "mail@example.com"
        );
        assert_eq!(
            host("host", "WS-1.Example.com.").unwrap(),
            "ws-1.example.com"
        );
        assert!(host("host", "a b").is_err());
    }

    #[test]
    fn cursors_read_back_what_they_wrote() {
        let c = EventCursor {
            impact: 70,
            occurred_at_ms: 1_700_000_000_000,
            id: 9,
        };
        let text = event_cursor(&c, EventOrder::Impact);
        assert_eq!(text, "70.1700000000000.9");
        assert_eq!(
            parse_event_cursor("cursor", &text, EventOrder::Impact),
            Ok(c)
        );
        assert!(parse_event_cursor("cursor", &text, EventOrder::Newest).is_err());
        let newest = event_cursor(&c, EventOrder::Newest);
        assert_eq!(newest, "1700000000000.9");
        assert_eq!(
            parse_event_cursor("cursor", &newest, EventOrder::Oldest)
                .unwrap()
                .id,
            9
        );
        assert_eq!(parse_pair_cursor("cursor", "5.6"), Ok((5, 6)));
        assert!(parse_pair_cursor("cursor", "5").is_err());
    }
}
