-- Triage: each event's action and impact, the analysis tasks it refers to, and incidents
-- (events about one host close in time). Existing events are indexed by the server at
-- start (incidents_indexed = 0), which derives their action and impact from their raw
-- parameters.

ALTER TABLE events ADD COLUMN action TEXT;        -- LOG | WARN | BLOCK; NULL when none
ALTER TABLE events ADD COLUMN impact INTEGER;     -- 0-100; NULL while unknown
ALTER TABLE events ADD COLUMN incidents_indexed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX events_account_impact ON events(account_id, impact DESC, occurred_at_ms DESC, id DESC);
CREATE INDEX events_account_action ON events(account_id, action, occurred_at_ms DESC, id DESC);
CREATE INDEX events_backlog ON events(id) WHERE incidents_indexed = 0;

CREATE TABLE event_tasks (
    event_id   INTEGER NOT NULL REFERENCES events(id),
    account_id INTEGER NOT NULL,
    task_uuid  TEXT    NOT NULL,
    PRIMARY KEY (event_id, task_uuid)
);
CREATE INDEX event_tasks_task ON event_tasks(account_id, task_uuid);

CREATE TABLE incidents (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    host       TEXT    NOT NULL,
    first_ms   INTEGER NOT NULL,
    last_ms    INTEGER NOT NULL,
    events     INTEGER NOT NULL,
    impact     INTEGER
);
CREATE INDEX incidents_account_last ON incidents(account_id, last_ms DESC, id DESC);
CREATE INDEX incidents_account_host ON incidents(account_id, host, last_ms);

CREATE TABLE incident_events (
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    event_id    INTEGER NOT NULL REFERENCES events(id),
    PRIMARY KEY (incident_id, event_id)
);
CREATE INDEX incident_events_event ON incident_events(event_id);

CREATE INDEX tasks_account_created ON tasks(account_id, created_at_ms DESC, uuid DESC);
