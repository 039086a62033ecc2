//! The read API's workflow methods: change, comment on, merge and split incidents, read an
//! incident's history and the account's audit trail. Their parameters are declared here,
//! beside the rules they feed ([`crate::workflow`]), so that the router, the OpenAPI
//! document and the docs are all made from one table.

use crate::error::ApiError;
use crate::method::{e, p, MethodSpec, ParamKind as K, Requirement::*};
use crate::workflow::{AuditAction, Resolution, Status};

/// `push_detection.incident.update`: status, resolution, reason, assignee.
pub const INCIDENT_UPDATE: MethodSpec = MethodSpec {
    name: "push_detection.incident.update",
    path: "push_detection/incident/update",
    http_method: "POST",
    summary: "Change an incident's status, resolution, reason or assignee",
    params: &[
        p("incident_id", K::Integer, Required, "Id of the incident."),
        e(
            "status",
            Status::ALLOWED,
            Optional,
            "The new status; closed needs a resolution.",
        ),
        e(
            "resolution",
            Resolution::ALLOWED,
            Optional,
            "Why it is closed: with status closed, or to correct that of a closed incident.",
        ),
        p(
            "reason",
            K::Note,
            Optional,
            "Why, in words (up to 1000 characters), when closing.",
        ),
        p(
            "assignee",
            K::Text,
            Optional,
            "A user name of an analyst or admin of the account, 'me', or 'nobody' to unassign.",
        ),
    ],
};

/// `push_detection.incident.comment`: add, edit or redact a comment.
pub const INCIDENT_COMMENT: MethodSpec = MethodSpec {
    name: "push_detection.incident.comment",
    path: "push_detection/incident/comment",
    http_method: "POST",
    summary: "Comment on an incident, edit your comment, or redact one",
    params: &[
        p(
            "incident_id",
            K::Integer,
            Optional,
            "The incident to comment on (for a new comment).",
        ),
        p(
            "comment_id",
            K::Integer,
            Optional,
            "The comment to edit (with comment) or redact (with redact=True).",
        ),
        p(
            "comment",
            K::Note,
            Optional,
            "The text, up to 10000 characters; line breaks are kept.",
        ),
        p(
            "redact",
            K::Bool,
            Optional,
            "True: remove the text of comment_id (its author or an admin); the record stays.",
        ),
    ],
};

/// `push_detection.incident.merge`: merge incidents into one.
pub const INCIDENT_MERGE: MethodSpec = MethodSpec {
    name: "push_detection.incident.merge",
    path: "push_detection/incident/merge",
    http_method: "POST",
    summary: "Merge incidents of the account into one",
    params: &[
        p(
            "incident_id",
            K::Integer,
            Required,
            "The incident that stays and takes the events of the others.",
        ),
        p(
            "merge_ids",
            K::Text,
            Required,
            "Ids of the incidents merged into it, separated by commas (at most 100).",
        ),
    ],
};

/// `push_detection.incident.split`: move events into a new incident.
pub const INCIDENT_SPLIT: MethodSpec = MethodSpec {
    name: "push_detection.incident.split",
    path: "push_detection/incident/split",
    http_method: "POST",
    summary: "Move events of an incident into a new incident",
    params: &[
        p(
            "incident_id",
            K::Integer,
            Required,
            "The incident to split.",
        ),
        p(
            "event_ids",
            K::Text,
            Required,
            "Ids of its events to move, separated by commas; at least one must stay.",
        ),
    ],
};

/// `push_detection.incident.history`: an incident's comments and audit records.
pub const INCIDENT_HISTORY: MethodSpec = MethodSpec {
    name: "push_detection.incident.history",
    path: "push_detection/incident/history",
    http_method: "GET",
    summary: "An incident's history (every change, oldest first) and comments",
    params: &[p(
        "incident_id",
        K::Integer,
        Required,
        "Id of the incident.",
    )],
};

/// `audit.list`: the account's audit trail, for admins.
pub const AUDIT_LIST: MethodSpec = MethodSpec {
    name: "audit.list",
    path: "audit/list",
    http_method: "GET",
    summary: "The account's audit trail, newest first (admin users only)",
    params: &[
        e(
            "action",
            AuditAction::ALLOWED,
            Optional,
            "Only records of this action.",
        ),
        p(
            "actor",
            K::Text,
            Optional,
            "Only records by this user name, access key, or 'system'.",
        ),
        p(
            "incident_id",
            K::Integer,
            Optional,
            "Only records about this incident.",
        ),
        p(
            "after",
            K::Time,
            Optional,
            "Only records at or after this time.",
        ),
        p(
            "before",
            K::Time,
            Optional,
            "Only records before this time.",
        ),
        p(
            "limit",
            K::Integer,
            Optional,
            "Page size, 1 to 1000 (default 100).",
        ),
        p(
            "cursor",
            K::Text,
            Optional,
            "The next_cursor of the previous page.",
        ),
    ],
};

/// Every workflow method, in the order the router and the documents list them.
pub const WORKFLOW_METHODS: [&MethodSpec; 6] = [
    &INCIDENT_UPDATE,
    &INCIDENT_COMMENT,
    &INCIDENT_MERGE,
    &INCIDENT_SPLIT,
    &INCIDENT_HISTORY,
    &AUDIT_LIST,
];

/// A list of ids separated by commas (spaces allowed), each a positive integer, at most
/// `max` of them, each kept once in the order first given.
pub fn parse_ids(name: &str, value: &str, max: usize) -> Result<Vec<i64>, ApiError> {
    let expected = format!("at most {max} ids separated by commas, such as 12,15");
    let mut ids = Vec::new();
    for part in value.split(',') {
        let id = part
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| ApiError::invalid(name, &expected))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.len() > max {
        return Err(ApiError::invalid(name, &expected));
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_lists_are_read_once_each_in_order_and_bounded() {
        assert_eq!(parse_ids("merge_ids", " 3, 1 ,3,2", 3).unwrap(), [3, 1, 2]);
        assert_eq!(parse_ids("merge_ids", "7", 1).unwrap(), [7]);
        for bad in ["", "1,,2", "0", "-1", "1;2", "x"] {
            let e = parse_ids("merge_ids", bad, 5).unwrap_err();
            assert!(e.message.contains("'merge_ids'"), "{bad}: {}", e.message);
        }
        let e = parse_ids("event_ids", "1,2,3", 2).unwrap_err();
        assert_eq!(
            e.message,
            "invalid value for parameter 'event_ids': expected at most 2 ids separated by \
             commas, such as 12,15"
        );
    }

    #[test]
    fn every_workflow_method_has_a_path_of_its_own() {
        let mut paths: Vec<&str> = WORKFLOW_METHODS.iter().map(|m| m.path).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), WORKFLOW_METHODS.len());
        assert!(INCIDENT_UPDATE
            .param("reason")
            .is_some_and(|p| p.kind == K::Note));
    }
}
