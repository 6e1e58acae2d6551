-- Identity linking with consent, and SAML requests bound to the browser that started them.

-- An SSO sign-in that asserted the address of an account that already exists waits here until the
-- account's holder confirms the link (with their password, or through a single-use mailed link).
-- `id` and `email_token_hash` are SHA-256 hashes of secrets held by the browser and the mailbox.
CREATE TABLE sso_pending_links (
    id               TEXT PRIMARY KEY,
    connection_id    TEXT NOT NULL REFERENCES sso_connections(id) ON DELETE CASCADE,
    user_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    identity         TEXT NOT NULL,          -- JSON: subject, email, name, groups
    method           TEXT NOT NULL,
    return_to        TEXT,
    email_token_hash TEXT UNIQUE,
    expires_at       BIGINT NOT NULL
);
CREATE INDEX sso_pending_links_by_expiry ON sso_pending_links (expires_at);

-- The browser that started a SAML sign-in (SHA-256 of its binding cookie): a response is accepted
-- only from that browser, and each browser's open requests are its own.
ALTER TABLE sso_saml_requests ADD COLUMN browser_hash TEXT NOT NULL DEFAULT '';
CREATE INDEX sso_saml_requests_by_browser ON sso_saml_requests (connection_id, browser_hash, expires_at);

-- Linked identities get an id, so that their holder can unlink one.
ALTER TABLE sso_identities ADD COLUMN id TEXT;
UPDATE sso_identities SET id = md5(random()::text || connection_id || subject);
CREATE UNIQUE INDEX sso_identities_id ON sso_identities (id);
