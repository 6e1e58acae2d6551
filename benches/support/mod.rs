//! Shared by the benches (`mod support;`; a folder, so Cargo does not take it for a bench of its
//! own): an Enterprise organization whose limits never interfere with the load.
use reqwest::Client;
use serde_json::{json, Value};

/// Signs up an owner and creates an Enterprise organization "Bench" allowing 10 million API calls
/// an hour. Returns the owner's client (cookies kept) and the organization's id.
pub async fn enterprise_org(base: &str) -> (Client, String) {
    let client = Client::builder().cookie_store(true).build().unwrap();
    let email = format!("bench-{}@example.com", uuid::Uuid::now_v7().simple());
    let res = client
        .post(format!("{base}/api/v1/auth/signup"))
        .json(&json!({"name": "Bench Owner", "email": email, "password": "bench password that is long enough 42"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let org: Value = client
        .post(format!("{base}/api/v1/organizations"))
        .json(&json!({"name": "Bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = org["id"].as_str().unwrap().to_owned();
    for change in [json!({"tier": "enterprise"}), json!({"max_api_calls_per_hour": 10_000_000})] {
        let res = client.patch(format!("{base}/api/v1/organizations/{id}")).json(&change).send().await.unwrap();
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    }
    (client, id)
}
