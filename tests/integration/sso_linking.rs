//! Who an organization's identity provider may vouch for (issue 18, item 1 and the SAML items 6
//! and 9), against the real peers: only addresses at the organization's verified domains; an
//! existing account is linked only once its holder confirms (password or mailed link); the roles a
//! connection grants follow the rank rules; SAML responses are bound to the browser that asked and
//! must name us as their audience, carry a NameID and no DOCTYPE.
use crate::both;
use crate::peers::{location, OidcProvider, SamlIdp, Slapd};
use crate::sso::{
    audit, connections, create_connection, ldap_body, me, member, oidc_body, oidc_connection, oidc_until_callback,
    owner_with_org, post_acs, role_of, saml_connection, saml_response, sso_options,
};
use crate::support::{error_of, spawn_app, Backend, Options, TestApp, STRONG_PASSWORD};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

/// SSO options with the SMTP sink, for the mailed confirmations.
fn sso_with_mail() -> Options {
    Options { smtp: true, ..sso_options() }
}

/// Signs up `email` with a password and marks the address verified (as its mailed link would).
async fn verified_account(app: &TestApp, name: &str, email: &str) -> Value {
    let client = app.client();
    let body = json!({ "name": name, "email": email, "password": STRONG_PASSWORD });
    let res = app.post(&client, "/api/v1/auth/signup", body).await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap());
    sqlx::query("UPDATE users SET email_verified_at = $1 WHERE email = $2")
        .bind(chrono::Utc::now().timestamp_millis())
        .bind(email)
        .execute(&app.pool())
        .await
        .unwrap();
    me(app, &client).await.unwrap()
}

/// Visits an OIDC callback: the response, not followed.
async fn oidc_callback(app: &TestApp, conn: &str, login: &str) -> (Client, Response) {
    let (browser, callback) = oidc_until_callback(app, conn, login).await;
    let res = browser.get(&callback).send().await.unwrap();
    (browser, res)
}

/// A refused sign-in page: 403 that says `keyword`, and no session.
async fn assert_refused(app: &TestApp, browser: &Client, res: Response, keyword: &str) {
    let status = res.status();
    let page = res.text().await.unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN, "{keyword}: {page}");
    assert!(page.contains(keyword), "no {keyword:?} in {page}");
    assert_eq!(me(app, browser).await, None, "signed in after a refusal ({keyword})");
}

async fn link_form(app: &TestApp, browser: &Client, fields: &[(&str, &str)]) -> Response {
    browser.post(app.url("/sso/link")).form(fields).send().await.unwrap()
}

async fn sso_vouches_only_for_verified_domains(backend: Backend) {
    let provider = OidcProvider::start();
    let idp = SamlIdp::start();
    let slapd = Slapd::start();
    let Some(app) = spawn_app(backend, sso_options()).await else { return };
    let (owner, org) = owner_with_org(&app, "Acme").await;
    let conn = oidc_connection(&app, &owner, &org, &provider).await;
    let saml = saml_connection(&app, &owner, &org, &idp).await;
    let saml = saml["id"].as_str().unwrap();
    let refusals = || async { audit(&app, &owner, &org, "sso.login_failed").await };

    // The organization's IdP asserts an address at a domain it never verified: refused, audited,
    // and no account is made for it.
    let (browser, res) = oidc_callback(&app, &conn, "victim@gmail.test").await;
    assert_refused(&app, &browser, res, "has not verified the domain gmail.test").await;
    let (browser, response) = saml_response(&app, &idp, saml, "victim@gmail.test").await;
    assert_refused(&app, &browser, post_acs(&app, &browser, saml, &response).await, "gmail.test").await;
    let failed = refusals().await;
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(failed.iter().all(|e| e["metadata"]["reason"] == "sso_domain_not_verified"), "{failed:?}");
    // The real person can still sign up with their own address.
    let body = json!({ "name": "Victim", "email": "victim@gmail.test", "password": STRONG_PASSWORD });
    assert_eq!(app.post(&app.client(), "/api/v1/auth/signup", body).await.status(), StatusCode::CREATED);

    // A directory (LDAP, JSON sign-in) of an organization that verified no domain vouches for nobody.
    let stranger = app.client();
    app.signup(&stranger, "Stranger").await;
    let other = app.create_org(&stranger, "No Domains").await["id"].as_str().unwrap().to_owned();
    let res = stranger.patch(app.url(&format!("/api/v1/organizations/{other}")));
    assert_eq!(res.json(&json!({ "sso_enabled": true })).send().await.unwrap().status(), StatusCode::OK);
    let ldap = create_connection(&app, &stranger, &other, ldap_body(&slapd)).await;
    let ldap = ldap["id"].as_str().unwrap();
    let client = app.client();
    let path = format!("/api/v1/auth/ldap/{ldap}/login");
    let res = app.post(&client, &path, json!({"username": "alice", "password": "alice-password"})).await;
    let (status, err) = error_of(res).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::FORBIDDEN, Some("sso_domain_not_verified")), "{err}");
    assert_eq!(me(&app, &client).await, None);

    // A linked identity too stops signing in once its domain is no longer the organization's.
    let (alice, res) = oidc_callback(&app, &conn, "alice").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(me(&app, &alice).await.is_some());
    sqlx::query("DELETE FROM org_domains WHERE domain = 'example.com'").execute(&app.pool()).await.unwrap();
    let (browser, res) = oidc_callback(&app, &conn, "alice").await;
    assert_refused(&app, &browser, res, "has not verified the domain example.com").await;
    app.stop().await;
}
both!(sso_vouches_only_for_verified_domains);

async fn linking_an_existing_account_needs_its_holders_consent(backend: Backend) {
    let provider = OidcProvider::start();
    let idp = SamlIdp::start();
    let slapd = Slapd::start();
    let Some(app) = spawn_app(backend, sso_with_mail()).await else { return };
    let (owner, org) = owner_with_org(&app, "Acme").await;
    let conn = oidc_connection(&app, &owner, &org, &provider).await;
    let carol = verified_account(&app, "Carol", "carol@example.com").await;

    // The IdP vouches for carol's address: held, nobody signed in, until she confirms.
    let (browser, res) = oidc_callback(&app, &conn, "carol").await;
    assert_eq!((res.status(), location(&res)), (StatusCode::SEE_OTHER, app.url("/sso/link")));
    assert_eq!(me(&app, &browser).await, None);
    assert!(member(&app, &owner, &org, "carol@example.com").await.is_none());
    let page = app.get(&browser, "/sso/link").await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("Link this sign-in method") && page.contains("carol@example.com"), "{page}");
    // Another browser has nothing waiting.
    assert_eq!(app.get(&app.client(), "/sso/link").await.status(), StatusCode::BAD_REQUEST);

    // A wrong password links nothing; the right one links and signs in.
    let res = link_form(&app, &browser, &[("action", "password"), ("password", "not her password")]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.text().await.unwrap().contains("not correct"));
    assert_eq!(me(&app, &browser).await, None);
    let res = link_form(&app, &browser, &[("action", "password"), ("password", STRONG_PASSWORD)]).await;
    assert_eq!((res.status(), location(&res)), (StatusCode::SEE_OTHER, app.url(&format!("/orgs/{org}"))));
    assert_eq!(me(&app, &browser).await.unwrap()["id"], carol["id"]);
    assert_eq!(role_of(&app, &owner, &org, "carol@example.com").await.as_deref(), Some("member"));
    let linked = audit(&app, &owner, &org, "sso.identity_linked").await;
    assert_eq!(linked[0]["metadata"]["confirmed_with"], "password", "{linked:?}");
    app.mail("carol@example.com", "A sign-in method was linked").await;
    // From now on the identity signs her in directly.
    let (again, res) = oidc_callback(&app, &conn, "carol").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(me(&app, &again).await.unwrap()["id"], carol["id"]);

    // SAML, confirmed through the mailed link, which works once.
    let saml = saml_connection(&app, &owner, &org, &idp).await;
    let saml = saml["id"].as_str().unwrap();
    let dan = verified_account(&app, "Dan", "dan@example.com").await;
    let (browser, response) = saml_response(&app, &idp, saml, "dan").await;
    let res = post_acs(&app, &browser, saml, &response).await;
    assert_eq!((res.status(), location(&res)), (StatusCode::SEE_OTHER, app.url("/sso/link")));
    let res = link_form(&app, &browser, &[("action", "email")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("dan@example.com"));
    assert_eq!(me(&app, &browser).await, None);
    let token = app.mail("dan@example.com", "Confirm a new sign-in method").await.token("/sso/link/confirm");
    let mailbox = app.client();
    let page = app.get(&mailbox, &format!("/sso/link/confirm?token={token}")).await;
    assert_eq!(page.status(), StatusCode::OK, "the link's GET only shows a button");
    assert_eq!(me(&app, &mailbox).await, None);
    let confirm = || mailbox.post(app.url("/sso/link/confirm")).form(&[("token", token.as_str())]).send();
    let res = confirm().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", res.text().await.unwrap());
    assert_eq!(me(&app, &mailbox).await.unwrap()["id"], dan["id"]);
    assert_eq!(confirm().await.unwrap().status(), StatusCode::BAD_REQUEST, "a mailed link works once");

    // The account lists its linked identities; unlinking one is audited, and the identity must be
    // confirmed again afterwards.
    let listed: Value = app.get(&mailbox, "/api/v1/me/identities").await.json().await.unwrap();
    let listed = listed.as_array().unwrap().clone();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!((listed[0]["kind"].as_str(), listed[0]["subject"].as_str()), (Some("saml"), Some("dan@example.com")));
    let path = format!("/api/v1/me/identities/{}", listed[0]["id"].as_str().unwrap());
    let other_person = app.get(&browser, "/api/v1/me").await.status();
    assert_eq!(other_person, StatusCode::UNAUTHORIZED);
    assert_eq!(mailbox.delete(app.url(&path)).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(mailbox.delete(app.url(&path)).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(audit(&app, &owner, &org, "sso.identity_unlinked").await.len(), 1);
    let (browser, response) = saml_response(&app, &idp, saml, "dan").await;
    let res = post_acs(&app, &browser, saml, &response).await;
    assert_eq!(location(&res), app.url("/sso/link"));

    // A password reset mail names the identities that can also sign in.
    let res = app.post(&app.client(), "/api/v1/auth/forgot-password", json!({ "email": "carol@example.com" })).await;
    assert!(res.status().is_success(), "{}", res.status());
    let mail = app.mail("carol@example.com", "Reset your password").await;
    assert!(mail.body.contains("Corp IdP") && mail.body.contains("Acme"), "{}", mail.body);

    // The JSON LDAP sign-in answers 409 with where to confirm.
    let ldap = create_connection(&app, &owner, &org, ldap_body(&slapd)).await;
    verified_account(&app, "Bob", "bob@example.com").await;
    let client = app.client();
    let path = format!("/api/v1/auth/ldap/{}/login", ldap["id"].as_str().unwrap());
    let (status, err) =
        error_of(app.post(&client, &path, json!({"username": "bob", "password": "bob-password"})).await).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some("sso_link_required")), "{err}");
    assert_eq!(me(&app, &client).await, None);
    app.stop().await;
}
both!(linking_an_existing_account_needs_its_holders_consent);

async fn connections_follow_the_rank_rules(backend: Backend) {
    let Some(app) = spawn_app(backend, sso_options()).await else { return };
    let (owner, org) = owner_with_org(&app, "Acme").await;
    let admin = app.add_member(&owner, &org, "Ada Admin", "admin").await.client;
    let body = |default_role: &str, mapped: &str| {
        let mut body = oidc_body("https://idp.example");
        body["default_role"] = json!(default_role);
        body["role_mapping"] = json!([{ "group": "staff", "role": mapped }]);
        body
    };
    for (default_role, mapped, field) in [("admin", "member", "default_role"), ("member", "admin", "role_mapping")] {
        let (status, err) = error_of(app.post(&admin, &connections(&org), body(default_role, mapped)).await).await;
        assert_eq!((status, err["code"].as_str()), (StatusCode::FORBIDDEN, Some("insufficient_rank")), "{err}");
        assert_eq!(err["details"]["field"].as_str(), Some(field), "{err}");
    }
    let mine = create_connection(&app, &admin, &org, body("viewer", "member")).await;
    // An admin cannot raise their own connection to grant Admin...
    let url = app.url(&format!("{}/{}", connections(&org), mine["id"].as_str().unwrap()));
    let res = admin.patch(&url).json(&json!({ "default_role": "admin" })).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // ...nor change anything (the issuer, say) of one an owner made to grant Admin.
    let owners = create_connection(&app, &owner, &org, body("member", "admin")).await;
    let url = app.url(&format!("{}/{}", connections(&org), owners["id"].as_str().unwrap()));
    let res = admin.patch(&url).json(&json!({ "issuer": "https://attacker.example" })).send().await.unwrap();
    let (status, err) = error_of(res).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::FORBIDDEN, Some("insufficient_rank")), "{err}");
    let res = owner.patch(&url).json(&json!({ "name": "Renamed" })).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    app.stop().await;
}
both!(connections_follow_the_rank_rules);

async fn saml_responses_are_bound_to_the_browser_that_asked(backend: Backend) {
    let idp = SamlIdp::start();
    let Some(app) = spawn_app(backend, sso_options()).await else { return };
    let (owner, org) = owner_with_org(&app, "Acme").await;
    let saml = saml_connection(&app, &owner, &org, &idp).await;
    let saml = saml["id"].as_str().unwrap();

    // The victim starts a sign-in of their own; the attacker starts one, signs in at the IdP as
    // themselves and has the victim's browser post the attacker's response (login CSRF).
    let (victim, victims_response) = saml_response(&app, &idp, saml, "vera").await;
    let (_, attackers_response) = saml_response(&app, &idp, saml, "mallet").await;
    let res = post_acs(&app, &victim, saml, &attackers_response).await;
    assert_refused(&app, &victim, res, "matches no open request").await;
    assert!(member(&app, &owner, &org, "mallet@example.com").await.is_none());

    // Another browser flooding /sso/start does not push the victim's own request out.
    let flooder = app.client();
    for _ in 0..12 {
        let res = app.get(&flooder, &format!("/sso/start?connection={saml}")).await;
        assert!(res.status().is_redirection(), "{}", res.status());
    }
    let res = post_acs(&app, &victim, saml, &victims_response).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", res.text().await.unwrap());
    assert_eq!(me(&app, &victim).await.unwrap()["email"], "vera@example.com");
    app.stop().await;
}
both!(saml_responses_are_bound_to_the_browser_that_asked);

async fn saml_assertions_must_be_strict(backend: Backend) {
    let idp = SamlIdp::start();
    let Some(app) = spawn_app(backend, sso_options()).await else { return };
    let (owner, org) = owner_with_org(&app, "Acme").await;
    let saml = saml_connection(&app, &owner, &org, &idp).await;
    let saml = saml["id"].as_str().unwrap();
    let cases = [
        (json!({ "no_audience": true }), "no AudienceRestriction"),
        (json!({ "doctype": true }), "document type declaration"),
        (json!({ "omit_name_id": true }), "no NameID"),
    ];
    for (flags, explanation) in cases {
        idp.next_response(flags.clone()).await;
        let (browser, response) = saml_response(&app, &idp, saml, "sam").await;
        assert_refused(&app, &browser, post_acs(&app, &browser, saml, &response).await, explanation).await;
    }
    assert!(member(&app, &owner, &org, "sam@example.com").await.is_none());
    app.stop().await;
}
both!(saml_assertions_must_be_strict);

/// A Unicode address and its punycode spelling are one domain: require-SSO cannot be dodged by
/// writing the domain in Unicode.
async fn email_domains_compare_in_one_form(backend: Backend) {
    let Some(app) = spawn_app(backend, sso_options()).await else { return };
    let (owner, org) = owner_with_org(&app, "Books").await;
    let provider_free = create_connection(&app, &owner, &org, oidc_body("https://idp.example")).await;
    let client = app.client();
    let body = json!({ "name": "Ann", "email": "ann@bücher.example", "password": STRONG_PASSWORD });
    assert_eq!(app.post(&client, "/api/v1/auth/signup", body).await.status(), StatusCode::CREATED);
    assert_eq!(me(&app, &client).await.unwrap()["email"], "ann@xn--bcher-kva.example");
    let now = chrono::Utc::now().timestamp_millis();
    sqlx::query(
        "INSERT INTO org_domains (id, organization_id, domain, verification_token, verified_at, created_at, require_sso, connection_id)
         VALUES ($1, $2, 'xn--bcher-kva.example', 'test', $3, $3, 1, $4)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(&org)
    .bind(now)
    .bind(provider_free["id"].as_str().unwrap())
    .execute(&app.pool())
    .await
    .unwrap();
    for spelling in ["ann@bücher.example", "ann@xn--bcher-kva.example", "Ann@BÜCHER.example"] {
        let (status, err) = error_of(app.login(&app.client(), spelling, STRONG_PASSWORD).await).await;
        assert_eq!((status, err["code"].as_str()), (StatusCode::FORBIDDEN, Some("sso_required")), "{spelling}: {err}");
    }
    app.stop().await;
}
both!(email_domains_compare_in_one_form);
