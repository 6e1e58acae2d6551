//! Server functions for the organization pages: organizations, members, invitations and the audit
//! log. Each authorizes membership of the organization (404 otherwise) and calls one service
//! function, which checks the permission the operation needs.
use crate::shared::{
    account::Page,
    error::AppError,
    org::{AuditEntry, ChainStatus, Invitation, IssuedInvitation, Member, Organization},
};
use leptos::prelude::*;

// `org_stats` and `invitation_preview` name their DTOs in full: the server-function structs
// (`OrgStats`, `InvitationPreview`) take those names in this module.

#[cfg(feature = "ssr")]
use {
    super::ssr::{app, client, go, respond, signed_in},
    crate::server::{
        authz::{authorize, OrgScope},
        service::{audit, invitations, members, orgs},
        state::AppState,
    },
    crate::shared::roles::{Permission, Role},
};

/// Parses an id from a form or path; a malformed one is as unknown as another organization's.
#[cfg(feature = "ssr")]
pub(super) fn id<T: std::str::FromStr>(raw: &str, what: &str) -> Result<T, AppError> {
    raw.trim().parse().map_err(|_| AppError::not_found(what))
}

/// The signed-in user's scope in organization `org_id`: membership is checked here, each
/// operation's own permission inside the service. Everything taken from the request is taken
/// before the first database call: during server rendering Leptos may drop a page's first render
/// (and the request context with it) while its data still loads, and a lookup after that fails.
#[cfg(feature = "ssr")]
pub(super) async fn scope(org_id: &str) -> Result<(AppState, OrgScope), AppError> {
    let client = client().await?;
    let (app, who) = signed_in().await?;
    let org = id(org_id, "organization")?;
    let scope = authorize(&app.db, &who, &client, org, Permission::OrgRead).await?;
    Ok((app, scope))
}

#[cfg(feature = "ssr")]
fn role(raw: &str) -> Result<Role, AppError> {
    Role::parse(raw).ok_or_else(|| AppError::invalid_field("role", "Choose one of the roles offered."))
}

/// An empty query parameter means "none" (a GET form sends `cursor=` as well as no cursor at all).
#[cfg(feature = "ssr")]
pub(super) fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

#[server(prefix = "/rpc", endpoint = "my_orgs")]
pub async fn my_orgs(cursor: Option<String>) -> Result<Page<Organization>, AppError> {
    respond(
        async {
            let (app, who) = signed_in().await?;
            orgs::list_mine(&app, &who, given(cursor).as_deref(), None).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "create_org")]
pub async fn create_org(name: String, slug: Option<String>) -> Result<(), AppError> {
    respond(
        async {
            let (app, who) = signed_in().await?;
            let org = orgs::create(&app, &who, &client().await?, &name, given(slug).as_deref()).await?;
            go(&format!("/orgs/{}?notice=org_created", org.id))
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "org")]
pub async fn org(org_id: String) -> Result<Organization, AppError> {
    respond(
        async {
            let (app, scope) = scope(&org_id).await?;
            orgs::get(&app, &scope).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "org_stats")]
pub async fn org_stats(org_id: String) -> Result<crate::shared::org::OrgStats, AppError> {
    respond(
        async {
            let (app, scope) = scope(&org_id).await?;
            orgs::stats(&app, &scope).await
        }
        .await,
    )
}

/// Name, slug and primary colour (an empty colour goes back to the default).
#[server(prefix = "/rpc", endpoint = "update_org_settings")]
pub async fn update_org_settings(
    org_id: String,
    name: String,
    slug: String,
    primary_color: String,
) -> Result<(), AppError> {
    respond(
        async {
            let (app, scope) = scope(&org_id).await?;
            let patch = orgs::OrgPatch {
                name: Some(name),
                slug: Some(slug),
                primary_color: Some(primary_color),
                ..Default::default()
            };
            orgs::update(&app, &scope, patch).await?;
            go(&format!("/orgs/{org_id}/settings?notice=settings_saved"))
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "delete_org")]
pub async fn delete_org(org_id: String, confirm: String) -> Result<(), AppError> {
    respond(
        async {
            let (app, scope) = scope(&org_id).await?;
            orgs::delete(&app, &scope, &confirm).await?;
            go("/orgs?notice=org_deleted")
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "members")]
pub async fn members(org_id: String, search: Option<String>, cursor: Option<String>) -> Result<Page<Member>, AppError> {
    respond(
        async {
            let (app, scope) = scope(&org_id).await?;
            members::list(&app, &scope, given(search).as_deref(), given(cursor).as_deref(), None).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "change_member_role")]
pub async fn change_member_role(org_id: String, user_id: String, role: String) -> Result<(), AppError> {
    respond(
        async {
            let (app, scope) = scope(&org_id).await?;
            members::change(&app, &scope, id(&user_id, "member")?, Some(self::role(&role)?), None).await?;
            go(&format!("/orgs/{org_id}/members?notice=role_changed"))
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "remove_member")]
pub async fn remove_member(org_id: String, user_id: String) -> Result<(), AppError> {
    respond(
        async {
            let (app, scope) = scope(&org_id).await?;
            members::remove(&app, &scope, id(&user_id, "member")?).await?;
            go(&format!("/orgs/{org_id}/members?notice=member_removed"))
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "transfer_ownership")]
pub async fn transfer_ownership(org_id: String, user_id: String) -> Result<(), AppError> {
    respond(
        async {
            let (app, scope) = scope(&org_id).await?;
            members::transfer_ownership(&app, &scope, id(&user_id, "member")?).await?;
            go(&format!("/orgs/{org_id}/members?notice=ownership_transferred"))
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "leave_org")]
pub async fn leave_org(org_id: String) -> Result<(), AppError> {
    respond(
        async {
            let (app, scope) = scope(&org_id).await?;
            members::leave(&app, &scope).await?;
            go("/orgs?notice=left")
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "invitations")]
pub async fn invitations(org_id: String, cursor: Option<String>) -> Result<Page<Invitation>, AppError> {
    respond(
        async {
            let (app, scope) = scope(&org_id).await?;
            invitations::list(&app, &scope, given(cursor).as_deref(), None).await
        }
        .await,
    )
}

/// Issues an invitation. The answer carries the link (shown once, to copy); a plain form post is
/// redirected to the list instead, and the link only travels by mail.
#[server(prefix = "/rpc", endpoint = "invite")]
pub async fn invite(org_id: String, email: String, role: String) -> Result<IssuedInvitation, AppError> {
    respond(
        async {
            let (app, scope) = scope(&org_id).await?;
            let issued = invitations::invite(&app, &scope, &email, Some(self::role(&role)?), None).await?;
            go(&format!("/orgs/{org_id}/invitations?notice=invited"))?;
            Ok(issued)
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "revoke_invitation")]
pub async fn revoke_invitation(org_id: String, invitation_id: String) -> Result<(), AppError> {
    respond(
        async {
            let (app, scope) = scope(&org_id).await?;
            invitations::revoke(&app, &scope, id(&invitation_id, "invitation")?).await?;
            go(&format!("/orgs/{org_id}/invitations?notice=invitation_revoked"))
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "resend_invitation")]
pub async fn resend_invitation(org_id: String, invitation_id: String) -> Result<(), AppError> {
    respond(
        async {
            let (app, scope) = scope(&org_id).await?;
            invitations::resend(&app, &scope, id(&invitation_id, "invitation")?, None).await?;
            go(&format!("/orgs/{org_id}/invitations?notice=invitation_resent"))
        }
        .await,
    )
}

/// What an invitation link offers, from its token alone (no sign-in needed).
#[server(prefix = "/rpc", endpoint = "invitation_preview")]
pub async fn invitation_preview(token: String) -> Result<crate::shared::org::InvitationPreview, AppError> {
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

#[server(prefix = "/rpc", endpoint = "audit_logs")]
pub async fn audit_logs(
    org_id: String,
    action: Option<String>,
    cursor: Option<String>,
) -> Result<Page<AuditEntry>, AppError> {
    respond(
        async {
            let (app, scope) = scope(&org_id).await?;
            let query = audit::Query { action: given(action), cursor: given(cursor), ..Default::default() };
            audit::list(app.db.pool(), &scope, &query).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "verify_audit")]
pub async fn verify_audit(org_id: String) -> Result<ChainStatus, AppError> {
    respond(
        async {
            let (app, scope) = scope(&org_id).await?;
            audit::verify(app.db.pool(), &scope).await
        }
        .await,
    )
}
