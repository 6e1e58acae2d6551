//! `/api/v1/organizations` and its members, invitations and audit log. Every handler authorizes
//! membership of the organization in the path (404 otherwise); the service checks the permission.
use super::caller::InOrg;
use super::openapi::ErrorBody;
use crate::server::pagination::PageParams;
use crate::server::{
    auth::principal::{ClientMeta, SignedIn},
    authz::{authorize, OrgScope},
    error::{AppJson, AppPath, AppQuery},
    service::{audit, invitations, logo, members, orgs},
    state::AppState,
};
use crate::shared::{
    account::Page,
    error::AppError,
    ids::{InvitationId, OrgId, UserId},
    org::{AuditEntry, ChainStatus, Invitation, IssuedInvitation, Member, MemberRemoved, OrgStats, Organization},
    roles::{Permission, Role},
};
use axum::{
    body::Body,
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use futures::StreamExt;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list_mine))
        .routes(routes!(read, update, delete))
        .routes(routes!(stats))
        .routes(routes!(upload_logo, remove_logo))
        .routes(routes!(list_members))
        .routes(routes!(change_member, remove_member))
        .routes(routes!(transfer_ownership))
        .routes(routes!(leave))
        .routes(routes!(invite, list_invitations))
        .routes(routes!(invite_deprecated))
        .routes(routes!(revoke_invitation))
        .routes(routes!(resend_invitation))
        .routes(routes!(accept_invitation))
        .routes(routes!(audit_logs))
        .routes(routes!(verify_audit))
}

#[derive(Deserialize, ToSchema)]
struct CreateBody {
    name: String,
    slug: Option<String>,
}

/// Create an organization
///
/// The signed-in user becomes its Owner. Without `slug`, one is suggested from the name.
/// Requires a signed-in session (API keys belong to one organization and cannot create others).
#[utoipa::path(
    post,
    path = "/organizations",
    operation_id = "createOrganization",
    tag = "organizations",
    security(("session" = [])),
    request_body = CreateBody,
    responses(
        (status = 201, description = "The new organization.", body = Organization),
        (status = 400, description = "The body is not valid JSON (`malformed_json`).", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB (`payload_too_large`).", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json` (`unsupported_media_type`).", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "Sent by a browser from another site (`cross_site_request`).", body = ErrorBody),
        (status = 409, description = "The slug is taken (`slug_taken`, `details.field` = `slug`).", body = ErrorBody),
        (status = 422, description = "The name or slug is invalid (`validation_failed`, `details.field`).", body = ErrorBody),
    )
)]
async fn create(
    State(app): State<AppState>,
    who: SignedIn,
    client: ClientMeta,
    AppJson(body): AppJson<CreateBody>,
) -> Result<(StatusCode, Json<Organization>), AppError> {
    let org = orgs::create(&app, &who, &client, &body.name, body.slug.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(org)))
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<i64>,
    cursor: Option<String>,
    search: Option<String>,
}

/// List my organizations
///
/// The organizations the signed-in user belongs to, with their role in each. Requires a
/// signed-in session.
#[utoipa::path(
    get,
    path = "/organizations",
    operation_id = "listOrganizations",
    tag = "organizations",
    security(("session" = [])),
    params(PageParams),
    responses(
        (status = 200, description = "A page of organizations.", body = Page<Organization>),
        (status = 401, description = "Not signed in (`unauthenticated`).", body = ErrorBody),
        (status = 422, description = "`limit` is out of range or `cursor` is not one this API returned (`validation_failed`, `details.field`).", body = ErrorBody),
    )
)]
async fn list_mine(
    State(app): State<AppState>,
    who: SignedIn,
    AppQuery(q): AppQuery<ListQuery>,
) -> Result<Json<Page<Organization>>, AppError> {
    Ok(Json(orgs::list_mine(&app, &who, q.cursor.as_deref(), q.limit).await?))
}

/// Get an organization
///
/// Requires `org:read`.
#[utoipa::path(
    get,
    path = "/organizations/{org}",
    operation_id = "getOrganization",
    tag = "organizations",
    security(("session" = []), ("api_key" = ["org:read"])),
    extensions(("x-required-permission" = json!("org:read"))),
    params(("org" = OrgId, Path, description = "The organization's id.")),
    responses(
        (status = 200, description = "The organization, with the caller's role and permissions in it.", body = Organization),
        (status = 401, description = "Not signed in, or the API key is unknown, malformed, expired or revoked (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "API access is turned off for this organization (`api_disabled`, API keys only).", body = ErrorBody),
        (status = 404, description = "No such organization, or the caller is not a member of it (`not_found`): another organization's ids answer exactly like missing ones.", body = ErrorBody),
    )
)]
async fn read(State(app): State<AppState>, InOrg(scope): InOrg) -> Result<Json<Organization>, AppError> {
    Ok(Json(orgs::get(&app, &scope).await?))
}

/// Update an organization
///
/// A partial update. Requires `org:write` for name, slug, colour and settings, and `billing:write`
/// (Owners only) for `tier`, `subscription_status`, `max_users` and `max_api_calls_per_hour`.
#[utoipa::path(
    patch,
    path = "/organizations/{org}",
    operation_id = "updateOrganization",
    tag = "organizations",
    security(("session" = []), ("api_key" = ["org:write"])),
    extensions(("x-required-permission" = json!("org:write"))),
    params(("org" = OrgId, Path, description = "The organization's id.")),
    request_body = orgs::OrgPatch,
    responses(
        (status = 200, description = "The updated organization.", body = Organization),
        (status = 400, description = "The body is not valid JSON (`malformed_json`).", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB (`payload_too_large`).", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json` (`unsupported_media_type`).", body = ErrorBody),
        (status = 401, description = "Not signed in, or the API key is unknown, malformed, expired or revoked (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "The caller lacks `org:write` (`permission_denied`); API access is turned off for this organization (`api_disabled`, API keys only); a billing field was sent without `billing:write`; or a browser sent it from another site (`cross_site_request`).", body = ErrorBody),
        (status = 404, description = "No such organization, or the caller is not a member of it (`not_found`): another organization's ids answer exactly like missing ones.", body = ErrorBody),
        (status = 409, description = "The slug is taken (`slug_taken`, `details.field` = `slug`).", body = ErrorBody),
        (status = 422, description = "A field is invalid or unknown (`validation_failed`, `details.field`).", body = ErrorBody),
    )
)]
async fn update(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppJson(patch): AppJson<orgs::OrgPatch>,
) -> Result<Json<Organization>, AppError> {
    Ok(Json(orgs::update(&app, &scope, patch).await?))
}

#[derive(Deserialize, ToSchema)]
struct DeleteBody {
    confirm: String,
}

/// Delete an organization
///
/// Removes the organization with its members and invitations; a record stays on the platform
/// audit chain. `confirm` must repeat the slug. Requires `org:delete` (Owners only).
#[utoipa::path(
    delete,
    path = "/organizations/{org}",
    operation_id = "deleteOrganization",
    tag = "organizations",
    security(("session" = []), ("api_key" = ["org:delete"])),
    extensions(("x-required-permission" = json!("org:delete"))),
    params(("org" = OrgId, Path, description = "The organization's id.")),
    request_body = DeleteBody,
    responses(
        (status = 204, description = "The organization is gone."),
        (status = 400, description = "The body is not valid JSON (`malformed_json`).", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB (`payload_too_large`).", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json` (`unsupported_media_type`).", body = ErrorBody),
        (status = 401, description = "Not signed in, or the API key is unknown, malformed, expired or revoked (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "The caller lacks `org:delete` (`permission_denied`); API access is turned off for this organization (`api_disabled`, API keys only); or a browser sent it from another site (`cross_site_request`).", body = ErrorBody),
        (status = 404, description = "No such organization, or the caller is not a member of it (`not_found`): another organization's ids answer exactly like missing ones.", body = ErrorBody),
        (status = 422, description = "`confirm` does not match the slug (`validation_failed`, `details.field` = `confirm`).", body = ErrorBody),
    )
)]
async fn delete(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppJson(body): AppJson<DeleteBody>,
) -> Result<StatusCode, AppError> {
    orgs::delete(&app, &scope, &body.confirm).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Organization statistics
///
/// Members (in all and by role), pending invitations, limits and audit events per day over the
/// last 30 days. Requires `org:read`.
#[utoipa::path(
    get,
    path = "/organizations/{org}/stats",
    operation_id = "getOrganizationStats",
    tag = "organizations",
    security(("session" = []), ("api_key" = ["org:read"])),
    extensions(("x-required-permission" = json!("org:read"))),
    params(("org" = OrgId, Path, description = "The organization's id.")),
    responses(
        (status = 200, description = "The statistics.", body = OrgStats),
        (status = 401, description = "Not signed in, or the API key is unknown, malformed, expired or revoked (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "API access is turned off for this organization (`api_disabled`, API keys only).", body = ErrorBody),
        (status = 404, description = "No such organization, or the caller is not a member of it (`not_found`): another organization's ids answer exactly like missing ones.", body = ErrorBody),
    )
)]
async fn stats(State(app): State<AppState>, InOrg(scope): InOrg) -> Result<Json<OrgStats>, AppError> {
    Ok(Json(orgs::stats(&app, &scope).await?))
}

/// Upload the logo
///
/// The body is the image itself (PNG, JPEG or WebP, at most 512 KB); it is decoded, scaled and
/// re-encoded as PNG, and served at `/logos/{org}`. Requires `org:write`.
#[utoipa::path(
    put,
    path = "/organizations/{org}/logo",
    operation_id = "uploadLogo",
    tag = "organizations",
    security(("session" = []), ("api_key" = ["org:write"])),
    extensions(("x-required-permission" = json!("org:write"))),
    params(("org" = OrgId, Path, description = "The organization's id.")),
    request_body(
        description = "The image file (PNG, JPEG or WebP, at most 512 KB).",
        content(("image/png"), ("image/jpeg"), ("image/webp"))
    ),
    responses(
        (status = 204, description = "The logo is stored."),
        (status = 401, description = "Not signed in, or the API key is unknown, malformed, expired or revoked (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "The caller lacks `org:write` (`permission_denied`); API access is turned off for this organization (`api_disabled`, API keys only); or a browser sent it from another site (`cross_site_request`).", body = ErrorBody),
        (status = 404, description = "No such organization, or the caller is not a member of it (`not_found`): another organization's ids answer exactly like missing ones.", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB (`payload_too_large`).", body = ErrorBody),
        (status = 422, description = "Not a PNG, JPEG or WebP image, too large or undecodable (`validation_failed`, `details.field` = `logo`).", body = ErrorBody),
    )
)]
async fn upload_logo(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    body: axum::body::Bytes,
) -> Result<StatusCode, AppError> {
    logo::set(&app, &scope, Some(body.to_vec())).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove the logo
///
/// Requires `org:write`.
#[utoipa::path(
    delete,
    path = "/organizations/{org}/logo",
    operation_id = "deleteLogo",
    tag = "organizations",
    security(("session" = []), ("api_key" = ["org:write"])),
    extensions(("x-required-permission" = json!("org:write"))),
    params(("org" = OrgId, Path, description = "The organization's id.")),
    responses(
        (status = 204, description = "The logo is removed (also when there was none)."),
        (status = 401, description = "Not signed in, or the API key is unknown, malformed, expired or revoked (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "The caller lacks `org:write` (`permission_denied`); API access is turned off for this organization (`api_disabled`, API keys only); or a browser sent it from another site (`cross_site_request`).", body = ErrorBody),
        (status = 404, description = "No such organization, or the caller is not a member of it (`not_found`): another organization's ids answer exactly like missing ones.", body = ErrorBody),
    )
)]
async fn remove_logo(State(app): State<AppState>, InOrg(scope): InOrg) -> Result<StatusCode, AppError> {
    logo::set(&app, &scope, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List members
///
/// Members with their role and extra grants. `search` matches a substring of name or email.
/// Requires `members:read`.
#[utoipa::path(
    get,
    path = "/organizations/{org}/members",
    operation_id = "listMembers",
    tag = "members",
    security(("session" = []), ("api_key" = ["members:read"])),
    extensions(("x-required-permission" = json!("members:read"))),
    params(
        ("org" = OrgId, Path, description = "The organization's id."),
        ("search" = Option<String>, Query, description = "Only members whose name or email contains this text (case-insensitive)."),
        PageParams
    ),
    responses(
        (status = 200, description = "A page of members.", body = Page<Member>),
        (status = 401, description = "Not signed in, or the API key is unknown, malformed, expired or revoked (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "The caller lacks `members:read` (`permission_denied`); API access is turned off for this organization (`api_disabled`, API keys only).", body = ErrorBody),
        (status = 404, description = "No such organization, or the caller is not a member of it (`not_found`): another organization's ids answer exactly like missing ones.", body = ErrorBody),
        (status = 422, description = "`limit` is out of range or `cursor` is not one this API returned (`validation_failed`, `details.field`).", body = ErrorBody),
    )
)]
async fn list_members(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppQuery(q): AppQuery<ListQuery>,
) -> Result<Json<Page<Member>>, AppError> {
    Ok(Json(members::list(&app, &scope, q.search.as_deref(), q.cursor.as_deref(), q.limit).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MemberBody {
    role: Option<Role>,
    permissions: Option<Vec<Permission>>,
}

/// Change a member's role or grants
///
/// Only an Owner changes a member at or above their own role or assigns such a role; extra grants
/// can only be permissions the caller holds, never the owner-only ones. Demoting the last Owner
/// answers 409 `last_owner`. Requires `members:write`.
#[utoipa::path(
    patch,
    path = "/organizations/{org}/members/{user}",
    operation_id = "updateMember",
    tag = "members",
    security(("session" = []), ("api_key" = ["members:write"])),
    extensions(("x-required-permission" = json!("members:write"))),
    params(("org" = OrgId, Path, description = "The organization's id."), ("user" = UserId, Path, description = "The member's user id.")),
    request_body = MemberBody,
    responses(
        (status = 200, description = "The member as changed.", body = Member),
        (status = 400, description = "The body is not valid JSON (`malformed_json`).", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB (`payload_too_large`).", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json` (`unsupported_media_type`).", body = ErrorBody),
        (status = 401, description = "Not signed in, or the API key is unknown, malformed, expired or revoked (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "The caller lacks `members:write` (`permission_denied`); API access is turned off for this organization (`api_disabled`, API keys only); the member or role is at or above the caller's rank (`insufficient_rank`); or a browser sent it from another site (`cross_site_request`).", body = ErrorBody),
        (status = 404, description = "No such organization or member, or the caller is not a member (`not_found`).", body = ErrorBody),
        (status = 409, description = "The organization would lose its last Owner (`last_owner`), or the caller's own role changed meanwhile (`role_changed`).", body = ErrorBody),
        (status = 422, description = "An unknown role or permission, or a grant the caller may not give (`validation_failed`, `details.field`).", body = ErrorBody),
    )
)]
async fn change_member(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, user)): AppPath<(OrgId, UserId)>,
    AppJson(body): AppJson<MemberBody>,
) -> Result<Json<Member>, AppError> {
    Ok(Json(members::change(&app, &scope, user, body.role, body.permissions).await?))
}

/// Remove a member
///
/// Only an Owner removes a member at or above their own role; removing the last Owner answers 409
/// `last_owner`. Requires `members:write`.
#[utoipa::path(
    delete,
    path = "/organizations/{org}/members/{user}",
    operation_id = "removeMember",
    tag = "members",
    security(("session" = []), ("api_key" = ["members:write"])),
    extensions(("x-required-permission" = json!("members:write"))),
    params(("org" = OrgId, Path, description = "The organization's id."), ("user" = UserId, Path, description = "The member's user id.")),
    responses(
        (status = 200, description = "The member is removed; `affected_api_keys` are the keys they created here, which stopped working with the removal.", body = MemberRemoved),
        (status = 401, description = "Not signed in, or the API key is unknown, malformed, expired or revoked (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "The caller lacks `members:write` (`permission_denied`); API access is turned off for this organization (`api_disabled`, API keys only); the member is at or above the caller's rank (`insufficient_rank`); or a browser sent it from another site (`cross_site_request`).", body = ErrorBody),
        (status = 404, description = "No such organization or member, or the caller is not a member (`not_found`).", body = ErrorBody),
        (status = 409, description = "The organization would lose its last Owner (`last_owner`), or the caller's own role changed meanwhile (`role_changed`).", body = ErrorBody),
    )
)]
async fn remove_member(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, user)): AppPath<(OrgId, UserId)>,
) -> Result<Json<MemberRemoved>, AppError> {
    Ok(Json(members::remove(&app, &scope, user).await?))
}

#[derive(Deserialize, ToSchema)]
struct TransferBody {
    user_id: UserId,
}

/// Transfer ownership
///
/// Makes another member an Owner and the caller an Admin, in one step.
/// Requires `ownership:transfer` (Owners only; a person, not an API key).
#[utoipa::path(
    post,
    path = "/organizations/{org}/transfer-ownership",
    operation_id = "transferOwnership",
    tag = "members",
    security(("session" = []), ("api_key" = ["ownership:transfer"])),
    extensions(("x-required-permission" = json!("ownership:transfer"))),
    params(("org" = OrgId, Path, description = "The organization's id.")),
    request_body = TransferBody,
    responses(
        (status = 204, description = "Ownership is transferred."),
        (status = 400, description = "The body is not valid JSON (`malformed_json`).", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB (`payload_too_large`).", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json` (`unsupported_media_type`).", body = ErrorBody),
        (status = 401, description = "Not signed in, or the API key is unknown, malformed, expired or revoked (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "The caller lacks `ownership:transfer` (`permission_denied`); API access is turned off for this organization (`api_disabled`, API keys only); an API key tried it (`not_a_person`); or a browser sent it from another site (`cross_site_request`).", body = ErrorBody),
        (status = 404, description = "No such organization, or the caller is not a member of it (`not_found`): another organization's ids answer exactly like missing ones.", body = ErrorBody),
        (status = 422, description = "`user_id` is missing or not another member (`validation_failed`, `details.field` = `user_id`).", body = ErrorBody),
    )
)]
async fn transfer_ownership(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppJson(body): AppJson<TransferBody>,
) -> Result<StatusCode, AppError> {
    members::transfer_ownership(&app, &scope, body.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Leave the organization
///
/// The caller stops being a member. The last Owner cannot leave (409 `last_owner`).
/// Requires `org:read` (any member; a person, not an API key).
#[utoipa::path(
    post,
    path = "/organizations/{org}/leave",
    operation_id = "leaveOrganization",
    tag = "members",
    security(("session" = []), ("api_key" = ["org:read"])),
    extensions(("x-required-permission" = json!("org:read"))),
    params(("org" = OrgId, Path, description = "The organization's id.")),
    responses(
        (status = 204, description = "The caller has left."),
        (status = 401, description = "Not signed in, or the API key is unknown, malformed, expired or revoked (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "An API key tried it (`not_a_person`); API access is turned off for this organization (`api_disabled`, API keys only); or a browser sent it from another site (`cross_site_request`).", body = ErrorBody),
        (status = 404, description = "No such organization, or the caller is not a member of it (`not_found`): another organization's ids answer exactly like missing ones.", body = ErrorBody),
        (status = 409, description = "The caller is the last Owner (`last_owner`).", body = ErrorBody),
    )
)]
async fn leave(State(app): State<AppState>, InOrg(scope): InOrg) -> Result<StatusCode, AppError> {
    members::leave(&app, &scope).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct InviteBody {
    email: String,
    role: Option<Role>,
    expires_in_days: Option<i64>,
}

/// Invite someone
///
/// Mails a single-use link to join with `role` (default `member`), valid `expires_in_days` (1–30,
/// default 7). The answer carries the `link`, shown only here. Members plus open invitations never
/// exceed `max_users`. Requires `invitations:write`.
#[utoipa::path(
    post,
    path = "/organizations/{org}/invitations",
    operation_id = "createInvitation",
    tag = "invitations",
    security(("session" = []), ("api_key" = ["invitations:write"])),
    extensions(("x-required-permission" = json!("invitations:write"))),
    params(("org" = OrgId, Path, description = "The organization's id.")),
    request_body = InviteBody,
    responses(
        (status = 201, description = "The invitation, with its secret `link`.", body = IssuedInvitation),
        (status = 400, description = "The body is not valid JSON (`malformed_json`).", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB (`payload_too_large`).", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json` (`unsupported_media_type`).", body = ErrorBody),
        (status = 401, description = "Not signed in, or the API key is unknown, malformed, expired or revoked (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "The caller lacks `invitations:write` (`permission_denied`); API access is turned off for this organization (`api_disabled`, API keys only); the role is above what the caller may assign (`insufficient_rank`); or a browser sent it from another site (`cross_site_request`).", body = ErrorBody),
        (status = 404, description = "No such organization, or the caller is not a member of it (`not_found`): another organization's ids answer exactly like missing ones.", body = ErrorBody),
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
/// `POST /organizations/{org}/invitations` instead. Requires `invitations:write`.
#[utoipa::path(
    post,
    path = "/organizations/{org}/invite",
    operation_id = "createInvitationDeprecated",
    tag = "invitations",
    security(("session" = []), ("api_key" = ["invitations:write"])),
    extensions(("x-required-permission" = json!("invitations:write"))),
    params(("org" = OrgId, Path, description = "The organization's id.")),
    request_body = InviteBody,
    responses(
        (status = 201, description = "The invitation, with its secret `link` (as `createInvitation`).", body = IssuedInvitation),
        (status = 400, description = "The body is not valid JSON (`malformed_json`).", body = ErrorBody),
        (status = 401, description = "Not signed in, or the API key is not valid (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "As `createInvitation` (`permission_denied`, `api_disabled`, `insufficient_rank`).", body = ErrorBody),
        (status = 404, description = "No such organization, or the caller is not a member of it (`not_found`).", body = ErrorBody),
        (status = 409, description = "As `createInvitation` (`already_member`, `invitation_pending`, `limit_exceeded`).", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json` (`unsupported_media_type`).", body = ErrorBody),
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
/// Requires `invitations:write`.
#[utoipa::path(
    get,
    path = "/organizations/{org}/invitations",
    operation_id = "listInvitations",
    tag = "invitations",
    security(("session" = []), ("api_key" = ["invitations:write"])),
    extensions(("x-required-permission" = json!("invitations:write"))),
    params(("org" = OrgId, Path, description = "The organization's id."), PageParams),
    responses(
        (status = 200, description = "A page of invitations.", body = Page<Invitation>),
        (status = 401, description = "Not signed in, or the API key is unknown, malformed, expired or revoked (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "The caller lacks `invitations:write` (`permission_denied`); API access is turned off for this organization (`api_disabled`, API keys only).", body = ErrorBody),
        (status = 404, description = "No such organization, or the caller is not a member of it (`not_found`): another organization's ids answer exactly like missing ones.", body = ErrorBody),
        (status = 422, description = "`limit` is out of range or `cursor` is not one this API returned (`validation_failed`, `details.field`).", body = ErrorBody),
    )
)]
async fn list_invitations(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppQuery(q): AppQuery<ListQuery>,
) -> Result<Json<Page<Invitation>>, AppError> {
    Ok(Json(invitations::list(&app, &scope, q.cursor.as_deref(), q.limit).await?))
}

/// Revoke an invitation
///
/// The link stops working (410 for whoever opens it). Requires `invitations:write`.
#[utoipa::path(
    delete,
    path = "/organizations/{org}/invitations/{invitation}",
    operation_id = "revokeInvitation",
    tag = "invitations",
    security(("session" = []), ("api_key" = ["invitations:write"])),
    extensions(("x-required-permission" = json!("invitations:write"))),
    params(("org" = OrgId, Path, description = "The organization's id."), ("invitation" = InvitationId, Path, description = "The invitation's id.")),
    responses(
        (status = 204, description = "The invitation is revoked."),
        (status = 401, description = "Not signed in, or the API key is unknown, malformed, expired or revoked (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "The caller lacks `invitations:write` (`permission_denied`); API access is turned off for this organization (`api_disabled`, API keys only); or a browser sent it from another site (`cross_site_request`).", body = ErrorBody),
        (status = 404, description = "No such organization or invitation, or the caller is not a member (`not_found`).", body = ErrorBody),
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
    expires_in_days: Option<i64>,
}

/// Resend an invitation
///
/// Rotates the link (the old one stops working), restarts its validity and mails it again. The
/// body is optional. Requires `invitations:write`.
#[utoipa::path(
    post,
    path = "/organizations/{org}/invitations/{invitation}/resend",
    operation_id = "resendInvitation",
    tag = "invitations",
    security(("session" = []), ("api_key" = ["invitations:write"])),
    extensions(("x-required-permission" = json!("invitations:write"))),
    params(("org" = OrgId, Path, description = "The organization's id."), ("invitation" = InvitationId, Path, description = "The invitation's id.")),
    request_body(content = Option<ResendBody>, description = "Optional: `{}`, `{\"expires_in_days\": N}` or no body at all."),
    responses(
        (status = 200, description = "The invitation with its new secret `link`.", body = IssuedInvitation),
        (status = 400, description = "The body is not valid JSON (`malformed_json`).", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB (`payload_too_large`).", body = ErrorBody),
        (status = 401, description = "Not signed in, or the API key is unknown, malformed, expired or revoked (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "The caller lacks `invitations:write` (`permission_denied`); API access is turned off for this organization (`api_disabled`, API keys only); or a browser sent it from another site (`cross_site_request`).", body = ErrorBody),
        (status = 404, description = "No such organization or invitation, or the caller is not a member (`not_found`).", body = ErrorBody),
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
/// Joins the organization with the token from the invitation link. The signed-in user's email
/// must be the invited address (case-insensitive); accepting verifies it. Requires a signed-in
/// session (API keys are not accepted).
#[utoipa::path(
    post,
    path = "/invitations/accept",
    operation_id = "acceptInvitation",
    tag = "invitations",
    security(("session" = [])),
    request_body = AcceptBody,
    responses(
        (status = 200, description = "The organization joined.", body = Organization),
        (status = 400, description = "The body is not valid JSON (`malformed_json`).", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB (`payload_too_large`).", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json` (`unsupported_media_type`).", body = ErrorBody),
        (status = 401, description = "Not signed in (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "The invitation is for another address (`invitation_email_mismatch`), or a browser sent it from another site (`cross_site_request`).", body = ErrorBody),
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// Only entries by this actor (its `actor_id`, e.g. a user id).
    actor: Option<String>,
    /// Only this action, e.g. `member.role_changed`.
    action: Option<String>,
    /// Only entries about this kind of resource, e.g. `member`.
    resource_type: Option<String>,
    /// Only entries about this resource id.
    resource_id: Option<String>,
    /// Only entries at or after this time (RFC 3339).
    from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only entries before this time (RFC 3339).
    to: Option<chrono::DateTime<chrono::Utc>>,
    /// The `next_cursor` of the previous page; omit it for the first page.
    cursor: Option<String>,
    /// How many entries to return, 1–200 (default 50). Ignored for CSV, which streams everything.
    #[param(minimum = 1, maximum = 200, default = 50)]
    limit: Option<i64>,
    /// `json` (default) or `csv` (every matching entry as a streamed download).
    #[param(pattern = "^(json|csv)$")]
    format: Option<String>,
}

/// List audit log entries
///
/// The organization's audit log, newest first, filtered by the query. With `format=csv` every
/// matching entry is streamed as a CSV download. Requires `audit:read`.
#[utoipa::path(
    get,
    path = "/organizations/{org}/audit-logs",
    operation_id = "listAuditLogs",
    tag = "audit",
    security(("session" = []), ("api_key" = ["audit:read"])),
    extensions(("x-required-permission" = json!("audit:read"))),
    params(("org" = OrgId, Path, description = "The organization's id."), AuditQuery),
    responses(
        (status = 200, description = "A page of entries (JSON), or all matching entries (CSV).", content(
            (Page<AuditEntry> = "application/json"),
            (String = "text/csv")
        )),
        (status = 401, description = "Not signed in, or the API key is unknown, malformed, expired or revoked (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "The caller lacks `audit:read` (`permission_denied`); API access is turned off for this organization (`api_disabled`, API keys only).", body = ErrorBody),
        (status = 404, description = "No such organization, or the caller is not a member of it (`not_found`): another organization's ids answer exactly like missing ones.", body = ErrorBody),
        (status = 422, description = "A query parameter is invalid, e.g. `format`, `from`, `limit` or `cursor` (`validation_failed`, `details.field`).", body = ErrorBody),
    )
)]
async fn audit_logs(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppQuery(q): AppQuery<AuditQuery>,
) -> Result<Response, AppError> {
    let query = audit::Query {
        actor: q.actor,
        action: q.action,
        resource_type: q.resource_type,
        resource_id: q.resource_id,
        from: q.from,
        to: q.to,
        cursor: q.cursor,
        limit: q.limit,
    };
    match q.format.as_deref() {
        None | Some("json") => {
            Ok(Json::<Page<AuditEntry>>(audit::list(app.db.pool(), &scope, &query).await?).into_response())
        }
        Some("csv") => csv_download(app, scope, query).await,
        Some(_) => Err(AppError::invalid_field("format", "Use json or csv.")),
    }
}

const CSV_PAGE: i64 = crate::server::pagination::MAX_LIMIT;

/// Streams every matching row as CSV, a page at a time, so a large log never sits in memory.
async fn csv_download(app: AppState, scope: OrgScope, query: audit::Query) -> Result<Response, AppError> {
    let first = audit::list(app.db.pool(), &scope, &audit::Query { limit: Some(CSV_PAGE), ..query.clone() }).await?;
    let state = Some((first, true));
    let stream = futures::stream::unfold(state, move |state| {
        let (app, scope, query) = (app.clone(), scope.clone(), query.clone());
        async move {
            let (page, header) = state?;
            let chunk = audit::csv_lines(&page.data, header);
            let next = match page.next_cursor {
                Some(cursor) => match audit::list(
                    app.db.pool(),
                    &scope,
                    &audit::Query { cursor: Some(cursor), limit: Some(CSV_PAGE), ..query },
                )
                .await
                {
                    Ok(next) => Some((next, false)),
                    Err(e) => return Some((Err(std::io::Error::other(e.message)), None)),
                },
                None => None,
            };
            Some((Ok::<_, std::io::Error>(chunk), next))
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"audit-log.csv\""),
        ],
        // Fused: the compression layer may poll again after the end, which `unfold` forbids.
        Body::from_stream(stream.fuse()),
    )
        .into_response())
}

/// Verify the audit log's hash chain
///
/// Recomputes every entry's hash: an edited, deleted or reordered row is reported as the first
/// broken one. Requires `audit:read`.
#[utoipa::path(
    get,
    path = "/organizations/{org}/audit-logs/verify",
    operation_id = "verifyAuditLog",
    tag = "audit",
    security(("session" = []), ("api_key" = ["audit:read"])),
    extensions(("x-required-permission" = json!("audit:read"))),
    params(("org" = OrgId, Path, description = "The organization's id.")),
    responses(
        (status = 200, description = "The chain's status.", body = ChainStatus),
        (status = 401, description = "Not signed in, or the API key is unknown, malformed, expired or revoked (`unauthenticated`).", body = ErrorBody),
        (status = 403, description = "The caller lacks `audit:read` (`permission_denied`); API access is turned off for this organization (`api_disabled`, API keys only).", body = ErrorBody),
        (status = 404, description = "No such organization, or the caller is not a member of it (`not_found`): another organization's ids answer exactly like missing ones.", body = ErrorBody),
    )
)]
async fn verify_audit(State(app): State<AppState>, InOrg(scope): InOrg) -> Result<Json<ChainStatus>, AppError> {
    Ok(Json(audit::verify(app.db.pool(), &scope).await?))
}
