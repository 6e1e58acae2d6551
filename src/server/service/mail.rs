//! The messages Gatehouse sends. Each is written to the outbox inside the caller's transaction, so
//! a mail exists exactly when the change that caused it does; `jobs::mailer` sends it after commit.
use crate::server::{config::Config, db, db::Tx};
use crate::shared::error::AppError;
use chrono::{DateTime, Utc};

pub struct Recipient<'a> {
    pub email: &'a str,
    pub name: &'a str,
}

pub async fn verify_email(
    tx: &mut Tx,
    config: &Config,
    to: Recipient<'_>,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let link = config.link(&format!("/verify-email?token={token}"));
    let body = format!(
        "Hello {name},\n\nPlease confirm that {email} is your email address by opening this link:\n\n{link}\n\nThe link works once and expires in 24 hours. If you did not create a Gatehouse account, ignore this message.\n",
        name = to.name,
        email = to.email,
    );
    db::emails::enqueue(tx, to.email, "Verify your email address", &body, now).await.map(drop)
}

pub async fn reset_password(
    tx: &mut Tx,
    config: &Config,
    to: Recipient<'_>,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let link = config.link(&format!("/reset-password?token={token}"));
    let body = format!(
        "Hello {name},\n\nSomeone (hopefully you) asked to reset the password of your Gatehouse account. Choose a new password here:\n\n{link}\n\nThe link works once and expires in 1 hour. Resetting signs you out everywhere. If you did not ask for this, ignore this message: your password stays as it is.\n",
        name = to.name,
    );
    db::emails::enqueue(tx, to.email, "Reset your password", &body, now).await.map(drop)
}

pub async fn password_changed(
    tx: &mut Tx,
    config: &Config,
    to: Recipient<'_>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let link = config.link("/forgot-password");
    let body = format!(
        "Hello {name},\n\nThe password of your Gatehouse account was just changed, and your other sessions were signed out.\n\nIf this was not you, reset your password now: {link}\n",
        name = to.name,
    );
    db::emails::enqueue(tx, to.email, "Your password was changed", &body, now).await.map(drop)
}
