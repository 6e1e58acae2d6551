//! Delivers webhook events: keeps up to `IN_FLIGHT` attempts running, leases due deliveries in
//! batches (a lease outlives the request timeout, so a crashed worker's deliveries are retried
//! after it lapses: at-least-once), and records finished attempts in one transaction per batch.
//! On shutdown it stops claiming and lets attempts in flight finish until the grace period ends;
//! the rest keep their lease and are retried after it lapses.
use crate::server::{
    db,
    service::webhooks::delivery::{self as webhooks, Outcome},
    state::AppState,
};
use tokio::{sync::watch, task::JoinSet, time::Instant};

const IN_FLIGHT: usize = 64;
/// How often an idle worker looks for due deliveries (events from other replicas or retries).
const POLL: std::time::Duration = std::time::Duration::from_millis(200);

pub async fn run(app: AppState, mut shutdown: watch::Receiver<bool>) {
    let lease = chrono::Duration::from_std(app.config.webhook_timeout * 2 + std::time::Duration::from_secs(5))
        .unwrap_or(chrono::Duration::seconds(35));
    let mut running: JoinSet<Outcome> = JoinSet::new();
    let mut finished: Vec<Outcome> = Vec::new();
    let mut deadline: Option<Instant> = None;
    loop {
        if deadline.is_none() && running.len() < IN_FLIGHT {
            start_due(&app, &mut running, lease).await;
        }
        if deadline.is_some() && running.is_empty() {
            return;
        }
        let stop_at = deadline.unwrap_or_else(|| Instant::now() + POLL);
        tokio::select! {
            Some(done) = running.join_next(), if !running.is_empty() => {
                finished.extend(done.ok());
                while let Some(done) = running.try_join_next() {
                    finished.extend(done.ok());
                }
            }
            _ = app.webhook_wakeup.notified(), if deadline.is_none() => {}
            _ = shutdown.changed(), if deadline.is_none() => {
                deadline = Some(Instant::now() + app.config.webhook_shutdown_grace);
            }
            _ = tokio::time::sleep_until(stop_at) => {
                if deadline.is_some() {
                    // Out of time: unfinished attempts keep their lease and run again later.
                    running.abort_all();
                    save(&app, &mut finished).await;
                    return;
                }
            }
        }
        save(&app, &mut finished).await;
    }
}

async fn start_due(app: &AppState, running: &mut JoinSet<Outcome>, lease: chrono::Duration) {
    let now = db::now();
    let room = (IN_FLIGHT - running.len()) as i64;
    let jobs = match db::webhooks::claim_due(&app.db, now, now + lease, room).await {
        Ok(ids) => db::webhooks::load_jobs(app.db.pool(), &ids).await,
        Err(e) => Err(e),
    }
    .map_err(crate::shared::error::AppError::from);
    match jobs {
        Ok(jobs) => {
            for job in jobs {
                let app = app.clone();
                running.spawn(async move { webhooks::attempt(&app, job).await });
            }
        }
        Err(e) => tracing::error!("webhooks: claiming deliveries: {e}"),
    }
}

async fn save(app: &AppState, finished: &mut Vec<Outcome>) {
    if finished.is_empty() {
        return;
    }
    let batch = std::mem::take(finished);
    for outcome in &batch {
        app.metrics.webhook_attempt(outcome.succeeded());
    }
    if let Err(e) = webhooks::record(app, &batch).await {
        // The leases lapse and the deliveries are attempted again: at-least-once, never lost.
        tracing::error!("webhooks: recording attempts: {e}");
    }
}
