//! The in-process backend: GCRA state per (bucket, quota) in a sharded map.
//!
//! ## Why not `governor`
//!
//! `governor` 0.10 was the first choice and was tried on paper against what [`super::Decision`]
//! needs; it falls short in three places:
//!
//! - **`reset` cannot be reported exactly.** On an allowed request its `StateSnapshot` exposes only
//!   `remaining_burst_capacity()`; the TAT is crate-private. `reset` could only be estimated from
//!   `remaining`, off by up to one emission interval (6 minutes for `per_hour(10)`), and would then
//!   differ from the Redis backend, which returns it exactly.
//! - **One limiter per quota.** A governor limiter has one fixed quota, so varying quotas mean a
//!   second map (quota → limiter) in front of every check, plus a `retain_recent()` sweep for each.
//! - **Keys are owned.** `check_key(&K)` with `K = String` needs a `String` per check even for a
//!   bucket that exists, where a `HashMap<Box<str>, _>` is looked up with the borrowed `&str`.
//!
//! The algorithm itself is a dozen lines ([`super::Gcra::decide`]) and is shared, digit for digit,
//! with the Redis Lua script, so both backends give identical answers; and a plain `now`
//! argument makes the semantics testable without sleeping.
//!
//! ## Layout and cost
//!
//! [`SHARDS`] mutex-protected `HashMap`s, chosen by a hash of the bucket name, each padded to its
//! own cache lines: two requests only contend when their buckets share a shard. A check is one
//! clock read, two SipHashes of the name, one uncontended lock and one map lookup; a new bucket
//! allocates its name once, an existing one allocates nothing.
//!
//! Memory stays bounded: a bucket whose TAT has passed is full, i.e. indistinguishable from an
//! absent one, so each shard drops such entries every [`SWEEP_EVERY`] (checked on access, so no
//! background task is needed and the store works outside a runtime).
use super::{refuse_all, Decision, Gcra, Quota};
use std::{
    collections::HashMap,
    hash::{BuildHasher, RandomState},
    sync::Mutex,
    time::{Duration, Instant},
};

/// Number of shards (a power of two).
pub const SHARDS: usize = 64;
/// How often each shard forgets full buckets.
pub const SWEEP_EVERY: Duration = Duration::from_secs(10);

pub(crate) struct MemoryStore {
    epoch: Instant,
    /// Picks the shard; independent of the maps' own hasher so a shard's keys are not clustered
    /// inside its map.
    shard_hasher: RandomState,
    shards: Box<[Shard]>,
}

/// One shard, on its own cache lines (no false sharing between neighbouring locks).
#[repr(align(128))]
struct Shard(Mutex<ShardState>);

struct ShardState {
    buckets: HashMap<Box<str>, Entry>,
    /// When (µs since `epoch`) to next drop full buckets.
    next_sweep: u64,
}

/// The states of one bucket name: nearly always one quota, so the first is inline.
struct Entry {
    first: Slot,
    more: Vec<Slot>,
}

#[derive(Clone, Copy)]
struct Slot {
    quota: Quota,
    /// Theoretical arrival time, µs since the store's epoch.
    tat: u64,
}

impl Entry {
    fn slot(&mut self, quota: Quota) -> Option<&mut Slot> {
        if self.first.quota == quota {
            return Some(&mut self.first);
        }
        self.more.iter_mut().find(|s| s.quota == quota)
    }

    /// Drops full slots; false when nothing is left.
    fn retain_live(&mut self, now: u64) -> bool {
        self.more.retain(|s| s.tat > now);
        if self.first.tat <= now {
            match self.more.pop() {
                Some(slot) => self.first = slot,
                None => return false,
            }
        }
        true
    }
}

impl MemoryStore {
    pub(crate) fn new() -> MemoryStore {
        let sweep = SWEEP_EVERY.as_micros() as u64;
        let shards =
            (0..SHARDS).map(|_| Shard(Mutex::new(ShardState { buckets: HashMap::new(), next_sweep: sweep }))).collect();
        MemoryStore { epoch: Instant::now(), shard_hasher: RandomState::new(), shards }
    }

    pub(crate) fn check(&self, bucket: &str, quota: Quota) -> Decision {
        // +1: a TAT of exactly `now` must stay distinguishable from the start of the epoch.
        let now = self.epoch.elapsed().as_micros() as u64 + 1;
        self.check_at(bucket, quota, now)
    }

    /// Checks in order and stops at the first refusal, which is the last decision returned (the
    /// buckets before it have been counted; the Redis backend counts none of a refused request).
    pub(crate) fn check_all(&self, checks: &[(&str, Quota)]) -> Vec<Decision> {
        let mut decisions = Vec::with_capacity(checks.len());
        for (bucket, quota) in checks {
            let decision = self.check(bucket, *quota);
            decisions.push(decision);
            if !decision.allowed {
                break;
            }
        }
        decisions
    }

    /// [`check`](Self::check) at a given time (µs since the store's epoch; must not go backwards
    /// by more than the caller can tolerate: an earlier `now` only ever refuses more).
    pub(crate) fn check_at(&self, bucket: &str, quota: Quota, now: u64) -> Decision {
        let Some(gcra) = Gcra::new(quota) else { return refuse_all(quota) };
        let shard = (self.shard_hasher.hash_one(bucket) as usize) & (SHARDS - 1);
        // A poisoned lock only means another thread panicked mid-check; the map is still valid.
        let mut state = self.shards[shard].0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if now >= state.next_sweep {
            state.buckets.retain(|_, entry| entry.retain_live(now));
            state.next_sweep = now + SWEEP_EVERY.as_micros() as u64;
        }
        match state.buckets.get_mut(bucket) {
            Some(entry) => match entry.slot(quota) {
                Some(slot) => {
                    let (decision, tat) = gcra.decide(Some(slot.tat), now);
                    if let Some(tat) = tat {
                        slot.tat = tat;
                    }
                    decision
                }
                None => {
                    let (decision, tat) = gcra.decide(None, now);
                    if let Some(tat) = tat {
                        entry.more.push(Slot { quota, tat });
                    }
                    decision
                }
            },
            None => {
                let (decision, tat) = gcra.decide(None, now);
                if let Some(tat) = tat {
                    state.buckets.insert(bucket.into(), Entry { first: Slot { quota, tat }, more: Vec::new() });
                }
                decision
            }
        }
    }

    /// Buckets currently held (full ones may linger until their shard's next sweep).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards.iter().map(|s| s.0.lock().unwrap().buckets.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000;

    fn q(limit: u32, secs: u64) -> Quota {
        Quota { limit, period: Duration::from_secs(secs) }
    }

    #[test]
    fn exactly_limit_at_once_then_refused_with_remaining_counting_down() {
        let store = MemoryStore::new();
        let quota = q(5, 60);
        let now = 1_000 * SEC;
        for expected_remaining in (0..5).rev() {
            let d = store.check_at("key:a", quota, now);
            assert!(d.allowed);
            assert_eq!(d.limit, 5);
            assert_eq!(d.remaining, expected_remaining);
            assert_eq!(d.retry_after, None);
            // reset: one emission interval (12 s) per request used
            assert_eq!(d.reset, Duration::from_secs(12 * (5 - u64::from(expected_remaining))));
        }
        let refused = store.check_at("key:a", quota, now);
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert_eq!(refused.retry_after, Some(Duration::from_secs(12)));
        assert_eq!(refused.reset, Duration::from_secs(60));
    }

    #[test]
    fn retry_after_is_one_emission_interval_and_is_exact() {
        let store = MemoryStore::new();
        let quota = q(3, 60); // T = 20 s
        let t0 = 50 * SEC;
        for _ in 0..3 {
            assert!(store.check_at("b", quota, t0).allowed);
        }
        let refused = store.check_at("b", quota, t0 + 5 * SEC);
        assert_eq!(refused.retry_after, Some(Duration::from_secs(15)));
        // one microsecond early: still refused; on time: allowed, and only one.
        assert!(!store.check_at("b", quota, t0 + 20 * SEC - 1).allowed);
        let d = store.check_at("b", quota, t0 + 20 * SEC);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        assert!(!store.check_at("b", quota, t0 + 20 * SEC).allowed);
    }

    #[test]
    fn refused_requests_do_not_consume() {
        let store = MemoryStore::new();
        let quota = q(2, 10); // T = 5 s
        let t0 = 10 * SEC;
        assert!(store.check_at("b", quota, t0).allowed);
        assert!(store.check_at("b", quota, t0).allowed);
        for i in 0..100 {
            let d = store.check_at("b", quota, t0 + i * 10_000);
            assert!(!d.allowed);
            // the retry point does not move however often it is hammered
            assert_eq!(d.retry_after, Some(Duration::from_micros(5 * SEC - i * 10_000)));
        }
        assert!(store.check_at("b", quota, t0 + 5 * SEC).allowed);
    }

    #[test]
    fn refills_at_one_per_interval_up_to_the_limit() {
        let store = MemoryStore::new();
        let quota = q(4, 40); // T = 10 s
        let t0 = 100 * SEC;
        for _ in 0..4 {
            assert!(store.check_at("b", quota, t0).allowed);
        }
        // 25 s later: two intervals have passed → two allowed (remaining 1 then 0), third refused.
        let d = store.check_at("b", quota, t0 + 25 * SEC);
        assert!(d.allowed);
        assert_eq!(d.remaining, 1);
        assert!(store.check_at("b", quota, t0 + 25 * SEC).allowed);
        assert!(!store.check_at("b", quota, t0 + 25 * SEC).allowed);
        // A long idle time refills to exactly the limit, not more.
        let d = store.check_at("b", quota, t0 + 1_000 * SEC);
        assert!(d.allowed);
        assert_eq!(d.remaining, 3);
        assert_eq!(d.reset, Duration::from_secs(10));
    }

    #[test]
    fn buckets_are_independent() {
        let store = MemoryStore::new();
        let quota = q(1, 60);
        let now = SEC;
        assert!(store.check_at("key:1", quota, now).allowed);
        assert!(!store.check_at("key:1", quota, now).allowed);
        assert!(store.check_at("key:2", quota, now).allowed);
        assert!(store.check_at("org:1", quota, now).allowed);
        assert!(!store.check_at("key:2", quota, now).allowed);
    }

    /// The documented behaviour: one name under two quotas is two independent budgets; neither
    /// quota ever lets through more than its own limit, nor refuses because of the other.
    #[test]
    fn different_quotas_on_one_bucket_name_are_independent() {
        let store = MemoryStore::new();
        let minute = q(2, 60);
        let hour = q(3, 3600);
        let now = SEC;
        assert!(store.check_at("org:1", minute, now).allowed);
        assert!(store.check_at("org:1", minute, now).allowed);
        assert!(!store.check_at("org:1", minute, now).allowed);
        // The hourly budget is untouched by the per-minute one...
        for remaining in (0..3).rev() {
            let d = store.check_at("org:1", hour, now);
            assert!(d.allowed);
            assert_eq!((d.limit, d.remaining), (3, remaining));
        }
        assert!(!store.check_at("org:1", hour, now).allowed);
        // ...and the per-minute one refills on its own schedule (T = 30 s), while the hourly one
        // (T = 1200 s) is still empty.
        assert!(store.check_at("org:1", minute, now + 30 * SEC).allowed);
        assert!(!store.check_at("org:1", hour, now + 30 * SEC).allowed);
        // A third quota on the same name (stored out of line) works the same.
        let second = Quota { limit: 1, period: Duration::from_secs(1) };
        assert!(store.check_at("org:1", second, now).allowed);
        assert!(!store.check_at("org:1", second, now).allowed);
        assert!(store.check_at("org:1", second, now + SEC).allowed);
    }

    #[test]
    fn full_buckets_are_swept() {
        let store = MemoryStore::new();
        let quota = q(10, 1); // T = 100 ms
        let now = SEC;
        for i in 0..1_000 {
            assert!(store.check_at(&format!("ip:{i}"), quota, now).allowed);
        }
        let long = q(1, 3600);
        assert!(store.check_at("key:kept", long, now).allowed);
        assert_eq!(store.len(), 1_001);
        // After the sweep interval every shard sweeps on its next access.
        let later = now + SWEEP_EVERY.as_micros() as u64 + SEC;
        for i in 0..1_000 {
            store.check_at(&format!("other:{i}"), q(1, 1), later);
        }
        // The new buckets (each just used once) remain, the old full ones are gone, the hourly one
        // is still refused.
        assert_eq!(store.len(), 1_001);
        assert!(!store.check_at("key:kept", long, later).allowed);
    }

    #[test]
    fn many_threads_never_exceed_the_limit() {
        let store = std::sync::Arc::new(MemoryStore::new());
        let quota = q(1_000, 3600);
        let allowed: u32 = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let store = store.clone();
                    s.spawn(move || (0..600).filter(|_| store.check("hot", quota).allowed).count() as u32)
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(allowed, 1_000);
    }
}
