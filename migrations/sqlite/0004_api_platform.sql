-- API keys, their secrets (a key has two while a roll's grace period runs), hourly usage, and
-- stored responses for Idempotency-Key replays. Times are Unix milliseconds.
CREATE TABLE api_keys (
    id                  TEXT PRIMARY KEY,
    organization_id     TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    key_prefix          TEXT NOT NULL,
    scopes              TEXT NOT NULL,               -- space-separated permissions
    role                TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    rate_limit_per_hour INTEGER,                     -- NULL: the organization's tier limit
    created_by          TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at          INTEGER NOT NULL,
    expires_at          INTEGER,
    revoked_at          INTEGER,
    last_used_at        INTEGER,
    total_requests      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_by_org ON api_keys (organization_id, created_at, id);

CREATE TABLE api_key_secrets (
    secret_hash TEXT PRIMARY KEY,                    -- SHA-256 of the whole key, hex
    key_id      TEXT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER                              -- set on the old secret when the key is rolled
);
CREATE INDEX api_key_secrets_by_key ON api_key_secrets (key_id);

-- One row per organization, hour, key ('' for signed-in people) and status class ('2xx'...).
CREATE TABLE api_usage (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    hour            INTEGER NOT NULL,                -- start of the hour
    key_id          TEXT NOT NULL,
    status_class    TEXT NOT NULL,
    calls           INTEGER NOT NULL,
    PRIMARY KEY (organization_id, hour, key_id, status_class)
);

CREATE TABLE idempotency_keys (
    principal    TEXT NOT NULL,                      -- 'key:<id>' or 'user:<id>'
    idem_key     TEXT NOT NULL,
    request_hash TEXT NOT NULL,                      -- method, path and body
    status       INTEGER,                            -- NULL while the first request runs
    headers      TEXT,
    body         BLOB,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (principal, idem_key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
