-- Single sign-on: an organization's connections to its identity providers (OIDC, SAML, LDAP), the
-- IdP identities linked to local users, how each session signed in, and which connection a
-- verified domain's sign-ins go to. Times are Unix milliseconds.
CREATE TABLE sso_connections (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('oidc', 'saml', 'ldap')),
    name            TEXT NOT NULL,
    enabled         INTEGER NOT NULL,
    settings        TEXT NOT NULL,                 -- JSON: the kind's settings, secrets excluded
    sealed_secret   TEXT,                          -- client secret or bind password, encrypted
    default_role    TEXT NOT NULL,
    role_mapping    TEXT NOT NULL,                 -- JSON: [{"group": ..., "role": ...}]
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX sso_connections_by_org ON sso_connections (organization_id, created_at, id);

-- One row per (connection, subject at the IdP): later sign-ins find the user by it, never by email.
CREATE TABLE sso_identities (
    connection_id TEXT NOT NULL REFERENCES sso_connections(id) ON DELETE CASCADE,
    subject       TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    last_login_at INTEGER NOT NULL,
    PRIMARY KEY (connection_id, subject)
);
CREATE INDEX sso_identities_by_user ON sso_identities (user_id);

ALTER TABLE user_sessions ADD COLUMN method TEXT NOT NULL DEFAULT 'password';
ALTER TABLE org_domains ADD COLUMN require_sso INTEGER NOT NULL DEFAULT 0;
ALTER TABLE org_domains ADD COLUMN connection_id TEXT REFERENCES sso_connections(id) ON DELETE SET NULL;
