//! Webhook delivery across process deaths and replicas, with the real `gatehouse` binary as a
//! child process: SIGKILL during a fan-out of 1,000 events loses none, and two servers sharing one
//! Postgres deliver 10,000 events without a duplicate.
use crate::support::{drop_database, free_port, fresh_database, Backend, STRONG_PASSWORD};
use crate::webhooks::{body_of, Receiver};
use futures::StreamExt;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::{
    collections::HashSet,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A `gatehouse serve` process, killed with SIGKILL when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    /// `timeout_secs` bounds each delivery attempt; leases last twice that plus 5 s.
    async fn start(database_url: &str, data_dir: &Path, timeout_secs: u64) -> Server {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("serve")
            .env("GATEHOUSE_DATABASE_URL", database_url)
            .env("GATEHOUSE_DATA_DIR", data_dir)
            .env("GATEHOUSE_LISTEN", format!("127.0.0.1:{port}"))
            .env("GATEHOUSE_SECRET_KEY", "durability-test-key-0123456789abcdef")
            .env("GATEHOUSE_WEBHOOK_ALLOW_PRIVATE", "true")
            .env("GATEHOUSE_WEBHOOK_ALLOW_HTTP", "true")
            .env("GATEHOUSE_WEBHOOK_TIMEOUT_SECS", timeout_secs.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the gatehouse binary starts");
        let server = Server { child, base: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(30);
        while crate::support::http()
            .get(server.url("/readyz"))
            .send()
            .await
            .map(|r| r.status() != StatusCode::OK)
            .unwrap_or(true)
        {
            assert!(Instant::now() < deadline, "gatehouse did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL: no graceful shutdown at all
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An organization with a generous limit, an `org:write` key and an endpoint for
/// `organization.updated`; returns (org id, key).
async fn prepare_org(server: &Server, owner: &Client, pool: &sqlx::AnyPool, name: &str, url: &str) -> (String, String) {
    let post = |path: String, body: Value| owner.post(server.url(&path)).json(&body).send();
    let org: Value = post("/api/v1/organizations".into(), json!({"name": name})).await.unwrap().json().await.unwrap();
    let org = org["id"].as_str().unwrap().to_owned();
    sqlx::query("UPDATE organizations SET max_api_calls_per_hour = 100000000 WHERE id = $1")
        .bind(&org)
        .execute(pool)
        .await
        .unwrap();
    let key: Value = post(
        format!("/api/v1/organizations/{org}/api-keys"),
        json!({"name": "load", "scopes": ["org:write", "org:read"]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let key = key["secret"].as_str().unwrap().to_owned();
    let res =
        post(format!("/api/v1/organizations/{org}/webhooks"), json!({"url": url, "events": ["organization.updated"]}))
            .await
            .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    (org, key)
}

async fn signed_up_owner(server: &Server) -> Client {
    let owner = Client::builder().cookie_store(true).timeout(crate::support::REQUEST_TIMEOUT).build().unwrap();
    let email = format!("owner-{}@example.com", uuid::Uuid::now_v7().simple());
    let res = owner
        .post(server.url("/api/v1/auth/signup"))
        .json(&json!({"name": "Olivia Owner", "email": email, "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    owner
}

/// `count` renames of the organization through `servers` in turn: each is one event.
async fn rename_many(servers: &[&Server], org: &str, key: &str, count: usize) {
    let client = crate::support::http();
    futures::stream::iter(0..count)
        .map(|i| {
            let url = servers[i % servers.len()].url(&format!("/api/v1/organizations/{org}"));
            let request = client.patch(url).bearer_auth(key).json(&json!({"name": format!("Renamed {i}")})).send();
            async move {
                let res = request.await.expect("rename");
                assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap_or_default());
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
}

async fn wait_unique(receiver: &Receiver, expected: i64, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let summary = receiver.summary().await;
        if summary["unique_ids"].as_i64().unwrap() >= expected {
            return summary;
        }
        assert!(Instant::now() < deadline, "only {summary} of {expected} events arrived");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn event_ids(pool: &sqlx::AnyPool) -> HashSet<String> {
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM webhook_events WHERE event_type = 'organization.updated'")
            .fetch_all(pool)
            .await
            .unwrap();
    ids.into_iter().collect()
}

async fn connect(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new().max_connections(2).connect(url).await.unwrap()
}

async fn survives_sigkill(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some((database_url, postgres_db)) = fresh_database(backend, dir.path()).await else { return };
    let receiver = Receiver::start();
    // A short timeout makes the dead server's leases lapse after 9 s instead of 35 s.
    let mut first = Server::start(&database_url, dir.path(), 2).await;
    let pool = connect(&database_url).await;
    let owner = signed_up_owner(&first).await;
    // A slow receiver keeps deliveries in flight while the server is killed.
    let (org, key) = prepare_org(&first, &owner, &pool, "Acme", &receiver.url("/slow/1000")).await;

    rename_many(&[&first], &org, &key, 1000).await;
    let before = receiver.summary().await["unique_ids"].as_i64().unwrap();
    first.kill();
    assert!(before < 1000, "the fan-out must still be running when the server dies ({before} delivered)");
    let created = event_ids(&pool).await;
    assert_eq!(created.len(), 1000, "every rename committed its event");

    let second = Server::start(&database_url, dir.path(), 2).await;
    let summary = wait_unique(&receiver, 1000, Duration::from_secs(90)).await;
    let received: HashSet<String> =
        receiver.received().await.iter().map(|r| r["webhook_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(received, created, "exactly the committed events arrived: {summary}");
    assert!(receiver.received().await.iter().all(|r| body_of(r)["type"] == "organization.updated"));
    drop(second);
    pool.close().await;
    if let Some(name) = postgres_db {
        drop_database(&name).await;
    }
}
crate::both!(survives_sigkill);

/// Two replicas on one Postgres claim with SKIP LOCKED: 10,000 events, no webhook-id twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_deliver_each_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let Some((database_url, postgres_db)) = fresh_database(Backend::Postgres, dir.path()).await else { return };
    let receiver = Receiver::start();
    // The default 15 s timeout: a timed-out attempt is retried and may arrive twice (at least
    // once), which is not what this test is about.
    let a = Server::start(&database_url, dir.path(), 15).await;
    let b = Server::start(&database_url, dir.path(), 15).await;
    let pool = connect(&database_url).await;
    let owner = signed_up_owner(&a).await;
    let mut orgs = Vec::new();
    for i in 0..10 {
        orgs.push(prepare_org(&a, &owner, &pool, &format!("Org {i}"), &receiver.url("/ok")).await);
    }
    let both = [&a, &b];
    futures::future::join_all(orgs.iter().map(|(org, key)| rename_many(&both, org, key, 1000))).await;
    let summary = wait_unique(&receiver, 10_000, Duration::from_secs(120)).await;
    // Give a late duplicate (if any) a moment to show up.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let summary_after = receiver.summary().await;
    let failures: Vec<(Option<String>, i64)> =
        sqlx::query_as("SELECT error, COUNT(*) FROM webhook_attempts GROUP BY error").fetch_all(&pool).await.unwrap();
    assert_eq!(summary_after["duplicates"], 0, "{summary} then {summary_after}; attempts by error: {failures:?}");
    assert_eq!(summary_after["total"], 10_000);
    drop((a, b));
    pool.close().await;
    if let Some(name) = postgres_db {
        drop_database(&name).await;
    }
}
