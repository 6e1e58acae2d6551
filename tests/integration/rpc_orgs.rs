//! The dashboard's server functions obey the same tenancy and permission rules as /api/v1:
//! every organization server function (enumerated from `src/rpc/`) answers another
//! organization's ids exactly like ids that do not exist, and the role matrix holds.
use crate::both;
use crate::support::{spawn_app, Backend, Options, TestApp};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

type Form = Vec<(String, String)>;

/// (endpoint, argument names) of every server function taking an `org_id`.
fn org_server_functions() -> Vec<(String, Vec<String>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/rpc");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for part in source.split("#[server(prefix = \"/rpc\", endpoint = \"").skip(1) {
            let (endpoint, rest) = part.split_once('"').unwrap();
            let signature = rest.split("pub async fn").nth(1).unwrap().split("->").next().unwrap();
            let args_text = signature.split_once('(').unwrap().1;
            let args: Vec<String> = args_text
                .split(',')
                .filter_map(|a| a.split_once(':').map(|(name, _)| name.trim().to_owned()))
                .filter(|name| !name.is_empty())
                .collect();
            if args.iter().any(|a| a == "org_id") {
                found.push((endpoint.to_owned(), args));
            }
        }
    }
    found
}

async fn call(app: &TestApp, client: &Client, endpoint: &str, form: &[(String, String)]) -> (StatusCode, Value) {
    let res = client.post(app.url(&format!("/rpc/{endpoint}"))).form(form).send().await.unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    (status, body["code"].clone())
}

async fn server_functions_hide_other_organizations(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let alice = app.client();
    app.signup(&alice, "Alice").await;
    app.create_org(&alice, "Org A").await;
    let bob = app.client();
    app.signup(&bob, "Bob").await;
    let b = app.create_org(&bob, "Org B").await;
    let b_id = b["id"].as_str().unwrap();
    let invitation: Value = app
        .post(&bob, &format!("/api/v1/organizations/{b_id}/invite"), json!({"email": "c@example.com"}))
        .await
        .json()
        .await
        .unwrap();
    let bob_me: Value = app.get(&bob, "/api/v1/me").await.json().await.unwrap();
    let functions = org_server_functions();
    assert!(functions.len() >= 12, "found only {functions:?}");
    for (endpoint, args) in functions {
        let form_for = |org: &str| -> Vec<(String, String)> {
            args.iter()
                .map(|arg| {
                    let value = match arg.as_str() {
                        "org_id" => org.to_owned(),
                        "user_id" => bob_me["id"].as_str().unwrap().to_owned(),
                        "invitation_id" => invitation["id"].as_str().unwrap().to_owned(),
                        "role" => "viewer".to_owned(),
                        "email" => "someone@example.com".to_owned(),
                        "confirm" => "org-b".to_owned(),
                        "name" => "Taken Over".to_owned(),
                        "slug" => "taken-over".to_owned(),
                        _ => String::new(),
                    };
                    (arg.clone(), value)
                })
                .collect()
        };
        let for_b = call(&app, &alice, &endpoint, &form_for(b_id)).await;
        let for_nowhere = call(&app, &alice, &endpoint, &form_for("01a22d44-0000-7000-8000-000000000000")).await;
        assert_eq!(for_b, for_nowhere, "/rpc/{endpoint} must not tell org B apart");
        assert_eq!(for_b.0, StatusCode::NOT_FOUND, "/rpc/{endpoint}");
    }
    let org: Value = app.get(&bob, &format!("/api/v1/organizations/{b_id}")).await.json().await.unwrap();
    assert_eq!(org["name"], "Org B");
    assert_eq!(org["member_count"], 1);
    app.stop().await;
}
both!(server_functions_hide_other_organizations);

async fn server_functions_follow_the_permission_matrix(backend: Backend) {
    let Some(app) = spawn_app(backend, Options { smtp: false, ..Options::default() }).await else { return };
    let owner = app.client();
    app.signup(&owner, "Owner").await;
    let org = app.create_org(&owner, "Matrix").await;
    let id = org["id"].as_str().unwrap().to_owned();
    let admin = app.add_member(&owner, &id, "Admin", "admin").await;
    let member = app.add_member(&owner, &id, "Member", "member").await;
    let viewer = app.add_member(&owner, &id, "Viewer", "viewer").await;
    let form = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut form = vec![("org_id".to_owned(), id.clone())];
        form.extend(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        form
    };
    // (endpoint, extra arguments, allowed for owner/admin/member/viewer); none of them changes state
    // when allowed (bad confirmation, unknown member, read-only calls).
    let actions: Vec<(&str, Form, [bool; 4])> = vec![
        ("org", form(&[]), [true, true, true, true]),
        ("members", form(&[]), [true, true, true, false]),
        ("invitations", form(&[]), [true, true, false, false]),
        ("audit_logs", form(&[]), [true, true, false, false]),
        ("verify_audit", form(&[]), [true, true, false, false]),
        (
            "update_org_settings",
            form(&[("name", "Matrix"), ("slug", "matrix"), ("primary_color", "")]),
            [true, true, false, false],
        ),
        ("delete_org", form(&[("confirm", "not-the-slug")]), [true, false, false, false]),
        (
            "transfer_ownership",
            form(&[("user_id", "01a22d44-0000-7000-8000-000000000000")]),
            [true, false, false, false],
        ),
    ];
    let clients = [&owner, &admin.client, &member.client, &viewer.client];
    for (endpoint, form, allowed) in actions {
        for (i, client) in clients.iter().enumerate() {
            let (status, code) = call(&app, client, endpoint, &form).await;
            if allowed[i] {
                assert_ne!(status, StatusCode::FORBIDDEN, "role {i} /rpc/{endpoint}: {code}");
                assert!(!status.is_server_error(), "role {i} /rpc/{endpoint}: {status}");
            } else {
                assert_eq!(
                    (status, code.as_str()),
                    (StatusCode::FORBIDDEN, Some("permission_denied")),
                    "role {i} /rpc/{endpoint}"
                );
            }
        }
    }
    app.stop().await;
}
both!(server_functions_follow_the_permission_matrix);
