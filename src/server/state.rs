//! What every handler and server function can reach.
use crate::server::{
    config::Config,
    crypto::SecretBox,
    db::Db,
    metrics::Metrics,
    outbound::Outbound,
    ratelimit::RateLimiter,
    service::{api_keys::KeyCache, usage::UsageMeter},
};
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    /// Wakes the mail worker right after a transaction that enqueued mail commits.
    pub mail_wakeup: Arc<Notify>,
    pub leptos_options: LeptosOptions,
    /// Recently authenticated API keys (a short-lived cache; see `service::api_keys`).
    pub api_keys: Arc<KeyCache>,
    /// API calls counted in memory until the next batch write.
    pub usage: Arc<UsageMeter>,
    pub limiter: RateLimiter,
    /// Encrypts and decrypts secrets stored in the database.
    pub secrets: SecretBox,
    /// The only HTTP client for URLs customers give us (SSRF-guarded).
    pub outbound: Outbound,
    /// Wakes the webhook worker when a delivery is queued by hand (test event, retry).
    pub webhook_wakeup: Arc<Notify>,
    pub metrics: Arc<Metrics>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
