//! The messages Gatehouse sends. Each is written to the outbox inside the caller's transaction, so
//! a mail exists exactly when the change that caused it does; `jobs::mailer` sends it after commit.
use crate::server::{config::Config, db, db::Tx};
use crate::shared::{accounts::LinkedIdentity, error::AppError};
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
    let text = format!(
        "Please confirm that {email} is your email address by opening this link:\n\n{link}\n\nThe link works once and expires in 24 hours. If you did not create a Gatehouse account, ignore this message.",
        email = to.email,
    );
    enqueue(tx, to, "Verify your email address", &text, now).await
}

/// The reset link, and every single sign-on identity that can also sign in to the account: someone
/// recovering an account must see a sign-in method they did not add.
pub async fn reset_password(
    tx: &mut Tx,
    config: &Config,
    to: Recipient<'_>,
    token: &str,
    linked: &[LinkedIdentity],
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let link = config.link(&format!("/reset-password?token={token}"));
    let identities = if linked.is_empty() {
        "No single sign-on identity is linked to your account.".to_owned()
    } else {
        let lines: Vec<String> = linked
            .iter()
            .map(|i| {
                format!(
                    "- {} ({}, organization {}), subject {}",
                    i.connection_name,
                    i.kind.to_uppercase(),
                    i.organization_name,
                    i.subject
                )
            })
            .collect();
        format!(
            "These single sign-on identities can also sign in to your account:\n{}\nIf you do not recognise one, unlink it on your account page: {}",
            lines.join("\n"),
            config.link("/account")
        )
    };
    let text = format!(
        "Someone (hopefully you) asked to reset the password of your Gatehouse account. Choose a new password here:\n\n{link}\n\nThe link works once and expires in 1 hour. Resetting signs you out everywhere. If you did not ask for this, ignore this message: your password stays as it is.\n\n{identities}"
    );
    enqueue(tx, to, "Reset your password", &text, now).await
}

pub async fn password_changed(
    tx: &mut Tx,
    config: &Config,
    to: Recipient<'_>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let text = format!(
        "The password of your Gatehouse account was just changed, and your other sessions were signed out.\n\nIf this was not you, reset your password now: {}",
        config.link("/forgot-password")
    );
    enqueue(tx, to, "Your password was changed", &text, now).await
}

pub async fn signup_attempted(
    tx: &mut Tx,
    config: &Config,
    to: Recipient<'_>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let text = format!(
        "Someone just tried to create a Gatehouse account with {email}, which already has one: yours. No new account was made and nothing about yours changed.\n\nIf it was you, sign in instead; if you forgot your password, choose a new one here: {link}\n\nIf it was not you, you can ignore this message.",
        email = to.email,
        link = config.link("/forgot-password"),
    );
    enqueue(tx, to, "Someone tried to sign up with your email address", &text, now).await
}

pub async fn sign_in_throttled(
    tx: &mut Tx,
    config: &Config,
    to: Recipient<'_>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let text = format!(
        "Sign-ins to your Gatehouse account are being refused for a while: someone entered a wrong password too many times.\n\nBrowsers you signed in with before can still sign in. If this was not you, your password is still safe, but consider changing it: {}",
        config.link("/forgot-password")
    );
    enqueue(tx, to, "Too many sign-in attempts on your account", &text, now).await
}

async fn enqueue(
    tx: &mut Tx,
    to: Recipient<'_>,
    subject: &str,
    text: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    send(tx, to.email, subject, &format!("Hello {},\n\n{text}", to.name), now).await
}

/// Any message to any address (invitations go to people who may have no account yet).
pub async fn send(tx: &mut Tx, to: &str, subject: &str, text: &str, now: DateTime<Utc>) -> Result<(), AppError> {
    db::emails::enqueue(tx, to, subject, &format!("{text}\n"), now).await?;
    Ok(())
}
