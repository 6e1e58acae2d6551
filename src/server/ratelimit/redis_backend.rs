//! The shared backend: the same GCRA as [`super::Gcra`] in one Lua script, atomic on Redis and
//! timed by Redis' own clock (`TIME`), so replicas agree whatever their clocks say.
//!
//! State lives in the hash `gatehouse:rl:<bucket>`, one field per quota (`<limit>:<period µs>`)
//! holding the TAT in µs since the Unix epoch; the key expires (`PEXPIRE`, only ever extended)
//! when its last quota's bucket is full again, so idle buckets cost Redis nothing.
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
//! to degraded is logged once with `warn!`, the recovery once with `info!`.
//!
//! A plain multiplexed connection rather than `ConnectionManager`: the manager connects in its
//! constructor (or lazily, then with its own retry loop and exponential back-off), whereas here
//! reconnecting must follow the limiter's own timeout and back-off.
use super::{memory::MemoryStore, refuse_all, Decision, Gcra, Quota, REDIS_BACKOFF, REDIS_TIMEOUT};
use redis::{aio::MultiplexedConnection, AsyncConnectionConfig, Client, RedisError, Script};
use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};
use tokio::sync::Notify;

/// KEYS[i] = `gatehouse:rl:<bucket i>`; ARGV[4i-3..4i] = its field, T (µs), tau (µs), limit.
/// Decides every bucket at one instant and consumes from all of them only when all allow, so one
/// round trip checks a request's key and organization limits, and a refused request costs no
/// bucket anything. Returns `{allowed (0/1), remaining, reset µs, retry_after µs (-1 when
/// allowed)}` per bucket, the same arithmetic as `Gcra::decide`. Lua numbers are doubles: µs
/// since 1970 (~1.8e15) are exact.
const GCRA_LUA: &str = r#"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tats, all_allowed, out = {}, true, {}
for i, key in ipairs(KEYS) do
  local tat = tonumber(redis.call('HGET', key, ARGV[4 * i - 3])) or now
  if tat < now then tat = now end
  tats[i] = tat
  if now < tat - tonumber(ARGV[4 * i - 1]) then all_allowed = false end
end
for i, key in ipairs(KEYS) do
  local field, t, tau, limit = ARGV[4 * i - 3], tonumber(ARGV[4 * i - 2]), tonumber(ARGV[4 * i - 1]), tonumber(ARGV[4 * i])
  local tat = tats[i]
  local allow_at = tat - tau
  local allowed, retry = 0, -1
  if now < allow_at then
    retry = allow_at - now
  else
    allowed = 1
    if all_allowed then
      tat = tat + t
      redis.call('HSET', key, field, string.format('%.0f', tat))
      local ttl = math.ceil((tat - now) / 1000)
      if redis.call('PTTL', key) < ttl then
        redis.call('PEXPIRE', key, ttl)
      end
    end
  end
  local remaining = math.floor((now + tau + t - tat) / t)
  if remaining < 0 then remaining = 0 end
  if remaining > limit then remaining = limit end
  for _, v in ipairs({allowed, remaining, tat - now, retry}) do table.insert(out, v) end
end
return out
"#;

/// How long a background connection attempt may take (requests never wait this long).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

pub(crate) struct RedisStore {
    script: Script,
    shared: Arc<Shared>,
}

/// What the background connect task shares with requests.
struct Shared {
    client: Client,
    config: AsyncConnectionConfig,
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
}

impl Shared {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    fn current(&self) -> Option<MultiplexedConnection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl RedisStore {
    /// Parses the URL; connects nothing.
    pub(crate) fn new(url: &str) -> Result<RedisStore, RedisError> {
        let client = Client::open(url)?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT));
        Ok(RedisStore {
            script: Script::new(GCRA_LUA),
            shared: Arc::new(Shared {
                client,
                config,
                conn: Mutex::new(None),
                connecting: AtomicBool::new(false),
                connect_done: Notify::new(),
                connect_error: Mutex::new(String::new()),
                epoch: Instant::now(),
                degraded: AtomicBool::new(false),
                retry_at: AtomicU64::new(0),
                fallbacks: AtomicU64::new(0),
            }),
        })
    }

    pub(crate) fn fallbacks(&self) -> u64 {
        self.shared.fallbacks.load(Ordering::Relaxed)
    }

    pub(crate) fn is_degraded(&self) -> bool {
        self.shared.degraded.load(Ordering::Relaxed)
    }

    /// Decides `checks` together in one round trip (see [`GCRA_LUA`]), or in-process while
    /// Redis is degraded.
    pub(crate) async fn check_all(&self, checks: &[(&str, Quota)], fallback: &MemoryStore) -> Vec<Decision> {
        let Some(gcras) = checks.iter().map(|(_, quota)| Gcra::new(*quota)).collect::<Option<Vec<_>>>() else {
            // A zero limit refuses without asking anyone.
            return checks.iter().map(|(_, quota)| refuse_all(*quota)).collect();
        };
        let shared = &self.shared;
        if self.is_degraded() && !self.claim_probe() {
            shared.fallbacks.fetch_add(1, Ordering::Relaxed);
            return fallback.check_all(checks);
        }
        let outcome = match tokio::time::timeout(REDIS_TIMEOUT, self.eval(checks, &gcras)).await {
            Ok(Ok(decisions)) => Ok(decisions),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} ms", REDIS_TIMEOUT.as_millis())),
        };
        match outcome {
            Ok(decisions) => {
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

    /// The open connection, or the outcome of a (background) connect. Cancelled by the caller's
    /// timeout, the connect itself carries on and its connection is kept for the next request.
    async fn connection(&self) -> Result<MultiplexedConnection, RedisError> {
        let shared = &self.shared;
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

    async fn eval(&self, checks: &[(&str, Quota)], gcras: &[Gcra]) -> Result<Vec<Decision>, RedisError> {
        let mut conn = self.connection().await?;
        let mut invocation = self.script.prepare_invoke();
        for ((bucket, quota), gcra) in checks.iter().zip(gcras) {
            invocation
                .key(format!("gatehouse:rl:{bucket}"))
                .arg(format!("{}:{}", quota.limit, quota.period.as_micros()))
                .arg(gcra.t)
                .arg(gcra.tau)
                .arg(gcra.limit);
        }
        let answer: Vec<i64> = invocation.invoke_async(&mut conn).await?;
        if answer.len() != 4 * gcras.len() {
            return Err(RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "unexpected rate-limit script answer",
            )));
        }
        let micros = |v: i64| Duration::from_micros(u64::try_from(v).unwrap_or(0));
        Ok(answer
            .chunks(4)
            .zip(gcras)
            .map(|(values, gcra)| Decision {
                allowed: values[0] == 1,
                limit: gcra.limit,
                remaining: u32::try_from(values[1]).unwrap_or(0).min(gcra.limit),
                reset: micros(values[2]),
                retry_after: (values[0] != 1).then(|| micros(values[3])),
            })
            .collect())
    }
}
