//! The `throttle_events` table: timestamps of counted events (failed logins, signups) per bucket,
//! shared by all replicas through the database.
use super::{db_error, to_millis};
use crate::shared::error::AppError;
use chrono::{DateTime, Utc};
use sqlx::{AnyPool, Row};

/// (events in the window, oldest event time in the window).
pub async fn count_since(pool: &AnyPool, bucket: &str, since: DateTime<Utc>) -> Result<(i64, Option<i64>), AppError> {
    let row = sqlx::query("SELECT COUNT(*) AS n, MIN(at) AS oldest FROM throttle_events WHERE bucket = $1 AND at > $2")
        .bind(bucket)
        .bind(to_millis(since))
        .fetch_one(pool)
        .await
        .map_err(db_error)?;
    let n: i64 = row.try_get("n").map_err(db_error)?;
    let oldest: Option<i64> = row.try_get("oldest").map_err(db_error)?;
    Ok((n, oldest))
}

pub async fn record(pool: &AnyPool, bucket: &str, at: DateTime<Utc>) -> Result<(), AppError> {
    sqlx::query("INSERT INTO throttle_events (bucket, at) VALUES ($1, $2)")
        .bind(bucket)
        .bind(to_millis(at))
        .execute(pool)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn clear(pool: &AnyPool, bucket: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM throttle_events WHERE bucket = $1").bind(bucket).execute(pool).await.map_err(db_error)?;
    Ok(())
}

pub async fn delete_older_than(pool: &AnyPool, cutoff: DateTime<Utc>) -> Result<u64, AppError> {
    let done = sqlx::query("DELETE FROM throttle_events WHERE at <= $1")
        .bind(to_millis(cutoff))
        .execute(pool)
        .await
        .map_err(db_error)?;
    Ok(done.rows_affected())
}
