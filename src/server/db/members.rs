//! The `memberships` table.
use super::{get_id, to_millis, DbResult, OnDuplicate, Tx};
use crate::server::pagination::{Keyset, PageRequest};
use crate::shared::columns::Grants;
use crate::shared::{
    ids::{OrgId, UserId},
    members::Member,
    roles::{Permission, Role},
};
use chrono::{DateTime, Utc};
use sqlx::{AnyPool, FromRow};

pub fn grants_text(grants: &[Permission]) -> String {
    grants.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(" ")
}

/// (role, extra grants) of a user in an organization.
pub async fn role_of(pool: &AnyPool, org: OrgId, user: UserId) -> DbResult<Option<(Role, Vec<Permission>)>> {
    let row: Option<(Role, Grants)> =
        sqlx::query_as("SELECT role, permissions FROM memberships WHERE organization_id = $1 AND user_id = $2")
            .bind(org)
            .bind(user)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(role, grants)| (role, grants.into())))
}

const SELECT: &str = "SELECT m.user_id, u.name, u.email, m.role, m.permissions, m.joined_at,
        (SELECT s.method FROM user_sessions s WHERE s.user_id = m.user_id ORDER BY s.created_at DESC LIMIT 1)
            AS last_sign_in_method
    FROM memberships m JOIN users u ON u.id = m.user_id";

pub async fn get(tx: &mut Tx, org: OrgId, user: UserId) -> DbResult<Option<Member>> {
    let sql = format!("{SELECT} WHERE m.organization_id = $1 AND m.user_id = $2");
    let row = sqlx::query(&sql).bind(org.to_string()).bind(user.to_string()).fetch_optional(&mut **tx).await?;
    Ok(row.as_ref().map(Member::from_row).transpose()?)
}

const BY_JOINED: Keyset = Keyset::oldest_first("m.joined_at", "m.user_id");

/// Members by join time then id; `search` matches name or email (case-insensitive substring).
/// No search binds "%", which matches everyone.
pub async fn list(pool: &AnyPool, org: OrgId, search: Option<&str>, page: &PageRequest) -> DbResult<Vec<Member>> {
    let sql = format!(
        "{SELECT} WHERE m.organization_id = $1 AND (LOWER(u.name) LIKE $2 ESCAPE '\\' OR u.email LIKE $2 ESCAPE '\\'){}",
        BY_JOINED.page_sql(page, 2)
    );
    let pattern = match search.map(str::trim).filter(|s| !s.is_empty()) {
        // Wildcards the user types are matched literally.
        Some(s) => format!("%{}%", s.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")),
        None => "%".to_owned(),
    };
    let rows = page.bind(sqlx::query(&sql).bind(org.to_string()).bind(pattern)).fetch_all(pool).await?;
    Ok(rows.iter().map(Member::from_row).collect::<Result<_, _>>()?)
}

pub async fn insert(tx: &mut Tx, org: OrgId, user: UserId, role: Role, now: DateTime<Utc>) -> DbResult<bool> {
    sqlx::query("INSERT INTO memberships (organization_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)")
        .bind(org.to_string())
        .bind(user.to_string())
        .bind(role.as_str())
        .bind(to_millis(now))
        .execute(&mut **tx)
        .await
        .map(|_| true)
        .on_duplicate(false)
}

pub async fn set_role(tx: &mut Tx, org: OrgId, user: UserId, role: Role, grants: &[Permission]) -> DbResult<()> {
    execute!(
        tx,
        "UPDATE memberships SET role = $1, permissions = $2 WHERE organization_id = $3 AND user_id = $4",
        role.as_str(),
        grants_text(grants),
        org.to_string(),
        user.to_string()
    )
}

pub async fn delete(tx: &mut Tx, org: OrgId, user: UserId) -> DbResult<()> {
    execute!(
        tx,
        "DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2",
        org.to_string(),
        user.to_string()
    )
}

pub async fn count_owners(tx: &mut Tx, org: OrgId) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) AS n FROM memberships WHERE organization_id = $1 AND role = 'owner'")
        .bind(org.to_string())
        .fetch_one(&mut **tx)
        .await?)
}

/// Members plus open (pending, unexpired) invitations: what counts against `max_users`.
pub async fn count_seats(tx: &mut Tx, org: OrgId, now: DateTime<Utc>) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM memberships WHERE organization_id = $1)
              + (SELECT COUNT(*) FROM invitations WHERE organization_id = $1 AND status = 'pending' AND expires_at > $2) AS n",
    )
    .bind(org.to_string())
    .bind(to_millis(now))
    .fetch_one(&mut **tx)
    .await?)
}

pub async fn count_by_role(pool: &AnyPool, org: OrgId) -> DbResult<Vec<(Role, i64)>> {
    let mut counts: Vec<(Role, i64)> =
        sqlx::query_as("SELECT role, COUNT(*) AS n FROM memberships WHERE organization_id = $1 GROUP BY role")
            .bind(org)
            .fetch_all(pool)
            .await?;
    counts.sort_by_key(|(role, _)| std::cmp::Reverse(*role));
    Ok(counts)
}

/// The organizations a user belongs to (for recording their sign-ins there).
pub async fn orgs_of(tx: &mut Tx, user: UserId) -> DbResult<Vec<OrgId>> {
    let rows = sqlx::query("SELECT organization_id FROM memberships WHERE user_id = $1")
        .bind(user.to_string())
        .fetch_all(&mut **tx)
        .await?;
    Ok(rows.iter().map(|r| get_id(r, "organization_id")).collect::<Result<_, _>>()?)
}

/// Email addresses of the organization's owners and admins (for operational notices).
pub async fn admin_emails(tx: &mut Tx, org: OrgId) -> DbResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.organization_id = $1 AND m.role IN ('owner', 'admin') ORDER BY u.email",
    )
    .bind(org.to_string())
    .fetch_all(&mut **tx)
    .await?)
}
