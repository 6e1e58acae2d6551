//! Delivers the email outbox: claims due messages one at a time (leases keep replicas from sending
//! twice), sends them over SMTP, and retries failures with backoff. Without SMTP configured the
//! message stays in the database as the development outbox and only its arrival is logged.
use crate::server::{db, state::AppState};
use crate::shared::accounts::OutboxEmail;
use chrono::Duration;
use lettre::{
    message::{header::ContentTransferEncoding, header::ContentType, Body},
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use tokio::sync::watch;

const LEASE_SECS: i64 = 120;
const POLL_SECS: u64 = 10;

pub type Smtp = AsyncSmtpTransport<Tokio1Executor>;

/// `smtp://host:port` (plain, or STARTTLS with `?tls=required`), `smtps://host` (implicit TLS);
/// user and password may be given in the URL.
pub fn smtp_transport(url: &str) -> anyhow::Result<Smtp> {
    Ok(AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?.build())
}

pub async fn run(app: AppState, smtp: Option<Smtp>, mut shutdown: watch::Receiver<bool>) {
    loop {
        if let Err(e) = deliver_due(&app, smtp.as_ref()).await {
            tracing::error!("mail worker: {e}");
        }
        tokio::select! {
            _ = app.mail_wakeup.notified() => {}
            _ = tokio::time::sleep(until_next_due(&app).await) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// Sleeps until the next retry is due, but never longer than the poll interval (another replica
/// may have enqueued mail without waking this one).
async fn until_next_due(app: &AppState) -> std::time::Duration {
    let poll = std::time::Duration::from_secs(POLL_SECS);
    match db::emails::next_due(app.db.pool()).await.map_err(crate::shared::error::AppError::from) {
        Ok(Some(due)) => (due - db::now()).to_std().unwrap_or_default().min(poll),
        _ => poll,
    }
}

async fn deliver_due(app: &AppState, smtp: Option<&Smtp>) -> Result<(), crate::shared::error::AppError> {
    let pool = app.db.pool();
    loop {
        let now = db::now();
        let Some(mail) = db::emails::claim_due(pool, now, now + Duration::seconds(LEASE_SECS)).await? else {
            return Ok(());
        };
        let Some(smtp) = smtp else {
            tracing::info!(to = %mail.to, subject = %mail.subject, "email kept in the development outbox: {}", app.config.link("/dev/outbox"));
            db::emails::mark_sent(pool, mail.id, "outbox", db::now()).await?;
            continue;
        };
        match send(smtp, &app.config.mail_from, &mail).await {
            Ok(()) => {
                tracing::info!(to = %mail.to, subject = %mail.subject, "email sent");
                db::emails::mark_sent(pool, mail.id, "smtp", db::now()).await?;
            }
            Err(e) => {
                let delays = &app.config.mail_retry_delays;
                let retry_at = delays
                    .get(mail.attempts as usize - 1)
                    .map(|wait| db::now() + Duration::from_std(*wait).unwrap_or(Duration::hours(6)));
                tracing::warn!(to = %mail.to, attempt = mail.attempts, gave_up = retry_at.is_none(), "email delivery failed: {e}");
                db::emails::mark_failed(pool, mail.id, &e.to_string(), retry_at, db::now()).await?;
            }
        }
    }
}

async fn send(smtp: &Smtp, from: &str, mail: &OutboxEmail) -> anyhow::Result<()> {
    // 7bit (which needs CRLF line ends) keeps links intact for any reader; other text falls back
    // to lettre's own choice.
    let body = Body::new_with_encoding(mail.body.replace('\n', "\r\n"), ContentTransferEncoding::SevenBit)
        .unwrap_or_else(Body::new);
    let message = Message::builder()
        .from(from.parse()?)
        .to(mail.to.parse()?)
        .subject(&mail.subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body)?;
    smtp.send(message).await?;
    Ok(())
}
