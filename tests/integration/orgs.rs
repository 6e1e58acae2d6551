//! Organizations over /api/v1: lifecycle, the permission matrix, isolation between organizations,
//! the last-owner and seat-limit invariants under concurrency, invitations and the audit chain.
use crate::both;
use crate::support::{error_of, spawn_app, Backend, Options, TestApp};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

async fn lifecycle(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let owner = app.client();
    app.signup(&owner, "Olivia Owner").await;
    let org = app.create_org(&owner, "Acme, Inc.").await;
    let id = org["id"].as_str().unwrap();
    assert_eq!(org["slug"], "acme-inc");
    assert_eq!(org["my_role"], "owner");
    assert_eq!(org["subscription"]["tier"], "free");
    assert_eq!(org["limits"]["max_users"], 5);
    assert_eq!(org["member_count"], 1);

    // Slugs are unique and validated.
    let (status, err) =
        error_of(app.post(&owner, "/api/v1/organizations", json!({"name": "Other", "slug": "acme-inc"})).await).await;
    assert_eq!((status, err["details"]["field"].as_str()), (StatusCode::CONFLICT, Some("slug")));
    let (status, err) =
        error_of(app.post(&owner, "/api/v1/organizations", json!({"name": "Other", "slug": "Not OK!"})).await).await;
    assert_eq!((status, err["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("slug")));

    let list: Value = app.get(&owner, "/api/v1/organizations").await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);

    let patch = json!({"name": "Acme Corporation", "primary_color": "#AA3300", "tier": "premium"});
    let res = owner.patch(app.url(&format!("/api/v1/organizations/{id}"))).json(&patch).send().await.unwrap();
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["name"], "Acme Corporation");
    assert_eq!(updated["settings"]["primary_color"], "#aa3300");
    assert_eq!(updated["limits"]["max_users"], 25, "tier change applies its limits");
    let bad = owner
        .patch(app.url(&format!("/api/v1/organizations/{id}")))
        .json(&json!({"max_users": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(bad).await.1["details"]["field"], "max_users", "only Enterprise limits are set by hand");
    let unknown = owner
        .patch(app.url(&format!("/api/v1/organizations/{id}")))
        .json(&json!({"colour": "#fff"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let stats: Value = app.get(&owner, &format!("/api/v1/organizations/{id}/stats")).await.json().await.unwrap();
    assert_eq!(stats["member_count"], 1);
    assert_eq!(stats["audit_events_per_day"].as_array().unwrap().len(), 30);
    assert!(stats["audit_events_per_day"][29]["count"].as_i64().unwrap() >= 2);

    let wrong = owner
        .delete(app.url(&format!("/api/v1/organizations/{id}")))
        .json(&json!({"confirm": "acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(wrong).await.1["details"]["field"], "confirm");
    let res = owner
        .delete(app.url(&format!("/api/v1/organizations/{id}")))
        .json(&json!({"confirm": "acme-inc"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(error_of(app.get(&owner, &format!("/api/v1/organizations/{id}")).await).await.0, StatusCode::NOT_FOUND);
    // The deletion is recorded on the platform chain, which survives the organization.
    let row: (String,) =
        sqlx::query_as("SELECT action FROM audit_logs WHERE chain_id = 'platform' AND organization_id = $1")
            .bind(id)
            .fetch_one(&app.pool())
            .await
            .unwrap();
    assert_eq!(row.0, "organization.deleted");
    app.stop().await;
}
both!(lifecycle);

/// One row per action: (method, path template, body, roles allowed among owner/admin/member/viewer).
fn matrix_actions(target: &str) -> Vec<(Method, String, Value, [bool; 4])> {
    vec![
        (Method::GET, "".into(), Value::Null, [true, true, true, true]),
        (Method::GET, "/stats".into(), Value::Null, [true, true, true, true]),
        (Method::GET, "/members".into(), Value::Null, [true, true, true, false]),
        (Method::PATCH, "".into(), json!({"name": "Renamed"}), [true, true, false, false]),
        (Method::PATCH, "".into(), json!({"subscription_status": "active"}), [true, false, false, false]),
        (Method::GET, "/invitations".into(), Value::Null, [true, true, false, false]),
        (
            Method::POST,
            "/invite".into(),
            json!({"email": "x@example.com", "role": "viewer"}),
            [true, true, false, false],
        ),
        (Method::GET, "/audit-logs".into(), Value::Null, [true, true, false, false]),
        (Method::GET, "/audit-logs/verify".into(), Value::Null, [true, true, false, false]),
        (Method::PATCH, format!("/members/{target}"), json!({"role": "viewer"}), [true, true, false, false]),
        // Owners pass the permission check and then fail on the input (404 / 422), others get 403.
        (
            Method::POST,
            "/transfer-ownership".into(),
            json!({"user_id": "00000000-0000-7000-8000-000000000000"}),
            [true, false, false, false],
        ),
        (Method::DELETE, "".into(), json!({"confirm": "wrong"}), [true, false, false, false]),
    ]
}

async fn permission_matrix(backend: Backend) {
    let tweak = |c: &mut gatehouse::server::config::Config| c.signup_throttle.max = 1000;
    let Some(app) = spawn_app(backend, Options { smtp: false, tweak: Box::new(tweak) }).await else { return };
    let owner = app.client();
    app.signup(&owner, "Owner").await;
    let org = app.create_org(&owner, "Matrix Org").await;
    let id = org["id"].as_str().unwrap().to_owned();
    owner.patch(app.url(&format!("/api/v1/organizations/{id}"))).json(&json!({"tier": "plus"})).send().await.unwrap();
    let admin = app.add_member(&owner, &id, "Admin", "admin").await;
    let member = app.add_member(&owner, &id, "Member", "member").await;
    let viewer = app.add_member(&owner, &id, "Viewer", "viewer").await;
    let clients: [&Client; 4] = [&owner, &admin.client, &member.client, &viewer.client];
    for (i, client) in clients.iter().enumerate() {
        // A fresh viewer to act on, so role changes never touch the actors themselves.
        let target = app.add_member(&owner, &id, &format!("Target {i}"), "viewer").await;
        for (method, path, body, allowed) in matrix_actions(&target.id) {
            let url = app.url(&format!("/api/v1/organizations/{id}{path}"));
            let mut request = client.request(method.clone(), url);
            if !body.is_null() {
                request = request.json(&body);
            }
            let status = request.send().await.unwrap().status();
            let role = ["owner", "admin", "member", "viewer"][i];
            if allowed[i] {
                assert_ne!(status, StatusCode::FORBIDDEN, "{role} {method} {path} should be allowed");
                assert!(!status.is_server_error(), "{role} {method} {path}: {status}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role} {method} {path} should be refused");
            }
        }
    }
    // Rank rules: an admin cannot promote to admin or touch an owner.
    let (status, err) = error_of(
        admin
            .client
            .patch(app.url(&format!("/api/v1/organizations/{id}/members/{}", member.id)))
            .json(&json!({"role": "admin"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::FORBIDDEN, Some("insufficient_rank")));
    let owner_id: Value = app.get(&owner, "/api/v1/me").await.json().await.unwrap();
    let res = admin
        .client
        .delete(app.url(&format!("/api/v1/organizations/{id}/members/{}", owner_id["id"].as_str().unwrap())))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Grants: only permissions one holds, never owner-only ones; a granted permission works.
    let grant = |perms: Value| {
        admin
            .client
            .patch(app.url(&format!("/api/v1/organizations/{id}/members/{}", member.id)))
            .json(&json!({"permissions": perms}))
            .send()
    };
    assert_eq!(grant(json!(["org:delete"])).await.unwrap().status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.get(&member.client, &format!("/api/v1/organizations/{id}/audit-logs")).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(grant(json!(["audit:read"])).await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        app.get(&member.client, &format!("/api/v1/organizations/{id}/audit-logs")).await.status(),
        StatusCode::OK
    );
    app.stop().await;
}
both!(permission_matrix);

/// Every organization route the API serves, with its methods, from the OpenAPI document (which
/// is collected from the router itself): new routes are covered here without anyone having to
/// remember to add them.
fn org_routes() -> Vec<(Method, String)> {
    let spec = serde_json::to_value(gatehouse::server::api::openapi::spec()).unwrap();
    let mut routes = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        if !path.starts_with("/organizations/{org}") {
            continue;
        }
        for (name, method) in [
            ("get", Method::GET),
            ("put", Method::PUT),
            ("post", Method::POST),
            ("patch", Method::PATCH),
            ("delete", Method::DELETE),
        ] {
            if item.get(name).is_some() {
                routes.push((method, path.clone()));
            }
        }
    }
    routes
}

async fn other_organizations_are_invisible(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let alice = app.client();
    app.signup(&alice, "Alice").await;
    let a = app.create_org(&alice, "Org A").await;
    let bob = app.client();
    app.signup(&bob, "Bob").await;
    let b = app.create_org(&bob, "Org B").await;
    let b_id = b["id"].as_str().unwrap();
    let invite: Value = app
        .post(&bob, &format!("/api/v1/organizations/{b_id}/invite"), json!({"email": "carol@example.com"}))
        .await
        .json()
        .await
        .unwrap();
    let b_invitation = invite["id"].as_str().unwrap();
    let bob_id: Value = app.get(&bob, "/api/v1/me").await.json().await.unwrap();
    let routes = org_routes();
    assert!(routes.len() >= 15, "found only {routes:?}");
    let nowhere = "01a22d44-0000-7000-8000-000000000000";
    for (method, template) in routes {
        let answer = |org: &str| {
            let path = template
                .replace("{org}", org)
                .replace("{user}", bob_id["id"].as_str().unwrap())
                .replace("{invitation}", b_invitation);
            let request = alice.request(method.clone(), app.url(&format!("/api/v1{path}")));
            let request = if method == Method::GET { request } else { request.json(&json!({})) };
            async move {
                let res = request.send().await.unwrap();
                let status = res.status();
                let body: Value = res.json().await.unwrap_or(Value::Null);
                (status, body["error"]["code"].clone())
            }
        };
        let seen_for_b = answer(b_id).await;
        // Exactly what an organization that does not exist gets (404, or a 422 about the body
        // that is checked before anything else): nothing tells org B apart.
        assert_eq!(seen_for_b, answer(nowhere).await, "{method} {template}");
        let status = seen_for_b.0;
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {template}: {status}"
        );
        if method == Method::GET {
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {template}");
        }
    }
    // Bob's organization is untouched, and Alice's own org is fine.
    let org: Value = app.get(&bob, &format!("/api/v1/organizations/{b_id}")).await.json().await.unwrap();
    assert_eq!(org["name"], "Org B");
    assert_eq!(
        app.get(&alice, &format!("/api/v1/organizations/{}", a["id"].as_str().unwrap())).await.status(),
        StatusCode::OK
    );
    app.stop().await;
}
both!(other_organizations_are_invisible);

async fn an_organization_keeps_an_owner(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let owner = app.client();
    app.signup(&owner, "Only Owner").await;
    let org = app.create_org(&owner, "Lonely").await;
    let id = org["id"].as_str().unwrap().to_owned();
    let me: Value = app.get(&owner, "/api/v1/me").await.json().await.unwrap();
    let me = me["id"].as_str().unwrap();
    let demote = owner
        .patch(app.url(&format!("/api/v1/organizations/{id}/members/{me}")))
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(demote).await.1["code"], "last_owner");
    assert_eq!(
        error_of(app.post(&owner, &format!("/api/v1/organizations/{id}/leave"), json!({})).await).await.1["code"],
        "last_owner"
    );
    let remove = owner.delete(app.url(&format!("/api/v1/organizations/{id}/members/{me}"))).send().await.unwrap();
    assert_eq!(error_of(remove).await.0, StatusCode::CONFLICT);

    // Two owners demoting each other at the same moment: exactly one stays Owner.
    for round in 0..5 {
        let other = app.add_member(&owner, &id, &format!("Co-owner {round}"), "owner").await;
        let a = owner
            .patch(app.url(&format!("/api/v1/organizations/{id}/members/{}", other.id)))
            .json(&json!({"role": "admin"}))
            .send();
        let b = other
            .client
            .patch(app.url(&format!("/api/v1/organizations/{id}/members/{me}")))
            .json(&json!({"role": "admin"}))
            .send();
        let (a, b) = tokio::join!(a, b);
        let successes = [a.unwrap().status(), b.unwrap().status()].iter().filter(|s| s.is_success()).count();
        assert_eq!(successes, 1, "round {round}");
        let owners: (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE organization_id = $1 AND role = 'owner'")
                .bind(&id)
                .fetch_one(&app.pool())
                .await
                .unwrap();
        assert_eq!(owners.0, 1, "round {round}");
        // Put things back for the next round: whoever is owner re-promotes the original owner.
        sqlx::query("UPDATE memberships SET role = 'owner' WHERE organization_id = $1 AND user_id = $2")
            .bind(&id)
            .bind(me)
            .execute(&app.pool())
            .await
            .unwrap();
        sqlx::query("DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2")
            .bind(&id)
            .bind(&other.id)
            .execute(&app.pool())
            .await
            .unwrap();
    }
    app.stop().await;
}
both!(an_organization_keeps_an_owner);

async fn seats_are_limited_even_under_concurrency(backend: Backend) {
    let tweak = |c: &mut gatehouse::server::config::Config| c.signup_throttle.max = 1000;
    let Some(app) = spawn_app(backend, Options { smtp: false, tweak: Box::new(tweak) }).await else { return };
    let owner = app.client();
    app.signup(&owner, "Owner").await;
    let org = app.create_org(&owner, "Small").await;
    let id = org["id"].as_str().unwrap().to_owned();
    // Free: 5 seats = owner + 4 pending invitations.
    for n in 0..4 {
        let res = app
            .post(&owner, &format!("/api/v1/organizations/{id}/invite"), json!({"email": format!("p{n}@example.com")}))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let (status, err) = error_of(
        app.post(&owner, &format!("/api/v1/organizations/{id}/invite"), json!({"email": "p5@example.com"})).await,
    )
    .await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some("limit_exceeded")));
    let dup = app.post(&owner, &format!("/api/v1/organizations/{id}/invite"), json!({"email": "P0@example.com"})).await;
    assert_eq!(error_of(dup).await.1["code"], "invitation_pending");

    // 50 people accept at once after the limit was lowered: never more members than seats.
    let enterprise = json!({"tier": "enterprise"});
    owner.patch(app.url(&format!("/api/v1/organizations/{id}"))).json(&enterprise).send().await.unwrap();
    let mut people = Vec::new();
    for n in 0..50 {
        let client = app.client();
        let email = app.signup(&client, &format!("Joiner {n}")).await;
        let res = app.post(&owner, &format!("/api/v1/organizations/{id}/invite"), json!({"email": email})).await;
        let invitation: Value = res.json().await.unwrap();
        let token = invitation["link"].as_str().unwrap().split("token=").nth(1).unwrap().to_owned();
        people.push((client, token));
    }
    owner.patch(app.url(&format!("/api/v1/organizations/{id}"))).json(&json!({"max_users": 10})).send().await.unwrap();
    let accepts =
        people.iter().map(|(client, token)| app.post(client, "/api/v1/invitations/accept", json!({"token": token})));
    let statuses: Vec<StatusCode> = futures::future::join_all(accepts).await.iter().map(|r| r.status()).collect();
    let joined = statuses.iter().filter(|s| s.is_success()).count();
    assert_eq!(joined, 9, "owner + 9 = 10 seats: {statuses:?}");
    assert!(statuses.iter().all(|s| s.is_success() || *s == StatusCode::CONFLICT), "{statuses:?}");
    let org: Value = app.get(&owner, &format!("/api/v1/organizations/{id}")).await.json().await.unwrap();
    assert_eq!(org["member_count"], 10);
    app.stop().await;
}
both!(seats_are_limited_even_under_concurrency);

async fn invitations_follow_the_mailed_link(backend: Backend) {
    let Some(app) = spawn_app(backend, Options::default()).await else { return };
    let owner = app.client();
    app.signup(&owner, "Owner").await;
    let org = app.create_org(&owner, "Mailers").await;
    let id = org["id"].as_str().unwrap().to_owned();
    let invitee = app.client();
    let email = app.signup(&invitee, "Invitee").await;
    let res = app
        .post(
            &owner,
            &format!("/api/v1/organizations/{id}/invite"),
            json!({"email": email.to_uppercase(), "role": "admin"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let mail = app.mail(&email, "You are invited to join Mailers").await;
    let token = mail.token("/invite");

    // Someone else signed in cannot use it.
    let stranger = app.client();
    app.signup(&stranger, "Stranger").await;
    let (status, err) =
        error_of(app.post(&stranger, "/api/v1/invitations/accept", json!({"token": token})).await).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::FORBIDDEN, Some("invitation_email_mismatch")));

    let res = app.post(&invitee, "/api/v1/invitations/accept", json!({"token": token})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let joined: Value = res.json().await.unwrap();
    assert_eq!(joined["my_role"], "admin");
    let me: Value = app.get(&invitee, "/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["email_verified"], true, "accepting an invitation sent to the address verifies it");
    let (status, err) = error_of(app.post(&invitee, "/api/v1/invitations/accept", json!({"token": token})).await).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::GONE, Some("invitation_used")));
    let again = app.post(&owner, &format!("/api/v1/organizations/{id}/invite"), json!({"email": email})).await;
    assert_eq!(error_of(again).await.1["code"], "already_member");

    // Revoked and expired invitations answer 410; resend rotates the token.
    let invite_path = format!("/api/v1/organizations/{id}/invite");
    let issue = |address: &'static str| app.post(&owner, &invite_path, json!({"email": address}));
    let revoked: Value = issue("revoked@example.com").await.json().await.unwrap();
    let res = owner
        .delete(app.url(&format!("/api/v1/organizations/{id}/invitations/{}", revoked["id"].as_str().unwrap())))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let revoked_token = revoked["link"].as_str().unwrap().split("token=").nth(1).unwrap();
    assert_eq!(
        error_of(app.post(&invitee, "/api/v1/invitations/accept", json!({"token": revoked_token})).await).await.1
            ["code"],
        "invitation_revoked"
    );

    let late: Value = issue("late@example.com").await.json().await.unwrap();
    sqlx::query("UPDATE invitations SET expires_at = 1 WHERE id = $1")
        .bind(late["id"].as_str().unwrap())
        .execute(&app.pool())
        .await
        .unwrap();
    let late_token = late["link"].as_str().unwrap().split("token=").nth(1).unwrap().to_owned();
    assert_eq!(
        error_of(app.post(&invitee, "/api/v1/invitations/accept", json!({"token": late_token})).await).await.0,
        StatusCode::GONE
    );
    let resent: Value = app
        .post(
            &owner,
            &format!("/api/v1/organizations/{id}/invitations/{}/resend", late["id"].as_str().unwrap()),
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(resent["status"], "pending");
    assert_ne!(resent["link"], late["link"]);
    assert_eq!(
        error_of(app.post(&invitee, "/api/v1/invitations/accept", json!({"token": late_token})).await).await.0,
        StatusCode::NOT_FOUND
    );
    app.smtp.as_ref().unwrap().wait_for("late@example.com", "You are invited", 2).await;

    let list: Value = app.get(&owner, &format!("/api/v1/organizations/{id}/invitations")).await.json().await.unwrap();
    let statuses: Vec<&str> = list["data"].as_array().unwrap().iter().map(|i| i["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["pending", "revoked", "accepted"]);
    app.stop().await;
}
both!(invitations_follow_the_mailed_link);

async fn audit_count(app: &TestApp, org: &str) -> i64 {
    let row: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_logs WHERE organization_id = $1")
        .bind(org)
        .fetch_one(&app.pool())
        .await
        .unwrap();
    row.0
}

async fn every_change_is_audited_once_and_tampering_shows(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let owner = app.client();
    let owner_email = app.signup(&owner, "Owner").await;
    let org = app.create_org(&owner, "Audited").await;
    let id = org["id"].as_str().unwrap().to_owned();
    owner
        .patch(app.url(&format!("/api/v1/organizations/{id}")))
        .json(&json!({"tier": "premium"}))
        .send()
        .await
        .unwrap();
    let member = app.add_member(&owner, &id, "Member", "member").await;

    let base = format!("/api/v1/organizations/{id}");
    let step = |client: Client, method: Method, path: String, body: Value, action: &'static str| {
        let app = &app;
        let id = id.clone();
        async move {
            let before = audit_count(app, &id).await;
            let mut request = client.request(method, app.url(&path));
            if !body.is_null() {
                request = request.json(&body);
            }
            let res = request.send().await.unwrap();
            assert!(res.status().is_success(), "{path}: {}", res.status());
            assert_eq!(audit_count(app, &id).await, before + 1, "{action}: exactly one row");
            let newest: (String,) =
                sqlx::query_as("SELECT action FROM audit_logs WHERE organization_id = $1 ORDER BY seq DESC LIMIT 1")
                    .bind(&id)
                    .fetch_one(&app.pool())
                    .await
                    .unwrap();
            assert_eq!(newest.0, action, "{path}");
            res
        }
    };
    let o = || owner.clone();
    step(o(), Method::PATCH, base.clone(), json!({"name": "Audited Ltd"}), "organization.updated").await;
    let issued: Value =
        step(o(), Method::POST, format!("{base}/invite"), json!({"email": "new@example.com"}), "invitation.created")
            .await
            .json()
            .await
            .unwrap();
    let invitation = issued["id"].as_str().unwrap();
    step(o(), Method::POST, format!("{base}/invitations/{invitation}/resend"), json!({}), "invitation.resent").await;
    step(o(), Method::DELETE, format!("{base}/invitations/{invitation}"), Value::Null, "invitation.revoked").await;
    step(o(), Method::PATCH, format!("{base}/members/{}", member.id), json!({"role": "viewer"}), "member.role_changed")
        .await;
    step(o(), Method::DELETE, format!("{base}/members/{}", member.id), Value::Null, "member.removed").await;
    let logo = owner.put(app.url(&format!("{base}/logo"))).body(png(16)).send().await.unwrap();
    assert_eq!(logo.status(), StatusCode::NO_CONTENT);
    let newest: Value = app.get(&owner, &format!("{base}/audit-logs?limit=1")).await.json().await.unwrap();
    assert_eq!(newest["data"][0]["action"], "organization.logo_changed");
    step(o(), Method::DELETE, format!("{base}/logo"), Value::Null, "organization.logo_removed").await;
    // Sign-ins are recorded in the user's organizations.
    app.login(&app.client(), &owner_email, crate::support::STRONG_PASSWORD).await;
    let signins: Value =
        app.get(&owner, &format!("{base}/audit-logs?action=user.signed_in")).await.json().await.unwrap();
    assert_eq!(signins["data"].as_array().unwrap().len(), 1);

    let heir = app.add_member(&owner, &id, "Heir", "admin").await;
    let newest: Value = app.get(&owner, &format!("{base}/audit-logs?limit=1")).await.json().await.unwrap();
    assert_eq!(newest["data"][0]["action"], "invitation.accepted");
    step(
        o(),
        Method::POST,
        format!("{base}/transfer-ownership"),
        json!({"user_id": heir.id}),
        "organization.ownership_transferred",
    )
    .await;
    step(o(), Method::POST, format!("{base}/leave"), json!({}), "member.left").await;
    let page: Value = app.get(&heir.client, &format!("{base}/audit-logs?limit=1")).await.json().await.unwrap();
    assert_eq!(page["data"][0]["actor_name"], "Owner");
    let owner = heir.client;
    let status: Value = app.get(&owner, &format!("{base}/audit-logs/verify")).await.json().await.unwrap();
    assert_eq!(status["ok"], true, "{status}");
    let csv = app.get(&owner, &format!("{base}/audit-logs?format=csv")).await;
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("id,created_at,actor_type"));
    assert_eq!(csv.lines().count() as i64, 1 + audit_count(&app, &id).await);

    // Change one row under the API: verification names it, and so does the CLI check.
    let victim: (String,) = sqlx::query_as("SELECT id FROM audit_logs WHERE chain_id = $1 AND seq = 3")
        .bind(&id)
        .fetch_one(&app.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE audit_logs SET actor_name = 'Somebody Else' WHERE id = $1")
        .bind(&victim.0)
        .execute(&app.pool())
        .await
        .unwrap();
    let status: Value = app.get(&owner, &format!("{base}/audit-logs/verify")).await.json().await.unwrap();
    assert_eq!(status["ok"], false);
    assert_eq!(status["first_broken"], victim.0.as_str());
    let url = app.running.as_ref().unwrap().state.db.url().to_owned();
    assert!(!gatehouse::server::verify_audit(&url).await.unwrap());
    app.stop().await;
}
both!(every_change_is_audited_once_and_tampering_shows);

fn png(side: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::DynamicImage::new_rgb8(side, side)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

async fn logos_are_checked_and_served_safely(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let owner = app.client();
    app.signup(&owner, "Owner").await;
    let org = app.create_org(&owner, "Logo Co").await;
    let id = org["id"].as_str().unwrap().to_owned();
    let put = |client: &Client, body: Vec<u8>| {
        client.put(app.url(&format!("/api/v1/organizations/{id}/logo"))).body(body).send()
    };

    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec();
    let (status, err) = error_of(put(&owner, svg).await.unwrap()).await;
    assert_eq!((status, err["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("logo")));
    assert_eq!(put(&owner, png(600)).await.unwrap().status(), StatusCode::NO_CONTENT);
    let org: Value = app.get(&owner, &format!("/api/v1/organizations/{id}")).await.json().await.unwrap();
    let url = org["settings"]["logo_url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("/logos/{id}")), "{url}");
    let res = app.client().get(app.url(&url)).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(res.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    let served = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(served.width(), 256, "scaled down and re-encoded");

    let member = app.add_member(&owner, &id, "Member", "member").await;
    assert_eq!(put(&member.client, png(10)).await.unwrap().status(), StatusCode::FORBIDDEN);

    // The dashboard's form (multipart, no JavaScript needed).
    let form =
        reqwest::multipart::Form::new().part("logo", reqwest::multipart::Part::bytes(png(32)).file_name("logo.png"));
    let res = owner.post(app.url(&format!("/orgs/{id}/logo"))).multipart(form).send().await.unwrap();
    assert!(res.status().is_redirection());
    assert_eq!(res.headers()["location"], format!("/orgs/{id}/settings?notice=logo_saved").as_str());
    let form = reqwest::multipart::Form::new()
        .part("logo", reqwest::multipart::Part::bytes(b"GIF89a....".to_vec()).file_name("x.gif"));
    let res = owner.post(app.url(&format!("/orgs/{id}/logo"))).multipart(form).send().await.unwrap();
    assert!(res.headers()["location"].to_str().unwrap().contains("logo_error="));
    let res = owner.delete(app.url(&format!("/api/v1/organizations/{id}/logo"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.client().get(app.url(&url)).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    app.stop().await;
}
both!(logos_are_checked_and_served_safely);

async fn audit_csv_downloads_compressed(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let owner = app.client();
    app.signup(&owner, "Owner").await;
    let org = app.create_org(&owner, "Zipped").await;
    let path = format!("/api/v1/organizations/{}/audit-logs?format=csv", org["id"].as_str().unwrap());
    // Browsers ask for gzip; the streamed CSV must survive the compression layer.
    let res = owner.get(app.url(&path)).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let body = res.bytes().await.unwrap();
    assert!(body.len() > 20, "a complete gzip body");
    assert_eq!(app.get(&owner, "/healthz").await.status(), StatusCode::OK, "the server is still up");
    app.stop().await;
}
both!(audit_csv_downloads_compressed);
