//! Server functions for signing up, in and out, email verification and password reset (the
//! `/api/v1/auth/*` operations).
use crate::shared::error::AppError;
#[cfg(feature = "ssr")]
use crate::shared::values::is_local_path;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::ssr::{app, append_cookie, browser_session, client, go, maybe_signed_in, respond, signed_in},
    crate::server::{
        auth::{device, session},
        service::accounts,
    },
};

#[server(prefix = "/rpc", endpoint = "signup")]
pub async fn signup(name: String, email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    respond(
        async {
            let input = accounts::Signup { name, email, password };
            let (_, row) = accounts::signup(&app()?, input, &client().await?).await?;
            session::establish(&browser_session().await?, &row).await?;
            go(&next.filter(|n| is_local_path(n)).unwrap_or_else(|| "/account?notice=welcome".to_owned()))
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "login")]
pub async fn login(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    respond(
        async {
            let app = app()?;
            let (user, row) = accounts::login(&app, &email, &password, &client().await?).await?;
            session::establish(&browser_session().await?, &row).await?;
            append_cookie(device::set_cookie(&app.secrets, &app.config, &user.email));
            go(&next.filter(|n| is_local_path(n)).unwrap_or_else(|| "/account".to_owned()))
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    respond(
        async {
            if let (app, Some(who)) = maybe_signed_in().await? {
                accounts::logout(&app, &who).await?;
            }
            session::clear(&browser_session().await?).await?;
            go("/login?notice=signed_out")
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "logout_everywhere")]
pub async fn logout_everywhere() -> Result<(), AppError> {
    respond(
        async {
            let (app, who) = signed_in().await?;
            accounts::logout_everywhere(&app, &who).await?;
            session::clear(&browser_session().await?).await?;
            go("/login?notice=signed_out_everywhere")
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "resend_verification")]
pub async fn resend_verification() -> Result<(), AppError> {
    respond(
        async {
            let (app, who) = signed_in().await?;
            accounts::resend_verification(&app, &who).await?;
            go("/account?notice=verification_sent")
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "verify_email")]
pub async fn verify_email(token: String) -> Result<(), AppError> {
    respond(
        async {
            let (app, who) = maybe_signed_in().await?;
            accounts::verify_email(&app, &token).await?;
            go(if who.is_some() { "/account?notice=email_verified" } else { "/login?notice=email_verified" })
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "forgot_password")]
pub async fn forgot_password(email: String) -> Result<(), AppError> {
    respond(
        async {
            accounts::forgot_password(&app()?, &email, &client().await?).await?;
            go("/forgot-password?notice=reset_sent")
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "reset_password")]
pub async fn reset_password(token: String, password: String) -> Result<(), AppError> {
    respond(
        async {
            accounts::reset_password(&app()?, &token, &password).await?;
            session::clear(&browser_session().await?).await?;
            go("/login?notice=password_reset")
        }
        .await,
    )
}

/// Whether an emailed link is still good, so its page can say so up front.
#[server(prefix = "/rpc", endpoint = "link_status")]
pub async fn link_status(token: String, reset: bool) -> Result<bool, AppError> {
    respond(async { accounts::link_is_live(&app()?, &token, reset).await }.await)
}
