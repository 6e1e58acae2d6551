//! Counting throttles kept in the database so every replica sees the same counts: at most
//! `rule.max` events per bucket in a sliding `rule.window`. Old events simply age out, so the real
//! owner is never locked out for longer than one window.
use crate::server::{config::ThrottleRule, db};
use crate::shared::error::AppError;
use chrono::{DateTime, Utc};
use sqlx::AnyPool;

/// Fails with 429 (and the seconds until the oldest counted event leaves the window) when the
/// bucket is full.
pub async fn check(pool: &AnyPool, bucket: &str, rule: ThrottleRule, now: DateTime<Utc>) -> Result<(), AppError> {
    let window = chrono::Duration::from_std(rule.window).unwrap_or(chrono::Duration::zero());
    let (count, oldest) = db::throttle::count_since(pool, bucket, now - window).await?;
    if count < rule.max {
        return Ok(());
    }
    let frees_at = oldest.map(db::from_millis).unwrap_or(now) + window;
    // Rounded up: a client that waits exactly this long must find a free slot.
    let retry_after = ((frees_at - now).num_milliseconds().max(1) as u64).div_ceil(1000);
    Err(AppError::rate_limited(retry_after))
}

pub async fn record(pool: &AnyPool, bucket: &str, now: DateTime<Utc>) -> Result<(), AppError> {
    db::throttle::record(pool, bucket, now).await
}

pub async fn clear(pool: &AnyPool, bucket: &str) -> Result<(), AppError> {
    db::throttle::clear(pool, bucket).await
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
