//! Delivery attempts: Standard Webhooks signatures (both secrets while a rotation overlaps),
//! recording outcomes in batches, retries with jitter, disabling endpoints that keep failing.
use crate::server::{
    authz::Actor,
    db::{self, webhooks::Job, Tx},
    outbound::{Answer, Failure, BODY_CAP},
    service::{
        audit::{self, Event},
        mail,
    },
    state::AppState,
};
use crate::shared::{audit::Action, error::AppError, ids::WebhookId, webhooks::DeliveryStatus};
use base64::{engine::general_purpose::STANDARD, Engine};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use serde_json::json;
use sha2::Sha256;
use std::time::Duration as StdDuration;

/// Waits after each failed attempt (Standard Webhooks / Svix schedule); then the delivery fails.
pub const RETRY_SCHEDULE: [StdDuration; 7] = [
    StdDuration::from_secs(5),
    StdDuration::from_secs(5 * 60),
    StdDuration::from_secs(30 * 60),
    StdDuration::from_secs(2 * 3600),
    StdDuration::from_secs(5 * 3600),
    StdDuration::from_secs(10 * 3600),
    StdDuration::from_secs(10 * 3600),
];
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: StdDuration = StdDuration::from_secs(24 * 3600);

// ---- signing ---------------------------------------------------------------------------------

/// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>` where the key is the base64 part
/// of the secret (Standard Webhooks).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let key = STANDARD.decode(secret.trim_start_matches("whsec_")).unwrap_or_default();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

// ---- attempts --------------------------------------------------------------------------------

/// One finished attempt, waiting to be recorded.
pub struct Outcome {
    pub job: Job,
    pub at: DateTime<Utc>,
    pub result: Result<Answer, Failure>,
}

impl Outcome {
    /// Only a 2xx answer is a success.
    pub fn succeeded(&self) -> bool {
        matches!(&self.result, Ok(answer) if (200..300).contains(&answer.status))
    }
}

/// The Standard Webhooks headers: both signatures while a rotation's overlap runs.
fn signed_headers(app: &AppState, job: &Job, at: DateTime<Utc>) -> Result<http::HeaderMap, String> {
    let timestamp = at.timestamp();
    let id = job.event.to_string();
    let secret = app.secrets.open(&job.secret).map_err(|e| e.to_string())?;
    let mut signatures = sign(&secret, &id, timestamp, &job.payload);
    if let (Some(previous), Some(until)) = (&job.previous_secret, job.previous_secret_expires_at) {
        if until > at {
            let previous = app.secrets.open(previous).map_err(|e| e.to_string())?;
            signatures = format!("{signatures} {}", sign(&previous, &id, timestamp, &job.payload));
        }
    }
    let mut headers = http::HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    put("content-type", "application/json".to_owned());
    put("webhook-id", id);
    put("webhook-timestamp", timestamp.to_string());
    put("webhook-signature", signatures);
    Ok(headers)
}

pub async fn attempt(app: &AppState, job: Job) -> Outcome {
    let at = db::now();
    let result = match signed_headers(app, &job, at) {
        Ok(headers) => app.outbound.post(&job.url, headers, job.payload.clone().into_bytes()).await,
        Err(error) => Err(Failure { error: format!("cannot sign: {error}"), latency: StdDuration::ZERO }),
    };
    Outcome { job, at, result }
}

/// When to try again after failed attempt number `attempt` (1-based), or `None` to give up:
/// the schedule with ±10% jitter, never sooner than the receiver's `Retry-After` (capped).
pub fn next_delay(attempt: i64, retry_after: Option<StdDuration>, rng: &mut impl Rng) -> Option<StdDuration> {
    let index = usize::try_from(attempt).ok()?.checked_sub(1)?;
    let scheduled = *RETRY_SCHEDULE.get(index)?;
    let jittered = scheduled.mul_f64(rng.gen_range(0.9..=1.1));
    Some(retry_after.map_or(jittered, |wait| jittered.max(wait.min(MAX_RETRY_AFTER))))
}

fn capped_text(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(BODY_CAP)];
    String::from_utf8_lossy(cut).into_owned()
}

/// What one attempt came to, in the words of the log.
struct Logged {
    status: Option<i64>,
    /// `None` for a 2xx.
    error: Option<String>,
    response: Option<String>,
    retry_after: Option<StdDuration>,
    latency: StdDuration,
}

impl Logged {
    fn of(result: &Result<Answer, Failure>) -> Logged {
        match result {
            Ok(answer) => Logged {
                status: Some(i64::from(answer.status)),
                error: (!(200..300).contains(&answer.status)).then(|| match answer.status {
                    300..=399 => format!("HTTP {} (redirects are not followed)", answer.status),
                    code => format!("HTTP {code}"),
                }),
                response: Some(capped_text(&answer.body)),
                retry_after: answer.retry_after,
                latency: answer.latency,
            },
            Err(failure) => Logged {
                status: None,
                error: Some(failure.error.clone()),
                response: None,
                retry_after: None,
                latency: failure.latency,
            },
        }
    }
}

/// Records finished attempts in one transaction, retried if the database refuses it (a
/// deadlock, a lost connection): if it never succeeds, the leases lapse and the deliveries are
/// attempted again — at least once, never lost.
pub async fn record(app: &AppState, outcomes: &[Outcome]) -> Result<(), AppError> {
    let mut tries = 0;
    loop {
        tries += 1;
        match record_once(app, outcomes).await {
            Err(e) if tries < 3 => tracing::warn!("webhooks: recording attempts, try {tries}: {e}"),
            done => return done,
        }
    }
}

/// Endpoint counters first, in id order, so that concurrent recorders (other replicas) queue on
/// the same locks in the same order instead of deadlocking; then the attempt log and each
/// delivery's next state; then disabling endpoints that answered 410 or failed for too long.
async fn record_once(app: &AppState, outcomes: &[Outcome]) -> Result<(), AppError> {
    let logged: Vec<Logged> = outcomes.iter().map(|o| Logged::of(&o.result)).collect();
    let mut tx = app.db.begin_write().await?;
    let mut endpoints: Vec<WebhookId> = outcomes.iter().map(|o| o.job.endpoint).collect();
    endpoints.sort();
    endpoints.dedup();
    for endpoint in &endpoints {
        let mut tally = db::webhooks::Tally::default();
        for (outcome, log) in outcomes.iter().zip(&logged).filter(|(o, _)| o.job.endpoint == *endpoint) {
            tally.add(log.error.is_none(), outcome.at);
        }
        db::webhooks::count_attempts(&mut tx, *endpoint, &tally).await?;
    }
    let disable_after = Duration::from_std(app.config.webhook_disable_after).unwrap_or(Duration::days(5));
    let mut to_disable: Vec<(&Job, String)> = Vec::new();
    for (outcome, log) in outcomes.iter().zip(&logged) {
        let job = &outcome.job;
        let request_body = capped_text(job.payload.as_bytes());
        let attempt = db::webhooks::NewAttempt {
            delivery: job.delivery,
            endpoint: job.endpoint,
            at: outcome.at,
            status: log.status,
            latency_ms: i64::try_from(log.latency.as_millis()).unwrap_or(i64::MAX),
            error: log.error.as_deref(),
            request_body: &request_body,
            response_body: log.response.as_deref(),
        };
        db::webhooks::insert_attempt(&mut tx, &attempt).await?;
        let (state, next) = if log.error.is_none() {
            (DeliveryStatus::Succeeded, None)
        } else if log.status == Some(410) {
            to_disable.push((job, "The endpoint answered 410 Gone.".to_owned()));
            (DeliveryStatus::Failed, None)
        } else {
            let next = next_delay(job.attempt, log.retry_after, &mut rand::thread_rng())
                .and_then(|d| Duration::from_std(d).ok())
                .map(|d| outcome.at + d);
            (if next.is_some() { DeliveryStatus::Pending } else { DeliveryStatus::Failed }, next)
        };
        db::webhooks::finish_attempt(&mut tx, &attempt, state, next).await?;
        if log.error.is_some() && log.status != Some(410) {
            if let Some(since) = db::webhooks::failing_since(&mut tx, job.endpoint).await? {
                if outcome.at - since >= disable_after {
                    let days = disable_after.num_hours() as f64 / 24.0;
                    to_disable.push((job, format!("Every delivery failed for {days} days.")));
                }
            }
        }
    }
    for (job, reason) in to_disable {
        disable(app, &mut tx, job, &reason).await?;
    }
    Ok(db::commit(tx).await?)
}

/// Turns the endpoint off, audits it (which emits `webhook.disabled` to the org's other
/// endpoints) and emails the organization's owners and admins.
async fn disable(app: &AppState, tx: &mut Tx, job: &Job, reason: &str) -> Result<(), AppError> {
    let now = db::now();
    if !db::webhooks::disable(tx, job.endpoint, reason, now).await? {
        return Ok(());
    }
    let event = Event {
        action: Action::WebhookDisabled,
        resource_type: "webhook",
        resource_id: Some(job.endpoint.to_string()),
        metadata: json!({ "url": job.url, "reason": reason }),
    };
    audit::append(tx, &job.org.to_string(), Some(job.org), &Actor::system(), event).await?;
    let link = app.config.link(&format!("/orgs/{}/webhooks/{}", job.org, job.endpoint));
    let text = format!(
        "Gatehouse disabled the webhook endpoint {url}.\n\nReason: {reason}\n\nEvents are no longer sent to it. \
         Once the endpoint works again, enable it and retry failed deliveries from the delivery log:\n{link}",
        url = job.url
    );
    for to in db::members::admin_emails(tx, job.org).await? {
        mail::send(tx, &to, "A webhook endpoint was disabled", &text, now).await?;
    }
    Ok(())
}

/// Deletes delivery logs older than the retention period (30 days by default).
pub async fn purge_old(app: &AppState) -> Result<u64, AppError> {
    let keep = Duration::from_std(app.config.webhook_retention).unwrap_or(Duration::days(30));
    Ok(db::webhooks::purge(app.db.pool(), db::now() - keep).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn signature_matches_the_standard_webhooks_vector() {
        // The example from the Standard Webhooks specification and its reference libraries.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn retry_schedule_with_jitter_retry_after_and_an_end() {
        let mut rng = StdRng::seed_from_u64(7);
        for (i, base) in RETRY_SCHEDULE.iter().enumerate() {
            let delay = next_delay(i as i64 + 1, None, &mut rng).unwrap();
            assert!(delay >= base.mul_f64(0.9) && delay <= base.mul_f64(1.1), "attempt {}: {delay:?}", i + 1);
        }
        assert_eq!(next_delay(8, None, &mut rng), None, "seven retries, then the delivery fails");
        assert_eq!(next_delay(0, None, &mut rng), None);
        let waited = next_delay(1, Some(StdDuration::from_secs(600)), &mut rng).unwrap();
        assert_eq!(waited, StdDuration::from_secs(600), "never sooner than Retry-After");
        let capped = next_delay(1, Some(StdDuration::from_secs(7 * 24 * 3600)), &mut rng).unwrap();
        assert_eq!(capped, MAX_RETRY_AFTER);
        let short = next_delay(2, Some(StdDuration::from_secs(1)), &mut rng).unwrap();
        assert!(short >= StdDuration::from_secs(270), "a short Retry-After does not hurry the schedule");
    }
}
