//! The shared backend: the same GCRA as [`super::Gcra`] in one Lua script, atomic on Redis and
//! timed by Redis' own clock (`TIME`), so replicas agree whatever their clocks say.
//!
//! State lives in the hash `gatehouse:rl:<bucket>`, one field per quota (`<limit>:<period µs>`)
//! holding the TAT in µs since the Unix epoch; the key expires (`PEXPIRE`, only ever extended)
//! when its last quota's bucket is full again, so idle buckets cost Redis nothing.
//!
//! ## Leases: large quotas are decided without a round trip
//!
//! A round trip per request puts Redis' latency, and its scheduling on a busy host, into every
//! API call. So for a quota of at least 2,000 requests, a replica takes a *lease*: the script
//! grants it up to [`lease_size`] requests at once (0.1% of the quota, at most [`MAX_LEASE`]),
//! advancing the shared TAT for all of them, and the replica then allows that many locally.
//! When a lease falls below half, one background call tops it up while requests go on being
//! decided locally; a lease unused for [`LEASE_IDLE`] goes back to Redis (the TAT moves back),
//! so an idle replica holds nothing. What this costs, and why it is safe:
//! - **never more than the quota**: every request allowed anywhere was granted by the script
//!   first, so the replicas together stay within the shared budget;
//! - **at most 0.1% held back**: near exhaustion, requests another replica has leased and not
//!   used are not available to this one until they go back (≤ [`LEASE_IDLE`] after that replica
//!   goes quiet); a replica that dies loses its lease, at most 0.1% of one period;
//! - **`remaining`** is what Redis had left at the last grant plus this replica's lease.
//!
//! Smaller quotas (the free tier's 1,000 an hour, per-IP sign-in limits) keep one round trip per
//! request and are exact across replicas. `GATEHOUSE_RATE_LIMIT_LEASES=false` makes every quota
//! work that way.
//!
//! ## Degradation
//!
//! The connection is a `MultiplexedConnection` that this module opens itself, lazily, on the
//! first check (so startup never blocks on Redis) and again after any failure. Connecting runs in
//! a background task (one at a time, up to [`CONNECT_TIMEOUT`]); a request waits for it only
//! within its own [`REDIS_TIMEOUT`], so a slow handshake costs that one request a fallback, and
//! when the connection arrives late the back-off is cut short. Every request to Redis — waiting
//! for the connection included — gets [`REDIS_TIMEOUT`]. On an error or a timeout:
//! the request is decided by the in-process store (still limited, per replica), `fallbacks` is
//! incremented, the connection is dropped, and for [`REDIS_BACKOFF`] every request goes straight
//! to the in-process store. Then exactly one request (a compare-and-swap on the back-off deadline)
//! probes Redis while the others keep falling back; its success ends the degradation. The change
//! to degraded is logged once with `warn!`, the recovery once with `info!`. Requests already
//! leased stay allowed while Redis is away: they were granted by it.
//!
//! A plain multiplexed connection rather than `ConnectionManager`: the manager connects in its
//! constructor (or lazily, then with its own retry loop and exponential back-off), whereas here
//! reconnecting must follow the limiter's own timeout and back-off.
use super::{memory::MemoryStore, refuse_all, Decision, Gcra, Quota, REDIS_BACKOFF, REDIS_TIMEOUT};
use redis::{aio::MultiplexedConnection, AsyncConnectionConfig, Client, RedisError, Script};
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex, Weak,
    },
    time::{Duration, Instant},
};
use tokio::sync::Notify;

/// KEYS[i] = `gatehouse:rl:<bucket i>`; ARGV[6i-5..6i] = its field, T (µs), tau (µs), limit,
/// `want` and `need`. Decides every bucket at one instant: when each has at least `need`
/// requests available, each grants `min(want, available)` (a negative `want` gives requests
/// back, never past a full bucket); when any has fewer than `need`, none changes. A request is
/// `need = 1`, a lease top-up `need = 0`. So one round trip checks a request's key and
/// organization limits, and a refused request costs no bucket anything. Returns `{ok (0/1),
/// granted, remaining, reset µs, retry_after µs (-1 when ok)}` per bucket, then Redis' time (µs),
/// with the arithmetic of
/// `Gcra::decide`. Lua numbers are doubles: µs since 1970 (~1.8e15) are exact.
const GCRA_LUA: &str = r#"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local function arg(i, j) return tonumber(ARGV[6 * i - 6 + j]) end
local function credit(i, tat)
  local c = math.floor((now + arg(i, 3) + arg(i, 2) - tat) / arg(i, 2))
  if c < 0 then return 0 end
  if c > arg(i, 4) then return arg(i, 4) end
  return c
end
local tats, available, all_ok, out = {}, {}, true, {}
for i, key in ipairs(KEYS) do
  local tat = tonumber(redis.call('HGET', key, ARGV[6 * i - 5])) or now
  if tat < now then tat = now end
  tats[i] = tat
  available[i] = credit(i, tat)
  if available[i] < arg(i, 6) then all_ok = false end
end
for i, key in ipairs(KEYS) do
  local field, t, tau = ARGV[6 * i - 5], arg(i, 2), arg(i, 3)
  local tat, granted, retry, ok = tats[i], 0, -1, 1
  if available[i] < arg(i, 6) then
    ok, retry = 0, tat - tau - now
  elseif all_ok then
    granted = math.min(arg(i, 5), available[i])
    if granted > 0 then
      tat = tat + granted * t
      redis.call('HSET', key, field, string.format('%.0f', tat))
      local ttl = math.ceil((tat - now) / 1000)
      if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
    elseif granted < 0 then
      tat = math.max(tat + granted * t, now)
      if tat > now then
        redis.call('HSET', key, field, string.format('%.0f', tat))
      else
        redis.call('HDEL', key, field)
      end
    end
  end
  for _, v in ipairs({ok, granted, credit(i, tat), tat - now, retry}) do table.insert(out, v) end
end
table.insert(out, now)
return out
"#;

/// How long a background connection attempt may take (requests never wait this long).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The most requests of one bucket a replica holds at once.
pub const MAX_LEASE: u32 = 1_000;
/// A lease unused this long goes back to Redis.
pub const LEASE_IDLE: Duration = Duration::from_secs(1);

/// How many requests of a quota one replica leases at a time: 0.1% of the quota, at most
/// [`MAX_LEASE`]; 1 (below 2,000) means no lease, a round trip per request.
pub fn lease_size(limit: u32) -> u32 {
    (limit / 1_000).clamp(1, MAX_LEASE)
}

/// Requests of one (bucket, quota) that Redis granted to this replica and it has not used.
struct Lease {
    quota: Quota,
    tokens: u32,
    /// What Redis had left for every replica at the last grant.
    shared_remaining: u32,
    /// Redis' time of that grant (answers may arrive out of order; the latest one counts).
    granted_at: i64,
    /// When (µs since `epoch`) the bucket is full again, as of the last grant.
    full_at: u64,
    last_used: u64,
    /// A call asking Redis for more is in flight (at most one per lease).
    topping_up: bool,
}

impl Lease {
    fn decision(&self, now: u64) -> Decision {
        Decision {
            allowed: true,
            limit: self.quota.limit,
            remaining: self.shared_remaining.saturating_add(self.tokens).min(self.quota.limit),
            reset: Duration::from_micros(self.full_at.saturating_sub(now)),
            retry_after: None,
        }
    }
}

/// The leases of this replica, by bucket name (nearly always one quota per name).
type Leases = HashMap<Box<str>, Vec<Lease>>;

/// One bucket in one script call: what to take (`want`; negative gives back) and what must be
/// available for anything to change (`need`).
struct Ask<'a> {
    bucket: &'a str,
    quota: Quota,
    gcra: Gcra,
    want: i64,
    need: u32,
    /// This call holds the lease's `topping_up` flag and must clear it.
    top_up: bool,
}

/// The script's answer for one bucket.
struct Grant {
    ok: bool,
    granted: i64,
    remaining: u32,
    reset: u64,
    retry_after: Option<u64>,
    /// Redis' time when it decided (µs since 1970).
    at: i64,
}

pub(crate) struct RedisStore {
    shared: Arc<Shared>,
}

/// What background tasks (connecting, topping leases up, giving them back) share with requests.
struct Shared {
    client: Client,
    config: AsyncConnectionConfig,
    script: Script,
    conn: Mutex<Option<MultiplexedConnection>>,
    /// A connect task is running.
    connecting: AtomicBool,
    /// Woken when a connect task ends (either way).
    connect_done: Notify,
    /// Why the last connect failed.
    connect_error: Mutex<String>,
    epoch: Instant,
    degraded: AtomicBool,
    /// While degraded: µs since `epoch` before which Redis is not tried.
    retry_at: AtomicU64,
    fallbacks: AtomicU64,
    /// `false`: a round trip for every request, whatever the quota.
    leasing: bool,
    leases: Mutex<Leases>,
    /// The task giving idle leases back is running.
    sweeping: AtomicBool,
}

impl Shared {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    fn current(&self) -> Option<MultiplexedConnection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn leases(&self) -> std::sync::MutexGuard<'_, Leases> {
        self.leases.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `gcra` is decided from leases.
    fn leases_quota(&self, gcra: &Gcra) -> bool {
        self.leasing && lease_size(gcra.limit) > 1
    }

    /// Records what Redis granted beyond each request (`request`: the asks include one request
    /// being decided) into the leases, ends their top-ups, and returns the request's decisions.
    /// `grants` is `None` when Redis did not answer: the top-ups end with nothing added.
    fn settle(self: &Arc<Self>, asks: &[Ask], grants: Option<&[Grant]>, request: bool) -> Vec<Decision> {
        let now = self.now();
        let all_ok = grants.is_some_and(|grants| grants.iter().all(|g| g.ok));
        let mut leases = self.leases();
        let mut decisions = Vec::with_capacity(asks.len());
        for (i, ask) in asks.iter().enumerate() {
            let grant = grants.map(|grants| &grants[i]);
            let mut remaining = grant.map_or(0, |g| g.remaining);
            if self.leases_quota(&ask.gcra) {
                if let Some(lease) = lease_of(&mut leases, ask.bucket, ask.quota) {
                    if ask.top_up {
                        lease.topping_up = false;
                    }
                    if let (Some(grant), true) = (grant, all_ok) {
                        let extra = grant.granted - i64::from(request);
                        lease.tokens = lease.tokens.saturating_add(u32::try_from(extra).unwrap_or(0));
                        if grant.at >= lease.granted_at {
                            (lease.shared_remaining, lease.granted_at) = (grant.remaining, grant.at);
                            lease.full_at = now + grant.reset;
                        }
                        lease.last_used = now;
                    }
                    remaining = remaining.saturating_add(lease.tokens).min(ask.gcra.limit);
                }
            }
            if let Some(grant) = grant {
                decisions.push(Decision {
                    allowed: grant.ok,
                    limit: ask.gcra.limit,
                    remaining,
                    reset: Duration::from_micros(grant.reset),
                    retry_after: grant.retry_after.map(Duration::from_micros),
                });
            }
        }
        decisions
    }

    /// Starts (once) the task that gives leases unused for [`LEASE_IDLE`] back to Redis. It holds
    /// the store weakly and ends with it.
    fn start_sweeping(self: &Arc<Self>) {
        if self.sweeping.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak: Weak<Shared> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(LEASE_IDLE / 4);
            loop {
                tick.tick().await;
                let Some(shared) = weak.upgrade() else { return };
                give_back_idle(&shared).await;
            }
        });
    }
}

fn lease_of<'a>(leases: &'a mut Leases, bucket: &str, quota: Quota) -> Option<&'a mut Lease> {
    leases.get_mut(bucket)?.iter_mut().find(|l| l.quota == quota)
}

impl RedisStore {
    /// Parses the URL; connects nothing. `leasing`: see the module docs.
    pub(crate) fn new(url: &str, leasing: bool) -> Result<RedisStore, RedisError> {
        let client = Client::open(url)?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT));
        Ok(RedisStore {
            shared: Arc::new(Shared {
                client,
                config,
                script: Script::new(GCRA_LUA),
                conn: Mutex::new(None),
                connecting: AtomicBool::new(false),
                connect_done: Notify::new(),
                connect_error: Mutex::new(String::new()),
                epoch: Instant::now(),
                degraded: AtomicBool::new(false),
                retry_at: AtomicU64::new(0),
                fallbacks: AtomicU64::new(0),
                leasing,
                leases: Mutex::new(HashMap::new()),
                sweeping: AtomicBool::new(false),
            }),
        })
    }

    pub(crate) fn fallbacks(&self) -> u64 {
        self.shared.fallbacks.load(Ordering::Relaxed)
    }

    pub(crate) fn is_degraded(&self) -> bool {
        self.shared.degraded.load(Ordering::Relaxed)
    }

    /// Decides `checks` together: from this replica's leases when every bucket has one, else in
    /// one round trip (see [`GCRA_LUA`]), or in-process while Redis is degraded.
    pub(crate) async fn check_all(&self, checks: &[(&str, Quota)], fallback: &MemoryStore) -> Vec<Decision> {
        let Some(gcras) = checks.iter().map(|(_, quota)| Gcra::new(*quota)).collect::<Option<Vec<_>>>() else {
            // A zero limit refuses without asking anyone.
            return checks.iter().map(|(_, quota)| refuse_all(*quota)).collect();
        };
        let shared = &self.shared;
        if let Some(decisions) = self.decide_from_leases(checks, &gcras) {
            return decisions;
        }
        if self.is_degraded() && !self.claim_probe() {
            shared.fallbacks.fetch_add(1, Ordering::Relaxed);
            return fallback.check_all(checks);
        }
        // One request per lease asks for a full lease; the others only for themselves. Leases
        // are taken only when every bucket of the request has one: a lease that can never be
        // used alone would only hold requests back from the other replicas.
        let leasing = gcras.iter().all(|gcra| shared.leases_quota(gcra));
        let asks: Vec<Ask> = {
            let mut leases = shared.leases();
            checks
                .iter()
                .zip(&gcras)
                .map(|((bucket, quota), gcra)| {
                    let (mut want, mut top_up) = (1, false);
                    if leasing {
                        let lease = match lease_of(&mut leases, bucket, *quota) {
                            Some(lease) => lease,
                            None => {
                                shared.start_sweeping();
                                let list = leases.entry((*bucket).into()).or_default();
                                list.push(Lease {
                                    quota: *quota,
                                    tokens: 0,
                                    shared_remaining: 0,
                                    granted_at: 0,
                                    full_at: 0,
                                    last_used: shared.now(),
                                    topping_up: false,
                                });
                                list.last_mut().expect("just pushed")
                            }
                        };
                        if !lease.topping_up {
                            (lease.topping_up, top_up) = (true, true);
                            want = i64::from(lease_size(gcra.limit).saturating_sub(lease.tokens).max(1));
                        }
                    }
                    Ask { bucket, quota: *quota, gcra: *gcra, want, need: 1, top_up }
                })
                .collect()
        };
        let outcome = eval(shared, &asks).await;
        let grants = outcome.as_deref().ok();
        let decisions = shared.settle(&asks, grants, true);
        match outcome {
            Ok(_) => {
                if shared.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!("rate limiter: Redis answers again; limits are shared across replicas again");
                }
                decisions
            }
            Err(why) => {
                shared.conn.lock().unwrap_or_else(|p| p.into_inner()).take();
                shared.retry_at.store(shared.now() + REDIS_BACKOFF.as_micros() as u64, Ordering::Relaxed);
                if !shared.degraded.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "rate limiter: Redis unavailable ({why}); limiting per process until it answers \
                         (next try in {} ms)",
                        REDIS_BACKOFF.as_millis()
                    );
                } else {
                    tracing::debug!("rate limiter: Redis still unavailable ({why})");
                }
                shared.fallbacks.fetch_add(1, Ordering::Relaxed);
                fallback.check_all(checks)
            }
        }
    }

    /// Takes one request from each bucket's lease when every bucket has a lease with one left;
    /// starts a top-up for those below half.
    fn decide_from_leases(&self, checks: &[(&str, Quota)], gcras: &[Gcra]) -> Option<Vec<Decision>> {
        let shared = &self.shared;
        if !gcras.iter().all(|gcra| shared.leases_quota(gcra)) {
            return None;
        }
        let now = shared.now();
        let mut leases = shared.leases();
        let available = checks
            .iter()
            .all(|(bucket, quota)| lease_of(&mut leases, bucket, *quota).is_some_and(|lease| lease.tokens > 0));
        if !available {
            return None;
        }
        let mut top_up = Vec::new();
        let decisions = checks
            .iter()
            .zip(gcras)
            .map(|((bucket, quota), gcra)| {
                let lease = lease_of(&mut leases, bucket, *quota).expect("checked above");
                lease.tokens -= 1;
                lease.last_used = now;
                let size = lease_size(gcra.limit);
                if lease.tokens < size / 2 && !lease.topping_up {
                    lease.topping_up = true;
                    let want = i64::from(size - lease.tokens);
                    top_up.push(((*bucket).to_owned(), *quota, *gcra, want));
                }
                lease.decision(now)
            })
            .collect();
        drop(leases);
        if !top_up.is_empty() {
            let shared = Arc::clone(shared);
            tokio::spawn(async move {
                let asks: Vec<Ask> = top_up
                    .iter()
                    .map(|(bucket, quota, gcra, want)| Ask {
                        bucket,
                        quota: *quota,
                        gcra: *gcra,
                        want: *want,
                        need: 0,
                        top_up: true,
                    })
                    .collect();
                let outcome = eval(&shared, &asks).await;
                if let Err(why) = &outcome {
                    tracing::debug!("rate limiter: topping up a lease failed: {why}");
                }
                shared.settle(&asks, outcome.as_deref().ok(), false);
            });
        }
        Some(decisions)
    }

    fn claim_probe(&self) -> bool {
        let shared = &self.shared;
        let now = shared.now();
        let at = shared.retry_at.load(Ordering::Relaxed);
        now >= at
            && shared
                .retry_at
                .compare_exchange(at, now + REDIS_BACKOFF.as_micros() as u64, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// Removes the leases unused for [`LEASE_IDLE`] (none with a top-up in flight) and gives their
/// requests back to Redis in one call. A failed call loses them: at most one lease per bucket.
async fn give_back_idle(shared: &Arc<Shared>) {
    let idle_since = shared.now().saturating_sub(LEASE_IDLE.as_micros() as u64);
    let mut returned: Vec<(String, Quota, u32)> = Vec::new();
    shared.leases().retain(|bucket, list| {
        list.retain(|lease| {
            let idle = lease.last_used <= idle_since && !lease.topping_up;
            if idle && lease.tokens > 0 {
                returned.push((bucket.to_string(), lease.quota, lease.tokens));
            }
            !idle
        });
        !list.is_empty()
    });
    let asks: Vec<Ask> = returned
        .iter()
        .filter_map(|(bucket, quota, tokens)| {
            Some(Ask {
                bucket,
                quota: *quota,
                gcra: Gcra::new(*quota)?,
                want: -i64::from(*tokens),
                need: 0,
                top_up: false,
            })
        })
        .collect();
    if asks.is_empty() {
        return;
    }
    if let Err(why) = eval(shared, &asks).await {
        tracing::debug!("rate limiter: giving {} idle leases back failed: {why}", asks.len());
    }
}

/// The open connection, or the outcome of a (background) connect. Cancelled by the caller's
/// timeout, the connect itself carries on and its connection is kept for the next request.
async fn connection(shared: &Arc<Shared>) -> Result<MultiplexedConnection, RedisError> {
    let done = shared.connect_done.notified();
    tokio::pin!(done);
    done.as_mut().enable();
    if let Some(conn) = shared.current() {
        return Ok(conn);
    }
    if !shared.connecting.swap(true, Ordering::AcqRel) {
        // A connect may have finished between the look above and winning the flag.
        if let Some(conn) = shared.current() {
            shared.connecting.store(false, Ordering::Release);
            shared.connect_done.notify_waiters();
            return Ok(conn);
        }
        let shared = Arc::clone(shared);
        tokio::spawn(async move {
            match shared.client.get_multiplexed_async_connection_with_config(&shared.config).await {
                Ok(conn) => {
                    *shared.conn.lock().unwrap_or_else(|p| p.into_inner()) = Some(conn);
                    // Arrived after its request gave up: let the next request try at once.
                    shared.retry_at.store(0, Ordering::Relaxed);
                }
                Err(e) => *shared.connect_error.lock().unwrap_or_else(|p| p.into_inner()) = e.to_string(),
            }
            shared.connecting.store(false, Ordering::Release);
            shared.connect_done.notify_waiters();
        });
    }
    done.await;
    shared.current().ok_or_else(|| {
        let why = shared.connect_error.lock().unwrap_or_else(|p| p.into_inner()).clone();
        RedisError::from((redis::ErrorKind::Io, "could not connect", why))
    })
}

/// Runs [`GCRA_LUA`] once for `asks` within [`REDIS_TIMEOUT`] (waiting for the connection
/// included); the error is why, in words for the log.
async fn eval(shared: &Arc<Shared>, asks: &[Ask<'_>]) -> Result<Vec<Grant>, String> {
    match tokio::time::timeout(REDIS_TIMEOUT, run_script(shared, asks)).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", REDIS_TIMEOUT.as_millis())),
    }
}

async fn run_script(shared: &Arc<Shared>, asks: &[Ask<'_>]) -> Result<Vec<Grant>, RedisError> {
    let mut conn = connection(shared).await?;
    let mut invocation = shared.script.prepare_invoke();
    for ask in asks {
        invocation
            .key(format!("gatehouse:rl:{}", ask.bucket))
            .arg(format!("{}:{}", ask.quota.limit, ask.quota.period.as_micros()))
            .arg(ask.gcra.t)
            .arg(ask.gcra.tau)
            .arg(ask.gcra.limit)
            .arg(ask.want)
            .arg(ask.need);
    }
    let answer: Vec<i64> = invocation.invoke_async(&mut conn).await?;
    let Some((&at, answer)) = answer.split_last().filter(|(_, per_bucket)| per_bucket.len() == 5 * asks.len()) else {
        return Err(RedisError::from((redis::ErrorKind::UnexpectedReturnType, "unexpected rate-limit script answer")));
    };
    let micros = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok(answer
        .chunks(5)
        .zip(asks)
        .map(|(values, ask)| Grant {
            ok: values[0] == 1,
            granted: values[1],
            remaining: u32::try_from(values[2]).unwrap_or(0).min(ask.gcra.limit),
            reset: micros(values[3]),
            retry_after: (values[0] != 1).then(|| micros(values[4])),
            at,
        })
        .collect())
}
