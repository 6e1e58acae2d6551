//! `make bench`: organization reads under load, against a seeded database (100 organizations ×
//! 100 members, plus one organization of 10,000 members), on loopback only. Each scenario sends a
//! fixed number of requests from a few concurrent clients and reports p50/p95 latency, and the
//! ratio of each to a bare axum handler measured in the same process and the same way. First it
//! checks that one server render of the 10,000-member page lists its members with one query.
use gatehouse::server::{self, config::Config};
use reqwest::Client;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tracing_subscriber::layer::SubscriberExt;

const CONCURRENCY: usize = 8;
const REQUESTS: usize = 400;
const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(MemberListQueries))
        .expect("no other subscriber");
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let database = format!("sqlite://{}", dir.path().join("bench.db").display());
    let mut config = Config::new(addr, database, None);
    config.signup_throttle.max = 1_000_000;
    // Every scenario comes from this one address: measure the reads, not the per-address limit.
    config.api_ip_quota = gatehouse::server::ratelimit::Quota::per_minute(1_000_000);
    let running = server::start(config, listener).await.unwrap();
    let base = format!("http://{addr}");

    let client = Client::builder().cookie_store(true).build().unwrap();
    let password = "bench password that is long enough 42";
    let res = client
        .post(format!("{base}/api/v1/auth/signup"))
        .json(&json!({"name": "Bench Owner", "email": "bench@example.com", "password": password}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let me: serde_json::Value = client.get(format!("{base}/api/v1/me")).send().await.unwrap().json().await.unwrap();
    let started = Instant::now();
    let (small_org, big_org) = seed(&running.state.db, me["id"].as_str().unwrap()).await;
    println!("seeded 100 × 100 + 1 × 10,000 members in {:.1} s", started.elapsed().as_secs_f64());

    // A page whose body renders twice runs every query twice (leptos #4866): once is the budget.
    let page = format!("{base}/orgs/{big_org}/members");
    MEMBER_LIST_QUERIES.store(0, Ordering::SeqCst);
    let res = client.get(&page).header("accept", "text/html").send().await.unwrap();
    assert!(res.status().is_success(), "{page}: {}", res.status());
    res.bytes().await.unwrap();
    let ran = MEMBER_LIST_QUERIES.load(Ordering::SeqCst);
    println!("SSR members page, 10,000-member org: the member list query ran {ran} time(s) in one render");
    assert_eq!(ran, 1, "the members page must list its members once per render");

    let baseline = baseline_server().await;
    let scenarios: Vec<(&str, String)> = vec![
        ("baseline: bare axum JSON", baseline),
        ("API members, 100-member org", format!("{base}/api/v1/organizations/{small_org}/members")),
        ("API members, 10,000-member org", format!("{base}/api/v1/organizations/{big_org}/members")),
        (
            "API members search, 10,000-member org",
            format!("{base}/api/v1/organizations/{big_org}/members?search=member%2099"),
        ),
        ("API organization, 10,000-member org", format!("{base}/api/v1/organizations/{big_org}")),
        ("API stats, 10,000-member org", format!("{base}/api/v1/organizations/{big_org}/stats")),
        ("SSR members page, 10,000-member org", format!("{base}/orgs/{big_org}/members")),
        ("SSR overview page, 10,000-member org", format!("{base}/orgs/{big_org}")),
    ];
    println!("\n{:<42} {:>9} {:>9} {:>10} {:>10}", "scenario", "p50 ms", "p95 ms", "p50 ratio", "p95 ratio");
    let mut base_p = None;
    for (name, url) in scenarios {
        let (p50, p95) = measure(&client, &url).await;
        let (b50, b95) = *base_p.get_or_insert((p50, p95));
        println!("{name:<42} {:>9.2} {:>9.2} {:>9.1}x {:>9.1}x", p50, p95, p50 / b50, p95 / b95);
    }
    running.stop().await;
}

/// Fires REQUESTS GETs from CONCURRENCY clients (sharing the signed-in cookie jar); every answer
/// must be a success. Returns (p50, p95) in milliseconds.
async fn measure(client: &Client, url: &str) -> (f64, f64) {
    for _ in 0..10 {
        client.get(url).header("accept", "text/html,application/json").send().await.unwrap().bytes().await.unwrap();
    }
    let deadline = Instant::now() + DEADLINE;
    let per_task = REQUESTS / CONCURRENCY;
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, url) = (client.clone(), url.to_owned());
            tokio::spawn(async move {
                let mut samples = Vec::with_capacity(per_task);
                for _ in 0..per_task {
                    if Instant::now() > deadline {
                        break;
                    }
                    let start = Instant::now();
                    let res = client.get(&url).header("accept", "text/html,application/json").send().await.unwrap();
                    assert!(res.status().is_success(), "{url}: {}", res.status());
                    res.bytes().await.unwrap();
                    samples.push(start.elapsed().as_secs_f64() * 1000.0);
                }
                samples
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    (at(0.50), at(0.95))
}

/// A bare axum handler answering a member-list-sized JSON body: the floor for HTTP + JSON here.
async fn baseline_server() -> String {
    let body: serde_json::Value = json!({"data": (0..50).map(|i| json!({"user_id": format!("{i:036}"), "name": format!("Member {i}"), "email": format!("m{i}@example.com"), "role": "member"})).collect::<Vec<_>>()});
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

/// Inserts organizations, users and memberships directly (one password hash for everyone: the
/// bench measures reads, not hashing). Returns (a 100-member org, the 10,000-member org).
async fn seed(db: &gatehouse::server::db::Db, owner: &str) -> (String, String) {
    let pool = db.pool();
    let hash: (String,) =
        sqlx::query_as("SELECT password_hash FROM users WHERE id = $1").bind(owner).fetch_one(pool).await.unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let mut tx = db.begin_write().await.unwrap();
    let mut user_n = 0;
    let mut orgs = Vec::new();
    for (org_n, size) in (0..100).map(|n| (n, 100)).chain(std::iter::once((100, 10_000))) {
        let org = uuid::Uuid::now_v7().to_string();
        sqlx::query("INSERT INTO organizations (id, name, slug, tier, max_users, max_api_calls_per_hour, owner_id, created_at, updated_at) VALUES ($1, $2, $3, 'enterprise', 20000, 500000, $4, $5, $5)")
            .bind(&org).bind(format!("Org {org_n}")).bind(format!("org-{org_n}")).bind(owner).bind(now)
            .execute(&mut *tx).await.unwrap();
        sqlx::query("INSERT INTO memberships (organization_id, user_id, role, joined_at) VALUES ($1, $2, 'owner', $3)")
            .bind(&org)
            .bind(owner)
            .bind(now)
            .execute(&mut *tx)
            .await
            .unwrap();
        for m in 1..size {
            user_n += 1;
            let user = uuid::Uuid::now_v7().to_string();
            sqlx::query("INSERT INTO users (id, email, name, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)")
                .bind(&user).bind(format!("user{user_n}@example.com")).bind(format!("Member {m}")).bind(&hash.0).bind(now)
                .execute(&mut *tx).await.unwrap();
            let role = ["member", "viewer", "admin"][m % 3];
            sqlx::query("INSERT INTO memberships (organization_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)")
                .bind(&org)
                .bind(&user)
                .bind(role)
                .bind(now + m as i64)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        orgs.push(org);
    }
    tx.commit().await.unwrap();
    (orgs[0].clone(), orgs[100].clone())
}

/// Counts the statements sqlx runs that list an organization's members (`db::members::list`).
static MEMBER_LIST_QUERIES: AtomicUsize = AtomicUsize::new(0);

struct MemberListQueries;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for MemberListQueries {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Statement(bool);
        impl tracing::field::Visit for Statement {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                let text = format!("{value:?}");
                self.0 |= field.name() == "db.statement"
                    && text.contains("FROM memberships m JOIN users u")
                    && text.contains("LIKE");
            }
        }
        if event.metadata().target() == "sqlx::query" {
            let mut statement = Statement(false);
            event.record(&mut statement);
            if statement.0 {
                MEMBER_LIST_QUERIES.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}
