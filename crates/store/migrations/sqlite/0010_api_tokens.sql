-- API tokens: a user's bearer credentials for the read API, each with a scope and an
-- optional expiry. Only the token's SHA-256 is kept (it has over 200 random bits, so a
-- fast hash is as safe as a slow one and keeps each request's lookup cheap).

CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    INTEGER NOT NULL REFERENCES accounts(id),
    user_id       INTEGER NOT NULL REFERENCES users(id),
    name          TEXT    NOT NULL,
    token_hash    TEXT    NOT NULL UNIQUE,
    -- 'read' or 'write' (the model's TokenScope).
    scope         TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER,
    last_used_ms  INTEGER,
    UNIQUE (user_id, name)
);

CREATE INDEX api_tokens_account ON api_tokens (account_id);
