//! `make bench`: webhook delivery to a local receiver (an axum server in this process, loopback
//! only), on SQLite and on Postgres:
//! - throughput: 5,000 events committed in one transaction, then the time until the receiver has
//!   all of them → deliveries per second (target ≥ 1,000/s on 2 cores);
//! - latency: 200 changes made through the API at about 20 per second, each timed from the
//!   event's own timestamp (taken in the transaction) to its arrival → p50/p95 (target p95 < 1 s).
//!
//! Every run is bounded in count and time.
mod support;

use axum::{http::HeaderMap, routing::post, Router};
use gatehouse::server::{self, config::Config, db};
use gatehouse::shared::ids::{OrgId, WebhookEventId, WebhookId};
use reqwest::Client;
use serde_json::{json, Value};
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

const EVENTS: usize = 5_000;
const LATENCY_SAMPLES: usize = 200;

/// What arrived: (webhook-id, arrival in Unix milliseconds).
type Arrivals = Arc<Mutex<Vec<(String, i64)>>>;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        println!("\n{:<10} {:>14} {:>14} {:>14}", "database", "deliveries/s", "p50 ms", "p95 ms");
        let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
        run("SQLite", &sqlite, dir.path()).await;
        let admin = std::env::var("GATEHOUSE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("gatehouse_bench_{}", uuid::Uuid::now_v7().simple());
        match postgres(&admin, &format!("CREATE DATABASE {name}")).await {
            Ok(()) => {
                let url = format!("{}/{name}", admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base));
                run("Postgres", &url, dir.path()).await;
                let _ = postgres(&admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
            }
            Err(e) => println!("{:<10} skipped: {e}", "Postgres"),
        }
        println!("Targets: ≥ 1,000 deliveries/s; event to first attempt p95 < 1,000 ms.");
    });
}

async fn run(label: &str, database: &str, dir: &std::path::Path) {
    let arrivals: Arrivals = Arc::default();
    let receiver = start_receiver(arrivals.clone()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = Config::new(listener.local_addr().unwrap(), database.to_owned(), None);
    config.data_dir = dir.to_path_buf();
    config.webhook_allow_private = true;
    config.webhook_allow_http = true;
    let running = server::start(config, listener).await.unwrap();
    let base = format!("http://{}", running.addr);
    let (client, org, webhook) = seed(&base, &receiver).await;

    // Throughput: every event visible to the workers at once.
    let mut tx = running.state.db.begin_write().await.unwrap();
    let now = db::now();
    for i in 0..EVENTS {
        let id = WebhookEventId::new();
        let payload = json!({"id": id, "type": "organization.updated", "organization_id": org, "data": {"i": i}});
        db::webhooks::insert_event(&mut tx, id, org, "organization.updated", &payload.to_string(), now).await.unwrap();
        db::webhooks::insert_delivery(&mut tx, org, webhook, id, "organization.updated", now).await.unwrap();
    }
    tx.commit().await.unwrap();
    let started = Instant::now();
    wait_for(&arrivals, EVENTS, Duration::from_secs(120)).await;
    let rate = EVENTS as f64 / started.elapsed().as_secs_f64();

    // Latency: one change at a time, through the API, as an application makes them.
    arrivals.lock().unwrap().clear();
    for i in 0..LATENCY_SAMPLES {
        let res = client
            .patch(format!("{base}/api/v1/organizations/{org}"))
            .json(&json!({"name": format!("Bench {i}")}))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for(&arrivals, LATENCY_SAMPLES, Duration::from_secs(60)).await;
    let created: Vec<(String, i64)> = sqlx::query_as::<_, (String, i64)>(
        "SELECT id, created_at FROM webhook_events WHERE event_type = 'organization.updated'",
    )
    .fetch_all(running.state.db.pool())
    .await
    .unwrap();
    let mut latencies: Vec<i64> = arrivals
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(id, at)| created.iter().find(|(c, _)| c == id).map(|(_, created)| at - created))
        .collect();
    latencies.sort_unstable();
    let pct =
        |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1).min(latencies.len() - 1)];
    println!("{label:<10} {rate:>14.0} {:>14} {:>14}", pct(0.50), pct(0.95));
    running.stop().await;
}

async fn wait_for(arrivals: &Arrivals, count: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while arrivals.lock().unwrap().len() < count {
        assert!(Instant::now() < deadline, "only {} of {count} deliveries arrived", arrivals.lock().unwrap().len());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn start_receiver(arrivals: Arrivals) -> String {
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap| {
            let arrivals = arrivals.clone();
            async move {
                let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                arrivals.lock().unwrap().push((id, chrono::Utc::now().timestamp_millis()));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/hook")
}

/// An Enterprise organization (so its limits never interfere) with one endpoint for
/// `organization.updated`. Returns the signed-in owner, the organization and the endpoint.
async fn seed(base: &str, receiver: &str) -> (Client, OrgId, WebhookId) {
    let (client, id) = support::enterprise_org(base).await;
    let hook: Value = client
        .post(format!("{base}/api/v1/organizations/{id}/webhooks"))
        .json(&json!({"url": receiver, "events": ["organization.updated"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (client, id.parse().unwrap(), hook["id"].as_str().unwrap().parse().unwrap())
}

async fn postgres(admin_url: &str, sql: &str) -> Result<(), String> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin_url).await.map_err(|e| e.to_string())?;
    sqlx::query(sql).execute(&mut conn).await.map_err(|e| e.to_string())?;
    Ok(())
}
