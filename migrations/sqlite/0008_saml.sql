-- SAML 2.0: the AuthnRequest ids we issued (a response's InResponseTo must name one, once) and the
-- assertion ids already accepted (replays are refused), each kept until it expires. Unix ms.
CREATE TABLE sso_saml_requests (
    id            TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES sso_connections(id) ON DELETE CASCADE,
    return_to     TEXT,
    trial         INTEGER NOT NULL DEFAULT 0,     -- an admin's trial run: no session results
    expires_at    INTEGER NOT NULL
);
CREATE INDEX sso_saml_requests_by_connection ON sso_saml_requests (connection_id, expires_at);

CREATE TABLE sso_assertions_seen (
    connection_id TEXT NOT NULL REFERENCES sso_connections(id) ON DELETE CASCADE,
    assertion_id  TEXT NOT NULL,
    expires_at    INTEGER NOT NULL,
    PRIMARY KEY (connection_id, assertion_id)
);
CREATE INDEX sso_assertions_seen_by_expiry ON sso_assertions_seen (expires_at);
