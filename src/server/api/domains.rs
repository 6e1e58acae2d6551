//! `/api/v1/organizations/{org}/domains`: claim an email domain, verify it by DNS, list, remove.
use super::{caller::InOrg, openapi::ErrorBody};
use crate::server::{
    error::{AppJson, AppPath},
    pagination::{PageParams, PageRequest},
    service::domains,
    state::AppState,
};
use crate::shared::{
    accounts::Page,
    domains::Domain,
    error::AppError,
    ids::{DomainId, OrgId},
};
use axum::{extract::State, http::StatusCode, Json};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create, list)).routes(routes!(read, update, remove)).routes(routes!(verify))
}

type DomainPath = AppPath<(OrgId, DomainId)>;

/// Add an email domain
///
/// The answer names the TXT record to publish on the domain (`gatehouse-verification=<token>`);
/// then ask for verification.
#[utoipa::path(post, path = "/organizations/{org}/domains", operation_id = "createDomain", tag = "domains",
    security(("api_key" = ["sso:write"])), request_body = domains::NewDomain,
    responses(
        (status = 201, description = "The domain, pending, with the record to publish.", body = Domain),
        (status = 409, description = "This organization has already added the domain (`domain_claimed`).", body = ErrorBody),
        (status = 422, description = "Not an email domain (`validation_failed`, `details.field`).", body = ErrorBody),
    )
)]
async fn create(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppJson(body): AppJson<domains::NewDomain>,
) -> Result<(StatusCode, Json<Domain>), AppError> {
    Ok((StatusCode::CREATED, Json(domains::create(&app, &scope, body).await?)))
}

/// List email domains
///
/// Newest first.
#[utoipa::path(get, path = "/organizations/{org}/domains", operation_id = "listDomains", tag = "domains",
    security(("api_key" = ["sso:write"])), params(PageParams),
    responses((status = 200, description = "A page of domains.", body = Page<Domain>))
)]
async fn list(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    page: PageRequest,
) -> Result<Json<Page<Domain>>, AppError> {
    Ok(Json(domains::list(&app, &scope, &page).await?))
}

/// Read an email domain
#[utoipa::path(get, path = "/organizations/{org}/domains/{domain}", operation_id = "getDomain", tag = "domains",
    security(("api_key" = ["sso:write"])),
    responses((status = 200, description = "The domain.", body = Domain))
)]
async fn read(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): DomainPath,
) -> Result<Json<Domain>, AppError> {
    Ok(Json(domains::get(&app, &scope, id).await?))
}

/// Route an email domain's sign-ins
///
/// `connection_id` picks the SSO connection `/sso/start?email=` uses for addresses at this domain;
/// `require_sso` refuses their password sign-ins (needs a verified domain and a connection; owners
/// keep an audited break-glass path).
#[utoipa::path(patch, path = "/organizations/{org}/domains/{domain}", operation_id = "updateDomain", tag = "domains",
    security(("api_key" = ["sso:write"])), request_body = domains::DomainPatch,
    responses(
        (status = 200, description = "The domain.", body = Domain),
        (status = 422, description = "Not verified, no connection, or a connection of another organization (`validation_failed`, `details.field`).", body = ErrorBody),
    )
)]
async fn update(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): DomainPath,
    AppJson(body): AppJson<domains::DomainPatch>,
) -> Result<Json<Domain>, AppError> {
    Ok(Json(domains::update(&app, &scope, id, body).await?))
}

/// Remove an email domain
#[utoipa::path(delete, path = "/organizations/{org}/domains/{domain}", operation_id = "deleteDomain", tag = "domains",
    security(("api_key" = ["sso:write"])),
    responses((status = 204, description = "Removed."))
)]
async fn remove(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): DomainPath,
) -> Result<StatusCode, AppError> {
    domains::remove(&app, &scope, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Verify an email domain
///
/// Looks up the domain's TXT records now.
#[utoipa::path(post, path = "/organizations/{org}/domains/{domain}/verify", operation_id = "verifyDomain", tag = "domains",
    security(("api_key" = ["sso:write"])),
    responses(
        (status = 200, description = "Verified (or it already was).", body = Domain),
        (status = 409, description = "Another organization verified this domain first (`domain_taken`).", body = ErrorBody),
        (status = 422, description = "The record was not found; the message says what DNS answered (`domain_not_verified`).", body = ErrorBody),
    )
)]
async fn verify(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): DomainPath,
) -> Result<Json<Domain>, AppError> {
    Ok(Json(domains::verify(&app, &scope, id).await?))
}
