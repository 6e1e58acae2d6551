//! The `email_outbox` table: every message is written here in the transaction that causes it,
//! then delivered by `jobs::mailer` after the commit (SMTP, or kept as the development outbox).
use super::{get_opt_time, to_millis, DbResult, Tx};
use crate::server::pagination::{PageRequest, NEWEST_FIRST};
use crate::shared::{accounts::OutboxEmail, ids::EmailId};
use chrono::{DateTime, Utc};
use sqlx::{AnyPool, FromRow};

const COLUMNS: &str = "id, to_address, subject, body_text, created_at, sent_at, attempts, last_error";

pub async fn enqueue(tx: &mut Tx, to: &str, subject: &str, body: &str, now: DateTime<Utc>) -> DbResult<EmailId> {
    let id = EmailId::new();
    sqlx::query(
        "INSERT INTO email_outbox (id, to_address, subject, body_text, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(id.to_string())
    .bind(to)
    .bind(subject)
    .bind(body)
    .bind(to_millis(now))
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Claims one due message for `lease` so no other worker or replica sends it meanwhile. The lease
/// is re-checked in the outer WHERE, so two racing claims cannot both win (Postgres re-evaluates
/// it on the updated row; SQLite serialises writers).
pub async fn claim_due(
    pool: &AnyPool,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> DbResult<Option<OutboxEmail>> {
    let sql = format!(
        "UPDATE email_outbox SET lease_until = $2, attempts = attempts + 1
         WHERE id = (SELECT id FROM email_outbox
                     WHERE sent_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= $1
                       AND (lease_until IS NULL OR lease_until <= $1)
                     ORDER BY next_attempt_at LIMIT 1)
           AND sent_at IS NULL AND (lease_until IS NULL OR lease_until <= $1)
         RETURNING {COLUMNS}"
    );
    let row = sqlx::query(&sql).bind(to_millis(now)).bind(to_millis(lease_until)).fetch_optional(pool).await?;
    Ok(row.as_ref().map(OutboxEmail::from_row).transpose()?)
}

/// When the next unsent message is due, if any.
pub async fn next_due(pool: &AnyPool) -> DbResult<Option<DateTime<Utc>>> {
    let row = sqlx::query(
        "SELECT MIN(next_attempt_at) AS due FROM email_outbox WHERE sent_at IS NULL AND gave_up_at IS NULL",
    )
    .fetch_one(pool)
    .await?;
    Ok(get_opt_time(&row, "due")?)
}

pub async fn mark_sent(pool: &AnyPool, id: EmailId, via: &str, now: DateTime<Utc>) -> DbResult<()> {
    sqlx::query(
        "UPDATE email_outbox SET sent_at = $1, delivered_via = $2, lease_until = NULL, last_error = NULL WHERE id = $3",
    )
    .bind(to_millis(now))
    .bind(via)
    .bind(id.to_string())
    .execute(pool)
    .await?;
    Ok(())
}

/// Records a failed attempt: retried at `retry_at`, or given up when that is `None`.
pub async fn mark_failed(
    pool: &AnyPool,
    id: EmailId,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE email_outbox SET last_error = $1, lease_until = NULL,
             next_attempt_at = COALESCE($2, next_attempt_at),
             gave_up_at = CASE WHEN $2 IS NULL THEN $3 ELSE NULL END
         WHERE id = $4",
    )
    .bind(error)
    .bind(retry_at.map(to_millis))
    .bind(to_millis(now))
    .bind(id.to_string())
    .execute(pool)
    .await?;
    Ok(())
}

/// The development outbox, newest first, keyset-paginated on (created_at, id).
pub async fn list_recent(pool: &AnyPool, page: &PageRequest) -> DbResult<Vec<OutboxEmail>> {
    let sql = format!("SELECT {COLUMNS} FROM email_outbox WHERE 1 = 1{}", NEWEST_FIRST.page_sql(page, 0));
    let rows = page.bind(sqlx::query(&sql)).fetch_all(pool).await?;
    Ok(rows.iter().map(OutboxEmail::from_row).collect::<Result<_, _>>()?)
}
