//! Failure handling: mail retried after the SMTP server was down, internal errors that show only
//! a reference.
use crate::both;
use crate::support::{error_of, free_port, spawn_app, Backend, Options, SmtpSink};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

async fn mail_is_retried_until_the_smtp_server_answers(backend: Backend) {
    // The app is told about an SMTP port nothing listens on yet.
    let port = free_port();
    let tweak = move |config: &mut gatehouse::server::config::Config| {
        config.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        config.mail_retry_delays = vec![Duration::from_secs(1); 5];
    };
    let Some(app) = spawn_app(backend, Options { smtp: false, tweak: Box::new(tweak) }).await else { return };
    let email = app.signup(&app.client(), "Ada").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sink = SmtpSink::start_on(app.dir.path(), port);
    let mail = sink.wait_for(&email, "Verify your email", 1).await;
    assert!(mail.body.contains("/verify-email?token="));
    app.stop().await;
}
both!(mail_is_retried_until_the_smtp_server_answers);

async fn internal_errors_show_only_a_reference(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let pool = app.running.as_ref().unwrap().state.db.pool().clone();
    sqlx::query("DROP TABLE throttle_events").execute(&pool).await.unwrap();
    let res = app
        .post(&app.client(), "/api/v1/auth/login", json!({"email": "a@example.com", "password": "whatever it is"}))
        .await;
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let (status, err) = error_of(res).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(err["code"], "internal_error");
    assert_eq!(err["details"]["request_id"], request_id.as_str());
    let message = err["message"].as_str().unwrap();
    assert!(message.contains(&request_id) && !message.contains("throttle_events"), "{message}");
    app.stop().await;
}
both!(internal_errors_show_only_a_reference);

/// The value of an unlabelled or labelled sample in OpenMetrics text, e.g.
/// `gatehouse_mail_pending` or `gatehouse_http_responses_total{class="2xx"}`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// /metrics: served to loopback (a wrong token is refused even there) and with the token; counts
/// answers, Redis fallbacks (Redis here is a port nothing listens on), webhook attempts and the
/// webhook backlog.
async fn metrics_for_the_operator(backend: Backend) {
    let tweak = |config: &mut gatehouse::server::config::Config| {
        config.redis_url = Some(format!("redis://127.0.0.1:{}", free_port()));
        config.metrics_token = Some("scrape-token".to_owned());
        config.webhook_allow_private = true;
        config.webhook_allow_http = true;
    };
    let Some(app) = spawn_app(backend, Options { smtp: false, tweak: Box::new(tweak) }).await else { return };
    let owner = app.client();
    app.signup(&owner, "Olivia Owner").await;
    let org = app.create_org(&owner, "Acme").await;
    let id = org["id"].as_str().unwrap();
    // An endpoint nobody answers at: its delivery fails and waits for a retry.
    let dead = format!("http://127.0.0.1:{}/hook", free_port());
    let res = app
        .post(&owner, &format!("/api/v1/organizations/{id}/webhooks"), json!({"url": dead, "events": ["member.added"]}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let hook: serde_json::Value = res.json().await.unwrap();
    let hook = hook["id"].as_str().unwrap();
    let res = app.post(&owner, &format!("/api/v1/organizations/{id}/webhooks/{hook}/test"), json!({})).await;
    assert!(res.status().is_success(), "{}", res.status());

    let scrape = |token: Option<&'static str>| {
        let request = app.client().get(app.url("/metrics"));
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        async move { request.send().await.unwrap() }
    };
    assert_eq!(scrape(Some("not-the-token")).await.status(), StatusCode::NOT_FOUND);
    let res = scrape(Some("scrape-token")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));

    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let text = loop {
        let text = scrape(None).await.text().await.unwrap();
        let failed = sample(&text, "gatehouse_webhook_attempts_total{outcome=\"failed\"}").unwrap_or(0.0);
        if failed >= 1.0 || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(sample(&text, "gatehouse_webhook_attempts_total{outcome=\"failed\"}"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "gatehouse_webhook_deliveries_pending"), Some(1.0), "waiting for its retry: {text}");
    assert!(sample(&text, "gatehouse_http_responses_total{class=\"2xx\"}").unwrap() >= 4.0, "{text}");
    assert_eq!(sample(&text, "gatehouse_http_responses_total{class=\"4xx\"}"), Some(1.0), "the wrong token: {text}");
    assert!(sample(&text, "gatehouse_ratelimit_redis_fallbacks_total").unwrap() >= 1.0, "{text}");
    assert_eq!(sample(&text, "gatehouse_ratelimit_redis_degraded"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "gatehouse_mail_pending"), Some(0.0), "no SMTP: mail goes to the outbox: {text}");
    app.stop().await;
}
both!(metrics_for_the_operator);

/// A request that outlives the server's budget is dropped with 503 `request_timeout` instead of
/// hanging, and what it started is not left behind (no account was created).
async fn requests_that_run_too_long_are_stopped(backend: Backend) {
    let tweak = |config: &mut gatehouse::server::config::Config| config.request_timeout = Duration::ZERO;
    let Some(app) = spawn_app(backend, Options { tweak: Box::new(tweak), ..Options::default() }).await else {
        return;
    };
    let body = json!({"name": "Slow", "email": "slow@example.com", "password": crate::support::STRONG_PASSWORD});
    let (status, err) = error_of(app.post(&app.client(), "/api/v1/auth/signup", body).await).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("request_timeout")));
    let pool = app.running.as_ref().unwrap().state.db.pool().clone();
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&pool).await.unwrap();
    assert_eq!(users, 0);
    app.stop().await;
}
both!(requests_that_run_too_long_are_stopped);
