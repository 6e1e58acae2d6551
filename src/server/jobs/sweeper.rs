//! Deletes what has expired: signed-in sessions past their lifetime, old throttle events and
//! stored idempotent responses, SAML request and assertion ids, webhook delivery logs past their
//! retention.
use crate::server::{db, state::AppState};
use crate::shared::error::AppError;
use chrono::Duration;
use tokio::sync::watch;

const EVERY: std::time::Duration = std::time::Duration::from_secs(300);

pub async fn run(app: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        let now = db::now();
        if let Err(e) = db::sessions::delete_expired(app.db.pool(), now).await.map_err(AppError::from) {
            tracing::warn!("sweeper: sessions: {e}");
        }
        // Keep a day of throttle history: longer than any throttle window.
        if let Err(e) =
            db::throttle::delete_older_than(app.db.pool(), now - Duration::days(1)).await.map_err(AppError::from)
        {
            tracing::warn!("sweeper: throttle events: {e}");
        }
        // Idempotency-Key replays are promised for 24 hours.
        if let Err(e) =
            db::idempotency::delete_older_than(app.db.pool(), now - Duration::hours(24)).await.map_err(AppError::from)
        {
            tracing::warn!("sweeper: idempotency keys: {e}");
        }
        if let Err(e) = db::sso::delete_expired_saml(app.db.pool(), now).await.map_err(AppError::from) {
            tracing::warn!("sweeper: SAML request and assertion ids: {e}");
        }
        if let Err(e) = db::sso_links::delete_expired(app.db.pool(), now).await.map_err(AppError::from) {
            tracing::warn!("sweeper: pending SSO links: {e}");
        }
        if let Err(e) = crate::server::service::webhooks::delivery::purge_old(&app).await {
            tracing::warn!("sweeper: webhook deliveries: {e}");
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = shutdown.changed() => return,
        }
    }
}
