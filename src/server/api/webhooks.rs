//! `/api/v1/organizations/{org}/webhooks` (endpoints, test events, secret rotation, delivery log,
//! retries) and the public event catalogue `/api/v1/webhook-event-types`.
use super::{caller::InOrg, openapi::ErrorBody};
use crate::server::{
    error::{AppJson, AppPath, AppQuery},
    pagination::{PageParams, PageRequest},
    service::webhooks::{catalogue, endpoints as webhooks},
    state::AppState,
};
use crate::shared::{
    accounts::Page,
    error::AppError,
    ids::{DeliveryId, OrgId, WebhookId},
    webhooks::{Delivery, DeliveryDetail, EventType, IssuedWebhook, RotatedSecret, Webhook},
};
use axum::{extract::State, http::StatusCode, Json};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(read, update, remove))
        .routes(routes!(send_test))
        .routes(routes!(rotate_secret))
        .routes(routes!(deliveries))
        .routes(routes!(delivery))
        .routes(routes!(retry))
        .routes(routes!(event_types))
}

type WebhookPath = AppPath<(OrgId, WebhookId)>;
type DeliveryPath = AppPath<(OrgId, WebhookId, DeliveryId)>;

/// Create a webhook endpoint
///
/// Returns the endpoint with its signing secret (`whsec_...`), shown only here. The URL must be
/// https (unless the operator allows http) and may not point at a private, loopback or metadata
/// address; names are checked again each time Gatehouse connects.
#[utoipa::path(post, path = "/organizations/{org}/webhooks", operation_id = "createWebhook", tag = "webhooks",
    security(("api_key" = ["webhooks:write"])), request_body = webhooks::NewWebhook,
    responses(
        (status = 201, description = "The new endpoint, with its secret (shown only here).", body = IssuedWebhook),
        (status = 422, description = "A field is invalid: url, description or events (`validation_failed`, `details.field`).", body = ErrorBody),
    )
)]
async fn create(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppJson(body): AppJson<webhooks::NewWebhook>,
) -> Result<(StatusCode, Json<IssuedWebhook>), AppError> {
    Ok((StatusCode::CREATED, Json(webhooks::create(&app, &scope, body).await?)))
}

/// List webhook endpoints
///
/// Newest first, with delivery counters; never the secret.
#[utoipa::path(get, path = "/organizations/{org}/webhooks", operation_id = "listWebhooks", tag = "webhooks",
    security(("api_key" = ["webhooks:write"])), params(PageParams),
    responses((status = 200, description = "A page of endpoints.", body = Page<Webhook>))
)]
async fn list(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    page: PageRequest,
) -> Result<Json<Page<Webhook>>, AppError> {
    Ok(Json(webhooks::list(&app, &scope, &page).await?))
}

/// Read a webhook endpoint
#[utoipa::path(get, path = "/organizations/{org}/webhooks/{webhook}", operation_id = "getWebhook", tag = "webhooks",
    security(("api_key" = ["webhooks:write"])),
    responses((status = 200, description = "The endpoint (without its secret).", body = Webhook))
)]
async fn read(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): WebhookPath,
) -> Result<Json<Webhook>, AppError> {
    Ok(Json(webhooks::get(&app, &scope, id).await?))
}

/// Change a webhook endpoint
///
/// URL, description, events, and `active` (turning an endpoint on again clears why Gatehouse
/// disabled it).
#[utoipa::path(patch, path = "/organizations/{org}/webhooks/{webhook}", operation_id = "updateWebhook", tag = "webhooks",
    security(("api_key" = ["webhooks:write"])), request_body = webhooks::WebhookPatch,
    responses(
        (status = 200, description = "The endpoint as changed.", body = Webhook),
        (status = 422, description = "A field is invalid (`validation_failed`, `details.field`).", body = ErrorBody),
    )
)]
async fn update(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): WebhookPath,
    AppJson(patch): AppJson<webhooks::WebhookPatch>,
) -> Result<Json<Webhook>, AppError> {
    Ok(Json(webhooks::update(&app, &scope, id, patch).await?))
}

/// Delete a webhook endpoint
///
/// Nothing more is sent to it; its delivery log goes with it.
#[utoipa::path(delete, path = "/organizations/{org}/webhooks/{webhook}", operation_id = "deleteWebhook", tag = "webhooks",
    security(("api_key" = ["webhooks:write"])),
    responses((status = 204, description = "Deleted."))
)]
async fn remove(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): WebhookPath,
) -> Result<StatusCode, AppError> {
    webhooks::delete(&app, &scope, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a test event
///
/// Queues a `ping` event to this endpoint only, whatever it subscribes to, and returns the
/// delivery; follow it in the delivery log.
#[utoipa::path(post, path = "/organizations/{org}/webhooks/{webhook}/test", operation_id = "testWebhook", tag = "webhooks",
    security(("api_key" = ["webhooks:write"])),
    responses(
        (status = 202, description = "The queued delivery.", body = Delivery),
        (status = 409, description = "The endpoint is disabled (`webhook_disabled`).", body = ErrorBody),
    )
)]
async fn send_test(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): WebhookPath,
) -> Result<(StatusCode, Json<Delivery>), AppError> {
    Ok((StatusCode::ACCEPTED, Json(webhooks::send_test(&app, &scope, id).await?)))
}

/// Rotate the signing secret
///
/// Returns the new secret once. For 24 hours every delivery carries signatures by both the new and
/// the previous secret (space-separated in `webhook-signature`), so receivers can switch without
/// dropping events.
#[utoipa::path(post, path = "/organizations/{org}/webhooks/{webhook}/rotate-secret", operation_id = "rotateWebhookSecret", tag = "webhooks",
    security(("api_key" = ["webhooks:write"])),
    responses((status = 200, description = "The new secret (shown only here).", body = RotatedSecret))
)]
async fn rotate_secret(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): WebhookPath,
) -> Result<Json<RotatedSecret>, AppError> {
    Ok(Json(webhooks::rotate_secret(&app, &scope, id).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeliveryQuery {
    /// `pending`, `succeeded` or `failed`.
    status: Option<String>,
    /// One event type, e.g. `member.added`.
    event_type: Option<String>,
    #[param(ignore)]
    limit: Option<i64>,
    #[param(ignore)]
    cursor: Option<String>,
}

/// List deliveries
///
/// Newest first, optionally only one status or event type.
#[utoipa::path(get, path = "/organizations/{org}/webhooks/{webhook}/deliveries", operation_id = "listWebhookDeliveries", tag = "webhooks",
    security(("api_key" = ["webhooks:write"])), params(DeliveryQuery, PageParams),
    responses(
        (status = 200, description = "A page of deliveries.", body = Page<Delivery>),
        (status = 422, description = "Or a filter is invalid (`validation_failed`, `details.field`).", body = ErrorBody),
    )
)]
async fn deliveries(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id)): WebhookPath,
    AppQuery(q): AppQuery<DeliveryQuery>,
) -> Result<Json<Page<Delivery>>, AppError> {
    let query =
        webhooks::DeliveryQuery { status: q.status, event_type: q.event_type, cursor: q.cursor, limit: q.limit };
    Ok(Json(webhooks::deliveries(&app, &scope, id, query).await?))
}

/// Read a delivery
///
/// With every attempt: time, HTTP status, latency, error, and the request and response bodies (up
/// to 64 KB each).
#[utoipa::path(get, path = "/organizations/{org}/webhooks/{webhook}/deliveries/{delivery}", operation_id = "getWebhookDelivery", tag = "webhooks",
    security(("api_key" = ["webhooks:write"])),
    responses((status = 200, description = "The delivery and its attempts.", body = DeliveryDetail))
)]
async fn delivery(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id, delivery)): DeliveryPath,
) -> Result<Json<DeliveryDetail>, AppError> {
    Ok(Json(webhooks::delivery(&app, &scope, id, delivery).await?))
}

/// Retry a delivery
///
/// Queues a finished delivery (failed, or succeeded and wanted again) for an attempt now, with the
/// same `webhook-id`.
#[utoipa::path(post, path = "/organizations/{org}/webhooks/{webhook}/deliveries/{delivery}/retry", operation_id = "retryWebhookDelivery", tag = "webhooks",
    security(("api_key" = ["webhooks:write"])),
    responses(
        (status = 202, description = "Queued again.", body = Delivery),
        (status = 409, description = "The endpoint is disabled (`webhook_disabled`) or the delivery is still pending (`delivery_pending`).", body = ErrorBody),
    )
)]
async fn retry(
    State(app): State<AppState>,
    InOrg(scope): InOrg,
    AppPath((_, id, delivery)): DeliveryPath,
) -> Result<(StatusCode, Json<Delivery>), AppError> {
    Ok((StatusCode::ACCEPTED, Json(webhooks::retry(&app, &scope, id, delivery).await?)))
}

/// Webhook event types
///
/// The catalogue: every event type with a description and the JSON Schema of its envelope
/// (`{"id","type","timestamp","organization_id","data"}`). Public.
#[utoipa::path(get, path = "/webhook-event-types", operation_id = "listWebhookEventTypes", tag = "webhooks",
    responses((status = 200, description = "Every event type.", body = Vec<EventType>))
)]
async fn event_types() -> Json<Vec<EventType>> {
    Json(catalogue::event_types())
}
