//! The `idempotency_keys` table: one row per (principal, key), claimed before the request runs
//! and completed with its response.
use super::{to_millis, DbResult, OnDuplicate};
use chrono::{DateTime, Utc};
use sqlx::{AnyPool, Row};

pub enum Claim {
    /// This request runs and its response is stored.
    New,
    /// Same key, same request, finished: answer with the stored response.
    Replay { status: u16, headers: String, body: Vec<u8> },
    /// Same key, another request body or route.
    Mismatch,
    /// Same key, the first request is still running.
    InFlight,
}

/// Claims `key` for this request. A row older than `expired_before` is replaced, and so is a claim
/// made before `abandoned_before` that never got a response (its process died mid-request).
pub async fn claim(
    pool: &AnyPool,
    principal: &str,
    key: &str,
    request_hash: &str,
    now: DateTime<Utc>,
    (expired_before, abandoned_before): (DateTime<Utc>, DateTime<Utc>),
) -> DbResult<Claim> {
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE principal = $1 AND idem_key = $2 \
         AND (created_at < $3 OR (status IS NULL AND created_at < $4))",
    )
    .bind(principal)
    .bind(key)
    .bind(to_millis(expired_before))
    .bind(to_millis(abandoned_before))
    .execute(pool)
    .await?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (principal, idem_key, request_hash, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(principal)
    .bind(key)
    .bind(request_hash)
    .bind(to_millis(now))
    .execute(pool)
    .await
    .map(|_| true)
    .on_duplicate(false)?;
    if inserted {
        return Ok(Claim::New);
    }
    let row = sqlx::query(
        "SELECT request_hash, status, headers, body FROM idempotency_keys WHERE principal = $1 AND idem_key = $2",
    )
    .bind(principal)
    .bind(key)
    .fetch_optional(pool)
    .await?;
    // Deleted between our insert and select (the first request failed): let the client retry.
    let Some(row) = row else { return Ok(Claim::InFlight) };
    let parse = || -> Result<Claim, sqlx::Error> {
        let status = row.try_get::<Option<i64>, _>("status")?;
        if status.is_some() && row.try_get::<String, _>("request_hash")? != request_hash {
            return Ok(Claim::Mismatch);
        }
        Ok(match status {
            None => Claim::InFlight,
            Some(status) => Claim::Replay {
                status: status as u16,
                headers: row.try_get::<Option<String>, _>("headers")?.unwrap_or_default(),
                body: row.try_get::<Option<Vec<u8>>, _>("body")?.unwrap_or_default(),
            },
        })
    };
    Ok(parse()?)
}

pub async fn complete(
    pool: &AnyPool,
    principal: &str,
    key: &str,
    status: u16,
    headers: &str,
    body: &[u8],
) -> DbResult<()> {
    sqlx::query(
        "UPDATE idempotency_keys SET status = $1, headers = $2, body = $3 WHERE principal = $4 AND idem_key = $5",
    )
    .bind(i64::from(status))
    .bind(headers)
    .bind(body.to_vec())
    .bind(principal)
    .bind(key)
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets a claim whose request did not finish with a storable answer, so it can be retried.
pub async fn release(pool: &AnyPool, principal: &str, key: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE principal = $1 AND idem_key = $2")
        .bind(principal)
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn delete_older_than(pool: &AnyPool, before: DateTime<Utc>) -> DbResult<u64> {
    let done =
        sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1").bind(to_millis(before)).execute(pool).await?;
    Ok(done.rows_affected())
}
