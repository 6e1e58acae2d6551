//! API keys over /api/v1: issue, scopes, isolation, revoke/roll/expiry, the API switch, rate
//! limits and their headers, usage metering and Idempotency-Key.
use crate::both;
use crate::support::{error_of, spawn_app, Backend, Options, TestApp};
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

pub(crate) async fn issue(app: &TestApp, owner: &Client, org: &str, body: Value) -> Value {
    let res = app.post(owner, &format!("/api/v1/organizations/{org}/api-keys"), body).await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

/// A signed-up owner (their client) and the id of a new organization "Acme".
pub(crate) async fn owner_with_org(app: &TestApp) -> (Client, String) {
    let owner = app.client();
    app.signup(&owner, "Olivia Owner").await;
    let org = app.create_org(&owner, "Acme").await;
    (owner, org["id"].as_str().unwrap().to_owned())
}

/// A request with `Authorization: Bearer <key>` and no cookies.
pub(crate) fn with_key(app: &TestApp, method: Method, path: &str, key: &str) -> RequestBuilder {
    crate::support::http().request(method, app.url(path)).bearer_auth(key)
}

async fn lifecycle(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let (owner, id) = owner_with_org(&app).await;
    let id = id.as_str();

    let issued = issue(&app, &owner, id, json!({"name": "CI", "scopes": ["members:read", "org:read"]})).await;
    let secret = issued["secret"].as_str().unwrap();
    assert!(secret.starts_with("gk_live_") && secret.len() == 57, "{secret}");
    assert_eq!(issued["key_prefix"], secret[..12]);
    assert_eq!(issued["scopes"], json!(["org:read", "members:read"]));
    assert_eq!(issued["status"], "active");
    let key_id = issued["id"].as_str().unwrap();

    // The secret is shown once: listing and reading never return it.
    let list: Value = app.get(&owner, &format!("/api/v1/organizations/{id}/api-keys")).await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(list["data"][0].get("secret").is_none());
    assert!(!list.to_string().contains(&secret[12..]));

    let res = with_key(&app, Method::GET, &format!("/api/v1/organizations/{id}"), secret).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["api-version"], "1");
    let policy = res.headers()["ratelimit-policy"].to_str().unwrap().to_owned();
    assert!(policy.contains("\"key\";q=1000;w=3600") && policy.contains("\"org\";q=1000;w=3600"), "{policy}");
    // The owner's own calls in this organization (issuing and listing) counted against it too.
    let current = res.headers()["ratelimit"].to_str().unwrap();
    assert!(current.starts_with("\"org\";r=997;t="), "{current}");
    let members =
        with_key(&app, Method::GET, &format!("/api/v1/organizations/{id}/members"), secret).send().await.unwrap();
    assert_eq!(members.status(), StatusCode::OK);

    // Outside its scopes, or anything that needs a person: refused.
    let invite = with_key(&app, Method::POST, &format!("/api/v1/organizations/{id}/invite"), secret)
        .json(&json!({"email": "x@example.com"}))
        .send()
        .await
        .unwrap();
    let (status, err) = error_of(invite).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::FORBIDDEN, Some("permission_denied")));
    let (status, err) = error_of(with_key(&app, Method::GET, "/api/v1/me", secret).send().await.unwrap()).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::FORBIDDEN, Some("person_required")));

    // A key that manages keys cannot mint one wider than itself.
    let manager = issue(&app, &owner, id, json!({"name": "Keys", "scopes": ["api_keys:write", "org:read"]})).await;
    let manager = manager["secret"].as_str().unwrap();
    let wider = with_key(&app, Method::POST, &format!("/api/v1/organizations/{id}/api-keys"), manager)
        .json(&json!({"name": "Wider", "scopes": ["members:write"]}))
        .send()
        .await
        .unwrap();
    let (status, err) = error_of(wider).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::FORBIDDEN, Some("scope_not_held")));
    let narrower = with_key(&app, Method::POST, &format!("/api/v1/organizations/{id}/api-keys"), manager)
        .json(&json!({"name": "Reader", "scopes": ["org:read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(narrower.status(), StatusCode::CREATED);
    let narrower: Value = narrower.json().await.unwrap();
    // Made by a key, it acts for the same person as the key that made it.
    assert_eq!(narrower["created_by"], issued["created_by"]);

    // Key actions are audited with the key as the actor.
    let audit: Value = app
        .get(&owner, &format!("/api/v1/organizations/{id}/audit-logs?action=api_key.created"))
        .await
        .json()
        .await
        .unwrap();
    let actors: Vec<(&str, &str)> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["actor_type"].as_str().unwrap(), e["actor_name"].as_str().unwrap()))
        .collect();
    assert_eq!(actors, vec![("api_key", "Keys"), ("user", "Olivia Owner"), ("user", "Olivia Owner")]);

    // Change the key: name, narrower scopes, its own limit.
    let res = owner
        .patch(app.url(&format!("/api/v1/organizations/{id}/api-keys/{key_id}")))
        .json(&json!({"name": "CI reader", "scopes": ["org:read"], "rate_limit_per_hour": 50}))
        .send()
        .await
        .unwrap();
    let changed: Value = res.json().await.unwrap();
    assert_eq!((changed["name"].as_str(), changed["rate_limit_per_hour"].as_i64()), (Some("CI reader"), Some(50)));
    let members =
        with_key(&app, Method::GET, &format!("/api/v1/organizations/{id}/members"), secret).send().await.unwrap();
    assert_eq!(members.status(), StatusCode::FORBIDDEN, "scopes narrowed at once");

    // Revoked: refused at once, like an unknown key.
    let res = owner.delete(app.url(&format!("/api/v1/organizations/{id}/api-keys/{key_id}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let (status, err) =
        error_of(with_key(&app, Method::GET, &format!("/api/v1/organizations/{id}"), secret).send().await.unwrap())
            .await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_api_key")));
    let read: Value =
        app.get(&owner, &format!("/api/v1/organizations/{id}/api-keys/{key_id}")).await.json().await.unwrap();
    assert_eq!(read["status"], "revoked");
    let again = owner.delete(app.url(&format!("/api/v1/organizations/{id}/api-keys/{key_id}"))).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::GONE);
    app.stop().await;
}
both!(lifecycle);

async fn refusals_look_alike(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let (owner, id) = owner_with_org(&app).await;
    let id = id.as_str();
    let path = format!("/api/v1/organizations/{id}");
    let fresh = issue(&app, &owner, id, json!({"name": "Later", "scopes": ["org:read"]})).await;
    let fresh = fresh["secret"].as_str().unwrap();

    // Expired (set under the API, on a key never used so nothing is cached).
    sqlx::query("UPDATE api_keys SET expires_at = 1 WHERE name = 'Later'").execute(&app.pool()).await.unwrap();
    let mut flipped = fresh.to_owned().into_bytes();
    flipped[20] = if flipped[20] == b'a' { b'b' } else { b'a' };
    let unknown = gatehouse_like_key();
    for presented in [fresh.to_owned(), String::from_utf8(flipped).unwrap(), unknown, "gk_live_short".to_owned()] {
        let (status, err) = error_of(with_key(&app, Method::GET, &path, &presented).send().await.unwrap()).await;
        assert_eq!((status, err["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_api_key")), "{presented}");
        assert_eq!(err["message"], "The API key is not valid.");
    }
    let basic = crate::support::http().get(app.url(&path)).basic_auth("me", Some("pw")).send().await.unwrap();
    assert_eq!(error_of(basic).await.1["code"], "invalid_authorization");

    // Expiry must be in the future; scopes must exist; the key's limit stays within the tier.
    for (body, field) in [
        (json!({"name": "x", "scopes": ["org:read"], "expires_at": "2001-01-01T00:00:00Z"}), "expires_at"),
        (json!({"name": "x", "scopes": ["org:everything"]}), "scopes"),
        (json!({"name": "x", "scopes": []}), "scopes"),
        (json!({"name": " ", "scopes": ["org:read"]}), "name"),
        (json!({"name": "x", "scopes": ["org:read"], "rate_limit_per_hour": 1001}), "rate_limit_per_hour"),
    ] {
        let res = app.post(&owner, &format!("/api/v1/organizations/{id}/api-keys"), body.clone()).await;
        let (status, err) = error_of(res).await;
        assert_eq!(
            (status, err["details"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{body}"
        );
    }
    app.stop().await;
}
both!(refusals_look_alike);

/// A well-formed key (right checksum) that was never issued.
fn gatehouse_like_key() -> String {
    // Issue-like keys are made by the server only; a well-formed unknown one is any valid
    // checksum over random text, which the server's own generator provides.
    gatehouse::server::auth::api_key::generate().secret
}

async fn isolation_and_switch(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let owner = app.client();
    app.signup(&owner, "Olivia Owner").await;
    let a = app.create_org(&owner, "Alpha").await;
    let b = app.create_org(&owner, "Beta").await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let key = issue(&app, &owner, a, json!({"name": "A", "scopes": ["org:read", "members:read"]})).await;
    let key = key["secret"].as_str().unwrap();

    // Org B, even though the creator owns it, answers exactly like a made-up id.
    let other =
        error_of(with_key(&app, Method::GET, &format!("/api/v1/organizations/{b}/members"), key).send().await.unwrap())
            .await;
    let nobody = uuid::Uuid::now_v7();
    let missing = error_of(
        with_key(&app, Method::GET, &format!("/api/v1/organizations/{nobody}/members"), key).send().await.unwrap(),
    )
    .await;
    assert_eq!(other.0, StatusCode::NOT_FOUND);
    assert_eq!(other, missing);

    // Turning the API off answers 403 api_disabled for every key of that organization, at once.
    let res = owner
        .patch(app.url(&format!("/api/v1/organizations/{a}")))
        .json(&json!({"api_enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (status, err) =
        error_of(with_key(&app, Method::GET, &format!("/api/v1/organizations/{a}"), key).send().await.unwrap()).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::FORBIDDEN, Some("api_disabled")));
    app.stop().await;
}
both!(isolation_and_switch);

/// Each single-scope key reaches exactly the endpoint that needs its scope.
async fn scope_matrix(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let (owner, id) = owner_with_org(&app).await;
    let id = id.as_str();
    let endpoints: [(&str, Method, String, Option<Value>); 6] = [
        ("org:read", Method::GET, format!("/api/v1/organizations/{id}"), None),
        ("org:write", Method::PATCH, format!("/api/v1/organizations/{id}"), Some(json!({"primary_color": "#123456"}))),
        ("members:read", Method::GET, format!("/api/v1/organizations/{id}/members"), None),
        ("invitations:write", Method::GET, format!("/api/v1/organizations/{id}/invitations"), None),
        ("audit:read", Method::GET, format!("/api/v1/organizations/{id}/audit-logs"), None),
        ("api_keys:write", Method::GET, format!("/api/v1/organizations/{id}/api-keys"), None),
    ];
    for (scope, ..) in &endpoints {
        let key = issue(&app, &owner, id, json!({"name": scope, "scopes": [scope]})).await;
        let key = key["secret"].as_str().unwrap();
        for (needs, method, path, body) in &endpoints {
            let mut req = with_key(&app, method.clone(), path, key);
            if let Some(body) = body {
                req = req.json(body);
            }
            let status = req.send().await.unwrap().status();
            let expected = if needs == scope { StatusCode::OK } else { StatusCode::FORBIDDEN };
            assert_eq!(status, expected, "key with {scope} on {method} {path}");
        }
    }
    app.stop().await;
}
both!(scope_matrix);

async fn roll_and_grace(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let (owner, id) = owner_with_org(&app).await;
    let id = id.as_str();
    let path = format!("/api/v1/organizations/{id}");
    let first = issue(&app, &owner, id, json!({"name": "Rolling", "scopes": ["org:read"]})).await;
    let key_id = first["id"].as_str().unwrap();
    let first = first["secret"].as_str().unwrap();
    let roll = |body: Value| {
        let url = app.url(&format!("/api/v1/organizations/{id}/api-keys/{key_id}/roll"));
        owner.post(url).json(&body).send()
    };

    let res = roll(json!({})).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let second: Value = res.json().await.unwrap();
    assert!(second["previous_secret_expires_at"].is_string(), "{second}");
    let second = second["secret"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    for key in [first, second.as_str()] {
        assert_eq!(with_key(&app, Method::GET, &path, key).send().await.unwrap().status(), StatusCode::OK);
    }

    // No grace: only the newest secret works, at once.
    let res = roll(json!({"grace_period_hours": 0})).await.unwrap();
    let third: Value = res.json().await.unwrap();
    assert!(third["previous_secret_expires_at"].is_null());
    let third = third["secret"].as_str().unwrap();
    for (key, expected) in
        [(first, StatusCode::UNAUTHORIZED), (second.as_str(), StatusCode::UNAUTHORIZED), (third, StatusCode::OK)]
    {
        assert_eq!(with_key(&app, Method::GET, &path, key).send().await.unwrap().status(), expected);
    }
    let (status, err) = error_of(roll(json!({"grace_period_hours": 169})).await.unwrap()).await;
    assert_eq!(
        (status, err["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("grace_period_hours"))
    );
    app.stop().await;
}
both!(roll_and_grace);

async fn limits_and_usage(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let (owner, id) = owner_with_org(&app).await;
    let id = id.as_str();
    let path = format!("/api/v1/organizations/{id}");
    let key = issue(&app, &owner, id, json!({"name": "Small", "scopes": ["org:read"], "rate_limit_per_hour": 3})).await;
    let key_id = key["id"].as_str().unwrap();
    let key = key["secret"].as_str().unwrap();

    for remaining in [2, 1, 0] {
        let res = with_key(&app, Method::GET, &path, key).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let current = res.headers()["ratelimit"].to_str().unwrap();
        assert!(current.starts_with(&format!("\"key\";r={remaining};t=")), "{current}");
    }
    let res = with_key(&app, Method::GET, &path, key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=1200).contains(&retry), "one request frees up every 20 minutes: {retry}");
    assert!(res.headers()["ratelimit-policy"].to_str().unwrap().contains("\"key\";q=3;w=3600"));
    assert_eq!(error_of(res).await.1["code"], "rate_limited");

    // Metered: 3 successes and a 429 for the key, plus the owner's own calls.
    app.get(&owner, &path).await;
    gatehouse::server::service::usage::flush(&app.running.as_ref().unwrap().state).await.unwrap();
    let usage: Value = app.get(&owner, &format!("{path}/usage")).await.json().await.unwrap();
    assert_eq!(usage["limit_per_hour"], 1000);
    assert_eq!(usage["hours"].as_array().unwrap().len(), 24);
    let now = &usage["hours"][23];
    assert!(now["success"].as_i64().unwrap() >= 4 && now["client_error"].as_i64().unwrap() >= 1, "{now}");
    let small = usage["by_key"].as_array().unwrap().iter().find(|k| k["key_id"] == key_id).unwrap();
    assert_eq!((small["name"].as_str(), small["calls"].as_i64()), (Some("Small"), Some(4)));
    let read: Value = app.get(&owner, &format!("{path}/api-keys/{key_id}")).await.json().await.unwrap();
    assert_eq!(read["total_requests"], 4);
    assert!(read["last_used_at"].is_string());
    app.stop().await;
}
both!(limits_and_usage);

async fn login_is_limited_per_ip(backend: Backend) {
    let tweak = |c: &mut gatehouse::server::config::Config| {
        c.auth_ip_quota = gatehouse::server::ratelimit::Quota::per_minute(3);
    };
    let Some(app) = spawn_app(backend, Options { smtp: false, tweak: Box::new(tweak) }).await else { return };
    let client = app.client();
    for _ in 0..3 {
        let res = app.login(&client, "nobody@example.com", "wrong password!").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert!(res.headers()["ratelimit-policy"].to_str().unwrap().contains("\"auth\";q=3;w=60"));
    }
    let res = app.login(&client, "nobody@example.com", "wrong password!").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    assert!(res.headers()["ratelimit"].to_str().unwrap().starts_with("\"auth\";r=0;"));
    // Other endpoints keep their own, larger budget.
    assert_eq!(app.get(&client, "/api/v1/me").await.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}
both!(login_is_limited_per_ip);

async fn idempotency_keys(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let (owner, id) = owner_with_org(&app).await;
    let id = id.as_str();
    let invite = |key: &str, email: &str| {
        owner
            .post(app.url(&format!("/api/v1/organizations/{id}/invite")))
            .header("idempotency-key", key)
            .json(&json!({"email": email}))
            .send()
    };

    let first = invite("invite-1", "ann@example.com").await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let replay = invite("invite-1", "ann@example.com").await.unwrap();
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.headers()["content-type"], "application/json");
    assert_eq!(replay.json::<Value>().await.unwrap(), first);

    let (status, err) = error_of(invite("invite-1", "bob@example.com").await.unwrap()).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("idempotency_key_reused")));

    // Errors that are results (here 409: already invited) are replayed too.
    let conflict = invite("invite-2", "ann@example.com").await.unwrap();
    assert_eq!(conflict.status(), StatusCode::CONFLICT);
    let again = invite("invite-2", "ann@example.com").await.unwrap();
    assert_eq!((again.status(), again.headers().contains_key("idempotent-replayed")), (StatusCode::CONFLICT, true));

    // Concurrent requests with one key: one runs; the others wait their turn (409) or replay.
    let racers = (0..6).map(|_| invite("invite-3", "cy@example.com"));
    let statuses: Vec<StatusCode> =
        futures::future::join_all(racers).await.into_iter().map(|r| r.unwrap().status()).collect();
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT), "{statuses:?}");
    assert!(statuses.contains(&StatusCode::CREATED), "{statuses:?}");
    let list: Value = app.get(&owner, &format!("/api/v1/organizations/{id}/invitations")).await.json().await.unwrap();
    let cy = list["data"].as_array().unwrap().iter().filter(|i| i["email"] == "cy@example.com").count();
    assert_eq!(cy, 1, "one invitation, whatever the race");

    // A request still in flight (claimed, no response yet) answers 409.
    let me: Value = app.get(&owner, "/api/v1/me").await.json().await.unwrap();
    sqlx::query(
        "INSERT INTO idempotency_keys (principal, idem_key, request_hash, created_at) VALUES ($1, 'busy', 'x', $2)",
    )
    .bind(format!("user:{}", me["id"].as_str().unwrap()))
    .bind(chrono::Utc::now().timestamp_millis())
    .execute(&app.pool())
    .await
    .unwrap();
    let (status, err) = error_of(invite("busy", "dee@example.com").await.unwrap()).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some("idempotency_key_in_use")));

    // A claim left without a response for over 10 minutes (its process died) does not block the key.
    sqlx::query("UPDATE idempotency_keys SET created_at = $1 WHERE idem_key = 'busy'")
        .bind((chrono::Utc::now() - chrono::Duration::minutes(11)).timestamp_millis())
        .execute(&app.pool())
        .await
        .unwrap();
    let retried = invite("busy", "dee@example.com").await.unwrap();
    assert_eq!(retried.status(), StatusCode::CREATED);
    assert!(retried.headers().get("idempotent-replayed").is_none());
    app.stop().await;
}
both!(idempotency_keys);

async fn deprecated_route_says_so(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let (owner, id) = owner_with_org(&app).await;
    let id = id.as_str();
    let old = app.post(&owner, &format!("/api/v1/organizations/{id}/invite"), json!({"email": "a@example.com"})).await;
    assert_eq!(old.status(), StatusCode::CREATED);
    assert_eq!(old.headers()["deprecation"], "@1764547200");
    assert_eq!(old.headers()["sunset"], "Tue, 01 Jun 2027 00:00:00 GMT");
    assert!(old.headers()["link"].to_str().unwrap().ends_with("/docs/guides/versioning>; rel=\"deprecation\""));
    let new =
        app.post(&owner, &format!("/api/v1/organizations/{id}/invitations"), json!({"email": "b@example.com"})).await;
    assert_eq!(new.status(), StatusCode::CREATED);
    assert!(new.headers().get("deprecation").is_none() && new.headers().get("sunset").is_none());
    assert_eq!(new.headers()["api-version"], "1");
    app.stop().await;
}
both!(deprecated_route_says_so);

/// With GATEHOUSE_REDIS_URL the key's counter lives in Redis (shared by replicas) and the API
/// answers the same way: headers, then 429 at the limit.
async fn limits_in_redis(backend: Backend) {
    let Some(redis_url) = crate::ratelimit::redis_url().await else { return };
    let url = redis_url.clone();
    let tweak = move |c: &mut gatehouse::server::config::Config| c.redis_url = Some(url);
    let Some(app) = spawn_app(backend, Options { smtp: false, tweak: Box::new(tweak) }).await else { return };
    let (owner, id) = owner_with_org(&app).await;
    let id = id.as_str();
    let key =
        issue(&app, &owner, id, json!({"name": "Shared", "scopes": ["org:read"], "rate_limit_per_hour": 2})).await;
    let (key_id, key) = (key["id"].as_str().unwrap(), key["secret"].as_str().unwrap());
    let path = format!("/api/v1/organizations/{id}");
    for remaining in [1, 0] {
        let res = with_key(&app, Method::GET, &path, key).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers()["ratelimit"].to_str().unwrap().starts_with(&format!("\"key\";r={remaining};")));
    }
    let res = with_key(&app, Method::GET, &path, key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let limiter = &app.running.as_ref().unwrap().state.limiter;
    assert_eq!((limiter.backend(), limiter.fallbacks()), ("redis", 0));
    let client = redis::Client::open(redis_url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let stored: bool =
        redis::cmd("EXISTS").arg(format!("gatehouse:rl:key:{key_id}")).query_async(&mut conn).await.unwrap();
    assert!(stored, "the key's budget is kept in Redis");
    app.stop().await;
}
both!(limits_in_redis);

/// The dashboard's sign-in server function shares the per-IP "auth" budget with the API's.
async fn dashboard_login_shares_the_ip_limit(backend: Backend) {
    let tweak = |c: &mut gatehouse::server::config::Config| {
        c.auth_ip_quota = gatehouse::server::ratelimit::Quota::per_minute(2);
    };
    let Some(app) = spawn_app(backend, Options { smtp: false, tweak: Box::new(tweak) }).await else { return };
    let client = app.client();
    assert_eq!(app.login(&client, "nobody@example.com", "wrong password!").await.status(), StatusCode::UNAUTHORIZED);
    let form = [("email", "nobody@example.com"), ("password", "wrong password!")];
    let rpc = client.post(app.url("/rpc/login")).form(&form).send().await.unwrap();
    assert_ne!(rpc.status(), StatusCode::TOO_MANY_REQUESTS, "the second attempt is within the budget");
    let rpc = client.post(app.url("/rpc/login")).form(&form).send().await.unwrap();
    assert_eq!(rpc.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(rpc.headers().contains_key("retry-after"));
    app.stop().await;
}
both!(dashboard_login_shares_the_ip_limit);
