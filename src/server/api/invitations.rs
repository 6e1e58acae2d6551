//! `/api/v1/organizations/{org}/invitations` and `/api/v1/invitations/accept`: invite, list, revoke,
//! resend and accept invitations. Every handler in an organization authorizes membership of the
//! organization in the path (404 otherwise); the service checks the permission.
use super::caller::InOrg;
use super::openapi::ErrorBody;
use crate::server::pagination::{PageParams, PageRequest};
use crate::server::{
    auth::principal::{ClientMeta, SignedIn},
    authz::authorize,
    error::{AppJson, AppPath},
    service::{invitations, orgs},
    state::AppState,
};
use crate::shared::{
    accounts::Page,
    error::AppError,
    ids::{InvitationId, OrgId},
    invitations::{Invitation, IssuedInvitation},
    orgs::Organization,
    roles::{Permission, Role},
};
use axum::{extract::State, http::StatusCode, Json};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(invite, list_invitations))
        .routes(routes!(invite_deprecated))
        .routes(routes!(revoke_invitation))
        .routes(routes!(resend_invitation))
        .routes(routes!(accept_invitation))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct InviteBody {
    email: String,
    role: Option<Role>,
    #[schema(minimum = 1, maximum = 30)]
    expires_in_days: Option<i64>,
}

/// Invite someone
///
/// Mails a single-use link to join with `role` (default `member`), valid `expires_in_days` (1–30,
/// default 7). The answer carries the `link`, shown only here. Members plus open invitations never
/// exceed `max_users`.
#[utoipa::path(post, path = "/organizations/{org}/invitations", operation_id = "createInvitation", tag = "invitations",
    security(("api_key" = ["invitations:write"])), request_body = InviteBody,
    responses(
        (status = 201, description = "The invitation, with its secret `link`.", body = IssuedInvitation),
        (status = 403, description = "Also when the role is above what the caller may assign (`insufficient_rank`).", body = ErrorBody),
        (status = 409, description = "Already a member (`already_member`), an open invitation exists (`invitation_pending`), or no seat is left (`limit_exceeded`, `details.max_users`).", body = ErrorBody),
        (status = 422, description = "A field is invalid: email, role or expires_in_days (`validation_failed`, `details.field`).", body = ErrorBody),
    )
)]
async fn invite(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppJson(body): AppJson<InviteBody>,
) -> Result<(StatusCode, Json<IssuedInvitation>), AppError> {
    let issued = invitations::invite(&app, &scope, &body.email, body.role, body.expires_in_days).await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// Invite someone (deprecated path)
///
/// The original path of `createInvitation`; it behaves the same, and every answer carries
/// `Deprecation`, `Sunset` and `Link: rel="deprecation"` headers. Use
/// `POST /organizations/{org}/invitations` instead.
#[utoipa::path(post, path = "/organizations/{org}/invite", operation_id = "createInvitationDeprecated", tag = "invitations",
    security(("api_key" = ["invitations:write"])), request_body = InviteBody,
    responses(
        (status = 201, description = "The invitation, with its secret `link` (as `createInvitation`).", body = IssuedInvitation),
        (status = 403, description = "Also when the role is above what the caller may assign (`insufficient_rank`).", body = ErrorBody),
        (status = 409, description = "As `createInvitation` (`already_member`, `invitation_pending`, `limit_exceeded`).", body = ErrorBody),
        (status = 422, description = "A field is invalid (`validation_failed`, `details.field`).", body = ErrorBody),
    )
)]
async fn invite_deprecated(
    app: State<AppState>,
    scope: InOrg,
    body: AppJson<InviteBody>,
) -> Result<(StatusCode, Json<IssuedInvitation>), AppError> {
    invite(app, scope, body).await
}

/// List invitations
///
/// Every invitation with its status (pending, accepted, revoked, expired), newest first.
#[utoipa::path(get, path = "/organizations/{org}/invitations", operation_id = "listInvitations", tag = "invitations",
    security(("api_key" = ["invitations:write"])), params(PageParams),
    responses((status = 200, description = "A page of invitations.", body = Page<Invitation>))
)]
async fn list_invitations(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    page: PageRequest,
) -> Result<Json<Page<Invitation>>, AppError> {
    Ok(Json(invitations::list(&app, &scope, &page).await?))
}

/// Revoke an invitation
///
/// The link stops working (410 for whoever opens it).
#[utoipa::path(delete, path = "/organizations/{org}/invitations/{invitation}", operation_id = "revokeInvitation", tag = "invitations",
    security(("api_key" = ["invitations:write"])),
    responses(
        (status = 204, description = "The invitation is revoked."),
        (status = 409, description = "Already accepted (`invitation_accepted`) or revoked (`invitation_revoked`).", body = ErrorBody),
    )
)]
async fn revoke_invitation(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): AppPath<(OrgId, InvitationId)>,
) -> Result<StatusCode, AppError> {
    invitations::revoke(&app, &scope, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default, ToSchema)]
struct ResendBody {
    #[schema(minimum = 1, maximum = 30)]
    expires_in_days: Option<i64>,
}

/// Resend an invitation
///
/// Rotates the link (the old one stops working), restarts its validity and mails it again. The body
/// is optional.
#[utoipa::path(post, path = "/organizations/{org}/invitations/{invitation}/resend", operation_id = "resendInvitation", tag = "invitations",
    security(("api_key" = ["invitations:write"])),
    request_body(content = Option<ResendBody>, description = "Optional: `{}`, `{\"expires_in_days\": N}` or no body at all."),
    responses(
        (status = 200, description = "The invitation with its new secret `link`.", body = IssuedInvitation),
        (status = 409, description = "Already accepted (`invitation_accepted`) or revoked (`invitation_revoked`).", body = ErrorBody),
        (status = 422, description = "`expires_in_days` is not 1–30 (`validation_failed`, `details.field`).", body = ErrorBody),
    )
)]
async fn resend_invitation(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): AppPath<(OrgId, InvitationId)>,
    body: axum::body::Bytes,
) -> Result<Json<IssuedInvitation>, AppError> {
    // The body is optional: `{}`, `{"expires_in_days": N}` or nothing at all.
    let body: ResendBody = super::optional_json(&body)?;
    let days = body.expires_in_days;
    Ok(Json(invitations::resend(&app, &scope, id, days).await?))
}

#[derive(Deserialize, ToSchema)]
struct AcceptBody {
    token: String,
}

/// Accept an invitation
///
/// Joins the organization with the token from the invitation link. The signed-in user's email must
/// be the invited address (case-insensitive); accepting verifies it.
#[utoipa::path(post, path = "/invitations/accept", operation_id = "acceptInvitation", tag = "invitations",
    security(("session" = [])), request_body = AcceptBody,
    responses(
        (status = 200, description = "The organization joined.", body = Organization),
        (status = 403, description = "Also when the invitation is for another address (`invitation_email_mismatch`).", body = ErrorBody),
        (status = 404, description = "No invitation has this token (`not_found`).", body = ErrorBody),
        (status = 409, description = "Already a member (`already_member`), or no seat is left (`limit_exceeded`).", body = ErrorBody),
        (status = 410, description = "The invitation was used (`invitation_used`), revoked (`invitation_revoked`) or has expired (`invitation_expired`).", body = ErrorBody),
        (status = 422, description = "The `token` field is missing (`validation_failed`).", body = ErrorBody),
    )
)]
async fn accept_invitation(
    State(app): State<AppState>,
    who: SignedIn,
    client: ClientMeta,
    AppJson(body): AppJson<AcceptBody>,
) -> Result<Json<Organization>, AppError> {
    let org = invitations::accept(&app, &who, &client, &body.token).await?;
    let scope = authorize(&app.db, &who, &client, org, Permission::OrgRead).await?;
    Ok(Json(orgs::get(&app, &scope).await?))
}
