//! Single sign-on: connections over /api/v1, then real sign-ins against real peers on loopback, an
//! OpenID Provider (tests/support/oidc) walked as a plain HTTP client and an OpenLDAP directory
//! (tests/support/ldap). Just-in-time accounts, group-to-role mapping, every token check the
//! relying party owes, account linking only through verified domains, LDAP filter injection, and
//! the audit trail of each sign-in and refusal.
use crate::both;
use crate::peers::{location, oidc_login, OidcProvider, SamlIdp, Slapd};
use crate::support::{error_of, spawn_app, Backend, Options, TestApp};
use reqwest::{Client, Response, StatusCode, Url};
use serde_json::{json, Value};

const CLIENT_ID: &str = "gatehouse-test";
const CLIENT_SECRET: &str = "oidc-client-secret-4f1c9e";

/// Loopback peers over plain http:// and ldap:// are allowed only with `sso_allow_private`.
pub(crate) fn sso_options() -> Options {
    Options { smtp: false, tweak: Box::new(|config| config.sso_allow_private = true) }
}

/// An owner (their client) and their organization's id, with SSO sign-in turned on and the test
/// peers' domain, example.com, verified (an IdP vouches only for its organization's domains) unless
/// an earlier organization of the test has it.
pub(crate) async fn owner_with_org(app: &TestApp, name: &str) -> (Client, String) {
    let owner = app.client();
    app.signup(&owner, name).await;
    let org = app.create_org(&owner, name).await["id"].as_str().unwrap().to_owned();
    set_sso_enabled(app, &owner, &org, true).await;
    verify_domain(app, &org, "example.com").await;
    (owner, org)
}

pub(crate) async fn set_sso_enabled(app: &TestApp, owner: &Client, org: &str, on: bool) {
    let url = app.url(&format!("/api/v1/organizations/{org}"));
    let res = owner.patch(url).json(&json!({ "sso_enabled": on })).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
}

pub(crate) fn connections(org: &str) -> String {
    format!("/api/v1/organizations/{org}/sso-connections")
}

pub(crate) fn oidc_body(issuer: &str) -> Value {
    json!({
        "type": "oidc", "name": "Corp IdP", "issuer": issuer, "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET, "default_role": "member",
        "role_mapping": [{ "group": "gh-admins", "role": "admin" }],
    })
}

pub(crate) fn ldap_body(slapd: &Slapd) -> Value {
    json!({
        "type": "ldap", "name": "Directory", "url": slapd.url, "bind_dn": slapd.bind_dn,
        "bind_password": slapd.bind_password, "base_dn": slapd.base_dn, "user_filter": "(uid={username})",
        "group_attribute": "memberOf", "default_role": "member",
        "role_mapping": [{ "group": "gh-admins", "role": "admin" }],
    })
}

/// Creates a connection (201) and returns its JSON, after checking no secret came back.
pub(crate) async fn create_connection(app: &TestApp, owner: &Client, org: &str, body: Value) -> Value {
    let res = app.post(owner, &connections(org), body.clone()).await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_no_secret(&text, &body);
    serde_json::from_str(&text).unwrap()
}

/// Neither secret a body may carry appears in an answer's raw text.
fn assert_no_secret(text: &str, sent: &Value) {
    for key in ["client_secret", "bind_password"] {
        if let Some(secret) = sent[key].as_str().filter(|s| !s.is_empty()) {
            assert!(!text.contains(secret), "the {key} came back: {text}");
        }
    }
}

/// An OIDC connection to `provider`, registered there as a client with the connection's redirect URI.
pub(crate) async fn oidc_connection(app: &TestApp, owner: &Client, org: &str, provider: &OidcProvider) -> String {
    let conn = create_connection(app, owner, org, oidc_body(&provider.issuer)).await;
    provider.register_client(CLIENT_ID, CLIENT_SECRET, conn["redirect_uri"].as_str().unwrap()).await;
    conn["id"].as_str().unwrap().to_owned()
}

/// Starts a sign-in through `conn` on a fresh Gatehouse client and signs in at the provider as
/// `login` (on another fresh client); returns the Gatehouse client and the callback URL, not yet
/// visited.
pub(crate) async fn oidc_until_callback(app: &TestApp, conn: &str, login: &str) -> (Client, String) {
    let browser = app.client();
    let res = app.get(&browser, &format!("/sso/start?connection={conn}")).await;
    assert!(matches!(res.status().as_u16(), 302 | 303), "{:?}: {}", res.status(), res.text().await.unwrap());
    let authorize = location(&res);
    let query: Vec<(String, String)> = Url::parse(&authorize).unwrap().query_pairs().into_owned().collect();
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    assert!(param("state").is_some_and(|s| s.len() >= 16), "{authorize}");
    assert!(param("nonce").is_some_and(|s| s.len() >= 16), "{authorize}");
    assert!(param("code_challenge").is_some() && param("code_challenge_method") == Some("S256"), "{authorize}");
    assert_eq!(param("client_id"), Some(CLIENT_ID));
    let callback = oidc_login(&app.client(), &authorize, login).await;
    assert!(callback.starts_with(&app.url("/sso/oidc/callback?")), "{callback}");
    (browser, callback)
}

/// A whole OIDC sign-in as `login` that must succeed; returns the signed-in client.
pub(crate) async fn oidc_sign_in(app: &TestApp, conn: &str, org: &str, login: &str) -> Client {
    let (browser, callback) = oidc_until_callback(app, conn, login).await;
    let res = browser.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", res.text().await.unwrap());
    assert!(location(&res).ends_with(&format!("/orgs/{org}")), "{}", location(&res));
    browser
}

/// What `GET /api/v1/me` answers on this client: `None` when not signed in (401).
pub(crate) async fn me(app: &TestApp, client: &Client) -> Option<Value> {
    let res = app.get(client, "/api/v1/me").await;
    match res.status() {
        StatusCode::OK => Some(res.json().await.unwrap()),
        StatusCode::UNAUTHORIZED => None,
        other => panic!("/api/v1/me answered {other}"),
    }
}

/// The organization's member with this email, if any.
pub(crate) async fn member(app: &TestApp, owner: &Client, org: &str, email: &str) -> Option<Value> {
    let page: Value =
        app.get(owner, &format!("/api/v1/organizations/{org}/members?limit=200")).await.json().await.unwrap();
    page["data"].as_array().unwrap().iter().find(|m| m["email"] == email).cloned()
}

pub(crate) async fn role_of(app: &TestApp, owner: &Client, org: &str, email: &str) -> Option<String> {
    member(app, owner, org, email).await.map(|m| m["role"].as_str().unwrap().to_owned())
}

/// The organization's audit entries with this action, newest first.
pub(crate) async fn audit(app: &TestApp, owner: &Client, org: &str, action: &str) -> Vec<Value> {
    let path = format!("/api/v1/organizations/{org}/audit-logs?action={action}&limit=200");
    let page: Value = app.get(owner, &path).await.json().await.unwrap();
    page["data"].as_array().unwrap_or_else(|| panic!("{page}")).clone()
}

/// Marks `domain` as verified by `org`, as if its DNS check had passed (unless another
/// organization verified it first: only one can).
pub(crate) async fn verify_domain(app: &TestApp, org: &str, domain: &str) {
    let now = chrono::Utc::now().timestamp_millis();
    sqlx::query(
        "INSERT INTO org_domains (id, organization_id, domain, verification_token, verified_at, created_at)
         VALUES ($1, $2, $3, 'test', $4, $4) ON CONFLICT DO NOTHING",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(org)
    .bind(domain)
    .bind(now)
    .execute(&app.pool())
    .await
    .unwrap();
}

/// `url` with its query parameter `name` set to `value`.
pub(crate) fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut url = Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> =
        url.query_pairs().into_owned().map(|(k, v)| if k == name { (k, value.to_owned()) } else { (k, v) }).collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.to_string()
}

/// Checks refused OIDC callbacks against one organization's audit log.
struct Refusals<'a> {
    app: &'a TestApp,
    owner: &'a Client,
    org: &'a str,
}

impl Refusals<'_> {
    async fn failures(&self) -> usize {
        audit(self.app, self.owner, self.org, "sso.login_failed").await.len()
    }

    /// Visits `callback` on `client`: a 4xx page that says why (mentions `keyword`, in any case),
    /// no Gatehouse session, and (when `audited`) one more `sso.login_failed` entry.
    async fn callback(&self, client: &Client, callback: &str, keyword: &str, audited: bool) {
        let before = self.failures().await;
        let res = client.get(callback).send().await.unwrap();
        let status = res.status();
        let body = res.text().await.unwrap();
        assert!(status.is_client_error(), "{keyword}: {status}: {body}");
        assert!(body.to_lowercase().contains(&keyword.to_lowercase()), "no {keyword:?} in {status}: {body}");
        assert_eq!(me(self.app, client).await, None, "signed in after a refusal ({keyword})");
        if audited {
            assert_eq!(self.failures().await, before + 1, "no sso.login_failed for {keyword:?}");
        }
    }
}

async fn sso_connections_are_managed(backend: Backend) {
    let provider = OidcProvider::start();
    let slapd = Slapd::start();
    let Some(app) = spawn_app(backend, sso_options()).await else { return };
    let (owner, org) = owner_with_org(&app, "Acme").await;
    let base = connections(&org);

    // Each invalid field is named.
    let with = |mut body: Value, key: &str, value: Value| {
        if value.is_null() {
            body.as_object_mut().unwrap().remove(key);
        } else {
            body[key] = value;
        }
        body
    };
    let oidc = oidc_body(&provider.issuer);
    let ldap = ldap_body(&slapd);
    let cases = [
        (with(oidc.clone(), "client_secret", Value::Null), "client_secret"),
        (with(oidc.clone(), "client_secret", json!("")), "client_secret"),
        (with(oidc.clone(), "default_role", json!("emperor")), "default_role"),
        (with(oidc.clone(), "default_role", json!("owner")), "default_role"),
        (with(oidc.clone(), "issuer", json!("not a url")), "issuer"),
        (with(oidc.clone(), "name", json!("")), "name"),
        (with(oidc.clone(), "role_mapping", json!([{ "group": "x", "role": "owner" }])), "role_mapping"),
        (with(ldap.clone(), "url", json!("http://127.0.0.1:389")), "url"),
        (with(ldap.clone(), "user_filter", json!("(uid=alice)")), "user_filter"),
        (with(ldap.clone(), "bind_password", json!("")), "bind_password"),
    ];
    for (body, field) in cases {
        let (status, err) = error_of(app.post(&owner, &base, body.clone()).await).await;
        assert_eq!((status, err["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed")));
        assert_eq!(err["details"]["field"].as_str(), Some(field), "{body} → {err}");
    }
    let (status, err) = error_of(app.post(&owner, &base, with(oidc.clone(), "type", json!("kerberos"))).await).await;
    assert!(status.is_client_error(), "{status} {err}");
    assert!(app.get(&owner, &base).await.json::<Value>().await.unwrap()["data"].as_array().unwrap().is_empty());

    // Created: what the API shows, and never a secret.
    let created = create_connection(&app, &owner, &org, oidc.clone()).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["organization_id"].as_str(), Some(org.as_str()));
    assert_eq!((created["type"].as_str(), created["name"].as_str()), (Some("oidc"), Some("Corp IdP")));
    assert_eq!((created["enabled"].as_bool(), created["default_role"].as_str()), (Some(true), Some("member")));
    assert_eq!(created["role_mapping"], json!([{ "group": "gh-admins", "role": "admin" }]));
    assert_eq!(created["oidc"]["issuer"].as_str(), Some(provider.issuer.as_str()));
    assert_eq!(created["oidc"]["client_id"], CLIENT_ID);
    assert_eq!(created["redirect_uri"].as_str(), Some(app.url("/sso/oidc/callback").as_str()));
    assert!(created["ldap"].is_null() && created["oidc"]["client_secret"].is_null(), "{created}");
    assert!(created["sign_in_url"].as_str().unwrap().contains(&id), "{created}");
    assert!(created["created_at"].is_string() && created["updated_at"].is_string());
    let directory = create_connection(&app, &owner, &org, ldap.clone()).await;
    let ldap_id = directory["id"].as_str().unwrap().to_owned();
    assert_eq!(directory["type"], "ldap");
    assert!(directory["oidc"].is_null() && directory["redirect_uri"].is_null(), "{directory}");
    let settings = &directory["ldap"];
    assert_eq!((settings["url"].as_str(), settings["base_dn"].as_str()), (Some(&*slapd.url), Some(&*slapd.base_dn)));
    assert_eq!(settings["bind_dn"].as_str(), Some(slapd.bind_dn.as_str()));
    assert_eq!(
        (settings["user_filter"].as_str(), settings["group_attribute"].as_str()),
        (Some("(uid={username})"), Some("memberOf"))
    );
    // user_filter and group_attribute have defaults.
    let mut minimal = ldap.clone();
    minimal
        .as_object_mut()
        .unwrap()
        .retain(|k, _| !["user_filter", "group_attribute", "role_mapping"].contains(&k.as_str()));
    let defaulted = create_connection(&app, &owner, &org, minimal).await;
    assert_eq!(defaulted["ldap"]["user_filter"], "(uid={username})");
    assert_eq!(defaulted["ldap"]["group_attribute"], "memberOf");
    assert_eq!(defaulted["role_mapping"], json!([]));

    // Read, listed, changed: still no secret.
    let one = app.get(&owner, &format!("{base}/{id}")).await;
    assert_eq!(one.status(), StatusCode::OK);
    let text = one.text().await.unwrap();
    assert_no_secret(&text, &oidc);
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["id"].as_str(), Some(id.as_str()));
    let list = app.get(&owner, &base).await.text().await.unwrap();
    assert_no_secret(&list, &oidc);
    assert_no_secret(&list, &ldap);
    let listed: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 3, "{listed}");
    assert!(listed.get("next_cursor").is_some(), "{listed}");
    let patch = json!({
        "name": "Corp SSO", "enabled": false, "default_role": "viewer", "client_secret": "a-new-secret-77aa",
        "role_mapping": [{ "group": "gh-admins", "role": "admin" }, { "group": "staff", "role": "member" }],
    });
    let res = owner.patch(app.url(&format!("{base}/{id}"))).json(&patch).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert_no_secret(&text, &patch);
    assert_no_secret(&text, &oidc);
    let changed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((changed["name"].as_str(), changed["enabled"].as_bool()), (Some("Corp SSO"), Some(false)));
    assert_eq!(changed["default_role"], "viewer");
    assert_eq!(changed["role_mapping"].as_array().unwrap().len(), 2);
    let patch = json!({ "bind_password": "another-bind-secret", "user_filter": "(mail={username})" });
    let res = owner.patch(app.url(&format!("{base}/{ldap_id}"))).json(&patch).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    assert_no_secret(&text, &patch);
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["ldap"]["user_filter"], "(mail={username})");
    let res = owner.patch(app.url(&format!("{base}/{ldap_id}"))).json(&json!({ "url": "ftp://x" })).send().await;
    let (status, err) = error_of(res.unwrap()).await;
    assert_eq!((status, err["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("url")));

    // Test connection: discovery and keys of a live provider; plain words for a dead one.
    let tested: Value = app.post(&owner, &format!("{base}/{id}/test"), json!({})).await.json().await.unwrap();
    assert_eq!(tested["ok"], true, "{tested}");
    let dead = format!("http://127.0.0.1:{}", crate::support::free_port());
    let unreachable = create_connection(&app, &owner, &org, with(oidc.clone(), "issuer", json!(dead))).await;
    let res = app.post(&owner, &format!("{base}/{}/test", unreachable["id"].as_str().unwrap()), json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let tested: Value = res.json().await.unwrap();
    assert_eq!(tested["ok"], false, "{tested}");
    assert!(tested["message"].as_str().is_some_and(|m| m.len() > 10), "{tested}");

    // Members may not see or change connections; another organization cannot reach them.
    let member = app.add_member(&owner, &org, "Mia Member", "member").await;
    let (status, err) = error_of(app.get(&member.client, &base).await).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::FORBIDDEN, Some("permission_denied")));
    let (status, _) = error_of(app.post(&member.client, &base, oidc.clone()).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (rival, rival_org) = owner_with_org(&app, "Rival").await;
    for path in [format!("{base}/{id}"), format!("{}/{id}", connections(&rival_org))] {
        let (status, _) = error_of(app.get(&rival, &path).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        let (status, _) = error_of(rival.delete(app.url(&path)).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        let res = rival.patch(app.url(&path)).json(&json!({ "name": "Mine" })).send().await.unwrap();
        assert_eq!(error_of(res).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    let res = app.post(&rival, &format!("{}/{id}/test", connections(&rival_org)), json!({})).await;
    assert_eq!(error_of(res).await.0, StatusCode::NOT_FOUND);

    // Deleted.
    let res = owner.delete(app.url(&format!("{base}/{id}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(error_of(app.get(&owner, &format!("{base}/{id}")).await).await.0, StatusCode::NOT_FOUND);
    app.stop().await;
}
both!(sso_connections_are_managed);

async fn oidc_sign_in_provisions_and_maps_roles(backend: Backend) {
    let provider = OidcProvider::start();
    let Some(app) = spawn_app(backend, sso_options()).await else { return };
    let (owner, org) = owner_with_org(&app, "Acme").await;
    let conn = oidc_connection(&app, &owner, &org, &provider).await;
    assert_eq!(member(&app, &owner, &org, "alice@example.com").await, None);

    // Just in time: alice did not exist; the gh-admins group makes her an Admin.
    let alice = oidc_sign_in(&app, &conn, &org, "alice#gh-admins+staff").await;
    let me_alice = me(&app, &alice).await.expect("alice is signed in");
    assert_eq!((me_alice["email"].as_str(), me_alice["name"].as_str()), (Some("alice@example.com"), Some("Alice")));
    assert_eq!(role_of(&app, &owner, &org, "alice@example.com").await.as_deref(), Some("admin"));
    if let Some(method) = member(&app, &owner, &org, "alice@example.com").await.unwrap().get("last_sign_in_method") {
        assert_eq!(method, "oidc");
    }
    let sessions: Value = app.get(&alice, "/api/v1/me/sessions").await.json().await.unwrap();
    let current = sessions["data"].as_array().unwrap().iter().find(|s| s["current"] == true).cloned();
    assert_eq!(current.unwrap()["method"], "oidc");
    // She reaches her organization like any member.
    let res = app.get(&alice, &format!("/api/v1/organizations/{org}")).await;
    assert_eq!(res.status(), StatusCode::OK);

    // Bob only has staff: the default role.
    let bob = oidc_sign_in(&app, &conn, &org, "bob#staff").await;
    assert_eq!(me(&app, &bob).await.unwrap()["email"], "bob@example.com");
    assert_eq!(role_of(&app, &owner, &org, "bob@example.com").await.as_deref(), Some("member"));

    // Each sign-in is in the organization's audit log, by method.
    let signed_in = audit(&app, &owner, &org, "user.signed_in").await;
    let by_oidc = signed_in.iter().filter(|e| e["metadata"]["method"] == "oidc").count();
    assert_eq!(by_oidc, 2, "{signed_in:?}");

    // `sub` is the whole login string at this provider, so `alice#staff` is another identity with
    // alice's address: it signs nobody in until alice confirms the link (sso_linking.rs).
    let (browser, callback) = oidc_until_callback(&app, &conn, "alice#staff").await;
    let res = browser.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).ends_with("/sso/link"), "{}", location(&res));
    assert_eq!(me(&app, &browser).await, None);
    assert_eq!(role_of(&app, &owner, &org, "alice@example.com").await.as_deref(), Some("admin"));
    app.stop().await;
}
both!(oidc_sign_in_provisions_and_maps_roles);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_callbacks_that_do_not_check_out_are_refused() {
    let provider = OidcProvider::start();
    let Some(app) = spawn_app(Backend::Sqlite, sso_options()).await else { return };
    let (owner, org) = owner_with_org(&app, "Acme").await;
    let conn = oidc_connection(&app, &owner, &org, &provider).await;
    let refusals = Refusals { app: &app, owner: &owner, org: &org };

    // A state this browser was never given: nothing ties it to an organization, so maybe no audit.
    let (browser, callback) = oidc_until_callback(&app, &conn, "dave").await;
    let forged = with_param(&callback, "state", &uuid::Uuid::now_v7().simple().to_string());
    refusals.callback(&browser, &forged, "state", false).await;

    // A callback used twice: the second time is refused, in the same browser or another.
    let (browser, callback) = oidc_until_callback(&app, &conn, "erin").await;
    let res = browser.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = browser.get(&callback).send().await.unwrap();
    let status = res.status();
    assert!(status.is_client_error(), "{status}: {}", res.text().await.unwrap());
    refusals.callback(&app.client(), &callback, "state", false).await;

    // id_tokens the provider is told to spoil once, each refused with its reason.
    let now = chrono::Utc::now().timestamp();
    let spoiled = [
        (json!({ "nonce": "wrong" }), "nonce"),
        (json!({ "iss": "http://evil.example" }), "issuer"),
        (json!({ "aud": "someone-else" }), "another application"),
        (json!({ "exp": now - 3600, "iat": now - 7200 }), "expired"),
        (json!({ "iat": now + 3600, "exp": now + 7200 }), "in the future"),
        (json!({ "iat": now - 3600 }), "before this sign-in started"),
        (json!({ "__sign_with_other_key": true }), "signature"),
        (json!({ "__unsigned": true }), "sign"),
    ];
    for (overrides, keyword) in spoiled {
        provider.next_id_token(CLIENT_ID, overrides.clone()).await;
        let (browser, callback) = oidc_until_callback(&app, &conn, "frank#gh-admins").await;
        refusals.callback(&browser, &callback, keyword, true).await;
    }
    assert_eq!(member(&app, &owner, &org, "frank@example.com").await, None, "a refused sign-in made an account");
    assert_eq!(member(&app, &owner, &org, "dave@example.com").await, None);
    let failures = audit(&app, &owner, &org, "sso.login_failed").await;
    assert!(failures.len() >= 6, "{failures:?}");

    // Turned off for the organization, sign-in does not even start.
    set_sso_enabled(&app, &owner, &org, false).await;
    let browser = app.client();
    let res = app.get(&browser, &format!("/sso/start?connection={conn}")).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(me(&app, &browser).await, None);
    // ... and a disabled connection neither.
    set_sso_enabled(&app, &owner, &org, true).await;
    let res = owner.patch(app.url(&format!("{}/{conn}", connections(&org)))).json(&json!({ "enabled": false })).send();
    assert_eq!(res.await.unwrap().status(), StatusCode::OK);
    let res = app.get(&browser, &format!("/sso/start?connection={conn}")).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    app.stop().await;
}

async fn ldap_sign_in_provisions_and_maps_roles(backend: Backend) {
    let slapd = Slapd::start();
    let Some(app) = spawn_app(backend, sso_options()).await else { return };
    let (owner, org) = owner_with_org(&app, "Acme").await;
    let conn = create_connection(&app, &owner, &org, ldap_body(&slapd)).await["id"].as_str().unwrap().to_owned();
    let test = format!("{}/{conn}/test", connections(&org));

    // Test connection: the service bind alone, then a user's credentials.
    let tested: Value = app.post(&owner, &test, json!({})).await.json().await.unwrap();
    assert_eq!(tested["ok"], true, "{tested}");
    let tested: Value = app
        .post(&owner, &test, json!({ "username": "alice", "password": "alice-password" }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tested["ok"], true, "{tested}");
    let tested: Value =
        app.post(&owner, &test, json!({ "username": "alice", "password": "nope" })).await.json().await.unwrap();
    assert_eq!(tested["ok"], false, "{tested}");
    assert!(tested["message"].as_str().is_some_and(|m| !m.is_empty()), "{tested}");

    // The browser form: a redirect into the organization, signed in; gh-admins makes alice an Admin.
    let alice = app.client();
    let res = alice
        .post(app.url(&format!("/sso/ldap/{conn}/login")))
        .form(&[("username", "alice"), ("password", "alice-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", res.text().await.unwrap());
    assert!(location(&res).ends_with(&format!("/orgs/{org}")), "{}", location(&res));
    let me_alice = me(&app, &alice).await.expect("alice is signed in");
    assert_eq!(
        (me_alice["email"].as_str(), me_alice["name"].as_str()),
        (Some("alice@example.com"), Some("Alice Admin"))
    );
    assert_eq!(role_of(&app, &owner, &org, "alice@example.com").await.as_deref(), Some("admin"));

    // The JSON route answers like /api/v1/auth/login; bob is in staff only.
    let (bob, res) = ldap_login(&app, &conn, "bob", "bob-password").await;
    assert_eq!(res.status(), StatusCode::OK);
    let me_bob: Value = res.json().await.unwrap();
    assert_eq!(me_bob["email"], "bob@example.com");
    assert_eq!(me(&app, &bob).await.unwrap()["id"], me_bob["id"]);
    assert_eq!(role_of(&app, &owner, &org, "bob@example.com").await.as_deref(), Some("member"));
    if let Some(method) = member(&app, &owner, &org, "bob@example.com").await.unwrap().get("last_sign_in_method") {
        assert_eq!(method, "ldap");
    }

    // Alice again, by JSON: the same account (found by the directory entry, not by email).
    let (_, res) = ldap_login(&app, &conn, "alice", "alice-password").await;
    assert_eq!(res.json::<Value>().await.unwrap()["id"], me_alice["id"]);

    let signed_in = audit(&app, &owner, &org, "user.signed_in").await;
    assert_eq!(signed_in.iter().filter(|e| e["metadata"]["method"] == "ldap").count(), 3, "{signed_in:?}");
    app.stop().await;
}
both!(ldap_sign_in_provisions_and_maps_roles);

/// The JSON LDAP sign-in on a fresh client; returns the client and the answer.
pub(crate) async fn ldap_login(app: &TestApp, conn: &str, username: &str, password: &str) -> (Client, Response) {
    let client = app.client();
    let body = json!({ "username": username, "password": password });
    let res = app.post(&client, &format!("/api/v1/auth/ldap/{conn}/login"), body).await;
    (client, res)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_refuses_bad_credentials_and_filter_injection() {
    let slapd = Slapd::start();
    let Some(app) = spawn_app(Backend::Sqlite, sso_options()).await else { return };
    let (owner, org) = owner_with_org(&app, "Acme").await;
    let conn = create_connection(&app, &owner, &org, ldap_body(&slapd)).await["id"].as_str().unwrap().to_owned();

    let (client, res) = ldap_login(&app, &conn, "alice", "wrong-password").await;
    let (status, err) = error_of(res).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_credentials")));
    assert_eq!(me(&app, &client).await, None);
    assert!(!audit(&app, &owner, &org, "sso.login_failed").await.is_empty());

    // An empty password would be an unauthenticated bind, which some servers accept as anonymous.
    let (client, res) = ldap_login(&app, &conn, "alice", "").await;
    let (status, err) = error_of(res).await;
    assert_eq!((status, err["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("password")));
    assert_eq!(me(&app, &client).await, None);

    // Filter metacharacters in the name are escaped: they match nobody, whatever the password.
    for (username, password) in [
        ("*", "alice-password"),
        ("alice)(uid=*", "alice-password"),
        ("*)(|(uid=*", "alice-password"),
        ("*)(uid=admin", "admin-password"),
        ("alice*", "alice-password"),
    ] {
        let (client, res) = ldap_login(&app, &conn, username, password).await;
        let (status, _) = error_of(res).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{username}");
        assert_eq!(me(&app, &client).await, None, "{username} signed in");
    }
    assert_eq!(member(&app, &owner, &org, "alice@example.com").await, None);
    assert_eq!(member(&app, &owner, &org, "admin@example.com").await, None);
    assert!(audit(&app, &owner, &org, "sso.login_failed").await.len() >= 6);

    // Off for the organization, or the connection disabled: refused with the right password.
    set_sso_enabled(&app, &owner, &org, false).await;
    let (client, res) = ldap_login(&app, &conn, "alice", "alice-password").await;
    assert!(error_of(res).await.0.is_client_error());
    assert_eq!(me(&app, &client).await, None);
    set_sso_enabled(&app, &owner, &org, true).await;
    let res = owner.patch(app.url(&format!("{}/{conn}", connections(&org)))).json(&json!({ "enabled": false })).send();
    assert_eq!(res.await.unwrap().status(), StatusCode::OK);
    let (client, res) = ldap_login(&app, &conn, "alice", "alice-password").await;
    assert!(error_of(res).await.0.is_client_error());
    assert_eq!(me(&app, &client).await, None);
    app.stop().await;
}

/// A SAML connection to `idp` by metadata URL, registered there as the service provider.
pub(crate) async fn saml_connection(app: &TestApp, owner: &Client, org: &str, idp: &SamlIdp) -> Value {
    let body = json!({"type": "saml", "name": "Corp SAML", "idp_metadata_url": idp.metadata,
        "default_role": "member", "role_mapping": [{"group": "gh-admins", "role": "admin"}]});
    let conn = create_connection(app, owner, org, body).await;
    idp.register_sp(conn["saml"]["sp_entity_id"].as_str().unwrap(), conn["saml"]["acs_url"].as_str().unwrap()).await;
    conn
}

/// Starts a sign-in in a fresh browser and signs in at the IdP as `username`: the browser and the
/// response the IdP's page would post to the ACS.
pub(crate) async fn saml_response(app: &TestApp, idp: &SamlIdp, conn: &str, username: &str) -> (Client, String) {
    let browser = app.client();
    let res = app.get(&browser, &format!("/sso/start?connection={conn}")).await;
    assert!(res.status().is_redirection(), "{}", res.status());
    let authn = location(&res);
    assert!(authn.starts_with(&idp.base) && authn.contains("SAMLRequest="), "{authn}");
    let (response, _) = idp.response_from(&with_param(&format!("{authn}&username=x"), "username", username)).await;
    (browser, response)
}

pub(crate) async fn post_acs(app: &TestApp, browser: &Client, conn: &str, response: &str) -> Response {
    let url = app.url(&format!("/sso/saml/{conn}/acs"));
    browser.post(url).form(&[("SAMLResponse", response)]).send().await.unwrap()
}

async fn saml_sign_in_provisions_and_maps_roles(backend: Backend) {
    let idp = SamlIdp::start();
    let Some(app) = spawn_app(backend, sso_options()).await else { return };
    let (owner, org) = owner_with_org(&app, "Saml Org").await;
    let conn = saml_connection(&app, &owner, &org, &idp).await;
    let id = conn["id"].as_str().unwrap();
    assert_eq!(conn["type"], "saml");

    let metadata = app.get(&app.client(), &format!("/sso/saml/{id}/metadata")).await;
    assert_eq!(metadata.status(), StatusCode::OK);
    assert!(metadata.text().await.unwrap().contains(conn["saml"]["acs_url"].as_str().unwrap()));

    let (browser, response) = saml_response(&app, &idp, id, "alice#gh-admins+staff").await;
    let res = post_acs(&app, &browser, id, &response).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", res.text().await.unwrap());
    assert!(location(&res).ends_with(&format!("/orgs/{org}")));
    assert_eq!(me(&app, &browser).await.unwrap()["email"], "alice@example.com");
    assert_eq!(role_of(&app, &owner, &org, "alice@example.com").await.as_deref(), Some("admin"));
    let alice = member(&app, &owner, &org, "alice@example.com").await.unwrap();
    assert_eq!(alice["last_sign_in_method"], "saml");

    // The same response again, from another browser: its request id was used up, so it is
    // refused, audited, and makes no session.
    let thief = app.client();
    let res = post_acs(&app, &thief, id, &response).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("matches no open request"));
    assert!(me(&app, &thief).await.is_none());
    assert_eq!(audit(&app, &owner, &org, "sso.login_failed").await.len(), 1);
    app.stop().await;
}
both!(saml_sign_in_provisions_and_maps_roles);

/// `refresh_metadata` fetches the IdP's metadata again from where it was given; a new URL whose
/// metadata does not check out is refused and leaves the connection as it was.
#[tokio::test]
async fn saml_metadata_is_refreshed_from_its_url() {
    let idp = SamlIdp::start();
    let Some(app) = spawn_app(Backend::Sqlite, sso_options()).await else { return };
    let (owner, org) = owner_with_org(&app, "Saml Refresh").await;
    let conn = saml_connection(&app, &owner, &org, &idp).await;
    let url = format!("{}/{}", connections(&org), conn["id"].as_str().unwrap());
    let patch = |body: Value| owner.patch(app.url(&url)).json(&body).send();

    let before = audit(&app, &owner, &org, "sso_connection.updated").await.len();
    let res = patch(json!({ "refresh_metadata": true })).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let refreshed: Value = res.json().await.unwrap();
    assert_eq!(refreshed["saml"], conn["saml"]);
    assert_eq!(audit(&app, &owner, &org, "sso_connection.updated").await.len(), before + 1);

    let no_cert = format!("{}?no_cert=1", idp.metadata);
    let (status, err) = error_of(patch(json!({ "idp_metadata_url": no_cert })).await.unwrap()).await;
    assert_eq!(
        (status, err["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("idp_metadata_url"))
    );
    let kept: Value = owner.get(app.url(&url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(kept["saml"]["idp_metadata_url"], conn["saml"]["idp_metadata_url"]);

    // Metadata given as XML has nowhere to be fetched from.
    let xml = reqwest::get(&idp.metadata).await.unwrap().text().await.unwrap();
    let body = json!({"type": "saml", "name": "Pasted", "idp_metadata_xml": xml});
    let pasted = create_connection(&app, &owner, &org, body).await;
    let res = owner
        .patch(app.url(&format!("{}/{}", connections(&org), pasted["id"].as_str().unwrap())))
        .json(&json!({ "refresh_metadata": true }))
        .send();
    let (status, err) = error_of(res.await.unwrap()).await;
    assert_eq!(
        (status, err["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("refresh_metadata"))
    );
    app.stop().await;
}

#[tokio::test]
async fn saml_responses_that_do_not_check_out_are_refused() {
    let idp = SamlIdp::start();
    let Some(app) = spawn_app(Backend::Sqlite, sso_options()).await else { return };
    let (owner, org) = owner_with_org(&app, "Saml Refusals").await;
    let conn = saml_connection(&app, &owner, &org, &idp).await;
    let id = conn["id"].as_str().unwrap();
    let cases = [
        (json!({"unsigned": true}), "not signed by the IdP"),
        (json!({"sign_with_other_key": true}), "not signed by the IdP"),
        (json!({"sha1": true}), "SHA-1"),
        (json!({"audience": "http://wrong.example"}), "Audience"),
        (json!({"recipient": "http://wrong.example/acs"}), "Recipient"),
        (json!({"destination": "http://wrong.example/acs"}), "Destination"),
        (json!({"expired": true}), "seconds ago"),
        (json!({"not_before_future_secs": 600}), "seconds from now"),
        (json!({"in_response_to": "_unknown"}), "InResponseTo"),
        (json!({"omit_email": true}), "email address"),
    ];
    for (i, (flags, explanation)) in cases.iter().enumerate() {
        idp.next_response(flags.clone()).await;
        let (browser, response) = saml_response(&app, &idp, id, "carol").await;
        let res = post_acs(&app, &browser, id, &response).await;
        let status = res.status();
        let page = res.text().await.unwrap();
        assert_eq!(status, StatusCode::FORBIDDEN, "{flags}: {page}");
        assert!(page.contains(explanation), "{flags}: the page does not say {explanation:?}: {page}");
        assert!(me(&app, &browser).await.is_none(), "{flags}: signed in");
        assert_eq!(audit(&app, &owner, &org, "sso.login_failed").await.len(), i + 1, "{flags}");
    }
    assert!(member(&app, &owner, &org, "carol@example.com").await.is_none());

    // Signature wrapping: whatever the layout, nobody is signed in as the unsigned assertion's
    // mallory; at most as the signed one's carol.
    for layout in ["before", "after", "advice"] {
        idp.next_response(json!({ "wrapping": layout })).await;
        let (browser, response) = saml_response(&app, &idp, id, "carol").await;
        let res = post_acs(&app, &browser, id, &response).await;
        if let Some(who) = me(&app, &browser).await {
            assert_eq!(who["email"], "carol@example.com", "{layout}: {who}");
        } else {
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{layout}");
        }
        assert!(member(&app, &owner, &org, "mallory@example.com").await.is_none(), "{layout}");
    }

    // Unsolicited responses are refused until the connection allows them.
    let entity = conn["saml"]["sp_entity_id"].as_str().unwrap();
    let unsolicited = format!("{}/idp-initiated?username=bob&sp={entity}", idp.base);
    let (response, _) = idp.response_from(&with_param(&unsolicited, "sp", entity)).await;
    let browser = app.client();
    assert_eq!(post_acs(&app, &browser, id, &response).await.status(), StatusCode::FORBIDDEN);
    let res = owner
        .patch(app.url(&format!("{}/{id}", connections(&org))))
        .json(&json!({ "allow_idp_initiated": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let (response, _) = idp.response_from(&with_param(&unsolicited, "sp", entity)).await;
    assert_eq!(post_acs(&app, &browser, id, &response).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(me(&app, &browser).await.unwrap()["email"], "bob@example.com");
    // No request id to use up here: the assertion id is what stops a replay.
    let thief = app.client();
    let res = post_acs(&app, &thief, id, &response).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("already used once"));
    assert!(me(&app, &thief).await.is_none());

    // Metadata without a signing certificate is refused when the connection is made.
    let body = json!({"type": "saml", "name": "No cert", "idp_metadata_url": format!("{}?no_cert=1", idp.metadata)});
    let (status, err) = error_of(app.post(&owner, &connections(&org), body).await).await;
    assert_eq!(
        (status, err["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("idp_metadata_url"))
    );
    assert!(err["message"].as_str().unwrap().contains("no signing certificate"), "{err}");
    app.stop().await;
}

/// Where a trial run sent the admin's browser: (ok, message), after checking it is the SSO page.
fn trial_result(res: &Response, org: &str, conn: &str) -> (bool, String) {
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let landed = Url::parse(&location(res)).unwrap();
    assert_eq!(landed.path(), format!("/orgs/{org}/sso"));
    let query: Vec<(String, String)> = landed.query_pairs().into_owned().collect();
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    assert_eq!(param("tested"), conn);
    (param("test_ok") == "1", param("test_message"))
}

/// An admin's trial run goes through the real provider, reports what would happen on the SSO
/// page, and signs nobody in or up; it works while the connection is still disabled, and only for
/// people who may manage SSO.
#[tokio::test]
async fn trial_runs_go_through_the_provider_without_signing_anyone_in() {
    let provider = OidcProvider::start();
    let idp = SamlIdp::start();
    let Some(app) = spawn_app(Backend::Sqlite, sso_options()).await else { return };
    let (owner, org) = owner_with_org(&app, "Trials").await;
    let owner_id = me(&app, &owner).await.unwrap()["id"].clone();
    let conn = oidc_connection(&app, &owner, &org, &provider).await;
    let res = owner.patch(app.url(&format!("{}/{conn}", connections(&org)))).json(&json!({"enabled": false}));
    assert_eq!(res.send().await.unwrap().status(), StatusCode::OK);

    let trial = |client: &Client, conn: &str| {
        let url = app.url(&format!("/sso/start?connection={conn}&trial=1"));
        let request = client.get(url);
        async move { request.send().await.unwrap() }
    };
    let res = trial(&owner, &conn).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", res.text().await.unwrap());
    let callback = oidc_login(&app.client(), &location(&res), "zoe#gh-admins").await;
    let (ok, message) = trial_result(&owner.get(&callback).send().await.unwrap(), &org, &conn);
    assert!(ok, "{message}");
    assert!(message.contains("zoe@example.com") && message.contains("Admin"), "{message}");
    assert_eq!(member(&app, &owner, &org, "zoe@example.com").await, None);
    assert_eq!(me(&app, &owner).await.unwrap()["id"], owner_id, "the admin is still themselves");

    // A failing round trip says why, on the same page.
    provider.next_id_token(CLIENT_ID, json!({"aud": "someone-else"})).await;
    let res = trial(&owner, &conn).await;
    let callback = oidc_login(&app.client(), &location(&res), "zoe").await;
    let (ok, message) = trial_result(&owner.get(&callback).send().await.unwrap(), &org, &conn);
    assert!(!ok && message.contains("another application"), "{message}");

    // SAML too: the response posted by the IdP's page ends on the SSO page.
    let saml = saml_connection(&app, &owner, &org, &idp).await;
    let saml_id = saml["id"].as_str().unwrap();
    let res = trial(&owner, saml_id).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (response, _) = idp.response_from(&format!("{}&username=yann", location(&res))).await;
    let (ok, message) = trial_result(&post_acs(&app, &owner, saml_id, &response).await, &org, saml_id);
    assert!(ok && message.contains("yann@example.com") && message.contains("Member"), "{message}");
    assert_eq!(member(&app, &owner, &org, "yann@example.com").await, None);

    // Not for members, nor for strangers.
    let member_client = app.add_member(&owner, &org, "Mo Member", "member").await.client;
    assert_eq!(trial(&member_client, &conn).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(trial(&app.client(), &conn).await.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

/// Starting single sign-on and the LDAP sign-in share the per-address "auth" budget of the other
/// sign-in endpoints.
#[tokio::test]
async fn sso_entry_points_share_the_sign_in_budget() {
    let slapd = Slapd::start();
    let options = Options {
        smtp: false,
        tweak: Box::new(|config| {
            config.sso_allow_private = true;
            config.auth_ip_quota = gatehouse::server::ratelimit::Quota::per_minute(4);
        }),
    };
    let Some(app) = spawn_app(Backend::Sqlite, options).await else { return };
    let (owner, org) = owner_with_org(&app, "Budget").await;
    let conn = create_connection(&app, &owner, &org, ldap_body(&slapd)).await["id"].as_str().unwrap().to_owned();
    let visitor = app.client();
    let start = app.url(&format!("/sso/start?connection={conn}"));
    let login = app.url(&format!("/api/v1/auth/ldap/{conn}/login"));
    let form = app.url(&format!("/sso/ldap/{conn}/login"));
    // The owner's sign-up used one; three more pass, then each entry point is refused.
    for _ in 0..3 {
        assert!(visitor.get(&start).send().await.unwrap().status().is_redirection());
    }
    assert_eq!(visitor.get(&start).send().await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    let body = json!({"username": "alice", "password": "alice-password"});
    let res = visitor.post(&login).json(&body).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let res = visitor.post(&form).form(&[("username", "alice"), ("password", "alice-password")]).send().await;
    assert_eq!(res.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    app.stop().await;
}

/// /login asks for the work email first (the SSO form comes before the password form).
#[tokio::test]
async fn the_sign_in_page_asks_for_the_work_email_first() {
    let Some(app) = spawn_app(Backend::Sqlite, sso_options()).await else { return };
    let page = app.get(&app.client(), "/login?email=someone%40example.com&password=1").await.text().await.unwrap();
    let sso = page.find(r#"action="/sso/start""#).expect("the SSO form");
    let password = page.find(r#"name="password""#).expect("the password field");
    assert!(sso < password, "the SSO form comes first");
    assert!(page.contains("Single sign-on is not set up for that address"));
    assert!(page.contains(r#"value="someone@example.com""#), "the address is filled in");
    app.stop().await;
}

/// A provider whose discovery document or metadata is larger than 1 MiB is refused before the
/// whole body is read.
async fn oversized_provider_documents_are_refused(backend: Backend) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let huge = || async { format!("{{\"padding\": \"{}\"}}", "x".repeat(2 << 20)) };
    let peer = axum::Router::new()
        .route("/.well-known/openid-configuration", axum::routing::get(huge))
        .route("/metadata", axum::routing::get(huge));
    let server = tokio::spawn(async move { axum::serve(listener, peer).await });
    let Some(app) = spawn_app(backend, sso_options()).await else { return };
    let (owner, org) = owner_with_org(&app, "Huge").await;
    let conn = create_connection(&app, &owner, &org, oidc_body(&base)).await;
    let test = format!("{}/{}/test", connections(&org), conn["id"].as_str().unwrap());
    let outcome: Value = app.post(&owner, &test, json!({})).await.json().await.unwrap();
    assert_eq!(outcome["ok"], false, "{outcome}");
    assert!(outcome["message"].as_str().unwrap().contains("more than 1024 KiB"), "{outcome}");
    let body = json!({"type": "saml", "name": "Huge", "idp_metadata_url": format!("{base}/metadata")});
    let (status, err) = error_of(app.post(&owner, &connections(&org), body).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(err["message"].as_str().unwrap().contains("more than 1024 KiB"), "{err}");
    server.abort();
    app.stop().await;
}
both!(oversized_provider_documents_are_refused);
