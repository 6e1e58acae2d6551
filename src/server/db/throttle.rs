//! The `throttle_events` table: timestamps of counted events (failed logins, signups) per bucket,
//! shared by all replicas through the database; and `throttle_buckets`, one row per bucket whose
//! lock serialises reservations and which remembers when its owner was last warned.
use super::{to_millis, DbResult, Tx};
use chrono::{DateTime, Utc};
use sqlx::AnyPool;

/// Takes the bucket's row lock until the transaction ends (on Postgres; SQLite's `BEGIN IMMEDIATE`
/// already lets one writer in at a time), so a count and the insert after it cannot interleave.
pub async fn lock(tx: &mut Tx, bucket: &str, now: DateTime<Utc>) -> DbResult<()> {
    execute!(
        tx,
        "INSERT INTO throttle_buckets (bucket, touched_at) VALUES ($1, $2)
         ON CONFLICT (bucket) DO UPDATE SET touched_at = excluded.touched_at",
        bucket,
        to_millis(now)
    )
}

/// (events in the window, oldest event time in the window).
pub async fn count_since(tx: &mut Tx, bucket: &str, since: DateTime<Utc>) -> DbResult<(i64, Option<i64>)> {
    Ok(sqlx::query_as("SELECT COUNT(*) AS n, MIN(at) AS oldest FROM throttle_events WHERE bucket = $1 AND at > $2")
        .bind(bucket)
        .bind(to_millis(since))
        .fetch_one(&mut **tx)
        .await?)
}

pub async fn record(tx: &mut Tx, bucket: &str, id: &str, at: DateTime<Utc>) -> DbResult<()> {
    execute!(tx, "INSERT INTO throttle_events (bucket, at, id) VALUES ($1, $2, $3)", bucket, to_millis(at), id)
}

pub async fn delete_event(pool: &AnyPool, id: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM throttle_events WHERE id = $1").bind(id).execute(pool).await?;
    Ok(())
}

pub async fn clear(pool: &AnyPool, bucket: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM throttle_events WHERE bucket = $1").bind(bucket).execute(pool).await?;
    Ok(())
}

/// Marks the bucket's owner as warned unless they were after `since`; true when this call did.
pub async fn claim_notice(pool: &AnyPool, bucket: &str, now: DateTime<Utc>, since: DateTime<Utc>) -> DbResult<bool> {
    let done = sqlx::query(
        "INSERT INTO throttle_buckets (bucket, touched_at, notified_at) VALUES ($1, $2, $2)
         ON CONFLICT (bucket) DO UPDATE SET notified_at = excluded.notified_at
         WHERE throttle_buckets.notified_at IS NULL OR throttle_buckets.notified_at <= $3",
    )
    .bind(bucket)
    .bind(to_millis(now))
    .bind(to_millis(since))
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_older_than(pool: &AnyPool, cutoff: DateTime<Utc>) -> DbResult<u64> {
    let done = sqlx::query("DELETE FROM throttle_events WHERE at <= $1").bind(to_millis(cutoff)).execute(pool).await?;
    sqlx::query("DELETE FROM throttle_buckets WHERE touched_at <= $1").bind(to_millis(cutoff)).execute(pool).await?;
    Ok(done.rows_affected())
}
