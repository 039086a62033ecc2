//! Every PAPI endpoint in one table: the router (`routes`) and the OpenAPI document
//! (`openapi`) are both built from it, so they cannot drift apart.

use crate::papi::auth;
use pushdetect_model::account_api::{
    TokenScope, PASSWORD_CHANGE, PASSWORD_RESET, TOKEN_CREATE, TOKEN_LIST, TOKEN_REVOKE,
};
use pushdetect_model::batch::PUSH_EVENTS;
use pushdetect_model::forwarding_api::{
    DELIVERY_DEAD_LIST, DELIVERY_RESEND, DESTINATION_CREATE, DESTINATION_LIST, DESTINATION_REMOVE,
    DESTINATION_TEST, DESTINATION_UPDATE,
};
use pushdetect_model::method::{
    MethodSpec, EVENT_GET, EVENT_LIST, INCIDENT_GET, INCIDENT_LIST, PUSH_IOC_RESULT_SPEC_URL,
};
use pushdetect_model::workflow_api::{
    AUDIT_LIST, INCIDENT_COMMENT, INCIDENT_HISTORY, INCIDENT_MERGE, INCIDENT_SPLIT, INCIDENT_UPDATE,
};
use pushdetect_model::EventKind;
use std::collections::HashMap;
use std::sync::LazyLock;

/// What an endpoint does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Log in.
    Login,
    /// Log out.
    Logout,
    /// Ping.
    Ping,
    /// Push an event of this kind.
    Push(EventKind),
    /// Push many events of any kind (a JSON body).
    PushBatch,
    /// List events.
    ListEvents,
    /// Get one event.
    GetEvent,
    /// List incidents.
    ListIncidents,
    /// Get one incident.
    GetIncident,
    /// Change an incident's status, resolution, reason or assignee.
    UpdateIncident,
    /// Add, edit or redact a comment.
    CommentIncident,
    /// Merge incidents into one.
    MergeIncidents,
    /// Move events into a new incident.
    SplitIncident,
    /// An incident's history and comments.
    IncidentHistory,
    /// The account's audit trail.
    ListAudit,
    /// Create a forwarding destination.
    CreateDestination,
    /// List forwarding destinations.
    ListDestinations,
    /// Enable or disable a destination.
    UpdateDestination,
    /// Remove a destination.
    RemoveDestination,
    /// Send a destination a test message.
    TestDestination,
    /// A destination's dead letters.
    DeadDeliveries,
    /// Send dead letters again.
    ResendDeliveries,
    /// Change one's own password.
    ChangePassword,
    /// Give a user of the account a new password.
    ResetPassword,
    /// Create an API token.
    CreateToken,
    /// List API tokens.
    ListTokens,
    /// Revoke an API token.
    RevokeToken,
}

impl Action {
    /// Whether an API token of `scope` may make this call: any token the reading calls, a
    /// write token the rest its user's role allows, but no token manages passwords or
    /// tokens (a leaked token must not make itself a successor or lock its user out).
    /// Refused: why, for the caller.
    pub fn allows_token(self, scope: TokenScope) -> Result<(), &'static str> {
        use Action::*;
        match self {
            Ping | ListEvents | GetEvent | ListIncidents | GetIncident | IncidentHistory
            | ListAudit | ListDestinations | DeadDeliveries => Ok(()),
            ChangePassword | ResetPassword | CreateToken | ListTokens | RevokeToken | Login
            | Logout => Err(
                "passwords and API tokens are managed after logging in with a \
                             user name and password, not with an API token",
            ),
            _ if scope == TokenScope::Write => Ok(()),
            _ => Err(
                "this API token is read-only: it may call the reading methods only; \
                      create a write token for this call",
            ),
        }
    }
}

/// One PAPI endpoint. Each answers at `/papi/PATH`, `/papi/PATH.json` and `/papi/PATH.xml`.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    /// The method's parameters (and its path below `/papi`).
    pub spec: &'static MethodSpec,
    /// Path below `/papi`, when it differs from the spec's (module pings).
    pub path: Option<&'static str>,
    /// Accepted HTTP methods.
    pub methods: &'static [&'static str],
    /// The handler.
    pub action: Action,
}

impl Endpoint {
    /// The path below `/papi`, without format suffix.
    pub fn path(&self) -> &'static str {
        self.path.unwrap_or(self.spec.path)
    }
}

const POST: &[&str] = &["POST"];
const GET_POST: &[&str] = &["GET", "POST"];

const fn ep(
    spec: &'static MethodSpec,
    methods: &'static [&'static str],
    action: Action,
) -> Endpoint {
    Endpoint {
        spec,
        path: None,
        methods,
        action,
    }
}

const fn ping(path: &'static str) -> Endpoint {
    Endpoint {
        spec: &auth::PING,
        path: Some(path),
        methods: GET_POST,
        action: Action::Ping,
    }
}

/// The PAPI endpoints: one push per event kind of the model ([`EventKind::ALL`], at its
/// method's path), and the rest.
pub static ENDPOINTS: LazyLock<Vec<Endpoint>> = LazyLock::new(|| {
    let mut endpoints = vec![
        ep(&auth::LOGIN, POST, Action::Login),
        ep(&auth::LOGOUT, POST, Action::Logout),
        ping("ping"),
        ping("push_detection/ping"),
        ping("push_detection/file_capture/ping"),
        ping("push_detection/ioc/ping"),
        ping("push_detection/mail_capture/ping"),
        ping("push_detection/event/ping"),
    ];
    for kind in EventKind::ALL {
        endpoints.push(ep(kind.method(), POST, Action::Push(kind)));
    }
    endpoints.extend([
        // push_result also at the path the spec's text gives for it.
        ep(
            &PUSH_IOC_RESULT_SPEC_URL,
            POST,
            Action::Push(EventKind::Ioc),
        ),
        ping("push_detection/batch/ping"),
        ep(&PUSH_EVENTS, POST, Action::PushBatch),
        ep(&EVENT_LIST, GET_POST, Action::ListEvents),
        ep(&EVENT_GET, GET_POST, Action::GetEvent),
        ping("push_detection/incident/ping"),
        ep(&INCIDENT_LIST, GET_POST, Action::ListIncidents),
        ep(&INCIDENT_GET, GET_POST, Action::GetIncident),
        ep(&INCIDENT_UPDATE, POST, Action::UpdateIncident),
        ep(&INCIDENT_COMMENT, POST, Action::CommentIncident),
        ep(&INCIDENT_MERGE, POST, Action::MergeIncidents),
        ep(&INCIDENT_SPLIT, POST, Action::SplitIncident),
        ep(&INCIDENT_HISTORY, GET_POST, Action::IncidentHistory),
        ep(&AUDIT_LIST, GET_POST, Action::ListAudit),
        ping("forwarding/ping"),
        ep(&DESTINATION_CREATE, POST, Action::CreateDestination),
        ep(&DESTINATION_LIST, GET_POST, Action::ListDestinations),
        ep(&DESTINATION_UPDATE, POST, Action::UpdateDestination),
        ep(&DESTINATION_REMOVE, POST, Action::RemoveDestination),
        ep(&DESTINATION_TEST, POST, Action::TestDestination),
        ep(&DELIVERY_DEAD_LIST, GET_POST, Action::DeadDeliveries),
        ep(&DELIVERY_RESEND, POST, Action::ResendDeliveries),
        ep(&PASSWORD_CHANGE, POST, Action::ChangePassword),
        ep(&PASSWORD_RESET, POST, Action::ResetPassword),
        ep(&TOKEN_CREATE, POST, Action::CreateToken),
        ep(&TOKEN_LIST, GET_POST, Action::ListTokens),
        ep(&TOKEN_REVOKE, POST, Action::RevokeToken),
    ]);
    endpoints
});

/// The format suffixes every PAPI path answers with.
pub const SUFFIXES: [&str; 3] = ["", ".json", ".xml"];

/// The action of the PAPI endpoint at `path` (`/papi/…`, with or without its format suffix).
pub fn action_at(path: &str) -> Option<Action> {
    static BY_PATH: LazyLock<HashMap<String, Action>> = LazyLock::new(|| {
        ENDPOINTS
            .iter()
            .flat_map(|e| {
                SUFFIXES
                    .iter()
                    .map(move |suffix| (format!("/papi/{}{suffix}", e.path()), e.action))
            })
            .collect()
    });
    BY_PATH.get(path).copied()
}
