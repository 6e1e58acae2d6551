//! `make bench`: API-key-authenticated reads under load, measured by `hey` (a separate process) on
//! loopback only, beside a bare axum handler serving the same JSON in the same process:
//! - throughput: fixed concurrency for a fixed time → requests/s and its ratio to the baseline
//!   (target ≥ 0.5×), the median of three runs interleaved with the other scenarios;
//! - steady load: 1,000 requests/s → p50/p99 (target p99 < 10 ms);
//! - the same with rate-limit counters in Redis (target: < 1 ms added at p99), as served (large
//!   quotas leased, see `ratelimit::redis_backend`) and with `GATEHOUSE_RATE_LIMIT_LEASES=false`
//!   (a Redis round trip per request).
//!
//! Every run is bounded: `DURATION` per scenario, loopback addresses only.
mod support;

use gatehouse::server::{self, config::Config};
use reqwest::Client;
use serde_json::{json, Value};
use std::{process::Command, time::Duration};

const DURATION: &str = "4s";
const ROUNDS: usize = 3;
const CONCURRENCY: &str = "32";
/// `hey -q` is per worker: 10 workers × 100/s = 1,000 requests/s.
const STEADY_WORKERS: &str = "10";
const STEADY_PER_WORKER: &str = "100";

fn main() {
    if Command::new("hey").arg("-h").output().is_err() {
        eprintln!("`hey` is missing: `make bench` installs it (apt-get install -y hey)");
        std::process::exit(1);
    }
    // The servers get their own runtime; `hey` runs as its own process.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("bench.db").display());
    let (memory, redis, per_request, baseline, key, org_path) = runtime.block_on(async {
        let memory = start(&database, None, true).await;
        let base = format!("http://{}", memory.addr);
        let (key, org, body) = seed(&base).await;
        let redis_url = std::env::var("GATEHOUSE_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let redis = start(&database, Some(redis_url.clone()), true).await;
        let per_request = start(&database, Some(redis_url), false).await;
        (memory, redis, per_request, baseline_server(body).await, key, format!("/api/v1/organizations/{org}"))
    });
    let header = format!("Authorization: Bearer {key}");
    let memory_url = format!("http://{}{org_path}", memory.addr);
    let scenarios = [
        ("baseline: bare axum, same JSON", baseline.clone(), None),
        ("API key, in-memory limits", memory_url.clone(), Some(header.as_str())),
        // hey asks for gzip like most clients; this row shows what compressing the answer costs.
        ("API key, in-memory, no gzip", memory_url, Some(header.as_str())),
        ("API key, Redis limits (leased)", format!("http://{}{org_path}", redis.addr), Some(header.as_str())),
        ("API key, Redis, per request", format!("http://{}{org_path}", per_request.addr), Some(header.as_str())),
    ];
    // Two cores serve both hey and the servers, so single runs swing by a third: each scenario
    // runs ROUNDS times, interleaved with the others, and the medians are compared.
    let mut runs: Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> = vec![Default::default(); scenarios.len()];
    for _ in 0..ROUNDS {
        for ((name, url, auth), (rps, p50, p99)) in scenarios.iter().zip(runs.iter_mut()) {
            let gzip = if name.contains("no gzip") { "-disable-compression" } else { "-disable-keepalive=false" };
            rps.push(hey(url, *auth, &["-c", CONCURRENCY, "-z", DURATION, gzip]).rps);
            let steady = hey(url, *auth, &["-c", STEADY_WORKERS, "-q", STEADY_PER_WORKER, "-z", DURATION, gzip]);
            p50.push(steady.p50 * 1000.0);
            p99.push(steady.p99 * 1000.0);
        }
    }
    println!("\nmedians of {ROUNDS} interleaved runs of {DURATION} each");
    println!("{:<34} {:>10} {:>8} | steady 1,000/s: {:>8} {:>8}", "scenario", "req/s", "ratio", "p50 ms", "p99 ms");
    let medians: Vec<(f64, f64, f64)> =
        runs.into_iter().map(|(rps, p50, p99)| (median(rps), median(p50), median(p99))).collect();
    for ((name, ..), (rps, p50, p99)) in scenarios.iter().zip(&medians) {
        println!("{name:<34} {rps:>10.0} {:>7.2}x | {p50:>24.2} {p99:>8.2}", rps / medians[0].0);
    }
    let memory_p99 = medians[1].2;
    println!("{:<34} Redis adds {:.2} ms at p99 (target < 1 ms)", "", medians[3].2 - memory_p99);
    println!("{:<34} a round trip per request adds {:.2} ms at p99", "", medians[4].2 - memory_p99);
    for (name, running) in [("leased", &redis), ("per request", &per_request)] {
        let limiter = &running.state.limiter;
        println!(
            "Redis backend, {name}: {} ({} fallbacks to in-process limits)",
            limiter.backend(),
            limiter.fallbacks()
        );
    }
    println!("Targets: key-authenticated ≥ 0.5× baseline req/s; p99 < 10 ms at 1,000 req/s.");
    runtime.block_on(async {
        memory.stop().await;
        redis.stop().await;
        per_request.stop().await;
    });
}

async fn start(database: &str, redis_url: Option<String>, leases: bool) -> server::Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = Config::new(listener.local_addr().unwrap(), database.to_owned(), None);
    config.redis_url = redis_url;
    config.rate_limit_leases = leases;
    server::start(config, listener).await.unwrap()
}

/// An Enterprise organization with a limit far above what the bench sends, and a read-only key.
/// Returns (key, organization id, the organization's JSON as the key sees it).
async fn seed(base: &str) -> (String, String, Value) {
    let (client, id) = support::enterprise_org(base).await;
    let key: Value = client
        .post(format!("{base}/api/v1/organizations/{id}/api-keys"))
        .json(&json!({"name": "bench", "scopes": ["org:read"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = key["secret"].as_str().unwrap().to_owned();
    let body: Value = Client::new()
        .get(format!("{base}/api/v1/organizations/{id}"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (secret, id, body)
}

/// A bare axum handler answering the same JSON: the floor for HTTP + JSON on this machine.
async fn baseline_server(body: Value) -> String {
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let body = body.clone();
            async move { axum::Json(body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/")
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

struct Run {
    rps: f64,
    p50: f64,
    p99: f64,
}

/// Runs `hey` against a loopback URL and reads requests/s and the p50/p99 latencies (seconds).
/// Any answer other than 200 fails the bench.
fn hey(url: &str, auth: Option<&str>, load: &[&str]) -> Run {
    assert!(url.starts_with("http://127.0.0.1:"), "load goes to loopback only");
    let mut command = Command::new("hey");
    command.args(load).arg("-t").arg("10");
    if let Some(auth) = auth {
        command.arg("-H").arg(auth);
    }
    let out = command.arg(url).output().expect("hey runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let number_after = |label: &str| -> f64 {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {label:?} in hey's output:\n{text}"))
    };
    let statuses: Vec<&str> = text.lines().filter(|l| l.trim().starts_with('[')).collect();
    assert!(statuses.iter().all(|l| l.trim().starts_with("[200]")), "non-200 answers: {statuses:?}");
    std::thread::sleep(Duration::from_millis(200));
    Run { rps: number_after("Requests/sec:"), p50: number_after("50% in"), p99: number_after("99% in") }
}
