//! The `invitations` table. "Expired" is not stored: a pending row past `expires_at` is expired.
use super::{get_id, get_opt_time, get_time, to_millis, DbResult, OnDuplicate, Tx};
use crate::server::pagination::{PageRequest, NEWEST_FIRST};
use crate::shared::{
    ids::{InvitationId, OrgId, UserId},
    invitations::{Invitation, InvitationStatus},
    roles::Role,
};
use chrono::{DateTime, Utc};
use sqlx::{any::AnyRow, AnyPool, Row};

fn from_row(row: &AnyRow, now: DateTime<Utc>) -> Result<Invitation, sqlx::Error> {
    let role: String = row.try_get("role")?;
    let status: String = row.try_get("status")?;
    let expires_at = get_time(row, "expires_at")?;
    let status = match status.as_str() {
        "accepted" => InvitationStatus::Accepted,
        "revoked" => InvitationStatus::Revoked,
        _ if expires_at <= now => InvitationStatus::Expired,
        _ => InvitationStatus::Pending,
    };
    Ok(Invitation {
        id: get_id(row, "id")?,
        organization_id: get_id(row, "organization_id")?,
        email: row.try_get("email")?,
        role: Role::parse(&role).ok_or_else(|| sqlx::Error::Decode(format!("bad role {role:?}").into()))?,
        status,
        invited_by: row.try_get::<Option<String>, _>("invited_by")?.and_then(|id| id.parse().ok()),
        created_at: get_time(row, "created_at")?,
        expires_at,
        accepted_at: get_opt_time(row, "accepted_at")?,
    })
}

const COLUMNS: &str = "id, organization_id, email, role, invited_by, status, created_at, expires_at, accepted_at";

pub struct NewInvitation<'a> {
    pub id: InvitationId,
    pub org: OrgId,
    pub email: &'a str,
    pub role: Role,
    pub token_hash: &'a str,
    pub invited_by: Option<UserId>,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Inserts a pending invitation; `Ok(false)` when one is already open for that address.
pub async fn insert(tx: &mut Tx, inv: NewInvitation<'_>) -> DbResult<bool> {
    sqlx::query(
        "INSERT INTO invitations (id, organization_id, email, role, token_hash, invited_by, status, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8)",
    )
    .bind(inv.id.to_string())
    .bind(inv.org.to_string())
    .bind(inv.email)
    .bind(inv.role.as_str())
    .bind(inv.token_hash)
    .bind(inv.invited_by.map(|u| u.to_string()))
    .bind(to_millis(inv.now))
    .bind(to_millis(inv.expires_at))
    .execute(&mut **tx)
    .await
        .map(|_| true)
        .on_duplicate(false)
}

/// Closes expired pending rows of one address so a new invitation can be issued.
pub async fn revoke_expired_for(tx: &mut Tx, org: OrgId, email: &str, now: DateTime<Utc>) -> DbResult<()> {
    execute!(tx, "UPDATE invitations SET status = 'revoked' WHERE organization_id = $1 AND email = $2 AND status = 'pending' AND expires_at <= $3", org.to_string(), email, to_millis(now))
}

pub async fn has_pending(tx: &mut Tx, org: OrgId, email: &str) -> DbResult<bool> {
    let row =
        sqlx::query("SELECT id FROM invitations WHERE organization_id = $1 AND email = $2 AND status = 'pending'")
            .bind(org.to_string())
            .bind(email)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.is_some())
}

pub async fn get(tx: &mut Tx, org: OrgId, id: InvitationId, now: DateTime<Utc>) -> DbResult<Option<Invitation>> {
    let sql = format!("SELECT {COLUMNS} FROM invitations WHERE organization_id = $1 AND id = $2");
    let row = sqlx::query(&sql).bind(org.to_string()).bind(id.to_string()).fetch_optional(&mut **tx).await?;
    Ok(row.map(|r| from_row(&r, now)).transpose()?)
}

pub async fn by_token(pool: &AnyPool, token_hash: &str, now: DateTime<Utc>) -> DbResult<Option<Invitation>> {
    let sql = format!("SELECT {COLUMNS} FROM invitations WHERE token_hash = $1");
    let row = sqlx::query(&sql).bind(token_hash).fetch_optional(pool).await?;
    Ok(row.map(|r| from_row(&r, now)).transpose()?)
}

pub async fn by_token_tx(tx: &mut Tx, token_hash: &str, now: DateTime<Utc>) -> DbResult<Option<Invitation>> {
    let sql = format!("SELECT {COLUMNS} FROM invitations WHERE token_hash = $1");
    let row = sqlx::query(&sql).bind(token_hash).fetch_optional(&mut **tx).await?;
    Ok(row.map(|r| from_row(&r, now)).transpose()?)
}

/// An organization's invitations, newest first, keyset-paginated on (created_at, id).
pub async fn list(pool: &AnyPool, org: OrgId, page: &PageRequest, now: DateTime<Utc>) -> DbResult<Vec<Invitation>> {
    let sql = format!("SELECT {COLUMNS} FROM invitations WHERE organization_id = $1{}", NEWEST_FIRST.page_sql(page, 1));
    let rows = page.bind(sqlx::query(&sql).bind(org.to_string())).fetch_all(pool).await?;
    Ok(rows.iter().map(|r| from_row(r, now)).collect::<Result<_, _>>()?)
}

pub async fn set_status(
    tx: &mut Tx,
    id: InvitationId,
    status: &str,
    accepted_by: Option<UserId>,
    now: DateTime<Utc>,
) -> DbResult<()> {
    execute!(tx, "UPDATE invitations SET status = $1, accepted_by = $2, accepted_at = CASE WHEN $1 = 'accepted' THEN $3 ELSE accepted_at END
         WHERE id = $4", status, accepted_by.map(|u| u.to_string()), to_millis(now), id.to_string())
}

/// New token and expiry for a pending invitation (resend).
pub async fn rotate(tx: &mut Tx, id: InvitationId, token_hash: &str, expires_at: DateTime<Utc>) -> DbResult<()> {
    execute!(
        tx,
        "UPDATE invitations SET token_hash = $1, expires_at = $2 WHERE id = $3",
        token_hash,
        to_millis(expires_at),
        id.to_string()
    )
}

pub async fn count_pending(pool: &AnyPool, org: OrgId, now: DateTime<Utc>) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) AS n FROM invitations WHERE organization_id = $1 AND status = 'pending' AND expires_at > $2",
    )
    .bind(org.to_string())
    .bind(to_millis(now))
    .fetch_one(pool)
    .await?)
}
