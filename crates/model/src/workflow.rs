//! The incident workflow: who may change incidents (roles), where an incident stands
//! (status, resolution, reason, assignee), which changes are allowed, and what the audit
//! trail calls each change. The store applies these rules inside its transactions, the
//! read API and the console parse requests into them: one model for all three.
//!
//! An incident is `new`, then `acknowledged`, then `closed` with a resolution. Any status
//! may be set from any other (an analyst may take back an acknowledgement, or reopen a
//! closed incident by hand); leaving `closed` forgets the resolution and the reason. A
//! closed incident that receives a new event is reopened the same way (see
//! [`Workflow::reopened`]) unless the server keeps closed incidents closed.

use crate::error::{ApiError, ErrorCode};
use crate::values::value_enum;
use serde::{Serialize, Serializer};
use std::fmt;

value_enum!(
    /// What a user may do in their account.
    Role {
        /// Everything, including the admin pages (users, licenses, sensors).
        Admin => "admin",
        /// Read everything and change incidents (status, assignee, comments, merge, split).
        Analyst => "analyst",
        /// Read everything, change nothing.
        Viewer => "viewer",
    }
);

impl Role {
    /// Whether this role may change incidents.
    pub fn may_change_incidents(self) -> bool {
        self != Role::Viewer
    }

    /// Whether this role may administer the account.
    pub fn may_administer(self) -> bool {
        self == Role::Admin
    }

    /// The refusal of an action this role may not take, naming the action.
    pub fn refusal(self, action: &str) -> ApiError {
        ApiError::new(
            ErrorCode::NotPermitted,
            format!("not permitted: the {self} role may not {action}"),
        )
    }
}

value_enum!(
    /// Where an incident stands.
    Status {
        /// Nobody has looked at it yet (or it was reopened).
        New => "new",
        /// Someone is looking at it.
        Acknowledged => "acknowledged",
        /// Done, with a resolution.
        Closed => "closed",
    }
);

value_enum!(
    /// Why an incident was closed.
    Resolution {
        /// A real attack or compromise.
        TruePositive => "true_positive",
        /// Real activity, but harmless (a test, an allowed tool).
        Benign => "benign",
        /// The detection was wrong.
        FalsePositive => "false_positive",
        /// Handled as part of another incident.
        Duplicate => "duplicate",
    }
);

/// Longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 10_000;
/// Longest reason given when closing, in characters.
pub const MAX_REASON_CHARS: usize = 1_000;
/// How long after writing it the author may still edit a comment, ms.
pub const COMMENT_EDIT_WINDOW_MS: i64 = 10 * 60 * 1000;
/// Incidents one merge may join into its survivor.
pub const MAX_MERGE: usize = 100;
/// Events one split may move into a new incident.
pub const MAX_SPLIT: usize = 1000;

/// Text of several lines, as comments and reasons are written: trimmed, not empty, at most
/// a given number of characters, line breaks kept (CR LF and lone CR read as LF), tabs
/// kept, no other control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note(String);

impl Note {
    /// Parses the value of parameter `name`, of at most `max_chars` characters.
    pub fn parse(name: &str, value: &str, max_chars: usize) -> Result<Self, ApiError> {
        let text = value.replace("\r\n", "\n").replace('\r', "\n");
        let text = text.trim();
        if text.is_empty() {
            return Err(ApiError::invalid(name, "a non-empty text"));
        }
        if text.chars().count() > max_chars {
            return Err(ApiError::invalid(
                name,
                &format!("a text of at most {max_chars} characters"),
            ));
        }
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(ApiError::invalid(
                name,
                "a text without control characters other than line breaks and tabs",
            ));
        }
        Ok(Note(text.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for Note {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an incident stands: what the workflow changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workflow {
    /// Its status.
    pub status: Status,
    /// Why it was closed; set exactly when closed.
    pub resolution: Option<Resolution>,
    /// What the analyst who closed it wrote, if anything; only while closed.
    pub reason: Option<String>,
    /// The user it is assigned to (of the incident's account), if any.
    pub assignee: Option<i64>,
}

impl Default for Workflow {
    /// A new incident: unassigned.
    fn default() -> Self {
        Workflow {
            status: Status::New,
            resolution: None,
            reason: None,
            assignee: None,
        }
    }
}

/// A requested change of an incident; every part optional, at least one given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    /// The new status.
    pub status: Option<Status>,
    /// The resolution, when closing (or to correct that of a closed incident).
    pub resolution: Option<Resolution>,
    /// A reason, when closing.
    pub reason: Option<Note>,
    /// `Some(None)` to unassign, `Some(Some(user))` to assign.
    pub assignee: Option<Option<i64>>,
}

impl Change {
    /// Whether nothing is asked.
    pub fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.resolution.is_none()
            && self.reason.is_none()
            && self.assignee.is_none()
    }
}

impl Workflow {
    /// The state after `change`, or why it is refused: closing needs a resolution (given,
    /// or kept from an incident already closed); a resolution or a reason is given only
    /// for a closed incident; a closed incident keeps its reason while its resolution
    /// stays; leaving `closed` forgets both.
    pub fn apply(&self, change: &Change) -> Result<Workflow, ApiError> {
        if change.is_empty() {
            return Err(ApiError::missing(
                "status",
                "at least one of status, resolution, reason and assignee",
            ));
        }
        let status = change.status.unwrap_or(self.status);
        let was_closed = self.status == Status::Closed;
        let (resolution, reason) = if status == Status::Closed {
            let resolution = change
                .resolution
                .or(if was_closed { self.resolution } else { None })
                .ok_or_else(|| {
                    ApiError::missing(
                        "resolution",
                        &format!(
                            "one of {} to close an incident",
                            Resolution::ALLOWED.join(", ")
                        ),
                    )
                })?;
            let reason = match &change.reason {
                Some(r) => Some(r.as_str().to_owned()),
                None if was_closed && Some(resolution) == self.resolution => self.reason.clone(),
                None => None,
            };
            (Some(resolution), reason)
        } else {
            for (given, name) in [
                (change.resolution.is_some(), "resolution"),
                (change.reason.is_some(), "reason"),
            ] {
                if given {
                    return Err(ApiError::conflict(format!(
                        "parameter '{name}' is given only with status 'closed' (the incident \
                         would be '{status}')"
                    )));
                }
            }
            (None, None)
        };
        Ok(Workflow {
            status,
            resolution,
            reason,
            assignee: change.assignee.unwrap_or(self.assignee),
        })
    }

    /// The state of a closed incident that a new event reopens: `new`, without resolution
    /// or reason, with its assignee kept (who closed it hears of it again).
    pub fn reopened(&self) -> Workflow {
        Workflow {
            status: Status::New,
            resolution: None,
            reason: None,
            assignee: self.assignee,
        }
    }
}

value_enum!(
    /// What an audit record says was done: every workflow change and every admin action.
    AuditAction {
        /// An incident's status changed (resolution and reason with it).
        IncidentStatus => "incident.status",
        /// An incident was assigned or unassigned.
        IncidentAssignee => "incident.assignee",
        /// A closed incident received a new event and was reopened.
        IncidentReopened => "incident.reopened",
        /// A comment was written.
        CommentAdded => "incident.comment",
        /// A comment was edited by its author.
        CommentEdited => "incident.comment_edited",
        /// A comment was redacted (its text removed; the record of it stays).
        CommentRedacted => "incident.comment_redacted",
        /// Incidents were merged into this one (or, on the merged-away one, into another).
        IncidentMerged => "incident.merged",
        /// Events were moved out of this incident into a new one.
        IncidentSplit => "incident.split",
        /// An account was created.
        AccountCreated => "account.created",
        /// An account was enabled or disabled.
        AccountDisabled => "account.disabled",
        /// A user was created.
        UserCreated => "user.created",
        /// A user was enabled or disabled.
        UserDisabled => "user.disabled",
        /// A user's role changed.
        UserRole => "user.role",
        /// A user changed their own password.
        UserPasswordChanged => "user.password_changed",
        /// An admin gave a user a new password.
        UserPasswordReset => "user.password_reset",
        /// A user created an API token.
        TokenCreated => "token.created",
        /// An API token was revoked.
        TokenRevoked => "token.revoked",
        /// A license was created.
        LicenseCreated => "license.created",
        /// A license was enabled or disabled.
        LicenseDisabled => "license.disabled",
        /// A license's API token was replaced.
        LicenseTokenRotated => "license.token_rotated",
        /// A sensor was created.
        SensorCreated => "sensor.created",
        /// A sensor was enabled or disabled.
        SensorDisabled => "sensor.disabled",
        /// An account's grouping rules changed.
        AccountGrouping => "account.grouping",
        /// An account's retention (how many days its events are kept) changed.
        AccountRetention => "account.retention",
        /// A forwarding destination was created.
        DestinationCreated => "destination.created",
        /// A forwarding destination was enabled or disabled.
        DestinationDisabled => "destination.disabled",
        /// A forwarding destination was removed, with its outbox.
        DestinationRemoved => "destination.removed",
        /// Dead-lettered deliveries of a destination were sent again.
        DestinationResend => "destination.resend",
        /// A user or license logged in.
        Login => "login",
        /// A login failed (unknown name, wrong secret, disabled).
        LoginFailed => "login.failed",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(resolution: Resolution, reason: Option<&str>) -> Workflow {
        Workflow {
            status: Status::Closed,
            resolution: Some(resolution),
            reason: reason.map(str::to_owned),
            assignee: Some(4),
        }
    }

    fn note(text: &str) -> Note {
        Note::parse("reason", text, MAX_REASON_CHARS).unwrap()
    }

    #[test]
    fn roles_name_their_powers() {
        assert!(Role::Admin.may_administer() && Role::Admin.may_change_incidents());
        assert!(!Role::Analyst.may_administer() && Role::Analyst.may_change_incidents());
        assert!(!Role::Viewer.may_administer() && !Role::Viewer.may_change_incidents());
        let e = Role::Viewer.refusal("close incidents");
        assert_eq!(e.code, ErrorCode::NotPermitted);
        assert_eq!(
            e.message,
            "not permitted: the viewer role may not close incidents"
        );
        assert_eq!(Role::parse("role", " Viewer ").unwrap(), Role::Viewer);
        assert_eq!(
            Role::parse("role", "root").unwrap_err().message,
            "invalid value for parameter 'role': expected one of admin, analyst, viewer"
        );
    }

    #[test]
    fn closing_needs_a_resolution_and_keeps_the_reason() {
        let new = Workflow::default();
        let close = Change {
            status: Some(Status::Closed),
            ..Change::default()
        };
        let e = new.apply(&close).unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingParameter);
        assert!(e.message.contains("'resolution'"), "{}", e.message);
        assert!(e.message.contains("true_positive, benign"), "{}", e.message);
        let done = new
            .apply(&Change {
                resolution: Some(Resolution::Benign),
                reason: Some(note("a scheduled scan")),
                ..close.clone()
            })
            .unwrap();
        assert_eq!(done, {
            let mut w = closed(Resolution::Benign, Some("a scheduled scan"));
            w.assignee = None;
            w
        });
        // A resolution alone on a new incident does not close it.
        let e = new
            .apply(&Change {
                resolution: Some(Resolution::Benign),
                ..Change::default()
            })
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::ConflictingParameters);
        assert!(e.message.contains("'resolution'") && e.message.contains("'new'"));
        let e = new
            .apply(&Change {
                status: Some(Status::Acknowledged),
                reason: Some(note("why")),
                ..Change::default()
            })
            .unwrap_err();
        assert!(e.message.contains("'reason'") && e.message.contains("'acknowledged'"));
    }

    #[test]
    fn a_closed_incident_keeps_or_corrects_its_resolution_and_forgets_it_when_reopened() {
        let c = closed(Resolution::Benign, Some("scan"));
        // Closing again with nothing new, or with the same resolution, changes nothing.
        let same = Change {
            status: Some(Status::Closed),
            ..Change::default()
        };
        assert_eq!(c.apply(&same).unwrap(), c);
        let same_resolution = Change {
            resolution: Some(Resolution::Benign),
            ..same
        };
        assert_eq!(c.apply(&same_resolution).unwrap(), c);
        // Only the assignee: the resolution and reason stay.
        let reassigned = c
            .apply(&Change {
                assignee: Some(None),
                ..Change::default()
            })
            .unwrap();
        assert_eq!(reassigned.resolution, Some(Resolution::Benign));
        assert_eq!(reassigned.reason.as_deref(), Some("scan"));
        assert_eq!(reassigned.assignee, None);
        // A corrected resolution drops the reason given for the old one.
        let corrected = c
            .apply(&Change {
                resolution: Some(Resolution::TruePositive),
                ..Change::default()
            })
            .unwrap();
        assert_eq!(corrected.resolution, Some(Resolution::TruePositive));
        assert_eq!(corrected.reason, None);
        assert_eq!(corrected.status, Status::Closed);
        // Reopened by hand or by an event: new, nothing of the close kept but the assignee.
        let back = c
            .apply(&Change {
                status: Some(Status::Acknowledged),
                ..Change::default()
            })
            .unwrap();
        assert_eq!((back.resolution, back.reason), (None, None));
        assert_eq!(back.assignee, Some(4));
        assert_eq!(c.reopened(), {
            Workflow {
                status: Status::New,
                resolution: None,
                reason: None,
                assignee: Some(4),
            }
        });
    }

    #[test]
    fn an_empty_change_is_refused_and_assignment_alone_keeps_the_status() {
        let e = Workflow::default().apply(&Change::default()).unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingParameter);
        assert!(e.message.contains("assignee"));
        let w = Workflow::default()
            .apply(&Change {
                assignee: Some(Some(9)),
                ..Change::default()
            })
            .unwrap();
        assert_eq!(w.status, Status::New);
        assert_eq!(w.assignee, Some(9));
        for change in [
            Change {
                status: Some(Status::New),
                ..Change::default()
            },
            Change {
                resolution: Some(Resolution::Duplicate),
                ..Change::default()
            },
            Change {
                reason: Some(note("x")),
                ..Change::default()
            },
        ] {
            assert!(!change.is_empty());
        }
    }

    #[test]
    fn notes_keep_line_breaks_and_refuse_other_controls_and_length() {
        let n = Note::parse("comment", "  line one\r\nline two\rthree\tend \n", 100).unwrap();
        assert_eq!(n.as_str(), "line one\nline two\nthree\tend");
        assert_eq!(n.to_string(), n.as_str());
        assert_eq!(
            serde_json::to_value(&n).unwrap(),
            "line one\nline two\nthree\tend"
        );
        assert!(Note::parse("comment", " \n ", 10)
            .unwrap_err()
            .message
            .contains("'comment'"));
        assert!(Note::parse("comment", "a\u{7}b", 10)
            .unwrap_err()
            .message
            .contains("control"));
        // Characters, not bytes, are counted.
        assert!(Note::parse("comment", &"é".repeat(10), 10).is_ok());
        let e = Note::parse("comment", &"é".repeat(11), 10).unwrap_err();
        assert!(e.message.contains("at most 10 characters"), "{}", e.message);
    }

    #[test]
    fn audit_actions_have_stable_names() {
        assert_eq!(AuditAction::IncidentStatus.as_str(), "incident.status");
        assert_eq!(
            AuditAction::parse("action", "LOGIN.FAILED").unwrap(),
            AuditAction::LoginFailed
        );
        assert_eq!(AuditAction::ALLOWED.len(), 30);
        assert_eq!(COMMENT_EDIT_WINDOW_MS, 600_000, "ten minutes");
    }
}
