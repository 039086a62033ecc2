//! Domain values parsed from parameter text. A value of one of these types is valid by
//! construction; each parser names the parameter and what it expects when it refuses.

use crate::error::ApiError;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::{Serialize, Serializer};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest free text accepted in a parameter (filenames, user agents, names).
pub const MAX_TEXT_LEN: usize = crate::limits::MAX_TEXT_BYTES;

/// Free text: non-empty after trimming, at most [`MAX_TEXT_LEN`] bytes, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Text(String);

impl Text {
    /// Parses the value of parameter `name`.
    pub fn parse(name: &str, value: &str) -> Result<Self, ApiError> {
        let v = value.trim();
        if v.is_empty() {
            return Err(ApiError::invalid(name, "a non-empty text"));
        }
        if v.len() > MAX_TEXT_LEN {
            return Err(ApiError::invalid(
                name,
                &format!("a text of at most {MAX_TEXT_LEN} bytes"),
            ));
        }
        if v.chars().any(|c| c.is_control()) {
            return Err(ApiError::invalid(name, "a text without control characters"));
        }
        Ok(Text(v.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A DNS host name (letters, digits, '-', '_' and dots; labels up to 63, total up to 253),
/// stored in lower case so searches match however a tool spelled it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Hostname(String);

impl Hostname {
    /// Parses the value of parameter `name`.
    pub fn parse(name: &str, value: &str) -> Result<Self, ApiError> {
        const EXPECTED: &str = "a host name such as host.example.com (letters, digits, '-', '_' \
                                and dots; labels of at most 63 characters)";
        let v = value.trim().trim_end_matches('.');
        let ok = !v.is_empty()
            && v.len() <= 253
            && v.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !ok {
            return Err(ApiError::invalid(name, EXPECTED));
        }
        Ok(Hostname(v.to_ascii_lowercase()))
    }

    /// The name, lower case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A NetBIOS computer name: 1 to 15 characters, no spaces or control characters, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct NetbiosName(String);

impl NetbiosName {
    /// Parses the value of parameter `name`.
    pub fn parse(name: &str, value: &str) -> Result<Self, ApiError> {
        let v = value.trim();
        let ok = !v.is_empty()
            && v.chars().count() <= 15
            && v.chars().all(|c| !c.is_control() && !c.is_whitespace())
            && !v.contains(['\\', '/', ':', '*', '?', '"', '<', '>', '|']);
        if !ok {
            return Err(ApiError::invalid(
                name,
                "a NetBIOS name of 1 to 15 characters without spaces or \\/:*?\"<>|",
            ));
        }
        Ok(NetbiosName(v.to_uppercase()))
    }

    /// The name, upper case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Parses an IPv4 or IPv6 address.
pub fn parse_ip(name: &str, value: &str) -> Result<IpAddr, ApiError> {
    value
        .trim()
        .parse()
        .map_err(|_| ApiError::invalid(name, "an IPv4 or IPv6 address such as 192.0.2.10"))
}

/// Parses an IPv4 address.
pub fn parse_ipv4(name: &str, value: &str) -> Result<Ipv4Addr, ApiError> {
    value
        .trim()
        .parse()
        .map_err(|_| ApiError::invalid(name, "an IPv4 address such as 192.0.2.10"))
}

/// Parses an IPv6 address.
pub fn parse_ipv6(name: &str, value: &str) -> Result<Ipv6Addr, ApiError> {
    value
        .trim()
        .parse()
        .map_err(|_| ApiError::invalid(name, "an IPv6 address such as 2001:db8::10"))
}

/// Parses a TCP/UDP port, 0 to 65535.
pub fn parse_port(name: &str, value: &str) -> Result<u16, ApiError> {
    value
        .trim()
        .parse()
        .map_err(|_| ApiError::invalid(name, "a port number from 0 to 65535"))
}

/// Parses a non-negative integer id.
pub fn parse_id(name: &str, value: &str) -> Result<i64, ApiError> {
    match value.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(ApiError::invalid(name, "a non-negative integer")),
    }
}

/// Parses a boolean as Python sends it (True/False) and as people type it
/// (true/false, 1/0, yes/no, on/off, any case).
pub fn parse_bool(name: &str, value: &str) -> Result<bool, ApiError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Ok(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Ok(false),
        _ => Err(ApiError::invalid(name, "True or False")),
    }
}

/// Parses a percentage: a number from 0 to 100 (decimals allowed).
pub fn parse_percent(name: &str, value: &str) -> Result<f64, ApiError> {
    match value.trim().trim_end_matches('%').trim().parse::<f64>() {
        Ok(n) if n.is_finite() && (0.0..=100.0).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(name, "a number from 0 to 100")),
    }
}

/// The uuid of an analysis task: 32 hexadecimal characters, kept in lower case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TaskUuid(String);

impl TaskUuid {
    /// Parses the value of parameter `name`.
    pub fn parse(name: &str, value: &str) -> Result<Self, ApiError> {
        let v = value.trim();
        if v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(TaskUuid(v.to_ascii_lowercase()))
        } else {
            Err(ApiError::invalid(
                name,
                "a task uuid of 32 hexadecimal characters such as 88450dbe3c0600000ffa2b3a90b8560d",
            ))
        }
    }

    /// The uuid, lower case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The UUID of an IOC, in any of its common notations: hyphenated, 32 hex digits, in
/// braces, as a `urn:uuid:` URN, or as a STIX 2.1 identifier (`indicator--<uuid>`, any
/// STIX object type). Kept in one form, hyphenated and lower case, so that the same IOC
/// dedups and is found however a tool writes it; the value as sent stays in the event's
/// raw parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct IocUuid(String);

impl IocUuid {
    /// Parses the value of parameter `name`.
    pub fn parse(name: &str, value: &str) -> Result<Self, ApiError> {
        let refuse = || {
            ApiError::invalid(
                name,
                "a UUID such as 0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10 (also as 32 hex digits, \
                 in braces, as urn:uuid:…, or a STIX identifier such as indicator--0b3c7e8a-…)",
            )
        };
        let mut v = value.trim();
        if v.get(..9)
            .is_some_and(|p| p.eq_ignore_ascii_case("urn:uuid:"))
            && v.len() > 9
        {
            v = &v[9..];
        } else if let Some((kind, uuid)) = v.split_once("--") {
            // STIX 2.1 object types: 3 to 250 of a-z, 0-9 and '-' (section 2.9).
            let kind_ok = (3..=250).contains(&kind.len())
                && kind
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !kind_ok {
                return Err(refuse());
            }
            v = uuid;
        } else if let Some(inner) = v.strip_prefix('{').and_then(|v| v.strip_suffix('}')) {
            v = inner;
        }
        let hex: String = v.chars().filter(|c| *c != '-').collect();
        let hyphens_ok = !v.contains('-')
            || (v.len() == 36 && [8, 13, 18, 23].iter().all(|i| v.as_bytes()[*i] == b'-'));
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) || !hyphens_ok {
            return Err(refuse());
        }
        let h = hex.to_ascii_lowercase();
        Ok(IocUuid(format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )))
    }

    /// The UUID, hyphenated and lower case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A point in time, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
    }
}

const TIME_EXPECTED: &str =
    "a time as epoch seconds, 'YYYY-MM-DD HH:MM:SS' (UTC) or RFC 3339 such as 2024-05-01T17:24:16Z";

impl Timestamp {
    /// Parses epoch seconds (decimals allowed), "YYYY-MM-DD HH:MM:SS[.fff]" (UTC),
    /// "YYYY-MM-DD" (midnight UTC) or RFC 3339.
    pub fn parse(name: &str, value: &str) -> Result<Self, ApiError> {
        let t = Self::parse_any(name, value)?;
        if !t.in_range() {
            return Err(ApiError::invalid(
                name,
                "a time between 1970-01-01 and 9999-12-31 (UTC)",
            ));
        }
        Ok(t)
    }

    /// Whether the time lies within the years every reader can show and sort: 1970 (the
    /// epoch; before it is a sensor's unset clock read backwards) to 9999.
    pub fn in_range(self) -> bool {
        let y = self.0.year();
        (1970..=9999).contains(&y)
    }

    fn parse_any(name: &str, value: &str) -> Result<Self, ApiError> {
        let v = value.trim();
        let err = || ApiError::invalid(name, TIME_EXPECTED);
        if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            let secs: f64 = v.parse().map_err(|_| err())?;
            let millis = (secs * 1000.0).round() as i64;
            return Utc
                .timestamp_millis_opt(millis)
                .single()
                .map(Timestamp)
                .ok_or_else(err);
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(v) {
            return Ok(Timestamp(t.with_timezone(&Utc)));
        }
        for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
            if let Ok(t) = NaiveDateTime::parse_from_str(v, fmt) {
                return Ok(Timestamp(t.and_utc()));
            }
        }
        if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            return Ok(Timestamp(d.and_hms_opt(0, 0, 0).ok_or_else(err)?.and_utc()));
        }
        Err(err())
    }

    /// Parses exactly "YYYY-MM-DD HH:MM:SS" (UTC), the mail object's received_timestamp format.
    pub fn parse_utc_seconds(value: &str) -> Option<Self> {
        NaiveDateTime::parse_from_str(value.trim(), "%Y-%m-%d %H:%M:%S")
            .ok()
            .map(|t| Timestamp(t.and_utc()))
            .filter(|t| t.in_range())
    }

    /// Parses an RFC 2822 date as found in a mail's Date header; a trailing comment such as
    /// "(EST)" is allowed.
    pub fn parse_rfc2822(value: &str) -> Option<Self> {
        let mut v = value.trim();
        while let Some(stripped) = v.strip_suffix(')') {
            match stripped.rfind('(') {
                Some(open) => v = stripped[..open].trim_end(),
                None => break,
            }
        }
        DateTime::parse_from_rfc2822(v)
            .ok()
            .map(|t| Timestamp(t.with_timezone(&Utc)))
            .filter(|t| t.in_range())
    }

    /// Milliseconds since the epoch, as stored.
    pub fn millis(self) -> i64 {
        self.0.timestamp_millis()
    }

    /// The time for stored milliseconds.
    pub fn from_millis(millis: i64) -> Self {
        Timestamp(
            Utc.timestamp_millis_opt(millis)
                .single()
                .unwrap_or_default(),
        )
    }
}

/// Declares a closed set of values with its canonical spelling; parsing ignores case.
macro_rules! value_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in canonical spelling.
            pub const ALLOWED: &'static [&'static str] = &[$($text),+];

            /// The canonical spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the value of parameter `name`, ignoring case.
            pub fn parse(name: &str, value: &str) -> Result<Self, ApiError> {
                let v = value.trim();
                $(if v.eq_ignore_ascii_case($text) { return Ok($name::$variant); })+
                Err(ApiError::invalid(name, &format!("one of {}", Self::ALLOWED.join(", "))))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use value_enum;

value_enum!(
    /// Protocol used to download a file.
    ApplicationProtocol {
        /// HTTP.
        Http => "HTTP",
        /// HTTPS.
        Https => "HTTPS",
        /// FTP.
        Ftp => "FTP",
        /// SMB.
        Smb => "SMB",
        /// Anything else.
        Other => "other",
    }
);

value_enum!(
    /// Transport protocol of a download.
    TransportProtocol {
        /// TCP.
        Tcp => "TCP",
        /// UDP.
        Udp => "UDP",
    }
);

value_enum!(
    /// FTP transfer mode.
    FtpMode {
        /// Active mode.
        Active => "active",
        /// Passive mode.
        Passive => "passive",
    }
);

value_enum!(
    /// FTP transfer direction.
    FtpDirection {
        /// Upload.
        Upload => "upload",
        /// Download.
        Download => "download",
    }
);

value_enum!(
    /// SMB transfer direction.
    SmbDirection {
        /// Read.
        Read => "read",
        /// Write.
        Write => "write",
    }
);

value_enum!(
    /// What a mail gateway did with one attachment or URL.
    ItemAction {
        /// Logged only.
        Log => "LOG",
        /// Warned the recipient.
        Warn => "WARN",
        /// Blocked.
        Block => "BLOCK",
    }
);

value_enum!(
    /// What a mail gateway did with the whole message.
    MailAction {
        /// Logged only.
        Log => "LOG",
        /// Blocked.
        Block => "BLOCK",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_accepted_format() {
        let want = Utc.with_ymd_and_hms(2018, 6, 4, 10, 11, 12).unwrap();
        for v in [
            "1528107072",
            "1528107072.0",
            "2018-06-04 10:11:12",
            "2018-06-04T10:11:12Z",
            "2018-06-04T12:11:12+02:00",
        ] {
            assert_eq!(Timestamp::parse("t", v).unwrap().0, want, "{v}");
        }
        assert!(Timestamp::parse("t", "04/06/2018").is_err());
        assert!(Timestamp::parse("t", "2018-13-04 10:11:12").is_err());
    }

    #[test]
    fn rfc2822_with_trailing_comment() {
        let t = Timestamp::parse_rfc2822("Tue, 1 May 2018 17:24:16 -0400 (EST)").unwrap();
        assert_eq!(t.0, Utc.with_ymd_and_hms(2018, 5, 1, 21, 24, 16).unwrap());
        assert!(Timestamp::parse_rfc2822("yesterday").is_none());
    }

    #[test]
    fn enums_ignore_case_and_keep_canonical_spelling() {
        assert_eq!(
            ApplicationProtocol::parse("p", "https").unwrap().as_str(),
            "HTTPS"
        );
        assert_eq!(
            ApplicationProtocol::parse("p", "OTHER").unwrap().as_str(),
            "other"
        );
        let err = ApplicationProtocol::parse("application_protocol", "gopher").unwrap_err();
        assert!(err.message.contains("application_protocol"));
        assert!(err.message.contains("HTTP, HTTPS, FTP, SMB, other"));
    }

    #[test]
    fn booleans_as_python_and_people_write_them() {
        for v in ["True", "true", "1", "yes", "ON"] {
            assert!(parse_bool("b", v).unwrap());
        }
        for v in ["False", "false", "0", "no", "off"] {
            assert!(!parse_bool("b", v).unwrap());
        }
        assert!(parse_bool("b", "maybe").is_err());
    }

    #[test]
    fn uuids_normalise() {
        assert_eq!(
            TaskUuid::parse("t", "88450DBE3C0600000FFA2B3A90B8560D")
                .unwrap()
                .as_str(),
            "88450dbe3c0600000ffa2b3a90b8560d"
        );
        assert!(TaskUuid::parse("t", "88450dbe3c0600000ffa2b3a90b8560").is_err());
        assert!(TaskUuid::parse("t", "88450dbe3c0600000ffa2b3a90b8560g").is_err());
        let canonical = "0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10";
        for notation in [
            "0B3C7E8A2F554D3E9A512D1F7C9E6B10",
            "0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10",
            " {0B3C7E8A-2F55-4D3E-9A51-2D1F7C9E6B10} ",
            "urn:uuid:0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10",
            "URN:UUID:0b3c7e8a2f554d3e9a512d1f7c9e6b10",
            "indicator--0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10",
            "observed-data--0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10",
        ] {
            let parsed =
                IocUuid::parse("i", notation).unwrap_or_else(|e| panic!("{notation}: {e:?}"));
            assert_eq!(parsed.0, canonical, "{notation}");
        }
        for bad in [
            "0b3c7e8a2-f55-4d3e-9a51-2d1f7c9e6b10",
            "Indicator--0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10",
            "ab--0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10",
            "indicator--{0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10}",
            "urn:uuid:",
            "{0b3c7e8a-2f55-4d3e-9a51-2d1f7c9e6b10",
            "0b3c7e8a--2f55-4d3e-9a51-2d1f7c9e6b10",
        ] {
            assert!(IocUuid::parse("i", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hostnames_and_ports() {
        assert_eq!(
            Hostname::parse("h", "WS-01.Corp.Example.")
                .unwrap()
                .as_str(),
            "ws-01.corp.example"
        );
        assert!(Hostname::parse("h", "bad host").is_err());
        assert!(Hostname::parse("h", "a..b").is_err());
        assert_eq!(parse_port("p", "65535").unwrap(), 65535);
        assert!(parse_port("p", "65536").is_err());
        assert!(parse_port("p", "-1").is_err());
        assert!(parse_percent("c", "100").is_ok());
        assert!(parse_percent("c", "100.5").is_err());
    }

    #[test]
    fn times_outside_the_years_1970_to_9999_are_refused() {
        for bad in ["253402300800", "-1", "10000-01-01", "1969-12-31 23:59:59"] {
            let e = Timestamp::parse("check_time_start", bad).unwrap_err();
            assert!(
                e.message.contains("'check_time_start'"),
                "{bad}: {}",
                e.message
            );
        }
        assert!(Timestamp::parse("t", "253402300799").is_ok());
        assert!(Timestamp::parse("t", "0").is_ok());
        assert!(Timestamp::parse_utc_seconds("1969-12-31 23:59:59").is_none());
    }

    #[test]
    fn a_multibyte_character_where_a_prefix_would_end_is_refused_not_a_panic() {
        assert!(IocUuid::parse(
            "ioc_uuid",
            "abcdefgh\u{202E}0b3c7e8a2f554d3e9a512d1f7c9e6b10"
        )
        .is_err());
    }
}
