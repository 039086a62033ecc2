-- Retention: an account may keep its events for a number of days (NULL: for ever); older
-- ones, the incidents they leave empty and the analyses nothing refers to any more are
-- purged in the background. The audit trail outlives what it records: its incident_id
-- stops referencing incidents, so an incident purged with its events leaves its history
-- readable (SQLite drops a reference only by rebuilding the table).

ALTER TABLE accounts ADD COLUMN retention_days INTEGER;

CREATE TABLE audit_kept (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id       INTEGER REFERENCES accounts(id),
    at_ms            INTEGER NOT NULL,
    actor_user_id    INTEGER REFERENCES users(id),
    actor_license_id INTEGER REFERENCES licenses(id),
    actor            TEXT    NOT NULL,
    address          TEXT,
    action           TEXT    NOT NULL,
    target           TEXT    NOT NULL,
    -- The incident it concerns, kept after the incident is purged.
    incident_id      INTEGER,
    old_value        TEXT,
    new_value        TEXT
);
INSERT INTO audit_kept (id, account_id, at_ms, actor_user_id, actor_license_id, actor,
                        address, action, target, incident_id, old_value, new_value)
    SELECT id, account_id, at_ms, actor_user_id, actor_license_id, actor, address, action,
           target, incident_id, old_value, new_value
    FROM audit;
-- Dropping a table fires no trigger: the append-only rule is not broken, only moved.
DROP TABLE audit;
ALTER TABLE audit_kept RENAME TO audit;
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

-- The purge finds an account's oldest events by when they were received.
CREATE INDEX events_account_received ON events(account_id, received_at_ms, id);
CREATE INDEX push_fingerprints_event ON push_fingerprints(event_id);
