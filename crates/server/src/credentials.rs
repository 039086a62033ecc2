//! Secrets: generation of passwords, tokens, keys and session ids; argon2 hashing and
//! verification. Secrets are stored only as hashes and never logged.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// A random alphanumeric secret (62 symbols: about 5.95 bits per character).
pub fn random_alphanumeric(len: usize) -> String {
    Alphanumeric.sample_string(&mut OsRng, len)
}

/// A random upper-case alphanumeric string, used for access keys and subkeys.
pub fn random_key(len: usize) -> String {
    random_alphanumeric(len).to_ascii_uppercase()
}

/// A new session id: 256 random bits, hex.
pub fn new_session_id() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A new analysis task uuid: 128 random bits as 32 lower-case hex characters.
pub fn random_task_uuid() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A new API token: the recognisable prefix and 40 random alphanumeric characters
/// (about 238 bits).
pub fn new_api_token() -> String {
    format!(
        "{}{}",
        pushdetect_model::account_api::TOKEN_PREFIX,
        random_alphanumeric(40)
    )
}

/// What the store keeps of a session id or an API token: its SHA-256 (either has over 200
/// bits of entropy, so a fast hash suffices and lookups stay cheap).
pub fn session_id_hash(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// Hashes a password or API token with argon2id (PHC string).
pub fn hash_secret(secret: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
}

/// Verifies a secret against a stored hash in constant time. With no stored hash (unknown
/// user) a dummy hash is verified instead, so the answer takes as long either way.
pub fn verify_secret(secret: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_secret("pushdetect-dummy-secret"));
    let (hash, real) = match stored {
        Some(h) => (h, true),
        None => (dummy.as_str(), false),
    };
    let ok = PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false);
    ok && real
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_the_right_secret() {
        let h = hash_secret("s3cret");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_secret("s3cret", Some(&h)));
        assert!(!verify_secret("s3cret!", Some(&h)));
        assert!(!verify_secret("s3cret", None));
    }

    #[test]
    fn session_ids_are_long_and_distinct() {
        let a = new_session_id();
        assert_eq!(a.len(), 64);
        assert_ne!(a, new_session_id());
        assert_ne!(session_id_hash(&a), a);
    }
}
