-- Organizations (tenants), memberships, invitations and the tamper-evident audit log.
-- Flags are 0/1 integers and times Unix milliseconds, so one SQL string serves both databases.
CREATE TABLE organizations (
    id                     TEXT PRIMARY KEY,
    name                   TEXT NOT NULL,
    slug                   TEXT NOT NULL UNIQUE,
    primary_color          TEXT,
    logo_url               TEXT,
    sso_enabled            INTEGER NOT NULL DEFAULT 0,
    api_enabled            INTEGER NOT NULL DEFAULT 1,
    tier                   TEXT NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'premium', 'plus', 'enterprise')),
    subscription_status    TEXT NOT NULL DEFAULT 'active' CHECK (subscription_status IN ('active', 'trialing', 'past_due', 'canceled')),
    max_users              INTEGER NOT NULL,
    max_api_calls_per_hour INTEGER NOT NULL,
    owner_id               TEXT NOT NULL REFERENCES users(id),
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
);

CREATE TABLE memberships (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    permissions     TEXT NOT NULL DEFAULT '',     -- extra grants, space-separated
    joined_at       INTEGER NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id);
CREATE INDEX memberships_by_org_role ON memberships (organization_id, role);
CREATE INDEX memberships_by_org_joined ON memberships (organization_id, joined_at, user_id);

CREATE TABLE invitations (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    token_hash      TEXT NOT NULL UNIQUE,
    invited_by      TEXT REFERENCES users(id) ON DELETE SET NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'revoked')),
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    accepted_at     INTEGER,
    accepted_by     TEXT REFERENCES users(id) ON DELETE SET NULL
);
-- One open invitation per address and organization.
CREATE UNIQUE INDEX invitations_one_pending ON invitations (organization_id, email) WHERE status = 'pending';
CREATE INDEX invitations_by_org ON invitations (organization_id, created_at, id);

-- Each chain (one per organization, plus 'platform') keeps its head here; appending takes this
-- row's lock, so rows of one chain are written one at a time.
CREATE TABLE audit_chains (
    chain_id TEXT PRIMARY KEY,
    seq      INTEGER NOT NULL,
    head     TEXT NOT NULL
);

-- Audit rows outlive what they describe (no foreign keys): deleting an organization keeps them.
CREATE TABLE audit_logs (
    id              TEXT PRIMARY KEY,
    chain_id        TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    organization_id TEXT,
    actor_type      TEXT NOT NULL,
    actor_id        TEXT,
    actor_name      TEXT NOT NULL,
    action          TEXT NOT NULL,
    resource_type   TEXT NOT NULL,
    resource_id     TEXT,
    ip              TEXT,
    user_agent      TEXT,
    metadata        TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL,
    UNIQUE (chain_id, seq)
);
CREATE INDEX audit_logs_by_org_time ON audit_logs (organization_id, created_at, id);
CREATE INDEX audit_logs_by_org_action ON audit_logs (organization_id, action, created_at);
CREATE INDEX audit_logs_by_org_actor ON audit_logs (organization_id, actor_id, created_at);
