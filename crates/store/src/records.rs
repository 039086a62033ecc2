//! The records the store reads and writes, shared by every backend.

pub use pushdetect_model::grouping::{GroupBy, Grouping};
pub use pushdetect_model::workflow::{AuditAction, Resolution, Role, Status, Workflow};
use serde_json::Value;

/// A tenant: everything below belongs to exactly one account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Account {
    /// Id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// A disabled account cannot log in or push.
    pub disabled: bool,
    /// Creation time, ms.
    pub created_at_ms: i64,
    /// Its grouping rules, as [`Grouping::to_text`] spells them.
    pub grouping: String,
    /// Days its events are kept (none: for ever).
    pub retention_days: Option<i64>,
}

/// A user who logs in with username and password (auth_method "account").
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    /// Id.
    pub id: i64,
    /// Owning account.
    pub account_id: i64,
    /// Unique login name.
    pub username: String,
    /// argon2 PHC string.
    pub password_hash: String,
    /// What the user may do in the account.
    pub role: Role,
    /// The user, or their account, is disabled.
    pub disabled: bool,
}

/// A license (auth_method "license"): access key + API token; its id is the `key_id`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct License {
    /// The key_id.
    pub id: i64,
    /// Owning account.
    pub account_id: i64,
    /// Display name.
    pub name: String,
    /// The access key (public half).
    pub access_key: String,
    /// argon2 PHC string of the API token.
    pub api_token_hash: String,
    /// The license, or its account, is disabled.
    pub disabled: bool,
}

/// A sensor of a license: the subkey events are recorded against; its id is the `subkey_id`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Sensor {
    /// The subkey_id.
    pub id: i64,
    /// The license (key_id).
    pub license_id: i64,
    /// The license's account.
    pub account_id: i64,
    /// The license's access key.
    pub access_key: String,
    /// The subkey.
    pub subkey: String,
    /// Display name.
    pub name: String,
    /// The sensor, its license or its account is disabled.
    pub disabled: bool,
}

/// Who is logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// A user (auth_method "account").
    User(i64),
    /// A license (auth_method "license").
    License(i64),
}

/// A live session, as found by its id hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The account the principal belongs to.
    pub account_id: i64,
    /// Who.
    pub principal: Principal,
    /// The username or access key, for display and logs.
    pub label: String,
    /// Last use, ms.
    pub last_seen_ms: i64,
}

/// What an analysis task analyses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// A submitted file.
    File,
    /// A submitted URL.
    Url,
    /// A task analysed elsewhere, registered by the operator.
    External,
}

/// Where an analysis task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Waiting for a worker.
    Queued,
    /// Claimed by a worker.
    Running,
    /// Finished, with a score (external tasks are born completed, without one).
    Completed,
}

macro_rules! stored_names {
    ($t:ty { $($v:ident => $s:literal),+ }) => {
        impl $t {
            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),+ }
            }

            /// Reads a stored name.
            pub fn from_name(name: &str) -> Option<Self> {
                match name { $($s => Some(Self::$v),)+ _ => None }
            }
        }
    };
}
stored_names!(TaskKind { File => "file", Url => "url", External => "external" });
stored_names!(TaskState { Queued => "queued", Running => "running", Completed => "completed" });

/// An analysis task. push_file_download's task_uuid must name one of the same license.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// 32 hex characters.
    pub uuid: String,
    /// The account.
    pub account_id: i64,
    /// The license that submitted it.
    pub license_id: i64,
    /// Creation time, ms.
    pub created_at_ms: i64,
    /// File, URL or external.
    pub kind: TaskKind,
    /// Queue state.
    pub state: TaskState,
    /// SHA-256 of a submitted file (its content is kept under this name).
    pub sha256: Option<String>,
    /// Submitted file name.
    pub filename: Option<String>,
    /// Submitted URL.
    pub url: Option<String>,
    /// What the submission asked (e.g. delete_after_analysis) and its context.
    pub options: crate::SubmissionOptions,
    /// Score 0-100 once completed.
    pub score: Option<i64>,
    /// The analysis result (subject, findings), as JSON, once completed.
    pub result: Option<Value>,
    /// Completion time, ms.
    pub completed_at_ms: Option<i64>,
}

/// A finished analysis, to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The task.
    pub uuid: String,
    /// Its score, 0-100.
    pub score: i64,
    /// The result (subject, findings).
    pub result: Value,
}

/// What a task analysed, to find an earlier analysis of the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    /// A file, by the SHA-256 of its content.
    Sha256(&'a str),
    /// A URL, as stored (normalised by the Analyst API).
    Url(&'a str),
}

impl Task {
    /// A task analysed elsewhere, registered as completed.
    pub fn external(uuid: &str, account_id: i64, license_id: i64, now_ms: i64) -> Task {
        Task {
            uuid: uuid.to_owned(),
            account_id,
            license_id,
            created_at_ms: now_ms,
            kind: TaskKind::External,
            state: TaskState::Completed,
            sha256: None,
            filename: None,
            url: None,
            options: Default::default(),
            score: None,
            result: None,
            completed_at_ms: Some(now_ms),
        }
    }
}

/// Content seen by the analysis API, found again by any of its hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// SHA-256 (its name in the content store).
    pub sha256: String,
    /// MD5.
    pub md5: String,
    /// SHA-1.
    pub sha1: String,
    /// Size in bytes.
    pub size: i64,
}

/// An event to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The account.
    pub account_id: i64,
    /// The sensor it is recorded against.
    pub sensor_id: i64,
    /// The sensor's license.
    pub license_id: i64,
    /// The credential that pushed it.
    pub pushed_by: Principal,
    /// file_download, ioc or mail.
    pub kind: String,
    /// Receive time, ms.
    pub received_at_ms: i64,
    /// Occurrence time as the tool said, or the receive time, ms.
    pub occurred_at_ms: i64,
    /// vendor_name.
    pub vendor_name: String,
    /// tool_name.
    pub tool_name: String,
    /// Protected-network hosts it is about, normalised.
    pub hosts: Vec<String>,
    /// The parsed fields.
    pub fields: Value,
    /// The parameters as received.
    pub raw_params: Value,
    /// Its action, base impact and task references.
    pub triage: Triage,
    /// Events about one host at most this far apart (ms) form one incident.
    pub incident_window_ms: i64,
    /// A closed incident the event joins is reopened; otherwise closed incidents stay
    /// closed and the event starts a new one.
    pub reopen_closed: bool,
}

/// What an event says about its severity, derived from its fields by the model: the store
/// adds the scores of the tasks it refers to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Triage {
    /// The strongest action the tool took (LOG, WARN, BLOCK), if it reports actions.
    pub action: Option<String>,
    /// The impact known from the event alone (0-100), if any.
    pub base_impact: Option<i64>,
    /// The analysis tasks it refers to; their scores raise its impact once known.
    pub task_uuids: Vec<String>,
    /// The machines it is about, each with every identifier it names it by (see
    /// `pushdetect_model::Event::machines`): their incidents are those of its host entities.
    pub machines: Vec<Vec<String>>,
    /// The keys an account's grouping rules may group it by instead (see
    /// [`Grouping::pick`]); a task's SHA-256 is added by the store.
    pub group_keys: Vec<(GroupBy, String)>,
}

/// Derives an event's triage from its kind, raw parameters and receive time (ms): how the
/// store indexes events stored before triage existed.
pub type TriageOf = dyn Fn(&str, &Value, i64) -> Triage + Sync;

/// Recognises a resent push: the same fingerprint within the window is the same event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dedup {
    /// A hash of the credential, method and canonical parameters, or of the license and
    /// the idempotency key the sender gave the push.
    pub fingerprint: String,
    /// Pushes received at or after this time (ms) count as the same.
    pub since_ms: i64,
    /// Until when (ms) the fingerprint is kept; [`crate::Store::purge`] removes it after.
    pub keep_until_ms: i64,
}

/// What inserting an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Stored and committed under this id.
    New(i64),
    /// A resent push of this already stored event; nothing new stored.
    Duplicate(i64),
}

/// A stored event, with the names of what it refers to.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Id.
    pub id: i64,
    /// Kind.
    pub kind: String,
    /// Receive time, ms.
    pub received_at_ms: i64,
    /// Occurrence time, ms.
    pub occurred_at_ms: i64,
    /// The license (key_id).
    pub license_id: i64,
    /// The license's access key.
    pub access_key: String,
    /// The sensor (subkey_id).
    pub sensor_id: i64,
    /// The sensor's subkey.
    pub subkey: String,
    /// The credential that pushed it.
    pub pushed_by: Principal,
    /// Its username or access key.
    pub pushed_by_label: String,
    /// vendor_name.
    pub vendor_name: String,
    /// tool_name.
    pub tool_name: String,
    /// Parsed fields.
    pub fields: Value,
    /// Parameters as received.
    pub raw_params: Value,
    /// The hosts the event is about, as stored for the host filter, sorted.
    pub hosts: Vec<String>,
    /// The analysis tasks it names, each once, sorted (from the links by which their
    /// scores reach it).
    pub task_uuids: Vec<String>,
    /// The strongest action the tool took, if it reports actions.
    pub action: Option<String>,
    /// Its impact, 0-100: the highest of its base impact and its tasks' scores; None while
    /// unknown (a file download whose task is not scored yet).
    pub impact: Option<i64>,
}

impl StoredEvent {
    /// The typed event, rebuilt from its raw parameters by the model's parser (see
    /// [`pushdetect_model::Event::from_stored`]); `None` for an event that an older version
    /// accepted and this one refuses, or of a kind it does not know.
    pub fn event(&self) -> Option<pushdetect_model::Event> {
        let kind = pushdetect_model::EventKind::from_name(&self.kind)?;
        let received = pushdetect_model::Timestamp::from_millis(self.received_at_ms);
        pushdetect_model::Event::from_stored(kind, &self.raw_params, received).ok()
    }
}

/// The order of an event list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EventOrder {
    /// Latest occurrence first (the default).
    #[default]
    Newest,
    /// Earliest occurrence first.
    Oldest,
    /// Highest impact first (unknown impact last), then newest.
    Impact,
}

impl EventOrder {
    /// Every order, as the read API's `order` parameter and the console offer them.
    pub const ALL: [EventOrder; 3] = [EventOrder::Newest, EventOrder::Oldest, EventOrder::Impact];

    /// The name a request gives.
    pub fn as_str(self) -> &'static str {
        match self {
            EventOrder::Newest => "newest",
            EventOrder::Oldest => "oldest",
            EventOrder::Impact => "impact",
        }
    }

    /// Reads a requested name, in any case.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// What a refused order is told is expected: "one of newest, oldest, impact".
    pub fn expected() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|o| o.as_str()).collect();
        format!("one of {}", names.join(", "))
    }
}

/// Where the previous page of an event list ended (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventCursor {
    /// The last event's impact (-1 for unknown); used by [`EventOrder::Impact`] only.
    pub impact: i64,
    /// The last event's occurrence time, ms.
    pub occurred_at_ms: i64,
    /// The last event's id.
    pub id: i64,
}

impl EventCursor {
    /// The cursor that continues after this event.
    pub fn after(event: &StoredEvent) -> EventCursor {
        EventCursor {
            impact: event.impact.unwrap_or(-1),
            occurred_at_ms: event.occurred_at_ms,
            id: event.id,
        }
    }
}

/// Filters of the event list; all optional, combined with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Kind.
    pub kind: Option<String>,
    /// occurred_at >= after.
    pub after_ms: Option<i64>,
    /// occurred_at < before.
    pub before_ms: Option<i64>,
    /// One of the event's hosts.
    pub host: Option<String>,
    /// vendor_name, exact.
    pub vendor_name: Option<String>,
    /// tool_name, exact.
    pub tool_name: Option<String>,
    /// Sensor id.
    pub sensor_id: Option<i64>,
    /// Free text, found case-insensitively in the fields, the raw parameters, the vendor
    /// or the tool name.
    pub text: Option<String>,
    /// Only events stored after this id (live updates).
    pub after_id: Option<i64>,
    /// The strongest action taken (LOG, WARN, BLOCK).
    pub action: Option<String>,
    /// impact >= this (events of unknown impact never match).
    pub min_impact: Option<i64>,
    /// impact <= this (events of unknown impact never match).
    pub max_impact: Option<i64>,
    /// Only the events of this incident.
    pub incident_id: Option<i64>,
    /// Order of the list.
    pub order: EventOrder,
    /// Continue after this event, exclusive (in the list's order).
    pub cursor: Option<EventCursor>,
    /// Page size.
    pub limit: u32,
}

/// Events about one host of the protected network, none further than the grouping window
/// from the next: what an analyst handles as one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// Id.
    pub id: i64,
    /// What it groups events by: a host entity (the default), or an account's rule.
    pub grouped_by: GroupBy,
    /// The key of what it groups by: for a host entity, its key (its preferred identifier:
    /// a name, a mailbox or an address); else a sender, an IOC uuid or a SHA-256.
    pub host: String,
    /// Occurrence time of its first event, ms.
    pub first_ms: i64,
    /// Occurrence time of its last event, ms.
    pub last_ms: i64,
    /// Number of events.
    pub events: i64,
    /// The highest impact of its events, None while none is known.
    pub impact: Option<i64>,
    /// Where it stands in the workflow.
    pub workflow: Workflow,
    /// The assignee's user name, if assigned.
    pub assignee_name: Option<String>,
    /// Merged into this incident: it has no events of its own any more.
    pub merged_into: Option<i64>,
    /// An analyst acted on it: later events never merge it into another.
    pub pinned: bool,
    /// The largest id of its events (a user who saw up to it has read it).
    pub last_event_id: i64,
}

impl Incident {
    /// A new incident of one event, in the workflow's first state.
    pub fn opened(
        grouped_by: GroupBy,
        host: &str,
        occurred_at_ms: i64,
        event_id: i64,
        impact: Option<i64>,
    ) -> Self {
        Incident {
            id: 0,
            grouped_by,
            host: host.to_owned(),
            first_ms: occurred_at_ms,
            last_ms: occurred_at_ms,
            events: 1,
            impact,
            workflow: Workflow::default(),
            assignee_name: None,
            merged_into: None,
            pinned: false,
            last_event_id: event_id,
        }
    }
}

/// Whose incidents a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    /// Assigned to nobody.
    Nobody,
    /// Assigned to this user.
    User(i64),
}

/// Filters of the incident list; all optional, combined with AND. Newest activity first.
/// Incidents merged into another are never listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    /// In this status.
    pub status: Option<Status>,
    /// Closed with this resolution.
    pub resolution: Option<Resolution>,
    /// Assigned to this user, or to nobody.
    pub assignee: Option<AssigneeFilter>,
    /// Unread by this user (an incident is unread until the user opens it, and again when
    /// a new event joins it).
    pub unread_by: Option<i64>,
    /// About this host.
    pub host: Option<String>,
    /// Active at or after this time (last event at or after), ms.
    pub after_ms: Option<i64>,
    /// Active before this time (first event before), ms.
    pub before_ms: Option<i64>,
    /// impact >= this.
    pub min_impact: Option<i64>,
    /// Continue after this (last_ms, id), exclusive.
    pub cursor: Option<(i64, i64)>,
    /// Page size.
    pub limit: u32,
}

/// Who does what the audit trail records: a user or license of an account, the server
/// itself (a new event reopening an incident), or the operator at the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The user or license, when one acts.
    pub principal: Option<Principal>,
    /// The user name or access key, "system" or "operator": what the trail shows.
    pub label: String,
    /// The client address of the request, when there was one.
    pub address: Option<String>,
}

impl Actor {
    /// The server itself, acting on what was pushed.
    pub fn system() -> Actor {
        Actor {
            principal: None,
            label: "system".into(),
            address: None,
        }
    }

    /// The operator, at the command line on the server's machine.
    pub fn operator() -> Actor {
        Actor {
            principal: None,
            label: "operator".into(),
            address: None,
        }
    }
}

/// A comment on an incident. Never deleted: a redacted comment keeps its place, author and
/// times, without its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// Id.
    pub id: i64,
    /// The incident it was written on.
    pub incident_id: i64,
    /// Who wrote it.
    pub author: Option<Principal>,
    /// Their user name or access key.
    pub author_label: String,
    /// When, ms.
    pub created_at_ms: i64,
    /// When last edited, ms.
    pub edited_at_ms: Option<i64>,
    /// The text ("" once redacted).
    pub body: String,
    /// Its text was removed.
    pub redacted: bool,
}

/// What a comment request does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentChange<'a> {
    /// Writes a new comment on the incident.
    Add { incident_id: i64, body: &'a str },
    /// Replaces the text of a comment (by its author, within the edit window).
    Edit { comment_id: i64, body: &'a str },
    /// Removes the text of a comment; the record of it stays.
    Redact { comment_id: i64 },
}

/// One record of the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Id, ascending in time.
    pub id: i64,
    /// The account it concerns (none for a failed login of an unknown name).
    pub account_id: Option<i64>,
    /// When, ms.
    pub at_ms: i64,
    /// Who: user name, access key, "system" or "operator".
    pub actor: String,
    /// From which address.
    pub address: Option<String>,
    /// What was done.
    pub action: AuditAction,
    /// What it was done to ("incident 12", "user acme/alice", …).
    pub target: String,
    /// The incident it concerns, if any.
    pub incident_id: Option<i64>,
    /// The value before.
    pub old_value: Option<Value>,
    /// The value after.
    pub new_value: Option<Value>,
}

/// An audit record to write.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAudit {
    /// The account it concerns.
    pub account_id: Option<i64>,
    /// What was done.
    pub action: AuditAction,
    /// What it was done to.
    pub target: String,
    /// The incident it concerns, if any.
    pub incident_id: Option<i64>,
    /// The value before.
    pub old_value: Option<Value>,
    /// The value after.
    pub new_value: Option<Value>,
}

impl NewAudit {
    /// A record of `action` on `target`, without values.
    pub fn of(account_id: Option<i64>, action: AuditAction, target: String) -> Self {
        NewAudit {
            account_id,
            action,
            target,
            incident_id: None,
            old_value: None,
            new_value: None,
        }
    }

    /// The record of an action on an incident.
    pub fn incident(account_id: i64, action: AuditAction, incident_id: i64) -> Self {
        NewAudit {
            incident_id: Some(incident_id),
            ..Self::of(Some(account_id), action, format!("incident {incident_id}"))
        }
    }

    /// With the value after.
    pub fn after(mut self, new_value: Value) -> Self {
        self.new_value = Some(new_value);
        self
    }

    /// With the values before and after.
    pub fn change(mut self, old_value: Value, new_value: Value) -> Self {
        self.old_value = Some(old_value);
        self.new_value = Some(new_value);
        self
    }
}

/// Filters of the audit trail; newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Of this account (every account's for the operator).
    pub account_id: Option<i64>,
    /// This kind of action.
    pub action: Option<AuditAction>,
    /// By this actor (user name, access key, "system").
    pub actor: Option<String>,
    /// About this incident.
    pub incident_id: Option<i64>,
    /// At or after this time, ms.
    pub after_ms: Option<i64>,
    /// Before this time, ms.
    pub before_ms: Option<i64>,
    /// Continue below this id, exclusive.
    pub before_id: Option<i64>,
    /// Page size.
    pub limit: u32,
}

/// Filters of the analysis task list; newest submission first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    /// Queue state.
    pub state: Option<TaskState>,
    /// File, URL or external.
    pub kind: Option<TaskKind>,
    /// Continue after this (created_at_ms, uuid), exclusive.
    pub cursor: Option<(i64, String)>,
    /// Page size.
    pub limit: u32,
}

/// What the console's dashboard shows for one account and period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overview {
    /// Events per type.
    pub per_kind: Vec<(String, i64)>,
    /// Events per action ("none" for events without one).
    pub per_action: Vec<(String, i64)>,
    /// Events per time bucket (start, ms) and type, oldest first.
    pub per_bucket: Vec<(i64, String, i64)>,
    /// The hosts with most events, most first.
    pub top_hosts: Vec<TopHost>,
    /// The reporting tools (vendor, tool) with most events, most first.
    pub top_tools: Vec<(String, String, i64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_orders_are_named_for_requests() {
        let names: Vec<&str> = EventOrder::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(names, ["newest", "oldest", "impact"]);
        assert_eq!(EventOrder::from_name(" Impact "), Some(EventOrder::Impact));
        assert_eq!(EventOrder::from_name("OLDEST"), Some(EventOrder::Oldest));
        assert_eq!(EventOrder::from_name("newest"), Some(EventOrder::Newest));
        assert_eq!(EventOrder::from_name("random"), None);
        assert_eq!(EventOrder::expected(), "one of newest, oldest, impact");
    }
}

/// One of the hosts most events were about: a host entity with its identifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopHost {
    /// The entity's key.
    pub key: String,
    /// Events about it.
    pub events: i64,
    /// Every identifier tied to it (empty for an identifier no tie names).
    pub identifiers: Vec<String>,
}

/// A machine as the store knows it: the identifiers events have named it by (see the
/// store's `host_identity` rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEntity {
    /// Its key, its incidents' host.
    pub key: String,
    /// Its identifiers, by name (empty for an identifier no tie names).
    pub identifiers: Vec<HostIdentifier>,
}

/// One identifier of a host entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostIdentifier {
    /// An address, a name, a NetBIOS name or a mailbox.
    pub identifier: String,
    /// When an event first named it (for this entity or an earlier one), ms.
    pub first_seen_ms: i64,
    /// When an event last named it, ms.
    pub last_seen_ms: i64,
}
