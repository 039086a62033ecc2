//! The tables of both schemas, as the code that writes rows by column name and the copy
//! between backends see them: one list, compared with both migrations by a test
//! (`tests/conformance`), so that a column added to them cannot be left behind.

/// How a column is read and written.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Int,
    OptInt,
    Text,
    OptText,
    /// INTEGER 0/1 on SQLite, BOOLEAN on PostgreSQL.
    Bool,
}

/// A table, its columns, and whether its `id` is an identity column on PostgreSQL.
pub(crate) struct Table {
    pub(crate) name: &'static str,
    pub(crate) columns: &'static [(&'static str, Kind)],
    pub(crate) identity: bool,
}

use Kind::*;

/// Every table, parents before children.
pub(crate) const TABLES: &[Table] = &[
    Table {
        name: "accounts",
        identity: true,
        columns: &[
            ("id", Int),
            ("name", Text),
            ("disabled", Bool),
            ("created_at_ms", Int),
            ("grouping", Text),
            ("retention_days", OptInt),
        ],
    },
    Table {
        name: "users",
        identity: true,
        columns: &[
            ("id", Int),
            ("account_id", Int),
            ("username", Text),
            ("password_hash", Text),
            ("disabled", Bool),
            ("created_at_ms", Int),
            ("role", Text),
        ],
    },
    Table {
        name: "licenses",
        identity: true,
        columns: &[
            ("id", Int),
            ("account_id", Int),
            ("name", Text),
            ("access_key", Text),
            ("api_token_hash", Text),
            ("disabled", Bool),
            ("created_at_ms", Int),
        ],
    },
    Table {
        name: "sensors",
        identity: true,
        columns: &[
            ("id", Int),
            ("license_id", Int),
            ("subkey", Text),
            ("name", Text),
            ("disabled", Bool),
            ("created_at_ms", Int),
        ],
    },
    Table {
        name: "sessions",
        identity: false,
        columns: &[
            ("id_hash", Text),
            ("account_id", Int),
            ("user_id", OptInt),
            ("license_id", OptInt),
            ("created_at_ms", Int),
            ("last_seen_ms", Int),
        ],
    },
    Table {
        name: "api_tokens",
        identity: true,
        columns: &[
            ("id", Int),
            ("account_id", Int),
            ("user_id", Int),
            ("name", Text),
            ("token_hash", Text),
            ("scope", Text),
            ("created_at_ms", Int),
            ("expires_at_ms", OptInt),
            ("last_used_ms", OptInt),
        ],
    },
    Table {
        name: "tasks",
        identity: false,
        columns: &[
            ("uuid", Text),
            ("account_id", Int),
            ("license_id", Int),
            ("created_at_ms", Int),
            ("kind", Text),
            ("state", Text),
            ("sha256", OptText),
            ("filename", OptText),
            ("url", OptText),
            ("options", Text),
            ("score", OptInt),
            ("result", OptText),
            ("started_at_ms", OptInt),
            ("completed_at_ms", OptInt),
        ],
    },
    Table {
        name: "contents",
        identity: false,
        columns: &[
            ("sha256", Text),
            ("md5", Text),
            ("sha1", Text),
            ("size", Int),
            ("stored_at_ms", Int),
        ],
    },
    Table {
        name: "events",
        identity: true,
        columns: &[
            ("id", Int),
            ("account_id", Int),
            ("license_id", Int),
            ("sensor_id", Int),
            ("pushed_by_user_id", OptInt),
            ("pushed_by_license_id", OptInt),
            ("kind", Text),
            ("received_at_ms", Int),
            ("occurred_at_ms", Int),
            ("vendor_name", Text),
            ("tool_name", Text),
            ("fields", Text),
            ("raw_params", Text),
            ("action", OptText),
            ("impact", OptInt),
            ("incidents_indexed", Int),
        ],
    },
    Table {
        name: "event_hosts",
        identity: false,
        columns: &[("event_id", Int), ("account_id", Int), ("host", Text)],
    },
    Table {
        name: "push_fingerprints",
        identity: false,
        columns: &[
            ("fingerprint", Text),
            ("event_id", Int),
            ("received_at_ms", Int),
            ("keep_until_ms", Int),
        ],
    },
    Table {
        name: "event_tasks",
        identity: false,
        columns: &[("event_id", Int), ("account_id", Int), ("task_uuid", Text)],
    },
    Table {
        name: "incidents",
        identity: true,
        columns: &[
            ("id", Int),
            ("account_id", Int),
            ("host", Text),
            ("first_ms", Int),
            ("last_ms", Int),
            ("events", Int),
            ("impact", OptInt),
            ("status", Text),
            ("resolution", OptText),
            ("reason", OptText),
            ("assignee_id", OptInt),
            ("merged_into", OptInt),
            ("pinned", Bool),
            ("last_event_id", Int),
            ("grouped_by", Text),
        ],
    },
    Table {
        name: "host_identifiers",
        identity: false,
        columns: &[
            ("account_id", Int),
            ("identifier", Text),
            ("entity", Text),
            ("first_seen_ms", Int),
            ("last_seen_ms", Int),
        ],
    },
    Table {
        name: "incident_events",
        identity: false,
        columns: &[("incident_id", Int), ("event_id", Int)],
    },
    Table {
        name: "incident_reads",
        identity: false,
        columns: &[
            ("incident_id", Int),
            ("user_id", Int),
            ("seen_event_id", Int),
        ],
    },
    Table {
        name: "incident_comments",
        identity: true,
        columns: &[
            ("id", Int),
            ("incident_id", Int),
            ("account_id", Int),
            ("author_user_id", OptInt),
            ("author_license_id", OptInt),
            ("created_at_ms", Int),
            ("edited_at_ms", OptInt),
            ("body", Text),
            ("redacted", Bool),
        ],
    },
    Table {
        name: "audit",
        identity: true,
        columns: &[
            ("id", Int),
            ("account_id", OptInt),
            ("at_ms", Int),
            ("actor_user_id", OptInt),
            ("actor_license_id", OptInt),
            ("actor", Text),
            ("address", OptText),
            ("action", Text),
            ("target", Text),
            ("incident_id", OptInt),
            ("old_value", OptText),
            ("new_value", OptText),
        ],
    },
    Table {
        name: "destinations",
        identity: true,
        columns: &[
            ("id", Int),
            ("account_id", Int),
            ("name", Text),
            ("target", Text),
            ("format", Text),
            ("filter", Text),
            ("options", Text),
            ("secret", OptText),
            ("dead_after_secs", Int),
            ("disabled", Bool),
            ("created_at_ms", Int),
            ("lease_node", OptText),
            ("lease_until_ms", Int),
        ],
    },
    Table {
        name: "outbox",
        identity: true,
        columns: &[
            ("id", Int),
            ("destination_id", Int),
            ("change", Text),
            ("event_id", OptInt),
            ("incident_id", OptInt),
            ("created_at_ms", Int),
            ("retry_since_ms", Int),
            ("attempts", Int),
            ("next_attempt_ms", Int),
            ("last_error", OptText),
            ("dead_at_ms", OptInt),
        ],
    },
];

/// A table of the list by name.
pub(crate) fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

/// Every table of both schemas, parents before children, with its columns in order: what
/// `pushdetect migrate` copies and batch writes name; a test compares it with both
/// migrations, so that a table or column added to them is not left behind.
pub fn tables() -> Vec<(&'static str, Vec<&'static str>)> {
    TABLES
        .iter()
        .map(|t| (t.name, t.columns.iter().map(|(c, _)| *c).collect()))
        .collect()
}
