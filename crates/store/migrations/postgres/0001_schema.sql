-- The whole schema on PostgreSQL: the same tables and columns as the SQLite migrations
-- (0001-0003 there), with native types. Times are BIGINT milliseconds since the epoch
-- (UTC); ids are never reused.

CREATE TABLE accounts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at_ms BIGINT  NOT NULL
);

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id    BIGINT  NOT NULL REFERENCES accounts(id),
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    is_admin      BOOLEAN NOT NULL DEFAULT FALSE,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at_ms BIGINT  NOT NULL
);
CREATE INDEX users_account ON users(account_id);

CREATE TABLE licenses (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id     BIGINT  NOT NULL REFERENCES accounts(id),
    name           TEXT    NOT NULL,
    access_key     TEXT    NOT NULL UNIQUE,
    api_token_hash TEXT    NOT NULL,
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at_ms  BIGINT  NOT NULL
);
CREATE INDEX licenses_account ON licenses(account_id);

CREATE TABLE sensors (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    license_id    BIGINT  NOT NULL REFERENCES licenses(id),
    subkey        TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at_ms BIGINT  NOT NULL,
    UNIQUE (license_id, subkey)
);

CREATE TABLE sessions (
    id_hash       TEXT   PRIMARY KEY,
    account_id    BIGINT NOT NULL REFERENCES accounts(id),
    user_id       BIGINT REFERENCES users(id),
    license_id    BIGINT REFERENCES licenses(id),
    created_at_ms BIGINT NOT NULL,
    last_seen_ms  BIGINT NOT NULL,
    CHECK ((user_id IS NULL) <> (license_id IS NULL))
);
CREATE INDEX sessions_last_seen ON sessions(last_seen_ms);
CREATE INDEX sessions_license ON sessions(license_id);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE tasks (
    uuid            TEXT   PRIMARY KEY,
    account_id      BIGINT NOT NULL REFERENCES accounts(id),
    license_id      BIGINT NOT NULL REFERENCES licenses(id),
    created_at_ms   BIGINT NOT NULL,
    kind            TEXT   NOT NULL DEFAULT 'external',   -- file | url | external
    state           TEXT   NOT NULL DEFAULT 'completed',  -- queued | running | completed
    sha256          TEXT,
    filename        TEXT,
    url             TEXT,
    options         TEXT   NOT NULL DEFAULT '{}',
    score           BIGINT,
    result          TEXT,
    started_at_ms   BIGINT,
    completed_at_ms BIGINT
);
CREATE INDEX tasks_queue ON tasks(state, created_at_ms);
CREATE INDEX tasks_license_completed ON tasks(license_id, completed_at_ms);
CREATE INDEX tasks_license_created ON tasks(license_id, created_at_ms);
CREATE INDEX tasks_license_sha256 ON tasks(license_id, sha256, completed_at_ms);
CREATE INDEX tasks_account_created ON tasks(account_id, created_at_ms DESC, uuid DESC);
CREATE INDEX tasks_sha256 ON tasks(sha256);

CREATE TABLE contents (
    sha256       TEXT   PRIMARY KEY,
    md5          TEXT   NOT NULL,
    sha1         TEXT   NOT NULL,
    size         BIGINT NOT NULL,
    stored_at_ms BIGINT NOT NULL
);
CREATE INDEX contents_md5 ON contents(md5);
CREATE INDEX contents_sha1 ON contents(sha1);

CREATE TABLE events (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id           BIGINT NOT NULL REFERENCES accounts(id),
    license_id           BIGINT NOT NULL REFERENCES licenses(id),
    sensor_id            BIGINT NOT NULL REFERENCES sensors(id),
    pushed_by_user_id    BIGINT REFERENCES users(id),
    pushed_by_license_id BIGINT REFERENCES licenses(id),
    kind                 TEXT   NOT NULL,
    received_at_ms       BIGINT NOT NULL,
    occurred_at_ms       BIGINT NOT NULL,
    vendor_name          TEXT   NOT NULL,
    tool_name            TEXT   NOT NULL,
    fields               TEXT   NOT NULL,
    raw_params           TEXT   NOT NULL,
    action               TEXT,              -- LOG | WARN | BLOCK; NULL when none
    impact               BIGINT,            -- 0-100; NULL while unknown
    incidents_indexed    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_account_time ON events(account_id, occurred_at_ms DESC, id DESC);
CREATE INDEX events_account_kind_time ON events(account_id, kind, occurred_at_ms DESC, id DESC);
CREATE INDEX events_account_impact ON events(account_id, impact DESC, occurred_at_ms DESC, id DESC);
CREATE INDEX events_account_action ON events(account_id, action, occurred_at_ms DESC, id DESC);
CREATE INDEX events_backlog ON events(id) WHERE incidents_indexed = 0;

CREATE TABLE event_hosts (
    event_id   BIGINT NOT NULL REFERENCES events(id),
    account_id BIGINT NOT NULL,
    host       TEXT   NOT NULL,
    PRIMARY KEY (event_id, host)
);
CREATE INDEX event_hosts_lookup ON event_hosts(account_id, host, event_id);

CREATE TABLE push_fingerprints (
    fingerprint    TEXT   PRIMARY KEY,
    event_id       BIGINT NOT NULL REFERENCES events(id),
    received_at_ms BIGINT NOT NULL
);
CREATE INDEX push_fingerprints_age ON push_fingerprints(received_at_ms);

CREATE TABLE event_tasks (
    event_id   BIGINT NOT NULL REFERENCES events(id),
    account_id BIGINT NOT NULL,
    task_uuid  TEXT   NOT NULL,
    PRIMARY KEY (event_id, task_uuid)
);
CREATE INDEX event_tasks_task ON event_tasks(account_id, task_uuid);

CREATE TABLE incidents (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    host       TEXT   NOT NULL,
    first_ms   BIGINT NOT NULL,
    last_ms    BIGINT NOT NULL,
    events     BIGINT NOT NULL,
    impact     BIGINT
);
CREATE INDEX incidents_account_last ON incidents(account_id, last_ms DESC, id DESC);
CREATE INDEX incidents_account_host ON incidents(account_id, host, last_ms);

CREATE TABLE incident_events (
    incident_id BIGINT NOT NULL REFERENCES incidents(id),
    event_id    BIGINT NOT NULL REFERENCES events(id),
    PRIMARY KEY (incident_id, event_id)
);
CREATE INDEX incident_events_event ON incident_events(event_id);
