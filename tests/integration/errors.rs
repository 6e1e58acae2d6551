//! Every failure is a JSON error with the right status: bad JSON, bad fields, big bodies, unknown
//! routes, missing sign-in, cross-site requests and throttled logins.
use crate::both;
use crate::support::{error_of, spawn_app, Backend, Options, STRONG_PASSWORD};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

async fn malformed_requests_get_named_4xx_errors(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let client = app.client();
    let send = |body: &'static str, content_type: &'static str| {
        client.post(app.url("/api/v1/auth/login")).header("content-type", content_type).body(body).send()
    };

    let (status, err) = error_of(send("{\"email\": ", "application/json").await.unwrap()).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::BAD_REQUEST, Some("malformed_json")));
    let (status, err) = error_of(send("{\"email\": \"a@example.com\"}", "application/json").await.unwrap()).await;
    assert_eq!((status, err["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("password")));
    let (status, _) = error_of(send("email=a", "text/plain").await.unwrap()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let huge = format!("{{\"email\": \"{}\", \"password\": \"x\"}}", "a".repeat(1024 * 1024 + 1));
    // Its own client: the server answers before reading the body and then closes that connection.
    let res = app
        .client()
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    let (status, err) = error_of(res).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")));

    let (status, err) = error_of(app.get(&client, "/api/v1/no/such/route").await).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::NOT_FOUND, Some("route_not_found")));
    let (status, _) = error_of(app.get(&client, "/api/v1/me").await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, err) = error_of(app.get(&client, "/api/v1/me/sessions?limit=abc").await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "sign-in is checked first: {err}");
    app.stop().await;
}
both!(malformed_requests_get_named_4xx_errors);

async fn cross_site_mutations_are_refused(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let client = app.client();
    let email = app.signup(&client, "Ada").await;
    let body = json!({"email": email, "password": STRONG_PASSWORD});
    for (header, value) in
        [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site"), ("sec-fetch-site", "same-site")]
    {
        let res = client.post(app.url("/api/v1/auth/login")).header(header, value).json(&body).send().await.unwrap();
        let (status, err) = error_of(res).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("cross_site_request")),
            "{header}: {value}"
        );
        let res = client
            .post(app.url("/rpc/update_profile"))
            .header(header, value)
            .form(&[("name", "Mallory")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
    let me: serde_json::Value = app.get(&client, "/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["name"], "Ada");
    // The same requests from our own pages work.
    let res = client
        .post(app.url("/api/v1/auth/login"))
        .header("origin", app.base.as_str())
        .header("sec-fetch-site", "same-origin")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Reads are never refused, and GET never changes state.
    assert_eq!(
        client.get(app.url("/api/v1/me")).header("sec-fetch-site", "cross-site").send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(error_of(app.get(&client, "/api/v1/auth/logout").await).await.0, StatusCode::METHOD_NOT_ALLOWED);
    app.stop().await;
}
both!(cross_site_mutations_are_refused);

async fn failed_logins_are_throttled_then_forgiven(backend: Backend) {
    let tweak = |config: &mut gatehouse::server::config::Config| {
        config.login_throttle.max = 3;
        config.login_throttle.window = Duration::from_secs(8);
    };
    let Some(app) = spawn_app(backend, Options { smtp: false, tweak: Box::new(tweak) }).await else { return };
    let email = app.signup(&app.client(), "Ada").await;
    for _ in 0..3 {
        assert_eq!(app.login(&app.client(), &email, "wrong password, sorry").await.status(), StatusCode::UNAUTHORIZED);
    }
    let res = app.login(&app.client(), &email, STRONG_PASSWORD).await;
    let retry_after: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=8).contains(&retry_after), "{retry_after}");
    let (status, err) = error_of(res).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")));
    assert_eq!(err["details"]["retry_after"], retry_after);

    // The window slides: the owner gets back in once it has passed.
    tokio::time::sleep(Duration::from_secs(retry_after) + Duration::from_millis(300)).await;
    assert_eq!(app.login(&app.client(), &email, STRONG_PASSWORD).await.status(), StatusCode::OK);
    app.stop().await;
}
both!(failed_logins_are_throttled_then_forgiven);

async fn signups_are_throttled_per_address(backend: Backend) {
    let tweak = |config: &mut gatehouse::server::config::Config| config.signup_throttle.max = 2;
    let Some(app) = spawn_app(backend, Options { smtp: false, tweak: Box::new(tweak) }).await else { return };
    app.signup(&app.client(), "One").await;
    app.signup(&app.client(), "Two").await;
    let body = json!({"name": "Three", "email": "three@example.com", "password": STRONG_PASSWORD});
    let (status, _) = error_of(app.post(&app.client(), "/api/v1/auth/signup", body).await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    app.stop().await;
}
both!(signups_are_throttled_per_address);
