-- Email domains an organization claims, proven by a DNS TXT record `gatehouse-verification=<token>`
-- on the domain. Many organizations may claim a domain; only one can have it verified. Times are
-- Unix milliseconds.
CREATE TABLE org_domains (
    id                 TEXT PRIMARY KEY,
    organization_id    TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    domain             TEXT NOT NULL,                -- lower case, ASCII (IDNA)
    verification_token TEXT NOT NULL,
    verified_at        BIGINT,
    last_checked_at    BIGINT,
    last_check_error   TEXT,
    created_at         BIGINT NOT NULL
);
CREATE UNIQUE INDEX org_domains_once_per_org ON org_domains (organization_id, domain);
CREATE UNIQUE INDEX org_domains_verified_once ON org_domains (domain) WHERE verified_at IS NOT NULL;
CREATE INDEX org_domains_by_org ON org_domains (organization_id, created_at, id);
