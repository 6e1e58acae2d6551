//! What every handler and server function can reach.
use crate::server::{
    cache::{KeyCache, MetadataCache, OrgCache},
    config::Config,
    crypto::SecretBox,
    db::Db,
    dns::TxtResolver,
    metrics::Metrics,
    outbound::Outbound,
    ratelimit::RateLimiter,
    usage_meter::UsageMeter,
};
use crate::shared::ids::OrgId;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;
use tokio::sync::Notify;

/// Cloned for every request by each layer that needs it, so it is one `Arc`: a clone is one
/// counter increment, not one per field (the profile of `make bench` showed the field-by-field
/// clones and drops, Leptos options included).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub db: Db,
    pub config: Arc<Config>,
    /// Wakes the mail worker right after a transaction that enqueued mail commits.
    pub mail_wakeup: Arc<Notify>,
    pub leptos_options: LeptosOptions,
    /// Recently authenticated API keys (a short-lived cache; see `service::api_keys`).
    pub api_keys: Arc<KeyCache>,
    /// Recently read organizations (a short-lived cache; see `service::orgs::get`).
    pub orgs: Arc<OrgCache>,
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
    /// Looks up the TXT records that prove domain ownership.
    pub dns: TxtResolver,
    /// HTTP to identity providers (OIDC discovery, keys, tokens), SSRF-guarded like `outbound`.
    pub sso_http: Outbound,
    /// OIDC discovery documents and signing keys per connection.
    pub sso_metadata: Arc<MetadataCache>,
}

impl AppState {
    /// After a committed change to an organization (its settings, plan, logo or members): this
    /// replica forgets what it cached about it, including its keys (they carry the API switch and
    /// the limit). Other replicas catch up within the caches' 2-second lifetime.
    pub fn forget_org(&self, org: OrgId) {
        self.api_keys.forget_org(org);
        self.orgs.remove(&org);
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
