//! The read API's methods about a user's own access: their password (changed by them,
//! reset by an admin) and their API tokens (created, listed, revoked). The rules a new
//! password, a token's name, scope and lifetime must meet are here, beside the
//! parameters, so the read API, the console and the CLI apply the same ones.

use crate::error::ApiError;
use crate::method::{e, p, MethodSpec, ParamKind as K, Requirement::*};
use crate::values::value_enum;
use serde::{Serialize, Serializer};
use std::fmt;

/// The fewest characters of a password a user chooses.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The most characters of a password (argon2 hashes every byte it is given).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// What a new password must be, as refusals say it.
pub const PASSWORD_EXPECTED: &str = "a password of 12 to 256 characters, without control \
                                     characters or spaces at either end";

/// `user.password.change`: the calling user's own password.
pub const PASSWORD_CHANGE: MethodSpec = MethodSpec {
    name: "user.password.change",
    path: "user/password/change",
    http_method: "POST",
    summary: "Change your own password; every session of yours ends and this one is renewed",
    params: &[
        p(
            "current_password",
            K::Text,
            Required,
            "Your password now.",
        ),
        p(
            "new_password",
            K::Text,
            Required,
            "The new password: 12 to 256 characters, no control characters or spaces at either end.",
        ),
    ],
};

/// `user.password.reset`: an admin gives a user of the account a new random password.
pub const PASSWORD_RESET: MethodSpec = MethodSpec {
    name: "user.password.reset",
    path: "user/password/reset",
    http_method: "POST",
    summary: "Give a user of your account a new random password, answered once; their sessions end (admin users only)",
    params: &[p(
        "username",
        K::Text,
        Required,
        "The user's login name.",
    )],
};

value_enum!(
    /// What an API token may do on behalf of its user.
    TokenScope {
        /// The read API's reading calls only (lists, records, histories): a SIEM pull or a
        /// dashboard.
        Read => "read",
        /// Everything its user's role allows, except managing passwords and tokens.
        Write => "write",
    }
);

/// The longest lifetime of an API token, in days (ten years); none given means it lasts
/// until revoked.
pub const MAX_TOKEN_DAYS: i64 = 3650;

/// The most API tokens one user may hold: enough for every script, few enough to review.
pub const MAX_TOKENS_PER_USER: usize = 50;

/// What prefixes every API token, so that one found in a log or a repository is
/// recognised (and secret scanners can match it).
pub const TOKEN_PREFIX: &str = "pdt_";

/// `user.token.create`.
pub const TOKEN_CREATE: MethodSpec = MethodSpec {
    name: "user.token.create",
    path: "user/token/create",
    http_method: "POST",
    summary:
        "Create an API token for yourself, answered once; scripts send it as Authorization: Bearer",
    params: &[
        p(
            "name",
            K::Text,
            Required,
            "What it is for, unique among your tokens: 1 to 64 characters.",
        ),
        e(
            "scope",
            TokenScope::ALLOWED,
            Optional,
            "read (the reading calls only; the default) or write (what your role allows).",
        ),
        p(
            "expires_days",
            K::Integer,
            Optional,
            "Days until it stops working, 1 to 3650 (default: until revoked).",
        ),
    ],
};

/// `user.token.list`.
pub const TOKEN_LIST: MethodSpec = MethodSpec {
    name: "user.token.list",
    path: "user/token/list",
    http_method: "GET",
    summary:
        "Your API tokens (an admin's answer lists every token of the account), never the secrets",
    params: &[],
};

/// `user.token.revoke`.
pub const TOKEN_REVOKE: MethodSpec = MethodSpec {
    name: "user.token.revoke",
    path: "user/token/revoke",
    http_method: "POST",
    summary:
        "Revoke an API token: yours, or as an admin any of the account's; it stops working at once",
    params: &[p(
        "token_id",
        K::Integer,
        Required,
        "The token's id, as token/list gives it.",
    )],
};

/// Parses a token's name: 1 to 64 characters without control characters.
pub fn parse_token_name(name: &str, value: &str) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > 64 || v.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            name,
            "a name of 1 to 64 characters without control characters",
        ));
    }
    Ok(v.to_owned())
}

/// Parses a token's lifetime in days, 1 to [`MAX_TOKEN_DAYS`].
pub fn parse_token_days(name: &str, value: &str) -> Result<i64, ApiError> {
    match value.trim().parse::<i64>() {
        Ok(d) if (1..=MAX_TOKEN_DAYS).contains(&d) => Ok(d),
        _ => Err(ApiError::invalid(name, "a number of days from 1 to 3650")),
    }
}

/// The most days an account may keep its events (ten years); at least one.
pub const MAX_RETENTION_DAYS: i64 = 3650;

/// Parses how long an account keeps its events: days from 1 to [`MAX_RETENTION_DAYS`], or
/// `off` (also `forever`, `never`) for no limit (`None`).
pub fn parse_retention_days(name: &str, value: &str) -> Result<Option<i64>, ApiError> {
    let v = value.trim();
    if ["off", "forever", "never"]
        .iter()
        .any(|w| v.eq_ignore_ascii_case(w))
    {
        return Ok(None);
    }
    match v.parse::<i64>() {
        Ok(d) if (1..=MAX_RETENTION_DAYS).contains(&d) => Ok(Some(d)),
        _ => Err(ApiError::invalid(
            name,
            "a number of days from 1 to 3650, or off to keep events for ever",
        )),
    }
}

/// A password a user chose, as it will be hashed: long enough to resist guessing, short
/// enough to hash cheaply, and without what a login form would trim or cannot carry.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl NewPassword {
    /// Parses the value of parameter `name`.
    pub fn parse(name: &str, value: &str) -> Result<Self, ApiError> {
        let chars = value.chars().count();
        let ok = (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars)
            && !value.chars().any(char::is_control)
            && value.trim() == value;
        if ok {
            Ok(NewPassword(value.to_owned()))
        } else {
            Err(ApiError::invalid(name, PASSWORD_EXPECTED))
        }
    }

    /// The password, to hash.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Never shows the password itself, should a value be logged by mistake.
impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_1_to_3650_days_or_off() {
        assert_eq!(parse_retention_days("days", "1").unwrap(), Some(1));
        assert_eq!(parse_retention_days("days", " 3650 ").unwrap(), Some(3650));
        for off in ["off", "OFF", "forever", "never"] {
            assert_eq!(parse_retention_days("days", off).unwrap(), None, "{off}");
        }
        for bad in ["0", "3651", "-5", "", "30d"] {
            let e = parse_retention_days("days", bad).unwrap_err();
            assert!(
                e.message.contains("'days'") && e.message.contains("off"),
                "{bad}"
            );
        }
    }

    #[test]
    fn token_names_scopes_and_lifetimes_are_bounded() {
        assert_eq!(
            parse_token_name("name", "  siem pull ").unwrap(),
            "siem pull"
        );
        assert!(parse_token_name("name", &"n".repeat(64)).is_ok());
        for bad in ["", "   ", "tab\there"] {
            let e = parse_token_name("name", bad).unwrap_err();
            assert!(e.message.contains("'name'"), "{}", e.message);
        }
        assert!(parse_token_name("name", &"n".repeat(65)).is_err());
        assert_eq!(parse_token_days("d", "1").unwrap(), 1);
        assert_eq!(parse_token_days("d", " 3650 ").unwrap(), 3650);
        for bad in ["0", "3651", "-1", "x", "1.5"] {
            let e = parse_token_days("expires_days", bad).unwrap_err();
            assert!(e.message.contains("1 to 3650"), "{bad}: {}", e.message);
        }
        assert_eq!(
            TokenScope::parse("scope", "READ").unwrap(),
            TokenScope::Read
        );
        assert_eq!(TokenScope::Write.as_str(), "write");
        assert!(TokenScope::parse("scope", "admin").is_err());
    }

    #[test]
    fn a_new_password_has_12_to_256_characters() {
        let refused = |v: &str| {
            let e = NewPassword::parse("new_password", v).unwrap_err();
            assert!(e.message.contains("'new_password'"), "{}", e.message);
            assert!(e.message.contains("12 to 256 characters"), "{}", e.message);
        };
        refused("");
        refused("elevenchars");
        refused(&"x".repeat(257));
        assert_eq!(
            NewPassword::parse("p", "twelve chars").unwrap().expose(),
            "twelve chars"
        );
        assert!(NewPassword::parse("p", &"x".repeat(256)).is_ok());
        // Characters, not bytes: twelve umlauts are twelve characters.
        assert!(NewPassword::parse("p", &"ü".repeat(12)).is_ok());
        refused(&"ü".repeat(11));
    }

    #[test]
    fn a_new_password_has_no_control_characters_or_spaces_at_either_end() {
        for bad in [
            " leading space1",
            "trailing space1 ",
            "tab\tinside here",
            "new\nline inside",
        ] {
            assert!(NewPassword::parse("p", bad).is_err(), "{bad:?}");
        }
        assert!(NewPassword::parse("p", "inner spaces are fine").is_ok());
    }

    #[test]
    fn a_new_password_is_not_shown_by_debug() {
        let p = NewPassword::parse("p", "correct horse battery").unwrap();
        assert_eq!(format!("{p:?}"), "NewPassword(***)");
    }
}
