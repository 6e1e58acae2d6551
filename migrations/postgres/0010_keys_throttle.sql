-- Stored Idempotency-Key responses are encrypted from now on; those stored before held new API keys
-- and webhook secrets in plaintext, so they go (a retry within the day simply runs again).
DELETE FROM idempotency_keys;

-- Throttle events get an id, so an attempt counted before it is checked can be given back.
ALTER TABLE throttle_events ADD COLUMN id TEXT;
CREATE INDEX throttle_events_by_id ON throttle_events (id);

-- One row per throttle bucket: its lock serialises reservations (check and count in one step), and
-- it remembers when the account's owner was last told they are being throttled.
CREATE TABLE throttle_buckets (
    bucket      TEXT PRIMARY KEY,
    touched_at  BIGINT NOT NULL,
    notified_at BIGINT
);
