//! The dashboard over plain HTTP, as a browser without JavaScript sees it, plus operations routes.
use crate::both;
use crate::support::{spawn_app, Backend, Options, STRONG_PASSWORD};
use reqwest::{Client, StatusCode};
use serde_json::Value;

async fn health_and_request_ids(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let client = app.client();
    let res = app.get(&client, "/healthz").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!res.headers()["x-request-id"].is_empty());
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "ok");
    let ready: Value = app.get(&client, "/readyz").await.json().await.unwrap();
    assert_eq!(ready["database"], "ok");
    let res = client.get(app.url("/healthz")).header("x-request-id", "trace-me-123").send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-me-123");

    // gzip when it pays: not for a body that fits one TCP segment, yes for the OpenAPI document.
    let gzip = |path: &str| client.get(app.url(path)).header("accept-encoding", "gzip").send();
    assert!(gzip("/healthz").await.unwrap().headers().get("content-encoding").is_none());
    assert_eq!(gzip("/api/v1/openapi.json").await.unwrap().headers()["content-encoding"], "gzip");
    app.stop().await;
}
both!(health_and_request_ids);

async fn pages_render_on_the_server(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let client = app.client();
    for (path, text) in [
        ("/", "Create an account"),
        ("/signup", "Create account"),
        ("/login", "Forgot your password?"),
        ("/forgot-password", "Send reset link"),
    ] {
        let res = app.get(&client, path).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let html = res.text().await.unwrap();
        assert!(html.contains(text), "{path} lacks {text:?}");
        assert!(html.contains("/pkg/gatehouse"), "{path} loads the hydration bundle");
    }
    let res = app.get(&client, "/no-such-page").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.text().await.unwrap().contains("Page not found"));
    // Signed out, the account page sends you to sign in.
    let res = client.get(app.url("/account")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/login");
    app.stop().await;
}
both!(pages_render_on_the_server);

/// A form post as a browser without JavaScript sends it.
async fn form_post(
    app: &crate::support::TestApp,
    client: &Client,
    from: &str,
    rpc: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(app.url(rpc))
        .header("accept", "text/html,application/xhtml+xml")
        .header("origin", app.base.as_str())
        .header("referer", app.url(from))
        .form(fields)
        .send()
        .await
        .unwrap()
}

async fn forms_work_without_javascript(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let browser = app.client();
    let email = format!("nojs-{}@example.com", uuid::Uuid::now_v7().simple());
    let res = form_post(
        &app,
        &browser,
        "/signup",
        "/rpc/signup",
        &[("name", "No Script"), ("email", &email), ("password", STRONG_PASSWORD)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/account?notice=welcome");
    let html = app.get(&browser, "/account?notice=welcome").await.text().await.unwrap();
    assert!(html.contains("Check your inbox") && html.contains("No Script"), "account page after signup");

    let res = form_post(&app, &browser, "/account", "/rpc/logout", &[]).await;
    assert_eq!(res.headers()["location"], "/login?notice=signed_out");

    // A wrong password comes back to the form with the error in the URL, shown on the page.
    let res =
        form_post(&app, &browser, "/login", "/rpc/login", &[("email", &email), ("password", "not my password")]).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let back = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(&app.url("/login?")) && back.contains("__err="), "{back}");
    let html = app.get(&browser, &back[app.base.len()..]).await.text().await.unwrap();
    assert!(html.contains("Incorrect email or password."), "error shown after the round trip");

    let res =
        form_post(&app, &browser, "/login", "/rpc/login", &[("email", &email), ("password", STRONG_PASSWORD)]).await;
    assert_eq!(res.headers()["location"], "/account");
    let res = form_post(&app, &browser, "/account", "/rpc/update_profile", &[("name", "Renamed Person")]).await;
    assert_eq!(res.headers()["location"], "/account?notice=profile_saved");
    let html = app.get(&browser, "/account?notice=profile_saved").await.text().await.unwrap();
    assert!(html.contains("Profile saved.") && html.contains("Renamed Person"));
    app.stop().await;
}
both!(forms_work_without_javascript);

async fn server_functions_answer_script_callers_with_json_errors(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let client = app.client();
    let res = client
        .post(app.url("/rpc/login"))
        .form(&[("email", "a@example.com"), ("password", "whatever it is")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["code"], "invalid_credentials");
    let res = client.get(app.url("/rpc/login")).send().await.unwrap();
    assert!(res.status().is_client_error(), "server functions are POST only: {}", res.status());
    app.stop().await;
}
both!(server_functions_answer_script_callers_with_json_errors);

async fn mail_without_smtp_lands_in_the_development_outbox(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let client = app.client();
    let email = app.signup(&client, "Ada").await;
    let mut outbox = Value::Null;
    for _ in 0..100 {
        outbox =
            client.post(app.url("/rpc/dev_outbox")).form(&[("cursor", "")]).send().await.unwrap().json().await.unwrap();
        if outbox["data"].as_array().is_some_and(|d| !d.is_empty() && !d[0]["sent_at"].is_null()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mail = &outbox["data"][0];
    assert_eq!(mail["to"], email.as_str());
    assert!(mail["body"].as_str().unwrap().contains("/verify-email?token="));
    assert!(!mail["sent_at"].is_null(), "delivered to the outbox: {outbox}");
    let html = app.get(&client, "/dev/outbox").await.text().await.unwrap();
    assert!(html.contains("Development outbox") && html.contains("Verify your email address"));
    app.stop().await;
}
both!(mail_without_smtp_lands_in_the_development_outbox);

async fn outbox_is_hidden_when_smtp_is_configured(backend: Backend) {
    let Some(app) = spawn_app(backend, Options::default()).await else { return };
    let res = app.client().post(app.url("/rpc/dev_outbox")).form(&[("cursor", "")]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}
both!(outbox_is_hidden_when_smtp_is_configured);

async fn sign_in_returns_to_a_local_next_page_only(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let email = app.signup(&app.client(), "Ada").await;
    for (next, expected) in [
        ("/invite?token=abc", "/invite?token=abc"),
        ("//evil.example/", "/account"),
        ("https://evil.example", "/account"),
        ("/%2f%2fevil.example", "/account"),
        ("/\t/evil.example", "/account"),
        ("/\n", "/account"),
        ("javascript:alert(1)", "/account"),
    ] {
        let fields = [("email", email.as_str()), ("password", STRONG_PASSWORD), ("next", next)];
        let res = form_post(&app, &app.client(), "/login", "/rpc/login", &fields).await;
        assert_eq!(res.headers()["location"], expected, "next={next}");
    }
    let new_email = format!("next-{}@example.com", uuid::Uuid::now_v7().simple());
    let fields =
        [("name", "New"), ("email", new_email.as_str()), ("password", STRONG_PASSWORD), ("next", "/invite?token=xyz")];
    let res = form_post(&app, &app.client(), "/signup", "/rpc/signup", &fields).await;
    assert_eq!(res.headers()["location"], "/invite?token=xyz");
    // The pages carry it through their forms.
    let html = app.get(&app.client(), "/login?next=%2Finvite%3Ftoken%3Dabc").await.text().await.unwrap();
    assert!(html.contains(r#"name="next""#) && html.contains("/invite?token=abc"), "hidden next field");
    app.stop().await;
}
both!(sign_in_returns_to_a_local_next_page_only);

/// The one secret in a page answering a no-JavaScript form, e.g. `gk_live_…` or `whsec_…`.
fn secret_in(html: &str, prefix: &str) -> String {
    let start = html.find(&format!("value=\"{prefix}")).unwrap_or_else(|| panic!("no {prefix} secret in {html}")) + 7;
    html[start..].split('"').next().unwrap().to_owned()
}

/// Forms whose answer is a secret shown once (create or roll a key, add an endpoint, rotate its
/// secret) post without JavaScript to their `formaction`, which answers with the secret in the
/// page; an invalid form goes back with the error, as server functions do.
async fn secrets_are_shown_once_without_javascript(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let owner = app.client();
    app.signup(&owner, "Olivia Owner").await;
    let org = app.create_org(&owner, "Acme").await;
    let id = org["id"].as_str().unwrap();
    let keys_page = format!("/orgs/{id}/api-keys");
    let html = app.get(&owner, &keys_page).await.text().await.unwrap();
    assert!(html.contains(&format!("formaction=\"/orgs/{id}/reveal/create_api_key\"")), "create form's no-JS target");

    let create = [("org_id", id), ("name", "No script"), ("scopes[org:read]", "on"), ("expires_on", "")];
    let res = form_post(&app, &owner, &keys_page, &format!("/orgs/{id}/reveal/create_api_key"), &create).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    assert!(html.contains("Copy the secret of “No script” now.") && html.contains(&format!("href=\"{keys_page}\"")));
    let secret = secret_in(&html, "gk_live_");
    let read = |key: String| {
        let url = app.url(&format!("/api/v1/organizations/{id}"));
        async move { crate::support::http().get(url).bearer_auth(key).send().await.unwrap().status() }
    };
    assert_eq!(read(secret.clone()).await, StatusCode::OK, "the key shown works");
    let keys: Value = app.get(&owner, &format!("/api/v1/organizations/{id}/api-keys")).await.json().await.unwrap();
    assert_eq!(keys["data"][0]["scopes"], serde_json::json!(["org:read"]));
    let key_id = keys["data"][0]["id"].as_str().unwrap();

    let roll = [("org_id", id), ("key_id", key_id), ("grace_hours", "0")];
    let res = form_post(&app, &owner, &keys_page, &format!("/orgs/{id}/reveal/roll_api_key"), &roll).await;
    let rolled = secret_in(&res.text().await.unwrap(), "gk_live_");
    assert_ne!(rolled, secret);
    assert_eq!((read(secret).await, read(rolled).await), (StatusCode::UNAUTHORIZED, StatusCode::OK));

    // An invalid form goes back to the page, which shows the error; no key is made.
    let nameless = [("org_id", id), ("name", ""), ("scopes[org:read]", "on")];
    let res = form_post(&app, &owner, &keys_page, &format!("/orgs/{id}/reveal/create_api_key"), &nameless).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(&app.url(&format!("{keys_page}?"))) && back.contains("__err="), "{back}");
    let html = app.get(&owner, &back[app.base.len()..]).await.text().await.unwrap();
    assert!(html.contains("Give the key a name of 1 to 100 characters."), "error shown after the round trip");
    let keys: Value = app.get(&owner, &format!("/api/v1/organizations/{id}/api-keys")).await.json().await.unwrap();
    assert_eq!(keys["data"].as_array().unwrap().len(), 1);

    let hooks_page = format!("/orgs/{id}/webhooks");
    let add = [("org_id", id), ("url", "https://hooks.example.com/gatehouse"), ("events[member.added]", "on")];
    let res = form_post(&app, &owner, &hooks_page, &format!("/orgs/{id}/reveal/create_webhook"), &add).await;
    let html = res.text().await.unwrap();
    let signing = secret_in(&html, "whsec_");
    let hooks: Value = app.get(&owner, &format!("/api/v1/organizations/{id}/webhooks")).await.json().await.unwrap();
    let hook = hooks["data"][0]["id"].as_str().unwrap();
    assert!(html.contains(&format!("href=\"{hooks_page}/{hook}\"")), "back to the new endpoint");
    let rotate = [("org_id", id), ("webhook_id", hook)];
    let res = form_post(&app, &owner, &hooks_page, &format!("/orgs/{id}/reveal/rotate_webhook_secret"), &rotate).await;
    assert_ne!(secret_in(&res.text().await.unwrap(), "whsec_"), signing);

    // Another organization's form target is 404, like every other route into it.
    let stranger = app.client();
    app.signup(&stranger, "Sam Stranger").await;
    let res = form_post(&app, &stranger, &keys_page, &format!("/orgs/{id}/reveal/create_api_key"), &create).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}
both!(secrets_are_shown_once_without_javascript);
