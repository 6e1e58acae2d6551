//! The rate limiter against the real Redis (`GATEHOUSE_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`): GCRA semantics through the Lua script, replicas sharing a budget, and
//! degradation — Redis unreachable, the connection cut mid-test, Redis too slow — through a small
//! TCP proxy. Skipped with a message when Redis is unreachable, except in CI (`CI=true`).
use gatehouse::server::ratelimit::{Decision, Quota, RateLimiter};
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
    task::{JoinHandle, JoinSet},
};

/// The Redis URL when Redis answers; `None` (after saying why) when it does not, outside CI.
pub async fn redis_url() -> Option<String> {
    let url = std::env::var("GATEHOUSE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    match ping(&url).await {
        Ok(()) => Some(url),
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("Redis is required in CI but unreachable at {url}: {why}")
        }
        Err(why) => {
            crate::support::record_skip(&format!("the Redis rate limiter test: {url} unreachable: {why}"));
            None
        }
    }
}

async fn ping(url: &str) -> Result<(), String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let attempt = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    match tokio::time::timeout(Duration::from_secs(3), attempt).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

async fn redis_conn(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap()
}

fn upstream(url: &str) -> SocketAddr {
    let parsed = url::Url::parse(url).unwrap();
    let host = parsed.host_str().unwrap_or("127.0.0.1");
    let port = parsed.port().unwrap_or(6379);
    std::net::ToSocketAddrs::to_socket_addrs(&(host, port)).unwrap().next().unwrap()
}

fn bucket(name: &str) -> String {
    format!("test:{name}:{}", uuid::Uuid::now_v7().simple())
}

async fn allowed_of(limiter: &RateLimiter, bucket: &str, quota: Quota, n: usize) -> usize {
    let mut allowed = 0;
    for _ in 0..n {
        allowed += usize::from(limiter.check(bucket, quota).await.allowed);
    }
    allowed
}

/// A TCP proxy to Redis on a fixed loopback port that can be stopped (listener and every
/// connection closed) and started again on the same port, optionally delaying Redis' answers.
struct Proxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    delay: Duration,
    task: Option<JoinHandle<()>>,
}

impl Proxy {
    async fn start(upstream: SocketAddr, delay: Duration) -> Proxy {
        let mut proxy = Proxy { addr: "127.0.0.1:0".parse().unwrap(), upstream, delay, task: None };
        proxy.listen();
        proxy
    }

    fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    fn listen(&mut self) {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(self.addr).unwrap();
        let listener = socket.listen(64).unwrap();
        self.addr = listener.local_addr().unwrap();
        let (upstream, delay) = (self.upstream, self.delay);
        self.task = Some(tokio::spawn(async move {
            // Dropped with this task, which aborts every connection.
            let mut connections = JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                connections.spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else { return };
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let up = async move {
                        let mut buf = vec![0u8; 16 * 1024];
                        while let Ok(n @ 1..) = client_read.read(&mut buf).await {
                            if server_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    };
                    let down = async move {
                        let mut buf = vec![0u8; 16 * 1024];
                        while let Ok(n @ 1..) = server_read.read(&mut buf).await {
                            tokio::time::sleep(delay).await;
                            if client_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    };
                    tokio::select! { _ = up => {}, _ = down => {} }
                });
            }
        }));
    }

    /// Closes the listener and every proxied connection.
    async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        // Let the aborted connection tasks be dropped (their sockets closed).
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    /// Listens again on the same port.
    fn restart(&mut self) {
        self.listen();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn assert_near(actual: Duration, expected: Duration, slack: Duration) {
    assert!(
        actual <= expected && actual + slack >= expected,
        "expected {expected:?} (at most {slack:?} less), got {actual:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcra_semantics_through_redis() {
    let Some(url) = redis_url().await else { return };
    let limiter = RateLimiter::with_redis(&url).unwrap();
    let b = bucket("semantics");
    let quota = Quota::per_minute(3); // T = 20 s
    for (i, remaining) in [2, 1, 0].into_iter().enumerate() {
        let d = limiter.check(&b, quota).await;
        assert!(d.allowed, "request {i}: {d:?}");
        assert_eq!((d.limit, d.remaining, d.retry_after), (3, remaining, None));
        assert_near(d.reset, Duration::from_secs(20 * (i as u64 + 1)), Duration::from_secs(1));
    }
    let refused = limiter.check(&b, quota).await;
    assert!(!refused.allowed);
    assert_eq!(refused.remaining, 0);
    assert_near(refused.retry_after.unwrap(), Duration::from_secs(20), Duration::from_secs(1));
    assert_near(refused.reset, Duration::from_secs(60), Duration::from_secs(1));
    assert_eq!(limiter.backend(), "redis");
    assert_eq!(limiter.fallbacks(), 0);

    // The state is where it is documented, expiring when the bucket is full again.
    let mut conn = redis_conn(&url).await;
    let key = format!("gatehouse:rl:{b}");
    let pttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await.unwrap();
    assert!(pttl > 55_000 && pttl <= 60_000, "PTTL {pttl}");
    let fields: i64 = redis::cmd("HLEN").arg(&key).query_async(&mut conn).await.unwrap();
    assert_eq!(fields, 1);

    // Other buckets are independent.
    assert!(limiter.check(&bucket("other"), quota).await.allowed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_do_not_consume_through_redis() {
    let Some(url) = redis_url().await else { return };
    let limiter = RateLimiter::with_redis(&url).unwrap();
    let b = bucket("refused");
    let quota = Quota { limit: 2, period: Duration::from_millis(800) }; // T = 400 ms
    assert!(limiter.check(&b, quota).await.allowed);
    assert!(limiter.check(&b, quota).await.allowed);
    let first = limiter.check(&b, quota).await;
    assert!(!first.allowed);
    let wait = first.retry_after.unwrap();
    assert!(wait <= Duration::from_millis(400), "{wait:?}");
    // Hammering while refused does not move the retry point...
    for _ in 0..20 {
        let d = limiter.check(&b, quota).await;
        assert!(!d.allowed);
        assert!(d.retry_after.unwrap() <= wait);
    }
    // ...so right after it, exactly one more is allowed.
    tokio::time::sleep(wait + Duration::from_millis(30)).await;
    let d = limiter.check(&b, quota).await;
    assert!(d.allowed, "{d:?}");
    assert!(!limiter.check(&b, quota).await.allowed);
    assert_eq!(limiter.fallbacks(), 0);
}

/// A key's and its organization's buckets are decided in one script: when either refuses, the
/// request counts in neither; the decisions stop at the refusal. In memory, the buckets before
/// the refusal count (checked in order).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_buckets_at_once() {
    let Some(url) = redis_url().await else { return };
    let (key, org) = (bucket("key"), bucket("org"));
    let (key_quota, org_quota) = (Quota::per_minute(2), Quota::per_minute(1));
    let limiter = RateLimiter::with_redis(&url).unwrap();
    let both = [(key.as_str(), key_quota), (org.as_str(), org_quota)];
    let first = limiter.check_all(&both).await;
    assert_eq!(first.iter().map(|d| (d.allowed, d.remaining)).collect::<Vec<_>>(), [(true, 1), (true, 0)]);
    let second = limiter.check_all(&both).await;
    assert_eq!(second.iter().map(|d| d.allowed).collect::<Vec<_>>(), [true, false], "{second:?}");
    assert_eq!(second[0].remaining, 1, "the key bucket was not charged for the refused request");
    assert!(limiter.check(&key, key_quota).await.allowed, "so one more fits the key's own quota");
    assert!(!limiter.check(&key, key_quota).await.allowed);
    // Refused first: the decisions end there.
    let refused = limiter.check_all(&[(key.as_str(), key_quota), (bucket("fresh").as_str(), org_quota)]).await;
    assert_eq!(refused.len(), 1);
    assert_eq!(limiter.fallbacks(), 0);

    let memory = RateLimiter::in_memory();
    assert!(memory.check_all(&both).await.iter().all(|d| d.allowed));
    let second = memory.check_all(&both).await;
    assert_eq!(second.iter().map(|d| (d.allowed, d.remaining)).collect::<Vec<_>>(), [(true, 0), (false, 0)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_quotas_on_one_bucket_are_independent_through_redis() {
    let Some(url) = redis_url().await else { return };
    let limiter = RateLimiter::with_redis(&url).unwrap();
    let b = bucket("quotas");
    let minute = Quota::per_minute(2);
    let hour = Quota::per_hour(3);
    assert_eq!(allowed_of(&limiter, &b, minute, 4).await, 2);
    let d = limiter.check(&b, hour).await;
    assert_eq!((d.allowed, d.limit, d.remaining), (true, 3, 2));
    assert_eq!(allowed_of(&limiter, &b, hour, 4).await, 2);
    assert!(!limiter.check(&b, minute).await.allowed);
    let mut conn = redis_conn(&url).await;
    let fields: i64 = redis::cmd("HLEN").arg(format!("gatehouse:rl:{b}")).query_async(&mut conn).await.unwrap();
    assert_eq!(fields, 2);
    // The key lives as long as its longest-lived quota needs it (the hourly one: 3 × 20 min).
    let pttl: i64 = redis::cmd("PTTL").arg(format!("gatehouse:rl:{b}")).query_async(&mut conn).await.unwrap();
    assert!(pttl > 3_500_000, "PTTL {pttl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_and_memory_decide_alike() {
    let Some(url) = redis_url().await else { return };
    let shared = RateLimiter::with_redis(&url).unwrap();
    let local = RateLimiter::in_memory();
    let b = bucket("alike");
    let quota = Quota::per_hour(5);
    let summary =
        |d: Decision| (d.allowed, d.limit, d.remaining, d.retry_after.is_some(), (d.reset.as_secs() + 30) / 60);
    for _ in 0..8 {
        let (r, m) = (shared.check(&b, quota).await, local.check(&b, quota).await);
        assert_eq!(summary(r), summary(m), "redis {r:?} vs memory {m:?}");
    }
    assert_eq!(shared.fallbacks(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_one_budget() {
    let Some(url) = redis_url().await else { return };
    let a = RateLimiter::with_redis(&url).unwrap();
    let b = RateLimiter::with_redis(&url).unwrap();
    let name = bucket("replicas");
    let quota = Quota::per_minute(4);
    assert_eq!(a.check(&name, quota).await.remaining, 3);
    assert_eq!(b.check(&name, quota).await.remaining, 2);
    let mut allowed = 2;
    for i in 0..6 {
        let limiter = if i % 2 == 0 { &a } else { &b };
        allowed += usize::from(limiter.check(&name, quota).await.allowed);
    }
    assert_eq!(allowed, 4, "two replicas together get one budget");
    assert_eq!((a.backend(), b.backend()), ("redis", "redis"));
    assert_eq!(a.fallbacks() + b.fallbacks(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_redis_falls_back_to_a_per_process_limit() {
    // Needs no Redis: nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let limiter = RateLimiter::with_redis(&format!("redis://127.0.0.1:{port}")).unwrap();
    let quota = Quota::per_minute(3);
    let b = bucket("unreachable");
    assert_eq!(allowed_of(&limiter, &b, quota, 5).await, 3, "still limited, never unlimited");
    let refused = limiter.check(&b, quota).await;
    assert!(!refused.allowed);
    assert!(refused.retry_after.is_some());
    assert_eq!(limiter.fallbacks(), 6, "every check was decided in-process");
    assert_eq!(limiter.backend(), "redis-fallback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_connection_falls_back_then_recovers() {
    let Some(url) = redis_url().await else { return };
    let mut proxy = Proxy::start(upstream(&url), Duration::ZERO).await;
    let limiter = RateLimiter::with_redis(&proxy.url()).unwrap();
    let shared = bucket("broken-shared");
    let quota = Quota::per_minute(5);
    assert_eq!(limiter.check(&shared, quota).await.remaining, 4);
    assert_eq!(limiter.check(&shared, quota).await.remaining, 3);
    assert_eq!((limiter.backend(), limiter.fallbacks()), ("redis", 0));

    proxy.stop().await;
    let during = bucket("broken-during");
    let small = Quota::per_minute(3);
    let started = Instant::now();
    assert_eq!(allowed_of(&limiter, &during, small, 10).await, 3, "limited per process, never unlimited");
    assert!(started.elapsed() < Duration::from_secs(2), "ten checks took {:?}", started.elapsed());
    assert_eq!(limiter.backend(), "redis-fallback");
    assert!(limiter.fallbacks() >= 10, "fallbacks {}", limiter.fallbacks());

    proxy.restart();
    let deadline = Instant::now() + Duration::from_secs(5);
    while limiter.backend() != "redis" {
        assert!(Instant::now() < deadline, "still {} after 5 s", limiter.backend());
        let d = limiter.check(&bucket("probe"), quota).await;
        assert!(d.allowed);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Back on Redis, with the state Redis kept: two of five were used before the break.
    assert_eq!(limiter.check(&shared, quota).await.remaining, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_redis_falls_back_instead_of_waiting() {
    let Some(url) = redis_url().await else { return };
    let proxy = Proxy::start(upstream(&url), Duration::from_millis(200)).await;
    let limiter = RateLimiter::with_redis(&proxy.url()).unwrap();
    let b = bucket("slow");
    let quota = Quota::per_minute(2);
    let started = Instant::now();
    let first = limiter.check(&b, quota).await;
    let took = started.elapsed();
    assert!(first.allowed);
    assert!(took < Duration::from_millis(200), "waited {took:?} for a Redis that answers after 200 ms");
    assert_eq!(limiter.backend(), "redis-fallback");
    assert_eq!(limiter.fallbacks(), 1);
    // Still limited, per process.
    assert_eq!(allowed_of(&limiter, &b, quota, 3).await, 1);
    assert!(limiter.fallbacks() >= 4);
}

/// A quota no test outlives: 5,000 requests per 1,000 hours, so nothing refills while it runs;
/// leased in slices of 5.
fn leased_quota() -> Quota {
    Quota { limit: 5_000, period: Duration::from_secs(3_600_000) }
}

async fn stored_tat(url: &str, bucket: &str, quota: Quota) -> Option<String> {
    let field = format!("{}:{}", quota.limit, quota.period.as_micros());
    redis::cmd("HGET")
        .arg(format!("gatehouse:rl:{bucket}"))
        .arg(field)
        .query_async(&mut redis_conn(url).await)
        .await
        .unwrap()
}

/// Large quotas are leased: the first request takes a slice of 5 from Redis, the next four are
/// decided without touching Redis, and `remaining` still counts down one by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_quotas_are_leased_in_slices() {
    let Some(url) = redis_url().await else { return };
    let quota = leased_quota();
    assert_eq!(gatehouse::server::ratelimit::redis_backend::lease_size(quota.limit), 5);
    let limiter = RateLimiter::with_redis(&url).unwrap();
    let b = bucket("leased");
    let first = limiter.check(&b, quota).await;
    assert_eq!((first.allowed, first.remaining), (true, 4_999));
    let after_first = stored_tat(&url, &b, quota).await.expect("the slice is recorded in Redis");
    for remaining in [4_998, 4_997] {
        assert_eq!(limiter.check(&b, quota).await.remaining, remaining);
    }
    assert_eq!(stored_tat(&url, &b, quota).await.as_ref(), Some(&after_first), "decided from the lease");
    // Below half a slice, one background call tops the lease up while requests go on; once it
    // has landed the count is exact again.
    for _ in 0..20 {
        assert!(limiter.check(&b, quota).await.allowed);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(limiter.check(&b, quota).await.remaining, 4_976);
    assert_eq!(limiter.fallbacks(), 0);
    // The per-request limiter asks Redis every time.
    let exact = RateLimiter::with_redis_per_request(&url).unwrap();
    let b = bucket("per-request");
    for _ in 0..3 {
        let before = stored_tat(&url, &b, quota).await;
        assert!(exact.check(&b, quota).await.allowed);
        assert_ne!(stored_tat(&url, &b, quota).await, before);
    }
}

/// Leases never let replicas exceed the shared budget: two replicas drawing alternately from one
/// bucket get exactly the quota between them, then both refuse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leased_replicas_never_exceed_the_quota() {
    let Some(url) = redis_url().await else { return };
    let quota = leased_quota();
    let replicas = [RateLimiter::with_redis(&url).unwrap(), RateLimiter::with_redis(&url).unwrap()];
    let name = bucket("leased-replicas");
    let mut allowed = 0;
    for i in 0..(quota.limit as usize + 40) {
        allowed += u32::from(replicas[i % 2].check(&name, quota).await.allowed);
    }
    // Top-ups still in flight land; then each replica uses what it holds, and no more.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for replica in &replicas {
        allowed += allowed_of(replica, &name, quota, 20).await as u32;
        assert!(!replica.check(&name, quota).await.allowed);
        assert_eq!(replica.fallbacks(), 0);
    }
    assert_eq!(allowed, quota.limit, "two leasing replicas together get exactly one budget");
}

/// Requests a bucket has used in Redis' own count: the TAT's distance from Redis' clock in
/// emission intervals, rounded up.
async fn used_in_redis(url: &str, bucket: &str, quota: Quota) -> i64 {
    let Some(tat) = stored_tat(url, bucket, quota).await else { return 0 };
    let (seconds, micros): (i64, i64) = redis::cmd("TIME").query_async(&mut redis_conn(url).await).await.unwrap();
    let t = (quota.period.as_micros() / u128::from(quota.limit)) as i64;
    let ahead = tat.parse::<i64>().unwrap() - (seconds * 1_000_000 + micros);
    (ahead.max(0) + t - 1) / t
}

/// A lease unused for a second goes back to Redis, so other replicas can use all of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_leases_go_back_to_redis() {
    let Some(url) = redis_url().await else { return };
    let quota = leased_quota();
    let (a, b) = (RateLimiter::with_redis(&url).unwrap(), RateLimiter::with_redis(&url).unwrap());
    let name = bucket("leased-idle");
    assert_eq!(a.check(&name, quota).await.remaining, 4_999);
    // b counts a's whole slice as used: 10 taken in Redis, 4 of them b's own lease.
    assert_eq!(b.check(&name, quota).await.remaining, 4_990 + 4);
    assert_eq!(used_in_redis(&url, &name, quota).await, 10);
    let deadline = Instant::now() + Duration::from_secs(5);
    while used_in_redis(&url, &name, quota).await > 2 {
        assert!(Instant::now() < deadline, "leases still held after 5 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(used_in_redis(&url, &name, quota).await, 2, "the two requests made stay counted");
    // Back in use, a leases afresh and counts from Redis' state.
    assert_eq!(a.check(&name, quota).await.remaining, 4_997);
}
