-- Host entities and grouping rules: the identifiers events name one machine by are tied
-- to one entity, whose key the machine's incidents carry as their host; an account may
-- group some events by another key (a mail's sender, an IOC, a file's SHA-256).

-- Which entity each identifier (address, name, NetBIOS name, mailbox) of an account
-- belongs to. An identifier no row names is an entity of its own, keyed by itself.
CREATE TABLE host_identifiers (
    account_id    INTEGER NOT NULL REFERENCES accounts(id),
    identifier    TEXT    NOT NULL,
    entity        TEXT    NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms  INTEGER NOT NULL,
    PRIMARY KEY (account_id, identifier)
);
CREATE INDEX host_identifiers_entity ON host_identifiers(account_id, entity);

-- What an incident's `host` is: a host entity's key (`host`) or another rule's key.
ALTER TABLE incidents ADD COLUMN grouped_by TEXT NOT NULL DEFAULT 'host'
    CHECK (grouped_by IN ('host', 'mail_sender', 'ioc_uuid', 'task_sha256'));
DROP INDEX incidents_account_host;
CREATE INDEX incidents_account_host ON incidents(account_id, grouped_by, host, last_ms);

-- The account's grouping rules, in order of preference, ending with `host`.
ALTER TABLE accounts ADD COLUMN grouping TEXT NOT NULL DEFAULT 'host';
