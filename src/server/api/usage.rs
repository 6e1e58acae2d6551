//! `/api/v1/organizations/{org}/usage`: metered API calls per hour and per key.
use super::{caller::InOrg, openapi::ErrorBody};
use crate::server::{error::AppQuery, service::usage, state::AppState};
use crate::shared::{error::AppError, usage::UsageReport};
use axum::{extract::State, Json};
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(usage_report))
}

#[derive(Deserialize)]
struct UsageQuery {
    hours: Option<i64>,
}

/// API usage
///
/// Calls per hour (successes, client errors, server errors) over the last `hours` hours (1–744,
/// default 24), every hour present, plus calls per key; with the tier's hourly limit to compare.
/// Counts are written every few seconds.
#[utoipa::path(get, path = "/organizations/{org}/usage", operation_id = "getUsage", tag = "usage",
    security(("api_key" = ["org:read"])),
    params(("hours" = Option<i64>, Query, minimum = 1, maximum = 744, description = "How many hours back, 1–744 (default 24).")),
    responses(
        (status = 200, description = "The usage report.", body = UsageReport),
        (status = 422, description = "`hours` is out of range (`validation_failed`).", body = ErrorBody),
    )
)]
async fn usage_report(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppQuery(q): AppQuery<UsageQuery>,
) -> Result<Json<UsageReport>, AppError> {
    Ok(Json(usage::report(&app, &scope, q.hours).await?))
}
