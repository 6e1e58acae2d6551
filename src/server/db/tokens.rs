//! The `email_tokens` table: single-use proofs mailed to a person (verify email, reset password).
use super::{get_id, to_millis, DbResult, Tx};
use crate::shared::ids::UserId;
use chrono::{DateTime, Utc};
use sqlx::Row;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
        }
    }
}

pub struct NewToken<'a> {
    pub token_hash: &'a str,
    pub user_id: UserId,
    pub purpose: Purpose,
    pub email: &'a str,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(tx: &mut Tx, token: NewToken<'_>) -> DbResult<()> {
    execute!(tx, "INSERT INTO email_tokens (token_hash, user_id, purpose, email, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)", token.token_hash, token.user_id.to_string(), token.purpose.as_str(), token.email, to_millis(token.now), to_millis(token.expires_at))
}

/// Uses up a live token: marks it used and returns (user, email it was sent to). The UPDATE's
/// own WHERE makes it single-use even when two requests race.
pub async fn consume(
    tx: &mut Tx,
    token_hash: &str,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> DbResult<Option<(UserId, String)>> {
    let row = sqlx::query(
        "UPDATE email_tokens SET used_at = $1
         WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1
         RETURNING user_id, email",
    )
    .bind(to_millis(now))
    .bind(token_hash)
    .bind(purpose.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| Ok::<_, sqlx::Error>((get_id(&r, "user_id")?, r.try_get("email")?))).transpose()?)
}

/// The owner of a token that would be accepted right now, without using it up.
pub async fn peek(
    pool: &sqlx::AnyPool,
    token_hash: &str,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> DbResult<Option<UserId>> {
    let row = sqlx::query("SELECT user_id FROM email_tokens WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3")
        .bind(token_hash)
        .bind(purpose.as_str())
        .bind(to_millis(now))
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|r| get_id(&r, "user_id")).transpose()?)
}

/// Ends every outstanding token of one purpose for a user (e.g. after a reset succeeds).
pub async fn revoke_all(tx: &mut Tx, user: UserId, purpose: Purpose, now: DateTime<Utc>) -> DbResult<()> {
    execute!(
        tx,
        "UPDATE email_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL",
        to_millis(now),
        user.to_string(),
        purpose.as_str()
    )
}
