//! Network selection: which sensor a push is recorded against.

use crate::error::ApiError;
use crate::params::ParamReader;
use crate::values::parse_id;
use serde::Serialize;

/// The sensor named by a push: `key` = "access_key:subkey", or `key_id` + `subkey_id`.
/// Whether the caller may use it is decided by the server against the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum NetworkSelection {
    /// A full sensor key.
    SensorKey {
        /// The license's access key.
        access_key: String,
        /// The sensor's subkey.
        subkey: String,
    },
    /// License and sensor ids.
    Ids {
        /// The license id.
        key_id: i64,
        /// The sensor id.
        subkey_id: i64,
    },
}

const KEY_EXPECTED: &str = "a sensor key 'access_key:subkey' (or key_id with subkey_id)";

impl NetworkSelection {
    /// Reads `key`, or `key_id` with `subkey_id`; exactly one form is required.
    pub fn read(params: &ParamReader<'_>) -> Result<Self, ApiError> {
        let ids_given = params.has("key_id") || params.has("subkey_id");
        if let Some(key) = params.get("key") {
            if ids_given {
                return Err(ApiError::conflict(
                    "give either 'key' or 'key_id' with 'subkey_id', not both",
                ));
            }
            return Self::parse_key("key", key);
        }
        if !ids_given {
            return Err(ApiError::missing("key", KEY_EXPECTED));
        }
        let key_id = params.parse_req(
            "key_id",
            "the license id, given together with subkey_id",
            parse_id,
        )?;
        let subkey_id = params.parse_req(
            "subkey_id",
            "the sensor id, given together with key_id: events are recorded against a sensor",
            parse_id,
        )?;
        Ok(NetworkSelection::Ids { key_id, subkey_id })
    }

    /// Parses "access_key:subkey".
    pub fn parse_key(name: &str, value: &str) -> Result<Self, ApiError> {
        let v = value.trim();
        match v.split_once(':') {
            Some((access_key, subkey)) if valid_key_part(access_key) && valid_key_part(subkey) => {
                Ok(NetworkSelection::SensorKey {
                    access_key: access_key.to_owned(),
                    subkey: subkey.to_owned(),
                })
            }
            _ => Err(ApiError::invalid(
                name,
                "a full sensor key 'access_key:subkey' (an access key alone names a license, \
                 not a sensor)",
            )),
        }
    }
}

fn valid_key_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
