//! Server functions for the account page: the signed-in user, profile, password, sessions and
//! linked sign-in methods (the `/api/v1/me` operations).
use crate::shared::{
    accounts::{LinkedIdentity, Me, Page, SessionInfo},
    error::AppError,
};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::ssr::{browser_session, client, go, maybe_signed_in, page, respond, signed_in},
    crate::server::{
        auth::session,
        service::{accounts, sso::linking},
    },
};

#[server(prefix = "/rpc", endpoint = "me")]
pub async fn current_user() -> Result<Option<Me>, AppError> {
    respond(async { Ok(maybe_signed_in().await?.1.map(|who| who.user.to_me())) }.await)
}

#[server(prefix = "/rpc", endpoint = "update_profile")]
pub async fn update_profile(name: String) -> Result<(), AppError> {
    respond(
        async {
            let (app, who) = signed_in().await?;
            accounts::update_profile(&app, &who, &name).await?;
            go("/account?notice=profile_saved")
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "change_password")]
pub async fn change_password(current_password: String, new_password: String) -> Result<(), AppError> {
    respond(
        async {
            let (app, who) = signed_in().await?;
            accounts::change_password(&app, &who, &current_password, &new_password).await?;
            session::rotate(&browser_session().await?).await?;
            go("/account?notice=password_changed")
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "sessions")]
pub async fn list_sessions(cursor: Option<String>) -> Result<Page<SessionInfo>, AppError> {
    respond(
        async {
            let (app, who) = signed_in().await?;
            accounts::list_sessions(&app, &who, &page(cursor)?).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "revoke_session")]
pub async fn revoke_session(id: String) -> Result<(), AppError> {
    respond(
        async {
            let (app, who) = signed_in().await?;
            let id = id.parse().map_err(|_| AppError::not_found("session"))?;
            accounts::revoke_session(&app, &who, id).await?;
            go(if id == who.session.id { "/login?notice=signed_out" } else { "/account?notice=session_revoked" })
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "linked_identities")]
pub async fn linked_identities() -> Result<Vec<LinkedIdentity>, AppError> {
    respond(
        async {
            let (app, who) = signed_in().await?;
            linking::identities(&app, who.user.id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "unlink_identity")]
pub async fn unlink_identity(id: String) -> Result<(), AppError> {
    respond(
        async {
            let (app, who) = signed_in().await?;
            linking::unlink(&app, &who.user, &id, &client().await?).await?;
            go("/account?notice=identity_unlinked")
        }
        .await,
    )
}
