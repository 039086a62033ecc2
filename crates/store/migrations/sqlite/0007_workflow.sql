-- The incident workflow: roles of users, the status, resolution and assignee of incidents,
-- who has read which incident, comments, and the append-only audit trail.

-- Roles replace the admin flag: admins stay admins, everyone else becomes an analyst.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'analyst'
    CHECK (role IN ('admin', 'analyst', 'viewer'));
UPDATE users SET role = 'admin' WHERE is_admin;
ALTER TABLE users DROP COLUMN is_admin;

ALTER TABLE incidents ADD COLUMN status TEXT NOT NULL DEFAULT 'new'
    CHECK (status IN ('new', 'acknowledged', 'closed'));
ALTER TABLE incidents ADD COLUMN resolution TEXT;
ALTER TABLE incidents ADD COLUMN reason TEXT;
ALTER TABLE incidents ADD COLUMN assignee_id INTEGER REFERENCES users(id);
-- Set on an incident merged into another: it answers with a pointer to the survivor.
ALTER TABLE incidents ADD COLUMN merged_into INTEGER;
-- Set once an analyst has acted on it: events never merge it into another by themselves.
ALTER TABLE incidents ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
-- The largest id of its events: a user has read it when they have seen up to this event.
ALTER TABLE incidents ADD COLUMN last_event_id INTEGER NOT NULL DEFAULT 0;
UPDATE incidents SET last_event_id = COALESCE(
    (SELECT MAX(event_id) FROM incident_events WHERE incident_id = incidents.id), 0);
DROP INDEX incidents_account_last;
CREATE INDEX incidents_account_last ON incidents(account_id, last_ms DESC, id DESC)
    WHERE merged_into IS NULL;
CREATE INDEX incidents_account_status ON incidents(account_id, status, last_ms DESC, id DESC)
    WHERE merged_into IS NULL;
CREATE INDEX incidents_assignee ON incidents(assignee_id, last_ms DESC, id DESC)
    WHERE merged_into IS NULL AND assignee_id IS NOT NULL;
CREATE INDEX incidents_merged_into ON incidents(merged_into) WHERE merged_into IS NOT NULL;

CREATE TABLE incident_reads (
    incident_id   INTEGER NOT NULL REFERENCES incidents(id),
    user_id       INTEGER NOT NULL REFERENCES users(id),
    seen_event_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, incident_id)
);

CREATE TABLE incident_comments (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id       INTEGER NOT NULL REFERENCES incidents(id),
    account_id        INTEGER NOT NULL REFERENCES accounts(id),
    author_user_id    INTEGER REFERENCES users(id),
    author_license_id INTEGER REFERENCES licenses(id),
    created_at_ms     INTEGER NOT NULL,
    edited_at_ms      INTEGER,
    body              TEXT    NOT NULL,
    redacted          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX incident_comments_incident ON incident_comments(incident_id, id);

-- Who did what, when, from where, with the value before and after (JSON). Rows are only
-- ever added: the triggers below refuse every update and delete.
CREATE TABLE audit (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id       INTEGER REFERENCES accounts(id),
    at_ms            INTEGER NOT NULL,
    actor_user_id    INTEGER REFERENCES users(id),
    actor_license_id INTEGER REFERENCES licenses(id),
    actor            TEXT    NOT NULL,
    address          TEXT,
    action           TEXT    NOT NULL,
    target           TEXT    NOT NULL,
    incident_id      INTEGER REFERENCES incidents(id),
    old_value        TEXT,
    new_value        TEXT
);
CREATE INDEX audit_account ON audit(account_id, id DESC);
CREATE INDEX audit_incident ON audit(incident_id, id) WHERE incident_id IS NOT NULL;

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
