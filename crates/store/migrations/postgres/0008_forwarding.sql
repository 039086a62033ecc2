-- Forwarding: an account's destinations (syslog servers, webhooks) and the outbox of
-- deliveries to them, written in the transaction that stores the event (or changes the
-- incident) they carry, so that none is stored without its deliveries.

CREATE TABLE destinations (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id      BIGINT  NOT NULL REFERENCES accounts(id),
    name            TEXT    NOT NULL,
    -- tcp://, tls://, udp:// (syslog) or an http(s):// URL (webhook).
    target          TEXT    NOT NULL,
    format          TEXT    NOT NULL,
    -- Which events and incident changes it is sent (JSON, see the model's Filter).
    filter          TEXT    NOT NULL,
    -- What the transport needs besides the target (JSON: CA bundle, server name, ...).
    options         TEXT    NOT NULL,
    -- The webhook's signing key or the TLS client key: never shown after creation.
    secret          TEXT,
    dead_after_secs BIGINT  NOT NULL,
    disabled        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at_ms   BIGINT  NOT NULL,
    -- The node sending its deliveries, until when (one node at a time).
    lease_node      TEXT,
    lease_until_ms  BIGINT  NOT NULL DEFAULT 0,
    UNIQUE (account_id, name)
);

-- One row per delivery still to send (or dead-lettered): sent ones are deleted. No foreign
-- key to destinations: checking one would lock the destination's row in every push, and
-- fail a push that raced its destination's removal; rows a removed destination leaves
-- are purged instead.
CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    destination_id  BIGINT  NOT NULL,
    -- 'event', or an incident change: 'new', 'impact_raised', 'status_changed'.
    change          TEXT    NOT NULL,
    event_id        BIGINT,
    incident_id     BIGINT,
    created_at_ms   BIGINT  NOT NULL,
    -- When retrying began (a re-send starts it again): dead-lettered after dead_after_secs.
    retry_since_ms  BIGINT  NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT  NOT NULL,
    last_error      TEXT,
    dead_at_ms      BIGINT
);
CREATE INDEX outbox_destination ON outbox(destination_id, id);
