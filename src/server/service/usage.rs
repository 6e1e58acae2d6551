//! API usage: the counts of `usage_meter` written in batches (`flush`, every few seconds and at
//! shutdown), so no request waits on a database write (a crash loses at most the last few seconds
//! of counts), and the hourly report.
use crate::server::{
    authz::OrgScope,
    db,
    state::AppState,
    usage_meter::{hour_of, Pending},
};
use crate::shared::{
    error::AppError,
    roles::Permission,
    usage::{UsageByKey, UsageHour, UsageReport},
};
use chrono::Duration;

/// Writes what was counted since the last flush, in one transaction.
pub async fn flush(app: &AppState) -> Result<(), AppError> {
    let batch = app.usage.take();
    if batch.calls.is_empty() && batch.keys.is_empty() {
        return Ok(());
    }
    let written = write(app, &batch).await;
    if written.is_err() {
        app.usage.restore(batch);
    }
    written
}

async fn write(app: &AppState, batch: &Pending) -> Result<(), AppError> {
    let mut tx = app.db.begin_write().await?;
    for (bucket, calls) in &batch.calls {
        let key_id = bucket.key.map(|k| k.to_string()).unwrap_or_default();
        let count = db::usage::UsageCount {
            org: bucket.org,
            hour: bucket.hour,
            key_id: &key_id,
            status_class: bucket.status_class,
            calls: *calls,
        };
        db::usage::add(&mut tx, count).await?;
    }
    for (key, (requests, last)) in &batch.keys {
        db::api_keys::add_usage(&mut tx, *key, *requests, *last).await?;
    }
    Ok(db::commit(tx).await?)
}

pub const DEFAULT_REPORT_HOURS: i64 = 24;
const MAX_REPORT_HOURS: i64 = 24 * 31;

/// Calls per hour over the last `hours` hours (every hour present), and per key.
pub async fn report(app: &AppState, scope: &OrgScope, hours: Option<i64>) -> Result<UsageReport, AppError> {
    scope.require(Permission::OrgRead)?;
    let hours = hours.unwrap_or(DEFAULT_REPORT_HOURS);
    if !(1..=MAX_REPORT_HOURS).contains(&hours) {
        return Err(AppError::invalid_field("hours", "Report from 1 to 744 hours (31 days)."));
    }
    let to = hour_of(db::now());
    let from = to - Duration::hours(hours - 1);
    let org =
        db::orgs::by_id(app.db.pool(), scope.org_id()).await?.ok_or_else(|| AppError::not_found("organization"))?;
    let mut series: Vec<UsageHour> = (0..hours)
        .map(|i| UsageHour { hour: from + Duration::hours(i), success: 0, client_error: 0, server_error: 0 })
        .collect();
    for (hour, class, calls) in db::usage::by_hour(app.db.pool(), scope.org_id(), from).await? {
        let Some(slot) = series.iter_mut().find(|h| db::to_millis(h.hour) == hour) else { continue };
        match class.as_str() {
            "5xx" => slot.server_error += calls,
            "4xx" => slot.client_error += calls,
            _ => slot.success += calls,
        }
    }
    let by_key = db::usage::by_key(app.db.pool(), scope.org_id(), from)
        .await?
        .into_iter()
        .map(|(id, name, calls)| {
            let key_id = id.parse().ok();
            let name = if key_id.is_none() { "Signed-in people".to_owned() } else { name };
            UsageByKey { key_id, name, calls }
        })
        .collect();
    Ok(UsageReport { from, to, limit_per_hour: org.limits.max_api_calls_per_hour, hours: series, by_key })
}
