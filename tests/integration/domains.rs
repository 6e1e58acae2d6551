//! Email domains over /api/v1: claim, then verify against a real DNS server on loopback
//! (tests/support/dns/dns_server.py) that the test fills with TXT records; one organization per
//! verified domain; permissions and isolation.
use crate::both;
use crate::peers::{support_dir, Peer};
use crate::support::{error_of, spawn_app, Backend, Options, TestApp};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::net::SocketAddr;

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

    async fn fail(&self, name: &str) {
        let res = crate::support::http()
            .put(format!("{}/records/{name}", self.control))
            .json(&json!({ "rcode": "SERVFAIL" }));
        assert!(res.send().await.unwrap().status().is_success());
    }
}

async fn owner_with_org(app: &TestApp, name: &str) -> (Client, String) {
    let owner = app.client();
    app.signup(&owner, name).await;
    let org = app.create_org(&owner, name).await;
    (owner, org["id"].as_str().unwrap().to_owned())
}

async fn domains_are_proven_by_dns(backend: Backend) {
    let dns = DnsServer::start();
    let addr = dns.addr;
    let options = Options { smtp: false, tweak: Box::new(move |config| config.dns_server = Some(addr)) };
    let Some(app) = spawn_app(backend, options).await else { return };
    let (owner, org) = owner_with_org(&app, "Acme").await;
    let base = format!("/api/v1/organizations/{org}/domains");

    for bad in ["", "localhost", "192.0.2.1", "-x.example"] {
        let (status, err) = error_of(app.post(&owner, &base, json!({ "domain": bad })).await).await;
        assert_eq!(
            (status, err["details"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("domain")),
            "{bad}"
        );
    }
    let res = app.post(&owner, &base, json!({ "domain": "Acme.Example" })).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let claimed: Value = res.json().await.unwrap();
    assert_eq!((claimed["domain"].as_str(), claimed["status"].as_str()), (Some("acme.example"), Some("pending")));
    assert_eq!(claimed["verification"]["type"], "TXT");
    assert_eq!(claimed["verification"]["name"], "acme.example");
    let expected = claimed["verification"]["value"].as_str().unwrap().to_owned();
    assert!(expected.starts_with("gatehouse-verification=") && expected.len() > 40, "{expected}");
    let id = claimed["id"].as_str().unwrap();
    let (status, err) = error_of(app.post(&owner, &base, json!({ "domain": "acme.example" })).await).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some("domain_claimed")));

    // Not published yet, then the wrong token, then a failing nameserver: each explained.
    let verify = format!("{base}/{id}/verify");
    let (status, err) = error_of(app.post(&owner, &verify, json!({})).await).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("domain_not_verified")));
    assert!(err["message"].as_str().unwrap().contains("has no TXT record gatehouse-verification="), "{err}");
    dns.publish("acme.example", &["v=spf1 -all", "gatehouse-verification=somebody-else"]).await;
    let (_, err) = error_of(app.post(&owner, &verify, json!({})).await).await;
    assert!(err["message"].as_str().unwrap().contains("has TXT gatehouse-verification=somebody-else but not"), "{err}");
    dns.fail("acme.example").await;
    let (_, err) = error_of(app.post(&owner, &verify, json!({})).await).await;
    assert!(err["message"].as_str().unwrap().starts_with("The DNS lookup of acme.example failed"), "{err}");
    let read: Value = app.get(&owner, &format!("{base}/{id}")).await.json().await.unwrap();
    assert_eq!(read["status"], "pending");
    assert!(read["last_check_error"].as_str().unwrap().contains("failed"), "{read}");

    dns.publish("acme.example", &["v=spf1 -all", &expected]).await;
    let res = app.post(&owner, &verify, json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let verified: Value = res.json().await.unwrap();
    assert_eq!(verified["status"], "verified");
    assert!(verified["verified_at"].is_string() && verified["last_check_error"].is_null(), "{verified}");
    let audit: Value = app.get(&owner, &format!("/api/v1/organizations/{org}/audit-logs")).await.json().await.unwrap();
    let actions: Vec<&str> = audit["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"domain.added") && actions.contains(&"domain.verified"), "{actions:?}");

    // Another organization may claim the name, publish its own token, and still not verify it.
    let (rival, rival_org) = owner_with_org(&app, "Rival").await;
    let rival_base = format!("/api/v1/organizations/{rival_org}/domains");
    let theirs: Value = app.post(&rival, &rival_base, json!({ "domain": "acme.example" })).await.json().await.unwrap();
    dns.publish("acme.example", &[&expected, theirs["verification"]["value"].as_str().unwrap()]).await;
    let (status, err) =
        error_of(app.post(&rival, &format!("{rival_base}/{}/verify", theirs["id"].as_str().unwrap()), json!({})).await)
            .await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::CONFLICT, Some("domain_taken")));
    // ...nor reach the first organization's domain (404, like any other id).
    let (status, _) = error_of(app.get(&rival, &format!("{rival_base}/{id}")).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = error_of(app.get(&rival, &format!("{base}/{id}")).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Members cannot manage domains.
    let member = app.add_member(&owner, &org, "Mia Member", "member").await;
    let (status, err) = error_of(app.get(&member.client, &base).await).await;
    assert_eq!((status, err["details"]["required_permission"].as_str()), (StatusCode::FORBIDDEN, Some("sso:write")));

    let list: Value = app.get(&owner, &base).await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let res = owner.delete(app.url(&format!("{base}/{id}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // Removed, the name is free: the rival's verification now succeeds.
    let res = app.post(&rival, &format!("{rival_base}/{}/verify", theirs["id"].as_str().unwrap()), json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    app.stop().await;
}
both!(domains_are_proven_by_dns);
