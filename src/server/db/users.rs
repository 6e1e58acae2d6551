//! The `users` table.
use super::{to_millis, DbResult, OnDuplicate, Tx};
use crate::shared::columns::{MaybeMillis, Millis};
use crate::shared::{accounts::Me, ids::UserId, values::EmailAddress};
use chrono::{DateTime, Utc};
use sqlx::{AnyPool, FromRow};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    #[sqlx(try_from = "MaybeMillis")]
    pub email_verified_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "Millis")]
    pub created_at: DateTime<Utc>,
}

impl UserRow {
    pub fn to_me(&self) -> Me {
        Me {
            id: self.id,
            email: self.email.clone(),
            name: self.name.clone(),
            email_verified: self.email_verified_at.is_some(),
            created_at: self.created_at,
        }
    }
}

const COLUMNS: &str = "id, email, name, password_hash, email_verified_at, created_at";

pub async fn by_id(pool: &AnyPool, id: UserId) -> DbResult<Option<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(pool).await?;
    Ok(row.as_ref().map(UserRow::from_row).transpose()?)
}

pub async fn by_email(pool: &AnyPool, email: &EmailAddress) -> DbResult<Option<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
    let row = sqlx::query(&sql).bind(email.as_str()).fetch_optional(pool).await?;
    Ok(row.as_ref().map(UserRow::from_row).transpose()?)
}

pub async fn by_email_tx(tx: &mut Tx, email: &EmailAddress) -> DbResult<Option<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
    let row = sqlx::query(&sql).bind(email.as_str()).fetch_optional(&mut **tx).await?;
    Ok(row.as_ref().map(UserRow::from_row).transpose()?)
}

pub async fn by_id_tx(tx: &mut Tx, id: UserId) -> DbResult<Option<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut **tx).await?;
    Ok(row.as_ref().map(UserRow::from_row).transpose()?)
}

pub struct NewUser<'a> {
    pub id: UserId,
    pub email: &'a EmailAddress,
    pub name: &'a str,
    pub password_hash: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// Inserts a user; `Ok(false)` when the email is already registered.
pub async fn insert(tx: &mut Tx, user: NewUser<'_>) -> DbResult<bool> {
    sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(user.id.to_string())
    .bind(user.email.as_str())
    .bind(user.name)
    .bind(user.password_hash)
    .bind(to_millis(user.now))
    .execute(&mut **tx)
    .await
    .map(|_| true)
    .on_duplicate(false)
}

pub async fn set_name(tx: &mut Tx, id: UserId, name: &str, now: DateTime<Utc>) -> DbResult<()> {
    execute!(tx, "UPDATE users SET name = $1, updated_at = $2 WHERE id = $3", name, to_millis(now), id.to_string())
}

pub async fn set_password_hash(tx: &mut Tx, id: UserId, hash: &str, now: DateTime<Utc>) -> DbResult<()> {
    execute!(
        tx,
        "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3",
        hash,
        to_millis(now),
        id.to_string()
    )
}

/// Marks the email verified, but only if it is still the address the proof was sent to.
pub async fn mark_email_verified(tx: &mut Tx, id: UserId, email: &str, now: DateTime<Utc>) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $1), updated_at = $1 WHERE id = $2 AND email = $3",
    )
    .bind(to_millis(now))
    .bind(id.to_string())
    .bind(email)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
