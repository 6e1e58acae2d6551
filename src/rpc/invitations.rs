//! Server functions for invitations: the organization's list (invite, revoke, resend) and the
//! invitation link (preview, accept). Those in an organization authorize membership of it (404
//! otherwise) and call one service function, which checks the permission the operation needs.
use crate::shared::{
    accounts::Page,
    error::AppError,
    invitations::{Invitation, IssuedInvitation},
};
use leptos::prelude::*;

// `invitation_preview` names its DTO in full: the server-function struct (`InvitationPreview`)
// takes that name in this module.

#[cfg(feature = "ssr")]
use {
    super::ssr::{app, client, go, id, in_org, page, respond, role, signed_in},
    crate::server::service::invitations,
};

#[server(prefix = "/rpc", endpoint = "invitations")]
pub async fn invitations(org_id: String, cursor: Option<String>) -> Result<Page<Invitation>, AppError> {
    in_org(&org_id, |app, scope| async move { invitations::list(&app, &scope, &page(cursor)?).await }).await
}

/// Issues an invitation. The answer carries the link (shown once, to copy); a plain form post is
/// redirected to the list instead, and the link only travels by mail.
#[server(prefix = "/rpc", endpoint = "invite")]
pub async fn invite(org_id: String, email: String, role: String) -> Result<IssuedInvitation, AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        let issued = invitations::invite(&app, &scope, &email, Some(self::role(&role)?), None).await?;
        go(&format!("/orgs/{org_id}/invitations?notice=invited"))?;
        Ok(issued)
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "revoke_invitation")]
pub async fn revoke_invitation(org_id: String, invitation_id: String) -> Result<(), AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        invitations::revoke(&app, &scope, id(&invitation_id, "invitation")?).await?;
        go(&format!("/orgs/{org_id}/invitations?notice=invitation_revoked"))
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "resend_invitation")]
pub async fn resend_invitation(org_id: String, invitation_id: String) -> Result<(), AppError> {
    in_org(&org_id, |app, scope| async move {
        let org_id = scope.org_id();
        invitations::resend(&app, &scope, id(&invitation_id, "invitation")?, None).await?;
        go(&format!("/orgs/{org_id}/invitations?notice=invitation_resent"))
    })
    .await
}

/// What an invitation link offers, from its token alone (no sign-in needed).
#[server(prefix = "/rpc", endpoint = "invitation_preview")]
pub async fn invitation_preview(token: String) -> Result<crate::shared::invitations::InvitationPreview, AppError> {
    respond(async { invitations::preview(&app()?, &token).await }.await)
}

#[server(prefix = "/rpc", endpoint = "accept_invitation")]
pub async fn accept_invitation(token: String) -> Result<(), AppError> {
    respond(
        async {
            let (app, who) = signed_in().await?;
            let org = invitations::accept(&app, &who, &client().await?, &token).await?;
            go(&format!("/orgs/{org}?notice=joined"))
        }
        .await,
    )
}
