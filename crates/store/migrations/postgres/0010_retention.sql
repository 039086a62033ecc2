-- Retention: an account may keep its events for a number of days (NULL: for ever); older
-- ones, the incidents they leave empty and the analyses nothing refers to any more are
-- purged in the background. The audit trail outlives what it records: its incident_id
-- stops referencing incidents, so an incident purged with its events leaves its history
-- readable.

ALTER TABLE accounts ADD COLUMN retention_days BIGINT;
ALTER TABLE audit DROP CONSTRAINT IF EXISTS audit_incident_id_fkey;

-- The purge finds an account's oldest events by when they were received.
CREATE INDEX events_account_received ON events(account_id, received_at_ms, id);
CREATE INDEX push_fingerprints_event ON push_fingerprints(event_id);
