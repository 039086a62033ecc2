//! Forwarding: an account's destinations and the outbox of deliveries to them. Part of
//! [`crate::Store`].
//!
//! A delivery is written in the transaction that stores its event (or changes its
//! incident): an event is never stored without its deliveries, and no delivery names an
//! event that was not stored. The dispatcher of each node leases a destination
//! ([`Forwarding::lease_destinations`]; `FOR UPDATE SKIP LOCKED` on PostgreSQL), so that
//! one node sends its deliveries at a time, in order, and deletes each once it is sent. A
//! node that dies holding a lease loses it when it expires, and another node sends what
//! it had not deleted again, with the same delivery id: at least once.

use crate::error::StoreResult;
use crate::records::{Actor, Incident, StoredEvent};
use async_trait::async_trait;
use serde_json::Value;

/// A destination as stored, without its secret.
#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    /// Id.
    pub id: i64,
    /// Its account.
    pub account_id: i64,
    /// Its name, unique in the account.
    pub name: String,
    /// Where it sends (the model's `Target` as text).
    pub target: String,
    /// The payload format (`cef`, `leef`, `json`, `ocsf`).
    pub format: String,
    /// Which events and incident changes it is sent (the model's `Filter` as JSON).
    pub filter: Value,
    /// What the transport needs besides the target (CA bundle, server name, CEF names).
    pub options: Value,
    /// Whether a secret (signing key, TLS client key) is kept for it.
    pub has_secret: bool,
    /// How long a delivery is retried before it is dead-lettered.
    pub dead_after_secs: i64,
    /// Disabled destinations are sent nothing, and get no new deliveries.
    pub disabled: bool,
    /// Creation time, ms.
    pub created_at_ms: i64,
}

/// A destination to create.
#[derive(Debug, Clone)]
pub struct NewDestination {
    /// Its account.
    pub account_id: i64,
    /// Its name.
    pub name: String,
    /// Where it sends.
    pub target: String,
    /// The payload format.
    pub format: String,
    /// Which events and incident changes it is sent.
    pub filter: Value,
    /// What the transport needs besides the target.
    pub options: Value,
    /// The signing key or TLS client key, kept for sending and never read back.
    pub secret: Option<String>,
    /// How long a delivery is retried before it is dead-lettered.
    pub dead_after_secs: i64,
    /// Creation time, ms.
    pub created_at_ms: i64,
}

/// A destination leased to this node, with what sending needs.
#[derive(Debug, Clone)]
pub struct Leased {
    /// The destination.
    pub destination: Destination,
    /// Its secret.
    pub secret: Option<String>,
}

/// One delivery of the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Its id: stable across retries, re-sends and nodes, for receivers to drop repeats.
    pub id: i64,
    /// Its destination.
    pub destination_id: i64,
    /// `event`, or an incident change (`new`, `impact_raised`, `status_changed`).
    pub change: String,
    /// The event it carries.
    pub event_id: Option<i64>,
    /// The incident whose change it carries.
    pub incident_id: Option<i64>,
    /// When it was written, ms.
    pub created_at_ms: i64,
    /// When retrying began (re-sending starts it again), ms.
    pub retry_since_ms: i64,
    /// Attempts so far.
    pub attempts: i64,
    /// Not sent before, ms.
    pub next_attempt_ms: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was dead-lettered, ms.
    pub dead_at_ms: Option<i64>,
}

/// The outbox of one destination, for metrics and the console.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxDepth {
    /// The destination.
    pub destination_id: i64,
    /// Its account.
    pub account_id: i64,
    /// Its name.
    pub name: String,
    /// Deliveries waiting.
    pub pending: i64,
    /// Deliveries dead-lettered.
    pub dead: i64,
    /// When the oldest waiting one was written, ms.
    pub oldest_pending_ms: Option<i64>,
}

/// What a delivery carries, read for sending.
#[derive(Debug, Clone)]
pub enum Carried {
    /// An event.
    Event(Box<StoredEvent>),
    /// An incident, as it is now, and the change.
    Incident(Box<Incident>),
    /// The event or incident is gone (deleted since): nothing to send.
    Gone,
}

/// Destinations and their outbox.
#[async_trait]
pub trait Forwarding: Send + Sync {
    /// Creates a destination, audited; Conflict if the account has one of that name.
    async fn create_destination(
        &self,
        new: &NewDestination,
        actor: &Actor,
    ) -> StoreResult<Destination>;
    /// The account's destinations, by name.
    async fn list_destinations(&self, account_id: i64) -> StoreResult<Vec<Destination>>;
    /// One destination of the account by name.
    async fn find_destination(
        &self,
        account_id: i64,
        name: &str,
    ) -> StoreResult<Option<Destination>>;
    /// Enables or disables a destination of the account, audited. NotFound if none.
    async fn set_destination_disabled(
        &self,
        account_id: i64,
        id: i64,
        disabled: bool,
        actor: &Actor,
    ) -> StoreResult<()>;
    /// Removes a destination of the account and its outbox, audited. NotFound if none.
    async fn remove_destination(&self, account_id: i64, id: i64, actor: &Actor) -> StoreResult<()>;
    /// The secret of a destination, for sending a test message.
    async fn destination_secret(&self, id: i64) -> StoreResult<Option<String>>;

    /// Leases to `node`, until `until_ms`, at most `limit` enabled destinations that have
    /// deliveries due at `now_ms` and that no other node holds (or whose lease expired);
    /// renews the ones `node` holds. One node holds a destination at a time.
    async fn lease_destinations(
        &self,
        node: &str,
        now_ms: i64,
        until_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<Leased>>;
    /// Gives up `node`'s lease of a destination.
    async fn release_destination(&self, node: &str, id: i64) -> StoreResult<()>;
    /// The first `limit` deliveries of a destination not dead-lettered, in order.
    async fn pending_deliveries(
        &self,
        destination_id: i64,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>>;
    /// What deliveries carry, in their order.
    async fn carried(&self, deliveries: &[Delivery]) -> StoreResult<Vec<Carried>>;
    /// Deletes sent deliveries.
    async fn delivered(&self, ids: &[i64]) -> StoreResult<()>;
    /// Records a failed attempt: tried again at `next_attempt_ms`.
    async fn retry_delivery(&self, id: i64, next_attempt_ms: i64, error: &str) -> StoreResult<()>;
    /// Dead-letters deliveries: kept, not sent again unless re-sent.
    async fn dead_letter(&self, ids: &[i64], now_ms: i64, error: &str) -> StoreResult<()>;
    /// The dead-lettered deliveries of a destination of the account, newest first.
    async fn dead_letters(
        &self,
        account_id: i64,
        destination_id: i64,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>>;
    /// Sends dead-lettered deliveries of a destination of the account again (all of them
    /// when `ids` is empty), their retry time starting at `now_ms`, audited; returns how
    /// many.
    async fn resend(
        &self,
        account_id: i64,
        destination_id: i64,
        ids: &[i64],
        now_ms: i64,
        actor: &Actor,
    ) -> StoreResult<u64>;
    /// The outbox of every destination, or of the account's only.
    async fn outbox_depths(&self, account_id: Option<i64>) -> StoreResult<Vec<OutboxDepth>>;
}
