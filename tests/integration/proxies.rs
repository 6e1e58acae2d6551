//! Behind a reverse proxy: the client address comes from forwarding headers only when the peer
//! is a trusted proxy; proxied requests never count as local; and the same-origin check compares
//! against the public URL, not the Host a (DNS-rebound) page sent.
use crate::both;
use crate::support::{spawn_app, Backend, Options, STRONG_PASSWORD};
use gatehouse::server::config::Config;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The address the session list shows for a sign-up sent with `X-Forwarded-For: forwarded`.
async fn recorded_ip(trusted: &'static str, forwarded: &str, backend: Backend) -> Option<String> {
    let tweak = move |config: &mut Config| config.trusted_proxies = vec![trusted.parse().unwrap()];
    let app = spawn_app(backend, Options { smtp: false, tweak: Box::new(tweak) }).await?;
    let client = app.client();
    let email = format!("ada-{}@example.com", uuid::Uuid::now_v7().simple());
    let res = client
        .post(app.url("/api/v1/auth/signup"))
        .header("x-forwarded-for", forwarded)
        .json(&json!({"name": "Ada", "email": email, "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let page: Value = app.get(&client, "/api/v1/me/sessions").await.json().await.unwrap();
    let ip = page["data"][0]["ip"].as_str().map(str::to_owned);
    app.stop().await;
    ip
}

async fn forwarded_addresses_count_only_from_trusted_proxies(backend: Backend) {
    // The test client connects from 127.0.0.1: trusted, its header names the client (the
    // rightmost hop it did not add itself).
    let Some(ip) = recorded_ip("127.0.0.1/32", "203.0.113.50, 198.51.100.7", backend).await else { return };
    assert_eq!(ip, "198.51.100.7");
    // Not trusted: the header is the client's own claim and is ignored.
    let ip = recorded_ip("10.0.0.0/8", "198.51.100.7", backend).await.unwrap();
    assert_eq!(ip, "127.0.0.1");
}
both!(forwarded_addresses_count_only_from_trusted_proxies);

async fn proxied_requests_are_not_local(backend: Backend) {
    let tweak = |config: &mut Config| config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let Some(app) = spawn_app(backend, Options { smtp: false, tweak: Box::new(tweak) }).await else { return };
    let outbox = |forwarded: Option<&'static str>| {
        let request = app.client().post(app.url("/rpc/dev_outbox")).form(&[("cursor", "")]);
        match forwarded {
            Some(value) => request.header("x-forwarded-for", value),
            None => request,
        }
        .send()
    };
    let metrics = |forwarded: Option<&'static str>| {
        let request = app.client().get(app.url("/metrics"));
        match forwarded {
            Some(value) => request.header("x-forwarded-for", value),
            None => request,
        }
        .send()
    };
    // Directly from this machine: open, as before.
    assert_eq!(outbox(None).await.unwrap().status(), StatusCode::OK);
    assert_eq!(metrics(None).await.unwrap().status(), StatusCode::OK);
    // Through a proxy on this machine, even one claiming a local client: the ordinary 404.
    for forwarded in ["198.51.100.7", "127.0.0.1"] {
        assert_eq!(outbox(Some(forwarded)).await.unwrap().status(), StatusCode::NOT_FOUND, "{forwarded}");
        assert_eq!(metrics(Some(forwarded)).await.unwrap().status(), StatusCode::NOT_FOUND, "{forwarded}");
    }
    app.stop().await;

    // Served over https, the outbox is off even for direct local requests.
    let tweak = |config: &mut Config| config.public_url = "https://gatehouse.test".parse().unwrap();
    let Some(app) = spawn_app(backend, Options { smtp: false, tweak: Box::new(tweak) }).await else { return };
    let res = app.client().post(app.url("/rpc/dev_outbox")).form(&[("cursor", "")]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}
both!(proxied_requests_are_not_local);

/// A page at `http://rebound.test:PORT` whose name now resolves to this server is same-origin
/// with itself: its Origin matches the Host it sends, but not our public URL.
async fn dns_rebound_pages_cannot_post(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let client = app.client();
    let email = app.signup(&client, "Ada").await;
    let port = app.base.rsplit(':').next().unwrap();
    let rebound = format!("http://rebound.test:{port}");
    let res = client
        .post(app.url("/rpc/login"))
        .header("host", format!("rebound.test:{port}"))
        .header("origin", rebound.as_str())
        .header("sec-fetch-site", "same-origin")
        .form(&[("email", email.as_str()), ("password", STRONG_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("cross_site_request"));
    app.stop().await;
}
both!(dns_rebound_pages_cannot_post);
