//! The user's own sessions: listing, revoking, signing out everywhere, expiry and rotation.
use crate::both;
use crate::support::{error_of, spawn_app, Backend, Options, STRONG_PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

async fn sessions_are_listed_and_revoked(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let laptop = app.client();
    let email = app.signup(&laptop, "Ada").await;
    let phone = app.client();
    phone
        .post(app.url("/api/v1/auth/login"))
        .header("user-agent", "PhoneBrowser/1.0")
        .json(&json!({"email": email, "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();

    let page: Value = app.get(&laptop, "/api/v1/me/sessions").await.json().await.unwrap();
    let sessions = page["data"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(page["next_cursor"], Value::Null);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let other = sessions.iter().find(|s| s["current"] == false).unwrap();
    assert_eq!(other["user_agent"], "PhoneBrowser/1.0");
    assert_eq!(other["ip"], "127.0.0.1");

    // Pagination: one per page.
    let first: Value = app.get(&laptop, "/api/v1/me/sessions?limit=1").await.json().await.unwrap();
    assert_eq!(first["data"].as_array().unwrap().len(), 1);
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second: Value =
        app.get(&laptop, &format!("/api/v1/me/sessions?limit=1&cursor={cursor}")).await.json().await.unwrap();
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert_ne!(first["data"][0]["id"], second["data"][0]["id"]);
    assert_eq!(error_of(app.get(&laptop, "/api/v1/me/sessions?limit=500").await).await.1["details"]["field"], "limit");
    assert_eq!(
        error_of(app.get(&laptop, "/api/v1/me/sessions?cursor=garbage!").await).await.1["details"]["field"],
        "cursor"
    );

    // Someone else cannot revoke (or learn about) Ada's sessions.
    let mallory = app.client();
    app.signup(&mallory, "Mallory").await;
    let other_id = other["id"].as_str().unwrap();
    let res = mallory.delete(app.url(&format!("/api/v1/me/sessions/{other_id}"))).send().await.unwrap();
    assert_eq!(error_of(res).await.0, StatusCode::NOT_FOUND);
    let res = laptop.delete(app.url("/api/v1/me/sessions/not-an-id")).send().await.unwrap();
    assert_eq!(error_of(res).await.0, StatusCode::NOT_FOUND);

    let res = laptop.delete(app.url(&format!("/api/v1/me/sessions/{other_id}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&phone, "/api/v1/me").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.get(&laptop, "/api/v1/me").await.status(), StatusCode::OK);
    app.stop().await;
}
both!(sessions_are_listed_and_revoked);

async fn logout_everywhere_ends_every_session(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let laptop = app.client();
    let email = app.signup(&laptop, "Ada").await;
    let phone = app.client();
    app.login(&phone, &email, STRONG_PASSWORD).await;
    let res = app.post(&laptop, "/api/v1/auth/logout-all", json!({})).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["ended_sessions"], 2);
    assert_eq!(app.get(&laptop, "/api/v1/me").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.get(&phone, "/api/v1/me").await.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}
both!(logout_everywhere_ends_every_session);

async fn login_rotates_the_session_cookie(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let email = app.signup(&app.client(), "Ada").await;
    let res = crate::support::http()
        .post(app.url("/api/v1/auth/login"))
        .header("cookie", "gatehouse_session=planted-by-an-attacker")
        .json(&json!({"email": email, "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    // Beside it comes the device cookie (sign-in throttling), which is not a session.
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| !c.starts_with("gatehouse_device="))
        .unwrap();
    assert!(cookie.starts_with("gatehouse_session=") && !cookie.contains("planted-by-an-attacker"), "{cookie}");
    let lower = cookie.to_lowercase();
    assert!(lower.contains("httponly") && lower.contains("samesite=lax") && !lower.contains("secure"), "{cookie}");
    app.stop().await;
}
both!(login_rotates_the_session_cookie);

async fn sessions_expire(backend: Backend) {
    let tweak = |config: &mut gatehouse::server::config::Config| config.session_absolute = Duration::from_secs(2);
    let Some(app) = spawn_app(backend, Options { smtp: false, tweak: Box::new(tweak) }).await else { return };
    let browser = app.client();
    app.signup(&browser, "Ada").await;
    assert_eq!(app.get(&browser, "/api/v1/me").await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(app.get(&browser, "/api/v1/me").await.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}
both!(sessions_expire);

async fn idle_sessions_expire(backend: Backend) {
    let tweak = |config: &mut gatehouse::server::config::Config| config.session_idle = Duration::from_secs(1);
    let Some(app) = spawn_app(backend, Options { smtp: false, tweak: Box::new(tweak) }).await else { return };
    let browser = app.client();
    app.signup(&browser, "Ada").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.get(&browser, "/api/v1/me").await.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}
both!(idle_sessions_expire);
