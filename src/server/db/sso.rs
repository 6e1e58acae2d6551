//! The `sso_connections` and `sso_identities` tables. Connection queries bind the organization,
//! except `connection_by_id`, which sign-in routes use before anyone is authenticated (the
//! connection then names its organization).
use super::{get_id, to_millis, DbResult, OnDuplicate, Tx};
use crate::server::pagination::{PageRequest, NEWEST_FIRST};
use crate::shared::columns::{Flag, JsonText, Millis};
use crate::shared::{
    ids::{OrgId, SsoConnectionId, UserId},
    roles::Role,
    sso::{ConnectionKind, RoleMapping},
};
use chrono::{DateTime, Utc};
use sqlx::{AnyPool, FromRow};

/// A stored connection. `settings` is the kind's JSON (secrets excluded); `sealed_secret` is the
/// encrypted client secret or bind password.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConnectionRow {
    pub id: SsoConnectionId,
    pub organization_id: OrgId,
    pub kind: ConnectionKind,
    pub name: String,
    #[sqlx(try_from = "Flag")]
    pub enabled: bool,
    #[sqlx(try_from = "JsonText")]
    pub settings: serde_json::Value,
    pub sealed_secret: Option<String>,
    pub default_role: Role,
    #[sqlx(try_from = "JsonText")]
    pub role_mapping: Vec<RoleMapping>,
    #[sqlx(try_from = "Millis")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "Millis")]
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, organization_id, kind, name, enabled, settings, sealed_secret, default_role, role_mapping, created_at, updated_at";

pub async fn insert(tx: &mut Tx, row: &ConnectionRow) -> DbResult<()> {
    execute!(
        tx,
        "INSERT INTO sso_connections (id, organization_id, kind, name, enabled, settings, sealed_secret, default_role,
             role_mapping, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        row.id.to_string(),
        row.organization_id.to_string(),
        row.kind.as_str(),
        &row.name,
        i64::from(row.enabled),
        row.settings.to_string(),
        row.sealed_secret.as_deref(),
        row.default_role.as_str(),
        serde_json::to_string(&row.role_mapping).unwrap_or_default(),
        to_millis(row.created_at),
        to_millis(row.updated_at)
    )
}

/// Saves every editable column of an existing connection of `row.organization_id`.
pub async fn update(tx: &mut Tx, row: &ConnectionRow) -> DbResult<()> {
    execute!(
        tx,
        "UPDATE sso_connections SET name = $1, enabled = $2, settings = $3, sealed_secret = $4, default_role = $5,
             role_mapping = $6, updated_at = $7
         WHERE organization_id = $8 AND id = $9",
        &row.name,
        i64::from(row.enabled),
        row.settings.to_string(),
        row.sealed_secret.as_deref(),
        row.default_role.as_str(),
        serde_json::to_string(&row.role_mapping).unwrap_or_default(),
        to_millis(row.updated_at),
        row.organization_id.to_string(),
        row.id.to_string()
    )
}

pub async fn get(tx: &mut Tx, org: OrgId, id: SsoConnectionId) -> DbResult<Option<ConnectionRow>> {
    let sql = format!("SELECT {COLUMNS} FROM sso_connections WHERE organization_id = $1 AND id = $2");
    let row = sqlx::query(&sql).bind(org.to_string()).bind(id.to_string()).fetch_optional(&mut **tx).await?;
    Ok(row.as_ref().map(ConnectionRow::from_row).transpose()?)
}

/// For sign-in routes, which learn the organization from the connection.
pub async fn connection_by_id(pool: &AnyPool, id: SsoConnectionId) -> DbResult<Option<ConnectionRow>> {
    let sql = format!("SELECT {COLUMNS} FROM sso_connections WHERE id = $1");
    let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(pool).await?;
    Ok(row.as_ref().map(ConnectionRow::from_row).transpose()?)
}

/// Newest first, keyset-paginated on (created_at, id).
pub async fn list(pool: &AnyPool, org: OrgId, page: &PageRequest) -> DbResult<Vec<ConnectionRow>> {
    let sql =
        format!("SELECT {COLUMNS} FROM sso_connections WHERE organization_id = $1{}", NEWEST_FIRST.page_sql(page, 1));
    let rows = page.bind(sqlx::query(&sql).bind(org.to_string())).fetch_all(pool).await?;
    Ok(rows.iter().map(ConnectionRow::from_row).collect::<Result<_, _>>()?)
}

pub async fn delete(tx: &mut Tx, org: OrgId, id: SsoConnectionId) -> DbResult<()> {
    execute!(tx, "DELETE FROM sso_connections WHERE organization_id = $1 AND id = $2", org.to_string(), id.to_string())
}

/// The local user an IdP subject was linked to through this connection.
pub async fn identity(tx: &mut Tx, connection: SsoConnectionId, subject: &str) -> DbResult<Option<UserId>> {
    let row = sqlx::query("SELECT user_id FROM sso_identities WHERE connection_id = $1 AND subject = $2")
        .bind(connection.to_string())
        .bind(subject)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.as_ref().map(|r| get_id(r, "user_id")).transpose()?)
}

/// Links the subject to the user, or records another sign-in of an existing link.
pub async fn link_identity(
    tx: &mut Tx,
    connection: SsoConnectionId,
    subject: &str,
    user: UserId,
    now: DateTime<Utc>,
) -> DbResult<()> {
    execute!(
        tx,
        "INSERT INTO sso_identities (connection_id, subject, user_id, created_at, last_login_at, id)
         VALUES ($1, $2, $3, $4, $4, $5)
         ON CONFLICT (connection_id, subject) DO UPDATE SET last_login_at = excluded.last_login_at",
        connection.to_string(),
        subject,
        user.to_string(),
        to_millis(now),
        uuid::Uuid::now_v7().simple().to_string()
    )
}

/// An AuthnRequest waiting for its answer: the browser that sent it (hash of its binding cookie),
/// where to land, and whether it is a trial run.
pub struct SamlRequest<'a> {
    pub id: &'a str,
    pub connection: SsoConnectionId,
    pub browser_hash: &'a str,
    pub return_to: Option<&'a str>,
    pub trial: bool,
    pub expires_at: DateTime<Utc>,
}

/// Remembers an AuthnRequest id until it expires.
pub async fn insert_saml_request(tx: &mut Tx, request: SamlRequest<'_>) -> DbResult<()> {
    execute!(
        tx,
        "INSERT INTO sso_saml_requests (id, connection_id, browser_hash, return_to, trial, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        request.id,
        request.connection.to_string(),
        request.browser_hash,
        request.return_to,
        i64::from(request.trial),
        to_millis(request.expires_at)
    )
}

/// The AuthnRequest ids this browser has waiting for an answer from the connection (newest first,
/// at most `limit`): other browsers' requests, however many, never crowd them out.
pub async fn open_saml_requests(
    pool: &AnyPool,
    connection: SsoConnectionId,
    browser_hash: &str,
    now: DateTime<Utc>,
    limit: i64,
) -> DbResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM sso_saml_requests WHERE connection_id = $1 AND browser_hash = $2 AND expires_at > $3
         ORDER BY expires_at DESC LIMIT $4",
    )
    .bind(connection.to_string())
    .bind(browser_hash)
    .bind(to_millis(now))
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Uses up a request id this browser sent: its (`return_to`, trial), or `None` when it was
/// already used, never issued, or issued to another browser.
pub async fn take_saml_request(
    tx: &mut Tx,
    connection: SsoConnectionId,
    browser_hash: &str,
    id: &str,
) -> DbResult<Option<(Option<String>, bool)>> {
    let row: Option<(Option<String>, i64)> = sqlx::query_as(
        "DELETE FROM sso_saml_requests WHERE connection_id = $1 AND browser_hash = $2 AND id = $3
         RETURNING return_to, trial",
    )
    .bind(connection.to_string())
    .bind(browser_hash)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|(return_to, trial)| (return_to, trial != 0)))
}

/// Records an accepted assertion id; false when it was seen before (a replay).
pub async fn first_sighting(
    tx: &mut Tx,
    connection: SsoConnectionId,
    assertion: &str,
    expires_at: DateTime<Utc>,
) -> DbResult<bool> {
    sqlx::query("INSERT INTO sso_assertions_seen (connection_id, assertion_id, expires_at) VALUES ($1, $2, $3)")
        .bind(connection.to_string())
        .bind(assertion)
        .bind(to_millis(expires_at))
        .execute(&mut **tx)
        .await
        .map(|_| true)
        .on_duplicate(false)
}

/// Forgets request and assertion ids past their expiry (the sweeper).
pub async fn delete_expired_saml(pool: &AnyPool, now: DateTime<Utc>) -> DbResult<u64> {
    let mut deleted = 0;
    for table in ["sso_saml_requests", "sso_assertions_seen"] {
        let sql = format!("DELETE FROM {table} WHERE expires_at <= $1");
        deleted += sqlx::query(&sql).bind(to_millis(now)).execute(pool).await?.rows_affected();
    }
    Ok(deleted)
}
