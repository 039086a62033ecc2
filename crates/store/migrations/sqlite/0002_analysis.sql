-- Analysis tasks become a durable queue with results; submitted content is recorded by hash.

ALTER TABLE tasks ADD COLUMN kind TEXT NOT NULL DEFAULT 'external';   -- file | url | external
ALTER TABLE tasks ADD COLUMN state TEXT NOT NULL DEFAULT 'completed'; -- queued | running | completed
ALTER TABLE tasks ADD COLUMN sha256 TEXT;
ALTER TABLE tasks ADD COLUMN filename TEXT;
ALTER TABLE tasks ADD COLUMN url TEXT;
ALTER TABLE tasks ADD COLUMN options TEXT NOT NULL DEFAULT '{}';
ALTER TABLE tasks ADD COLUMN score INTEGER;
ALTER TABLE tasks ADD COLUMN result TEXT;
ALTER TABLE tasks ADD COLUMN started_at_ms INTEGER;
ALTER TABLE tasks ADD COLUMN completed_at_ms INTEGER;

CREATE INDEX tasks_queue ON tasks(state, created_at_ms);
CREATE INDEX tasks_license_completed ON tasks(license_id, completed_at_ms);
CREATE INDEX tasks_license_created ON tasks(license_id, created_at_ms);
CREATE INDEX tasks_license_sha256 ON tasks(license_id, sha256, completed_at_ms);

CREATE TABLE contents (
    sha256        TEXT    PRIMARY KEY,
    md5           TEXT    NOT NULL,
    sha1          TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    stored_at_ms  INTEGER NOT NULL
);
CREATE INDEX contents_md5 ON contents(md5);
CREATE INDEX contents_sha1 ON contents(sha1);
