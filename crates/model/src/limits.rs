//! Every size and count a request may have, in one place (docs/security.md lists them).
//!
//! A value larger than its limit is refused with an error that names the field, before any
//! work is done on it: one oversized field must not cost the server memory or CPU that
//! every other caller then lacks.

use crate::method::ParamKind;

/// Form fields one request may carry (query string and body together).
pub const MAX_FIELDS: usize = 256;

/// Largest body of a login (PAPI or console), read before anyone is known: credentials
/// are short, and a thousand connections must not make the server buffer gigabytes.
pub const MAX_LOGIN_BODY_BYTES: usize = 16 * 1024;

/// Longest field name, in bytes (the longest name of any method is far shorter).
pub const MAX_NAME_BYTES: usize = 64;

/// Longest free text (file names, user agents, referers, names), in bytes.
pub const MAX_TEXT_BYTES: usize = 4096;

/// Longest value of a field of this kind, in bytes.
pub const fn max_value_bytes(kind: ParamKind) -> usize {
    match kind {
        // Free text: file names, user agents, referers, names.
        ParamKind::Text => MAX_TEXT_BYTES,
        // The mail object: its own fields are bounded again inside.
        ParamKind::Json => 1024 * 1024,
        // A DNS name is at most 253 characters.
        ParamKind::Hostname => 255,
        // A comment of up to 10,000 characters, each up to 4 bytes.
        ParamKind::Note => 4 * crate::workflow::MAX_COMMENT_CHARS,
        ParamKind::SensorKey => 256,
        ParamKind::Enum => 64,
        ParamKind::Ip
        | ParamKind::Ipv4
        | ParamKind::Ipv6
        | ParamKind::Port
        | ParamKind::Time
        | ParamKind::Bool
        | ParamKind::Integer
        | ParamKind::Percent
        | ParamKind::TaskUuid
        | ParamKind::Uuid => 128,
    }
}

/// Longest mail subject, in bytes.
pub const MAX_SUBJECT_BYTES: usize = 4 * 1024;
/// Longest Message-ID (one header line of RFC 5322).
pub const MAX_MESSAGE_ID_BYTES: usize = 998;
/// Longest mail address (RFC 5321's path limit).
pub const MAX_ADDRESS_BYTES: usize = 320;
/// Longest attachment file name.
pub const MAX_FILENAME_BYTES: usize = 1024;
/// Longest URL in a mail object.
pub const MAX_URL_BYTES: usize = 8 * 1024;
/// Longest date header of a mail object.
pub const MAX_DATE_BYTES: usize = 256;
/// Recipients, attachments and URLs one mail object may list, each.
pub const MAX_MAIL_ITEMS: usize = 1000;
