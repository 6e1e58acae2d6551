//! Queries on webhook endpoints, events, deliveries and attempts. Every tenant query binds the
//! organization; the worker's queries (claim, load, record) work by delivery id across tenants.
use super::{get_id, get_opt_time, get_time, to_millis, Backend, Db, DbResult, Tx};
use crate::server::pagination::{PageRequest, NEWEST_FIRST};
use crate::shared::columns::MaybeMillis;
use crate::shared::{
    ids::{DeliveryId, OrgId, WebhookEventId, WebhookId},
    webhooks::{Delivery, DeliveryAttempt, DeliveryStatus, EndpointStats, OutcomeHour, Webhook},
};
use chrono::{DateTime, Utc};
use sqlx::{any::AnyRow, AnyPool, FromRow, Row};

const ENDPOINT_COLUMNS: &str = "id, organization_id, url, description, events, active, disabled_reason, secret,
    previous_secret, previous_secret_expires_at, created_at, updated_at, failing_since, total_deliveries, successes,
    failures, last_success_at, last_failure_at";

/// An endpoint with its sealed secrets (never leaves the server).
pub struct EndpointRow {
    pub webhook: Webhook,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
}

fn endpoint_from_row(row: &AnyRow) -> Result<EndpointRow, sqlx::Error> {
    let events: String = row.try_get("events")?;
    Ok(EndpointRow {
        webhook: Webhook {
            id: get_id(row, "id")?,
            organization_id: get_id(row, "organization_id")?,
            url: row.try_get("url")?,
            description: row.try_get("description")?,
            events: events.split_whitespace().map(str::to_owned).collect(),
            active: row.try_get::<i64, _>("active")? != 0,
            disabled_reason: row.try_get("disabled_reason")?,
            previous_secret_expires_at: get_opt_time(row, "previous_secret_expires_at")?,
            created_at: get_time(row, "created_at")?,
            updated_at: get_time(row, "updated_at")?,
            stats: EndpointStats {
                total_deliveries: row.try_get("total_deliveries")?,
                successes: row.try_get("successes")?,
                failures: row.try_get("failures")?,
                last_success_at: get_opt_time(row, "last_success_at")?,
                last_failure_at: get_opt_time(row, "last_failure_at")?,
            },
        },
        secret: row.try_get("secret")?,
        previous_secret: row.try_get("previous_secret")?,
        failing_since: get_opt_time(row, "failing_since")?,
    })
}

pub struct NewEndpoint<'a> {
    pub id: WebhookId,
    pub org: OrgId,
    pub url: &'a str,
    pub description: &'a str,
    pub events: &'a str,
    pub sealed_secret: &'a str,
    pub now: DateTime<Utc>,
}

pub async fn insert_endpoint(tx: &mut Tx, new: NewEndpoint<'_>) -> DbResult<()> {
    execute!(tx, "INSERT INTO webhook_endpoints (id, organization_id, url, description, events, active, secret, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7)", new.id.to_string(), new.org.to_string(), new.url, new.description, new.events, new.sealed_secret, to_millis(new.now))
}

pub async fn get_endpoint(tx: &mut Tx, org: OrgId, id: WebhookId) -> DbResult<Option<EndpointRow>> {
    let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE organization_id = $1 AND id = $2");
    let row = sqlx::query(&sql).bind(org.to_string()).bind(id.to_string()).fetch_optional(&mut **tx).await?;
    Ok(row.as_ref().map(endpoint_from_row).transpose()?)
}

pub async fn list_endpoints(pool: &AnyPool, org: OrgId, page: &PageRequest) -> DbResult<Vec<Webhook>> {
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE organization_id = $1{}",
        NEWEST_FIRST.page_sql(page, 1)
    );
    let rows = page.bind(sqlx::query(&sql).bind(org.to_string())).fetch_all(pool).await?;
    Ok(rows.iter().map(|r| endpoint_from_row(r).map(|e| e.webhook)).collect::<Result<_, _>>()?)
}

pub struct EndpointChanges<'a> {
    pub url: &'a str,
    pub description: &'a str,
    pub events: &'a str,
    pub active: bool,
    pub now: DateTime<Utc>,
}

/// Turning an endpoint back on clears why it was off and its failure streak.
pub async fn update_endpoint(tx: &mut Tx, id: WebhookId, changes: EndpointChanges<'_>) -> DbResult<()> {
    execute!(
        tx,
        "UPDATE webhook_endpoints SET url = $1, description = $2, events = $3, active = $4, updated_at = $5,
             disabled_reason = CASE WHEN $4 = 1 THEN NULL ELSE disabled_reason END,
             failing_since = CASE WHEN $4 = 1 THEN NULL ELSE failing_since END
         WHERE id = $6",
        changes.url,
        changes.description,
        changes.events,
        i64::from(changes.active),
        to_millis(changes.now),
        id.to_string()
    )
}

pub async fn rotate_secret(
    tx: &mut Tx,
    id: WebhookId,
    sealed_secret: &str,
    sealed_previous: &str,
    previous_until: DateTime<Utc>,
) -> DbResult<()> {
    execute!(tx, "UPDATE webhook_endpoints SET secret = $1, previous_secret = $2, previous_secret_expires_at = $3, updated_at = $4
         WHERE id = $5", sealed_secret, sealed_previous, to_millis(previous_until), to_millis(super::now()), id.to_string())
}

pub async fn delete_endpoint(tx: &mut Tx, id: WebhookId) -> DbResult<()> {
    execute!(tx, "DELETE FROM webhook_endpoints WHERE id = $1", id.to_string())
}

/// Active endpoints of an organization with their subscriptions, for fan-out.
pub async fn subscriptions(tx: &mut Tx, org: OrgId) -> DbResult<Vec<(WebhookId, String)>> {
    let rows = sqlx::query("SELECT id, events FROM webhook_endpoints WHERE organization_id = $1 AND active = 1")
        .bind(org.to_string())
        .fetch_all(&mut **tx)
        .await?;
    Ok(rows.iter().map(|r| Ok((get_id(r, "id")?, r.try_get("events")?))).collect::<Result<_, sqlx::Error>>()?)
}

pub async fn insert_event(
    tx: &mut Tx,
    id: WebhookEventId,
    org: OrgId,
    event_type: &str,
    payload: &str,
    now: DateTime<Utc>,
) -> DbResult<()> {
    execute!(
        tx,
        "INSERT INTO webhook_events (id, organization_id, event_type, payload, created_at) VALUES ($1, $2, $3, $4, $5)",
        id.to_string(),
        org.to_string(),
        event_type,
        payload,
        to_millis(now)
    )
}

pub async fn insert_delivery(
    tx: &mut Tx,
    org: OrgId,
    endpoint: WebhookId,
    event: WebhookEventId,
    event_type: &str,
    now: DateTime<Utc>,
) -> DbResult<DeliveryId> {
    let id = DeliveryId::new();
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, organization_id, endpoint_id, event_id, event_type, status, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6)",
    )
    .bind(id.to_string())
    .bind(org.to_string())
    .bind(endpoint.to_string())
    .bind(event.to_string())
    .bind(event_type)
    .bind(to_millis(now))
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Leases up to `limit` due deliveries of active endpoints to this worker and counts the attempt.
/// Postgres skips rows another worker is claiming (`FOR UPDATE SKIP LOCKED`); SQLite has one
/// writer at a time, so the statement alone is the claim. The outer conditions repeat the inner
/// ones so a row claimed meanwhile is never taken twice.
pub async fn claim_due(
    db: &Db,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> DbResult<Vec<DeliveryId>> {
    let lock = if db.backend() == Backend::Postgres { "FOR UPDATE OF d SKIP LOCKED" } else { "" };
    let sql = format!(
        "UPDATE webhook_deliveries SET lease_until = $2, attempts = attempts + 1
         WHERE id IN (SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
                      WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND e.active = 1
                        AND (d.lease_until IS NULL OR d.lease_until <= $1)
                      ORDER BY d.next_attempt_at LIMIT $3 {lock})
           AND status = 'pending' AND (lease_until IS NULL OR lease_until <= $1)
         RETURNING id"
    );
    let rows =
        sqlx::query(&sql).bind(to_millis(now)).bind(to_millis(lease_until)).bind(limit).fetch_all(db.pool()).await?;
    Ok(rows.iter().map(|r| get_id(r, "id")).collect::<Result<_, _>>()?)
}

/// Everything one attempt needs.
#[derive(sqlx::FromRow)]
pub struct Job {
    pub delivery: DeliveryId,
    pub org: OrgId,
    pub endpoint: WebhookId,
    pub event: WebhookEventId,
    pub attempt: i64,
    pub url: String,
    pub payload: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    #[sqlx(try_from = "MaybeMillis")]
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

pub async fn load_jobs(pool: &AnyPool, ids: &[DeliveryId]) -> DbResult<Vec<Job>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = (1..=ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT d.id AS delivery, d.organization_id AS org, d.endpoint_id AS endpoint, d.event_id AS event,
                d.attempts AS attempt, e.url, v.payload, e.secret, e.previous_secret, e.previous_secret_expires_at
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN webhook_events v ON v.id = d.event_id
         WHERE d.id IN ({placeholders})"
    );
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(id.to_string());
    }
    let rows = query.fetch_all(pool).await?;
    Ok(rows.iter().map(Job::from_row).collect::<Result<_, _>>()?)
}

pub struct NewAttempt<'a> {
    pub delivery: DeliveryId,
    pub endpoint: WebhookId,
    pub at: DateTime<Utc>,
    pub status: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<&'a str>,
    pub request_body: &'a str,
    pub response_body: Option<&'a str>,
}

pub async fn insert_attempt(tx: &mut Tx, attempt: &NewAttempt<'_>) -> DbResult<()> {
    execute!(tx, "INSERT INTO webhook_attempts (id, delivery_id, endpoint_id, attempted_at, status, latency_ms, error, request_body, response_body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", uuid::Uuid::now_v7().to_string(), attempt.delivery.to_string(), attempt.endpoint.to_string(), to_millis(attempt.at), attempt.status, attempt.latency_ms, attempt.error, attempt.request_body, attempt.response_body)
}

/// The delivery's state after an attempt: `next_attempt_at` set keeps it pending.
pub async fn finish_attempt(
    tx: &mut Tx,
    attempt: &NewAttempt<'_>,
    status: DeliveryStatus,
    next_attempt_at: Option<DateTime<Utc>>,
) -> DbResult<()> {
    execute!(
        tx,
        "UPDATE webhook_deliveries SET status = $1, next_attempt_at = $2, lease_until = NULL, last_attempt_at = $3,
             last_status = $4, last_error = $5
         WHERE id = $6",
        status.as_str(),
        next_attempt_at.map(to_millis),
        to_millis(attempt.at),
        attempt.status,
        attempt.error,
        attempt.delivery.to_string()
    )
}

/// One endpoint's attempts in a batch: counts, the latest of each kind, and whether the batch
/// ended on a success (which ends a failure streak).
#[derive(Debug, Default)]
pub struct Tally {
    successes: i64,
    failures: i64,
    last_success: Option<DateTime<Utc>>,
    first_failure: Option<DateTime<Utc>>,
    last_failure: Option<DateTime<Utc>>,
}

impl Tally {
    pub fn add(&mut self, success: bool, at: DateTime<Utc>) {
        if success {
            self.successes += 1;
            self.last_success = self.last_success.max(Some(at));
        } else {
            self.failures += 1;
            self.first_failure = Some(self.first_failure.map_or(at, |first| first.min(at)));
            self.last_failure = self.last_failure.max(Some(at));
        }
    }

    fn ends_well(&self) -> bool {
        self.last_success.is_some() && self.last_success >= self.last_failure
    }
}

pub async fn count_attempts(tx: &mut Tx, endpoint: WebhookId, tally: &Tally) -> DbResult<()> {
    execute!(
        tx,
        "UPDATE webhook_endpoints SET total_deliveries = total_deliveries + $1 + $2,
             successes = successes + $1, failures = failures + $2,
             last_success_at = COALESCE($3, last_success_at), last_failure_at = COALESCE($4, last_failure_at),
             failing_since = CASE WHEN $5 = 1 THEN NULL ELSE COALESCE(failing_since, $6) END
         WHERE id = $7",
        tally.successes,
        tally.failures,
        tally.last_success.map(to_millis),
        tally.last_failure.map(to_millis),
        i64::from(tally.ends_well()),
        tally.first_failure.map(to_millis),
        endpoint.to_string()
    )
}

/// The start of the endpoint's current failure streak, read after recording a failure.
pub async fn failing_since(tx: &mut Tx, endpoint: WebhookId) -> DbResult<Option<DateTime<Utc>>> {
    let row = sqlx::query("SELECT failing_since, active FROM webhook_endpoints WHERE id = $1")
        .bind(endpoint.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else { return Ok(None) };
    if row.try_get::<i64, _>("active")? == 0 {
        return Ok(None);
    }
    Ok(get_opt_time(&row, "failing_since")?)
}

/// Turns an endpoint off and gives up its pending deliveries. False if it was already off.
pub async fn disable(tx: &mut Tx, endpoint: WebhookId, reason: &str, now: DateTime<Utc>) -> DbResult<bool> {
    let changed = sqlx::query(
        "UPDATE webhook_endpoints SET active = 0, disabled_reason = $1, updated_at = $2 WHERE id = $3 AND active = 1",
    )
    .bind(reason)
    .bind(to_millis(now))
    .bind(endpoint.to_string())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    sqlx::query(
        "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, lease_until = NULL,
             last_error = COALESCE(last_error, 'endpoint disabled')
         WHERE endpoint_id = $1 AND status = 'pending'",
    )
    .bind(endpoint.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(changed > 0)
}

const DELIVERY_COLUMNS: &str = "id, endpoint_id AS webhook_id, event_id, event_type, status, attempts AS attempt_count,
    next_attempt_at, created_at, last_attempt_at, last_status, last_error";

pub struct DeliveryFilter<'a> {
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<&'a str>,
}

pub async fn list_deliveries(
    pool: &AnyPool,
    org: OrgId,
    endpoint: WebhookId,
    filter: DeliveryFilter<'_>,
    page: &PageRequest,
) -> DbResult<Vec<Delivery>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
         WHERE organization_id = $1 AND endpoint_id = $2 AND ($3 = '' OR status = $3) AND ($4 = '' OR event_type = $4){}",
        NEWEST_FIRST.page_sql(page, 4)
    );
    let query = sqlx::query(&sql)
        .bind(org.to_string())
        .bind(endpoint.to_string())
        .bind(filter.status.map_or("", DeliveryStatus::as_str))
        .bind(filter.event_type.unwrap_or(""));
    let rows = page.bind(query).fetch_all(pool).await?;
    Ok(rows.iter().map(Delivery::from_row).collect::<Result<_, _>>()?)
}

pub async fn get_delivery(tx: &mut Tx, org: OrgId, endpoint: WebhookId, id: DeliveryId) -> DbResult<Option<Delivery>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE organization_id = $1 AND endpoint_id = $2 AND id = $3"
    );
    let row = sqlx::query(&sql)
        .bind(org.to_string())
        .bind(endpoint.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.as_ref().map(Delivery::from_row).transpose()?)
}

pub async fn attempts(tx: &mut Tx, delivery: DeliveryId) -> DbResult<Vec<DeliveryAttempt>> {
    let rows = sqlx::query(
        "SELECT attempted_at, status, latency_ms, error, request_body, response_body FROM webhook_attempts
         WHERE delivery_id = $1 ORDER BY attempted_at, id",
    )
    .bind(delivery.to_string())
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            Ok(DeliveryAttempt {
                attempted_at: get_time(r, "attempted_at")?,
                status: r.try_get("status")?,
                latency_ms: r.try_get("latency_ms")?,
                error: r.try_get("error")?,
                request_body: r.try_get("request_body")?,
                response_body: r.try_get("response_body")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?)
}

/// Queues a delivery again for an immediate attempt.
pub async fn requeue(tx: &mut Tx, id: DeliveryId, now: DateTime<Utc>) -> DbResult<()> {
    execute!(
        tx,
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, lease_until = NULL WHERE id = $2",
        to_millis(now),
        id.to_string()
    )
}

/// Successes and failures per hour since `since`, from the attempts.
pub async fn outcomes_per_hour(
    pool: &AnyPool,
    endpoint: WebhookId,
    since: DateTime<Utc>,
) -> DbResult<Vec<OutcomeHour>> {
    let rows = sqlx::query(
        "SELECT attempted_at / 3600000 AS hour,
                CAST(SUM(CASE WHEN status >= 200 AND status < 300 THEN 1 ELSE 0 END) AS BIGINT) AS successes,
                CAST(SUM(CASE WHEN status >= 200 AND status < 300 THEN 0 ELSE 1 END) AS BIGINT) AS failures
         FROM webhook_attempts WHERE endpoint_id = $1 AND attempted_at >= $2
         GROUP BY attempted_at / 3600000 ORDER BY hour",
    )
    .bind(endpoint.to_string())
    .bind(to_millis(since))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            Ok(OutcomeHour {
                hour: super::from_millis(r.try_get::<i64, _>("hour")? * 3_600_000),
                successes: r.try_get("successes")?,
                failures: r.try_get("failures")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?)
}

/// Deletes finished deliveries (with their attempts) and events older than `before`, and the
/// endpoints of deleted organizations once nothing is left to send them. Returns deliveries removed.
pub async fn purge(pool: &AnyPool, before: DateTime<Utc>) -> DbResult<u64> {
    let removed = sqlx::query("DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < $1")
        .bind(to_millis(before))
        .execute(pool)
        .await?
        .rows_affected();
    sqlx::query(
        "DELETE FROM webhook_events WHERE created_at < $1
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)",
    )
    .bind(to_millis(before))
    .execute(pool)
    .await?;
    sqlx::query(
        "DELETE FROM webhook_endpoints
         WHERE NOT EXISTS (SELECT 1 FROM organizations o WHERE o.id = webhook_endpoints.organization_id)
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = webhook_endpoints.id AND d.status = 'pending')",
    )
    .execute(pool)
    .await?;
    Ok(removed)
}
