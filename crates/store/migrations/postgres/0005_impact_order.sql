-- The events listed by impact put unknown impacts last (impact DESC NULLS LAST); an index
-- in that order lets the list read them in order instead of sorting the account's events.
-- (SQLite puts NULLs last in a descending index already.)
DROP INDEX events_account_impact;
CREATE INDEX events_account_impact ON events(account_id, impact DESC NULLS LAST, occurred_at_ms DESC, id DESC);
