//! The reporting tool named by every push.

use crate::error::ApiError;
use crate::params::ParamReader;
use crate::values::Text;
use serde::Serialize;

/// Vendor, tool and version of the tool that pushed an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reporter {
    /// `vendor_name`.
    pub vendor_name: Text,
    /// `tool_name`.
    pub tool_name: Text,
    /// `tool_version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_version: Option<Text>,
}

impl Reporter {
    /// Reads `vendor_name`, `tool_name` (required) and `tool_version`.
    pub fn read(r: &ParamReader<'_>) -> Result<Self, ApiError> {
        Ok(Reporter {
            vendor_name: r.parse_req(
                "vendor_name",
                "the vendor of the reporting tool",
                Text::parse,
            )?,
            tool_name: r.parse_req("tool_name", "the name of the reporting tool", Text::parse)?,
            tool_version: r.parse_opt("tool_version", Text::parse)?,
        })
    }
}
