//! Sign-up, sign-in, profile, email verification, password change and reset over /api/v1.
use crate::both;
use crate::support::{error_of, spawn_app, Backend, Options, STRONG_PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn signup_login_logout_and_me(backend: Backend) {
    let Some(app) = spawn_app(backend, Options::default()).await else { return };
    let browser = app.client();
    let email = app.signup(&browser, "Ada Lovelace").await;

    let me: Value = app.get(&browser, "/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["email"], email.as_str());
    assert_eq!(me["name"], "Ada Lovelace");
    assert_eq!(me["email_verified"], false);
    assert!(me["created_at"].as_str().unwrap().ends_with('Z'), "RFC 3339 UTC: {me}");

    let res = app.post(&browser, "/api/v1/auth/logout", json!({})).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let (status, err) = error_of(app.get(&browser, "/api/v1/me").await).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));

    // Email is matched case-insensitively.
    let res = app.login(&browser, &email.to_uppercase(), STRONG_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.get(&browser, "/api/v1/me").await.status(), StatusCode::OK);
    app.stop().await;
}
both!(signup_login_logout_and_me);

async fn duplicate_and_invalid_signups_are_refused(backend: Backend) {
    let Some(app) = spawn_app(backend, Options::default()).await else { return };
    let browser = app.client();
    let email = app.signup(&browser, "Ada").await;

    let again =
        json!({"name": "Imposter", "email": format!("  {}  ", email.to_uppercase()), "password": STRONG_PASSWORD});
    let (status, err) = error_of(app.post(&app.client(), "/api/v1/auth/signup", again).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["code"], "email_taken");
    assert_eq!(err["details"]["field"], "email");
    // The address's holder is told, with a way back in if they forgot their password.
    let mail = app.mail(&email, "tried to sign up").await;
    assert!(mail.body.contains("Hello Ada") && mail.body.contains("already has one"), "{}", mail.body);
    assert_eq!(mail.link("/forgot-password"), app.url("/forgot-password"));

    for (body, field) in [
        (json!({"name": "", "email": "a@example.com", "password": STRONG_PASSWORD}), "name"),
        (json!({"name": "A", "email": "not-an-email", "password": STRONG_PASSWORD}), "email"),
        (json!({"name": "A", "email": "b@example.com", "password": "short"}), "password"),
        (json!({"name": "A", "email": "b@example.com", "password": "password123"}), "password"),
        (json!({"name": "A", "email": "b@example.com", "password": "x".repeat(1025)}), "password"),
        (json!({"name": "A", "email": "b@example.com"}), "password"),
        (json!({"name": 5, "email": "b@example.com", "password": STRONG_PASSWORD}), "name"),
    ] {
        let (status, err) = error_of(app.post(&app.client(), "/api/v1/auth/signup", body.clone()).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(err["details"]["field"], field, "{body} → {err}");
    }
    app.stop().await;
}
both!(duplicate_and_invalid_signups_are_refused);

async fn wrong_email_and_wrong_password_look_the_same(backend: Backend) {
    let Some(app) = spawn_app(backend, Options::default()).await else { return };
    let email = app.signup(&app.client(), "Ada").await;
    let (s1, wrong_password) = error_of(app.login(&app.client(), &email, "not the password at all").await).await;
    let (s2, unknown_email) =
        error_of(app.login(&app.client(), "nobody@example.com", "not the password at all").await).await;
    assert_eq!(s1, StatusCode::UNAUTHORIZED);
    assert_eq!(s1, s2);
    assert_eq!(wrong_password, unknown_email);
    assert_eq!(wrong_password["message"], "Incorrect email or password.");
    app.stop().await;
}
both!(wrong_email_and_wrong_password_look_the_same);

async fn email_is_verified_through_the_mailed_link(backend: Backend) {
    let Some(app) = spawn_app(backend, Options::default()).await else { return };
    let browser = app.client();
    let email = app.signup(&browser, "Ada").await;
    let mail = app.mail(&email, "Verify your email").await;
    let link = mail.link("/verify-email?token=");
    assert!(link.starts_with(&app.base), "{link}");
    // Opening the link changes nothing by itself.
    assert_eq!(app.get(&app.client(), &link[app.base.len()..]).await.status(), StatusCode::OK);
    let me: Value = app.get(&browser, "/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["email_verified"], false);

    let token = mail.token("/verify-email");
    let res = app.post(&app.client(), "/api/v1/auth/verify-email", json!({"token": token})).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let me: Value = app.get(&browser, "/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["email_verified"], true);

    let (status, err) =
        error_of(app.post(&app.client(), "/api/v1/auth/verify-email", json!({"token": token})).await).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_token")));
    let (status, _) = error_of(app.post(&browser, "/api/v1/auth/resend-verification", json!({})).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    app.stop().await;
}
both!(email_is_verified_through_the_mailed_link);

async fn verification_can_be_resent(backend: Backend) {
    let Some(app) = spawn_app(backend, Options::default()).await else { return };
    let browser = app.client();
    let email = app.signup(&browser, "Ada").await;
    let first = app.mail(&email, "Verify your email").await.token("/verify-email");
    let res = app.post(&browser, "/api/v1/auth/resend-verification", json!({})).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let second = app.smtp.as_ref().unwrap().wait_for(&email, "Verify your email", 2).await.token("/verify-email");
    assert_ne!(first, second);
    let res = app.post(&app.client(), "/api/v1/auth/verify-email", json!({"token": second})).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    app.stop().await;
}
both!(verification_can_be_resent);

async fn forgotten_password_is_reset_through_the_mailed_link(backend: Backend) {
    let Some(app) = spawn_app(backend, Options::default()).await else { return };
    let signed_in = app.client();
    let email = app.signup(&signed_in, "Ada").await;

    // Same answer for a stranger's address, and no mail for it.
    for address in [email.as_str(), "nobody@example.com"] {
        let res = app.post(&app.client(), "/api/v1/auth/forgot-password", json!({"email": address})).await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    let token = app.mail(&email, "Reset your password").await.token("/reset-password");

    let weak = app
        .post(&app.client(), "/api/v1/auth/reset-password", json!({"token": token, "password": "password123"}))
        .await;
    assert_eq!(error_of(weak).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let new_password = "correct horse battery staple 42";
    let res =
        app.post(&app.client(), "/api/v1/auth/reset-password", json!({"token": token, "password": new_password})).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    // The reset ends every session, uses the link up, and swaps the password.
    assert_eq!(app.get(&signed_in, "/api/v1/me").await.status(), StatusCode::UNAUTHORIZED);
    let reuse = app
        .post(
            &app.client(),
            "/api/v1/auth/reset-password",
            json!({"token": token, "password": "another fine password 7"}),
        )
        .await;
    assert_eq!(error_of(reuse).await.1["code"], "invalid_token");
    assert_eq!(app.login(&app.client(), &email, STRONG_PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    let browser = app.client();
    assert_eq!(app.login(&browser, &email, new_password).await.status(), StatusCode::OK);
    let me: Value = app.get(&browser, "/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["email_verified"], true, "receiving the reset mail proves the address");
    assert!(app.smtp.as_ref().unwrap().all().iter().all(|m| m.to != "nobody@example.com"));
    app.stop().await;
}
both!(forgotten_password_is_reset_through_the_mailed_link);

async fn changing_the_password_ends_other_sessions(backend: Backend) {
    let Some(app) = spawn_app(backend, Options::default()).await else { return };
    let laptop = app.client();
    let email = app.signup(&laptop, "Ada").await;
    let phone = app.client();
    assert_eq!(app.login(&phone, &email, STRONG_PASSWORD).await.status(), StatusCode::OK);

    let wrong = app
        .post(
            &laptop,
            "/api/v1/me/password",
            json!({"current_password": "not it at all", "new_password": "brand new pass phrase 9"}),
        )
        .await;
    let (status, err) = error_of(wrong).await;
    assert_eq!(
        (status, err["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("current_password"))
    );
    let weak = app
        .post(
            &laptop,
            "/api/v1/me/password",
            json!({"current_password": STRONG_PASSWORD, "new_password": "qwertyuiop"}),
        )
        .await;
    assert_eq!(error_of(weak).await.1["details"]["field"], "new_password");

    let res = app
        .post(
            &laptop,
            "/api/v1/me/password",
            json!({"current_password": STRONG_PASSWORD, "new_password": "brand new pass phrase 9"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers().get_all("set-cookie").iter().any(|c| c.to_str().unwrap().starts_with("gatehouse_session=")),
        "session id rotated"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["ended_sessions"], 1);
    assert_eq!(app.get(&laptop, "/api/v1/me").await.status(), StatusCode::OK);
    assert_eq!(app.get(&phone, "/api/v1/me").await.status(), StatusCode::UNAUTHORIZED);
    app.mail(&email, "Your password was changed").await;
    assert_eq!(app.login(&app.client(), &email, "brand new pass phrase 9").await.status(), StatusCode::OK);
    app.stop().await;
}
both!(changing_the_password_ends_other_sessions);

async fn profile_can_be_edited(backend: Backend) {
    let Some(app) = spawn_app(backend, Options::default()).await else { return };
    let browser = app.client();
    app.signup(&browser, "Ada").await;
    let res = browser.patch(app.url("/api/v1/me")).json(&json!({"name": "  Ada King  "})).send().await.unwrap();
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["name"], "Ada King");
    let res = browser.patch(app.url("/api/v1/me")).json(&json!({"name": ""})).send().await.unwrap();
    let (status, err) = error_of(res).await;
    assert_eq!((status, err["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("name")));
    let me: Value = app.get(&browser, "/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["name"], "Ada King", "a refused change keeps what was stored");
    app.stop().await;
}
both!(profile_can_be_edited);
