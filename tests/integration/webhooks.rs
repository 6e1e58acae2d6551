//! Webhooks against a real receiver process (tests/support/webhook_receiver.py) that verifies every
//! delivery with the reference `standardwebhooks` library: signatures and rotation, the event
//! catalogue, retries with Retry-After, 410 and five-day disabling, redirects, body caps, SSRF
//! refusals, scopes and tenancy.
use crate::both;
use crate::support::{error_of, spawn_app, Backend, Options, TestApp};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The receiver process, killed when dropped.
pub struct Receiver {
    child: Child,
    pub base: String,
}

impl Receiver {
    pub fn start() -> Receiver {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/webhook_receiver.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the webhook receiver (make system-deps installs standardwebhooks)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("listening ").unwrap_or_else(|| panic!("receiver said {line:?}"));
        Receiver { child, base: format!("http://127.0.0.1:{port}") }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn trust(&self, secrets: &[&str]) {
        let res = crate::support::http().post(self.url("/control/secrets")).json(&secrets).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
    }

    pub async fn received(&self) -> Vec<Value> {
        crate::support::http().get(self.url("/control/received")).send().await.unwrap().json().await.unwrap()
    }

    pub async fn summary(&self) -> Value {
        crate::support::http().get(self.url("/control/summary")).send().await.unwrap().json().await.unwrap()
    }

    /// Waits until `count` deliveries matched `pred`; returns them.
    pub async fn wait_for(&self, count: usize, what: &str, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found: Vec<Value> = self.received().await.into_iter().filter(|r| pred(r)).collect();
            if found.len() >= count {
                return found;
            }
            assert!(Instant::now() < deadline, "waited 20 s for {count} × {what}; got {}", found.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn body_of(delivery: &Value) -> Value {
    serde_json::from_str(delivery["body"].as_str().unwrap()).unwrap()
}

pub fn of_type(event_type: &'static str) -> impl Fn(&Value) -> bool {
    move |r| body_of(r)["type"] == event_type
}

/// Loopback receivers need both switches a production server keeps off.
pub fn allow_loopback() -> Options {
    Options {
        smtp: true,
        tweak: Box::new(|config| {
            config.webhook_allow_private = true;
            config.webhook_allow_http = true;
        }),
    }
}

pub async fn owner_with_org(app: &TestApp) -> (Client, String) {
    let owner = app.client();
    app.signup(&owner, "Olivia Owner").await;
    let org = app.create_org(&owner, "Acme").await;
    (owner, org["id"].as_str().unwrap().to_owned())
}

pub async fn create_webhook(app: &TestApp, client: &Client, org: &str, url: &str, events: &[&str]) -> Value {
    let res =
        app.post(client, &format!("/api/v1/organizations/{org}/webhooks"), json!({"url": url, "events": events})).await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

async fn json_of(res: reqwest::Response, expected: StatusCode) -> Value {
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, expected, "{text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Polls a delivery until `done` holds.
async fn wait_delivery(app: &TestApp, client: &Client, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let delivery = json_of(app.get(client, path).await, StatusCode::OK).await;
        if done(&delivery) {
            return delivery;
        }
        assert!(Instant::now() < deadline, "delivery never reached the expected state: {delivery}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Makes a pending delivery due now (the test's clock moves instead of waiting minutes).
async fn make_due(app: &TestApp, delivery: &str) {
    sqlx::query("UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE id = $2")
        .bind(chrono::Utc::now().timestamp_millis())
        .bind(delivery)
        .execute(&app.pool())
        .await
        .unwrap();
}

async fn lifecycle(backend: Backend) {
    let Some(app) = spawn_app(backend, allow_loopback()).await else { return };
    let receiver = Receiver::start();
    let (owner, org) = owner_with_org(&app).await;
    let base = format!("/api/v1/organizations/{org}/webhooks");

    let created = create_webhook(
        &app,
        &owner,
        &org,
        &receiver.url("/ok"),
        &["member.added", "member.role_changed", "invitation.created", "invitation.accepted"],
    )
    .await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    let raw = secret.strip_prefix("whsec_").expect("whsec_ prefix");
    assert!(base64_len(raw) >= 24, "{secret}");
    assert_eq!(created["active"], true);
    assert_eq!(created["stats"]["total_deliveries"], 0);
    let id = created["id"].as_str().unwrap().to_owned();
    receiver.trust(&[&secret]).await;

    // The secret is never shown again, and never stored in clear.
    let read = json_of(app.get(&owner, &format!("{base}/{id}")).await, StatusCode::OK).await;
    assert!(read.get("secret").is_none());
    let listed = json_of(app.get(&owner, &base).await, StatusCode::OK).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(&secret));
    let stored: String =
        sqlx::query_scalar("SELECT secret FROM webhook_endpoints").fetch_one(&app.pool()).await.unwrap();
    assert!(stored.starts_with("v1:") && !stored.contains(raw), "stored encrypted: {stored}");

    // A test event, verified by the reference library in the receiver.
    let queued = json_of(app.post(&owner, &format!("{base}/{id}/test"), json!({})).await, StatusCode::ACCEPTED).await;
    assert_eq!(queued["event_type"], "ping");
    let pings = receiver.wait_for(1, "ping", of_type("ping")).await;
    assert_eq!(pings[0]["verified"], json!([true]), "{}", pings[0]);
    assert_eq!(pings[0]["webhook_id"], queued["event_id"]);
    let envelope = body_of(&pings[0]);
    assert_eq!(envelope["organization_id"], org.as_str());
    assert_eq!(envelope["id"], queued["event_id"]);
    assert!(envelope["timestamp"].as_str().unwrap().ends_with('Z'));
    let delivery_path = format!("{base}/{id}/deliveries/{}", queued["id"].as_str().unwrap());
    let done = wait_delivery(&app, &owner, &delivery_path, |d| d["status"] == "succeeded").await;
    assert_eq!(done["attempts"].as_array().unwrap().len(), 1);
    let attempt = &done["attempts"][0];
    assert_eq!(attempt["status"], 200);
    assert_eq!(attempt["response_body"], "ok");
    assert_eq!(serde_json::from_str::<Value>(attempt["request_body"].as_str().unwrap()).unwrap(), envelope);

    // Real changes: an invitation accepted is invitation.created, invitation.accepted and member.added.
    let member = app.add_member(&owner, &org, "Sam Member", "member").await;
    let added = receiver.wait_for(1, "member.added", of_type("member.added")).await;
    let data = &body_of(&added[0])["data"];
    assert_eq!(data["user_id"], member.id.as_str());
    assert_eq!(data["role"], "member");
    assert_eq!(data["actor"]["type"], "user");
    receiver.wait_for(1, "invitation.created", of_type("invitation.created")).await;
    receiver.wait_for(1, "invitation.accepted", of_type("invitation.accepted")).await;
    let res = owner
        .patch(app.url(&format!("/api/v1/organizations/{org}/members/{}", member.id)))
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let changed = receiver.wait_for(1, "member.role_changed", of_type("member.role_changed")).await;
    assert_eq!(body_of(&changed[0])["data"]["after"]["role"], "admin");
    // Unsubscribed types are not sent.
    assert!(receiver.received().await.iter().all(|r| body_of(r)["type"] != "organization.updated"));

    // Filters on the delivery log.
    let log =
        json_of(app.get(&owner, &format!("{base}/{id}/deliveries?event_type=member.added")).await, StatusCode::OK)
            .await;
    assert_eq!(log["data"].as_array().unwrap().len(), 1);
    let log = json_of(app.get(&owner, &format!("{base}/{id}/deliveries?status=failed")).await, StatusCode::OK).await;
    assert_eq!(log["data"].as_array().unwrap().len(), 0);
    let (status, err) = error_of(app.get(&owner, &format!("{base}/{id}/deliveries?status=lost")).await).await;
    assert_eq!((status, err["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("status")));
    let stats = json_of(app.get(&owner, &format!("{base}/{id}")).await, StatusCode::OK).await["stats"].clone();
    assert!(stats["successes"].as_i64().unwrap() >= 5 && stats["failures"] == 0, "{stats}");
    assert!(stats["last_success_at"].is_string());

    // Rotation: for 24 h both signatures are sent; either secret verifies.
    let rotated =
        json_of(app.post(&owner, &format!("{base}/{id}/rotate-secret"), json!({})).await, StatusCode::OK).await;
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    receiver.trust(&[&secret, &new_secret]).await;
    let queued = json_of(app.post(&owner, &format!("{base}/{id}/test"), json!({})).await, StatusCode::ACCEPTED).await;
    let after = receiver.wait_for(1, "ping after rotation", move |r| r["webhook_id"] == queued["event_id"]).await;
    assert_eq!(after[0]["verified"], json!([true, true]), "{}", after[0]);
    assert_eq!(after[0]["signature"].as_str().unwrap().split(' ').count(), 2);

    // Everything above is audited.
    let audit = json_of(
        app.get(&owner, &format!("/api/v1/organizations/{org}/audit-logs?resource_type=webhook")).await,
        StatusCode::OK,
    )
    .await;
    let actions: Vec<&str> = audit["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in ["webhook.created", "webhook.test_sent", "webhook.secret_rotated"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }

    // Changes and validation.
    // Signed out: 401.
    let res = app.client().patch(app.url(&format!("{base}/{id}"))).json(&json!({})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = owner
        .patch(app.url(&format!("{base}/{id}")))
        .json(&json!({"description": "CRM sync", "events": ["audit.event"]}))
        .send()
        .await
        .unwrap();
    let patched = json_of(res, StatusCode::OK).await;
    assert_eq!(
        (patched["description"].as_str(), patched["events"].clone()),
        (Some("CRM sync"), json!(["audit.event"]))
    );
    for (body, field) in [
        (json!({"url": receiver.url("/ok"), "events": []}), "events"),
        (json!({"url": receiver.url("/ok"), "events": ["member.exploded"]}), "events"),
        (json!({"url": "not a url", "events": ["member.added"]}), "url"),
        (json!({"url": "ftp://example.com/x", "events": ["member.added"]}), "url"),
    ] {
        let (status, err) = error_of(app.post(&owner, &base, body.clone()).await).await;
        assert_eq!(
            (status, err["details"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{body}"
        );
    }

    // audit.event streams every audit row as written.
    let res = owner
        .patch(app.url(&format!("/api/v1/organizations/{org}")))
        .json(&json!({"name": "Acme Two"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let rows = receiver
        .wait_for(1, "audit.event organization.updated", |r| {
            let body = body_of(r);
            body["type"] == "audit.event" && body["data"]["action"] == "organization.updated"
        })
        .await;
    let data = &body_of(&rows[0])["data"];
    assert_eq!(data["metadata"]["after"]["name"], "Acme Two");
    assert!(data["hash"].as_str().unwrap().len() == 64);

    // Delete: gone, and its log with it.
    let res = owner.delete(app.url(&format!("{base}/{id}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&owner, &format!("{base}/{id}")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get(&owner, &delivery_path).await.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}
both!(lifecycle);

fn base64_len(encoded: &str) -> usize {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(encoded).map(|b| b.len()).unwrap_or(0)
}

async fn retries_and_disabling(backend: Backend) {
    let Some(app) = spawn_app(backend, allow_loopback()).await else { return };
    let receiver = Receiver::start();
    let (owner, org) = owner_with_org(&app).await;
    let base = format!("/api/v1/organizations/{org}/webhooks");
    let test = |id: String| {
        let (app, owner, base) = (&app, &owner, &base);
        async move { json_of(app.post(owner, &format!("{base}/{id}/test"), json!({})).await, StatusCode::ACCEPTED).await }
    };
    let path_of =
        |hook: &str, delivery: &Value| format!("{base}/{hook}/deliveries/{}", delivery["id"].as_str().unwrap());

    // A 500 is retried after about 5 s, then about 5 min.
    let failing = create_webhook(&app, &owner, &org, &receiver.url("/status/500"), &["member.added"]).await;
    let hook = failing["id"].as_str().unwrap().to_owned();
    let queued = test(hook.clone()).await;
    let path = path_of(&hook, &queued);
    let first = wait_delivery(&app, &owner, &path, |d| {
        d["attempts"].as_array().unwrap().len() == 1 && d["next_attempt_at"].is_string()
    })
    .await;
    assert_eq!((first["status"].as_str(), first["last_status"].as_i64()), (Some("pending"), Some(500)));
    assert_eq!(first["attempts"][0]["error"], "HTTP 500");
    let wait = seconds_until(&first["next_attempt_at"], &first["attempts"][0]["attempted_at"]);
    assert!((4.4..=5.6).contains(&wait), "first retry after {wait} s");
    make_due(&app, queued["id"].as_str().unwrap()).await;
    let second = wait_delivery(&app, &owner, &path, |d| {
        d["attempts"].as_array().unwrap().len() == 2 && d["next_attempt_at"].is_string()
    })
    .await;
    let wait = seconds_until(&second["next_attempt_at"], &second["attempts"][1]["attempted_at"]);
    assert!((270.0..=330.0).contains(&wait), "second retry after {wait} s");

    // Fixing the endpoint and retrying by hand delivers the same event (same webhook-id).
    let res = owner
        .patch(app.url(&format!("{base}/{hook}")))
        .json(&json!({"url": receiver.url("/ok")}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (status, err) = error_of(app.post(&owner, &format!("{path}/retry"), json!({})).await).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some("delivery_pending")));
    make_due(&app, queued["id"].as_str().unwrap()).await;
    let done = wait_delivery(&app, &owner, &path, |d| d["status"] == "succeeded").await;
    assert_eq!(done["attempts"].as_array().unwrap().len(), 3);
    json_of(app.post(&owner, &format!("{path}/retry"), json!({})).await, StatusCode::ACCEPTED).await;
    wait_delivery(&app, &owner, &path, |d| d["attempts"].as_array().unwrap().len() == 4 && d["status"] == "succeeded")
        .await;
    let ids: Vec<Value> = receiver.received().await.iter().map(|r| r["webhook_id"].clone()).collect();
    assert!(ids.len() >= 4 && ids.iter().all(|id| *id == queued["event_id"]), "{ids:?}");

    // Retry-After is honoured: never sooner than asked.
    let busy = create_webhook(&app, &owner, &org, &receiver.url("/retry-after/900"), &["member.added"]).await;
    let busy_id = busy["id"].as_str().unwrap().to_owned();
    let queued = test(busy_id.clone()).await;
    let after = wait_delivery(&app, &owner, &path_of(&busy_id, &queued), |d| {
        d["next_attempt_at"].is_string() && d["last_status"] == 503
    })
    .await;
    let wait = seconds_until(&after["next_attempt_at"], &after["attempts"][0]["attempted_at"]);
    assert!((899.0..=901.0).contains(&wait), "Retry-After 900 gave {wait} s");

    // Redirects are failures and are not followed.
    let redirect = create_webhook(&app, &owner, &org, &receiver.url("/redirect"), &["member.added"]).await;
    let redirect_id = redirect["id"].as_str().unwrap().to_owned();
    let queued = test(redirect_id.clone()).await;
    let failed = wait_delivery(&app, &owner, &path_of(&redirect_id, &queued), |d| d["last_status"] == 302).await;
    assert!(failed["attempts"][0]["error"].as_str().unwrap().contains("redirects are not followed"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let followed = receiver.received().await.into_iter().filter(|r| r["webhook_id"] == queued["event_id"]).count();
    assert_eq!(followed, 1, "only the redirecting URL was called");

    // Answers are read only up to 64 KB.
    let big = create_webhook(&app, &owner, &org, &receiver.url("/big"), &["member.added"]).await;
    let big_id = big["id"].as_str().unwrap().to_owned();
    let queued = test(big_id.clone()).await;
    let done = wait_delivery(&app, &owner, &path_of(&big_id, &queued), |d| d["status"] == "succeeded").await;
    assert_eq!(done["attempts"][0]["response_body"].as_str().unwrap().len(), 64 * 1024);

    // 410 Gone disables at once: audited, admins emailed, and other endpoints hear webhook.disabled.
    let watcher = create_webhook(&app, &owner, &org, &receiver.url("/ok"), &["webhook.disabled"]).await;
    receiver.trust(&[watcher["secret"].as_str().unwrap()]).await;
    let gone = create_webhook(&app, &owner, &org, &receiver.url("/status/410"), &["member.added"]).await;
    let gone_id = gone["id"].as_str().unwrap().to_owned();
    let queued = test(gone_id.clone()).await;
    let failed = wait_delivery(&app, &owner, &path_of(&gone_id, &queued), |d| d["status"] == "failed").await;
    assert_eq!(failed["last_status"], 410);
    let endpoint = json_of(app.get(&owner, &format!("{base}/{gone_id}")).await, StatusCode::OK).await;
    assert_eq!(endpoint["active"], false);
    assert!(endpoint["disabled_reason"].as_str().unwrap().contains("410"));
    let heard = receiver.wait_for(1, "webhook.disabled", of_type("webhook.disabled")).await;
    assert_eq!(heard[0]["verified"], json!([true]));
    assert_eq!(body_of(&heard[0])["data"]["webhook_id"], gone_id.as_str());
    assert_eq!(body_of(&heard[0])["data"]["actor"]["type"], "system");
    let me: Value = app.get(&owner, "/api/v1/me").await.json().await.unwrap();
    let mail =
        app.smtp.as_ref().unwrap().wait_for(me["email"].as_str().unwrap(), "A webhook endpoint was disabled", 1).await;
    assert!(mail.body.contains("410 Gone"), "{}", mail.body);
    let (status, err) = error_of(app.post(&owner, &format!("{base}/{gone_id}/test"), json!({})).await).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some("webhook_disabled")));

    // Failing for five days disables too; enabling again clears the streak.
    let stuck = create_webhook(&app, &owner, &org, &receiver.url("/status/503"), &["member.added"]).await;
    let stuck_id = stuck["id"].as_str().unwrap().to_owned();
    let five_days_ago = chrono::Utc::now().timestamp_millis() - 5 * 24 * 3600 * 1000 - 1000;
    sqlx::query("UPDATE webhook_endpoints SET failing_since = $1 WHERE id = $2")
        .bind(five_days_ago)
        .bind(&stuck_id)
        .execute(&app.pool())
        .await
        .unwrap();
    let queued = test(stuck_id.clone()).await;
    wait_delivery(&app, &owner, &path_of(&stuck_id, &queued), |d| d["status"] == "failed").await;
    let endpoint = json_of(app.get(&owner, &format!("{base}/{stuck_id}")).await, StatusCode::OK).await;
    assert_eq!(endpoint["active"], false);
    assert!(endpoint["disabled_reason"].as_str().unwrap().contains("5 days"), "{endpoint}");
    let res = owner.patch(app.url(&format!("{base}/{stuck_id}"))).json(&json!({"active": true})).send().await.unwrap();
    let enabled = json_of(res, StatusCode::OK).await;
    assert_eq!((enabled["active"].as_bool(), enabled["disabled_reason"].as_str()), (Some(true), None));
    let audit = json_of(
        app.get(&owner, &format!("/api/v1/organizations/{org}/audit-logs?action=webhook.disabled")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(audit["data"].as_array().unwrap().len(), 2);
    app.stop().await;
}
both!(retries_and_disabling);

fn seconds_until(later: &Value, earlier: &Value) -> f64 {
    let parse = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    (parse(later) - parse(earlier)).num_milliseconds() as f64 / 1000.0
}

/// Production settings: https only, no private addresses, checked when saving and when connecting.
async fn ssrf_refusals(backend: Backend) {
    let options = Options { smtp: false, tweak: Box::new(|config| config.webhook_allow_http = true) };
    let Some(app) = spawn_app(backend, options).await else { return };
    let receiver = Receiver::start();
    let (owner, org) = owner_with_org(&app).await;
    let base = format!("/api/v1/organizations/{org}/webhooks");
    for (url, class) in [
        ("http://127.0.0.1/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://10.0.0.8/hook", "private"),
        ("http://192.168.1.1/hook", "private"),
        ("http://[fd00::1]/hook", "private"),
        ("http://169.254.1.1/hook", "link-local"),
        ("http://[fe80::1]/hook", "link-local"),
        ("http://100.64.0.1/hook", "carrier-grade NAT"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://[::ffff:127.0.0.1]/hook", "IPv4-mapped IPv6"),
        ("http://169.254.169.254/latest/meta-data", "cloud metadata"),
    ] {
        let (status, err) =
            error_of(app.post(&owner, &base, json!({"url": url, "events": ["member.added"]})).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        assert!(err["message"].as_str().unwrap().contains(class), "{url}: {err}");
    }
    // A name is checked when connecting, after DNS: localhost resolves to loopback and is refused,
    // with the reason in the delivery log and nothing sent.
    let port = receiver.base.rsplit(':').next().unwrap().to_owned();
    let named = create_webhook(&app, &owner, &org, &format!("http://localhost:{port}/ok"), &["member.added"]).await;
    let id = named["id"].as_str().unwrap();
    let queued = json_of(app.post(&owner, &format!("{base}/{id}/test"), json!({})).await, StatusCode::ACCEPTED).await;
    let path = format!("{base}/{id}/deliveries/{}", queued["id"].as_str().unwrap());
    let failed = wait_delivery(&app, &owner, &path, |d| d["attempts"].as_array().is_some_and(|a| !a.is_empty())).await;
    let error = failed["attempts"][0]["error"].as_str().unwrap();
    assert!(error.contains("refused") && error.contains("loopback"), "{error}");
    assert!(failed["attempts"][0]["status"].is_null());
    assert!(receiver.received().await.is_empty(), "nothing reached the receiver");
    app.stop().await;
}
both!(ssrf_refusals);

async fn https_required_by_default(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let (owner, org) = owner_with_org(&app).await;
    let (status, err) = error_of(
        app.post(
            &owner,
            &format!("/api/v1/organizations/{org}/webhooks"),
            json!({"url": "http://example.com/hook", "events": ["member.added"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(err["message"].as_str().unwrap().contains("https"), "{err}");
    let created = create_webhook(&app, &owner, &org, "https://example.com/hook", &["api_key.revoked"]).await;
    assert_eq!(created["url"], "https://example.com/hook");
    app.stop().await;
}
both!(https_required_by_default);

async fn scopes_and_tenancy(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let (owner, org) = owner_with_org(&app).await;
    // Subscribed to an event this test never causes: nothing is sent anywhere.
    let hook = create_webhook(&app, &owner, &org, "https://example.com/hook", &["api_key.revoked"]).await;
    let hook_id = hook["id"].as_str().unwrap();
    let base = format!("/api/v1/organizations/{org}/webhooks");

    // Another organization's owner sees 404, like a made-up id.
    let stranger = app.client();
    app.signup(&stranger, "Stan Stranger").await;
    let other = app.create_org(&stranger, "Other").await;
    let (status, err) = error_of(app.get(&stranger, &format!("{base}/{hook_id}")).await).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let other_base = format!("/api/v1/organizations/{}/webhooks", other["id"].as_str().unwrap());
    assert_eq!(app.get(&stranger, &format!("{other_base}/{hook_id}")).await.status(), StatusCode::NOT_FOUND);

    // Members may not manage webhooks; keys need webhooks:write.
    let member = app.add_member(&owner, &org, "Mia Member", "member").await;
    let (status, _) = error_of(app.get(&member.client, &base).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let key_with = |scopes: Value| {
        let (app, owner, org) = (&app, &owner, &org);
        async move {
            let res = app
                .post(owner, &format!("/api/v1/organizations/{org}/api-keys"), json!({"name": "k", "scopes": scopes}))
                .await;
            json_of(res, StatusCode::CREATED).await["secret"].as_str().unwrap().to_owned()
        }
    };
    let reader = key_with(json!(["org:read"])).await;
    let writer = key_with(json!(["webhooks:write"])).await;
    let res = crate::support::http().get(app.url(&base)).bearer_auth(&reader).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = crate::support::http().get(app.url(&base)).bearer_auth(&writer).send().await.unwrap();
    assert_eq!(json_of(res, StatusCode::OK).await["data"].as_array().unwrap().len(), 1);
    let res = crate::support::http()
        .post(app.url(&base))
        .bearer_auth(&writer)
        .json(&json!({"url": "https://example.org/k", "events": ["api_key.revoked"]}))
        .send()
        .await
        .unwrap();
    json_of(res, StatusCode::CREATED).await;

    // The catalogue is public and has a schema per type.
    let types = json_of(
        crate::support::http().get(app.url("/api/v1/webhook-event-types")).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    let names: Vec<&str> = types.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    for name in [
        "organization.updated",
        "organization.deleted",
        "member.added",
        "member.removed",
        "member.role_changed",
        "invitation.created",
        "invitation.accepted",
        "invitation.revoked",
        "api_key.created",
        "api_key.revoked",
        "webhook.disabled",
        "audit.event",
        "ping",
    ] {
        assert!(names.contains(&name), "{name}");
    }
    assert!(types.as_array().unwrap().iter().all(|t| t["schema"]["properties"]["data"].is_object()));
    app.stop().await;
}
both!(scopes_and_tenancy);

/// Finished deliveries older than the retention period are purged; pending ones never are.
async fn retention(backend: Backend) {
    let Some(app) = spawn_app(backend, allow_loopback()).await else { return };
    let receiver = Receiver::start();
    let (owner, org) = owner_with_org(&app).await;
    let hook = create_webhook(&app, &owner, &org, &receiver.url("/status/500"), &["member.added"]).await;
    let id = hook["id"].as_str().unwrap();
    let base = format!("/api/v1/organizations/{org}/webhooks/{id}");
    for _ in 0..2 {
        let queued = json_of(app.post(&owner, &format!("{base}/test"), json!({})).await, StatusCode::ACCEPTED).await;
        let path = format!("{base}/deliveries/{}", queued["id"].as_str().unwrap());
        wait_delivery(&app, &owner, &path, |d| {
            d["next_attempt_at"].is_string() && !d["attempts"].as_array().unwrap().is_empty()
        })
        .await;
    }
    // Switched off, the endpoint's retries wait; both deliveries are made 31 days old, one finished.
    let res = owner.patch(app.url(&base)).json(&json!({"active": false})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let old = chrono::Utc::now().timestamp_millis() - 31 * 24 * 3600 * 1000;
    let pool = app.pool();
    sqlx::query("UPDATE webhook_deliveries SET created_at = $1").bind(old).execute(&pool).await.unwrap();
    sqlx::query("UPDATE webhook_deliveries SET status = 'succeeded', next_attempt_at = NULL WHERE id = (SELECT MIN(id) FROM webhook_deliveries)")
        .execute(&pool)
        .await
        .unwrap();
    let state = &app.running.as_ref().unwrap().state;
    let removed = gatehouse::server::service::webhooks::delivery::purge_old(state).await.unwrap();
    assert_eq!(removed, 1);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries").fetch_one(&pool).await.unwrap();
    assert_eq!(left, 1, "the pending delivery stays");
    let attempts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_attempts").fetch_one(&pool).await.unwrap();
    assert_eq!(attempts, 1, "the purged delivery's attempts went with it");
    app.stop().await;
}
both!(retention);

/// Stopping the server lets an attempt in flight finish (within the grace period) and records it.
async fn graceful_shutdown_finishes_in_flight(backend: Backend) {
    let Some(mut app) = spawn_app(backend, allow_loopback()).await else { return };
    let receiver = Receiver::start();
    let (owner, org) = owner_with_org(&app).await;
    let hook = create_webhook(&app, &owner, &org, &receiver.url("/slow/1500"), &["member.added"]).await;
    let id = hook["id"].as_str().unwrap();
    let queued = json_of(
        app.post(&owner, &format!("/api/v1/organizations/{org}/webhooks/{id}/test"), json!({})).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let delivery = queued["id"].as_str().unwrap().to_owned();
    let pool = app.pool();
    let leased = "SELECT COUNT(*) FROM webhook_deliveries WHERE id = $1 AND lease_until IS NOT NULL";
    let deadline = Instant::now() + Duration::from_secs(10);
    while sqlx::query_scalar::<_, i64>(leased).bind(&delivery).fetch_one(&pool).await.unwrap() == 0 {
        assert!(Instant::now() < deadline, "the delivery was never claimed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The attempt takes 1.5 s; the grace period is 10 s. (The database outlives the server here.)
    app.running.take().unwrap().stop().await;
    let status: String = sqlx::query_scalar("SELECT status FROM webhook_deliveries WHERE id = $1")
        .bind(&delivery)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "succeeded", "the attempt in flight finished and was recorded before the server stopped");
    assert_eq!(receiver.received().await.len(), 1);
    app.stop().await;
}
both!(graceful_shutdown_finishes_in_flight);
