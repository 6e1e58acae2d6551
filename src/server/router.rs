//! The whole HTTP surface: health checks, `/api/v1`, the dashboard (SSR pages and `/rpc` server
//! functions), static assets, and the layers every request passes through.
use crate::app::{shell, App};
use crate::server::{auth::session::AnySessionStore, config::MAX_BODY_BYTES, error, state::AppState};
use crate::shared::error::{AppError, ErrorCode};
use axum::{
    extract::{Request, State},
    http::{header, HeaderName, HeaderValue, Method},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::{
    compression::{
        predicate::{NotForContentType, Predicate, SizeAbove},
        CompressionLayer,
    },
    limit::RequestBodyLimitLayer,
    set_header::SetResponseHeaderLayer,
    trace::{DefaultOnResponse, TraceLayer},
};

pub fn router(state: AppState, sessions: AnySessionStore) -> Router {
    let routes = generate_route_list(App);
    let context = {
        let state = state.clone();
        move || {
            leptos::prelude::provide_context(state.clone());
            crate::server::headers::provide_leptos_nonce();
        }
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::server::endpoints::metrics::scrape))
        .nest(
            "/api/v1",
            crate::server::api::router()
                .layer(middleware::from_fn_with_state(state.clone(), crate::server::api::idempotency::idempotency))
                .layer(middleware::from_fn_with_state(state.clone(), crate::server::api::caller::gate)),
        )
        .merge(crate::server::endpoints::router())
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell))
        .layer(middleware::from_fn_with_state(state.clone(), crate::server::api::caller::dashboard_auth_limit))
        .layer(sessions.layer(&state.config))
        // The limit catches bodies without a length; the guard (outside it) answers declared
        // oversize bodies with the JSON error before they are read.
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), request_guard))
        .layer(middleware::from_fn_with_state(state.clone(), deadline))
        .layer(security_header("x-content-type-options", "nosniff"))
        .layer(security_header("x-frame-options", "DENY"))
        // Same-origin keeps one-time tokens in page URLs from leaking to other sites.
        .layer(security_header("referrer-policy", "same-origin"))
        .layer(middleware::from_fn_with_state(state.clone(), crate::server::headers::security_headers))
        .layer(CompressionLayer::new().compress_when(worth_compressing()))
        .layer(TraceLayer::new_for_http().on_response(DefaultOnResponse::new().level(tracing::Level::INFO)))
        .layer(middleware::from_fn(error::request_id))
        .layer(middleware::from_fn_with_state(state.clone(), count_responses))
        .layer(middleware::from_fn_with_state(state.clone(), crate::server::auth::principal::client_address))
        .with_state(state)
}

/// tower-http's default rules, but nothing under 1,400 bytes: such a body already fits in one
/// TCP segment, so gzip saves no round trip and only costs CPU (a third of the throughput of
/// small API answers, measured by `make bench`). Streamed bodies of unknown size are compressed.
fn worth_compressing() -> impl Predicate {
    SizeAbove::new(1400).and(NotForContentType::GRPC).and(NotForContentType::IMAGES).and(NotForContentType::SSE)
}

fn security_header(name: &'static str, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(HeaderName::from_static(name), HeaderValue::from_static(value))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// 503 while the database does not answer: a load balancer takes this replica out of rotation
/// until it does, and nothing is wrong with the request.
async fn readyz(State(app): State<AppState>) -> Result<Json<serde_json::Value>, AppError> {
    app.db.ping().await.map_err(|e| {
        // The cause goes to the log; the answer only says the database is away.
        let _logged = AppError::from(e);
        AppError::new(
            crate::shared::error::ErrorKind::Unavailable,
            ErrorCode::DatabaseUnreachable,
            "The database does not answer.",
        )
    })?;
    Ok(Json(serde_json::json!({ "status": "ready", "database": "ok" })))
}

/// Counts every answer by status class (outermost layer, so errors from any layer count).
async fn count_responses(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    app.metrics.http_response(response.status().as_u16());
    response
}

/// No request hangs forever: past `request_timeout` its work is dropped (an open transaction rolls
/// back) and the client gets 503. Only the response head is timed, so streamed bodies may run on.
async fn deadline(State(app): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(app.config.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            // The request's span (`error::request_id`, outside this layer) names method and path.
            tracing::error!("request timed out");
            AppError::new(
                crate::shared::error::ErrorKind::Unavailable,
                ErrorCode::RequestTimeout,
                "The request took too long and was stopped; try again.",
            )
            .into_response()
        }
    }
}

/// Refuses bodies over 1 MiB up front, and state-changing requests that a browser marks as coming
/// from another site (Leptos server functions have no CSRF token of their own).
async fn request_guard(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let too_large = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|len| len > MAX_BODY_BYTES);
    if too_large {
        return error::payload_too_large().into_response();
    }
    let safe_method = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // A SAML IdP posts its response from its own site by design; the signed response, not a
    // cookie, is what authenticates that request.
    let saml_acs = req.uri().path().starts_with("/sso/saml/") && req.uri().path().ends_with("/acs");
    if !safe_method && !saml_acs && is_cross_site(&req, &app.config.public_origin()) {
        return AppError::forbidden(
            ErrorCode::CrossSiteRequest,
            "This request came from another site and was refused.",
        )
        .into_response();
    }
    next.run(req).await
}

/// A request is cross-site when the browser says so (`Sec-Fetch-Site`) or when its `Origin` is not
/// our public origin. Not the `Host` it was sent to: a page whose name an attacker re-points at
/// this server (DNS rebinding) is same-origin with that name and would pass. Clients that send
/// neither header are not browsers, and cookies cannot be ridden without one.
fn is_cross_site(req: &Request, public_origin: &str) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site != "same-origin" && site != "none" {
            return true;
        }
    }
    headers.get(header::ORIGIN).is_some_and(|origin| origin.as_bytes() != public_origin.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::is_cross_site;
    use axum::{body::Body, http::Request};

    fn request(headers: &[(&str, &str)]) -> Request<Body> {
        let mut builder = Request::post("/rpc/login").header("host", "127.0.0.1:3000");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(Body::empty()).unwrap()
    }

    #[test]
    fn cross_site_detection() {
        let ours = "http://127.0.0.1:3000";
        assert!(!is_cross_site(&request(&[]), ours));
        assert!(!is_cross_site(&request(&[("origin", ours), ("sec-fetch-site", "same-origin")]), ours));
        assert!(is_cross_site(&request(&[("sec-fetch-site", "cross-site")]), ours));
        assert!(is_cross_site(&request(&[("sec-fetch-site", "same-site")]), ours));
        assert!(is_cross_site(&request(&[("origin", "https://evil.example")]), ours));
        assert!(is_cross_site(&request(&[("origin", "null")]), ours));
        // A DNS-rebound page: same-origin to the browser, its Origin the Host it sent, still not ours.
        let rebound = [("origin", "http://127.0.0.1:3000"), ("sec-fetch-site", "same-origin")];
        assert!(is_cross_site(&request(&rebound), "https://gatehouse.example"));
    }
}
