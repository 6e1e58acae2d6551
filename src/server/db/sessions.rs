//! The `user_sessions` table: the authority on whether a browser session is signed in. The
//! tower-sessions record only points here, so deleting a row signs that browser out everywhere.
use super::{to_millis, DbResult, Tx};
use crate::server::pagination::{Keyset, PageRequest};
use crate::shared::columns::Millis;
use crate::shared::{
    accounts::SignInMethod,
    ids::{SessionId, UserId},
};
use chrono::{DateTime, Utc};
use sqlx::{AnyPool, FromRow};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: SessionId,
    pub user_id: UserId,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub method: SignInMethod,
    #[sqlx(try_from = "Millis")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "Millis")]
    pub last_seen_at: DateTime<Utc>,
    #[sqlx(try_from = "Millis")]
    pub expires_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, user_id, ip, user_agent, method, created_at, last_seen_at, expires_at";

pub async fn insert(tx: &mut Tx, row: &SessionRow) -> DbResult<()> {
    execute!(
        tx,
        "INSERT INTO user_sessions (id, user_id, ip, user_agent, method, created_at, last_seen_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        row.id.to_string(),
        row.user_id.to_string(),
        row.ip.as_deref(),
        row.user_agent.as_deref(),
        row.method.as_str(),
        to_millis(row.created_at),
        to_millis(row.last_seen_at),
        to_millis(row.expires_at)
    )
}

pub async fn by_id(pool: &AnyPool, id: SessionId) -> DbResult<Option<SessionRow>> {
    let sql = format!("SELECT {COLUMNS} FROM user_sessions WHERE id = $1");
    let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(pool).await?;
    Ok(row.as_ref().map(SessionRow::from_row).transpose()?)
}

/// Live sessions of a user, most recently used first, keyset-paginated on (last_seen_at, id).
pub async fn list_for_user(
    pool: &AnyPool,
    user: UserId,
    now: DateTime<Utc>,
    page: &PageRequest,
) -> DbResult<Vec<SessionRow>> {
    let keyset = Keyset::newest_first("last_seen_at", "id");
    let sql = format!(
        "SELECT {COLUMNS} FROM user_sessions WHERE user_id = $1 AND expires_at > $2{}",
        keyset.page_sql(page, 2)
    );
    let rows = page.bind(sqlx::query(&sql).bind(user.to_string()).bind(to_millis(now))).fetch_all(pool).await?;
    Ok(rows.iter().map(SessionRow::from_row).collect::<Result<_, _>>()?)
}

pub async fn touch(pool: &AnyPool, id: SessionId, now: DateTime<Utc>) -> DbResult<()> {
    sqlx::query("UPDATE user_sessions SET last_seen_at = $1 WHERE id = $2")
        .bind(to_millis(now))
        .bind(id.to_string())
        .execute(pool)
        .await?;
    Ok(())
}

/// Deletes one session of `user`; false when it is not theirs or already gone.
pub async fn delete_one(tx: &mut Tx, user: UserId, id: SessionId) -> DbResult<bool> {
    let done = sqlx::query("DELETE FROM user_sessions WHERE id = $1 AND user_id = $2")
        .bind(id.to_string())
        .bind(user.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes every session of `user` except `keep`; returns how many ended.
pub async fn delete_all_except(tx: &mut Tx, user: UserId, keep: Option<SessionId>) -> DbResult<u64> {
    let keep = keep.map(|k| k.to_string()).unwrap_or_default();
    let done = sqlx::query("DELETE FROM user_sessions WHERE user_id = $1 AND id <> $2")
        .bind(user.to_string())
        .bind(keep)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}

pub async fn delete_expired(pool: &AnyPool, now: DateTime<Utc>) -> DbResult<u64> {
    let done =
        sqlx::query("DELETE FROM user_sessions WHERE expires_at <= $1").bind(to_millis(now)).execute(pool).await?;
    Ok(done.rows_affected())
}
