//! Response headers that protect pages and sessions: the Content-Security-Policy with a nonce per
//! response, `no-store` on personal answers, HSTS and the `__Host-` cookie over https, and a
//! readiness check that says 503 while the database is away.
use crate::both;
use crate::support::{spawn_app, Backend, Options, TestApp};
use reqwest::{header, Response, StatusCode};

fn header_of(res: &Response, name: header::HeaderName) -> String {
    res.headers().get(&name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// The nonce in a policy's `script-src`, after checking that it allows no inline script without one.
fn script_nonce(policy: &str) -> String {
    let scripts = policy.split(';').map(str::trim).find(|d| d.starts_with("script-src ")).expect("script-src");
    assert!(scripts.split_whitespace().all(|s| s != "'unsafe-inline'" && s != "'unsafe-eval'"), "{scripts}");
    scripts
        .split_whitespace()
        .find_map(|s| s.strip_prefix("'nonce-")?.strip_suffix('\''))
        .unwrap_or_else(|| panic!("no nonce in {scripts}"))
        .to_owned()
}

/// Every `<script>` in `html` loads a file of ours or carries `nonce`; returns how many carry it.
fn scripts_with(html: &str, nonce: &str) -> usize {
    let mut with_nonce = 0;
    for tag in html.split("<script").skip(1).map(|rest| &rest[..rest.find('>').unwrap()]) {
        if tag.contains(&format!("nonce=\"{nonce}\"")) {
            with_nonce += 1;
        } else {
            assert!(tag.contains("src=\"./") || tag.contains("src=\"/"), "an inline script without the nonce: {tag}");
        }
    }
    with_nonce
}

async fn html(app: &TestApp, path: &str) -> (String, Response) {
    let res = app.get(&app.client(), path).await;
    assert!(header_of(&res, header::CONTENT_TYPE).starts_with("text/html"), "{path}");
    (header_of(&res, header::CONTENT_SECURITY_POLICY), res)
}

async fn pages_carry_a_content_security_policy_with_a_fresh_nonce(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let (policy, res) = html(&app, "/login").await;
    let nonce = script_nonce(&policy);
    assert!(policy.contains("frame-ancestors 'none'") && policy.contains("object-src 'none'"), "{policy}");
    assert_eq!(header_of(&res, header::CACHE_CONTROL), "no-store");
    assert!(res.headers().get(header::STRICT_TRANSPORT_SECURITY).is_none(), "no HSTS over plain http");
    let page = res.text().await.unwrap();
    assert!(scripts_with(&page, &nonce) >= 1, "the hydration script carries the nonce: {page}");
    let (again, _) = html(&app, "/login").await;
    assert_ne!(script_nonce(&again), nonce, "a nonce is used once");

    // A page Leptos answers from its fallback (404), the pages rendered outside Leptos (a refused
    // sign-in) and Swagger UI get a policy too, and none relies on an inline script.
    for path in ["/no-such-page", "/sso/start", "/docs/api/", "/docs"] {
        let (policy, res) = html(&app, path).await;
        let nonce = script_nonce(&policy);
        scripts_with(&res.text().await.unwrap(), &nonce);
    }
    // JSON answers are not pages (no policy) but may be personal: not stored by caches.
    let client = app.client();
    app.signup(&client, "Ada").await;
    let res = app.get(&client, "/api/v1/me").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header_of(&res, header::CACHE_CONTROL), "no-store");
    let (_, res) = html(&app, "/account").await;
    assert_eq!(header_of(&res, header::CACHE_CONTROL), "no-store");
    app.stop().await;
}
both!(pages_carry_a_content_security_policy_with_a_fresh_nonce);

async fn https_deployments_get_hsts_and_a_host_only_cookie(backend: Backend) {
    let tweak = Box::new(|config: &mut gatehouse::server::config::Config| {
        config.public_url = "https://gatehouse.test".parse().unwrap();
    });
    let Some(app) = spawn_app(backend, Options { smtp: false, tweak }).await else { return };
    let (_, res) = html(&app, "/login").await;
    assert_eq!(header_of(&res, header::STRICT_TRANSPORT_SECURITY), "max-age=31536000");
    let res = app
        .post(
            &app.client(),
            "/api/v1/auth/signup",
            serde_json::json!({"name": "Ada", "email": "ada@example.com", "password": crate::support::STRONG_PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let cookie = header_of(&res, header::SET_COOKIE);
    assert!(cookie.starts_with("__Host-gatehouse_session="), "{cookie}");
    assert!(cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"), "{cookie}");
    app.stop().await;
}
both!(https_deployments_get_hsts_and_a_host_only_cookie);

async fn readiness_is_503_while_the_database_is_unreachable(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    assert_eq!(app.get(&app.client(), "/readyz").await.status(), StatusCode::OK);
    app.running.as_ref().unwrap().state.db.pool().close().await;
    let res = app.get(&app.client(), "/readyz").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "database_unreachable");
    app.stop().await;
}
both!(readiness_is_503_while_the_database_is_unreachable);
