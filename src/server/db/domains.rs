//! The `org_domains` table. Every query binds the organization, except the check that a verified
//! domain belongs to nobody else.
use super::{get_id, get_opt_time, get_time, to_millis, DbResult, OnDuplicate, Tx};
use crate::server::pagination::{PageRequest, NEWEST_FIRST};
use crate::shared::{
    domains::{DnsRecord, Domain, DomainStatus, VERIFICATION_PREFIX},
    ids::{DomainId, OrgId, SsoConnectionId},
};
use chrono::{DateTime, Utc};
use sqlx::{any::AnyRow, AnyPool, Row};

const COLUMNS: &str =
    "id, organization_id, domain, verification_token, verified_at, last_checked_at, last_check_error, connection_id,
     require_sso, created_at";

fn from_row(row: &AnyRow) -> Result<Domain, sqlx::Error> {
    let domain: String = row.try_get("domain")?;
    let token: String = row.try_get("verification_token")?;
    let verified_at = get_opt_time(row, "verified_at")?;
    Ok(Domain {
        id: get_id(row, "id")?,
        organization_id: get_id(row, "organization_id")?,
        verification: DnsRecord {
            record_type: "TXT".to_owned(),
            name: domain.clone(),
            value: format!("{VERIFICATION_PREFIX}{token}"),
        },
        domain,
        status: if verified_at.is_some() { DomainStatus::Verified } else { DomainStatus::Pending },
        verified_at,
        last_checked_at: get_opt_time(row, "last_checked_at")?,
        last_check_error: row.try_get("last_check_error")?,
        connection_id: row
            .try_get::<Option<String>, _>("connection_id")?
            .map(|id| id.parse())
            .transpose()
            .map_err(|_| sqlx::Error::Decode("bad connection_id in org_domains".into()))?,
        require_sso: row.try_get::<i64, _>("require_sso")? != 0,
        created_at: get_time(row, "created_at")?,
    })
}

/// False when this organization already claimed the domain.
pub async fn insert(
    tx: &mut Tx,
    org: OrgId,
    id: DomainId,
    domain: &str,
    token: &str,
    now: DateTime<Utc>,
) -> DbResult<bool> {
    sqlx::query(
        "INSERT INTO org_domains (id, organization_id, domain, verification_token, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id.to_string())
    .bind(org.to_string())
    .bind(domain)
    .bind(token)
    .bind(to_millis(now))
    .execute(&mut **tx)
    .await
    .map(|_| true)
    .on_duplicate(false)
}

pub async fn get(tx: &mut Tx, org: OrgId, id: DomainId) -> DbResult<Option<Domain>> {
    let sql = format!("SELECT {COLUMNS} FROM org_domains WHERE organization_id = $1 AND id = $2");
    let row = sqlx::query(&sql).bind(org.to_string()).bind(id.to_string()).fetch_optional(&mut **tx).await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Newest first, keyset-paginated on (created_at, id).
pub async fn list(pool: &AnyPool, org: OrgId, page: &PageRequest) -> DbResult<Vec<Domain>> {
    let sql = format!("SELECT {COLUMNS} FROM org_domains WHERE organization_id = $1{}", NEWEST_FIRST.page_sql(page, 1));
    let rows = page.bind(sqlx::query(&sql).bind(org.to_string())).fetch_all(pool).await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// Records a check. `verified` sets `verified_at`; false when another organization has this
/// domain verified already (the unique index decides, so two racing verifications cannot both win).
pub async fn record_check(
    tx: &mut Tx,
    org: OrgId,
    id: DomainId,
    verified: bool,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> DbResult<bool> {
    sqlx::query(
        "UPDATE org_domains SET last_checked_at = $1, last_check_error = $2,
             verified_at = CASE WHEN $3 = 1 THEN COALESCE(verified_at, $1) ELSE verified_at END
         WHERE organization_id = $4 AND id = $5",
    )
    .bind(to_millis(now))
    .bind(error)
    .bind(i64::from(verified))
    .bind(org.to_string())
    .bind(id.to_string())
    .execute(&mut **tx)
    .await
    .map(|_| true)
    .on_duplicate(false)
}

/// The organization holding `domain` verified, if any.
pub async fn verified_owner(tx: &mut Tx, domain: &str) -> DbResult<Option<OrgId>> {
    let row = sqlx::query("SELECT organization_id FROM org_domains WHERE domain = $1 AND verified_at IS NOT NULL")
        .bind(domain)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.as_ref().map(|r| get_id(r, "organization_id")).transpose()?)
}

pub async fn delete(tx: &mut Tx, org: OrgId, id: DomainId) -> DbResult<()> {
    execute!(tx, "DELETE FROM org_domains WHERE organization_id = $1 AND id = $2", org.to_string(), id.to_string())
}

/// Where sign-ins for a verified domain go.
pub struct SsoRule {
    pub organization_id: OrgId,
    pub connection_id: Option<SsoConnectionId>,
    pub require_sso: bool,
}

/// The rule of the organization that verified `domain`, if one did.
pub async fn sso_rule(tx: &mut Tx, domain: &str) -> DbResult<Option<SsoRule>> {
    let row = sqlx::query(
        "SELECT organization_id, connection_id, require_sso FROM org_domains WHERE domain = $1 AND verified_at IS NOT NULL",
    )
    .bind(domain)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let connection: Option<String> = row.try_get("connection_id")?;
    Ok(Some(SsoRule {
        organization_id: get_id(&row, "organization_id")?,
        connection_id: connection.and_then(|id| id.parse().ok()),
        require_sso: row.try_get::<i64, _>("require_sso")? != 0,
    }))
}

pub async fn set_sso(
    tx: &mut Tx,
    org: OrgId,
    id: DomainId,
    connection: Option<SsoConnectionId>,
    require_sso: bool,
) -> DbResult<()> {
    execute!(
        tx,
        "UPDATE org_domains SET connection_id = $1, require_sso = $2 WHERE organization_id = $3 AND id = $4",
        connection.map(|c| c.to_string()),
        i64::from(require_sso),
        org.to_string(),
        id.to_string()
    )
}

/// Detaches a connection about to be deleted from the organization's domains and stops them
/// requiring SSO; the domains that required it.
pub async fn release_connection(tx: &mut Tx, org: OrgId, connection: SsoConnectionId) -> DbResult<Vec<String>> {
    let domains = sqlx::query_scalar(
        "SELECT domain FROM org_domains WHERE organization_id = $1 AND connection_id = $2 AND require_sso = 1",
    )
    .bind(org.to_string())
    .bind(connection.to_string())
    .fetch_all(&mut **tx)
    .await?;
    sqlx::query("UPDATE org_domains SET connection_id = NULL, require_sso = 0 WHERE organization_id = $1 AND connection_id = $2")
        .bind(org.to_string())
        .bind(connection.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(domains)
}
