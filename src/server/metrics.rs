//! The process's metrics in OpenMetrics form: HTTP answers by status class, authorization
//! refusals, the rate limiter's Redis health and fallbacks, webhook attempts, and the webhook and
//! mail backlogs. `server::endpoints::metrics` serves them; this registry knows nothing of the
//! app, so everything can count into it.
use crate::server::db::Backlog;
use crate::shared::error::AppError;
use prometheus_client::{
    encoding::text::encode,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

type Labels = [(&'static str, &'static str); 1];

/// What a scrape reads from parts of the server that count on their own.
pub struct Readings {
    /// Authorization refusals since the start, by reason.
    pub refusals: Vec<(&'static str, u64)>,
    /// Rate-limit checks decided in-process since the start.
    pub redis_fallbacks: u64,
    pub redis_degraded: bool,
    pub backlog: Backlog,
}

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

    pub fn http_response(&self, status: u16) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.http_responses.get_or_create(&[("class", class)]).inc();
    }

    /// The text for one scrape, after taking in what is counted elsewhere.
    pub fn render(&self, readings: Readings) -> Result<String, AppError> {
        for (reason, total) in readings.refusals {
            let counter = self.authz_refusals.get_or_create(&[("reason", reason)]);
            counter.inc_by(total.saturating_sub(counter.get()));
        }
        self.redis_fallbacks.inc_by(readings.redis_fallbacks.saturating_sub(self.redis_fallbacks.get()));
        self.redis_degraded.set(i64::from(readings.redis_degraded));
        let backlog = readings.backlog;
        self.webhook_backlog.set(backlog.webhook_deliveries);
        self.mail_backlog.set(backlog.mail);
        let mut text = String::new();
        encode(&mut text, &self.registry).map_err(|e| crate::server::error::internal(format!("metrics: {e}")))?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
