//! API usage metering. Requests are counted in memory and written in batches (`flush`, every few
//! seconds and at shutdown), so no request waits on a database write; a crash loses at most the
//! last few seconds of counts.
use crate::server::{authz::OrgScope, db, state::AppState};
use crate::shared::{
    error::AppError,
    ids::{ApiKeyId, OrgId},
    roles::Permission,
    usage::{UsageByKey, UsageHour, UsageReport},
};
use chrono::{DateTime, Duration, DurationRound, Utc};
use std::{collections::HashMap, sync::Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Bucket {
    org: OrgId,
    hour: DateTime<Utc>,
    key: Option<ApiKeyId>,
    status_class: &'static str,
}

#[derive(Default)]
struct Pending {
    calls: HashMap<Bucket, i64>,
    /// Per key: requests and the last use since the previous flush.
    keys: HashMap<ApiKeyId, (i64, DateTime<Utc>)>,
}

#[derive(Default)]
pub struct UsageMeter(Mutex<Pending>);

fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::hours(1)).unwrap_or(at)
}

impl UsageMeter {
    /// Counts one API call of `org` (by `key`, or by a signed-in person when `None`).
    pub fn record(&self, org: OrgId, key: Option<ApiKeyId>, status: u16) {
        let now = db::now();
        let bucket = Bucket { org, hour: hour_of(now), key, status_class: status_class(status) };
        let mut pending = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *pending.calls.entry(bucket).or_default() += 1;
        if let Some(key) = key {
            let entry = pending.keys.entry(key).or_insert((0, now));
            entry.0 += 1;
            entry.1 = now;
        }
    }

    fn take(&self) -> Pending {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Puts counts back after a failed write, so the next flush retries them.
    fn restore(&self, failed: Pending) {
        let mut pending = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for (bucket, calls) in failed.calls {
            *pending.calls.entry(bucket).or_default() += calls;
        }
        for (key, (requests, last)) in failed.keys {
            let entry = pending.keys.entry(key).or_insert((0, last));
            entry.0 += requests;
            entry.1 = entry.1.max(last);
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_group_by_hour_key_and_class_and_survive_a_failed_write() {
        let meter = UsageMeter::default();
        let org = OrgId::new();
        let key = ApiKeyId::new();
        meter.record(org, Some(key), 200);
        meter.record(org, Some(key), 201);
        meter.record(org, Some(key), 429);
        meter.record(org, None, 500);
        let batch = meter.take();
        assert_eq!(batch.calls.values().sum::<i64>(), 4);
        assert_eq!(batch.calls.len(), 3);
        assert_eq!(batch.keys[&key].0, 3);
        assert!(meter.take().calls.is_empty());
        meter.restore(batch);
        meter.record(org, Some(key), 204);
        let again = meter.take();
        assert_eq!(again.calls.values().sum::<i64>(), 5);
        assert_eq!(again.keys[&key].0, 4);
    }
}
