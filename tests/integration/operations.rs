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
