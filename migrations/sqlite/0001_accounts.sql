-- Accounts, sessions, one-time email tokens, login throttling and the email outbox.
-- Times are Unix milliseconds (INTEGER) so one SQL string serves SQLite and Postgres alike.
CREATE TABLE users (
    id                TEXT PRIMARY KEY,
    email             TEXT NOT NULL UNIQUE,          -- normalised to lower case
    name              TEXT NOT NULL,
    password_hash     TEXT,                          -- NULL for accounts that only use SSO
    email_verified_at INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);

CREATE TABLE user_sessions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ip           TEXT,
    user_agent   TEXT,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX user_sessions_by_user ON user_sessions (user_id, last_seen_at);

CREATE TABLE email_tokens (
    token_hash TEXT PRIMARY KEY,                     -- SHA-256 of the token; the token is only mailed
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    email      TEXT NOT NULL,                        -- the address the link was sent to
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX email_tokens_by_user ON email_tokens (user_id, purpose);

CREATE TABLE throttle_events (
    bucket TEXT NOT NULL,                            -- e.g. 'login:ip:127.0.0.1'
    at     INTEGER NOT NULL
);
CREATE INDEX throttle_events_by_bucket ON throttle_events (bucket, at);

CREATE TABLE email_outbox (
    id              TEXT PRIMARY KEY,
    to_address      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    sent_at         INTEGER,
    delivered_via   TEXT,                            -- 'smtp' or 'outbox'
    gave_up_at      INTEGER,
    last_error      TEXT
);
CREATE INDEX email_outbox_due ON email_outbox (sent_at, gave_up_at, next_attempt_at);
CREATE INDEX email_outbox_recent ON email_outbox (created_at);
