//! Linked IdP identities as their holder sees them (`sso_identities` joined with the connection and
//! its organization), and sign-ins held until an existing account's holder confirms a new link
//! (`sso_pending_links`).
use super::{get_id, get_time, to_millis, DbResult, Tx};
use crate::shared::columns::{JsonText, Millis};
use crate::shared::{
    accounts::{LinkedIdentity, SignInMethod},
    ids::{OrgId, SsoConnectionId, UserId},
};
use chrono::{DateTime, Utc};
use sqlx::{AnyPool, FromRow, Row};

/// A user's linked identities, newest first (a handful per person; capped all the same).
pub async fn identities_of(pool: &AnyPool, user: UserId) -> DbResult<Vec<LinkedIdentity>> {
    let rows = sqlx::query(
        "SELECT i.id, i.subject, i.created_at, i.last_login_at, c.id AS connection_id, c.name AS connection_name,
                c.kind, o.id AS organization_id, o.name AS organization_name
         FROM sso_identities i
         JOIN sso_connections c ON c.id = i.connection_id
         JOIN organizations o ON o.id = c.organization_id
         WHERE i.user_id = $1 ORDER BY i.created_at DESC, i.id DESC LIMIT 200",
    )
    .bind(user.to_string())
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|row| {
            Ok(LinkedIdentity {
                id: row.try_get("id")?,
                subject: row.try_get("subject")?,
                connection_id: get_id(row, "connection_id")?,
                connection_name: row.try_get("connection_name")?,
                kind: row.try_get("kind")?,
                organization_id: get_id(row, "organization_id")?,
                organization_name: row.try_get("organization_name")?,
                linked_at: get_time(row, "created_at")?,
                last_used_at: get_time(row, "last_login_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?)
}

/// Removes one of the user's identities; the removed one, if it was theirs.
pub async fn unlink(tx: &mut Tx, user: UserId, id: &str) -> DbResult<Option<(SsoConnectionId, OrgId, String)>> {
    let row = sqlx::query(
        "SELECT i.connection_id, c.organization_id, i.subject FROM sso_identities i
         JOIN sso_connections c ON c.id = i.connection_id WHERE i.id = $1 AND i.user_id = $2",
    )
    .bind(id)
    .bind(user.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let found = (get_id(&row, "connection_id")?, get_id(&row, "organization_id")?, row.try_get("subject")?);
    sqlx::query("DELETE FROM sso_identities WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(Some(found))
}

/// A sign-in waiting for the holder's consent. `identity` is the provider's word, as JSON.
#[derive(sqlx::FromRow)]
pub struct PendingLink {
    pub connection: SsoConnectionId,
    pub user: UserId,
    #[sqlx(try_from = "JsonText")]
    pub identity: serde_json::Value,
    pub method: SignInMethod,
    pub return_to: Option<String>,
    #[sqlx(try_from = "Millis")]
    pub expires_at: DateTime<Utc>,
}

pub async fn hold(tx: &mut Tx, id_hash: &str, link: &PendingLink) -> DbResult<()> {
    execute!(
        tx,
        "INSERT INTO sso_pending_links (id, connection_id, user_id, identity, method, return_to, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        id_hash,
        link.connection.to_string(),
        link.user.to_string(),
        link.identity.to_string(),
        link.method.as_str(),
        link.return_to.as_deref(),
        to_millis(link.expires_at)
    )
}

const PENDING_COLUMNS: &str =
    "connection_id AS connection, user_id AS \"user\", identity, method, return_to, expires_at";

/// The live pending link held under this browser token hash.
pub async fn pending(pool: &AnyPool, id_hash: &str, now: DateTime<Utc>) -> DbResult<Option<PendingLink>> {
    let sql = format!("SELECT {PENDING_COLUMNS} FROM sso_pending_links WHERE id = $1 AND expires_at > $2");
    let row = sqlx::query(&sql).bind(id_hash).bind(to_millis(now)).fetch_optional(pool).await?;
    Ok(row.as_ref().map(PendingLink::from_row).transpose()?)
}

/// Gives the pending link a mailed confirmation token (replacing an earlier one).
pub async fn set_email_token(tx: &mut Tx, id_hash: &str, token_hash: &str) -> DbResult<()> {
    execute!(tx, "UPDATE sso_pending_links SET email_token_hash = $1 WHERE id = $2", token_hash, id_hash)
}

/// Uses up a pending link, by the browser's token hash or by the mailed token's hash: it can be
/// confirmed once.
pub async fn take(
    tx: &mut Tx,
    by_browser: Option<&str>,
    by_mail: Option<&str>,
    now: DateTime<Utc>,
) -> DbResult<Option<PendingLink>> {
    let (column, value) = match (by_browser, by_mail) {
        (Some(hash), _) => ("id", hash),
        (None, Some(hash)) => ("email_token_hash", hash),
        (None, None) => return Ok(None),
    };
    let sql =
        format!("DELETE FROM sso_pending_links WHERE {column} = $1 AND expires_at > $2 RETURNING {PENDING_COLUMNS}");
    let row = sqlx::query(&sql).bind(value).bind(to_millis(now)).fetch_optional(&mut **tx).await?;
    Ok(row.as_ref().map(PendingLink::from_row).transpose()?)
}

/// Forgets pending links past their expiry (the sweeper).
pub async fn delete_expired(pool: &AnyPool, now: DateTime<Utc>) -> DbResult<u64> {
    let done =
        sqlx::query("DELETE FROM sso_pending_links WHERE expires_at <= $1").bind(to_millis(now)).execute(pool).await?;
    Ok(done.rows_affected())
}
