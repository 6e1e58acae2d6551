//! `/api/v1/organizations/{org}/api-keys` and `/usage`.
use super::caller::InOrg;
use crate::server::{
    error::{AppJson, AppPath, AppQuery},
    service::{api_keys, usage},
    state::AppState,
};
use crate::shared::{
    account::Page,
    api_keys::{ApiKey, IssuedApiKey, UsageReport},
    error::AppError,
    ids::{ApiKeyId, OrgId},
};
use axum::{
    extract::State,
    http::StatusCode,
    routing::{get, post},
    Json, Router,
};
use serde::Deserialize;

pub fn router() -> Router<crate::server::state::AppState> {
    Router::new()
        .route("/organizations/{org}/api-keys", post(create).get(list))
        .route("/organizations/{org}/api-keys/{key}", get(read).patch(update).delete(revoke))
        .route("/organizations/{org}/api-keys/{key}/roll", post(roll))
        .route("/organizations/{org}/usage", get(usage_report))
}

async fn create(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppJson(body): AppJson<api_keys::NewKey>,
) -> Result<(StatusCode, Json<IssuedApiKey>), AppError> {
    Ok((StatusCode::CREATED, Json(api_keys::create(&app, &scope, body).await?)))
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

async fn list(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppQuery(q): AppQuery<ListQuery>,
) -> Result<Json<Page<ApiKey>>, AppError> {
    Ok(Json(api_keys::list(&app, &scope, q.cursor.as_deref(), q.limit).await?))
}

async fn read(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): AppPath<(OrgId, ApiKeyId)>,
) -> Result<Json<ApiKey>, AppError> {
    Ok(Json(api_keys::get(&app, &scope, id).await?))
}

async fn update(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): AppPath<(OrgId, ApiKeyId)>,
    AppJson(patch): AppJson<api_keys::KeyPatch>,
) -> Result<Json<ApiKey>, AppError> {
    Ok(Json(api_keys::update(&app, &scope, id, patch).await?))
}

async fn revoke(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): AppPath<(OrgId, ApiKeyId)>,
) -> Result<StatusCode, AppError> {
    api_keys::revoke(&app, &scope, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RollBody {
    /// How long the old secret keeps working: 0–168 hours, 24 by default.
    grace_period_hours: Option<i64>,
}

async fn roll(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): AppPath<(OrgId, ApiKeyId)>,
    body: axum::body::Bytes,
) -> Result<Json<IssuedApiKey>, AppError> {
    let body: RollBody = super::optional_json(&body)?;
    Ok(Json(api_keys::roll(&app, &scope, id, body.grace_period_hours).await?))
}

#[derive(Deserialize)]
struct UsageQuery {
    hours: Option<i64>,
}

async fn usage_report(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppQuery(q): AppQuery<UsageQuery>,
) -> Result<Json<UsageReport>, AppError> {
    Ok(Json(usage::report(&app, &scope, q.hours).await?))
}
