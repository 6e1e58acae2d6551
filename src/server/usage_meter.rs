//! API calls counted in memory by every request (`record`), until `service::usage::flush` takes
//! them to the database in one batch.
use crate::server::db;
use crate::shared::ids::{ApiKeyId, OrgId};
use chrono::{DateTime, Duration, DurationRound, Utc};
use std::{collections::HashMap, sync::Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Bucket {
    pub org: OrgId,
    pub hour: DateTime<Utc>,
    pub key: Option<ApiKeyId>,
    pub status_class: &'static str,
}

#[derive(Default)]
pub(crate) struct Pending {
    pub calls: HashMap<Bucket, i64>,
    /// Per key: requests and the last use since the previous flush.
    pub keys: HashMap<ApiKeyId, (i64, DateTime<Utc>)>,
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

pub(crate) fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
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

    pub(crate) fn take(&self) -> Pending {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Puts counts back after a failed write, so the next flush retries them.
    pub(crate) fn restore(&self, failed: Pending) {
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
