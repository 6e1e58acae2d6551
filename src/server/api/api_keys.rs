//! `/api/v1/organizations/{org}/api-keys`.
use super::{caller::InOrg, openapi::ErrorBody};
use crate::server::{
    error::{AppJson, AppPath},
    pagination::{PageParams, PageRequest},
    service::api_keys,
    state::AppState,
};
use crate::shared::{
    accounts::Page,
    api_keys::{ApiKey, IssuedApiKey},
    error::AppError,
    ids::{ApiKeyId, OrgId},
};
use axum::{extract::State, http::StatusCode, Json};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(read, update, revoke))
        .routes(routes!(roll))
        .routes(routes!(reassign))
}

/// Create an API key
///
/// Returns the whole key once, in `secret` (`gk_live_` + 43 base62 characters + a 6-character
/// checksum); only its hash is kept. `scopes` must be permissions the caller holds, and
/// `rate_limit_per_hour` at most the organization's tier limit.
#[utoipa::path(post, path = "/organizations/{org}/api-keys", operation_id = "createApiKey", tag = "api-keys",
    security(("api_key" = ["api_keys:write"])), request_body = api_keys::NewKey,
    responses(
        (status = 201, description = "The new key, with its secret (shown only here).", body = IssuedApiKey),
        (status = 403, description = "Also when a scope is asked for that the caller does not hold (`scope_not_held`).", body = ErrorBody),
        (status = 422, description = "A field is invalid: name, scopes, expires_at or rate_limit_per_hour (`validation_failed`, `details.field`).", body = ErrorBody),
    )
)]
async fn create(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppJson(body): AppJson<api_keys::NewKey>,
) -> Result<(StatusCode, Json<IssuedApiKey>), AppError> {
    Ok((StatusCode::CREATED, Json(api_keys::create(&app, &scope, body).await?)))
}

/// List API keys
///
/// Every key of the organization, newest first, with its status (`active`, `expired`, `revoked`),
/// usage counters and prefix; never the secret.
#[utoipa::path(get, path = "/organizations/{org}/api-keys", operation_id = "listApiKeys", tag = "api-keys",
    security(("api_key" = ["api_keys:write"])), params(PageParams),
    responses((status = 200, description = "A page of keys.", body = Page<ApiKey>))
)]
async fn list(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    page: PageRequest,
) -> Result<Json<Page<ApiKey>>, AppError> {
    Ok(Json(api_keys::list(&app, &scope, &page).await?))
}

/// Read an API key
#[utoipa::path(get, path = "/organizations/{org}/api-keys/{key}", operation_id = "getApiKey", tag = "api-keys",
    security(("api_key" = ["api_keys:write"])),
    responses((status = 200, description = "The key (without its secret).", body = ApiKey))
)]
async fn read(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): AppPath<(OrgId, ApiKeyId)>,
) -> Result<Json<ApiKey>, AppError> {
    Ok(Json(api_keys::get(&app, &scope, id).await?))
}

/// Change an API key
///
/// Name, scopes (again only ones the caller holds), expiry and the key's own limit; `null` clears
/// `expires_at` or `rate_limit_per_hour`. Takes effect on every replica within seconds.
#[utoipa::path(patch, path = "/organizations/{org}/api-keys/{key}", operation_id = "updateApiKey", tag = "api-keys",
    security(("api_key" = ["api_keys:write"])), request_body = api_keys::KeyPatch,
    responses(
        (status = 200, description = "The key as changed.", body = ApiKey),
        (status = 403, description = "Also when a scope is asked for that the caller does not hold (`scope_not_held`).", body = ErrorBody),
        (status = 410, description = "The key was revoked (`api_key_revoked`).", body = ErrorBody),
        (status = 422, description = "A field is invalid (`validation_failed`, `details.field`).", body = ErrorBody),
    )
)]
async fn update(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): AppPath<(OrgId, ApiKeyId)>,
    AppJson(patch): AppJson<api_keys::KeyPatch>,
) -> Result<Json<ApiKey>, AppError> {
    Ok(Json(api_keys::update(&app, &scope, id, patch).await?))
}

/// Revoke an API key
///
/// The key stops working at once on this server and within seconds on every other replica. It stays
/// listed as `revoked`.
#[utoipa::path(delete, path = "/organizations/{org}/api-keys/{key}", operation_id = "revokeApiKey", tag = "api-keys",
    security(("api_key" = ["api_keys:write"])),
    responses(
        (status = 204, description = "Revoked."),
        (status = 410, description = "The key was already revoked (`api_key_revoked`).", body = ErrorBody),
    )
)]
async fn revoke(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): AppPath<(OrgId, ApiKeyId)>,
) -> Result<StatusCode, AppError> {
    api_keys::revoke(&app, &scope, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct RollBody {
    /// How long the old secret keeps working: 0–168 hours, 24 by default.
    #[schema(minimum = 0, maximum = 168)]
    grace_period_hours: Option<i64>,
}

/// Roll an API key
///
/// Issues a new secret for the same key (same id, scopes and counters). The old secret keeps
/// working for `grace_period_hours` (default 24, 0 ends it at once). The body may be omitted.
#[utoipa::path(post, path = "/organizations/{org}/api-keys/{key}/roll", operation_id = "rollApiKey", tag = "api-keys",
    security(("api_key" = ["api_keys:write"])),
    request_body(content = Option<RollBody>, description = "Optional."),
    responses(
        (status = 200, description = "The key with its new secret (shown only here).", body = IssuedApiKey),
        (status = 410, description = "The key was revoked (`api_key_revoked`).", body = ErrorBody),
        (status = 422, description = "`grace_period_hours` is outside 0–168 (`validation_failed`).", body = ErrorBody),
    )
)]
async fn roll(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): AppPath<(OrgId, ApiKeyId)>,
    body: axum::body::Bytes,
) -> Result<Json<IssuedApiKey>, AppError> {
    let body: RollBody = super::optional_json(&body)?;
    Ok(Json(api_keys::roll(&app, &scope, id, body.grace_period_hours).await?))
}

/// Take over an API key
///
/// Makes the calling Owner the key's creator: from now on the key acts with their permissions
/// (within its scopes). This brings back a key whose creator left the organization
/// (`status: creator_removed`). Only a person can take a key over, and only an Owner; audited.
#[utoipa::path(post, path = "/organizations/{org}/api-keys/{key}/reassign", operation_id = "reassignApiKey", tag = "api-keys",
    security(("api_key" = ["ownership:transfer"])),
    responses(
        (status = 200, description = "The key, now created by the caller.", body = ApiKey),
        (status = 403, description = "Also when an API key tries it (`not_a_person`).", body = ErrorBody),
        (status = 410, description = "The key was revoked (`api_key_revoked`).", body = ErrorBody),
    )
)]
async fn reassign(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): AppPath<(OrgId, ApiKeyId)>,
) -> Result<Json<ApiKey>, AppError> {
    Ok(Json(api_keys::reassign(&app, &scope, id).await?))
}
