-- Webhooks: endpoints, the events they are sent (the outbox, written in the transaction of the
-- change), one delivery per event and endpoint, and every attempt of a delivery. Times are Unix
-- milliseconds.
--
-- Endpoints have no foreign key to organizations: they outlive their organization until its
-- `organization.deleted` event is delivered, then the retention job removes them.
CREATE TABLE webhook_endpoints (
    id                         TEXT PRIMARY KEY,
    organization_id            TEXT NOT NULL,
    url                        TEXT NOT NULL,
    description                TEXT NOT NULL,
    events                     TEXT NOT NULL,        -- space-separated event types
    active                     BIGINT NOT NULL,
    disabled_reason            TEXT,
    secret                     TEXT NOT NULL,        -- encrypted with the server's secret key
    previous_secret            TEXT,                 -- still signed with until previous_secret_expires_at
    previous_secret_expires_at BIGINT,
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL,
    failing_since              BIGINT,              -- first failure since the last success
    total_deliveries           BIGINT NOT NULL DEFAULT 0,
    successes                  BIGINT NOT NULL DEFAULT 0,
    failures                   BIGINT NOT NULL DEFAULT 0,
    last_success_at            BIGINT,
    last_failure_at            BIGINT
);
CREATE INDEX webhook_endpoints_by_org ON webhook_endpoints (organization_id, created_at, id);

CREATE TABLE webhook_events (
    id              TEXT PRIMARY KEY,                -- the `webhook-id` receivers deduplicate on
    organization_id TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,                   -- the JSON envelope exactly as sent
    created_at      BIGINT NOT NULL
);
CREATE INDEX webhook_events_by_age ON webhook_events (created_at);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
    event_type      TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,                         -- set while pending
    lease_until     BIGINT,                         -- a worker holds it until then
    created_at      BIGINT NOT NULL,
    last_attempt_at BIGINT,
    last_status     BIGINT,
    last_error      TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at, id);
CREATE INDEX webhook_deliveries_by_age ON webhook_deliveries (created_at);

CREATE TABLE webhook_attempts (
    id            TEXT PRIMARY KEY,
    delivery_id   TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    endpoint_id   TEXT NOT NULL,
    attempted_at  BIGINT NOT NULL,
    status        BIGINT,                           -- NULL when no HTTP answer came
    latency_ms    BIGINT NOT NULL,
    error         TEXT,
    request_body  TEXT NOT NULL,                     -- capped at 64 KB
    response_body TEXT                               -- capped at 64 KB
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, attempted_at);
CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts (endpoint_id, attempted_at);
