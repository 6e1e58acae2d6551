//! Counting throttles kept in the database so every replica sees the same counts: at most
//! `rule.max` events per bucket in a sliding `rule.window`. Old events simply age out, so the real
//! owner is never locked out for longer than one window.
//!
//! An attempt is counted before it is made (`reserve`: check and count in one locked step), so a
//! parallel burst cannot all pass the check before any of them is recorded; an attempt that turns
//! out well is given back (`Reserved::refund`).
use crate::server::{config::ThrottleRule, db};
use crate::shared::error::AppError;
use chrono::{DateTime, Duration, Utc};

/// Events counted by one `reserve`, by id.
#[must_use = "an attempt that succeeds should be refunded"]
pub struct Reserved(Vec<String>);

impl Reserved {
    /// Takes the counted events back (the attempt was not a wrong guess).
    pub async fn refund(self, db: &db::Db) -> Result<(), AppError> {
        for id in self.0 {
            db::throttle::delete_event(db.pool(), &id).await?;
        }
        Ok(())
    }
}

/// Why `reserve` counted nothing.
#[derive(Debug)]
pub enum Refused {
    /// `buckets[bucket]` is full; a slot frees in `retry_after` seconds.
    Full {
        bucket: usize,
        retry_after: u64,
    },
    Failed(AppError),
}

impl From<AppError> for Refused {
    fn from(e: AppError) -> Refused {
        Refused::Failed(e)
    }
}

impl From<db::DbError> for Refused {
    fn from(e: db::DbError) -> Refused {
        Refused::Failed(e.into())
    }
}

impl From<Refused> for AppError {
    fn from(refused: Refused) -> AppError {
        match refused {
            Refused::Full { retry_after, .. } => AppError::rate_limited(retry_after),
            Refused::Failed(e) => e,
        }
    }
}

fn window(rule: ThrottleRule) -> Duration {
    Duration::from_std(rule.window).unwrap_or(Duration::zero())
}

/// Counts one event in every bucket, or in none (429 with the seconds until the full bucket's
/// oldest event leaves the window).
pub async fn reserve(
    db: &db::Db,
    buckets: &[&str],
    rule: ThrottleRule,
    now: DateTime<Utc>,
) -> Result<Reserved, Refused> {
    let window = window(rule);
    let mut tx = db.begin_write().await?;
    // Locked in one order, so two reservations never wait for each other's second bucket.
    let mut order: Vec<&str> = buckets.to_vec();
    order.sort_unstable();
    for bucket in order {
        db::throttle::lock(&mut tx, bucket, now).await?;
    }
    let mut ids = Vec::with_capacity(buckets.len());
    for (index, bucket) in buckets.iter().enumerate() {
        let (count, oldest) = db::throttle::count_since(&mut tx, bucket, now - window).await?;
        if count >= rule.max {
            let frees_at = oldest.map(db::from_millis).unwrap_or(now) + window;
            // Rounded up: a client that waits exactly this long must find a free slot.
            let retry_after = ((frees_at - now).num_milliseconds().max(1) as u64).div_ceil(1000);
            return Err(Refused::Full { bucket: index, retry_after });
        }
        let id = uuid::Uuid::now_v7().to_string();
        db::throttle::record(&mut tx, bucket, &id, now).await?;
        ids.push(id);
    }
    db::commit(tx).await?;
    Ok(Reserved(ids))
}

pub async fn clear(pool: &sqlx::AnyPool, bucket: &str) -> Result<(), AppError> {
    Ok(db::throttle::clear(pool, bucket).await?)
}

/// True once per window of a full bucket: the moment to tell its owner.
pub async fn first_refusal(
    pool: &sqlx::AnyPool,
    bucket: &str,
    rule: ThrottleRule,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    Ok(db::throttle::claim_notice(pool, bucket, now, now - window(rule)).await?)
}

pub fn login_ip(ip: &str) -> String {
    format!("login:ip:{ip}")
}

pub fn login_account(email: &str) -> String {
    format!("login:account:{email}")
}

pub fn signup_ip(ip: &str) -> String {
    format!("signup:ip:{ip}")
}

pub fn reset_ip(ip: &str) -> String {
    format!("reset:ip:{ip}")
}
