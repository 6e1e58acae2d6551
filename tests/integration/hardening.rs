//! Issue 18: keys bounded by their creator, no secret at rest in stored responses, atomic sign-in
//! throttling with device cookies, and refused accesses visible in `/metrics`.
use crate::api_keys::{issue, owner_with_org, with_key};
use crate::both;
use crate::support::{error_of, spawn_app, Backend, Options, TestApp, STRONG_PASSWORD};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use sqlx::Row;

/// A key acts with its scopes ∩ its creator's current permissions: a demotion narrows it at once,
/// a removal stops it (and says which keys), and an Owner can take it over.
async fn keys_follow_their_creator(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let (owner, org) = owner_with_org(&app).await;
    let admin = app.add_member(&owner, &org, "Adam Admin", "admin").await;
    let viewer = app.add_member(&owner, &org, "Vera Viewer", "viewer").await;
    let issued = issue(
        &app,
        &admin.client,
        &org,
        json!({"name": "Ops", "scopes": ["org:read", "members:read", "members:write"]}),
    )
    .await;
    let (key, key_id) = (issued["secret"].as_str().unwrap().to_owned(), issued["id"].as_str().unwrap().to_owned());
    let demote_viewer = |key: &str| {
        with_key(&app, Method::PATCH, &format!("/api/v1/organizations/{org}/members/{}", viewer.id), key)
            .json(&json!({"role": "member"}))
    };
    assert_eq!(demote_viewer(&key).send().await.unwrap().status(), StatusCode::OK);

    // The admin becomes a member: the key keeps only what a member has, from the next request.
    let path = format!("/api/v1/organizations/{org}/members/{}", admin.id);
    let res = owner.patch(app.url(&path)).json(&json!({"role": "member"})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let (status, err) = error_of(demote_viewer(&key).send().await.unwrap()).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::FORBIDDEN, Some("permission_denied")));
    let members = with_key(&app, Method::GET, &format!("/api/v1/organizations/{org}/members"), &key);
    assert_eq!(members.send().await.unwrap().status(), StatusCode::OK);

    // Removed: the key stops at once, and the answer, the audit log and the key list say so.
    let res = owner.delete(app.url(&format!("/api/v1/organizations/{org}/members/{}", admin.id))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let removed: Value = res.json().await.unwrap();
    assert_eq!(removed["affected_api_keys"][0]["id"], key_id.as_str(), "{removed}");
    let members = with_key(&app, Method::GET, &format!("/api/v1/organizations/{org}/members"), &key);
    let (status, err) = error_of(members.send().await.unwrap()).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_api_key")));
    let audit: Value = app
        .get(&owner, &format!("/api/v1/organizations/{org}/audit-logs?action=member.removed"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["data"][0]["metadata"]["affected_api_keys"][0]["id"], key_id.as_str(), "{audit}");
    let listed: Value =
        app.get(&owner, &format!("/api/v1/organizations/{org}/api-keys/{key_id}")).await.json().await.unwrap();
    assert_eq!(listed["status"], "creator_removed");

    // Only an Owner takes it over; then it works again, with the Owner's permissions.
    let manager = app.add_member(&owner, &org, "Mia Manager", "admin").await;
    let reassign = format!("/api/v1/organizations/{org}/api-keys/{key_id}/reassign");
    let (status, _) = error_of(app.post(&manager.client, &reassign, json!({})).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let res = app.post(&owner, &reassign, json!({})).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let taken: Value = res.json().await.unwrap();
    assert_eq!(taken["status"], "active");
    let audit: Value = app
        .get(&owner, &format!("/api/v1/organizations/{org}/audit-logs?action=api_key.reassigned"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["data"][0]["resource_id"], key_id.as_str(), "{audit}");
    let members = with_key(&app, Method::GET, &format!("/api/v1/organizations/{org}/members"), &key);
    assert_eq!(members.send().await.unwrap().status(), StatusCode::OK);
    app.stop().await;
}
both!(keys_follow_their_creator);

/// A key that manages keys cannot make (or change) one to outlive itself.
async fn minted_keys_do_not_outlive_their_maker(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let (owner, org) = owner_with_org(&app).await;
    let in_days = |d: i64| (chrono::Utc::now() + chrono::Duration::days(d)).to_rfc3339();
    let maker = issue(
        &app,
        &owner,
        &org,
        json!({"name": "Maker", "scopes": ["org:read", "api_keys:write"], "expires_at": in_days(2)}),
    )
    .await;
    let maker = maker["secret"].as_str().unwrap();
    let mint = |expires: Option<String>| {
        with_key(&app, Method::POST, &format!("/api/v1/organizations/{org}/api-keys"), maker)
            .json(&json!({"name": "Child", "scopes": ["org:read"], "expires_at": expires}))
    };
    for expires in [None, Some(in_days(3))] {
        let (status, err) = error_of(mint(expires.clone()).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{expires:?}: {err}");
        assert_eq!(err["details"]["field"], "expires_at");
    }
    let res = mint(Some(in_days(1))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap());
    let child: Value = res.json().await.unwrap();
    let patch = with_key(
        &app,
        Method::PATCH,
        &format!("/api/v1/organizations/{org}/api-keys/{}", child["id"].as_str().unwrap()),
        maker,
    )
    .json(&json!({"expires_at": null}));
    let (status, _) = error_of(patch.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}
both!(minted_keys_do_not_outlive_their_maker);

/// Every text and binary value of every table, as text (binary as escaped bytes).
async fn every_value(app: &TestApp, backend: Backend) -> Vec<(String, String)> {
    let pool = app.pool();
    let columns_sql = match backend {
        Backend::Sqlite => "SELECT m.name AS t, p.name AS c, p.type AS ty FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table'",
        Backend::Postgres => "SELECT '\"' || table_schema || '\".\"' || table_name || '\"' AS t, column_name::text AS c, data_type::text AS ty
            FROM information_schema.columns WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
    };
    let columns = sqlx::query(columns_sql).fetch_all(&pool).await.unwrap();
    let mut values = Vec::new();
    for row in columns {
        let (table, column, kind): (String, String, String) = (row.get("t"), row.get("c"), row.get("ty"));
        let sqlite_blob = matches!(backend, Backend::Sqlite) && kind.eq_ignore_ascii_case("blob");
        let expr = match (backend, kind.as_str()) {
            (Backend::Postgres, "bytea") => format!("encode(\"{column}\", 'escape')"),
            _ if sqlite_blob => format!("\"{column}\""),
            _ => format!("CAST(\"{column}\" AS TEXT)"),
        };
        let sql = format!("SELECT {expr} AS v FROM {table}");
        for row in sqlx::query(&sql).fetch_all(&pool).await.unwrap() {
            let value = if sqlite_blob {
                row.get::<Option<Vec<u8>>, _>("v").map(|b| String::from_utf8_lossy(&b).into_owned())
            } else {
                row.get::<Option<String>, _>("v")
            };
            if let Some(v) = value {
                values.push((format!("{table}.{column}").replace('"', ""), v));
            }
        }
    }
    values
}

/// Replayed responses still carry the secret, but no table holds one in plaintext.
async fn stored_responses_hold_no_secret(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let (owner, org) = owner_with_org(&app).await;
    let send = |path: String, body: Value, key: &'static str| {
        let owner = owner.clone();
        let url = app.url(&path);
        async move {
            let res = owner.post(url).header("idempotency-key", key).json(&body).send().await.unwrap();
            assert!(res.status().is_success(), "{path}");
            res.json::<Value>().await.unwrap()
        }
    };
    let keys = format!("/api/v1/organizations/{org}/api-keys");
    let created = send(keys.clone(), json!({"name": "CI", "scopes": ["org:read"]}), "k1").await;
    let key_id = created["id"].as_str().unwrap();
    let rolled = send(format!("{keys}/{key_id}/roll"), json!({"grace_period_hours": 1}), "k2").await;
    let hooks = format!("/api/v1/organizations/{org}/webhooks");
    let hook =
        send(hooks.clone(), json!({"url": "https://hooks.example.com/in", "events": ["member.added"]}), "k3").await;
    let hook_id = hook["id"].as_str().unwrap();
    let rotated = send(format!("{hooks}/{hook_id}/rotate-secret"), json!({}), "k4").await;
    let secrets: Vec<String> = [&created, &rolled, &hook, &rotated]
        .iter()
        .map(|v| v["secret"].as_str().expect("a secret in the answer").to_owned())
        .collect();

    let replay = owner
        .post(app.url(&keys))
        .header("idempotency-key", "k1")
        .json(&json!({"name": "CI", "scopes": ["org:read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap()["secret"], secrets[0].as_str());

    let values = every_value(&app, backend).await;
    assert!(values.iter().any(|(at, _)| at.contains("idempotency_keys.body")), "the scan reaches stored responses");
    for secret in &secrets {
        // The part after the recognisable prefix, which nothing but the secret contains.
        let body = &secret[secret.len() - 30..];
        if let Some((at, _)) = values.iter().find(|(_, v)| v.contains(body)) {
            panic!("a secret is stored in plaintext in {at}");
        }
    }
    app.stop().await;
}
both!(stored_responses_hold_no_secret);

async fn login(app: &TestApp, client: &Client, email: &str, password: &str) -> StatusCode {
    app.login(client, email, password).await.status()
}

/// A burst of wrong passwords gets at most the configured number of real checks; the person's own
/// browser still signs in while the account is throttled, and they are told once.
async fn sign_in_throttle_is_atomic_and_spares_known_browsers(backend: Backend) {
    let Some(app) = spawn_app(backend, Options::default()).await else { return };
    let browser = app.client();
    let email = app.signup(&browser, "Tess Target").await;
    assert_eq!(login(&app, &browser, &email, STRONG_PASSWORD).await, StatusCode::OK);

    let attacker = app.client();
    let burst = (0..80).map(|i| {
        let (app, attacker, email) = (&app, attacker.clone(), email.clone());
        async move { login(app, &attacker, &email, &format!("wrong-{i}")).await }
    });
    let answers = futures::future::join_all(burst).await;
    let checked = answers.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    assert!(checked <= 10, "{checked} passwords were checked in a burst (at most 10 allowed): {answers:?}");
    assert!(answers.iter().all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS));

    // The attacker's address is its own bucket; here everyone is 127.0.0.1, so forget that one to
    // play a person signing in from elsewhere.
    sqlx::query("DELETE FROM throttle_events WHERE bucket LIKE 'login:ip:%'").execute(&app.pool()).await.unwrap();
    assert_eq!(login(&app, &app.client(), &email, STRONG_PASSWORD).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(login(&app, &browser, &email, STRONG_PASSWORD).await, StatusCode::OK, "a known browser gets in");

    let mail = app.mail(&email, "Too many sign-in attempts").await;
    assert!(mail.body.contains("Browsers you signed in with before"), "{}", mail.body);
    // Once per window, however long the attack goes on.
    assert_eq!(login(&app, &attacker, &email, "wrong-again").await, StatusCode::TOO_MANY_REQUESTS);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let warned = app.smtp.as_ref().unwrap().all();
    assert_eq!(warned.iter().filter(|m| m.to == email && m.subject.contains("Too many sign-in")).count(), 1);
    app.stop().await;
}
both!(sign_in_throttle_is_atomic_and_spares_known_browsers);

async fn refusals(app: &TestApp, reason: &str) -> u64 {
    let text = app.get(&app.client(), "/metrics").await.text().await.unwrap();
    let line = format!("gatehouse_authz_refusals_total{{reason=\"{reason}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&line)).unwrap_or_else(|| panic!("{line} in {text}")).parse().unwrap()
}

/// Probing another organization (404) or a permission (403) is counted in `/metrics`.
async fn refused_access_is_counted(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let (owner, org) = owner_with_org(&app).await;
    let viewer = app.add_member(&owner, &org, "Vera Viewer", "viewer").await;
    let outsider = app.client();
    app.signup(&outsider, "Otto Outsider").await;
    let (not_found, forbidden) = (refusals(&app, "not_found").await, refusals(&app, "forbidden").await);
    assert_eq!(app.get(&outsider, &format!("/api/v1/organizations/{org}")).await.status(), StatusCode::NOT_FOUND);
    let res = app
        .post(
            &viewer.client,
            &format!("/api/v1/organizations/{org}/api-keys"),
            json!({"name": "x", "scopes": ["org:read"]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(refusals(&app, "not_found").await > not_found);
    assert!(refusals(&app, "forbidden").await > forbidden);
    app.stop().await;
}
both!(refused_access_is_counted);
