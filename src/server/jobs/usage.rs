//! Writes metered API usage every few seconds (and once more when stopping).
use crate::server::{service::usage, state::AppState};
use tokio::sync::watch;

const EVERY: std::time::Duration = std::time::Duration::from_secs(2);

pub async fn run(app: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(EVERY) => false,
            _ = shutdown.changed() => true,
        };
        if let Err(e) = usage::flush(&app).await {
            tracing::warn!("usage: {e}");
        }
        if stopping {
            return;
        }
    }
}
