-- Tenants, their credentials, sessions, analysis tasks and pushed events.
-- Times are INTEGER milliseconds since the epoch (UTC); ids are never reused.

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    INTEGER NOT NULL REFERENCES accounts(id),
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE licenses (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id     INTEGER NOT NULL REFERENCES accounts(id),
    name           TEXT    NOT NULL,
    access_key     TEXT    NOT NULL UNIQUE,
    api_token_hash TEXT    NOT NULL,
    disabled       INTEGER NOT NULL DEFAULT 0,
    created_at_ms  INTEGER NOT NULL
);
CREATE INDEX licenses_account ON licenses(account_id);

CREATE TABLE sensors (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    license_id    INTEGER NOT NULL REFERENCES licenses(id),
    subkey        TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at_ms INTEGER NOT NULL,
    UNIQUE (license_id, subkey)
);

CREATE TABLE sessions (
    id_hash       TEXT    PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts(id),
    user_id       INTEGER REFERENCES users(id),
    license_id    INTEGER REFERENCES licenses(id),
    created_at_ms INTEGER NOT NULL,
    last_seen_ms  INTEGER NOT NULL,
    CHECK ((user_id IS NULL) <> (license_id IS NULL))
);
CREATE INDEX sessions_last_seen ON sessions(last_seen_ms);
CREATE INDEX sessions_license ON sessions(license_id);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE tasks (
    uuid          TEXT    PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts(id),
    license_id    INTEGER NOT NULL REFERENCES licenses(id),
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE events (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id           INTEGER NOT NULL REFERENCES accounts(id),
    license_id           INTEGER NOT NULL REFERENCES licenses(id),
    sensor_id            INTEGER NOT NULL REFERENCES sensors(id),
    pushed_by_user_id    INTEGER REFERENCES users(id),
    pushed_by_license_id INTEGER REFERENCES licenses(id),
    kind                 TEXT    NOT NULL,
    received_at_ms       INTEGER NOT NULL,
    occurred_at_ms       INTEGER NOT NULL,
    vendor_name          TEXT    NOT NULL,
    tool_name            TEXT    NOT NULL,
    fields               TEXT    NOT NULL,
    raw_params           TEXT    NOT NULL
);
CREATE INDEX events_account_time ON events(account_id, occurred_at_ms DESC, id DESC);
CREATE INDEX events_account_kind_time ON events(account_id, kind, occurred_at_ms DESC, id DESC);

CREATE TABLE event_hosts (
    event_id   INTEGER NOT NULL REFERENCES events(id),
    account_id INTEGER NOT NULL,
    host       TEXT    NOT NULL,
    PRIMARY KEY (event_id, host)
);
CREATE INDEX event_hosts_lookup ON event_hosts(account_id, host, event_id);

CREATE TABLE push_fingerprints (
    fingerprint    TEXT    PRIMARY KEY,
    event_id       INTEGER NOT NULL REFERENCES events(id),
    received_at_ms INTEGER NOT NULL
);
CREATE INDEX push_fingerprints_age ON push_fingerprints(received_at_ms);
