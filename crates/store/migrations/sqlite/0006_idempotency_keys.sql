-- Push fingerprints are kept as long as their kind of recognition needs them: a resent
-- push's fingerprint for the resend window (minutes), an idempotency key's for a day or
-- more. The purge reads the expiry, so the age index is replaced by an expiry index.
ALTER TABLE push_fingerprints ADD COLUMN keep_until_ms INTEGER NOT NULL DEFAULT 0;
UPDATE push_fingerprints SET keep_until_ms = received_at_ms + 86400000;
DROP INDEX push_fingerprints_age;
CREATE INDEX push_fingerprints_expiry ON push_fingerprints(keep_until_ms);
