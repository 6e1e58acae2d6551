//! Rate limiting for API traffic: GCRA (the generic cell rate algorithm), per named bucket
//! (`"key:<id>"`, `"org:<id>"`, `"ip:login:<ip>"`, ...), with two backends that decide identically:
//!
//! - **memory** ([`RateLimiter::in_memory`]): per process, a sharded map (see [`memory`] for why it
//!   is hand-written rather than `governor`);
//! - **redis** ([`RateLimiter::with_redis`]): one Lua script run atomically on Redis with Redis'
//!   own clock, so every replica shares one budget per bucket; large quotas are leased in small
//!   slices so most requests need no round trip (see [`redis_backend`]). When Redis is unreachable, slow
//!   (over [`REDIS_TIMEOUT`]) or failing, the request is decided by the in-process backend instead
//!   (still limited, per replica), counted in [`RateLimiter::fallbacks`], and Redis is left alone
//!   for [`REDIS_BACKOFF`] before one request probes it again.
//!
//! ## GCRA as used here
//!
//! All times are whole microseconds. For a [`Quota`] of `limit` requests per `period`:
//! the emission interval is `T = period / limit` (at least 1 µs) and the burst tolerance is
//! `tau = T × (limit − 1)` — which is `period − T` whenever `limit` divides `period`, and never
//! lets more than `limit` through at once when it does not. Each bucket stores its theoretical
//! arrival time `TAT` (absent = full bucket). A request at `now` is allowed when
//! `now ≥ TAT − tau`, and then `TAT = max(TAT, now) + T`; a refused request changes nothing.
//! So `limit` requests may go at once, then one every `T`.
//!
//! - `remaining` = `⌊(now + tau + T − TAT) / T⌋`: how many more would be allowed right now;
//! - `reset` = `TAT − now` (0 when full): until the bucket is full again;
//! - `retry_after` (refusals only) = `TAT − tau − now`: until the next request would be allowed.
//!
//! **One bucket name, several quotas.** A bucket is identified by its name *and* its quota: the
//! same name checked with two different quotas keeps two independent states (in Redis, two fields
//! of the one hash `gatehouse:rl:<bucket>`). Checking `"org:1"` against `per_minute(10)` never
//! changes what `per_hour(100)` on `"org:1"` allows, and neither can push the other into refusing
//! or allowing more than its own limit. Callers that want both limits to apply check both.
//!
//! A quota with `limit == 0` refuses everything (`retry_after` = the period): a misconfigured
//! quota never means "unlimited".
pub mod memory;
pub mod redis_backend;

use memory::MemoryStore;
use redis_backend::RedisStore;
use std::{sync::Arc, time::Duration};

/// The longest one request waits for Redis (connecting included) before it is decided in-process.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(50);
/// After a Redis failure, how long requests go straight to the in-process backend before one
/// request tries Redis again.
pub const REDIS_BACKOFF: Duration = Duration::from_secs(1);

/// `limit` requests per `period`, with a burst of `limit` (the full quota may be used at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    pub limit: u32,
    pub period: Duration,
}

impl Quota {
    pub fn per_hour(limit: u32) -> Quota {
        Quota { limit, period: Duration::from_secs(3600) }
    }

    pub fn per_minute(limit: u32) -> Quota {
        Quota { limit, period: Duration::from_secs(60) }
    }
}

/// The outcome of one [`RateLimiter::check`], with what the `RateLimit`/`Retry-After` headers need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The quota's limit.
    pub limit: u32,
    /// Requests still allowed right now, after this one.
    pub remaining: u32,
    /// Until the bucket is full again (the `RateLimit` header's `t=`).
    pub reset: Duration,
    /// `Some` when refused: when the next request would be allowed.
    pub retry_after: Option<Duration>,
}

/// GCRA parameters of a quota, in microseconds. `None` for a zero limit (refuse everything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gcra {
    /// Emission interval `T`.
    pub t: u64,
    /// Burst tolerance `tau = T × (limit − 1)`.
    pub tau: u64,
    pub limit: u32,
}

impl Gcra {
    pub(crate) fn new(quota: Quota) -> Option<Gcra> {
        if quota.limit == 0 {
            return None;
        }
        let period = u64::try_from(quota.period.as_micros()).unwrap_or(u64::MAX);
        let t = (period / u64::from(quota.limit)).max(1);
        Some(Gcra { t, tau: t.saturating_mul(u64::from(quota.limit) - 1), limit: quota.limit })
    }

    /// Decides a request at `now` against the stored `tat` (`None` = full bucket). Returns the
    /// decision and, when allowed, the new TAT to store.
    pub(crate) fn decide(&self, tat: Option<u64>, now: u64) -> (Decision, Option<u64>) {
        let tat = tat.unwrap_or(now).max(now);
        let allow_at = tat.saturating_sub(self.tau);
        if now < allow_at {
            let decision = self.decision(false, tat, now, Some(allow_at - now));
            return (decision, None);
        }
        let tat = tat.saturating_add(self.t);
        (self.decision(true, tat, now, None), Some(tat))
    }

    /// Builds a decision from the TAT after the request (the same arithmetic as the Lua script).
    pub(crate) fn decision(&self, allowed: bool, tat: u64, now: u64, retry_after: Option<u64>) -> Decision {
        let credit = now.saturating_add(self.tau).saturating_add(self.t).saturating_sub(tat);
        let remaining = u32::try_from(credit / self.t).unwrap_or(u32::MAX).min(self.limit);
        Decision {
            allowed,
            limit: self.limit,
            remaining,
            reset: Duration::from_micros(tat.saturating_sub(now)),
            retry_after: retry_after.map(Duration::from_micros),
        }
    }
}

/// What a zero-limit quota answers: refused, nothing remaining, try again after a period.
pub(crate) fn refuse_all(quota: Quota) -> Decision {
    Decision {
        allowed: false,
        limit: 0,
        remaining: 0,
        reset: Duration::ZERO,
        retry_after: Some(quota.period.max(Duration::from_secs(1))),
    }
}

/// A GCRA rate limiter over named buckets; cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    /// The whole store for `in_memory`; the per-process fallback for `with_redis`.
    memory: MemoryStore,
    redis: Option<RedisStore>,
}

impl RateLimiter {
    /// A per-process limiter.
    pub fn in_memory() -> RateLimiter {
        RateLimiter { inner: Arc::new(Inner { memory: MemoryStore::new(), redis: None }) }
    }

    /// A limiter shared through Redis by every process using the same Redis.
    ///
    /// Never fails at startup: nothing connects here (the first `check` does, within
    /// [`REDIS_TIMEOUT`]), and an unreachable Redis means the per-process fallback until it
    /// answers. Only a malformed URL errors.
    /// Quotas of 2,000 or more are leased to this replica in slices of 0.1% (see
    /// [`redis_backend`]); `with_redis_per_request` asks Redis for every request instead.
    pub fn with_redis(url: &str) -> Result<RateLimiter, ::redis::RedisError> {
        RateLimiter::redis(url, true)
    }

    /// [`with_redis`](Self::with_redis) without leases: one round trip per request, exact across
    /// replicas for every quota.
    pub fn with_redis_per_request(url: &str) -> Result<RateLimiter, ::redis::RedisError> {
        RateLimiter::redis(url, false)
    }

    fn redis(url: &str, leasing: bool) -> Result<RateLimiter, ::redis::RedisError> {
        let redis = RedisStore::new(url, leasing)?;
        Ok(RateLimiter { inner: Arc::new(Inner { memory: MemoryStore::new(), redis: Some(redis) }) })
    }

    /// One request against `bucket` (e.g. `"key:<id>"`, `"org:<id>"`, `"ip:login:<ip>"`).
    pub async fn check(&self, bucket: &str, quota: Quota) -> Decision {
        self.check_all(&[(bucket, quota)]).await[0]
    }

    /// One request against several buckets (a key's and its organization's): Redis decides them
    /// in one round trip and counts the request in none of them when any refuses; in memory they
    /// are checked in order up to the first refusal. The decisions come in the order given, up to
    /// and including the first refusal.
    ///
    /// Never waits on Redis longer than [`REDIS_TIMEOUT`]; the in-memory backend does not await
    /// at all (the future is ready on first poll).
    pub async fn check_all(&self, checks: &[(&str, Quota)]) -> Vec<Decision> {
        match &self.inner.redis {
            None => self.inner.memory.check_all(checks),
            Some(redis) => {
                let mut decisions = redis.check_all(checks, &self.inner.memory).await;
                if let Some(refused) = decisions.iter().position(|d| !d.allowed) {
                    decisions.truncate(refused + 1);
                }
                decisions
            }
        }
    }

    /// Times the Redis backend was skipped for the in-process one (a metric; also logged on each
    /// change between healthy and degraded). Always 0 for `in_memory`.
    pub fn fallbacks(&self) -> u64 {
        self.inner.redis.as_ref().map_or(0, RedisStore::fallbacks)
    }

    /// `"memory"`, `"redis"`, or `"redis-fallback"` while Redis is degraded (the last attempt
    /// failed and requests are decided in-process).
    pub fn backend(&self) -> &'static str {
        match &self.inner.redis {
            None => "memory",
            Some(redis) if redis.is_degraded() => "redis-fallback",
            Some(_) => "redis",
        }
    }
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter").field("backend", &self.backend()).field("fallbacks", &self.fallbacks()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_constructors() {
        assert_eq!(Quota::per_hour(7), Quota { limit: 7, period: Duration::from_secs(3600) });
        assert_eq!(Quota::per_minute(3), Quota { limit: 3, period: Duration::from_secs(60) });
    }

    #[test]
    fn gcra_parameters() {
        let g = Gcra::new(Quota::per_minute(60)).unwrap();
        assert_eq!((g.t, g.tau, g.limit), (1_000_000, 59_000_000, 60));
        // period - T when the limit divides the period
        let q = Quota::per_hour(10);
        let g = Gcra::new(q).unwrap();
        assert_eq!(g.tau, q.period.as_micros() as u64 - g.t);
        // A limit that does not divide the period: never more than `limit` at once.
        let g = Gcra::new(Quota { limit: 3, period: Duration::from_micros(10) }).unwrap();
        assert_eq!((g.t, g.tau), (3, 6));
        assert_eq!(Gcra::new(Quota::per_minute(0)), None);
        // limit above the period in µs: T is at least 1 µs
        let g = Gcra::new(Quota { limit: 10, period: Duration::ZERO }).unwrap();
        assert_eq!((g.t, g.tau), (1, 9));
    }

    #[tokio::test]
    async fn in_memory_through_the_public_api() {
        let limiter = RateLimiter::in_memory();
        assert_eq!(limiter.backend(), "memory");
        let quota = Quota::per_minute(2);
        let first = limiter.check("key:a", quota).await;
        assert!(first.allowed);
        assert_eq!((first.limit, first.remaining, first.retry_after), (2, 1, None));
        assert!(limiter.check("key:a", quota).await.allowed);
        let refused = limiter.check("key:a", quota).await;
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        let retry = refused.retry_after.expect("refusal carries retry_after");
        assert!(retry > Duration::from_secs(29) && retry <= Duration::from_secs(30), "{retry:?}");
        assert_eq!(limiter.fallbacks(), 0);
        // Clones share state.
        assert!(!limiter.clone().check("key:a", quota).await.allowed);
    }

    #[tokio::test]
    async fn zero_limit_refuses_everything() {
        let limiter = RateLimiter::in_memory();
        let d = limiter.check("key:z", Quota::per_minute(0)).await;
        assert!(!d.allowed);
        assert_eq!((d.limit, d.remaining), (0, 0));
        assert_eq!(d.retry_after, Some(Duration::from_secs(60)));
    }

    #[test]
    fn malformed_redis_url_is_the_only_startup_error() {
        assert!(RateLimiter::with_redis("not a url").is_err());
        // Unreachable but well-formed: fine at startup, nothing connects yet.
        let limiter = RateLimiter::with_redis("redis://127.0.0.1:1").unwrap();
        assert_eq!(limiter.backend(), "redis");
        assert_eq!(limiter.fallbacks(), 0);
    }
}
