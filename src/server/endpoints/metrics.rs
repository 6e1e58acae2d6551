//! `GET /metrics`: the process's metrics for the operator's Prometheus. Served to loopback peers,
//! and to anyone presenting `GATEHOUSE_METRICS_TOKEN` as a bearer token; everyone else gets the
//! ordinary 404, so the endpoint's existence is not revealed.
use crate::server::{
    auth::principal::ClientMeta,
    authz::{refusals, Refusal},
    db,
    metrics::Readings,
    state::AppState,
};
use crate::shared::error::AppError;
use axum::{
    extract::State,
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
};
use subtle::ConstantTimeEq;

pub async fn scrape(State(app): State<AppState>, client: ClientMeta, headers: HeaderMap) -> Response {
    if !may_scrape(app.config.metrics_token.as_deref(), &client, &headers) {
        return AppError::not_found("page").into_response();
    }
    match readings(&app).await.and_then(|readings| app.metrics.render(readings)) {
        Ok(text) => {
            let mut response = text.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            );
            response
        }
        Err(e) => e.into_response(),
    }
}

/// Loopback peers may; others only with the configured token (and a wrong token from loopback is
/// still refused, so a misconfigured scraper is noticed).
fn may_scrape(token: Option<&str>, client: &ClientMeta, headers: &HeaderMap) -> bool {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match (token, presented) {
        (Some(token), Some(presented)) => bool::from(token.as_bytes().ct_eq(presented.as_bytes())),
        (_, Some(_)) => false,
        (_, None) => client.is_loopback(),
    }
}

async fn readings(app: &AppState) -> Result<Readings, AppError> {
    Ok(Readings {
        refusals: Refusal::ALL.into_iter().map(|kind| (kind.as_str(), refusals(kind))).collect(),
        redis_fallbacks: app.limiter.fallbacks(),
        redis_degraded: app.limiter.backend() == "redis-fallback",
        backlog: db::backlog(app.db.pool()).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(ip: &str) -> ClientMeta {
        ClientMeta { ip: Some(ip.to_owned()), ..ClientMeta::default() }
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
        headers
    }

    #[test]
    fn who_may_scrape() {
        let none = HeaderMap::new();
        for ip in ["127.0.0.1", "::1"] {
            assert!(may_scrape(None, &client(ip), &none), "{ip}");
            assert!(may_scrape(Some("s3cret"), &client(ip), &none), "{ip}");
            assert!(!may_scrape(Some("s3cret"), &client(ip), &bearer("wrong")), "{ip}");
        }
        for ip in ["203.0.113.5", "10.0.0.2", "::ffff:203.0.113.5"] {
            assert!(!may_scrape(None, &client(ip), &none), "{ip}");
            assert!(!may_scrape(None, &client(ip), &bearer("anything")), "{ip}");
            assert!(!may_scrape(Some("s3cret"), &client(ip), &bearer("s3cre")), "{ip}");
            assert!(may_scrape(Some("s3cret"), &client(ip), &bearer("s3cret")), "{ip}");
        }
        assert!(!may_scrape(None, &ClientMeta::default(), &none), "no peer address");
    }
}
