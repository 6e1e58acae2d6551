//! `/api/v1/organizations`: create, list, read, update and delete organizations, their statistics
//! and logo. Every handler in an organization authorizes membership of the organization in the
//! path (404 otherwise); the service checks the permission.
use super::caller::InOrg;
use super::openapi::ErrorBody;
use crate::server::pagination::{PageParams, PageRequest};
use crate::server::{
    auth::principal::{ClientMeta, SignedIn},
    error::AppJson,
    service::{logo, orgs},
    state::AppState,
};
use crate::shared::{
    accounts::Page,
    error::AppError,
    orgs::{OrgStats, Organization},
};
use axum::{extract::State, http::StatusCode, Json};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list_mine))
        .routes(routes!(read, update, delete))
        .routes(routes!(stats))
        .routes(routes!(upload_logo, remove_logo))
}

#[derive(Deserialize, ToSchema)]
struct CreateBody {
    name: String,
    slug: Option<String>,
}

/// Create an organization
///
/// The signed-in user becomes its Owner. Without `slug`, one is suggested from the name. API keys
/// belong to one organization and cannot create others.
#[utoipa::path(post, path = "/organizations", operation_id = "createOrganization", tag = "organizations",
    security(("session" = [])), request_body = CreateBody,
    responses(
        (status = 201, description = "The new organization.", body = Organization),
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

/// List my organizations
///
/// The organizations the signed-in user belongs to, with their role in each.
#[utoipa::path(get, path = "/organizations", operation_id = "listOrganizations", tag = "organizations",
    security(("session" = [])), params(PageParams),
    responses((status = 200, description = "A page of organizations.", body = Page<Organization>))
)]
async fn list_mine(
    State(app): State<AppState>,
    who: SignedIn,
    page: PageRequest,
) -> Result<Json<Page<Organization>>, AppError> {
    Ok(Json(orgs::list_mine(&app, &who, &page).await?))
}

/// Get an organization
#[utoipa::path(get, path = "/organizations/{org}", operation_id = "getOrganization", tag = "organizations",
    security(("api_key" = ["org:read"])),
    responses(
        (status = 200, description = "The organization, with the caller's role and permissions in it.", body = Organization),
    )
)]
async fn read(State(app): State<AppState>, InOrg(scope): InOrg) -> Result<Json<Organization>, AppError> {
    Ok(Json(orgs::get(&app, &scope).await?))
}

/// Update an organization
///
/// A partial update. `tier`, `subscription_status`, `max_users` and `max_api_calls_per_hour` also
/// need `billing:write` (Owners only).
#[utoipa::path(patch, path = "/organizations/{org}", operation_id = "updateOrganization", tag = "organizations",
    security(("api_key" = ["org:write"])), request_body = orgs::OrgPatch,
    responses(
        (status = 200, description = "The updated organization.", body = Organization),
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
/// Removes the organization with its members and invitations; a record stays on the platform audit
/// chain. `confirm` must repeat the slug. Owners only.
#[utoipa::path(delete, path = "/organizations/{org}", operation_id = "deleteOrganization", tag = "organizations",
    security(("api_key" = ["org:delete"])), request_body = DeleteBody,
    responses(
        (status = 204, description = "The organization is gone."),
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
/// Members (in all and by role), pending invitations, limits and audit events per day over the last
/// 30 days.
#[utoipa::path(get, path = "/organizations/{org}/stats", operation_id = "getOrganizationStats", tag = "organizations",
    security(("api_key" = ["org:read"])),
    responses((status = 200, description = "The statistics.", body = OrgStats))
)]
async fn stats(State(app): State<AppState>, InOrg(scope): InOrg) -> Result<Json<OrgStats>, AppError> {
    Ok(Json(orgs::stats(&app, &scope).await?))
}

/// Upload the logo
///
/// The body is the image itself (PNG, JPEG or WebP, at most 512 KB); it is decoded, scaled and
/// re-encoded as PNG, and served at `/logos/{org}`.
#[utoipa::path(put, path = "/organizations/{org}/logo", operation_id = "uploadLogo", tag = "organizations",
    security(("api_key" = ["org:write"])),
    request_body(
        description = "The image file (PNG, JPEG or WebP, at most 512 KB).",
        content(("image/png"), ("image/jpeg"), ("image/webp"))
    ),
    responses(
        (status = 204, description = "The logo is stored."),
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
#[utoipa::path(delete, path = "/organizations/{org}/logo", operation_id = "deleteLogo", tag = "organizations",
    security(("api_key" = ["org:write"])),
    responses((status = 204, description = "The logo is removed (also when there was none)."))
)]
async fn remove_logo(State(app): State<AppState>, InOrg(scope): InOrg) -> Result<StatusCode, AppError> {
    logo::set(&app, &scope, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
