//! `/api/v1/organizations/{org}/members`: list, change and remove members, transfer ownership and
//! leave. Every handler authorizes membership of the organization in the path (404 otherwise); the
//! service checks the permission.
use super::caller::InOrg;
use super::openapi::ErrorBody;
use crate::server::pagination::{PageParams, PageRequest};
use crate::server::{
    error::{AppJson, AppPath, AppQuery},
    service::members,
    state::AppState,
};
use crate::shared::{
    accounts::Page,
    error::AppError,
    ids::{OrgId, UserId},
    members::{Member, MemberRemoved},
    roles::{Permission, Role},
};
use axum::{extract::State, http::StatusCode, Json};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members))
        .routes(routes!(change_member, remove_member))
        .routes(routes!(transfer_ownership))
        .routes(routes!(leave))
}

#[derive(Deserialize)]
struct ListQuery {
    search: Option<String>,
}

/// List members
///
/// Members with their role and extra grants. `search` matches a substring of name or email.
#[utoipa::path(get, path = "/organizations/{org}/members", operation_id = "listMembers", tag = "members",
    security(("api_key" = ["members:read"])),
    params(
        ("search" = Option<String>, Query, description = "Only members whose name or email contains this text (case-insensitive)."),
        PageParams,
    ),
    responses((status = 200, description = "A page of members.", body = Page<Member>))
)]
async fn list_members(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppQuery(q): AppQuery<ListQuery>,
    page: PageRequest,
) -> Result<Json<Page<Member>>, AppError> {
    Ok(Json(members::list(&app, &scope, q.search.as_deref(), &page).await?))
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
/// answers 409 `last_owner`.
#[utoipa::path(patch, path = "/organizations/{org}/members/{user}", operation_id = "updateMember", tag = "members",
    security(("api_key" = ["members:write"])), request_body = MemberBody,
    responses(
        (status = 200, description = "The member as changed.", body = Member),
        (status = 403, description = "Also when the member or role is at or above the caller's rank (`insufficient_rank`).", body = ErrorBody),
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
/// `last_owner`.
#[utoipa::path(delete, path = "/organizations/{org}/members/{user}", operation_id = "removeMember", tag = "members",
    security(("api_key" = ["members:write"])),
    responses(
        (status = 200, description = "The member is removed; `affected_api_keys` are the keys they created here, which stopped working with the removal.", body = MemberRemoved),
        (status = 403, description = "Also when the member is at or above the caller's rank (`insufficient_rank`).", body = ErrorBody),
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
/// Makes another member an Owner and the caller an Admin, in one step. Owners only; a person, not
/// an API key.
#[utoipa::path(post, path = "/organizations/{org}/transfer-ownership", operation_id = "transferOwnership", tag = "members",
    security(("api_key" = ["ownership:transfer"])), request_body = TransferBody,
    responses(
        (status = 204, description = "Ownership is transferred."),
        (status = 403, description = "Also when an API key tries it (`not_a_person`).", body = ErrorBody),
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
/// The caller stops being a member. The last Owner cannot leave (409 `last_owner`). Any member may
/// leave; a person, not an API key.
#[utoipa::path(post, path = "/organizations/{org}/leave", operation_id = "leaveOrganization", tag = "members",
    security(("api_key" = ["org:read"])),
    responses(
        (status = 204, description = "The caller has left."),
        (status = 403, description = "Also when an API key tries it (`not_a_person`).", body = ErrorBody),
        (status = 409, description = "The caller is the last Owner (`last_owner`).", body = ErrorBody),
    )
)]
async fn leave(State(app): State<AppState>, InOrg(scope): InOrg) -> Result<StatusCode, AppError> {
    members::leave(&app, &scope).await?;
    Ok(StatusCode::NO_CONTENT)
}
