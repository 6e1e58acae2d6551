//! The `api_usage` table: calls per organization, hour, key and status class, added in batches.
use super::{to_millis, DbResult, Tx};
use crate::shared::ids::OrgId;
use chrono::{DateTime, Utc};
use sqlx::AnyPool;

/// One counter of a batch: `key_id` is empty for calls made by signed-in people.
pub struct UsageCount<'a> {
    pub org: OrgId,
    pub hour: DateTime<Utc>,
    pub key_id: &'a str,
    pub status_class: &'a str,
    pub calls: i64,
}

/// Adds to a counter; counts of an organization deleted since are dropped.
pub async fn add(tx: &mut Tx, count: UsageCount<'_>) -> DbResult<()> {
    execute!(tx, "INSERT INTO api_usage (organization_id, hour, key_id, status_class, calls)
         SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM organizations WHERE id = $1)
         ON CONFLICT (organization_id, hour, key_id, status_class) DO UPDATE SET calls = api_usage.calls + excluded.calls", count.org.to_string(), to_millis(count.hour), count.key_id, count.status_class, count.calls)
}

/// (hour millis, status class, calls) of an organization since `from`.
pub async fn by_hour(pool: &AnyPool, org: OrgId, from: DateTime<Utc>) -> DbResult<Vec<(i64, String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT hour, status_class, CAST(SUM(calls) AS BIGINT) AS calls FROM api_usage
         WHERE organization_id = $1 AND hour >= $2 GROUP BY hour, status_class ORDER BY hour",
    )
    .bind(org.to_string())
    .bind(to_millis(from))
    .fetch_all(pool)
    .await?)
}

/// (key id or '', key name, calls) of an organization since `from`, busiest first.
pub async fn by_key(pool: &AnyPool, org: OrgId, from: DateTime<Utc>) -> DbResult<Vec<(String, String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT u.key_id, COALESCE(k.name, '') AS name, CAST(SUM(u.calls) AS BIGINT) AS calls FROM api_usage u
         LEFT JOIN api_keys k ON k.id = u.key_id
         WHERE u.organization_id = $1 AND u.hour >= $2 GROUP BY u.key_id, k.name ORDER BY calls DESC",
    )
    .bind(org.to_string())
    .bind(to_millis(from))
    .fetch_all(pool)
    .await?)
}
