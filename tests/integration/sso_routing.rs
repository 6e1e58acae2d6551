//! Domain routing for single sign-on: a verified domain names the connection `/sso/start?email=`
//! sends its addresses to, and may require SSO (password sign-ins refused, owners keep an audited
//! break-glass path). The PATCH rules, password sign-in under the requirement, the browser's
//! `/sso/start` by email (OIDC, LDAP, unknown domains), and how each sign-in is labelled.
use crate::both;
use crate::peers::{location, oidc_login, support_dir, OidcProvider, Peer, Slapd};
use crate::support::{error_of, spawn_app, Backend, Options, TestApp, STRONG_PASSWORD};
use reqwest::{Client, Response, StatusCode, Url};
use serde_json::{json, Value};
use std::net::SocketAddr;

const CLIENT_ID: &str = "gatehouse-routing";
const CLIENT_SECRET: &str = "oidc-routing-secret-7d2a1b";

/// Loopback peers over plain http:// and ldap:// are allowed only with `sso_allow_private`.
fn sso_options(dns: Option<SocketAddr>) -> Options {
    Options {
        smtp: false,
        tweak: Box::new(move |config| {
            config.sso_allow_private = true;
            config.dns_server = dns;
        }),
    }
}

/// The DNS server process (tests/support/dns), filled through its control API.
struct DnsServer {
    _peer: Peer,
    addr: SocketAddr,
    control: String,
}

impl DnsServer {
    fn start() -> DnsServer {
        let peer = Peer::start("python3", &["dns_server.py"], &support_dir("dns"));
        DnsServer { addr: peer.field("addr").parse().unwrap(), control: peer.field("control"), _peer: peer }
    }

    async fn publish(&self, name: &str, txt: &[&str]) {
        let res =
            crate::support::http().put(format!("{}/records/{name}", self.control)).json(&json!({ "txt": txt })).send();
        assert!(res.await.unwrap().status().is_success());
    }
}

/// Signs up `email` on a fresh client (signed in); returns the client.
async fn signup_as(app: &TestApp, name: &str, email: &str) -> Client {
    let client = app.client();
    let body = json!({ "name": name, "email": email, "password": STRONG_PASSWORD });
    let res = app.post(&client, "/api/v1/auth/signup", body).await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap());
    client
}

/// An owner signed up as `email`, with an organization that has SSO sign-in turned on.
async fn owner_with_org(app: &TestApp, name: &str, email: &str) -> (Client, String) {
    let owner = signup_as(app, name, email).await;
    let org = app.create_org(&owner, name).await["id"].as_str().unwrap().to_owned();
    let res = owner.patch(app.url(&format!("/api/v1/organizations/{org}"))).json(&json!({ "sso_enabled": true }));
    let res = res.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    (owner, org)
}

/// Brings the account signed in on `client` (address `email`) into `org` as `role`.
async fn invite(app: &TestApp, owner: &Client, org: &str, client: &Client, email: &str, role: &str) {
    let path = format!("/api/v1/organizations/{org}/invite");
    let res = app.post(owner, &path, json!({ "email": email, "role": role })).await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap());
    let invitation: Value = res.json().await.unwrap();
    let token = invitation["link"].as_str().unwrap().split("token=").nth(1).unwrap().to_owned();
    let res = app.post(client, "/api/v1/invitations/accept", json!({ "token": token })).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
}

fn connections(org: &str) -> String {
    format!("/api/v1/organizations/{org}/sso-connections")
}

async fn create_connection(app: &TestApp, owner: &Client, org: &str, body: Value) -> String {
    let res = app.post(owner, &connections(org), body).await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap());
    res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

/// An OIDC connection to `provider`, registered there with the app's redirect URI.
async fn oidc_connection(app: &TestApp, owner: &Client, org: &str, provider: &OidcProvider) -> String {
    let body = json!({
        "type": "oidc", "name": "Corp IdP", "issuer": provider.issuer, "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET, "default_role": "member",
    });
    let id = create_connection(app, owner, org, body).await;
    provider.register_client(CLIENT_ID, CLIENT_SECRET, &app.url("/sso/oidc/callback")).await;
    id
}

async fn ldap_connection(app: &TestApp, owner: &Client, org: &str, slapd: &Slapd) -> String {
    let body = json!({
        "type": "ldap", "name": "Directory", "url": slapd.url, "bind_dn": slapd.bind_dn,
        "bind_password": slapd.bind_password, "base_dn": slapd.base_dn, "default_role": "member",
    });
    create_connection(app, owner, org, body).await
}

/// Marks `domain` as verified by `org`, as if its DNS check had passed; returns the domain's id.
async fn verify_domain(app: &TestApp, org: &str, domain: &str) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    let now = chrono::Utc::now().timestamp_millis();
    sqlx::query(
        "INSERT INTO org_domains (id, organization_id, domain, verification_token, verified_at, created_at)
         VALUES ($1, $2, $3, 'test', $4, $4)",
    )
    .bind(&id)
    .bind(org)
    .bind(domain)
    .bind(now)
    .execute(&app.pool())
    .await
    .unwrap();
    id
}

async fn patch_domain(app: &TestApp, client: &Client, org: &str, domain: &str, body: Value) -> Response {
    let url = app.url(&format!("/api/v1/organizations/{org}/domains/{domain}"));
    client.patch(url).json(&body).send().await.unwrap()
}

/// A PATCH that must be refused with 422 naming `field`.
async fn refused_patch(app: &TestApp, owner: &Client, org: &str, domain: &str, body: Value, field: &str) {
    let (status, err) = error_of(patch_domain(app, owner, org, domain, body.clone()).await).await;
    assert_eq!(
        (status, err["code"].as_str(), err["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"), Some(field)),
        "{body} → {err}"
    );
}

/// A PATCH that must succeed; returns the domain.
async fn accepted_patch(app: &TestApp, owner: &Client, org: &str, domain: &str, body: Value) -> Value {
    let res = patch_domain(app, owner, org, domain, body.clone()).await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body} → {text}");
    serde_json::from_str(&text).unwrap()
}

async fn read_domain(app: &TestApp, owner: &Client, org: &str, domain: &str) -> Value {
    app.get(owner, &format!("/api/v1/organizations/{org}/domains/{domain}")).await.json().await.unwrap()
}

/// What `GET /api/v1/me` answers on this client: `None` when not signed in (401).
async fn me(app: &TestApp, client: &Client) -> Option<Value> {
    let res = app.get(client, "/api/v1/me").await;
    match res.status() {
        StatusCode::OK => Some(res.json().await.unwrap()),
        StatusCode::UNAUTHORIZED => None,
        other => panic!("/api/v1/me answered {other}"),
    }
}

/// The organization's audit entries with this action, newest first.
async fn audit(app: &TestApp, owner: &Client, org: &str, action: &str) -> Vec<Value> {
    let path = format!("/api/v1/organizations/{org}/audit-logs?action={action}&limit=200");
    let page: Value = app.get(owner, &path).await.json().await.unwrap();
    page["data"].as_array().unwrap_or_else(|| panic!("{page}")).clone()
}

/// The organization's member with this email.
async fn member(app: &TestApp, owner: &Client, org: &str, email: &str) -> Value {
    let page: Value =
        app.get(owner, &format!("/api/v1/organizations/{org}/members?limit=200")).await.json().await.unwrap();
    page["data"].as_array().unwrap().iter().find(|m| m["email"] == email).cloned().unwrap_or_else(|| panic!("{page}"))
}

/// The `method` of this client's current session.
async fn current_session_method(app: &TestApp, client: &Client) -> Value {
    let sessions: Value = app.get(client, "/api/v1/me/sessions").await.json().await.unwrap();
    let current = sessions["data"].as_array().unwrap().iter().find(|s| s["current"] == true).cloned();
    current.unwrap_or_else(|| panic!("no current session in {sessions}"))["method"].clone()
}

/// `/sso/start?...` on a fresh client: it must redirect; returns the client and where to.
async fn start(app: &TestApp, query: &str) -> (Client, String) {
    let browser = app.client();
    let res = app.get(&browser, &format!("/sso/start?{query}")).await;
    let status = res.status();
    assert!(matches!(status.as_u16(), 302 | 303), "{query}: {status}: {}", res.text().await.unwrap());
    let to = location(&res);
    (browser, to)
}

/// The email sign-in a browser is sent to when its domain has no single sign-on.
fn password_form(app: &TestApp, email: &str) -> String {
    let email: String = url::form_urlencoded::byte_serialize(email.as_bytes()).collect();
    app.url(&format!("/login?email={email}&password=1"))
}

async fn domain_routing_and_required_sso(backend: Backend) {
    let dns = DnsServer::start();
    let provider = OidcProvider::start();
    let Some(app) = spawn_app(backend, sso_options(Some(dns.addr))).await else { return };
    let (owner, org) = owner_with_org(&app, "Acme", "boss@acme.test").await;
    let domains = format!("/api/v1/organizations/{org}/domains");

    // Pending: SSO cannot be required yet, even with a connection.
    let claimed: Value = app.post(&owner, &domains, json!({ "domain": "acme.test" })).await.json().await.unwrap();
    let domain = claimed["id"].as_str().unwrap().to_owned();
    assert_eq!(claimed["status"], "pending");
    assert_eq!((claimed["require_sso"].as_bool(), claimed["connection_id"].is_null()), (Some(false), true));
    let conn = oidc_connection(&app, &owner, &org, &provider).await;
    refused_patch(&app, &owner, &org, &domain, json!({ "require_sso": true, "connection_id": conn }), "require_sso")
        .await;

    // Verified through DNS; still no connection chosen: refused.
    dns.publish("acme.test", &[claimed["verification"]["value"].as_str().unwrap()]).await;
    let res = app.post(&owner, &format!("{domains}/{domain}/verify"), json!({})).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    refused_patch(&app, &owner, &org, &domain, json!({ "require_sso": true }), "require_sso").await;

    // Another organization's connection is not this organization's to choose.
    let (rival, rival_org) = owner_with_org(&app, "Rival", "boss@rival.test").await;
    let body = json!({
        "type": "oidc", "name": "Rival IdP", "issuer": provider.issuer, "client_id": "rival",
        "client_secret": "rival-secret", "default_role": "member",
    });
    let rival_conn = create_connection(&app, &rival, &rival_org, body).await;
    refused_patch(
        &app,
        &owner,
        &org,
        &domain,
        json!({ "require_sso": true, "connection_id": rival_conn }),
        "connection_id",
    )
    .await;
    refused_patch(&app, &owner, &org, &domain, json!({ "connection_id": rival_conn }), "connection_id").await;
    let unchanged = read_domain(&app, &owner, &org, &domain).await;
    assert_eq!((unchanged["require_sso"].as_bool(), unchanged["connection_id"].is_null()), (Some(false), true));

    // Its own connection: required.
    let routed =
        accepted_patch(&app, &owner, &org, &domain, json!({ "require_sso": true, "connection_id": conn })).await;
    assert_eq!((routed["require_sso"].as_bool(), routed["connection_id"].as_str()), (Some(true), Some(conn.as_str())));
    assert_eq!((routed["status"].as_str(), routed["domain"].as_str()), (Some("verified"), Some("acme.test")));
    assert_eq!(read_domain(&app, &owner, &org, &domain).await, routed);
    let updated = audit(&app, &owner, &org, "domain.updated").await;
    assert_eq!(updated.len(), 1, "{updated:?}");
    assert_eq!(updated[0]["resource_id"].as_str(), Some(domain.as_str()));
    assert_eq!(updated[0]["metadata"]["require_sso"], true, "{updated:?}");
    assert_eq!(updated[0]["metadata"]["connection_id"].as_str(), Some(conn.as_str()), "{updated:?}");

    // Clearing the connection while SSO is required is refused (the requirement stays); clearing
    // both at once is fine; an absent field is left as it is.
    refused_patch(&app, &owner, &org, &domain, json!({ "connection_id": null }), "require_sso").await;
    assert_eq!(read_domain(&app, &owner, &org, &domain).await, routed);
    let cleared =
        accepted_patch(&app, &owner, &org, &domain, json!({ "require_sso": false, "connection_id": null })).await;
    assert_eq!((cleared["require_sso"].as_bool(), cleared["connection_id"].is_null()), (Some(false), true));
    let routed_only = accepted_patch(&app, &owner, &org, &domain, json!({ "connection_id": conn })).await;
    assert_eq!(
        (routed_only["require_sso"].as_bool(), routed_only["connection_id"].as_str()),
        (Some(false), Some(&*conn))
    );
    let routed = accepted_patch(&app, &owner, &org, &domain, json!({ "require_sso": true })).await;
    assert_eq!((routed["require_sso"].as_bool(), routed["connection_id"].as_str()), (Some(true), Some(conn.as_str())));
    assert_eq!(audit(&app, &owner, &org, "domain.updated").await.len(), 4);

    // People: a member at the domain, one at another domain, one at the domain in no organization.
    let mia = signup_as(&app, "Mia Member", "mia@acme.test").await;
    invite(&app, &owner, &org, &mia, "mia@acme.test", "member").await;
    let other = app.client();
    let other_email = app.signup(&other, "Olga Other").await;
    invite(&app, &owner, &org, &other, &other_email, "member").await;
    signup_as(&app, "Nora Nobody", "nora@acme.test").await;

    // A member without sso:write cannot change the routing.
    let (status, err) = error_of(patch_domain(&app, &mia, &org, &domain, json!({ "require_sso": false })).await).await;
    assert_eq!((status, err["details"]["required_permission"].as_str()), (StatusCode::FORBIDDEN, Some("sso:write")));

    // Mia's password is right, but her domain signs in with SSO: 403 naming where to go, no session.
    for (email, name) in [("mia@acme.test", "mia"), ("Nora@ACME.test", "nora")] {
        let client = app.client();
        let (status, err) = error_of(app.login(&client, email, STRONG_PASSWORD).await).await;
        assert_eq!((status, err["code"].as_str()), (StatusCode::FORBIDDEN, Some("sso_required")), "{email}: {err}");
        let url = err["details"]["sign_in_url"].as_str().unwrap_or_else(|| panic!("{err}"));
        assert!(url.contains(&format!("/sso/start?email={name}%40acme.test")), "{url}");
        assert_eq!(me(&app, &client).await, None, "{email} was signed in");
    }
    // A wrong password says nothing about SSO.
    let client = app.client();
    let (status, err) = error_of(app.login(&client, "mia@acme.test", "not her password at all").await).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_credentials")), "{err}");
    assert_eq!(me(&app, &client).await, None);

    // Another domain is unaffected.
    let client = app.client();
    let res = app.login(&client, &other_email, STRONG_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    assert_eq!(me(&app, &client).await.unwrap()["email"].as_str(), Some(other_email.as_str()));

    // The owner's break-glass: signed in, and audited.
    assert!(audit(&app, &owner, &org, "user.break_glass_sign_in").await.is_empty());
    let boss = app.client();
    let res = app.login(&boss, "boss@acme.test", STRONG_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let me_boss = me(&app, &boss).await.expect("the owner is signed in");
    let glass = audit(&app, &owner, &org, "user.break_glass_sign_in").await;
    assert_eq!(glass.len(), 1, "{glass:?}");
    assert_eq!(glass[0]["resource_id"], me_boss["id"]);
    assert_eq!(glass[0]["metadata"]["domain"], "acme.test");
    assert!(glass[0]["metadata"]["session_id"].is_string(), "{glass:?}");
    // The rival's owner is not this organization's: their own domain has no requirement.
    let res = app.login(&app.client(), "boss@rival.test", STRONG_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);

    // No longer required: Mia's password works again.
    accepted_patch(&app, &owner, &org, &domain, json!({ "require_sso": false })).await;
    let res = app.login(&app.client(), "mia@acme.test", STRONG_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());

    // /sso/start by email: the chosen connection's provider, whether or not SSO is required.
    let (_, to) = start(&app, "email=mia%40acme.test").await;
    assert!(to.starts_with(&provider.issuer), "{to}");
    let query: Vec<(String, String)> = Url::parse(&to).unwrap().query_pairs().into_owned().collect();
    assert!(query.contains(&("client_id".to_owned(), CLIENT_ID.to_owned())), "{to}");
    // A domain nobody verified, or an unrouted one: the password form, the address filled in.
    let (_, to) = start(&app, "email=someone%40unknown.test").await;
    assert_eq!(to, password_form(&app, "someone@unknown.test"));
    accepted_patch(&app, &owner, &org, &domain, json!({ "connection_id": null })).await;
    let (_, to) = start(&app, "email=mia%40acme.test").await;
    assert_eq!(to, password_form(&app, "mia@acme.test"));
    // Neither a connection nor an email: a page that says so.
    let res = app.get(&app.client(), "/sso/start").await;
    let status = res.status();
    let page = res.text().await.unwrap();
    assert!(status.is_client_error(), "{status}: {page}");
    assert!(page.contains("email"), "{page}");
    app.stop().await;
}
both!(domain_routing_and_required_sso);

/// A refused password sign-in under required SSO leaves `user.sign_in_refused` in the log; deleting
/// the connection lifts the requirement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_password_sign_in_is_audited() {
    let provider = OidcProvider::start();
    let Some(app) = spawn_app(Backend::Sqlite, sso_options(None)).await else { return };
    let (owner, org) = owner_with_org(&app, "Acme", "boss@acme.test").await;
    let conn = oidc_connection(&app, &owner, &org, &provider).await;
    let domain = verify_domain(&app, &org, "acme.test").await;
    accepted_patch(&app, &owner, &org, &domain, json!({ "require_sso": true, "connection_id": conn })).await;
    let mia = signup_as(&app, "Mia Member", "mia@acme.test").await;
    invite(&app, &owner, &org, &mia, "mia@acme.test", "member").await;
    let mia_id = me(&app, &mia).await.unwrap()["id"].clone();

    let (status, err) = error_of(app.login(&app.client(), "mia@acme.test", STRONG_PASSWORD).await).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::FORBIDDEN, Some("sso_required")));
    let refused = audit(&app, &owner, &org, "user.sign_in_refused").await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["resource_id"], mia_id);
    assert_eq!(refused[0]["metadata"]["reason"], "sso_required");
    assert_eq!(refused[0]["metadata"]["domain"], "acme.test");

    // Deleting the connection stops the domain requiring SSO: nobody is locked out.
    let res = owner.delete(app.url(&format!("{}/{conn}", connections(&org)))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let routed = read_domain(&app, &owner, &org, &domain).await;
    assert_eq!((routed["require_sso"].as_bool(), routed["connection_id"].as_str()), (Some(false), None));
    let deleted = audit(&app, &owner, &org, "sso_connection.deleted").await;
    assert_eq!(deleted[0]["metadata"]["domains_no_longer_requiring_sso"], json!(["acme.test"]));
    assert_eq!(app.login(&app.client(), "mia@acme.test", STRONG_PASSWORD).await.status(), StatusCode::OK);
    app.stop().await;
}

/// `/sso/start?{query}` through the provider as `login`; returns the signed-in browser and where
/// the callback sent it.
async fn oidc_by_email(app: &TestApp, query: &str, login: &str) -> (Client, String) {
    let (browser, authorize) = start(app, query).await;
    let callback = oidc_login(&app.client(), &authorize, login).await;
    assert!(callback.starts_with(&app.url("/sso/oidc/callback?")), "{callback}");
    let res = browser.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", res.text().await.unwrap());
    let to = location(&res);
    (browser, to)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sso_start_by_email_signs_in_through_the_domains_provider() {
    let provider = OidcProvider::start();
    let Some(app) = spawn_app(Backend::Sqlite, sso_options(None)).await else { return };
    let (owner, org) = owner_with_org(&app, "Acme", "boss@acme.test").await;
    let conn = oidc_connection(&app, &owner, &org, &provider).await;
    let domain = verify_domain(&app, &org, "acme.test").await;
    accepted_patch(&app, &owner, &org, &domain, json!({ "require_sso": true, "connection_id": conn })).await;

    // Dana has no account: the domain's provider makes one, in the organization, by OIDC.
    let (dana, to) = oidc_by_email(&app, "email=dana%40acme.test", "dana@acme.test").await;
    assert_eq!(to, app.url(&format!("/orgs/{org}")));
    let me_dana = me(&app, &dana).await.expect("dana is signed in");
    assert_eq!(me_dana["email"], "dana@acme.test");
    assert_eq!(current_session_method(&app, &dana).await, "oidc");
    let row = member(&app, &owner, &org, "dana@acme.test").await;
    assert_eq!((row["role"].as_str(), row["last_sign_in_method"].as_str()), (Some("member"), Some("oidc")));

    // A return_to on this site is honoured; one that leaves it (`//host`, `/\host`, absolute, a
    // tab browsers drop) or breaks the Location header (a newline) lands on the default.
    let (_, to) = oidc_by_email(&app, "email=dana%40acme.test&return_to=%2Fsettings", "dana@acme.test").await;
    assert_eq!(to, app.url("/settings"));
    for evil in
        ["%2F%2Fevil.example", "%2F%5Cevil.example", "https%3A%2F%2Fevil.example%2F", "%2F%09%2Fevil.test", "%2F%0A"]
    {
        let query = format!("email=dana%40acme.test&return_to={evil}");
        let (browser, to) = oidc_by_email(&app, &query, "dana@acme.test").await;
        assert_eq!(to, app.url(&format!("/orgs/{org}")), "{evil}");
        assert_eq!(me(&app, &browser).await.unwrap()["id"], me_dana["id"]);
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_domains_route_to_the_directory_form_and_methods_are_recorded() {
    let slapd = Slapd::start();
    let Some(app) = spawn_app(Backend::Sqlite, sso_options(None)).await else { return };
    let (owner, org) = owner_with_org(&app, "Acme", "boss@acme.test").await;
    let conn = ldap_connection(&app, &owner, &org, &slapd).await;

    // Bob has a password account at example.com and is a member.
    let bob = signup_as(&app, "Bob Member", "bob@example.com").await;
    invite(&app, &owner, &org, &bob, "bob@example.com", "member").await;
    let bob_id = me(&app, &bob).await.unwrap()["id"].clone();
    let (_, to) = start(&app, "email=bob%40example.com").await;
    assert_eq!(to, password_form(&app, "bob@example.com"), "not verified yet");

    // By password: so labelled in his sessions and in the members list.
    let client = app.client();
    let res = app.login(&client, "bob@example.com", STRONG_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    assert_eq!(current_session_method(&app, &client).await, "password");
    assert_eq!(member(&app, &owner, &org, "bob@example.com").await["last_sign_in_method"], "password");

    // example.com verified and routed to the directory: /sso/start sends him to its form.
    let domain = verify_domain(&app, &org, "example.com").await;
    accepted_patch(&app, &owner, &org, &domain, json!({ "connection_id": conn })).await;
    let (_, to) = start(&app, "email=bob%40example.com").await;
    assert_eq!(to, app.url(&format!("/sso/ldap/{conn}/login")));
    let form = app.get(&app.client(), &format!("/sso/ldap/{conn}/login")).await;
    assert_eq!(form.status(), StatusCode::OK);

    // Through the directory: the same account (the domain is verified) once Bob confirms the link
    // with his password, now labelled ldap.
    let browser = app.client();
    let res = browser
        .post(app.url(&format!("/sso/ldap/{conn}/login")))
        .form(&[("username", "bob"), ("password", "bob-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", res.text().await.unwrap());
    assert_eq!(location(&res), app.url("/sso/link"));
    assert_eq!(me(&app, &browser).await, None);
    let res = browser
        .post(app.url("/sso/link"))
        .form(&[("action", "password"), ("password", STRONG_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", res.text().await.unwrap());
    assert_eq!(me(&app, &browser).await.unwrap()["id"], bob_id);
    assert_eq!(current_session_method(&app, &browser).await, "ldap");
    assert_eq!(member(&app, &owner, &org, "bob@example.com").await["last_sign_in_method"], "ldap");
    // His password session is still listed as such.
    let sessions: Value = app.get(&browser, "/api/v1/me/sessions").await.json().await.unwrap();
    let mut methods: Vec<&str> =
        sessions["data"].as_array().unwrap().iter().map(|s| s["method"].as_str().unwrap()).collect();
    methods.sort_unstable();
    assert_eq!(methods, ["ldap", "password", "password"], "{sessions}");
    app.stop().await;
}
