//! The read API's password methods: a user changes their own password; an admin resets
//! another user's. The rule a new password must meet is here, beside their parameters, so
//! the read API, the console and the CLI apply the same one.

use crate::error::ApiError;
use crate::method::{p, MethodSpec, ParamKind as K, Requirement::*};

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
impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
