//! `GET /metrics`: OpenMetrics text for the operator's Prometheus. It covers HTTP answers by
//! status class, authorization refusals, the rate limiter's Redis health and fallbacks, webhook attempts, and the
//! webhook and mail backlogs.
//! Served to loopback peers, and to anyone presenting `GATEHOUSE_METRICS_TOKEN` as a bearer token;
//! everyone else gets the ordinary 404, so the endpoint's existence is not revealed.
use crate::server::{
    auth::principal::ClientMeta,
    authz::{refusals, Refusal},
    db,
    state::AppState,
};
use crate::shared::error::AppError;
use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue},
    middleware::Next,
    response::{IntoResponse, Response},
};
use prometheus_client::{
    encoding::text::encode,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};
use subtle::ConstantTimeEq;

type Labels = [(&'static str, &'static str); 1];

/// The process's metrics. Counters are bumped where things happen; gauges are read at scrape time.
pub struct Metrics {
    registry: Registry,
    http_responses: Family<Labels, Counter>,
    authz_refusals: Family<Labels, Counter>,
    webhook_attempts: Family<Labels, Counter>,
    redis_fallbacks: Counter,
    redis_degraded: Gauge,
    webhook_backlog: Gauge,
    mail_backlog: Gauge,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let (http_responses, webhook_attempts, authz_refusals) =
            (Family::default(), Family::default(), Family::default());
        let (redis_fallbacks, redis_degraded) = (Counter::default(), Gauge::default());
        let (webhook_backlog, mail_backlog) = (Gauge::default(), Gauge::default());
        let mut registry = Registry::with_prefix("gatehouse");
        registry.register("http_responses", "HTTP answers by status class", http_responses.clone());
        registry.register(
            "authz_refusals",
            "Accesses refused by authorization: not_found (another organization) or forbidden (a permission not held)",
            authz_refusals.clone(),
        );
        registry.register(
            "webhook_attempts",
            "Webhook delivery attempts by outcome (2xx is succeeded)",
            webhook_attempts.clone(),
        );
        registry.register(
            "ratelimit_redis_fallbacks",
            "Rate-limit checks decided in-process because Redis was unreachable or slow",
            redis_fallbacks.clone(),
        );
        registry.register(
            "ratelimit_redis_degraded",
            "1 while Redis is skipped for in-process limits",
            redis_degraded.clone(),
        );
        registry.register(
            "webhook_deliveries_pending",
            "Webhook deliveries waiting for an attempt or a retry",
            webhook_backlog.clone(),
        );
        registry.register("mail_pending", "Mails neither sent nor given up", mail_backlog.clone());
        Metrics {
            registry,
            http_responses,
            authz_refusals,
            webhook_attempts,
            redis_fallbacks,
            redis_degraded,
            webhook_backlog,
            mail_backlog,
        }
    }
}

impl Metrics {
    pub fn webhook_attempt(&self, succeeded: bool) {
        let outcome = if succeeded { "succeeded" } else { "failed" };
        self.webhook_attempts.get_or_create(&[("outcome", outcome)]).inc();
    }

    fn http_response(&self, status: u16) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.http_responses.get_or_create(&[("class", class)]).inc();
    }

    async fn render(&self, app: &AppState) -> Result<String, AppError> {
        for kind in Refusal::ALL {
            let counter = self.authz_refusals.get_or_create(&[("reason", kind.as_str())]);
            counter.inc_by(refusals(kind).saturating_sub(counter.get()));
        }
        let fallbacks = app.limiter.fallbacks();
        self.redis_fallbacks.inc_by(fallbacks.saturating_sub(self.redis_fallbacks.get()));
        self.redis_degraded.set(i64::from(app.limiter.backend() == "redis-fallback"));
        let backlog = db::backlog(app.db.pool()).await?;
        self.webhook_backlog.set(backlog.webhook_deliveries);
        self.mail_backlog.set(backlog.mail);
        let mut text = String::new();
        encode(&mut text, &self.registry).map_err(|e| crate::server::error::internal(format!("metrics: {e}")))?;
        Ok(text)
    }
}

/// Counts every answer by status class (outermost layer, so errors from any layer count).
pub async fn count_responses(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    app.metrics.http_response(response.status().as_u16());
    response
}

pub async fn scrape(State(app): State<AppState>, client: ClientMeta, headers: HeaderMap) -> Response {
    if !may_scrape(app.config.metrics_token.as_deref(), &client, &headers) {
        return AppError::not_found("page").into_response();
    }
    match app.metrics.render(&app).await {
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

    #[test]
    fn counts_by_class() {
        let metrics = Metrics::default();
        for status in [200, 201, 404, 503] {
            metrics.http_response(status);
        }
        metrics.webhook_attempt(true);
        let mut text = String::new();
        encode(&mut text, &metrics.registry).unwrap();
        assert!(text.contains("gatehouse_http_responses_total{class=\"2xx\"} 2"), "{text}");
        assert!(text.contains("gatehouse_http_responses_total{class=\"4xx\"} 1"), "{text}");
        assert!(text.contains("gatehouse_webhook_attempts_total{outcome=\"succeeded\"} 1"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
