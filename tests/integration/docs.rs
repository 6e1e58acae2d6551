//! The API's OpenAPI document and the `/docs` site, served by the binary with nothing from
//! another origin.
use crate::support::{spawn_app, Backend, Options};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn openapi_document_and_docs_site() {
    let Some(app) = spawn_app(Backend::Sqlite, Options { smtp: false, ..Options::default() }).await else { return };
    let client = app.client();

    // The document: OpenAPI 3.1, both security schemes, every route, the same as docs/openapi.json.
    let res = app.get(&client, "/api/v1/openapi.json").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let served = res.text().await.unwrap();
    let spec: Value = serde_json::from_str(&served).unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    assert_eq!(spec["components"]["securitySchemes"]["api_key"]["scheme"], "bearer");
    assert_eq!(spec["components"]["securitySchemes"]["session"]["in"], "cookie");
    let members = &spec["paths"]["/organizations/{org}/members"]["get"];
    assert_eq!(members["x-required-permission"], "members:read");
    assert!(members["security"].as_array().unwrap().contains(&serde_json::json!({"api_key": ["members:read"]})));
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json")).unwrap();
    assert_eq!(served, committed, "the served document differs from docs/openapi.json: run `make openapi`");

    // The guides: an index listing all of them, each rendered from Markdown.
    let res = app.get(&client, "/docs").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let index = res.text().await.unwrap();
    let guides = ["authentication", "pagination", "errors", "rate-limits", "versioning", "idempotency", "webhooks"];
    for slug in guides {
        assert!(index.contains(&format!("href=\"/docs/guides/{slug}\"")), "index links {slug}");
        let res = app.get(&client, &format!("/docs/guides/{slug}")).await;
        assert_eq!(res.status(), StatusCode::OK, "{slug}");
        let page = res.text().await.unwrap();
        assert!(page.contains("<h1>") && page.contains("<main"), "{slug} renders");
        assert!(page.contains("href=\"/pkg/gatehouse.css\""), "{slug} uses the dashboard's stylesheet");
    }
    let page = app.get(&client, "/docs/guides/authentication").await.text().await.unwrap();
    assert!(page.contains("gk_live_") && page.contains("<table>"));
    assert_eq!(app.get(&client, "/docs/guides/nope").await.status(), StatusCode::NOT_FOUND);

    // The API reference: Swagger UI and every asset it references, from this server.
    let res = app.get(&client, "/docs/api").await;
    assert!(res.status().is_redirection());
    assert_eq!(res.headers()["location"], "/docs/api/");
    let res = app.get(&client, "/docs/api/").await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "Swagger UI page");
    let mut assets = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            let target = part.split('"').next().unwrap();
            assert!(!target.starts_with("http") && !target.starts_with("//"), "{target} is not on this server");
            assets.push(target.trim_start_matches("./").to_owned());
        }
    }
    assert!(assets.iter().any(|a| a.ends_with(".js")) && assets.iter().any(|a| a.ends_with(".css")), "{assets:?}");
    for asset in &assets {
        let res = app.get(&client, &format!("/docs/api/{asset}")).await;
        assert_eq!(res.status(), StatusCode::OK, "{asset}");
        let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
        if asset.ends_with(".js") {
            assert!(content_type.contains("javascript"), "{asset}: {content_type}");
        }
        if asset.ends_with(".css") {
            assert!(content_type.starts_with("text/css"), "{asset}: {content_type}");
        }
    }
    // Its configuration: our document, "Try it out", remembered authorization, no outside validator.
    let init = app.get(&client, "/docs/api/swagger-initializer.js").await.text().await.unwrap();
    assert!(init.contains("/api/v1/openapi.json"), "{init}");
    assert!(init.contains("\"persistAuthorization\": true"), "{init}");
    assert!(init.contains("\"tryItOutEnabled\": true"), "{init}");
    assert!(init.contains("\"validatorUrl\": \"none\""), "{init}");
    app.stop().await;
}
